//! Load testing with goose: scenario files, the data feed, the transactions, validation under
//! load, thresholds, and the checks after the load, in one [`LoadResult`].
//!
//! goose 0.19 drives the traffic and keeps the latency histograms, thresholds, coordinated-
//! omission mitigation and HTML/JSON reports; none of that is rewritten here. What this module
//! adds: requests named by operation ([`crate::api::Operation::label`]), a sampled share of
//! responses validated against `schemas/` and gated by `schema-violation-rate`, writes
//! partitioned so each registration has one writer, and after the load a re-read of every written
//! registration (no acknowledged write lost) plus the simulator's invariant check.
//!
//! ```text
//! scenario.toml ─► LoadPlan ─┐
//! feed (admin / file) ───────┼─► goose (transactions) ─► GooseMetrics ─┐
//!                            └─► after: re-read, invariants ───────────┴─► LoadResult
//! ```
//!
//! goose's killswitch, Ctrl-C handler and logger are process-wide, so [`run`] takes a
//! process-wide lock: two runs in one process (tests) run one after the other. The first Ctrl-C
//! stops the load through goose's handler, after which the checks still run and the reports are
//! still written; the result then says `interrupted`. A second Ctrl-C exits at once (goose).
//!
//! This module does not print (except goose's own warnings, see [`console`]) and does not
//! import the CLI or the contract suite.

pub mod after;
pub mod console;
pub mod embedded;
pub mod feed;
pub mod result;
pub mod scenario;
pub mod threshold;
pub mod transactions;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use goose::client::GooseClientBuilder;
use goose::config::GooseConfiguration;
use goose::metrics::{GooseMetrics, GooseRequestMetricTimingData, TimeBuckets};
use goose::prelude::{GooseAttack, GooseError};
use reqwest::header::HeaderValue;

pub use feed::{Feed, FeedEntry, FeedError, FeedSource};
pub use result::{
    InvariantOutcome, Judge, Latency, LoadResult, OperationStats, ThresholdOutcome, Verdict,
};
pub use scenario::{LoadPlan, Scenario, ScenarioError};
pub use threshold::Rule;

use crate::api::auth::Credentials;
use crate::api::{Operation, RATE_LIMIT_PER_SECOND};
use result::{CoSummary, MixSummary, ScenarioSummary, TargetSummary, ViolationSample};
use scenario::{Length, Ramp};
use transactions::{Collected, Run, tally_of};

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
    /// Call the simulator's invariant check after the load.
    pub simulator_invariants: bool,
    /// The target is the embedded simulator, started for this run (for the reports).
    pub embedded_simulator: bool,
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
            .finish_non_exhaustive()
    }
}

/// Why a run could not produce a result.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A setting is wrong or refused (goose's reason included): fix the command line or file.
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Feed(#[from] FeedError),
    #[error("cannot create the report directory {path}: {source}")]
    ReportDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The embedded simulator did not start.
    #[error("cannot start the embedded simulator: {0}")]
    Simulator(#[from] crate::mock::MockError),
    /// goose failed while running.
    #[error("the load run failed: {0}")]
    Goose(String),
}

impl LoadError {
    /// True when the user must fix a setting (exit 2) rather than the run breaking (exit 3).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            LoadError::Config(_) | LoadError::Feed(FeedError::Read { .. } | FeedError::Line { .. })
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
    console::install_logger(false);

    let plan = &config.plan;
    let client = reqwest::Client::builder()
        .user_agent(concat!("pushcheck/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| LoadError::Goose(format!("cannot build an HTTP client: {e}")))?;
    let feed = match &config.feed {
        FeedSource::Admin => {
            Feed::from_admin(&client, &config.target.base_url, config.feed_limit).await?
        }
        FeedSource::File(path) => Feed::from_file(path, config.app_code.as_deref())?,
    };
    let feed_len = feed.len();

    let per_op_cap = match (config.max_rps, config.target.remote) {
        (Some(cap), _) => Some(cap),
        (None, true) => Some(RATE_LIMIT_PER_SECOND),
        (None, false) => None,
    };
    let throttle = match (per_op_cap.map(|c| total_rate_for(c, plan)), plan.throttle) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };

    let mut authorization = HeaderValue::from_str(config.credentials.header_value().expose())
        .map_err(|_| {
            LoadError::Config(format!(
                "the {} credentials cannot be sent as a header value",
                config.credentials.scheme()
            ))
        })?;
    authorization.set_sensitive(true);

    let mut reports = Vec::new();
    if let Some(dir) = &config.report_dir {
        std::fs::create_dir_all(dir).map_err(|source| LoadError::ReportDir {
            path: dir.clone(),
            source,
        })?;
        reports = vec![REPORT_HTML, REPORT_JSON, SUMMARY_JSON, JUNIT_XML]
            .into_iter()
            .map(String::from)
            .collect();
    }

    let goose_config = goose_configuration(&config, throttle)?;
    let run = Arc::new(Run::new(
        feed,
        &config.target.base_url,
        plan.users,
        authorization.clone(),
        plan.sample_rate,
        plan.mode,
        config.progress.is_some(),
    ));

    let mut scenario = goose::goose::Scenario::new("registration user");
    if !plan.think_time.max.is_zero() {
        scenario = scenario
            .set_wait_time(plan.think_time.min, plan.think_time.max)
            .map_err(|e| LoadError::Config(goose_reason(&e)))?;
    }
    for op in Operation::ALL {
        let weight = plan.mix.weight(op);
        if weight > 0 {
            let t = transactions::transaction(&run, op)
                .set_weight(weight as usize)
                .map_err(|e| LoadError::Config(goose_reason(&e)))?;
            scenario = scenario.register_transaction(t);
        }
    }
    let attack = GooseAttack::initialize_with_config(goose_config)
        .and_then(|a| {
            a.set_client_builder_without_cookies(
                GooseClientBuilder::new()
                    .without_cookies()
                    .user_agent(concat!("pushcheck/", env!("CARGO_PKG_VERSION"))),
            )
        })
        .map_err(|e| LoadError::Goose(goose_reason(&e)))?
        .register_scenario(scenario);

    let progress = config.progress.map(|f| {
        let run = Arc::clone(&run);
        let users = plan.users;
        tokio::spawn(async move {
            let started = Instant::now();
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            let mut last = 0;
            loop {
                tick.tick().await;
                let (live, active) = run.live();
                f(Progress {
                    elapsed: started.elapsed(),
                    users_active: active,
                    users,
                    rps: (live.requests - last) as f64,
                    p95_ms: live.quantile_ms(0.95),
                    errors: live.errors,
                });
                last = live.requests;
            }
        })
    });
    let executed = attack.execute().await;
    if let Some(task) = progress {
        task.abort();
    }
    let metrics = match executed {
        Ok(metrics) => metrics,
        Err(GooseError::ThresholdsFailed { metrics, .. }) => *metrics.0,
        Err(e @ GooseError::InvalidOption { .. }) => {
            return Err(LoadError::Config(goose_reason(&e)));
        }
        Err(e) => return Err(LoadError::Goose(goose_reason(&e))),
    };
    let aborted = metrics.thresholds.iter().any(|t| t.aborted);
    let interrupted = goose::is_killswitch_triggered() && !aborted;

    let collected = run.collect();
    let mut invariants = Vec::new();
    if plan.mix.writes() {
        let pace = per_op_cap.map(|c| Duration::from_secs_f64(1.0 / f64::from(c.max(1))));
        invariants.push(
            after::lost_updates(
                &client,
                &config.target.base_url,
                &authorization,
                &run.feed,
                &collected.ledger,
                pace,
            )
            .await,
        );
    }
    if config.simulator_invariants {
        invariants.extend(after::simulator_invariants(&client, &config.target.base_url).await);
    }

    let mut notes = Vec::new();
    if plan.mix.writes() && plan.users > feed_len {
        notes.push(format!(
            "{} of {} users had no registration of their own to write and read instead",
            plan.users - feed_len,
            plan.users
        ));
    }
    if let Some(t) = throttle {
        notes.push(format!(
            "throttled to {t} requests/s in total{}",
            per_op_cap.map_or(String::new(), |c| format!(" (at most {c}/s per operation)"))
        ));
    }

    let operations = operation_stats(&metrics, &collected, plan);
    let total = total_stats(&metrics, &operations);
    let mut thresholds: Vec<ThresholdOutcome> = metrics
        .thresholds
        .iter()
        .map(|t| ThresholdOutcome {
            rule: t.rule.clone(),
            judged_by: Judge::Goose,
            observed: t.observed.clone(),
            value: t.value,
            passed: t.passed,
            aborted: t.aborted,
        })
        .collect();
    for rule in &plan.thresholds {
        if let Rule::SchemaViolationRate(r) = rule {
            thresholds.push(judge_violations(r, &operations, &total));
        }
    }
    let verdict = Verdict::of(&thresholds, &invariants, interrupted);
    Ok(LoadResult {
        format: result::SUMMARY_FORMAT,
        pushcheck_version: env!("CARGO_PKG_VERSION"),
        scenario: ScenarioSummary {
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
        },
        target: TargetSummary {
            base_url: config.target.base_url.clone(),
            embedded_simulator: config.embedded_simulator,
            remote: config.target.remote,
            rate_cap_per_operation: per_op_cap,
            feed_registrations: feed_len,
            feed_source: match config.feed {
                FeedSource::Admin => "simulator-admin".into(),
                FeedSource::File(_) => "file".into(),
            },
        },
        duration_secs: metrics.duration as u64,
        interrupted,
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
        invariants,
        reports,
        notes,
        verdict,
    })
}

/// goose's configuration, built from the plan as goose's own command line, so goose checks
/// every value as it would its own flags.
fn goose_configuration(
    config: &LoadConfig,
    throttle: Option<usize>,
) -> Result<GooseConfiguration, LoadError> {
    let plan = &config.plan;
    let mut args: Vec<String> = vec![
        "--host".into(),
        config.target.base_url.clone(),
        "--users".into(),
        plan.users.to_string(),
        "--co-mitigation".into(),
        plan.co_mitigation.as_str().into(),
        "--no-print-metrics".into(),
        "--no-telnet".into(),
        "--quiet".into(),
    ];
    match plan.ramp {
        Ramp::Rate(r) => args.extend(["--increase-rate".into(), r.to_string()]),
        Ramp::Time(t) => args.extend(["--increase-time".into(), t.whole_seconds().to_string()]),
    }
    match plan.length {
        // goose resets its metrics once every user has started (its default; with
        // --no-reset-metrics it would print "All N users launched." on stdout). pushcheck's
        // validation tallies cover the whole run, ramp included.
        Length::RunTime(t) => args.extend(["--run-time".into(), t.whole_seconds().to_string()]),
        Length::Iterations(n) => args.extend(["--iterations".into(), n.to_string()]),
    }
    if let Some(t) = throttle {
        args.extend(["--throttle-requests".into(), t.to_string()]);
    }
    for rule in &plan.thresholds {
        if let Rule::Goose(text) = rule {
            args.extend(["--threshold".into(), text.clone()]);
        }
    }
    if let Some(dir) = &config.report_dir {
        for name in [REPORT_HTML, REPORT_JSON] {
            args.extend([
                "--report-file".into(),
                dir.join(name).to_string_lossy().into_owned(),
            ]);
        }
    }
    if let Some(baseline) = &config.baseline {
        args.extend([
            "--baseline-file".into(),
            baseline.to_string_lossy().into_owned(),
        ]);
    }
    GooseConfiguration::parse_args_default(&args).map_err(|e| LoadError::Config(goose_reason(&e)))
}

/// goose's own words for an error: the detail of a refused option, else its display.
fn goose_reason(e: &GooseError) -> String {
    match e {
        GooseError::InvalidOption { detail, .. } => format!("goose: {detail}"),
        other => format!("goose: {other}"),
    }
}

fn latency(data: &GooseRequestMetricTimingData) -> Latency {
    if data.counter == 0 {
        return Latency::default();
    }
    let ms = |us: u64| us as f64 / 1000.0;
    Latency {
        p50: ms(data.percentile_us(0.50)),
        p95: ms(data.percentile_us(0.95)),
        p99: ms(data.percentile_us(0.99)),
        max: ms(data.maximum_time_us),
        avg: data.total_time_us as f64 / data.counter as f64 / 1000.0,
    }
}

fn merge(into: &mut GooseRequestMetricTimingData, other: &GooseRequestMetricTimingData) {
    if other.counter == 0 {
        return;
    }
    let mut buckets = TimeBuckets::new();
    for (b, c) in into.times_us.iter().chain(other.times_us.iter()) {
        let have = buckets.get(b).copied().unwrap_or(0);
        buckets.insert(*b, have + c);
    }
    into.times_us = buckets;
    into.minimum_time_us = if into.counter == 0 {
        other.minimum_time_us
    } else {
        into.minimum_time_us.min(other.minimum_time_us)
    };
    into.maximum_time_us = into.maximum_time_us.max(other.maximum_time_us);
    into.total_time_us += other.total_time_us;
    into.counter += other.counter;
}

fn rate(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

fn operation_stats(
    metrics: &GooseMetrics,
    collected: &Collected,
    plan: &LoadPlan,
) -> Vec<OperationStats> {
    let seconds = (metrics.duration as f64).max(1.0);
    Operation::ALL
        .iter()
        .filter(|op| plan.mix.weight(**op) > 0)
        .map(|op| {
            let tally = tally_of(collected, *op);
            let mut samples: Vec<ViolationSample> = tally
                .samples
                .iter()
                .map(|(m, c)| ViolationSample {
                    message: m.clone(),
                    count: *c,
                })
                .collect();
            samples.sort_by(|a, b| b.count.cmp(&a.count).then(a.message.cmp(&b.message)));
            let aggregate = metrics.requests.get(op.label());
            let requests = aggregate.map_or(0, |a| (a.success_count + a.fail_count) as u64);
            OperationStats {
                operation: op.label().to_owned(),
                requests,
                failures: aggregate.map_or(0, |a| a.fail_count as u64),
                rps: requests as f64 / seconds,
                latency_ms: aggregate.map_or_else(Latency::default, |a| latency(&a.raw_data)),
                adjusted_latency_ms: aggregate
                    .and_then(|a| a.coordinated_omission_data.as_ref())
                    .map(latency),
                errors_by_status: aggregate
                    .map(|a| {
                        a.status_code_counts
                            .iter()
                            .filter(|(s, _)| !(200..300).contains(*s))
                            .map(|(s, c)| (s.to_string(), *c as u64))
                            .collect()
                    })
                    .unwrap_or_default(),
                validated: tally.validated,
                schema_violations: tally.violations,
                schema_violation_rate: rate(tally.violations, tally.validated),
                violation_samples: samples,
            }
        })
        .collect()
}

fn total_stats(metrics: &GooseMetrics, operations: &[OperationStats]) -> OperationStats {
    let mut raw = GooseRequestMetricTimingData::default();
    let mut adjusted = GooseRequestMetricTimingData::default();
    let mut any_adjusted = false;
    for a in metrics.requests.values() {
        merge(&mut raw, &a.raw_data);
        match &a.coordinated_omission_data {
            Some(co) => {
                any_adjusted = true;
                merge(&mut adjusted, co);
            }
            None => merge(&mut adjusted, &a.raw_data),
        }
    }
    let requests: u64 = operations.iter().map(|o| o.requests).sum();
    let validated: u64 = operations.iter().map(|o| o.validated).sum();
    let violations: u64 = operations.iter().map(|o| o.schema_violations).sum();
    let mut errors = std::collections::BTreeMap::new();
    for o in operations {
        for (s, c) in &o.errors_by_status {
            *errors.entry(s.clone()).or_insert(0) += c;
        }
    }
    OperationStats {
        operation: "all".into(),
        requests,
        failures: operations.iter().map(|o| o.failures).sum(),
        rps: requests as f64 / (metrics.duration as f64).max(1.0),
        latency_ms: latency(&raw),
        adjusted_latency_ms: any_adjusted.then(|| latency(&adjusted)),
        errors_by_status: errors,
        validated,
        schema_violations: violations,
        schema_violation_rate: rate(violations, validated),
        violation_samples: Vec::new(),
    }
}

fn judge_violations(
    rule: &threshold::ViolationRule,
    operations: &[OperationStats],
    total: &OperationStats,
) -> ThresholdOutcome {
    let stats = match &rule.request {
        None => Some(total),
        Some(name) => operations.iter().find(|o| &o.operation == name),
    };
    let (observed, value, passed) = match stats {
        None => (
            format!(
                "no request named {:?}",
                rule.request.as_deref().unwrap_or("")
            ),
            None,
            false,
        ),
        Some(s) if s.validated == 0 => ("no samples".to_owned(), None, false),
        Some(s) => {
            let v = s.schema_violation_rate;
            (
                format!("{v:.2}% ({} of {})", s.schema_violations, s.validated),
                Some(v),
                rule.passes(v),
            )
        }
    };
    ThresholdOutcome {
        rule: rule.rule.clone(),
        judged_by: Judge::Pushcheck,
        observed,
        value,
        passed,
        aborted: false,
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
