//! Renderers of a [`LoadResult`]: the human verdict, pushcheck's summary JSON (schema
//! `schemas/load-summary.json`) and JUnit XML with one test case per threshold and per invariant.
//! They only read the result.

use std::io::{self, Write};
use std::path::Path;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::load::result::Figure;
use crate::load::threshold::Source;
use crate::load::{
    InvariantOutcome, InvariantStatus, LoadResult, OperationStats, ThresholdOutcome,
};

/// The summary JSON, pretty-printed.
pub fn summary_json(result: &LoadResult) -> String {
    serde_json::to_string_pretty(result).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// JUnit XML: suite `thresholds` (one case per rule) and suite `invariants` (one per invariant).
pub fn junit(result: &LoadResult) -> String {
    let mut report = Report::new(format!("pushcheck load {}", result.scenario.name));
    report.add_test_suites(junit_suites(result));
    report
        .to_string()
        .unwrap_or_else(|e| format!("<!-- cannot render JUnit: {e} -->"))
}

/// The JUnit suites of a load result, for a report of its own or a combined one.
pub fn junit_suites(result: &LoadResult) -> Vec<TestSuite> {
    let mut thresholds = TestSuite::new("thresholds");
    thresholds.add_test_cases(result.thresholds.iter().map(threshold_case));
    let mut invariants = TestSuite::new("invariants");
    invariants.add_test_cases(result.invariants.iter().map(invariant_case));
    vec![thresholds, invariants]
}

fn threshold_case(t: &ThresholdOutcome) -> TestCase {
    let status = if t.passed {
        TestCaseStatus::success()
    } else {
        let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
        s.set_message(format!("observed {}", t.observed));
        s.set_type(if t.aborted {
            "threshold failed and stopped the run"
        } else {
            "threshold failed"
        });
        s
    };
    let mut case = TestCase::new(t.rule.clone(), status);
    case.set_classname(format!("thresholds.{:?}", t.judged_by).to_lowercase());
    case.set_system_out(format!("observed {}{}", t.observed, threshold_note(t)));
    case
}

fn invariant_case(i: &InvariantOutcome) -> TestCase {
    let status = match i.status {
        InvariantStatus::Passed => TestCaseStatus::success(),
        InvariantStatus::NotRun => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(i.reason.clone().unwrap_or_default());
            s
        }
        InvariantStatus::Failed | InvariantStatus::CouldNotCheck => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_type(invariant_word(i.status).to_lowercase());
            s.set_message(match i.status {
                InvariantStatus::Failed => format!("{} of {} broke it", i.failed, i.checked),
                _ => i.reason.clone().unwrap_or_default(),
            });
            s.set_description(i.findings.join("\n"));
            s
        }
    };
    let mut case = TestCase::new(i.name.clone(), status);
    case.set_classname("invariants");
    case.set_assertions(i.checked);
    case
}

fn invariant_word(status: InvariantStatus) -> &'static str {
    match status {
        InvariantStatus::Passed => "PASS",
        InvariantStatus::Failed => "FAIL",
        InvariantStatus::CouldNotCheck => "COULD NOT CHECK",
        InvariantStatus::NotRun => "NOT RUN",
    }
}

/// How a threshold line says which figure it used, where it came from and what it replaced.
fn threshold_note(t: &ThresholdOutcome) -> String {
    let mut parts = Vec::new();
    match t.figure {
        Figure::CoAdjusted => parts.push("co-adjusted times".to_owned()),
        Figure::Measured | Figure::ViolationRate => {}
    }
    match t.source {
        Source::Flag => parts.push(match &t.replaces {
            Some(old) => format!("--threshold, replaces the scenario's {old}"),
            None => "--threshold".to_owned(),
        }),
        Source::AlwaysOn => parts.push("always on".to_owned()),
        Source::Scenario => {}
    }
    if t.aborted {
        parts.push("stopped the run".to_owned());
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join("; "))
    }
}

/// The human verdict: a table per operation, thresholds, invariants, then PASS or FAIL.
pub fn human(
    out: &mut dyn Write,
    result: &LoadResult,
    report_dir: Option<&Path>,
) -> io::Result<()> {
    tables(out, result)?;
    if let Some(dir) = report_dir {
        writeln!(
            out,
            "\nReports in {}: {}",
            dir.display(),
            result.reports.join(", ")
        )?;
    }
    writeln!(out)?;
    if result.verdict.passed {
        writeln!(out, "PASS")?;
    } else {
        writeln!(out, "FAIL")?;
        for r in &result.verdict.reasons {
            writeln!(out, "  {r}")?;
        }
    }
    Ok(())
}

/// Everything of [`human`] but the report list and the verdict: the scenario, the table per
/// operation, coordinated omission, thresholds, invariants and notes.
pub fn tables(out: &mut dyn Write, result: &LoadResult) -> io::Result<()> {
    let s = &result.scenario;
    writeln!(
        out,
        "Load: {} — {} users, {}, mix get/patch/personalize/depersonalize {}/{}/{}/{}",
        s.name, s.users, s.length, s.mix.get, s.mix.patch, s.mix.personalize, s.mix.depersonalize
    )?;
    writeln!(
        out,
        "Target: {}{} · {} registrations ({}) · validation {:.0}% {}",
        result.target.base_url,
        if result.target.embedded_simulator {
            " (embedded simulator)"
        } else {
            ""
        },
        result.target.feed_registrations,
        result.target.feed_source,
        s.validation_sample_rate * 100.0,
        match s.validation_mode {
            crate::schema::Mode::Lenient => "lenient",
            crate::schema::Mode::Strict => "strict",
        }
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "  {:<20} {:>9} {:>9} {:>8} {:>8} {:>8} {:>8} {:>7} {:>10}",
        "operation",
        "requests",
        "req/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "failed",
        "violations"
    )?;
    for o in result
        .operations
        .iter()
        .chain(std::iter::once(&result.total))
    {
        row(out, o)?;
    }
    if result.metrics_cover != "whole run" {
        writeln!(
            out,
            "  goose's figures cover the {}; validation and transport tallies the whole run",
            result.metrics_cover
        )?;
    }
    for o in &result.operations {
        let by_kind = |m: &std::collections::BTreeMap<String, u64>| {
            m.iter()
                .map(|(k, c)| format!("{k}×{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !o.transport_errors.is_empty() {
            writeln!(
                out,
                "  {} without an answer: {}",
                o.operation,
                by_kind(&o.transport_errors)
            )?;
        }
        if !o.violations_by_kind.is_empty() {
            writeln!(
                out,
                "  {} contract breaks: {}",
                o.operation,
                by_kind(&o.violations_by_kind)
            )?;
        }
        if !o.errors_by_status.is_empty() {
            let list: Vec<String> = o
                .errors_by_status
                .iter()
                .map(|(s, c)| format!("{s}×{c}"))
                .collect();
            writeln!(
                out,
                "  {} errors by status: {}",
                o.operation,
                list.join(", ")
            )?;
        }
        for v in o.violation_samples.iter().take(3) {
            writeln!(out, "  {} ×{}: {}", o.operation, v.count, v.message)?;
        }
    }
    if let Some(co) = &result.coordinated_omission {
        let adjusted = result.total.adjusted_latency_ms.map_or(String::new(), |l| {
            format!(", adjusted p95 {:.1} ms, p99 {:.1} ms", l.p95, l.p99)
        });
        writeln!(
            out,
            "  coordinated omission ({}): {} event(s), {} synthetic request(s){adjusted}",
            co.mode.as_str(),
            co.events,
            co.synthetic_requests
        )?;
    }
    if !result.thresholds.is_empty() {
        writeln!(out, "\nThresholds:")?;
        for t in &result.thresholds {
            writeln!(
                out,
                "  {} {:<40} observed {}{}",
                if t.passed { "PASS" } else { "FAIL" },
                t.rule,
                t.observed,
                threshold_note(t)
            )?;
        }
    }
    if !result.invariants.is_empty() {
        writeln!(out, "\nAfter the load:")?;
        for i in &result.invariants {
            writeln!(
                out,
                "  {} {} ({} checked)",
                invariant_word(i.status),
                i.name,
                i.checked
            )?;
            if let Some(why) = &i.reason {
                writeln!(out, "       {why}")?;
            }
            for f in i.findings.iter().take(10) {
                writeln!(out, "       {f}")?;
            }
        }
    }
    for n in &result.notes {
        writeln!(out, "\nnote: {n}")?;
    }
    Ok(())
}

fn row(out: &mut dyn Write, o: &OperationStats) -> io::Result<()> {
    let l = &o.latency_ms;
    writeln!(
        out,
        "  {:<20} {:>9} {:>9.1} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>7} {:>10}",
        o.operation, o.requests, o.rps, l.p50, l.p95, l.p99, l.max, o.failures, o.schema_violations
    )
}
