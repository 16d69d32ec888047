//! The one JUnit builder: every JUnit report (contract, load, check, `schemas diff`, a run
//! without a verdict) is a [`Junit`] of [`Suite`]s of [`Case`]s, rendered by
//! [`Junit::render`]. Only this file speaks `quick_junit`.
//!
//! A case is passed, skipped, failed (`<failure>`: the server's or the contract's fault) or an
//! error (`<error>`: the run could not judge); its message, type and description say why, and
//! are left out of a passed case.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::ReportError;

/// A JUnit report: a name, an optional time, suites.
#[derive(Debug, Clone)]
pub struct Junit(Report);

impl Junit {
    pub fn new(name: impl Into<String>) -> Junit {
        Junit(Report::new(name.into()))
    }

    /// The whole run's time.
    pub fn time(mut self, time: Duration) -> Junit {
        self.0.set_time(time);
        self
    }

    /// Adds `suites`, in order.
    pub fn suites(mut self, suites: impl IntoIterator<Item = Suite>) -> Junit {
        self.0.add_test_suites(suites.into_iter().map(|s| s.0));
        self
    }

    /// The report as XML.
    pub fn render(&self) -> Result<String, ReportError> {
        self.0.to_string().map_err(|e| ReportError::Render {
            what: "JUnit",
            message: e.to_string(),
        })
    }
}

/// A test suite: a name, properties, cases.
#[derive(Debug, Clone)]
pub struct Suite(TestSuite);

impl Suite {
    pub fn new(name: impl Into<String>) -> Suite {
        Suite(TestSuite::new(name.into()))
    }

    /// The suite named `<prefix>.<name>` (a stage's suites in a combined report).
    pub fn prefixed(mut self, prefix: &str) -> Suite {
        self.0.name = format!("{prefix}.{}", self.0.name.as_str()).into();
        self
    }

    /// Adds a property (a figure the cases were judged on).
    pub fn property(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.add_property((name.into(), value.into()));
    }

    pub fn case(&mut self, case: Case) {
        self.0.add_test_case(case.0);
    }

    pub fn cases(&mut self, cases: impl IntoIterator<Item = Case>) {
        self.0.add_test_cases(cases.into_iter().map(|c| c.0));
    }
}

/// A test case and its verdict.
#[derive(Debug, Clone)]
pub struct Case(TestCase);

impl Case {
    fn with(name: impl Into<String>, status: TestCaseStatus) -> Case {
        Case(TestCase::new(name.into(), status))
    }

    pub fn passed(name: impl Into<String>) -> Case {
        Case::with(name, TestCaseStatus::success())
    }

    pub fn skipped(name: impl Into<String>) -> Case {
        Case::with(name, TestCaseStatus::skipped())
    }

    /// A `<failure>`: the target broke what the case checks.
    pub fn failed(name: impl Into<String>) -> Case {
        Case::with(name, TestCaseStatus::non_success(NonSuccessKind::Failure))
    }

    /// An `<error>`: the case could not judge.
    pub fn error(name: impl Into<String>) -> Case {
        Case::with(name, TestCaseStatus::non_success(NonSuccessKind::Error))
    }

    /// [`Case::passed`] or [`Case::failed`].
    pub fn judged(name: impl Into<String>, passed: bool) -> Case {
        if passed {
            Case::passed(name)
        } else {
            Case::failed(name)
        }
    }

    /// Why it was skipped, failed or could not judge (left out of a passed case).
    pub fn message(mut self, message: impl Into<String>) -> Case {
        self.0.status.set_message(message.into());
        self
    }

    /// The kind of the failure or skip (left out of a passed case).
    pub fn kind(mut self, kind: impl Into<String>) -> Case {
        self.0.status.set_type(kind.into());
        self
    }

    /// The failure's details, its text (left out of a passed case).
    pub fn description(mut self, description: impl Into<String>) -> Case {
        self.0.status.set_description(description.into());
        self
    }

    pub fn classname(mut self, classname: impl Into<String>) -> Case {
        self.0.set_classname(classname.into());
        self
    }

    pub fn time(mut self, time: Duration) -> Case {
        self.0.set_time(time);
        self
    }

    /// What the case saw, in `<system-out>`.
    pub fn output(mut self, output: impl Into<String>) -> Case {
        self.0.set_system_out(output.into());
        self
    }

    /// How many things the case checked.
    pub fn assertions(mut self, assertions: usize) -> Case {
        self.0.set_assertions(assertions);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_passed_case_keeps_no_reason_and_a_failed_one_says_why() {
        let mut suite = Suite::new("thresholds");
        suite.property("requests", "10");
        suite.case(
            Case::passed("p95<1s")
                .message("never shown")
                .output("observed 3ms"),
        );
        suite.case(
            Case::failed("error-rate<1%")
                .message("observed 5%")
                .kind("threshold failed")
                .classname("thresholds.goose"),
        );
        suite.case(Case::skipped("lost updates").message("not run"));
        let xml = Junit::new("pushcheck load x")
            .suites([suite.prefixed("load")])
            .render()
            .expect("xml");
        assert!(xml.contains("<testsuite name=\"load.thresholds\""), "{xml}");
        assert!(!xml.contains("never shown"), "{xml}");
        assert!(
            xml.contains("<failure message=\"observed 5%\" type=\"threshold failed\"/>"),
            "{xml}"
        );
        assert!(xml.contains("<skipped message=\"not run\"/>"), "{xml}");
        assert!(
            xml.contains("<property name=\"requests\" value=\"10\"/>"),
            "{xml}"
        );
    }
}
