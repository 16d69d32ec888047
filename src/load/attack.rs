//! The load itself: goose with pushcheck's transactions, started from the prepared
//! configuration, watched so that it always ends.
//!
//! - A stop signal (Ctrl-C, SIGTERM or SIGHUP, counted by [`crate::interrupt`]) cancels every
//!   in-flight request and triggers goose's killswitch, so the run stops within a moment and
//!   goose still writes its reports. goose resets its killswitch when it starts, so the watcher keeps triggering it until the
//!   run has ended.
//! - A run with a run time has a deadline: its ramp, its run time and one request timeout, plus
//!   a little; past it the requests still in flight are dropped and goose is stopped, with a note.
//! - While goose runs, stdout points at /dev/null when the caller asks ([`super::quiet`]).
//!
//! It prints nothing itself; progress goes to the caller's [`super::ProgressFn`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use goose::client::GooseClientBuilder;
use goose::metrics::GooseMetrics;
use goose::prelude::{GooseAttack, GooseError};

use super::metrics_endpoint;
use super::mix::{Mixer, Picked};
use super::prepare::{Prepared, goose_reason};
use super::quiet::QuietStdout;
use super::scenario::LoadPlan;
use super::shared::{Run, RunSettings};
use super::tally::Collected;
use super::timeline::OpStep;
use super::transactions;
use super::{LoadConfig, LoadError, Progress, Reached};
use crate::api::Operation;
use crate::api::redact::Redactor;
use crate::interrupt;

/// Slack past a run's planned end before the watchdog stops it.
const DEADLINE_SLACK: Duration = Duration::from_secs(5);
/// How long past its planned end a run waits for answers still due.
const END_GRACE: Duration = Duration::from_secs(1);
/// How often the stop-signal watcher re-triggers goose's killswitch.
const KILLSWITCH_REPEAT: Duration = Duration::from_millis(100);

/// What the load produced.
#[derive(Debug)]
pub struct Attacked {
    pub metrics: GooseMetrics,
    pub collected: Collected,
    pub run: Arc<Run>,
    /// What the users' mixes asked for and sent as a GET instead.
    pub picked: Picked,
    /// Stopped by a stop signal (Ctrl-C, SIGTERM, SIGHUP).
    pub interrupted: bool,
    /// Requests were sent and none got an HTTP status back.
    pub never_answered: bool,
    pub notes: Vec<String>,
}

/// Runs goose over the prepared feed until the plan's end, a stop signal or the deadline.
pub async fn attack(
    config: &LoadConfig,
    at: &Reached,
    prepared: &Prepared,
    interrupts_before: u32,
) -> Result<Attacked, LoadError> {
    let plan = &config.plan;
    let run = Arc::new(Run::new(
        prepared.feed.clone(),
        &at.target.base_url,
        RunSettings {
            users: plan.shape.numbered_users(),
            authorization: prepared.authorization.clone(),
            sample_rate: plan.sample_rate,
            mode: plan.mode,
            live: config.progress.is_some(),
            run_id: prepared.run_id.clone(),
            redactor: Redactor::new([&config.credentials]),
            paced_rps: prepared.paced_rps,
            application_ids: prepared.application_ids.clone(),
        },
    ));
    let mixer = Arc::new(Mixer::new(&plan.mix, plan.shape.numbered_users()));
    // Stopped when dropped, at the end of this function; nothing waits on it.
    let _metrics = serve_metrics(config, &run, prepared).await?;
    let scenario = scenario(&run, &mixer, plan, &prepared.users_client)?;
    let attack = goose_attack(config, prepared, scenario)?;

    let overran = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watchers = [
        tokio::spawn(stop_on_signal(Arc::clone(&run), interrupts_before)),
        tokio::spawn(stop_at_deadline(
            Arc::clone(&run),
            deadline(config),
            Arc::clone(&overran),
        )),
        tokio::spawn(end_waiting_requests(
            Arc::clone(&run),
            config.plan.shape.planned(),
        )),
    ];
    let executed = execute(attack, config, &run).await;
    for w in watchers {
        w.abort();
    }
    let metrics = executed?;
    let interrupted = interrupt::count() > interrupts_before;
    let collected = run.collect();
    let answered: u64 = collected.tallies.values().map(|t| t.answered).sum();
    let failed_without_answer: u64 = collected
        .tallies
        .values()
        .flat_map(|t| t.transport_errors.values())
        .sum();
    let mut notes = Vec::new();
    if overran.load(std::sync::atomic::Ordering::SeqCst) {
        notes.push(format!(
            "the run overran its planned length by more than one request timeout ({:?}) and was \
             stopped; requests still in flight were dropped",
            config.request_timeout
        ));
    }
    Ok(Attacked {
        metrics,
        collected,
        run,
        picked: mixer.collect(),
        interrupted,
        never_answered: answered == 0 && failed_without_answer > 0,
        notes,
    })
}

/// Starts the live metrics endpoint when `--metrics-addr` asks for one.
async fn serve_metrics(
    config: &LoadConfig,
    run: &Arc<Run>,
    prepared: &Prepared,
) -> Result<Option<metrics_endpoint::Serving>, LoadError> {
    let Some(addr) = config.metrics_addr else {
        return Ok(None);
    };
    let plan = &config.plan;
    let fixed = metrics_endpoint::Fixed {
        operations: Operation::ALL
            .into_iter()
            .filter(|op| plan.mix.weight(*op) > 0)
            .collect(),
        users: plan.shape.peak_users(),
        arrival_target: prepared.paced_rps.filter(|_| plan.arrival_rate.is_some()),
    };
    let serving = metrics_endpoint::serve(addr, Arc::clone(run), fixed).await?;
    if let Some(told) = &config.metrics_bound {
        told(serving.addr());
    }
    Ok(Some(serving))
}

/// The goose scenario, with the think time: an on-start transaction that puts the user at its
/// phase of the mix, and one transaction that sends the user's next operation of the mix
/// ([`super::mix`]), weighted with one pass through the mix, so that a goose iteration (and
/// goose's `--iterations`, and its coordinated-omission cadence) is one pass, as it was when
/// goose ran one transaction per operation. (goose divides the weights by their greatest common
/// divisor; the on-start transaction's weight of 1 keeps the pass whole.) goose's fixed order of
/// one transaction per operation would send the first operations of that order far more often
/// than their weights when users send few requests.
fn scenario(
    run: &Arc<Run>,
    mixer: &Arc<Mixer>,
    plan: &LoadPlan,
    client: &reqwest::Client,
) -> Result<goose::goose::Scenario, LoadError> {
    let mut scenario = goose::goose::Scenario::new("registration user");
    if !plan.think_time.max.is_zero() {
        scenario = scenario
            .set_wait_time(plan.think_time.min, plan.think_time.max)
            .map_err(|e| LoadError::Config(goose_reason(&e)))?;
    }
    let next = transactions::mix_transaction(run, mixer)
        .set_weight(mixer.weights().pass())
        .map_err(|e| LoadError::Config(goose_reason(&e)))?;
    Ok(scenario
        .register_transaction(transactions::start_transaction(mixer, client))
        .register_transaction(next))
}

/// goose, configured as prepared (its own parser checked every value), with pushcheck's client.
fn goose_attack(
    config: &LoadConfig,
    prepared: &Prepared,
    scenario: goose::goose::Scenario,
) -> Result<GooseAttack, LoadError> {
    let attack = GooseAttack::initialize_with_config(prepared.goose.clone())
        .and_then(|a| {
            a.set_client_builder_without_cookies(
                GooseClientBuilder::new()
                    .without_cookies()
                    .timeout(config.request_timeout)
                    .user_agent(concat!("pushcheck/", env!("CARGO_PKG_VERSION"))),
            )
        })
        .map_err(|e| LoadError::Goose(goose_reason(&e)))?;
    Ok(attack.register_scenario(scenario))
}

/// Runs goose (stdout quiet if asked, progress once a second if asked) and keeps its metrics,
/// also when its thresholds failed.
async fn execute(
    attack: GooseAttack,
    config: &LoadConfig,
    run: &Arc<Run>,
) -> Result<GooseMetrics, LoadError> {
    let executed = {
        let _quiet = config.quiet_stdout.then(QuietStdout::new);
        match &config.progress {
            Some(f) => {
                tokio::select! {
                    done = attack.execute() => done,
                    never = report_progress(run, config.plan.shape.peak_users(), f) => match never {},
                }
            }
            None => attack.execute().await,
        }
    };
    match executed {
        Ok(metrics) => Ok(metrics),
        Err(GooseError::ThresholdsFailed { metrics, .. }) => Ok(*metrics.0),
        Err(e @ GooseError::InvalidOption { .. }) => Err(LoadError::Config(goose_reason(&e))),
        Err(e) => Err(LoadError::Goose(goose_reason(&e))),
    }
}

/// On a stop signal: cancel the requests in flight and keep goose's killswitch triggered.
async fn stop_on_signal(run: Arc<Run>, interrupts_before: u32) {
    interrupt::at_least(interrupts_before + 1).await;
    match stop_now(&run, "stop signal (pushcheck)").await {}
}

/// Drops the requests in flight and keeps goose's killswitch triggered (goose clears it when
/// its run starts, so one trigger could come too early); the caller aborts this task.
async fn stop_now(run: &Run, reason: &str) -> std::convert::Infallible {
    run.cancel.cancel();
    loop {
        goose::trigger_killswitch(reason);
        tokio::time::sleep(KILLSWITCH_REPEAT).await;
    }
}

/// When the run should be over at the latest, if its length is a time (a run time or stages).
fn deadline(config: &LoadConfig) -> Option<Duration> {
    let planned = config.plan.shape.planned()?;
    Some(planned + config.request_timeout + DEADLINE_SLACK)
}

/// Past the deadline: drop the requests in flight and stop goose.
async fn stop_at_deadline(
    run: Arc<Run>,
    deadline: Option<Duration>,
    overran: Arc<std::sync::atomic::AtomicBool>,
) {
    let Some(after) = deadline else {
        return std::future::pending().await;
    };
    tokio::time::sleep(after).await;
    overran.store(true, std::sync::atomic::Ordering::SeqCst);
    match stop_now(&run, "the run overran its deadline (pushcheck)").await {}
}

/// A moment past a run's planned end, the requests still waiting for an answer are dropped
/// (each counted as unanswered at the end, at its age), so a target that stopped answering
/// cannot hold the run past its length; goose ends the run as planned.
async fn end_waiting_requests(run: Arc<Run>, planned: Option<Duration>) {
    let Some(planned) = planned else {
        return std::future::pending().await;
    };
    tokio::time::sleep(planned + END_GRACE).await;
    run.cancel.cancel();
}

/// Reports progress once a second, forever (the caller stops it).
async fn report_progress(
    run: &Run,
    users: usize,
    f: &super::ProgressFn,
) -> std::convert::Infallible {
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    let mut last = OpStep::default();
    loop {
        tick.tick().await;
        let (live, active) = run.live();
        let second = live.since(&last);
        f(Progress {
            elapsed: started.elapsed(),
            users_active: active,
            users,
            rps: second.requests as f64,
            p95_ms: second.quantile_ms(0.95),
            errors: live.errors,
            violations: live.violations,
        });
        last = live;
    }
}
