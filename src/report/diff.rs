//! Renderers of a `schemas diff` result: human (one line per cause, with the count of places it
//! shows at; `-v` adds the places and both pointers), JSON (`schemas/schemas-diff.json`: every
//! finding, and the causes) and JUnit XML (one test case per operation and status, every
//! finding). They only read the [`DiffReport`].

use std::io::{self, Write};

use serde::Serialize;

use super::junit::{Case, Junit, Suite};
use super::{Mark, ReportError, Style};
use crate::schema::diff::{Cause, Class, DiffReport, Finding, readable_pointer};

/// Where a pointer into pushcheck's export comes from: `schemas/<name>.json#/…` for a
/// component (the file to read), the export's own pointer otherwise.
pub fn pushcheck_location(pointer: &str) -> String {
    match pointer.strip_prefix("/components/schemas/") {
        Some(rest) => {
            let (name, inner) = rest.split_once('/').unwrap_or((rest, ""));
            let inner = if inner.is_empty() {
                String::new()
            } else {
                format!("/{inner}")
            };
            format!("schemas/{name}.json#{inner}")
        }
        None => format!("pushcheck schemas openapi#{pointer}"),
    }
}

/// One line naming a finding: where, what, and what each side says.
pub fn finding_line(f: &Finding) -> String {
    let field = if f.field.is_empty() {
        String::new()
    } else {
        format!(" {}", f.field)
    };
    let keyword = f
        .keyword
        .as_deref()
        .map(|k| format!(" ({k})"))
        .unwrap_or_default();
    format!(
        "{} {}{field}{keyword}: pushcheck says {}, the published file {}",
        f.place,
        f.kind.as_str(),
        f.pushcheck.says,
        f.published.says
    )
}

/// The bracketed notes of a finding (known, accepted).
fn note(f: &Finding) -> String {
    let mut notes = Vec::new();
    if let Some(topic) = f.known {
        notes.push(format!("known: {topic}"));
    }
    if f.accepted {
        notes.push("accepted by the baseline".to_owned());
    }
    if notes.is_empty() {
        String::new()
    } else {
        format!(" [{}]", notes.join("; "))
    }
}

/// How much the human report shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Detail {
    /// One line per cause; causes the baseline accepts counted, not listed.
    #[default]
    Causes,
    /// Every cause (accepted ones too), each with its places and both pointers (`-v`).
    Places,
}

/// The human report: one line per cause (a component used in sixteen places is one line, with
/// the count), a count of the findings, the verdict, and the next step.
pub fn human(
    out: &mut dyn Write,
    report: &DiffReport,
    style: Style,
    detail: Detail,
) -> io::Result<()> {
    let mut heading = format!(
        "{} (OpenAPI {}) against pushcheck's schemas",
        report.source, report.openapi
    );
    if let Some(baseline) = &report.baseline {
        heading.push_str(&format!(", baseline {baseline}"));
    }
    if report.strict {
        heading.push_str(", strict");
    }
    writeln!(out, "{heading}")?;
    for op in report.operations.iter().filter(|op| op.found.is_none()) {
        writeln!(
            out,
            "  {:<7} {} ({}): not in the file",
            style.mark(Mark::Failed),
            op.label,
            op.operation.operation_id()
        )?;
    }
    let causes = report.causes();
    let mut hidden = 0;
    for cause in &causes {
        if cause.accepted && detail == Detail::Causes {
            hidden += 1;
            continue;
        }
        writeln!(
            out,
            "  {:<7} {}",
            style.mark(Mark::of(!cause.fails)),
            cause_line(cause)
        )?;
        if detail == Detail::Places {
            writeln!(out, "          at: {}", cause.places.join(", "))?;
            writeln!(
                out,
                "          pushcheck: {} ({})",
                cause.pushcheck.says,
                pushcheck_location(&cause.pushcheck.pointer)
            )?;
            writeln!(
                out,
                "          published: {} (#{})",
                cause.published.says,
                readable_pointer(&cause.published.pointer)
            )?;
        }
    }
    let mut counts = format!(
        "Findings: {} breaking, {} disagreement, {} known, {} additive ({} {})",
        report.count(Class::Breaking),
        report.count(Class::Disagreement),
        report.count(Class::Known),
        report.count(Class::Additive),
        causes.len(),
        plural(causes.len(), "cause", "causes"),
    );
    if report.baseline.is_some() {
        let accepted = report.findings.iter().filter(|f| f.accepted).count();
        counts.push_str(&format!("; {accepted} accepted by the baseline"));
        if hidden > 0 {
            counts.push_str(" (-v lists them)");
        }
    }
    writeln!(out, "{counts}")?;
    let failing: Vec<_> = causes.iter().filter(|c| c.fails).collect();
    if failing.is_empty() {
        writeln!(
            out,
            "{}: no new breaking finding or disagreement",
            style.verdict(true)
        )?;
    } else {
        let findings: usize = failing.iter().map(|c| c.findings).sum();
        writeln!(
            out,
            "{}: {} new {} ({} {}) {}",
            style.verdict(false),
            failing.len(),
            plural(failing.len(), "cause", "causes"),
            findings,
            plural(findings, "finding", "findings"),
            if report.strict {
                "breaking, disagreeing, or known with --strict"
            } else {
                "breaking or disagreeing"
            },
        )?;
    }
    writeln!(out, "Next: {}", next_step(report, !failing.is_empty()))
}

/// The closing line: what to do now.
fn next_step(report: &DiffReport, failed: bool) -> &'static str {
    match (
        failed,
        report.baseline.is_some(),
        report.findings.is_empty(),
    ) {
        (true, false, _) => {
            "where the file is right, fix pushcheck's schemas (docs/openapi-triage.md); accept the rest with --write-baseline FILE, then pass --baseline FILE"
        }
        (true, true, _) => {
            "if the file is right, fix pushcheck's schemas; otherwise accept the change with --write-baseline FILE (review it, commit the file)"
        }
        (false, false, false) => {
            "accept what is there with --write-baseline FILE, then pass --baseline FILE: only new findings fail"
        }
        (false, _, _) => "nothing to do",
    }
}

fn plural(n: usize, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

/// One line naming a cause: class, kind, where, what each side says, and in how many places.
pub fn cause_line(c: &Cause) -> String {
    let fields: Vec<&str> = c
        .fields
        .iter()
        .map(|f| if f.is_empty() { "(whole)" } else { f.as_str() })
        .collect();
    let keyword = c
        .keyword
        .as_deref()
        .map(|k| format!(" {k}"))
        .unwrap_or_default();
    let component = c
        .component
        .as_deref()
        .map(|name| format!(" in {name}"))
        .unwrap_or_default();
    let mut notes = Vec::new();
    if let Some(topic) = c.known {
        notes.push(format!("known: {topic}"));
    }
    if c.accepted {
        notes.push("accepted by the baseline".to_owned());
    }
    let notes = if notes.is_empty() {
        String::new()
    } else {
        format!(" [{}]", notes.join("; "))
    };
    let places = c.places.len();
    let mut at = if places == 1 {
        c.places[0].clone()
    } else {
        format!("{places} places")
    };
    if c.findings > places {
        at = format!("{} findings in {at}", c.findings);
    }
    format!(
        "{:<12} {} {}{keyword}{component}: pushcheck says {}, the published file {}{notes} ({at})",
        c.class.as_str(),
        c.kind.as_str(),
        fields.join(", "),
        c.pushcheck.says,
        c.published.says,
    )
}

#[derive(Serialize)]
struct Json<'a> {
    #[serde(flatten)]
    report: &'a DiffReport,
    passed: bool,
    /// The findings grouped by cause (each finding stays in `findings`).
    causes: Vec<Cause>,
}

/// The JSON report, as `schemas/schemas-diff.json` describes it.
pub fn json(report: &DiffReport) -> Result<String, ReportError> {
    super::to_json(
        "schemas diff",
        &Json {
            report,
            passed: report.passed(),
            causes: report.causes(),
        },
    )
}

/// The JUnit report: one test suite, one test case per operation and group (`request`,
/// `response 200`, …); a case fails when one of its findings fails, and lists every other
/// finding in its output.
pub fn junit(report: &DiffReport) -> Result<String, ReportError> {
    let mut suite = Suite::new("schemas-diff");
    for op in &report.operations {
        let classname = format!("schemas-diff.{}", op.operation.operation_id());
        for group in &op.groups {
            let findings: Vec<&Finding> = report
                .of(op.operation)
                .filter(|f| &f.place.group() == group)
                .collect();
            let failing: Vec<String> = findings
                .iter()
                .filter(|f| f.fails)
                .map(|f| finding_line(f))
                .collect();
            let mut case = Case::judged(
                format!("{} {group}", op.operation.operation_id()),
                failing.is_empty(),
            )
            .message(format!("{} new finding(s)", failing.len()))
            .description(failing.join("\n"))
            .classname(classname.clone());
            let others: Vec<String> = findings
                .iter()
                .filter(|f| !f.fails)
                .map(|f| format!("{}: {}{}", f.class.as_str(), finding_line(f), note(f)))
                .collect();
            if !others.is_empty() {
                case = case.output(others.join("\n"));
            }
            suite.case(case);
        }
    }
    Junit::new("pushcheck schemas diff")
        .suites([suite])
        .render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_pointers_name_the_schema_file() {
        assert_eq!(
            pushcheck_location("/components/schemas/system-data/properties/os"),
            "schemas/system-data.json#/properties/os"
        );
        assert_eq!(
            pushcheck_location("/components/schemas/error-push"),
            "schemas/error-push.json#"
        );
        assert_eq!(
            pushcheck_location("/paths/x/get/responses/200"),
            "pushcheck schemas openapi#/paths/x/get/responses/200"
        );
    }
}
