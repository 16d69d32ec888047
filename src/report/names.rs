//! The report files' names, and which of them a run writes: the one list, read by the renderers
//! (which file holds what), by the load runner (to point goose at its own reports, and to list a
//! run's files in its result) and by the CLI.
//!
//! A leaf: it imports nothing of the crate, so a runner reading it depends on no renderer.

/// goose's HTML report, written by goose during the run.
pub const REPORT_HTML: &str = "report.html";
/// goose's JSON report, written by goose during the run (a `--baseline` finds it next to the
/// summary).
pub const REPORT_JSON: &str = "report.json";
/// pushcheck's summary of a load (schema `schemas/load-summary.json`).
pub const SUMMARY_JSON: &str = "summary.json";
/// JUnit XML (see [`super::junit`]).
pub const JUNIT_XML: &str = "junit.xml";
/// pushcheck's own HTML report: one self-contained file (see [`super::html`]).
pub const PUSHCHECK_HTML: &str = "pushcheck.html";
/// The load's timeline, one line per step and operation.
pub const TIMELINE_CSV: &str = "timeline.csv";
/// The combined JSON report of a `check` (schema `schemas/check-report.json`).
pub const CHECK_JSON: &str = "check.json";

/// goose's own reports: the load runner asks goose for them, goose writes them.
pub const GOOSE: [&str; 2] = [REPORT_HTML, REPORT_JSON];

/// A load's own data, written under `load` and under `check` alike.
pub const LOAD_DATA: [&str; 2] = [SUMMARY_JSON, TIMELINE_CSV];

/// Every file a `load` run with a report directory writes there, in the order its result lists
/// them: goose's, and the ones pushcheck renders from the result.
pub const LOAD_RUN: [&str; 6] = [
    PUSHCHECK_HTML,
    REPORT_HTML,
    REPORT_JSON,
    SUMMARY_JSON,
    JUNIT_XML,
    TIMELINE_CSV,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_load_run_lists_gooses_files_and_its_data() {
        for name in GOOSE.iter().chain(&LOAD_DATA) {
            assert!(LOAD_RUN.contains(name), "{name}");
        }
    }
}
