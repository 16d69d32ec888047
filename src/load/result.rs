//! The result of a load run, as data: per-operation figures, thresholds with measured values,
//! invariants, and the verdict. Reporters (`crate::report::load`) only read it; its JSON form is
//! pushcheck's load summary, whose schema is `schemas/load-summary.json`.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::load::scenario::{CoMitigation, Mix};
use crate::schema::Mode;

/// Version of the summary format; bump on a breaking change to `schemas/load-summary.json`.
pub const SUMMARY_FORMAT: u32 = 1;

/// Everything a load run found.
#[derive(Debug, Clone, Serialize)]
pub struct LoadResult {
    pub format: u32,
    pub pushcheck_version: &'static str,
    pub scenario: ScenarioSummary,
    pub target: TargetSummary,
    /// Seconds goose measured, after its metrics reset at the end of the ramp.
    pub duration_secs: u64,
    /// The run was stopped early by Ctrl-C (not by a threshold).
    pub interrupted: bool,
    /// Per operation that ran, in the API's order.
    pub operations: Vec<OperationStats>,
    /// All operations together.
    pub total: OperationStats,
    pub coordinated_omission: Option<CoSummary>,
    pub thresholds: Vec<ThresholdOutcome>,
    pub invariants: Vec<InvariantOutcome>,
    /// Report files written, relative to the report directory.
    pub reports: Vec<String>,
    /// Things worth knowing that are not failures.
    pub notes: Vec<String>,
    pub verdict: Verdict,
}

/// The settings the run used.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioSummary {
    pub name: String,
    pub description: String,
    pub file: Option<String>,
    pub users: usize,
    pub ramp: String,
    pub length: String,
    pub throttle_rps: Option<usize>,
    pub think_time: String,
    pub co_mitigation: CoMitigation,
    pub mix: MixSummary,
    pub validation_sample_rate: f64,
    pub validation_mode: Mode,
}

/// Operation weights.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct MixSummary {
    pub get: u32,
    pub patch: u32,
    pub personalize: u32,
    pub depersonalize: u32,
}

impl From<Mix> for MixSummary {
    fn from(m: Mix) -> MixSummary {
        MixSummary {
            get: m.get,
            patch: m.patch,
            personalize: m.personalize,
            depersonalize: m.depersonalize,
        }
    }
}

/// Where the load went.
#[derive(Debug, Clone, Serialize)]
pub struct TargetSummary {
    pub base_url: String,
    /// The embedded simulator, started for this run.
    pub embedded_simulator: bool,
    /// Not a loopback address.
    pub remote: bool,
    /// Requests per second per operation the run was capped at, if any.
    pub rate_cap_per_operation: Option<u32>,
    /// Registrations in the data feed.
    pub feed_registrations: usize,
    /// `simulator-admin` or `file`.
    pub feed_source: String,
}

/// Response times in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
    pub avg: f64,
}

/// One schema violation message and how often it was seen.
#[derive(Debug, Clone, Serialize)]
pub struct ViolationSample {
    pub message: String,
    pub count: u64,
}

/// Figures of one operation (or of all together).
#[derive(Debug, Clone, Serialize)]
pub struct OperationStats {
    /// `GET registration`, …, or `all`.
    pub operation: String,
    pub requests: u64,
    /// Requests goose counted as failed: error statuses, transport errors, schema violations.
    pub failures: u64,
    pub rps: f64,
    /// Measured response times.
    pub latency_ms: Latency,
    /// Measured plus coordinated-omission backfill, when mitigation added any.
    pub adjusted_latency_ms: Option<Latency>,
    /// Count per HTTP status other than 2xx (`"0"`: no response).
    pub errors_by_status: BTreeMap<String, u64>,
    /// Responses validated. pushcheck counts over the whole run, ramp included, while goose's
    /// request counts start once every user has started (goose resets its metrics then).
    pub validated: u64,
    pub schema_violations: u64,
    /// Violations as a percent of validated responses.
    pub schema_violation_rate: f64,
    pub violation_samples: Vec<ViolationSample>,
}

/// goose's coordinated-omission figures.
#[derive(Debug, Clone, Serialize)]
pub struct CoSummary {
    pub mode: CoMitigation,
    pub events: usize,
    pub actual_requests: u64,
    pub synthetic_requests: u64,
}

/// Who judged a threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Judge {
    Goose,
    Pushcheck,
}

/// One threshold and what was measured.
#[derive(Debug, Clone, Serialize)]
pub struct ThresholdOutcome {
    pub rule: String,
    pub judged_by: Judge,
    /// As the reports show it (`812ms`, `0.4%`, `no samples`).
    pub observed: String,
    /// The measured number: milliseconds for a time, percent for a rate, requests/s for `rps`.
    pub value: Option<f64>,
    pub passed: bool,
    /// This rule stopped the run while it was going (goose's threshold abort).
    pub aborted: bool,
}

/// One invariant checked after the load.
#[derive(Debug, Clone, Serialize)]
pub struct InvariantOutcome {
    /// `no acknowledged write lost`, `simulator: <rule>`, ….
    pub name: String,
    pub passed: bool,
    /// How many things were checked (registrations re-read, rules).
    pub checked: usize,
    /// What broke, at most a few dozen lines.
    pub findings: Vec<String>,
    /// The check could not run (the reason); it then neither passes nor fails the run.
    pub skipped: Option<String>,
}

/// The one verdict of the run.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub passed: bool,
    /// Why it failed, one line each; empty when it passed.
    pub reasons: Vec<String>,
}

impl Verdict {
    /// Derives the verdict from thresholds, invariants and interruption.
    pub fn of(
        thresholds: &[ThresholdOutcome],
        invariants: &[InvariantOutcome],
        interrupted: bool,
    ) -> Verdict {
        let mut reasons = Vec::new();
        for t in thresholds.iter().filter(|t| !t.passed) {
            reasons.push(format!(
                "threshold {} failed: observed {}",
                t.rule, t.observed
            ));
        }
        for i in invariants
            .iter()
            .filter(|i| !i.passed && i.skipped.is_none())
        {
            reasons.push(format!(
                "invariant {} failed ({} finding(s))",
                i.name,
                i.findings.len()
            ));
        }
        if interrupted {
            reasons.push("the run was interrupted before its end".to_owned());
        }
        Verdict {
            passed: reasons.is_empty(),
            reasons,
        }
    }
}
