//! Renderers of a `check` result: the one-verdict human report, the combined JSON
//! (`schemas/check-report.json`) and the combined JUnit XML, and the files a run writes. They
//! only read the result.

use std::io::{self, Write};
use std::path::Path;

use serde::Serialize;

use super::contract;
use super::junit::Junit;
use super::load;
use super::names::{self, CHECK_JSON, JUNIT_XML, PUSHCHECK_HTML};
use super::{File, ReportError, Style};
use crate::check::{CheckResult, LoadStage};
use crate::contract::SuiteResult;
use crate::contract::result::TargetKind;
use crate::contract::result::as_millis;

/// A table per stage, then the verdict: PASSED with the time, or FAILED with the reasons.
pub fn human(
    out: &mut dyn Write,
    result: &CheckResult,
    reports: Option<(&Path, &[String])>,
    style: Style,
) -> io::Result<()> {
    human_contract(out, &result.contract, style)?;
    human_after_contract(out, result, reports, style)
}

/// The contract stage's part of [`human`]: shown as soon as the stage ends, before the load.
pub fn human_contract(out: &mut dyn Write, suite: &SuiteResult, style: Style) -> io::Result<()> {
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
    contract::details(out, suite, style)
}

/// The rest of [`human`]: the load, the report files and the verdict.
pub fn human_after_contract(
    out: &mut dyn Write,
    result: &CheckResult,
    reports: Option<(&Path, &[String])>,
    style: Style,
) -> io::Result<()> {
    writeln!(out, "\n== Load")?;
    match &result.load {
        LoadStage::Ran(l) => load::tables(out, l, style)?,
        LoadStage::NotRun(why) => writeln!(out, "not run: {why}")?,
    }
    if let Some((dir, files)) = reports {
        writeln!(out, "\nReports in {}: {}", dir.display(), files.join(", "))?;
    }
    writeln!(out)?;
    super::style::verdict_lines(out, result.passed, result.duration, &result.reasons, style)
}

/// The combined JSON report, as `schemas/check-report.json` describes it.
#[derive(Serialize)]
struct Json<'a> {
    // In the order the report always had (serde_json's sorted keys).
    contract: contract::Json<'a>,
    duration_ms: f64,
    load: Option<serde_json::Value>,
    passed: bool,
    reasons: &'a [String],
    tool: &'a str,
    version: &'a str,
}

/// The combined JSON report.
pub fn json(result: &CheckResult) -> Result<String, ReportError> {
    let load = match result.load.ran() {
        Some(l) => Some(serde_json::to_value(l).map_err(|e| ReportError::Render {
            what: "JSON",
            message: e.to_string(),
        })?),
        None => None,
    };
    super::to_json(
        "JSON",
        &Json {
            tool: result.tool,
            version: result.version,
            passed: result.passed,
            reasons: &result.reasons,
            duration_ms: as_millis(result.duration),
            contract: contract::Json(&result.contract),
            load,
        },
    )
}

/// The combined JUnit XML: the contract suites (one per group), then the load's thresholds and
/// invariants.
pub fn junit(result: &CheckResult) -> Result<String, ReportError> {
    let load_suites = result.load.ran().map(load::junit_suites);
    Junit::new("pushcheck check")
        .time(result.duration)
        .suites(contract::junit_suites(&result.contract))
        .suites(
            load_suites
                .into_iter()
                .flatten()
                .map(|s| s.prefixed("load")),
        )
        .render()
}

/// The files of a `check` run in `dir`: check.json, the combined junit.xml, and the load's
/// summary.json and timeline.csv when the load ran (goose writes its own report.html and report.json during the run).
pub fn files(dir: &Path, result: &CheckResult) -> Vec<File> {
    let mut files = vec![
        (dir.join(CHECK_JSON), json(result)),
        (dir.join(JUNIT_XML), junit(result)),
        (dir.join(PUSHCHECK_HTML), Ok(super::html::check(result))),
    ];
    if let Some(load) = result.load.ran() {
        files.extend(load::data_files(dir, load));
    }
    files
}

/// The files goose wrote during the check's load (none when the load did not run), listed
/// after pushcheck's.
pub fn goose_files(result: &CheckResult) -> Vec<String> {
    match result.load {
        LoadStage::Ran(_) => names::GOOSE.map(String::from).to_vec(),
        LoadStage::NotRun(_) => Vec::new(),
    }
}

/// The files of a check that could not judge, in `dir`: a minimal check.json and a junit.xml
/// with one `<error>` case ([`super::not_judged`]).
pub fn not_judged_files(dir: &Path, why: &super::not_judged::NotJudged<'_>) -> Vec<File> {
    vec![
        (dir.join(CHECK_JSON), super::not_judged::check_json(why)),
        (dir.join(JUNIT_XML), super::not_judged::junit(why)),
    ]
}
