//! Generated, stateful and differential contract testing: sequences of generated requests sent
//! to a target and, step by step, to a model — the simulator's rules in process — with every
//! divergence a finding naming its step, and a failing sequence shrunk to a short, replayable
//! one.
//!
//! - [`step`]: a step as data (the replay file), shown as a list and as curl commands.
//! - [`generator`]: the generator (a seeded PRNG; bodies from `schemas/` and its limits).
//! - `run`: one attempt, target and model (`model`: the rules in process) side by side; `compare`: what counts as a divergence,
//!   and which ones a documented simulator choice explains (live targets).
//! - [`shrink`]: smaller candidates for a failing sequence; `target`: the target made ready,
//!   with the live-safety rules.
//!
//! **The generator is hand-rolled** (splitmix64 and a domain-specific shrinker) rather than
//! `proptest`: what shrinks here is a *sequence of API calls against a stateful server*, where
//! each try costs requests (a live target's request budget), so shrinking must be ours anyway
//! (remove steps, then simplify flags and bodies); the values worth generating are few and
//! known (the schemas' limits and their neighbours), and a new crate would cost build time on a
//! small machine for a PRNG of ten lines.
//!
//! **What a live run rules out**: sequences start from a state the run established itself
//! (devices depersonalized, not primary, enabled, without custom attributes; identities of a
//! fresh namespace). So no step reads or acts on a device's original person binding or on a
//! person from before the run: personalizing into an existing customer (merging, AMBIGUOUS
//! candidates among real persons, USER_MERGE_INTERRUPTED against a real externalId), and
//! depersonalizing a device someone owns, are never generated. Unknown registrations, other
//! applications, credentials and AppCode errors are the hand-written suite's (not generated).
//!
//! Results are data ([`GenerateResult`]); `report::generate` renders them. This module prints
//! nothing.

pub mod compare;
pub mod generator;
mod model;
mod run;
pub mod shrink;
pub mod step;
mod target;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use self::run::{AttemptError, Engine, Reset};
use self::step::{Namespace, Replay, Step};
use super::result::TargetInfo;
use super::{ContractError, Target};
use crate::api::auth::Credentials;
use crate::api::footprint::{Cause, Leftover};
use crate::api::learn::TargetChoices;
use crate::api::redact::Redactor;
use crate::mock::Defects;
use crate::schema::Mode;
pub use compare::{Divergence, Where};
pub use target::{LIVE_DEFAULT_RPS, REGISTRATIONS};

/// Longest generated sequence.
pub const MAX_SEQUENCE: usize = 8;
/// Requests shrinking may send unless told otherwise (simulator; a live target gets
/// [`LIVE_SHRINK_BUDGET`]).
pub const SHRINK_BUDGET: usize = 4000;
/// Requests shrinking may send to a live target unless told otherwise.
pub const LIVE_SHRINK_BUDGET: usize = 300;
/// How long shrinking may take, after the run's own time.
pub const SHRINK_TIME: Duration = Duration::from_secs(120);

/// What to run.
#[derive(Debug, Clone)]
pub enum Work {
    /// About `steps` generated steps, in sequences, from `seed`.
    Generate { steps: usize, seed: u64 },
    /// One saved sequence.
    Replay(Replay),
}

/// How to run.
#[derive(Debug, Clone)]
pub struct GenerateConfig {
    pub target: Target,
    /// The first is sent; empty: the simulator's own.
    pub credentials: Vec<Credentials>,
    pub app_code: Option<String>,
    pub timeout: Duration,
    pub mode: Mode,
    pub work: Work,
    /// Requests per second to the target (live default [`LIVE_DEFAULT_RPS`]; simulator: none).
    pub max_rps: Option<u32>,
    /// Requests shrinking may send (default [`SHRINK_BUDGET`] / [`LIVE_SHRINK_BUDGET`]).
    pub shrink_budget: Option<usize>,
    /// How long generating may take.
    pub time_limit: Duration,
    /// A leftover that is the target's choice fails the run too (`--fail-on-residue`).
    pub fail_on_residue: bool,
    /// Counters the run keeps up to date while it runs, for a progress line (the CLI prints
    /// one a second on a terminal).
    pub progress: Arc<Progress>,
}

/// What a running generated run has done so far (read from another task while it runs).
#[derive(Debug, Default)]
pub struct Progress {
    /// Generated steps sent.
    pub steps: AtomicUsize,
    /// Requests the target got (read-backs, resets and shrinking included).
    pub requests: AtomicUsize,
    /// Shrinking has started (a difference was found).
    pub shrinking: AtomicBool,
}

impl Progress {
    /// One line: steps, requests, elapsed, pace.
    pub fn line(&self, elapsed: Duration) -> String {
        let steps = self.steps.load(Ordering::Relaxed);
        let requests = self.requests.load(Ordering::Relaxed);
        let secs = elapsed.as_secs_f64().max(1e-9);
        let phase = if self.shrinking.load(Ordering::Relaxed) {
            "shrinking a difference: "
        } else {
            ""
        };
        format!(
            "{phase}{steps} steps, {requests} requests, {:.0}s, {:.1} requests/s",
            elapsed.as_secs_f64(),
            requests as f64 / secs
        )
    }
}

impl GenerateConfig {
    pub fn new(target: Target, work: Work) -> GenerateConfig {
        GenerateConfig {
            target,
            credentials: Vec::new(),
            app_code: None,
            timeout: Duration::from_secs(5),
            mode: Mode::Lenient,
            work,
            max_rps: None,
            shrink_budget: None,
            time_limit: Duration::from_secs(600),
            fail_on_residue: false,
            progress: Arc::default(),
        }
    }
}

/// Why a run could not produce a result.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error(transparent)]
    Contract(#[from] ContractError),
    #[error(
        "generated sequences write: against a live target they need --allow-writes and at least one --registration-id"
    )]
    NeedsWrites,
    #[error(
        "registration {id} belongs to a person from before the run (PERSONALIZATION_IMPOSSIBLE): generated sequences depersonalize, so they run only on devices that belong to nobody"
    )]
    BoundBefore { id: String },
    #[error("registration {id}: the ownership probe (a personalize) answered HTTP {status}")]
    Probe { id: String, status: u16 },
    #[error(
        "server finding before the run, on registration {id}: {message} (the target's fault; its devices were left alone)"
    )]
    Server { id: String, message: String },
    #[error("the replayed sequence cannot run: {0}")]
    BadReplay(String),
    #[error("the replay needs {needed} registrations, the target has {available}")]
    ReplayTooWide { needed: usize, available: usize },
    #[error("the run broke: {0}")]
    Attempt(String),
}

impl GenerateError {
    /// A configuration mistake (exit 2), as opposed to a broken run (exit 3).
    pub fn is_configuration(&self) -> bool {
        match self {
            GenerateError::Contract(e) => e.is_configuration(),
            GenerateError::Attempt(_)
            | GenerateError::Server { .. }
            | GenerateError::Probe { .. } => false,
            _ => true,
        }
    }

    /// The server's fault, seen before any generated step (exit 1): a garbled read, a probe
    /// answered with a 5xx or another status no correct server gives.
    pub fn is_server_finding(&self) -> bool {
        matches!(
            self,
            GenerateError::Server { .. } | GenerateError::Probe { .. }
        )
    }
}

/// How a failing sequence was shrunk.
#[derive(Debug, Clone, Serialize)]
pub struct Shrinking {
    /// Steps of the failing sequence as generated (up to its failing step).
    pub from: usize,
    pub attempts: u32,
    pub requests: usize,
    pub budget: usize,
    /// The budget or the time ran out before no smaller candidate failed.
    pub exhausted: bool,
}

/// A failing sequence, shrunk, with what it shows.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub steps: Vec<Step>,
    pub divergence: Divergence,
    /// `None` for a replay.
    pub shrinking: Option<Shrinking>,
    /// The identities of the attempt that showed it, for the rendered steps.
    #[serde(skip)]
    pub namespace: Namespace,
}

/// A divergence a documented simulator choice explains (live targets): not a failure.
#[derive(Debug, Clone, Serialize)]
pub struct ChoiceNote {
    pub choice: &'static str,
    pub count: usize,
    /// The first one seen.
    pub example: String,
}

/// A generated (or replayed) run, as data.
#[derive(Debug, Clone, Serialize)]
pub struct GenerateResult {
    pub target: TargetInfo,
    /// The seed (of the generated run, or the one a replayed sequence came from).
    pub seed: Option<u64>,
    /// A saved sequence was replayed (nothing generated).
    pub replayed: bool,
    /// The run's namespace tag.
    pub run: u64,
    /// Target registration IDs, `r0`, `r1`, ….
    pub registrations: Vec<String>,
    pub sequences: usize,
    /// Generated steps sent (the cases).
    pub steps: usize,
    /// Every request the target got, read-backs, resets and shrinking included.
    pub requests: usize,
    pub elapsed: Duration,
    /// Generation stopped at `time_limit` before reaching its count.
    pub timed_out: bool,
    /// A stop signal (Ctrl-C, SIGTERM, SIGHUP) stopped the run (the devices of a live target
    /// were still restored, unless a second one came).
    pub interrupted: bool,
    pub finding: Option<Finding>,
    pub choices: Vec<ChoiceNote>,
    /// What each live device still differs in after the restore, and whose doing it is.
    pub left_on_devices: Vec<Leftover>,
    /// A leftover that is the target's choice fails the run too (`--fail-on-residue`).
    pub fail_on_residue: bool,
    /// The scheme of the credential sent (`App`, …), for the curl commands.
    #[serde(skip)]
    pub credentials: Option<Credentials>,
    pub app_code: Option<String>,
}

impl GenerateResult {
    /// Nothing failed (choice notes are not failures).
    pub fn passed(&self) -> bool {
        self.finding.is_none()
            && self
                .left_on_devices
                .iter()
                .all(|l| l.cause != Cause::ServerFault && !self.fail_on_residue)
    }

    /// What the run amounts to: interrupted is a broken run (exit 3), whatever was found.
    pub fn outcome(&self) -> crate::outcome::Outcome {
        crate::outcome::Outcome::of(None, self.interrupted, self.passed())
    }
}

/// Runs `config`: generate (and shrink a failure) or replay.
pub async fn run(config: GenerateConfig) -> Result<GenerateResult, GenerateError> {
    let started = Instant::now();
    let run_tag = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64 % 10_000_000_000);
    let ready = prepare(&config, run_tag).await?;
    let live = ready.originals.is_some();
    let reset = match &ready.admin {
        Some(admin) => Reset::Simulator {
            admin: admin.clone(),
        },
        None => Reset::Live,
    };
    let max_rps = config.max_rps.or(live.then_some(LIVE_DEFAULT_RPS));
    let deadline = started + config.time_limit;
    let mut engine = Engine::new(
        ready.client.clone(),
        ready.ids.clone(),
        ready.model_config.clone(),
        reset,
        config.mode,
        run_tag,
        max_rps,
        deadline,
    );
    engine.progress = Arc::clone(&config.progress);
    let budget = config.shrink_budget.unwrap_or(if live {
        LIVE_SHRINK_BUDGET
    } else {
        SHRINK_BUDGET
    });
    let mut result = GenerateResult {
        target: ready.info.clone(),
        seed: None,
        replayed: matches!(config.work, Work::Replay(_)),
        run: run_tag,
        registrations: ready.ids.clone(),
        sequences: 0,
        steps: 0,
        requests: 0,
        elapsed: Duration::ZERO,
        timed_out: false,
        interrupted: false,
        finding: None,
        choices: Vec::new(),
        left_on_devices: Vec::new(),
        fail_on_residue: config.fail_on_residue,
        credentials: ready.client.config().credentials.clone(),
        app_code: ready.client.config().app_code.clone(),
    };
    let outcome = match &config.work {
        Work::Generate { steps, seed } => {
            result.seed = Some(*seed);
            generate(&mut engine, &mut result, *steps, *seed, budget).await
        }
        Work::Replay(replay) => replay_once(&mut engine, &mut result, replay).await,
    };
    restore(&ready, &config.credentials, &mut result).await;
    if let Some(sim) = ready.simulator {
        let _ = sim.shutdown().await;
    }
    outcome?;
    result.requests = engine.requests;
    result.elapsed = started.elapsed();
    Ok(result)
}

/// A live target's devices put back as the run found them (skipped after a second stop
/// signal, and listed as not restored).
async fn restore(ready: &target::Ready, credentials: &[Credentials], result: &mut GenerateResult) {
    let Some(originals) = &ready.originals else {
        return;
    };
    let redactor = Redactor::new(credentials);
    for (id, original) in originals {
        if crate::interrupt::count() >= 2 {
            result.left_on_devices.push(Leftover {
                registration_id: id.clone(),
                items: vec!["whatever the run changed".to_owned()],
                cause: Cause::NotRestored,
                reason: "a second stop signal skipped the restore".to_owned(),
            });
            continue;
        }
        let restored = super::live::restore_device(
            &ready.client,
            &redactor,
            id,
            original,
            true,
            &TargetChoices::default(),
        )
        .await;
        result.left_on_devices.extend(restored);
    }
}

async fn prepare(config: &GenerateConfig, run_tag: u64) -> Result<target::Ready, GenerateError> {
    let registrations = match &config.work {
        Work::Replay(r) => {
            r.check().map_err(GenerateError::BadReplay)?;
            r.registrations
        }
        Work::Generate { .. } => REGISTRATIONS,
    };
    let ready = match &config.target {
        Target::Simulator => {
            target::simulator(Defects::none(), registrations, config.timeout).await?
        }
        Target::DefectiveSimulator(d) => {
            target::simulator(*d, registrations, config.timeout).await?
        }
        Target::Live {
            base_url,
            registration_ids,
            allow_writes,
        } => {
            if !allow_writes || registration_ids.is_empty() {
                return Err(GenerateError::NeedsWrites);
            }
            let client = target::client(
                base_url,
                config.credentials.first(),
                config.app_code.clone(),
                config.timeout,
                crate::api::transport::Route::Environment,
            )?;
            target::live(client, registration_ids, run_tag).await?
        }
    };
    if ready.ids.len() < registrations {
        return Err(GenerateError::ReplayTooWide {
            needed: registrations,
            available: ready.ids.len(),
        });
    }
    Ok(ready)
}

/// Sequences until `steps` steps were sent, a failure, or the deadline.
async fn generate(
    engine: &mut Engine,
    result: &mut GenerateResult,
    steps: usize,
    seed: u64,
    budget: usize,
) -> Result<(), GenerateError> {
    let mut generator = generator::Generator::new(seed, engine.ids.len());
    while result.steps < steps {
        let sequence = generator.sequence(MAX_SEQUENCE.min(steps - result.steps));
        let attempt = match engine.attempt(&sequence).await {
            Err(AttemptError::Deadline) => {
                result.timed_out = true;
                return Ok(());
            }
            Err(AttemptError::Interrupted) => {
                result.interrupted = true;
                return Ok(());
            }
            other => other.map_err(|e| GenerateError::Attempt(e.to_string()))?,
        };
        result.sequences += 1;
        result.steps += attempt.steps_run;
        engine.progress.steps.store(result.steps, Ordering::Relaxed);
        match attempt.divergence {
            None => {}
            Some(d) if d.choice.is_some() => note_choice(result, &d),
            Some(d) => {
                engine.progress.shrinking.store(true, Ordering::Relaxed);
                let failing = sequence[..=d.step].to_vec();
                let finding = shrink(engine, failing, d, attempt.namespace, budget).await?;
                result.finding = Some(finding);
                result.interrupted = crate::interrupt::interrupted();
                return Ok(());
            }
        }
    }
    Ok(())
}

fn note_choice(result: &mut GenerateResult, d: &Divergence) {
    let Some(choice) = d.choice else { return };
    match result.choices.iter_mut().find(|c| c.choice == choice) {
        Some(note) => note.count += 1,
        None => result.choices.push(ChoiceNote {
            choice,
            count: 1,
            example: d.describe(),
        }),
    }
}

/// The failing `steps` reduced while they still fail, within `budget` requests and
/// [`SHRINK_TIME`].
async fn shrink(
    engine: &mut Engine,
    mut steps: Vec<Step>,
    mut divergence: Divergence,
    mut namespace: Namespace,
    budget: usize,
) -> Result<Finding, GenerateError> {
    let from = steps.len();
    let (attempts_before, requests_before) = (engine.attempts, engine.requests);
    let run_deadline = engine.deadline;
    engine.deadline = Instant::now() + SHRINK_TIME;
    engine.budget = Some(budget);
    let mut exhausted = false;
    'outer: loop {
        for candidate in shrink::candidates(&steps) {
            match engine.attempt(&candidate).await {
                Ok(a) => match a.divergence {
                    Some(d) if d.choice.is_none() => {
                        steps = candidate[..=d.step].to_vec();
                        divergence = d;
                        namespace = a.namespace;
                        continue 'outer;
                    }
                    _ => {}
                },
                Err(AttemptError::Budget | AttemptError::Deadline | AttemptError::Interrupted) => {
                    exhausted = true;
                    break 'outer;
                }
                Err(e) => return Err(GenerateError::Attempt(e.to_string())),
            }
        }
        break;
    }
    engine.budget = None;
    engine.deadline = run_deadline.max(Instant::now());
    Ok(Finding {
        steps,
        divergence,
        shrinking: Some(Shrinking {
            from,
            attempts: engine.attempts - attempts_before,
            requests: engine.requests - requests_before,
            budget,
            exhausted,
        }),
        namespace,
    })
}

async fn replay_once(
    engine: &mut Engine,
    result: &mut GenerateResult,
    replay: &Replay,
) -> Result<(), GenerateError> {
    result.seed = replay.seed;
    let attempt = match engine.attempt(&replay.steps).await {
        Err(AttemptError::Interrupted) => {
            result.interrupted = true;
            return Ok(());
        }
        other => other.map_err(|e| GenerateError::Attempt(e.to_string()))?,
    };
    result.sequences = 1;
    result.steps = attempt.steps_run;
    match attempt.divergence {
        Some(d) if d.choice.is_some() => note_choice(result, &d),
        Some(d) => {
            result.finding = Some(Finding {
                steps: replay.steps[..=d.step].to_vec(),
                divergence: d,
                shrinking: None,
                namespace: attempt.namespace,
            });
        }
        None => {}
    }
    Ok(())
}
