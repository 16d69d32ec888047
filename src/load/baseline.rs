//! Regression gates against an earlier run: `--baseline summary.json` (pushcheck's own summary
//! of that run) is compared per operation with this run, and rules such as
//! `p95 regression>10%` or `rps regression>5%` fail when an operation got worse by more than
//! that. The comparison goes into the result (terminal, `summary.json`, JUnit through the
//! rules); goose's own `report.json`, when it sits beside the summary, is handed to goose's
//! `--baseline-file` too, so goose's HTML report shows its deltas.
//!
//! A regression rule **fails** when its limit is exceeded (the rule names the regression that
//! is not acceptable): for times, how much slower (`(now − before) / before`); for `rps`, how
//! much less throughput (`(before − now) / before`). Without a rule `for` one request, every
//! operation that ran in both runs is compared and the worst one is reported. With `--baseline`
//! and no regression rule, `p95 regression>10%` and `rps regression>5%` apply.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use std::str::FromStr;

use super::result::{Latency, OperationStats};
use super::threshold::{Op, REGRESSION, plain_number, split_request};

/// The regression rules `--baseline` brings when the run gives none.
pub const DEFAULT_GATES: [&str; 2] = ["p95 regression>10%", "rps regression>5%"];

/// What a regression rule compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    P50,
    P95,
    P99,
    Avg,
    Max,
    Rps,
}

impl Measure {
    pub const ALL: [Measure; 6] = [
        Measure::P50,
        Measure::P95,
        Measure::P99,
        Measure::Avg,
        Measure::Max,
        Measure::Rps,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Measure::P50 => "p50",
            Measure::P95 => "p95",
            Measure::P99 => "p99",
            Measure::Avg => "avg",
            Measure::Max => "max",
            Measure::Rps => "rps",
        }
    }

    /// The figure in an operation's numbers.
    pub fn of(self, op: &Figures) -> f64 {
        match self {
            Measure::P50 => op.latency_ms.p50,
            Measure::P95 => op.latency_ms.p95,
            Measure::P99 => op.latency_ms.p99,
            Measure::Avg => op.latency_ms.avg,
            Measure::Max => op.latency_ms.max,
            Measure::Rps => op.rps,
        }
    }

    /// How much worse `now` is than `before`, in percent (negative: better); `None` when the
    /// baseline figure is 0.
    pub fn regression(self, before: f64, now: f64) -> Option<f64> {
        (before > 0.0).then(|| match self {
            Measure::Rps => (before - now) / before * 100.0,
            _ => (now - before) / before * 100.0,
        })
    }

    /// `12.30ms` or `1234.5/s`.
    pub fn show(self, value: f64) -> String {
        match self {
            Measure::Rps => format!("{value:.1}/s"),
            _ => format!("{value:.2}ms"),
        }
    }
}

/// `<measure> regression>PERCENT[ for <request>]`: fails when an operation got worse than the
/// baseline by more than PERCENT (see [`crate::load::baseline`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RegressionRule {
    pub rule: String,
    /// `p95 regression`.
    pub metric: String,
    pub measure: Measure,
    /// `>` or `>=`: the regression that fails the rule.
    pub op: Op,
    /// Percent.
    pub limit: f64,
    pub request: Option<String>,
}

impl FromStr for RegressionRule {
    type Err = String;
    fn from_str(text: &str) -> Result<RegressionRule, String> {
        let rule = text.trim();
        let bad = |why: &str| format!("threshold {rule:?}: {why}");
        let (head, request) = split_request(rule)?;
        let (name, rest) = head
            .split_once(REGRESSION)
            .ok_or_else(|| bad("a regression gate reads like p95 regression>10%"))?;
        let measure = Measure::ALL
            .into_iter()
            .find(|m| m.name() == name.trim())
            .ok_or_else(|| {
                bad(&format!(
                    "{:?} cannot be compared with a baseline; use one of {}",
                    name.trim(),
                    Measure::ALL.map(Measure::name).join(", ")
                ))
            })?;
        let (op, value) =
            Op::split(rest.trim_start()).ok_or_else(|| bad("write regression>PERCENT"))?;
        if matches!(op, Op::Less | Op::LessOrEqual) {
            return Err(bad(
                "a regression gate names the regression that fails it: write regression>10%",
            ));
        }
        let value = value.trim();
        let limit = value
            .strip_suffix('%')
            .and_then(plain_number)
            .ok_or_else(|| bad(&format!("{value:?} is not a percent, such as 10%")))?;
        Ok(RegressionRule {
            rule: rule.to_owned(),
            metric: format!("{}{REGRESSION}", measure.name()),
            measure,
            op,
            limit,
            request,
        })
    }
}

impl RegressionRule {
    /// Whether a regression of `percent` is acceptable.
    pub fn passes(&self, percent: f64) -> bool {
        !self.op.passes(percent, self.limit)
    }
}

/// The figures of one operation that a baseline keeps (as `summary.json` has them).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Figures {
    pub operation: String,
    pub rps: f64,
    pub latency_ms: Latency,
}

impl From<&OperationStats> for Figures {
    fn from(o: &OperationStats) -> Figures {
        Figures {
            operation: o.operation.clone(),
            rps: o.rps,
            latency_ms: o.latency_ms,
        }
    }
}

/// An earlier run, read from its `summary.json`.
#[derive(Debug, Clone)]
pub struct Baseline {
    pub file: PathBuf,
    pub operations: Vec<Figures>,
    /// goose's `report.json` beside the summary, for goose's own baseline.
    pub goose_report: Option<PathBuf>,
}

/// A baseline file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("baseline {}: {message}", path.display())]
pub struct BaselineError {
    pub path: PathBuf,
    pub message: String,
}

impl Baseline {
    /// Reads pushcheck's `summary.json` of an earlier run.
    pub fn read(path: &Path) -> Result<Baseline, BaselineError> {
        let err = |message: String| BaselineError {
            path: path.to_owned(),
            message,
        };
        let text =
            std::fs::read_to_string(path).map_err(|e| err(format!("cannot read it: {e}")))?;
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| err(format!("not JSON: {e}")))?;
        if value.get("raw_metrics").is_some() {
            return Err(err(
                "this is goose's report.json; give pushcheck's summary.json of that run \
                 (goose's report.json beside it is then handed to goose as well)"
                    .into(),
            ));
        }
        #[derive(Deserialize)]
        struct Summary {
            operations: Vec<Figures>,
        }
        let summary: Summary = serde_json::from_value(value).map_err(|e| {
            err(format!(
                "not a pushcheck summary.json (schema load-summary): {e}"
            ))
        })?;
        if summary.operations.is_empty() {
            return Err(err("it has no operation to compare with".into()));
        }
        let goose_report = path
            .parent()
            .map(|dir| dir.join(super::REPORT_JSON))
            .filter(|p| p.is_file());
        Ok(Baseline {
            file: path.to_owned(),
            operations: summary.operations,
            goose_report,
        })
    }

    /// The baseline's figures of `operation`.
    pub fn operation(&self, operation: &str) -> Option<&Figures> {
        self.operations.iter().find(|o| o.operation == operation)
    }

    /// This run against the baseline, per operation that ran in both.
    pub fn compare(&self, now: &[OperationStats]) -> Comparison {
        let operations = now
            .iter()
            .filter_map(|o| {
                let before = self.operation(&o.operation)?;
                let now = Figures::from(o);
                let change = |m: Measure| m.regression(m.of(before), m.of(&now));
                Some(Compared {
                    operation: o.operation.clone(),
                    p95_change_pct: change(Measure::P95),
                    rps_change_pct: change(Measure::Rps),
                    before: before.clone(),
                    now,
                })
            })
            .collect();
        Comparison {
            file: self.file.display().to_string(),
            goose_report: self.goose_report.as_ref().map(|p| p.display().to_string()),
            operations,
        }
    }
}

/// This run against a baseline, in the result.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// The baseline's `summary.json`.
    pub file: String,
    /// goose's `report.json` beside it, handed to goose's own baseline.
    pub goose_report: Option<String>,
    pub operations: Vec<Compared>,
}

/// One operation in both runs.
#[derive(Debug, Clone, Serialize)]
pub struct Compared {
    pub operation: String,
    pub before: Figures,
    pub now: Figures,
    /// How much slower p95 got, in percent (negative: faster).
    pub p95_change_pct: Option<f64>,
    /// How much throughput was lost, in percent (negative: more).
    pub rps_change_pct: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regression_is_worse_in_both_directions() {
        assert_eq!(Measure::P95.regression(10.0, 12.0), Some(20.0));
        assert_eq!(Measure::Rps.regression(100.0, 90.0), Some(10.0));
        assert_eq!(Measure::Rps.regression(100.0, 110.0), Some(-10.0));
        assert_eq!(Measure::P95.regression(0.0, 1.0), None);
    }

    #[test]
    fn gooses_report_is_refused_with_a_hint() {
        let dir = std::env::temp_dir().join(format!("pushcheck-baseline-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("report.json");
        std::fs::write(&path, r#"{"raw_metrics": {}}"#).unwrap();
        let err = Baseline::read(&path).unwrap_err().to_string();
        assert!(err.contains("give pushcheck's summary.json"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
