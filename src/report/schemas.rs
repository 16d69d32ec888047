//! Human output of `pushcheck schemas …`.

use std::io::{self, Write};

use crate::schema::Violation;
use crate::schema::lint::LintReport;

/// One line per violation, indented, JSON pointer first.
pub fn violations(out: &mut dyn Write, violations: &[Violation]) -> io::Result<()> {
    for v in violations {
        writeln!(out, "  {v}")?;
    }
    Ok(())
}

/// The `lint-docs` report.
pub fn lint(out: &mut dyn Write, report: &LintReport) -> io::Result<()> {
    let mode = report.mode;
    writeln!(out, "Doc examples against schemas/ ({mode} mode):")?;
    for e in &report.examples {
        let status = super::Mark::of(e.violations.is_empty()).word();
        writeln!(
            out,
            "  {status:<6} {:<22} as {:<22} {}",
            e.example, e.schema, e.title
        )?;
        for v in &e.violations {
            writeln!(out, "           {v}")?;
        }
    }
    for b in &report.birthdays {
        let verdict = match b.follows {
            "date" => "follows the doc (date), not the spec (date-time)",
            "date-time" => "follows the spec (date-time), not the doc's date",
            _ => "is neither a date nor a date-time",
        };
        writeln!(
            out,
            "  note birthday {:?} in {} {verdict}",
            b.value, b.example
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "Known disagreements between the doc and the published spec:"
    )?;
    for d in report.disagreements {
        writeln!(out, "  - {}", d.topic)?;
        writeln!(out, "      doc:       {}", d.doc)?;
        writeln!(out, "      spec:      {}", d.spec)?;
        writeln!(out, "      pushcheck: {}", d.pushcheck)?;
    }
    writeln!(out)?;
    let failed = report
        .examples
        .iter()
        .filter(|e| !e.violations.is_empty())
        .count();
    let verdict = super::style::verdict(failed == 0);
    writeln!(
        out,
        "{verdict}: {} passed, {failed} failed ({mode} mode)",
        report.examples.len() - failed
    )
}
