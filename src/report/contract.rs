//! Renderers of a contract [`SuiteResult`]: human (like `cargo test`), JSON (its format is
//! `schemas/contract-report.json`) and JUnit XML (quick-junit). They only read the result.

use std::io::{self, Write};
use std::time::Duration;

use super::junit::{Case, Junit, Suite};
use super::{Mark, ReportError, Style};
use crate::api::footprint::{Cause, Leftover};
use crate::contract::result::{CaseResult, FindingKind, TargetInfo, TargetKind};
use crate::contract::{Status, SuiteResult};
use crate::schema::Mode;

fn seconds(d: Duration) -> String {
    format!("{:.2}s", d.as_secs_f64())
}

fn millis(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// The line that opens a run.
pub fn header(
    out: &mut dyn Write,
    target: &TargetInfo,
    mode: Mode,
    cases: usize,
) -> io::Result<()> {
    let target = match target.kind {
        TargetKind::Simulator => format!("the embedded simulator at {}", target.base_url),
        TargetKind::Live => target.base_url.clone(),
    };
    writeln!(
        out,
        "running {cases} contract cases against {target} ({} mode)",
        mode
    )
}

/// One case's line, as it finishes.
pub fn case_line(out: &mut dyn Write, case: &CaseResult, style: Style) -> io::Result<()> {
    let status = style.mark(match case.status {
        Status::Passed => Mark::Ok,
        Status::Failed => Mark::Failed,
        Status::Skipped => Mark::Skipped,
    });
    match &case.skip_reason {
        Some(reason) => writeln!(out, "case {} ... {status}: {reason}", case.name),
        None => writeln!(
            out,
            "case {} ... {status} ({})",
            case.name,
            millis(case.duration)
        ),
    }
}

/// The whole human report at once: header, case lines, then [`footer`].
pub fn human(out: &mut dyn Write, result: &SuiteResult, style: Style) -> io::Result<()> {
    header(out, &result.target, result.mode, result.cases.len())?;
    for case in &result.cases {
        case_line(out, case, style)?;
    }
    footer(out, result, style)
}

/// After the case lines: failures in detail, findings, drift, restore problems, the summary.
pub fn footer(out: &mut dyn Write, result: &SuiteResult, style: Style) -> io::Result<()> {
    details(out, result, style)?;
    let verdict = style.verdict(result.passed());
    let s = result.summary;
    writeln!(
        out,
        "\ncontract result: {verdict}. {} passed; {} failed; {} skipped; finished in {}",
        s.passed,
        s.failed,
        s.skipped,
        seconds(result.duration)
    )
}

/// Cases passed / failed / skipped per group, with a total row.
pub fn group_table(out: &mut dyn Write, result: &SuiteResult) -> io::Result<()> {
    writeln!(
        out,
        "  {:<16} {:>7} {:>7} {:>8}",
        "group", "passed", "failed", "skipped"
    )?;
    let mut groups: Vec<&str> = result.cases.iter().map(|c| c.group).collect();
    groups.dedup();
    let count = |group: Option<&str>, status: Status| {
        result
            .cases
            .iter()
            .filter(|c| group.is_none_or(|g| c.group == g) && c.status == status)
            .count()
    };
    for group in groups.into_iter().map(Some).chain([None]) {
        writeln!(
            out,
            "  {:<16} {:>7} {:>7} {:>8}",
            group.unwrap_or("total"),
            count(group, Status::Passed),
            count(group, Status::Failed),
            count(group, Status::Skipped)
        )?;
    }
    Ok(())
}

/// Failures in detail, undocumented fields, drift, restore problems, interruption.
pub fn details(out: &mut dyn Write, result: &SuiteResult, style: Style) -> io::Result<()> {
    let failed: Vec<_> = result
        .cases
        .iter()
        .filter(|c| c.status == Status::Failed)
        .collect();
    if !failed.is_empty() {
        writeln!(out, "\nfailures:")?;
        for case in &failed {
            writeln!(out, "\n---- {} ----", case.name)?;
            writeln!(out, "{}", case.summary)?;
            if let Some(failure) = &case.failure {
                writeln!(out, "{failure}")?;
            }
        }
    }
    let undocumented: Vec<_> = result
        .cases
        .iter()
        .flat_map(|c| c.findings.iter().map(move |f| (c.name, f)))
        .filter(|(_, f)| f.kind == FindingKind::Undocumented)
        .collect();
    if !undocumented.is_empty() {
        writeln!(
            out,
            "\nundocumented fields (in no schema; failures with --strict):"
        )?;
        for (case, f) in undocumented {
            writeln!(out, "  {} {} ({case}, {})", f.schema, f.path, f.detail)?;
        }
    }
    if !result.drift.is_empty() {
        let strict = if result.strict_drift_failed() {
            " (breaking drift fails the run with --strict)"
        } else {
            ""
        };
        let harmless = if result.drift.iter().all(|f| f.kind != FindingKind::Breaking) {
            " (nothing breaking: shown for information)"
        } else {
            ""
        };
        writeln!(
            out,
            "\nshape drift against the doc's pinned shapes{strict}{harmless}:"
        )?;
        // The first few cases that saw each change; the JSON report lists them all.
        const SHOWN: usize = 3;
        for f in &result.drift {
            writeln!(out, "  {}: {}", f.schema, f.detail)?;
            if !f.cases.is_empty() {
                let mut from = f
                    .cases
                    .iter()
                    .take(SHOWN)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ");
                if f.cases.len() > SHOWN {
                    from.push_str(&format!(" and {} more", f.cases.len() - SHOWN));
                }
                writeln!(out, "      from: {from}")?;
            }
        }
    }
    if let Some(choices) = &result.target_choices {
        writeln!(
            out,
            "\ntarget choices (where the docs are silent, as its answers showed):"
        )?;
        let lines = choices.lines();
        if lines.is_empty() {
            writeln!(out, "  none learned (no device of nobody to probe)")?;
        }
        for (id, text) in lines {
            let same = if choices.agrees_with(id) == Some(true) {
                "as the simulator"
            } else {
                "unlike the simulator"
            };
            writeln!(out, "  {id}: {text} ({same})")?;
        }
    }
    if !result.server_findings.is_empty() {
        writeln!(out, "\n{}", style.red("server findings of the probes:"))?;
        for f in &result.server_findings {
            writeln!(out, "  {} ({}): {}", f.registration_id, f.probe, f.message)?;
        }
    }
    write_leftovers(out, style, &result.left_on_devices, result.fail_on_residue)?;
    if !result.unusable_devices.is_empty() {
        writeln!(
            out,
            "\n{}",
            style.red("registrations the run could not use:")
        )?;
        for d in &result.unusable_devices {
            writeln!(out, "  {}: {}", d.registration_id, d.reason)?;
        }
    }
    if result.interrupted {
        writeln!(
            out,
            "\n{}",
            style.red(&format!(
                "interrupted by a stop signal ({}): the remaining cases did not run",
                crate::interrupt::SIGNALS
            ))
        )?;
    }
    Ok(())
}

/// The "left on the devices" block: one line per device, its cause, and whether it fails the
/// run (a server fault does; a target's choice only with `--fail-on-residue`).
pub(super) fn write_leftovers(
    out: &mut dyn Write,
    style: Style,
    leftovers: &[Leftover],
    fail_on_residue: bool,
) -> io::Result<()> {
    if leftovers.is_empty() {
        return Ok(());
    }
    writeln!(out, "\nleft on the devices:")?;
    for l in leftovers {
        let fails = fail_on_residue || l.cause == Cause::ServerFault;
        let label = if fails {
            style.red(l.cause.label())
        } else {
            l.cause.label().to_owned()
        };
        writeln!(
            out,
            "  {}: {} [{label}] {}",
            l.registration_id,
            l.items.join(", "),
            l.reason
        )?;
    }
    Ok(())
}

/// The JSON report (see `schemas/contract-report.json`).
pub fn json(result: &SuiteResult) -> Result<String, ReportError> {
    super::to_json("JSON", &Json(result))
}

/// A suite result as its JSON report has it: the result's fields and the verdict.
#[derive(serde::Serialize)]
pub(super) struct Json<'a>(#[serde(serialize_with = "with_verdict")] pub &'a SuiteResult);

fn with_verdict<S: serde::Serializer>(result: &&SuiteResult, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::Error;
    let mut value = serde_json::to_value(*result).map_err(S::Error::custom)?;
    value["passed"] = serde_json::Value::Bool(result.passed());
    serde::Serialize::serialize(&value, s)
}

/// The JUnit XML report: one test suite per group, one test case per contract case.
pub fn junit(result: &SuiteResult) -> Result<String, ReportError> {
    Junit::new("pushcheck contract")
        .time(result.duration)
        .suites(junit_suites(result))
        .render()
}

/// The JUnit suites of a contract result, for a report of its own or a combined one.
pub fn junit_suites(result: &SuiteResult) -> Vec<Suite> {
    let mut suites = Vec::new();
    let mut groups: Vec<&str> = result.cases.iter().map(|c| c.group).collect();
    groups.dedup();
    for group in groups {
        let mut suite = Suite::new(format!("contract.{group}"));
        for case in result.cases.iter().filter(|c| c.group == group) {
            let test_case = match case.status {
                Status::Passed => Case::passed(case.name),
                Status::Skipped => match &case.skip_reason {
                    Some(reason) => Case::skipped(case.name).message(reason.clone()),
                    None => Case::skipped(case.name),
                },
                Status::Failed => match &case.failure {
                    Some(f) => Case::failed(case.name)
                        .message(f.message.clone())
                        .description(f.to_string()),
                    None => Case::failed(case.name),
                },
            };
            suite.case(
                test_case
                    .classname(format!("contract.{group}"))
                    .time(case.duration),
            );
        }
        suites.push(suite);
    }
    if result.target_choices.is_some()
        || !result.left_on_devices.is_empty()
        || !result.server_findings.is_empty()
    {
        suites.push(live_suite(result));
    }
    if result.interrupted {
        // A CI publish step shows why the run has no verdict.
        let mut suite = Suite::new("contract.run");
        suite.case(
            Case::error("interrupted")
                .message(format!(
                    "interrupted by a stop signal ({}): the remaining cases did not run",
                    crate::interrupt::SIGNALS
                ))
                .classname("contract.run"),
        );
        suites.push(suite);
    }
    suites
}

/// `contract.live`: one case per probe finding (failed), one per device left changed (failed
/// when it fails the run, else passed with the leftover in its output).
fn live_suite(result: &SuiteResult) -> Suite {
    let mut suite = Suite::new("contract.live");
    for f in &result.server_findings {
        suite.case(
            Case::failed(format!("probe {} {}", f.probe, f.registration_id))
                .message(f.message.clone())
                .classname("contract.live"),
        );
    }
    for l in &result.left_on_devices {
        let text = format!("{} [{}] {}", l.items.join(", "), l.cause.label(), l.reason);
        let fails = result.fail_on_residue || l.cause == Cause::ServerFault;
        let case = Case::judged(format!("left on {}", l.registration_id), !fails)
            .message(text.clone())
            .classname("contract.live");
        suite.case(if fails { case } else { case.output(text) });
    }
    suite
}
