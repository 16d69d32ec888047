//! Renderers of a `check` result: the one-verdict human report, the combined JSON
//! (`schemas/check-report.json`) and the combined JUnit XML. They only read the result.

use std::io::{self, Write};
use std::path::Path;

use quick_junit::Report;
use serde_json::{Value, json};

use super::contract::{self, Style};
use super::load;
use crate::check::CheckResult;
use crate::contract::result::TargetKind;
use crate::contract::result::as_millis;

/// A table per stage, then PASSED or FAILED with the reasons.
pub fn human(
    out: &mut dyn Write,
    result: &CheckResult,
    reports: Option<(&Path, &[String])>,
    style: Style,
) -> io::Result<()> {
    let suite = &result.contract;
    let target = match suite.target.kind {
        TargetKind::Simulator => "the embedded simulator".to_owned(),
        TargetKind::Live => suite.target.base_url.clone(),
    };
    writeln!(
        out,
        "== Contract: {} cases against {target} in {:.2}s",
        suite.cases.len(),
        suite.duration.as_secs_f64()
    )?;
    contract::group_table(out, suite)?;
    contract::details(out, suite, style)?;
    writeln!(out, "\n== Load")?;
    match &result.load {
        Some(l) => load::tables(out, l)?,
        None => writeln!(
            out,
            "not run: {}",
            result.load_not_run.as_deref().unwrap_or("no reason given")
        )?,
    }
    if let Some((dir, files)) = reports {
        writeln!(out, "\nReports in {}: {}", dir.display(), files.join(", "))?;
    }
    writeln!(out)?;
    if result.passed {
        writeln!(
            out,
            "{} in {:.1}s",
            style.green("PASSED"),
            result.duration.as_secs_f64()
        )
    } else {
        writeln!(out, "{}:", style.red("FAILED"))?;
        for reason in &result.reasons {
            writeln!(out, "  - {reason}")?;
        }
        Ok(())
    }
}

/// The combined JSON report.
pub fn json(result: &CheckResult) -> Value {
    json!({
        "tool": result.tool,
        "version": result.version,
        "passed": result.passed,
        "reasons": result.reasons,
        "duration_ms": as_millis(result.duration),
        "contract": contract::json(&result.contract),
        "load": result
            .load
            .as_ref()
            .map_or(Value::Null, |l| serde_json::to_value(l).unwrap_or(Value::Null)),
    })
}

/// The combined JUnit XML: the contract suites (one per group), then the load's thresholds and
/// invariants.
pub fn junit(result: &CheckResult) -> Result<String, quick_junit::SerializeError> {
    let mut report = Report::new("pushcheck check");
    report.set_time(result.duration);
    report.add_test_suites(contract::junit_suites(&result.contract));
    let mut load_suites = result
        .load
        .as_ref()
        .map(load::junit_suites)
        .unwrap_or_default();
    for suite in &mut load_suites {
        suite.name = format!("load.{}", suite.name.as_str()).into();
    }
    report.add_test_suites(load_suites);
    report.to_string()
}
