//! Regression gates against an earlier run: `--baseline summary.json` (pushcheck's own summary
//! of that run) is compared per operation with this run, and rules such as
//! `p95 regression>10%` or `rps regression>5%` fail when an operation got worse by more than
//! that. The comparison goes into the result (terminal, `summary.json`, JUnit through the
//! rules); goose's own `report.json`, when it sits beside the summary, is handed to goose's
//! `--baseline-file` too, so goose's HTML report shows its deltas.
//!
//! **One convention for every change** ([`Change`]), in the comparison, the rule line, JSON,
//! JUnit and HTML: a number with a sign is always a *regression* — positive means worse
//! (slower, less throughput, more errors), negative better — and it is named so
//! (`regression_pct`); text never shows a bare sign but says which way the figure moved and
//! what that means: `rps 4328.0/s → 114.0/s, fell 97.4% (worse)`.
//!
//! A regression rule **fails** when its limit is exceeded (the rule names the regression that
//! is not acceptable): for times, how much slower (`(now − before) / before`); for `rps`, how
//! much less throughput (`(before − now) / before`); for `error-rate`, how many percentage
//! points more failed (`now − before`). Without a rule `for` one request, every operation that
//! ran in both runs is compared and the worst one is reported. With `--baseline` and no
//! regression rule, `p95 regression>10%` and `rps regression>5%` apply.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use std::str::FromStr;

use super::figures::{Latency, OperationStats};
use super::threshold::{Op, REGRESSION, RuleError, plain_number, split_request};
use crate::api::Operation;

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
    /// The share of requests that failed, percent; its regression is in percentage points.
    ErrorRate,
}

impl Measure {
    pub const ALL: [Measure; 7] = [
        Measure::P50,
        Measure::P95,
        Measure::P99,
        Measure::Avg,
        Measure::Max,
        Measure::Rps,
        Measure::ErrorRate,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Measure::P50 => "p50",
            Measure::P95 => "p95",
            Measure::P99 => "p99",
            Measure::Avg => "avg",
            Measure::Max => "max",
            Measure::Rps => "rps",
            Measure::ErrorRate => "error-rate",
        }
    }

    /// The figure in an operation's numbers; `None` for an error rate without requests (a
    /// baseline written before requests were kept).
    pub fn of(self, op: &Figures) -> Option<f64> {
        Some(match self {
            Measure::P50 => op.latency_ms.p50,
            Measure::P95 => op.latency_ms.p95,
            Measure::P99 => op.latency_ms.p99,
            Measure::Avg => op.latency_ms.avg,
            Measure::Max => op.latency_ms.max,
            Measure::Rps => op.rps,
            Measure::ErrorRate => {
                if op.requests == 0 {
                    return None;
                }
                op.failures as f64 / op.requests as f64 * 100.0
            }
        })
    }

    /// Whether a higher figure is worse (every time and the error rate; not `rps`).
    pub fn higher_is_worse(self) -> bool {
        !matches!(self, Measure::Rps)
    }

    /// How much worse `now` is than `before` — positive: worse, negative: better — in percent
    /// of `before`, or for the error rate in percentage points; `None` when a percent of a
    /// baseline figure of 0 would be needed.
    pub fn regression(self, before: f64, now: f64) -> Option<f64> {
        match self {
            Measure::ErrorRate => Some(now - before),
            Measure::Rps => (before > 0.0).then(|| (before - now) / before * 100.0),
            _ => (before > 0.0).then(|| (now - before) / before * 100.0),
        }
    }

    /// `12.30ms`, `1234.5/s` or `0.40%`.
    pub fn show(self, value: f64) -> String {
        match self {
            Measure::Rps => format!("{value:.1}/s"),
            Measure::ErrorRate => format!("{value:.2}%"),
            _ => format!("{value:.2}ms"),
        }
    }

    /// This figure in both runs, with its regression and the words for it.
    pub fn change(self, before: f64, now: f64) -> Change {
        Change {
            measure: self.name(),
            before,
            now,
            regression_pct: self.regression(before, now),
            change: self.words(before, now),
        }
    }

    /// Which way the figure moved and what that means: `rose 20.9% (worse)`,
    /// `fell 97.4% (worse)`, `rose 0.40 points (worse)`, `unchanged`.
    pub fn words(self, before: f64, now: f64) -> String {
        let moved = match self {
            Measure::ErrorRate => {
                let points = (now - before).abs();
                (points >= 0.005).then(|| format!("{points:.2} points"))
            }
            _ if before > 0.0 => {
                let pct = ((now - before) / before * 100.0).abs();
                (pct >= 0.05).then(|| format!("{pct:.1}%"))
            }
            _ => (now > 0.0).then(|| "from 0".to_owned()),
        };
        let Some(by) = moved else {
            return "unchanged".to_owned();
        };
        let rose = now > before;
        let worse = rose == self.higher_is_worse();
        format!(
            "{} {by} ({})",
            if rose { "rose" } else { "fell" },
            if worse { "worse" } else { "better" }
        )
    }

    /// `p95 1.75ms → 2.19ms, rose 25.1% (worse)`: the figure in both runs and its change, as
    /// the comparison, the rule line and the HTML report say it.
    pub fn line(self, before: f64, now: f64) -> String {
        format!(
            "{} {} → {}, {}",
            self.name(),
            self.show(before),
            self.show(now),
            self.words(before, now)
        )
    }
}

/// One figure of one operation in both runs. The one sign convention of a change: a signed
/// number is a regression (positive: worse); the words say which way it moved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// `p95`, `rps`, `error-rate`, …
    pub measure: &'static str,
    pub before: f64,
    pub now: f64,
    /// How much worse, in percent of `before` (for `error-rate`: percentage points); negative:
    /// better; `null` when `before` is 0.
    pub regression_pct: Option<f64>,
    /// `rose 20.9% (worse)`, `fell 97.4% (worse)`, `unchanged`.
    pub change: String,
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
    pub request: Option<Operation>,
}

impl FromStr for RegressionRule {
    type Err = RuleError;
    fn from_str(text: &str) -> Result<RegressionRule, RuleError> {
        let rule = text.trim();
        let bad = |why: &str| RuleError::invalid(rule, why);
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
    /// Requests and those that failed, for the error rate (0 in a summary without them).
    #[serde(default)]
    pub requests: u64,
    #[serde(default)]
    pub failures: u64,
}

impl From<&OperationStats> for Figures {
    fn from(o: &OperationStats) -> Figures {
        Figures {
            operation: o.operation.clone(),
            rps: o.rps,
            latency_ms: o.latency_ms,
            requests: o.requests,
            failures: o.failures,
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
        // A run's report directory stands for the summary.json in it.
        let in_dir;
        let path = if path.is_dir() {
            in_dir = path.join(crate::report::names::SUMMARY_JSON);
            in_dir.as_path()
        } else {
            path
        };
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
            .map(|dir| dir.join(crate::report::names::REPORT_JSON))
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
                let changes = Measure::ALL
                    .into_iter()
                    .filter_map(|m| Some(m.change(m.of(before)?, m.of(&now)?)))
                    .collect();
                Some(Compared {
                    operation: o.operation.clone(),
                    before: before.clone(),
                    now,
                    changes,
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
    /// Every measure in both runs, in [`Measure::ALL`]'s order (the error rate only when both
    /// runs kept their requests).
    pub changes: Vec<Change>,
}

impl Compared {
    /// The change of `measure`, when both runs have it.
    pub fn change(&self, measure: Measure) -> Option<&Change> {
        self.changes.iter().find(|c| c.measure == measure.name())
    }
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
        assert_eq!(Measure::ErrorRate.regression(0.0, 1.5), Some(1.5));
    }

    /// A rise and a fall of every measure: the sign of the regression says worse (+) or
    /// better (−), the words say which way the figure moved, and both agree.
    #[test]
    fn a_rise_and_a_fall_of_every_measure_read_the_same_everywhere() {
        for m in Measure::ALL {
            let (low, high) = match m {
                Measure::ErrorRate => (0.5, 2.5),
                Measure::Rps => (114.0, 4328.0),
                _ => (2.0, 3.0),
            };
            let rise = m.change(low, high);
            let fall = m.change(high, low);
            let (rise_word, fall_word) = if m.higher_is_worse() {
                ("(worse)", "(better)")
            } else {
                ("(better)", "(worse)")
            };
            assert!(
                rise.change.starts_with("rose ") && rise.change.ends_with(rise_word),
                "{m:?}: {rise:?}"
            );
            assert!(
                fall.change.starts_with("fell ") && fall.change.ends_with(fall_word),
                "{m:?}: {fall:?}"
            );
            let worse_is_positive = |c: &Change| {
                let r = c.regression_pct.expect("a baseline above 0");
                (r > 0.0) == c.change.ends_with("(worse)")
            };
            assert!(worse_is_positive(&rise), "{m:?}: {rise:?}");
            assert!(worse_is_positive(&fall), "{m:?}: {fall:?}");
            let line = m.line(low, high);
            assert!(
                !line.contains('+') && !line.contains(" -") && !line.contains("(-"),
                "no bare sign: {line}"
            );
            assert_eq!(m.change(low, low).change, "unchanged");
        }
        // The issue's figures: a fall from 4328/s to 114/s is a 97.4% fall, and worse.
        let fall = Measure::Rps.change(4328.0, 114.0);
        assert_eq!(fall.change, "fell 97.4% (worse)");
        assert!((fall.regression_pct.unwrap() - 97.37).abs() < 0.01);
        assert_eq!(
            Measure::Rps.line(1102.0, 1114.0),
            "rps 1102.0/s → 1114.0/s, rose 1.1% (better)"
        );
        assert_eq!(
            Measure::ErrorRate.change(0.1, 0.5).change,
            "rose 0.40 points (worse)"
        );
        assert_eq!(Measure::P99.words(0.0, 3.0), "rose from 0 (worse)");
        assert_eq!(Measure::P99.regression(0.0, 3.0), None);
    }

    #[test]
    fn a_comparison_has_every_measure_and_the_error_rate_only_with_requests() {
        let op = |rps: f64, p95: f64, requests: u64, failures: u64| OperationStats {
            operation: "GET registration".into(),
            requests,
            failures,
            rps,
            latency_ms: Latency {
                p50: 1.0,
                p95,
                p99: 5.0,
                max: 9.0,
                avg: 1.5,
            },
            ..OperationStats::default()
        };
        let baseline = Baseline {
            file: PathBuf::from("summary.json"),
            operations: vec![Figures::from(&op(4328.0, 2.0, 1000, 0))],
            goose_report: None,
        };
        let compared = &baseline.compare(&[op(114.0, 3.0, 100, 5)]).operations[0];
        assert_eq!(compared.changes.len(), Measure::ALL.len());
        let rps = compared.change(Measure::Rps).expect("rps");
        assert_eq!(rps.change, "fell 97.4% (worse)");
        let errors = compared.change(Measure::ErrorRate).expect("error rate");
        assert_eq!(errors.change, "rose 5.00 points (worse)");
        let json = serde_json::to_value(compared).expect("JSON");
        assert_eq!(json["changes"][1]["measure"], "p95");
        assert_eq!(json["changes"][1]["change"], "rose 50.0% (worse)");
        let old = Baseline {
            operations: vec![Figures {
                requests: 0,
                failures: 0,
                ..Figures::from(&op(4328.0, 2.0, 0, 0))
            }],
            ..baseline
        };
        let compared = &old.compare(&[op(114.0, 3.0, 100, 5)]).operations[0];
        assert!(compared.change(Measure::ErrorRate).is_none());
    }

    #[test]
    fn gooses_report_is_refused_with_a_hint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        std::fs::write(&path, r#"{"raw_metrics": {}}"#).unwrap();
        let err = Baseline::read(&path).unwrap_err().to_string();
        assert!(err.contains("give pushcheck's summary.json"), "{err}");
    }

    #[test]
    fn a_report_directory_stands_for_its_summary() {
        let dir = tempfile::tempdir().unwrap();
        let err = Baseline::read(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("summary.json") && err.contains("cannot read it"),
            "names the file it looked for: {err}"
        );
        assert!(!err.contains("Is a directory"), "{err}");
    }
}
