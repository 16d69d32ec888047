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
//! configuration), on a live feed [`restore::find`] (every device read, and probed for its
//! owner when the mix personalizes), [`attack`] (goose, with Ctrl-C and a bounded request time),
//! the checks [`after`] the load (and on a live feed [`restore::put_back`]: the devices as
//! found), then the figures ([`metrics`]) and the rules ([`rules`]) into the result.
//!
//! ```text
//! scenario.toml ─► LoadPlan ─┐
//! feed (admin / file) ───────┼─► probe ─► (live: read, probe owners) ─► goose (transactions, judge) ─┐
//!                            └─► after: re-read, invariants, (live: put back) ──────────────────────┴─► LoadResult
//! ```
//!
//! Every run ends: requests have a timeout, a stop signal (Ctrl-C, SIGTERM or SIGHUP; see
//! [`crate::interrupt`]) cancels in-flight requests and stops goose within a moment (the result
//! then says `interrupted`; a second one skips the removal of the run's attribute), and a
//! target that never answers ends the run on time with `never_answered`. goose's killswitch, Ctrl-C handler and logger are process-wide,
//! so [`run`] takes a process-wide lock: two runs in one process (tests) run one after the other.
//!
//! This module does not print (except goose's own warnings, see [`console`]) and does not
//! import the CLI or the contract suite; of the reports it reads only the file names
//! ([`crate::report::names`]: goose's reports, the files a run writes).

pub mod after;
pub mod arrival;
pub mod attack;
pub mod baseline;
pub mod console;
pub mod destination;
pub mod feed;
pub mod figures;
pub mod histogram;
pub mod metrics;
pub mod metrics_endpoint;
pub mod mix;
pub mod prepare;
pub mod quiet;
pub mod reader;
pub mod restore;
pub mod result;
pub mod rules;
pub mod scenario;
pub mod schedule;
pub mod shape;
mod shared;
pub mod tally;
pub mod threshold;
pub mod timeline;
pub mod transactions;
pub mod values;
mod verdict;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use destination::{Destination, Reached, credentials_for, load_target};
pub use feed::{Feed, FeedEntry, FeedError, FeedSource};
pub use result::{
    InvariantOutcome, InvariantStatus, Judge, Latency, LoadResult, OperationStats,
    ThresholdOutcome, Verdict,
};
pub use scenario::{LoadPlan, Scenario, ScenarioError};
pub use threshold::Rule;

use crate::api::auth::Credentials;
use crate::interrupt;

/// Registrations read from the admin listing when nothing else is said.
pub const DEFAULT_FEED_LIMIT: usize = 10_000;

/// One progress report, once a second while the load runs.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub elapsed: Duration,
    pub users_active: usize,
    pub users: usize,
    /// Requests answered (or failed) in the last second.
    pub rps: f64,
    /// Approximate p95 of the last second, in milliseconds (goose's exact figures are in the
    /// result).
    pub p95_ms: f64,
    /// Failed requests so far (error statuses, no answer, contract breaks).
    pub errors: u64,
    /// Responses so far that broke their contract.
    pub violations: u64,
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
    /// Where the load goes: a URL with its feed, or the embedded simulator started for the run.
    pub destination: Destination,
    /// What the run sends (see [`credentials_for`] for the one policy that picks them).
    pub credentials: Credentials,
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
    /// Point stdout at /dev/null while goose runs (see [`quiet`]): for the binary, whose stdout
    /// carries the verdict; not for tests that run in-process.
    pub quiet_stdout: bool,
    /// Called once a second while the load runs.
    pub progress: Option<ProgressFn>,
    /// A live device left not quite as found because of a target's choice (it refuses or stores
    /// `null`, …) fails the run too (`--fail-on-residue`); server faults always do.
    pub fail_on_residue: bool,
    /// The `applicationId` every registration answer must carry (`--application-id`); `None`:
    /// learned per application code from the preflight's read of its first device.
    pub application_id: Option<String>,
    /// Serve live figures in the OpenMetrics text format at `http://ADDR/metrics` while the
    /// load runs (`--metrics-addr`; see [`metrics_endpoint`]).
    pub metrics_addr: Option<SocketAddr>,
    /// Told the bound address once the metrics endpoint listens (port 0 picks one).
    pub metrics_bound: Option<Box<dyn Fn(SocketAddr) + Send + Sync>>,
}

impl std::fmt::Debug for LoadConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadConfig")
            .field("plan", &self.plan)
            .field("destination", &self.destination)
            .field("credentials", &self.credentials)
            .field("report_dir", &self.report_dir)
            .field("max_rps", &self.max_rps)
            .field("request_timeout", &self.request_timeout)
            .field("metrics_addr", &self.metrics_addr)
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
    /// A stop signal before the load started.
    #[error("interrupted before the load started")]
    Interrupted,
    /// A live run's devices could not be read or probed before the load (no answer, 5xx).
    #[error("{0}")]
    Devices(String),
    /// The target answered a read before the load as no correct server does (a 2xx whose body
    /// is not a registration): the server's fault (exit 1), found before any load.
    #[error("server finding before the load: {0}")]
    Server(String),
    /// The metrics endpoint could not listen on `--metrics-addr` (exit 2: pick another).
    #[error(transparent)]
    Metrics(#[from] metrics_endpoint::BindError),
    /// goose failed while running.
    #[error("the load run failed: {0}")]
    Goose(String),
}

impl LoadError {
    /// The server's fault, before there was a result (exit 1).
    pub fn is_server_finding(&self) -> bool {
        matches!(self, LoadError::Server(_))
    }

    /// True when the user must fix a setting (exit 2) rather than the run breaking (exit 3).
    pub fn is_usage(&self) -> bool {
        if let LoadError::Preflight(e) = self {
            return !e.is_runtime();
        }
        matches!(
            self,
            LoadError::Config(_)
                | LoadError::Metrics(_)
                | LoadError::Feed(
                    FeedError::Read { .. }
                        | FeedError::Line { .. }
                        | FeedError::Empty(_)
                        | FeedError::Untrusted { .. }
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

    let (at, simulator) = destination::reach(&config.destination, &config.credentials).await?;
    let result = run_at(&config, &at, interrupts_before).await;
    if let Some(simulator) = simulator {
        // A shutdown error after the run does not change its result.
        let _ = simulator.shutdown().await;
    }
    result
}

/// prepare → attack → the checks after the load → the verdict.
async fn run_at(
    config: &LoadConfig,
    at: &Reached,
    interrupts_before: u32,
) -> Result<LoadResult, LoadError> {
    let mut prepared = prepare::prepare(config, at).await?;
    if interrupt::count() > interrupts_before {
        return Err(LoadError::Interrupted);
    }
    let live = !at.simulator_invariants();
    let (before, failed) = restore::find(
        &prepared.reader,
        &mut prepared.feed,
        &config.plan,
        live,
        interrupts_before,
    )
    .await;
    if let Some(error) = failed {
        return Err(undo_before_stopping(&prepared, &before, error, interrupts_before).await);
    }
    let attacked = attack::attack(config, at, &prepared, interrupts_before).await?;
    let after = after::check(config, at, &prepared, &attacked, &before, interrupts_before).await;
    Ok(verdict::result(
        config, at, &prepared, &attacked, &before, after,
    ))
}

/// A live run that stops before its load still puts back what its probe bound; what it could
/// not put back is added to the error (a runtime error then: exit 3).
async fn undo_before_stopping(
    prepared: &prepare::Prepared,
    before: &restore::Before,
    error: LoadError,
    interrupts_before: u32,
) -> LoadError {
    let restored = restore::put_back(
        &prepared.reader,
        &prepared.feed,
        &before.probed_only(),
        &std::collections::HashMap::new(),
        interrupts_before + 2,
    )
    .await;
    if restored.leftovers.is_empty() {
        return error;
    }
    let left: Vec<String> = restored
        .leftovers
        .iter()
        .map(|l| {
            format!(
                "{}: {} ({})",
                l.registration_id,
                l.items.join(", "),
                l.reason
            )
        })
        .collect();
    LoadError::Devices(format!(
        "{error}; and these devices could not be put back: {}",
        left.join("; ")
    ))
}
