//! pushcheck's own HTML report (`pushcheck.html`): one self-contained file — inline CSS and
//! SVG, no script, nothing loaded from anywhere — so it opens offline, in CI artifacts and in a
//! mail. It shows what goose's `report.html` cannot: per operation, latency percentiles,
//! throughput and errors over time (from the run's timeline), the latency histogram, schema
//! validation, every rule with its observed value, the checks after the load, the baseline
//! comparison, and for `check` the contract cases. goose's own report stays beside it.
//!
//! Like every renderer it only reads the result.

use std::fmt::Write;

use super::svg::escape;
use super::{Mark, style};
use crate::check::{CheckResult, LoadStage};
use crate::contract::{Status, SuiteResult};
use crate::load::{InvariantStatus, LoadResult};

const CSS: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#222;max-width:1040px}\
h1{font-size:20px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;margin:8px 0}td,th{padding:3px 10px;border-bottom:1px solid #eee;text-align:right}\
td:first-child,th:first-child{text-align:left}.ok{color:#1a7f37}.bad{color:#c62828;font-weight:600}\
.verdict{font-size:22px;font-weight:700}.legend{margin:0 0 12px;font-size:12px}\
code{background:#f4f4f4;padding:0 3px}";

/// The report of a `load` run.
pub fn load(result: &LoadResult) -> String {
    let title = format!("pushcheck load — {}", result.scenario.name);
    let mut body = verdict(result.verdict.passed, &result.verdict.reasons);
    body.push_str(&load_sections(result));
    page(&title, &body)
}

/// The report of a `check` run: the contract stage, then the load stage.
pub fn check(result: &CheckResult) -> String {
    let mut body = verdict(result.passed, &result.reasons);
    body.push_str(&contract_section(&result.contract));
    match &result.load {
        LoadStage::Ran(load) => body.push_str(&load_sections(load)),
        LoadStage::NotRun(why) => {
            let _ = write!(body, "<h2>Load</h2><p>not run: {}</p>", escape(why));
        }
    }
    page("pushcheck check", &body)
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/><title>{}</title><style>{CSS}</style></head><body><h1>{}</h1>{body}<p><small>pushcheck {}</small></p></body></html>\n",
        escape(title),
        escape(title),
        env!("CARGO_PKG_VERSION")
    )
}

fn verdict(passed: bool, reasons: &[String]) -> String {
    let class = if passed { "ok" } else { "bad" };
    let mut out = format!(
        "<div id=\"verdict\"><p class=\"verdict {class}\">{}</p>",
        style::verdict(passed)
    );
    if !reasons.is_empty() {
        out.push_str("<ul>");
        for r in reasons {
            let _ = write!(out, "<li>{}</li>", escape(r));
        }
        out.push_str("</ul>");
    }
    out.push_str("</div>");
    out
}

fn mark(m: Mark) -> String {
    let class = if matches!(m, Mark::Ok) { "ok" } else { "bad" };
    format!("<span class=\"{class}\">{}</span>", m.word())
}

/// A table from a header row and rows of already escaped cells.
fn table(id: &str, header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!("<table id=\"{id}\"><tr>");
    for h in header {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr>");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{cell}</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>");
    out
}

fn contract_section(suite: &SuiteResult) -> String {
    let s = suite.summary;
    let mut out = format!(
        "<h2 id=\"contract\">Contract</h2><p>{} cases against {}: {} passed, {} failed, {} skipped ({} mode)</p>",
        suite.cases.len(),
        escape(&suite.target.base_url),
        s.passed,
        s.failed,
        s.skipped,
        suite.mode
    );
    let rows: Vec<Vec<String>> = suite
        .cases
        .iter()
        .map(|c| {
            let m = match c.status {
                Status::Passed => Mark::Ok,
                Status::Failed => Mark::Failed,
                Status::Skipped => Mark::Skipped,
            };
            let detail = c
                .failure
                .as_ref()
                .map(|f| f.message.clone())
                .or_else(|| c.skip_reason.clone())
                .unwrap_or_default();
            vec![escape(c.name), mark(m), escape(&detail)]
        })
        .collect();
    out.push_str(&table("cases", &["case", "result", "detail"], &rows));
    out
}

fn load_sections(r: &LoadResult) -> String {
    let s = &r.scenario;
    let mut out = format!(
        "<h2 id=\"load\">Load</h2><p>{}: {}, against {}{} · {} registrations · validation {:.0}% · figures cover the {}</p>",
        escape(&s.name),
        escape(&super::load_words::users_over_time(s)),
        escape(&r.target.base_url),
        if r.target.embedded_simulator {
            " (embedded simulator)"
        } else {
            ""
        },
        r.target.feed_registrations,
        s.validation_sample_rate * 100.0,
        escape(&r.metrics_cover)
    );
    out.push_str(&operations(r));
    out.push_str(&mix(r));
    out.push_str(&super::charts::charts(r));
    out.push_str(&arrival(r));
    out.push_str(&validation(r));
    out.push_str(&rules(r));
    out.push_str(&after(r));
    out.push_str(&baseline(r));
    if !r.notes.is_empty() {
        out.push_str("<h2>Notes</h2><ul>");
        for n in &r.notes {
            let _ = write!(out, "<li>{}</li>", escape(n));
        }
        out.push_str("</ul>");
    }
    out
}

fn operations(r: &LoadResult) -> String {
    let rows: Vec<Vec<String>> = r
        .operations
        .iter()
        .chain(std::iter::once(&r.total))
        .map(|o| {
            let l = &o.latency_ms;
            vec![
                escape(&o.operation),
                o.requests.to_string(),
                format!("{:.1}", o.rps),
                format!("{:.2}", l.p50),
                format!("{:.2}", l.p95),
                format!("{:.2}", l.p99),
                format!("{:.2}", l.max),
                o.failures.to_string(),
                o.schema_violations.to_string(),
            ]
        })
        .collect();
    table("operations", &super::load_words::OPERATION_COLUMNS, &rows)
}

fn validation(r: &LoadResult) -> String {
    let rows: Vec<Vec<String>> = r
        .operations
        .iter()
        .map(|o| {
            let kinds: Vec<String> = o
                .violations_by_kind
                .iter()
                .map(|(k, c)| format!("{k}×{c}"))
                .collect();
            let samples: Vec<String> = o
                .violation_samples
                .iter()
                .take(3)
                .map(|s| format!("×{} {}", s.count, s.message))
                .collect();
            vec![
                escape(&o.operation),
                o.answered.to_string(),
                o.validated.to_string(),
                o.schema_violations.to_string(),
                format!("{:.2}%", o.schema_violation_rate),
                escape(&kinds.join(", ")),
                escape(&samples.join(" · ")),
            ]
        })
        .collect();
    format!(
        "<h2 id=\"validation\">Schema validation</h2>{}",
        table(
            "validation-table",
            &[
                "operation",
                "answered",
                "validated",
                "violations",
                "rate",
                "by kind",
                "samples"
            ],
            &rows
        )
    )
}

fn rules(r: &LoadResult) -> String {
    let rows: Vec<Vec<String>> = r
        .thresholds
        .iter()
        .map(|t| {
            vec![
                format!("<code>{}</code>", escape(&t.rule)),
                escape(&t.observed),
                mark(Mark::of(t.passed)),
                escape(source_words(t.source)),
            ]
        })
        .collect();
    format!(
        "<h2 id=\"rules\">Rules</h2>{}",
        table(
            "rules-table",
            &["rule", "observed", "result", "from"],
            &rows
        )
    )
}

/// Where a rule came from, in the words of the flags and files.
fn source_words(source: crate::load::threshold::Source) -> &'static str {
    use crate::load::threshold::Source;
    match source {
        Source::Scenario => "scenario",
        Source::Flag => "--threshold",
        Source::AlwaysOn => "always on",
        Source::BaselineDefault => "--baseline's default gate",
    }
}

fn after(r: &LoadResult) -> String {
    let rows: Vec<Vec<String>> = r
        .invariants
        .iter()
        .map(|i| {
            let m = match i.status {
                InvariantStatus::Passed => Mark::Ok,
                InvariantStatus::Failed => Mark::Failed,
                InvariantStatus::CouldNotCheck => Mark::CouldNotCheck,
                InvariantStatus::NotRun => Mark::NotRun,
            };
            let mut detail = i.reason.clone().unwrap_or_default();
            for f in i.findings.iter().take(5) {
                detail.push_str(&format!(" {f}"));
            }
            vec![
                escape(&i.name),
                mark(m),
                i.checked.to_string(),
                escape(detail.trim()),
            ]
        })
        .collect();
    format!(
        "<h2 id=\"after\">After the load</h2>{}",
        table(
            "after-table",
            &["check", "result", "checked", "detail"],
            &rows
        )
    )
}

/// The arrival rate asked and achieved, per operation, and any shortfall's causes.
fn arrival(r: &LoadResult) -> String {
    let Some(a) = &r.arrival else {
        return String::new();
    };
    let rows: Vec<Vec<String>> = a
        .operations
        .iter()
        .map(|o| {
            vec![
                escape(o.operation),
                format!("{:.1}", o.target_rps),
                format!("{:.1}", o.achieved_rps),
                format!("{:.1}%", o.achieved_percent),
            ]
        })
        .collect();
    let mut out = format!(
        "<h2 id=\"arrival\">Arrival rate</h2><p>{}</p>{}",
        escape(&super::load_words::arrival_headline(a)),
        table(
            "arrival-table",
            &["operation", "target/s", "achieved/s", "achieved"],
            &rows
        )
    );
    if !a.shortfall.is_empty() {
        out.push_str("<ul class=\"shortfall\">");
        for s in &a.shortfall {
            let _ = write!(out, "<li>{}</li>", escape(&s.detail));
        }
        out.push_str("</ul>");
    }
    out
}

fn baseline(r: &LoadResult) -> String {
    let Some(b) = &r.baseline else {
        return String::new();
    };
    // Every measure in both runs, in the comparison's words (no bare sign); a change for the
    // worse stands out.
    let rows: Vec<Vec<String>> = b
        .operations
        .iter()
        .flat_map(|o| {
            o.changes.iter().map(move |c| {
                let class = if c.change.ends_with("(worse)") {
                    "bad"
                } else {
                    "ok"
                };
                vec![
                    escape(&o.operation),
                    escape(c.measure),
                    escape(&shown(c.measure, c.before)),
                    escape(&shown(c.measure, c.now)),
                    format!("<span class=\"{class}\">{}</span>", escape(&c.change)),
                ]
            })
        })
        .collect();
    format!(
        "<h2 id=\"baseline\">Against the baseline {}</h2><p class=\"legend\">every change in words: \
         which way the figure moved, and whether that is worse or better; a regression gate \
         compares how much worse</p>{}",
        escape(&b.file),
        table(
            "baseline-table",
            &["operation", "measure", "before", "now", "change"],
            &rows
        )
    )
}

/// A baseline figure with its unit (`1.85ms`, `216.0/s`, `0.40%`).
fn shown(measure: &str, value: f64) -> String {
    crate::load::baseline::Measure::ALL
        .into_iter()
        .find(|m| m.name() == measure)
        .map_or_else(|| value.to_string(), |m| m.show(value))
}

/// The mix: each operation's weight, its share asked and sent, and the drift `mix-drift` judges
/// (issue 21, item 1).
fn mix(r: &LoadResult) -> String {
    let m = &r.mix;
    let rows: Vec<Vec<String>> = m
        .operations
        .iter()
        .map(|o| {
            vec![
                escape(&o.operation),
                o.weight.to_string(),
                format!("{:.1}%", o.asked_percent),
                format!("{:.1}%", o.sent_percent),
                o.sent.to_string(),
                crate::load::mix::points(o.drift_points),
                o.sent_as_get.to_string(),
            ]
        })
        .collect();
    let mut out = format!(
        "<h2 id=\"mix\">Mix</h2><p>{} requests sent; <code>mix-drift</code> judges runs of {} or more</p>{}",
        m.requests,
        m.judged_from_requests,
        table(
            "mix-table",
            &[
                "operation",
                "weight",
                "asked",
                "sent",
                "requests",
                "drift (points)",
                "sent as GET instead",
            ],
            &rows
        )
    );
    if let Some(why) = m.fallback() {
        let _ = write!(out, "<p>{}</p>", escape(&why));
    }
    out
}
