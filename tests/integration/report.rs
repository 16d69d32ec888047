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
    // The charts are drawn from the timeline: one latency chart and one histogram per operation.
    let operations = summary["operations"].as_array().map_or(0, Vec::len);
    assert_eq!(html.matches("<svg").count(), 2 * operations + 2, "{html}");
    assert!(run.stdout.contains("pushcheck.html"), "{}", run.stdout);
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
