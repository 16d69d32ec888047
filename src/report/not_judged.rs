//! The reports of a run that ended without a verdict (exit 2 or 3, or a server finding before
//! any result): a CI job's publish step still finds `junit.xml` — one test case, an `<error>`
//! saying why the run could not judge — and a minimal `summary.json` (load) or `check.json`
//! (check) with the reason and the exit kind, valid against the same schemas as a full one
//! (`not_judged` in `schemas/load-summary.json`, `schemas/check-report.json` and
//! `schemas/contract-report.json`).
//!
//! Like every renderer it only reads what it is given.

use serde::Serialize;

use super::ReportError;
use super::junit::{Case, Junit, Suite};
use crate::outcome::Exit;

/// Why a command ended without a result.
#[derive(Debug, Clone, Copy)]
pub struct NotJudged<'a> {
    /// `load`, `check` or `contract`.
    pub command: &'static str,
    pub exit: Exit,
    /// The error, as the terminal printed it.
    pub reason: &'a str,
}

impl NotJudged<'_> {
    /// `usage`, `runtime` or `server-finding`: what the exit code means.
    pub fn exit_kind(&self) -> &'static str {
        match self.exit {
            Exit::Usage => "usage",
            Exit::Runtime => "runtime",
            Exit::CheckFailed => "server-finding",
            Exit::Passed => "passed",
        }
    }

    /// `could not judge (runtime error, exit 3): …`, the one reason line.
    pub fn headline(&self) -> String {
        let what = match self.exit {
            Exit::Usage => "usage or configuration error",
            Exit::Runtime => "runtime error",
            Exit::CheckFailed => "the server's fault before any result",
            Exit::Passed => "no error",
        };
        format!(
            "could not judge ({what}, exit {}): {}",
            self.exit.code(),
            self.reason
        )
    }
}

/// `not_judged` in the JSON documents.
#[derive(Serialize)]
struct Why<'a> {
    command: &'static str,
    exit_code: i32,
    exit_kind: &'static str,
    reason: &'a str,
}

fn why<'a>(n: &NotJudged<'a>) -> Why<'a> {
    Why {
        command: n.command,
        exit_code: n.exit.code(),
        exit_kind: n.exit_kind(),
        reason: n.reason,
    }
}

#[derive(Serialize)]
struct Verdict {
    passed: bool,
    reasons: Vec<String>,
}

/// The minimal `summary.json` of a load that could not judge (schema `load-summary`).
pub fn summary_json(n: &NotJudged<'_>) -> Result<String, ReportError> {
    #[derive(Serialize)]
    struct Summary<'a> {
        format: u32,
        pushcheck_version: &'static str,
        not_judged: Why<'a>,
        verdict: Verdict,
    }
    super::to_json(
        "summary",
        &Summary {
            format: crate::load::result::SUMMARY_FORMAT,
            pushcheck_version: env!("CARGO_PKG_VERSION"),
            not_judged: why(n),
            verdict: Verdict {
                passed: false,
                reasons: vec![n.headline()],
            },
        },
    )
}

/// The minimal `check.json` of a check that could not judge (schema `check-report`).
pub fn check_json(n: &NotJudged<'_>) -> Result<String, ReportError> {
    #[derive(Serialize)]
    struct Check<'a> {
        tool: &'static str,
        version: &'static str,
        passed: bool,
        reasons: Vec<String>,
        not_judged: Why<'a>,
    }
    super::to_json(
        "JSON",
        &Check {
            tool: "pushcheck",
            version: env!("CARGO_PKG_VERSION"),
            passed: false,
            reasons: vec![n.headline()],
            not_judged: why(n),
        },
    )
}

/// The minimal `--report-json` of a contract run that could not judge (schema
/// `contract-report`).
pub fn contract_json(n: &NotJudged<'_>) -> Result<String, ReportError> {
    // The same fields as check.json's: tool, version, passed, reasons, not_judged.
    check_json(n)
}

/// `junit.xml` with one test case: an `<error>` (a `<failure>` for the server's fault) saying
/// why the run could not judge.
pub fn junit(n: &NotJudged<'_>) -> Result<String, ReportError> {
    let name = format!("pushcheck {}: could not judge", n.command);
    let case = match n.exit {
        Exit::CheckFailed => Case::failed(name),
        _ => Case::error(name),
    };
    let mut suite = Suite::new("run");
    suite.case(
        case.message(n.reason)
            .kind(format!("{} (exit {})", n.exit_kind(), n.exit.code()))
            .description(n.headline())
            .classname("run"),
    );
    Junit::new(format!("pushcheck {}", n.command))
        .suites([suite])
        .render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_target_is_an_error_case_with_its_reason() {
        let n = NotJudged {
            command: "check",
            exit: Exit::Runtime,
            reason: "target http://127.0.0.1:1 is unreachable: connection refused",
        };
        let xml = junit(&n).expect("junit");
        assert!(xml.contains("<error"), "{xml}");
        assert!(xml.contains("runtime (exit 3)"), "{xml}");
        assert!(xml.contains("127.0.0.1:1 is unreachable"), "{xml}");
        let json: serde_json::Value =
            serde_json::from_str(&check_json(&n).expect("json")).expect("JSON");
        assert_eq!(json["not_judged"]["exit_code"], 3);
        assert_eq!(json["passed"], false);
        let server = NotJudged {
            exit: Exit::CheckFailed,
            ..n
        };
        assert!(junit(&server).expect("junit").contains("<failure"));
    }
}
