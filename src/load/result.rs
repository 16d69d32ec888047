//! The result of a load run, as data: per-operation figures, thresholds with measured values,
//! invariants, and the verdict. Reporters (`crate::report::load`) only read it; its JSON form is
//! pushcheck's load summary, whose schema is `schemas/load-summary.json`.

use serde::Serialize;

pub use super::figures::{AnswerGap, Latency, OperationStats, ViolationSample};
use crate::api::footprint::{Cause, Leftover};
use crate::load::arrival::ArrivalSummary;
use crate::load::baseline::Comparison;
use crate::load::mix::MixShares;
use crate::load::scenario::{CoMitigation, Mix};
use crate::load::timeline::TimelineSummary;
use crate::outcome::Outcome;
use crate::schema::Mode;

/// Version of the summary format; bump on a breaking change to `schemas/load-summary.json`.
pub const SUMMARY_FORMAT: u32 = 8;

/// Everything a load run found.
#[derive(Debug, Clone, Serialize)]
pub struct LoadResult {
    pub format: u32,
    pub pushcheck_version: &'static str,
    pub scenario: ScenarioSummary,
    pub target: TargetSummary,
    /// Seconds goose measured: the whole run, or the steady state only (see `metrics_cover`).
    pub duration_secs: u64,
    /// What goose's figures (requests, latency, goose's rules) cover: `whole run` (the ramp
    /// included, the default) or `steady state` (goose reset its metrics once every user had
    /// started). pushcheck's own tallies (validation, transport errors) always cover the whole run.
    pub metrics_cover: String,
    /// The run was stopped early by a stop signal: Ctrl-C, SIGTERM or SIGHUP (not by a threshold).
    pub interrupted: bool,
    /// Requests were sent and not one got an HTTP answer: the target is down (a runtime error).
    pub never_answered: bool,
    /// The custom attribute every PATCH of a load writes (one fixed name for every run:
    /// [`crate::api::footprint::LOAD_ATTRIBUTE`]).
    pub run_attribute: String,
    /// This run's ID: its PATCHes wrote `"<run id>:<sequence number>"`.
    pub run_id: String,
    /// What a live run could not put back on its devices, one per device and cause.
    pub left_on_devices: Vec<Leftover>,
    /// Devices of a live run that belonged to someone before it: kept out of personalize and
    /// depersonalize.
    pub excluded_from_person_operations: Vec<ExcludedDevice>,
    /// `--fail-on-residue`: a target's choice left on a device fails the run too.
    pub fail_on_residue: bool,
    /// Per operation that ran, in the API's order.
    pub operations: Vec<OperationStats>,
    /// All operations together.
    pub total: OperationStats,
    /// Per operation, its share of the mix's weights and of the requests sent (judged by
    /// `mix-drift`).
    pub mix: MixShares,
    pub coordinated_omission: Option<CoSummary>,
    pub thresholds: Vec<ThresholdOutcome>,
    pub invariants: Vec<InvariantOutcome>,
    /// Report files written, relative to the report directory.
    pub reports: Vec<String>,
    /// Things worth knowing that are not failures.
    pub notes: Vec<String>,
    pub verdict: Verdict,
    /// The run second by second (also written as `timeline.csv`).
    pub timeline: TimelineSummary,
    /// This run against `--baseline`, per operation.
    pub baseline: Option<Comparison>,
    /// The arrival rate asked for and achieved, when the scenario asked for one.
    pub arrival: Option<ArrivalSummary>,
    /// The load model of the run, and which figure the adjusted latency is.
    pub latency_model: LatencyModel,
    /// Stretches without an answer while requests waited (200 ms or more), in time order:
    /// what the `answer-gap` rule judges.
    pub answer_gaps: Vec<AnswerGap>,
    /// Requests still waiting for their answer when the run ended (counted in `requests`, as
    /// no answer, and in the latency at their age).
    pub unanswered_at_end: UnansweredAtEnd,
}

/// Whether a run was paced, and what its adjusted latency is.
#[derive(Debug, Clone, Serialize)]
pub struct LatencyModel {
    pub model: LoadModel,
    pub adjusted: AdjustedFrom,
    /// The two in a sentence, for the reports.
    pub words: String,
}

/// How requests are started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoadModel {
    /// An arrival rate, a throttle or a rate cap paces the requests: a schedule of slots.
    Open,
    /// Each user sends its next request when the last one is answered.
    Closed,
}

/// What the adjusted latency figures are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AdjustedFrom {
    /// Open model: each request from the moment it was due in the arrival schedule, and the
    /// slots no user could send while every user waited on the server.
    FromDue,
    /// Closed model: goose's coordinated-omission backfill (its synthetic requests count here
    /// only, never as requests).
    GooseBackfill,
    /// Closed model with goose's mitigation disabled: the measured times.
    Measured,
}

/// Requests still waiting when the run ended.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct UnansweredAtEnd {
    pub requests: u64,
    /// The oldest one's age, in milliseconds.
    pub oldest_ms: f64,
}

/// A device a live run kept out of personalize and depersonalize.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExcludedDevice {
    pub registration_id: String,
    /// Why (the probe's answer).
    pub reason: String,
}

/// The settings the run used.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioSummary {
    pub name: String,
    pub description: String,
    pub file: Option<String>,
    /// The most users running at once.
    pub users: usize,
    /// How the users start (`8 users/s`), or `stages`.
    pub ramp: String,
    /// How long the users hold, or the stages in words.
    pub length: String,
    /// The stages, when the scenario has them (goose's test plan).
    pub stages: Option<Vec<crate::load::shape::Stage>>,
    /// The users the plan asks for over time: `[seconds, users]` corners of a line from
    /// `[0, 0]` (see [`crate::load::shape::Shape::users_plan`]).
    pub users_plan: Vec<[f64; 2]>,
    /// goose's request throttle (the arrival rate, a `throttle`, or the rate cap).
    pub throttle_rps: Option<usize>,
    /// Requests/s the scenario asked for, all operations together.
    pub arrival_rate: Option<u32>,
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

/// goose's coordinated-omission figures (closed model only). Its synthetic requests are inside
/// the adjusted percentiles and nowhere else.
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

/// Which figure a threshold was judged on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Figure {
    /// goose's measured response times, error rate or request rate.
    Measured,
    /// goose's coordinated-omission adjusted response times (closed model; measured where
    /// nothing was backfilled).
    CoAdjusted,
    /// The response times from each request's due time in the arrival schedule (open model).
    FromDue,
    /// The longest stretch without an answer while requests waited.
    AnswerGap,
    /// pushcheck's share of judged responses that broke their contract.
    ViolationRate,
    /// The change against `--baseline`, per operation (the worst one).
    BaselineRegression,
    /// The share of the asked arrival rate achieved (see [`crate::load::arrival`]).
    ArrivalRate,
    /// The largest distance, in percentage points, between an operation's share of the requests
    /// sent and its share of the weights (see [`crate::load::mix`]).
    MixDrift,
}

/// One threshold and what was measured.
#[derive(Debug, Clone, Serialize)]
pub struct ThresholdOutcome {
    pub rule: String,
    pub judged_by: Judge,
    /// The figure the rule was judged on.
    pub figure: Figure,
    /// Where the rule came from: `scenario`, `flag` or `always-on`.
    pub source: crate::load::threshold::Source,
    /// The scenario's rule this flag rule replaced.
    pub replaces: Option<String>,
    /// As the reports show it (`812ms`, `0.4%`, `no samples`).
    pub observed: String,
    /// The measured number: milliseconds for a time, percent for a rate, requests/s for `rps`;
    /// for a regression gate the regression it compared (positive: worse, see
    /// [`crate::load::baseline::Change`]).
    pub value: Option<f64>,
    pub passed: bool,
    /// This rule stopped the run while it was going (goose's threshold abort).
    pub aborted: bool,
}

/// How a check after the load ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InvariantStatus {
    Passed,
    Failed,
    /// Something could not be checked (a re-read that failed after its retries, an endpoint
    /// that did not answer): the verdict fails for that reason; nothing is counted as broken.
    CouldNotCheck,
    /// Not run: the run was interrupted (the interruption is the verdict's reason).
    NotRun,
}

/// One invariant checked after the load.
#[derive(Debug, Clone, Serialize)]
pub struct InvariantOutcome {
    /// `no acknowledged write lost`, `simulator invariants: <rule>`, ….
    pub name: String,
    pub status: InvariantStatus,
    /// `status == passed`.
    pub passed: bool,
    /// How many things were checked (registrations re-read, registrations of the simulator).
    pub checked: usize,
    /// How many of them broke the rule.
    pub failed: usize,
    /// How many could not be checked.
    pub unchecked: usize,
    /// What broke or could not be checked, at most a few dozen lines.
    pub findings: Vec<String>,
    /// Why the check could not run, or could not check everything.
    pub reason: Option<String>,
}

impl InvariantOutcome {
    /// An invariant that did not run, and why.
    pub fn not_run(name: &str, why: &str) -> InvariantOutcome {
        InvariantOutcome {
            name: name.to_owned(),
            status: InvariantStatus::NotRun,
            passed: false,
            checked: 0,
            failed: 0,
            unchecked: 0,
            findings: Vec::new(),
            reason: Some(why.to_owned()),
        }
    }
}

/// The one verdict of the run.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub passed: bool,
    /// Why it failed, one line each; empty when it passed.
    pub reasons: Vec<String>,
}

impl LoadResult {
    /// What the run amounts to: interrupted or never answered is a broken run, else the
    /// verdict.
    pub fn outcome(&self) -> Outcome {
        Outcome::of(
            None,
            self.interrupted || self.never_answered,
            self.verdict.passed,
        )
    }
}

impl Verdict {
    /// Derives the verdict from thresholds, invariants, what was left on live devices (a server
    /// fault or a skipped restore fails; a target's choice only with `fail_on_residue`),
    /// interruption and a target that never answered.
    pub fn of(
        thresholds: &[ThresholdOutcome],
        invariants: &[InvariantOutcome],
        left: &[Leftover],
        fail_on_residue: bool,
        interrupted: bool,
        never_answered: bool,
    ) -> Verdict {
        let mut reasons = Vec::new();
        if never_answered {
            reasons.push(
                "the target never answered: every request failed without an HTTP status".to_owned(),
            );
        }
        for t in thresholds.iter().filter(|t| !t.passed) {
            reasons.push(format!(
                "threshold {} failed: observed {}",
                t.rule, t.observed
            ));
        }
        for i in invariants {
            match i.status {
                InvariantStatus::Passed | InvariantStatus::NotRun => {}
                InvariantStatus::Failed => reasons.push(format!(
                    "invariant {} failed ({} of {} broke it)",
                    i.name, i.failed, i.checked
                )),
                InvariantStatus::CouldNotCheck => reasons.push(format!(
                    "invariant {} could not check: {}",
                    i.name,
                    i.reason.as_deref().unwrap_or("no reason given")
                )),
            }
        }
        for cause in [Cause::ServerFault, Cause::NotRestored, Cause::TargetChoice] {
            if cause == Cause::TargetChoice && !fail_on_residue {
                continue;
            }
            let of: Vec<&Leftover> = left.iter().filter(|l| l.cause == cause).collect();
            if of.is_empty() {
                continue;
            }
            let mut items: Vec<&str> = of
                .iter()
                .flat_map(|l| l.items.iter().map(String::as_str))
                .collect();
            items.sort_unstable();
            items.dedup();
            reasons.push(format!(
                "left on {} device(s) ({}{}): {}",
                of.len(),
                cause.label(),
                if cause == Cause::TargetChoice {
                    ", --fail-on-residue"
                } else {
                    ""
                },
                items.join(", ")
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
