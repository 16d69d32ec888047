//! pushcheck's own HTML report: rendered from real runs, parsed (it is well-formed XHTML), every
//! section present and holding the run's numbers, and nothing in it that would load from the
//! network.

use std::collections::BTreeMap;
use std::path::Path;

use quick_xml::events::Event;
use serde_json::Value;

use crate::util::{TempDir, run_cli};
use pushcheck::cli::Exit;

/// What the report holds: the text of every element with an `id`, and every attribute named
/// `src` or `href` (there should be none that reach out).
#[derive(Debug, Default)]
struct Parsed {
    sections: BTreeMap<String, String>,
    links: Vec<String>,
    scripts: usize,
}

/// Parses the report; panics with the parser's error if it is not well-formed.
fn parse(html: &str) -> Parsed {
    let mut reader = quick_xml::Reader::from_str(html);
    let mut parsed = Parsed::default();
    // The ids of the elements open around the current text.
    let mut open: Vec<Option<String>> = Vec::new();
    loop {
        match reader.read_event() {
            Ok(Event::Eof) => break,
            Ok(Event::Start(e)) => {
                if e.name().as_ref() == b"script" {
                    parsed.scripts += 1;
                }
                let mut id = None;
                for a in e.attributes().flatten() {
                    let value = String::from_utf8_lossy(&a.value).into_owned();
                    match a.key.as_ref() {
                        b"id" => id = Some(value),
                        b"src" | b"href" => parsed.links.push(value),
                        _ => {}
                    }
                }
                if let Some(id) = &id {
                    parsed.sections.entry(id.clone()).or_default();
                }
                open.push(id);
            }
            Ok(Event::Empty(e)) => {
                for a in e.attributes().flatten() {
                    if matches!(a.key.as_ref(), b"src" | b"href") {
                        parsed
                            .links
                            .push(String::from_utf8_lossy(&a.value).into_owned());
                    }
                }
            }
            Ok(Event::End(_)) => {
                open.pop();
                // Cells and items read apart.
                for id in open.iter().flatten() {
                    parsed.sections.entry(id.clone()).or_default().push(' ');
                }
            }
            Ok(Event::Text(t)) => {
                let text = t.decode().map(|c| c.into_owned()).unwrap_or_default();
                for id in open.iter().flatten() {
                    let section = parsed.sections.entry(id.clone()).or_default();
                    section.push_str(&text);
                }
            }
            Ok(Event::GeneralRef(r)) => {
                let name = String::from_utf8_lossy(&r).into_owned();
                let text = match name.as_str() {
                    "lt" => "<",
                    "gt" => ">",
                    "amp" => "&",
                    "quot" => "\"",
                    _ => "'",
                };
                for id in open.iter().flatten() {
                    parsed
                        .sections
                        .entry(id.clone())
                        .or_default()
                        .push_str(text);
                }
            }
            Ok(_) => {}
            Err(e) => panic!(
                "the report is not well-formed at {}: {e}",
                reader.buffer_position()
            ),
        }
    }
    parsed
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("JSON")
}

/// Every section of a load report is there and says what `summary` says.
fn assert_holds_the_load(report: &Parsed, summary: &Value) {
    for id in [
        "verdict",
        "load",
        "operations",
        "timeline",
        "validation",
        "rules",
        "rules-table",
        "after",
        "after-table",
    ] {
        assert!(report.sections.contains_key(id), "no section {id:?}");
    }
    let operations = &report.sections["operations"];
    for op in summary["operations"].as_array().expect("operations") {
        let name = op["operation"].as_str().expect("name");
        let requests = op["requests"].as_u64().expect("requests").to_string();
        assert!(
            operations.contains(name) && operations.contains(&requests),
            "{name} with {requests} requests in: {operations}"
        );
    }
    let rules = &report.sections["rules-table"];
    for t in summary["thresholds"].as_array().expect("thresholds") {
        let rule = t["rule"].as_str().expect("rule");
        let observed = t["observed"].as_str().expect("observed");
        assert!(
            rules.contains(rule) && rules.contains(observed),
            "{rule} / {observed} in: {rules}"
        );
    }
    let after = &report.sections["after-table"];
    for i in summary["invariants"].as_array().expect("invariants") {
        let name = i["name"].as_str().expect("name");
        assert!(after.contains(name), "{name} in: {after}");
    }
    let verdict = if summary["verdict"]["passed"] == true {
        "PASSED"
    } else {
        "FAILED"
    };
    assert!(report.sections["verdict"].contains(verdict));
    assert_eq!(report.scripts, 0, "no script");
    assert!(
        report.links.iter().all(|l| !l.starts_with("http://")
            && !l.starts_with("https://")
            && !l.starts_with("//")),
        "nothing loads from the network: {:?}",
        report.links
    );
}

#[test]
fn the_load_report_holds_every_section_and_loads_nothing() {
    let dir = TempDir::new("html-load");
    let reports = dir.path().join("r");
    // Every operation, and only the always-on rules: no latency rule a busy machine could fail.
    let scenario = dir.write(
        "all.toml",
        "users = 4\nrun_time = \"2s\"\n[mix]\nget = 3\npatch = 1\npersonalize = 1\ndepersonalize = 1\n",
    );
    let run = run_cli(&[
        "load",
        "--scenario",
        &scenario,
        "--report-dir",
        reports.to_str().expect("utf-8"),
    ]);
    assert_eq!(run.exit, Exit::Passed, "{}\n{}", run.stdout, run.stderr);
    let html = std::fs::read_to_string(reports.join("pushcheck.html")).expect("pushcheck.html");
    let report = parse(&html);
    let summary = read_json(&reports.join("summary.json"));
    assert_holds_the_load(&report, &summary);
    // The charts are drawn from the timeline: users, throughput, the latency the rules judge,
    // and per operation a latency chart and a histogram.
    for id in ["chart-users", "chart-throughput", "chart-judged"] {
        assert!(report.sections.contains_key(id), "no chart {id}");
    }
    let charts = charts(&html);
    for op in summary["operations"].as_array().expect("operations") {
        let name = op["operation"].as_str().expect("name");
        let slug = name.to_ascii_lowercase().replace(' ', "-");
        for kind in ["latency", "histogram"] {
            let id = format!("chart-{slug}-{kind}");
            assert!(charts.iter().any(|c| c.id == id), "no chart {id}");
        }
    }
    assert_charts_read_well(&charts);
    assert_latency_scaled_to_p99(&charts, &summary);
    assert_last_second_at_its_rate(&summary);
    assert!(run.stdout.contains("pushcheck.html"), "{}", run.stdout);
}

/// One `<text>` of a chart.
#[derive(Debug)]
struct Label {
    x: f64,
    y: f64,
    size: f64,
    anchor: String,
    turned: bool,
    text: String,
}

impl Label {
    /// Its box, about: 0.6 em a glyph, the baseline at y (a turned label runs up from y).
    fn bounds(&self) -> (f64, f64, f64, f64) {
        let w = self.text.chars().count() as f64 * self.size * 0.6;
        let start = match self.anchor.as_str() {
            "middle" => -w / 2.0,
            "end" => -w,
            _ => 0.0,
        };
        if self.turned {
            (
                self.x - self.size * 0.8,
                self.y - start - w,
                self.x + self.size * 0.2,
                self.y - start,
            )
        } else {
            (
                self.x + start,
                self.y - self.size * 0.8,
                self.x + start + w,
                self.y + self.size * 0.2,
            )
        }
    }
}

/// One chart: the id of the heading before it and its labels.
#[derive(Debug)]
struct Chart {
    id: String,
    labels: Vec<Label>,
}

/// Every `<svg>` of the report with the id of the `<h3>` before it.
fn charts(html: &str) -> Vec<Chart> {
    let mut reader = quick_xml::Reader::from_str(html);
    let mut out: Vec<Chart> = Vec::new();
    let mut heading = String::new();
    let mut in_svg = false;
    let mut label: Option<Label> = None;
    loop {
        match reader.read_event().expect("well-formed") {
            Event::Eof => break,
            Event::Start(e) => {
                let attr = |name: &[u8]| {
                    e.attributes()
                        .flatten()
                        .find(|a| a.key.as_ref() == name)
                        .map(|a| String::from_utf8_lossy(&a.value).into_owned())
                };
                match e.name().as_ref() {
                    b"h3" => heading = attr(b"id").unwrap_or_default(),
                    b"svg" => {
                        in_svg = true;
                        out.push(Chart {
                            id: heading.clone(),
                            labels: Vec::new(),
                        });
                    }
                    b"text" if in_svg => {
                        let number = |name: &[u8]| {
                            attr(name)
                                .and_then(|v| v.parse::<f64>().ok())
                                .unwrap_or(0.0)
                        };
                        label = Some(Label {
                            x: number(b"x"),
                            y: number(b"y"),
                            size: number(b"font-size"),
                            anchor: attr(b"text-anchor").unwrap_or_default(),
                            turned: attr(b"transform").is_some(),
                            text: String::new(),
                        });
                    }
                    _ => {}
                }
            }
            Event::Text(t) => {
                if let Some(l) = &mut label {
                    l.text.push_str(&t.decode().expect("text"));
                }
            }
            Event::GeneralRef(_) => {
                if let Some(l) = &mut label {
                    l.text.push('&');
                }
            }
            Event::End(e) => match e.name().as_ref() {
                b"svg" => in_svg = false,
                b"text" => {
                    if let (Some(l), Some(chart)) = (label.take(), out.last_mut()) {
                        chart.labels.push(l);
                    }
                }
                _ => {}
            },
            _ => {}
        }
    }
    out
}

/// Every chart names both axes with a unit, and no two of its labels overlap.
fn assert_charts_read_well(charts: &[Chart]) {
    assert!(!charts.is_empty());
    for c in charts {
        let turned: Vec<&Label> = c.labels.iter().filter(|l| l.turned).collect();
        assert_eq!(turned.len(), 1, "{}: one y axis label", c.id);
        assert!(!turned[0].text.is_empty(), "{}", c.id);
        let unit = ["(s)", "(ms", "requests/s", "users", "responses", "errors/s"];
        assert!(
            unit.iter().any(|u| turned[0].text.contains(u)),
            "{}: the y axis says its unit: {:?}",
            c.id,
            turned[0].text
        );
        if !c.id.contains("judged") {
            assert!(
                c.labels
                    .iter()
                    .any(|l| !l.turned && (l.text.contains("(s)") || l.text.contains("(ms"))),
                "{}: the x axis says its unit",
                c.id
            );
        }
        for (i, a) in c.labels.iter().enumerate() {
            for b in &c.labels[i + 1..] {
                let (a0, a1, a2, a3) = a.bounds();
                let (b0, b1, b2, b3) = b.bounds();
                let overlap = a0 < b2 && b0 < a2 && a1 < b3 && b1 < a3;
                assert!(!overlap, "{}: {a:?} overlaps {b:?}", c.id);
            }
        }
    }
}

/// Each latency chart's axis ends at the first round number above its highest p99 (with a
/// tenth of room), not at its max.
fn assert_latency_scaled_to_p99(charts: &[Chart], summary: &Value) {
    let points = summary["timeline"]["points"].as_array().expect("points");
    for op in summary["operations"].as_array().expect("operations") {
        let name = op["operation"].as_str().expect("name");
        let id = format!(
            "chart-{}-latency",
            name.to_ascii_lowercase().replace(' ', "-")
        );
        let chart = charts.iter().find(|c| c.id == id).expect("latency chart");
        let p99 = points
            .iter()
            .filter(|p| p["operation"] == name && p["requests"].as_u64() > Some(0))
            .map(|p| p["p99_ms"].as_f64().expect("p99"))
            .fold(0.0f64, f64::max);
        let top = chart
            .labels
            .iter()
            .filter(|l| l.anchor == "end" && !l.turned)
            .filter_map(|l| l.text.parse::<f64>().ok())
            .fold(0.0f64, f64::max);
        assert!(
            top >= p99 && top <= p99 * 1.1 * 2.5,
            "{name}: the axis ends at {top} ms for a highest p99 of {p99} ms"
        );
    }
}

/// The last step's rate is its requests over the part of it the run lasted.
fn assert_last_second_at_its_rate(summary: &Value) {
    let timeline = &summary["timeline"];
    let elapsed = timeline["elapsed_secs"].as_f64().expect("elapsed_secs");
    let points = timeline["points"].as_array().expect("points");
    let last = points.last().expect("a point");
    let t = last["t_secs"].as_f64().expect("t");
    assert!(
        elapsed > t,
        "the run ended after its last step began: {elapsed} > {t}"
    );
    let length = (elapsed - t).clamp(0.1, 1.0);
    let requests = last["requests"].as_f64().expect("requests");
    let rps = last["rps"].as_f64().expect("rps");
    assert!(
        (rps - requests / length).abs() < 1e-6,
        "last step: {requests} requests over {length:.3} s, rps {rps}"
    );
}

#[test]
fn the_check_report_adds_the_contract_cases_and_a_failing_one_says_why() {
    let dir = TempDir::new("html-check");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pushcheck"))
        .args([
            "check",
            "--threshold",
            "p95<1us",
            "--report-dir",
            dir.path().join("r").to_str().expect("utf-8"),
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("PUSHCHECK_TARGET")
        .output()
        .expect("run check");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let reports = dir.path().join("r");
    let report = parse(&std::fs::read_to_string(reports.join("pushcheck.html")).expect("html"));
    let combined = read_json(&reports.join("check.json"));
    let cases = &report.sections["cases"];
    for case in combined["contract"]["cases"].as_array().expect("cases") {
        let name = case["name"].as_str().expect("name");
        assert!(cases.contains(name), "{name} in the contract table");
    }
    assert_holds_the_load(&report, &combined["load"]);
    assert!(
        report.sections["verdict"].contains("p95<1us"),
        "the reason: {}",
        report.sections["verdict"]
    );
}
