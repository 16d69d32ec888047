//! Load testing with goose: scenario files, the data feed, the transactions, validation under
//! load, thresholds, and the checks after the load, in one [`LoadResult`].
//!
//! goose 0.19 drives the traffic and keeps the latency histograms, thresholds, coordinated-
//! omission mitigation and HTML/JSON reports; none of that is rewritten here. What this module
//! adds: requests named by operation ([`crate::api::Operation::label`]), every response judged
//! by [`crate::schema::judge`] (status and Content-Type always, schema and meaning on a
//! stratified sample) and gated by `schema-violation-rate`, rules that cannot be lost by
//! accident ([`threshold::plan_rules`]), writes partitioned so each registration has one writer,
//! and after the load a re-read of every written registration (no acknowledged write lost) plus
//! the simulator's invariant check.
//!
//! [`run`] reads top-down: [`prepare`] (feed, a first probe of the target, goose's
//! configuration), [`attack`] (goose, with Ctrl-C and a bounded request time), the checks
//! [`after`] the load, then the figures ([`metrics`]) and the rules ([`rules`]) into the result.
//!
//! ```text
//! scenario.toml ─► LoadPlan ─┐
//! feed (admin / file) ───────┼─► probe ─► goose (transactions, judge) ─► GooseMetrics ─┐
//!                            └─► after: re-read, remove the run's attribute, invariants ┴─► LoadResult
//! ```
//!
//! Every run ends: requests have a timeout, Ctrl-C (see [`crate::interrupt`]) cancels in-flight
//! requests and stops goose within a moment (the result then says `interrupted`; a second
//! Ctrl-C skips the checks after the load), and a target that never answers ends the run on
//! time with `never_answered`. goose's killswitch, Ctrl-C handler and logger are process-wide,
//! so [`run`] takes a process-wide lock: two runs in one process (tests) run one after the other.
//!
//! This module does not print (except goose's own warnings, see [`console`]) and does not
//! import the CLI or the contract suite.

pub mod after;
pub mod attack;
pub mod console;
pub mod embedded;
pub mod feed;
pub mod metrics;
pub mod prepare;
pub mod quiet;
pub mod result;
pub mod rules;
pub mod scenario;
pub mod threshold;
pub mod transactions;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use feed::{Feed, FeedEntry, FeedError, FeedSource};
pub use result::{
    InvariantOutcome, InvariantStatus, Judge, Latency, LoadResult, OperationStats,
    ThresholdOutcome, Verdict,
};
pub use scenario::{LoadPlan, Scenario, ScenarioError};
pub use threshold::Rule;

use crate::api::RATE_LIMIT_PER_SECOND;
use crate::api::auth::Credentials;
use crate::interrupt;
use result::{CoSummary, MixSummary, ScenarioSummary, TargetSummary};
use scenario::{Length, Ramp};

/// goose's HTML report, in the report directory.
pub const REPORT_HTML: &str = "report.html";
/// goose's JSON report.
pub const REPORT_JSON: &str = "report.json";
/// pushcheck's summary (schema `schemas/load-summary.json`).
pub const SUMMARY_JSON: &str = "summary.json";
/// JUnit XML: one test case per threshold and per invariant.
pub const JUNIT_XML: &str = "junit.xml";
/// Registrations read from the admin listing when nothing else is said.
pub const DEFAULT_FEED_LIMIT: usize = 10_000;

/// Where the load goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Scheme, host and port, without a trailing slash.
    pub base_url: String,
    /// Not a loopback address.
    pub remote: bool,
}

impl Target {
    /// Checks a target URL; a non-loopback host needs `allow_remote`.
    pub fn parse(url: &str, allow_remote: bool) -> Result<Target, LoadError> {
        let parsed =
            crate::api::target::parse(url).map_err(|e| LoadError::Config(e.to_string()))?;
        let (base_url, host, loopback) = (parsed.base_url, parsed.host, parsed.loopback);
        if !loopback && !allow_remote {
            return Err(LoadError::Config(format!(
                "target {host} is not a loopback address; load against a remote API needs \
                 --allow-remote (the rate is then capped at {RATE_LIMIT_PER_SECOND} requests/s per \
                 operation unless --max-rps raises it)"
            )));
        }
        Ok(Target {
            base_url,
            remote: !loopback,
        })
    }
}

/// One progress report, once a second while the load runs.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub elapsed: Duration,
    pub users_active: usize,
    pub users: usize,
    /// Requests per second over the last tick.
    pub rps: f64,
    /// Approximate p95 so far, in milliseconds (goose's exact figures are in the result).
    pub p95_ms: f64,
    /// Failed requests so far (error statuses, no answer, schema violations).
    pub errors: u64,
}

/// A receiver of progress reports.
pub type ProgressFn = Box<dyn Fn(Progress) + Send + Sync>;

/// Request timeout when none is given: a stalled target fails a request after this long
/// instead of holding its user (goose's own default is 60 s).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything a run is started with.
pub struct LoadConfig {
    pub plan: LoadPlan,
    /// The scenario file, for the reports.
    pub scenario_file: Option<PathBuf>,
    pub target: Target,
    pub credentials: Credentials,
    pub feed: FeedSource,
    /// App code for feed-file lines without one.
    pub app_code: Option<String>,
    /// At most this many registrations from the admin listing.
    pub feed_limit: usize,
    /// goose's HTML and JSON reports go here (pushcheck's summary and JUnit too, written by the
    /// caller from the result).
    pub report_dir: Option<PathBuf>,
    /// A goose JSON report to compare against (goose's `--baseline-file`).
    pub baseline: Option<PathBuf>,
    /// Per-operation rate cap, requests/s; a remote target gets the documented limit without it.
    pub max_rps: Option<u32>,
    /// Longest wait for one response.
    pub request_timeout: Duration,
    /// Call the simulator's invariant check after the load.
    pub simulator_invariants: bool,
    /// The target is the embedded simulator, started for this run (for the reports).
    pub embedded_simulator: bool,
    /// Point stdout at /dev/null while goose runs (see [`quiet`]): for the binary, whose stdout
    /// carries the verdict; not for tests that run in-process.
    pub quiet_stdout: bool,
    /// Called once a second while the load runs.
    pub progress: Option<ProgressFn>,
}

impl std::fmt::Debug for LoadConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadConfig")
            .field("plan", &self.plan)
            .field("target", &self.target)
            .field("credentials", &self.credentials)
            .field("feed", &self.feed)
            .field("report_dir", &self.report_dir)
            .field("max_rps", &self.max_rps)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

/// Why a run could not produce a result.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A setting is wrong or refused (goose's reason included): fix the command line or file.
    #[error("{0}")]
    Config(String),
    /// The preflight found a configuration mistake (exit 2) or a target that does not answer
    /// (exit 3).
    #[error(transparent)]
    Preflight(#[from] crate::api::preflight::PreflightError),
    #[error(transparent)]
    Feed(#[from] FeedError),
    #[error("cannot create the report directory {path}")]
    ReportDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The embedded simulator did not start.
    #[error("cannot start the embedded simulator: {0}")]
    Simulator(#[from] crate::mock::MockError),
    /// Ctrl-C before the load started.
    #[error("interrupted before the load started")]
    Interrupted,
    /// goose failed while running.
    #[error("the load run failed: {0}")]
    Goose(String),
}

impl LoadError {
    /// True when the user must fix a setting (exit 2) rather than the run breaking (exit 3).
    pub fn is_usage(&self) -> bool {
        if let LoadError::Preflight(e) = self {
            return !e.is_runtime();
        }
        matches!(
            self,
            LoadError::Config(_)
                | LoadError::Feed(
                    FeedError::Read { .. } | FeedError::Line { .. } | FeedError::Empty(_)
                )
        )
    }
}

/// The total requests/s that keeps every operation at or under `per_op`, given the mix.
pub fn total_rate_for(per_op: u32, plan: &LoadPlan) -> usize {
    ((f64::from(per_op) / plan.mix.largest_share()).floor() as usize).max(1)
}

/// Runs one load scenario and the checks after it.
pub async fn run(config: LoadConfig) -> Result<LoadResult, LoadError> {
    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _one = ONE_AT_A_TIME.lock().await;
    console::install_logger_once();
    let interrupts_before = interrupt::count();

    let prepared = prepare::prepare(&config).await?;
    if interrupt::count() > interrupts_before {
        return Err(LoadError::Interrupted);
    }
    let attacked = attack::attack(&config, &prepared, interrupts_before).await?;
    let after = after_the_load(&config, &prepared, &attacked, interrupts_before).await;
    Ok(result(&config, &prepared, &attacked, after))
}

/// What the checks after the load found, and the notes they leave.
struct AfterLoad {
    invariants: Vec<InvariantOutcome>,
    notes: Vec<String>,
}

/// The re-reads, the removal of the run's attribute and the simulator's invariants; none of it
/// after an interruption (the removal still runs, unless Ctrl-C is pressed again).
async fn after_the_load(
    config: &LoadConfig,
    prepared: &prepare::Prepared,
    attacked: &attack::Attacked,
    interrupts_before: u32,
) -> AfterLoad {
    let plan = &config.plan;
    let run = &attacked.run;
    let mut invariants = Vec::new();
    let mut notes = Vec::new();
    let reader = after::Reader {
        client: prepared.client.clone(),
        base_url: Arc::from(config.target.base_url.as_str()),
        authorization: prepared.authorization.clone(),
        pace: prepared
            .per_op_cap
            .map(|c| Duration::from_secs_f64(1.0 / f64::from(c.max(1)))),
    };
    let ledger = &attacked.collected.ledger;
    let skip = "the run was interrupted";
    if attacked.interrupted || attacked.never_answered {
        let why = if attacked.interrupted {
            skip
        } else {
            "the target never answered"
        };
        if plan.mix.writes() {
            invariants.push(InvariantOutcome::not_run(after::NO_LOST_UPDATES, why));
        }
        if config.simulator_invariants {
            invariants.push(InvariantOutcome::not_run(after::SIMULATOR_PREFIX, why));
        }
    } else {
        let checks = async {
            if plan.mix.writes() {
                invariants
                    .push(after::lost_updates(&reader, &run.feed, ledger, &run.attribute).await);
            }
            if config.simulator_invariants {
                invariants.extend(
                    after::simulator_invariants(&prepared.client, &config.target.base_url).await,
                );
            }
        };
        tokio::select! {
            () = checks => {}
            () = interrupt::at_least(interrupts_before + 1) => {
                notes.push("Ctrl-C during the checks after the load: they did not finish".to_owned());
            }
        }
    }
    if plan.mix.weight(crate::api::Operation::Patch) > 0 && !ledger.is_empty() {
        tokio::select! {
            note = after::remove_attribute(&reader, &run.feed, ledger, &run.attribute) => notes.push(note),
            () = interrupt::at_least(interrupts_before + 2) => notes.push(format!(
                "Ctrl-C again: the run's attribute {} was not removed from the devices it wrote",
                run.attribute
            )),
        }
    }
    AfterLoad { invariants, notes }
}

/// The result of the run, from everything the stages produced.
fn result(
    config: &LoadConfig,
    prepared: &prepare::Prepared,
    attacked: &attack::Attacked,
    after: AfterLoad,
) -> LoadResult {
    let plan = &config.plan;
    let metrics = &attacked.metrics;
    let operations = metrics::operation_stats(metrics, &attacked.collected, plan);
    let total = metrics::total_stats(metrics, &operations);
    let thresholds = rules::judge_all(&plan.thresholds, metrics, &operations, &total);
    let mut notes = prepared.notes.clone();
    notes.extend(attacked.notes.iter().cloned());
    notes.extend(after.notes);
    for o in operations
        .iter()
        .filter(|o| o.answered > 0 && o.validated == 0)
    {
        notes.push(format!(
            "{}: {} responses, none validated (raise the sample rate)",
            o.operation, o.answered
        ));
    }
    let verdict = Verdict::of(
        &thresholds,
        &after.invariants,
        attacked.interrupted,
        attacked.never_answered,
    );
    LoadResult {
        format: result::SUMMARY_FORMAT,
        pushcheck_version: env!("CARGO_PKG_VERSION"),
        scenario: scenario_summary(config, prepared.throttle),
        target: TargetSummary {
            base_url: config.target.base_url.clone(),
            embedded_simulator: config.embedded_simulator,
            remote: config.target.remote,
            rate_cap_per_operation: prepared.per_op_cap,
            feed_registrations: attacked.run.feed.len(),
            feed_source: match config.feed {
                FeedSource::Admin => "simulator-admin".into(),
                FeedSource::File(_) => "file".into(),
            },
        },
        duration_secs: metrics.duration as u64,
        metrics_cover: if plan.steady_state_only && matches!(plan.length, Length::RunTime(_)) {
            "steady state".to_owned()
        } else {
            "whole run".to_owned()
        },
        interrupted: attacked.interrupted,
        never_answered: attacked.never_answered,
        run_attribute: attacked.run.attribute.clone(),
        operations,
        total,
        coordinated_omission: metrics
            .coordinated_omission_metrics
            .as_ref()
            .map(|co| CoSummary {
                mode: plan.co_mitigation,
                events: co.co_events.len(),
                actual_requests: co.actual_requests,
                synthetic_requests: co.synthetic_requests,
            }),
        thresholds,
        invariants: after.invariants,
        reports: prepared.reports.clone(),
        notes,
        verdict,
    }
}

fn scenario_summary(config: &LoadConfig, throttle: Option<usize>) -> ScenarioSummary {
    let plan = &config.plan;
    ScenarioSummary {
        name: plan.name.clone(),
        description: plan.description.clone(),
        file: config
            .scenario_file
            .as_ref()
            .map(|p| p.display().to_string()),
        users: plan.users,
        ramp: match plan.ramp {
            Ramp::Rate(r) => format!("{r} users/s"),
            Ramp::Time(t) => format!("all users over {t}"),
        },
        length: match plan.length {
            Length::RunTime(t) => format!("{t}"),
            Length::Iterations(n) => format!("{n} iterations per user"),
        },
        throttle_rps: throttle,
        think_time: if plan.think_time.min == plan.think_time.max {
            format!("{}", scenario::Span(plan.think_time.min))
        } else {
            format!(
                "{}..{}",
                scenario::Span(plan.think_time.min),
                scenario::Span(plan.think_time.max)
            )
        },
        co_mitigation: plan.co_mitigation,
        mix: MixSummary::from(plan.mix),
        validation_sample_rate: plan.sample_rate,
        validation_mode: plan.mode,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_targets_need_the_opt_in() {
        assert!(
            !Target::parse("http://127.0.0.1:8080/", false)
                .unwrap()
                .remote
        );
        assert!(!Target::parse("http://localhost:1", false).unwrap().remote);
        assert!(!Target::parse("http://[::1]:1", false).unwrap().remote);
        let err = Target::parse("https://api.infobip.com", false).unwrap_err();
        assert!(err.to_string().contains("--allow-remote"), "{err}");
        assert!(
            Target::parse("https://api.infobip.com", true)
                .unwrap()
                .remote
        );
    }
}
