//! Renderers of a `schemas diff` result: human (grouped by operation, then by request and
//! response status), JSON (`schemas/schemas-diff.json`) and JUnit XML (one test case per
//! operation and status). They only read the [`DiffReport`].

use std::io::{self, Write};

use serde::Serialize;

use super::junit::{Case, Junit, Suite};
use super::{Mark, ReportError, Style};
use crate::schema::diff::{Class, DiffReport, Finding, OperationDiff};

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

/// The human report.
pub fn human(out: &mut dyn Write, report: &DiffReport, style: Style) -> io::Result<()> {
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
    for op in &report.operations {
        operation(out, report, op, style)?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "Findings: {} breaking, {} disagreement, {} known, {} additive; {} accepted by the baseline",
        report.count(Class::Breaking),
        report.count(Class::Disagreement),
        report.count(Class::Known),
        report.count(Class::Additive),
        report.findings.iter().filter(|f| f.accepted).count(),
    )?;
    let failing: Vec<&Finding> = report.findings.iter().filter(|f| f.fails).collect();
    if failing.is_empty() {
        writeln!(
            out,
            "{}: no new breaking finding or disagreement",
            style.verdict(true)
        )
    } else {
        writeln!(out, "{}:", style.verdict(false))?;
        for f in failing {
            writeln!(
                out,
                "  - {} {}: {} ({})",
                f.operation.label(),
                finding_line(f),
                f.class.as_str(),
                if f.class == Class::Known {
                    "--strict"
                } else {
                    "new"
                }
            )?;
        }
        Ok(())
    }
}

fn operation(
    out: &mut dyn Write,
    report: &DiffReport,
    op: &OperationDiff,
    style: Style,
) -> io::Result<()> {
    writeln!(out)?;
    match &op.found {
        Some(found) => writeln!(
            out,
            "{} ({}): {} {}",
            op.label,
            op.operation.operation_id(),
            found.method,
            found.path
        )?,
        None => writeln!(
            out,
            "{} ({}): not in the file",
            op.label,
            op.operation.operation_id()
        )?,
    }
    for group in &op.groups {
        let findings: Vec<&Finding> = report
            .of(op.operation)
            .filter(|f| &f.place.group() == group)
            .collect();
        let mark = Mark::of(findings.iter().all(|f| !f.fails));
        writeln!(out, "  {:<7} {group}", style.mark(mark))?;
        for f in findings {
            let field = if f.field.is_empty() {
                "(whole)"
            } else {
                f.field.as_str()
            };
            let keyword = f
                .keyword
                .as_deref()
                .map(|k| format!(" {k}"))
                .unwrap_or_default();
            writeln!(
                out,
                "      {:<12} {:<18} {}{keyword}{}",
                f.class.as_str(),
                f.kind.as_str(),
                placed(f, field),
                note(f)
            )?;
            writeln!(
                out,
                "          pushcheck: {} ({})",
                f.pushcheck.says,
                pushcheck_location(&f.pushcheck.pointer)
            )?;
            writeln!(
                out,
                "          published: {} (#{})",
                f.published.says, f.published.pointer
            )?;
        }
    }
    Ok(())
}

fn placed(f: &Finding, field: &str) -> String {
    match &f.place {
        crate::schema::diff::Place::Parameter { location, name } => format!(
            "{location} {name}{}",
            if f.field.is_empty() {
                String::new()
            } else {
                format!(" {field}")
            }
        ),
        _ => field.to_owned(),
    }
}

#[derive(Serialize)]
struct Json<'a> {
    #[serde(flatten)]
    report: &'a DiffReport,
    passed: bool,
}

/// The JSON report, as `schemas/schemas-diff.json` describes it.
pub fn json(report: &DiffReport) -> Result<String, ReportError> {
    super::to_json(
        "schemas diff",
        &Json {
            report,
            passed: report.passed(),
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
