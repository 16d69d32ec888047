//! Runs the suite: sets up the target, allocates registrations to cases, runs them one by one,
//! restores live registrations, and assembles the [`SuiteResult`].
//!
//! Against the **embedded simulator** (the default) every case gets fresh registrations of a
//! simulator started for this run, with two applications (so 48013 across applications is
//! checked). Against a **live** target, [`preflight`] first reads every named registration once
//! (wrong key, unknown app code, missing registration, unreachable target: an error before any
//! case). Cases that write run only with `allow_writes`, only on the registrations the user named,
//! and each writing case's devices are restored afterwards (module `live`) — also when the case
//! failed or Ctrl-C interrupted the run. A device that turns out to belong to a person already
//! (PERSONALIZATION_IMPOSSIBLE without forceDepersonalize) is named in
//! [`SuiteResult::unusable_devices`] and its writing cases are skipped. Cases relying on simulator
//! choices are skipped live, with the reason. Every text a target sent back is scrubbed of the
//! run's secrets ([`Redactor`]) before it enters a result.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::cases::CaseSpec;
use super::ctx::{Ctx, Environment};
use super::drift::drift_of;
use super::live::{Interrupts, restore_device};
use super::result::{
    CaseResult, Failure, Finding, RestoreProblem, Status, SuiteResult, TargetInfo, TargetKind,
    UnusableDevice,
};
use super::select::select;
use crate::api::auth::Credentials;
use crate::api::client::{Client, ClientConfig, ClientError};
use crate::api::preflight::{Device, PreflightError, Reading, preflight};
use crate::api::redact::Redactor;
use crate::mock::{self, Application, RunningSimulator, Simulator, SimulatorConfig};
use crate::schema::Mode;
use crate::schema::shape::Skeleton;

/// Where to run.
#[derive(Debug, Clone)]
pub enum Target {
    /// Start the embedded simulator in-process, seeded.
    Simulator,
    /// The embedded simulator with planted defects (`mock::defects`): the kill matrix.
    DefectiveSimulator(mock::Defects),
    /// A live account.
    Live {
        base_url: String,
        /// Registrations the suite may use (`--registration-id`).
        registration_ids: Vec<String>,
        /// Cases that write may run on them (`--allow-writes`).
        allow_writes: bool,
    },
}

/// How to run the suite.
#[derive(Debug, Clone)]
pub struct SuiteConfig {
    pub target: Target,
    /// Credentials to send; the first is used for every request. Empty: the simulator's local
    /// defaults (a live target then gets none, and the 401 cases are all that can pass).
    pub credentials: Vec<Credentials>,
    pub app_code: Option<String>,
    pub timeout: Duration,
    pub mode: Mode,
    /// Run only cases whose name contains one of these (or matches it, with `*` wildcards);
    /// empty: every case.
    pub filters: Vec<String>,
}

impl Default for SuiteConfig {
    fn default() -> SuiteConfig {
        SuiteConfig {
            target: Target::Simulator,
            credentials: Vec::new(),
            app_code: None,
            timeout: Duration::from_secs(5),
            mode: Mode::Lenient,
            filters: Vec::new(),
        }
    }
}

/// Why the suite could not run (as opposed to a case failing).
#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    #[error("the embedded simulator did not start")]
    Simulator(#[from] mock::MockError),
    #[error("{0}")]
    Client(ClientError),
    #[error(transparent)]
    Preflight(#[from] PreflightError),
    #[error("target {base_url} is unreachable: {message}")]
    Unreachable { base_url: String, message: String },
    #[error(
        "registration {id} cannot be read before writing to it ({message}); --registration-id must name existing registrations of the application"
    )]
    Unreadable { id: String, message: String },
    #[error("no case matches the filter {0:?}")]
    NoCase(String),
}

impl ContractError {
    /// A configuration mistake (exit 2), as opposed to a broken run (exit 3).
    pub fn is_configuration(&self) -> bool {
        match self {
            ContractError::NoCase(_)
            | ContractError::Unreadable { .. }
            | ContractError::Client(_) => true,
            ContractError::Preflight(e) => !e.is_runtime(),
            ContractError::Simulator(_) | ContractError::Unreachable { .. } => false,
        }
    }
}

/// Registrations seeded for a suite run: ~45 are used, the rest is headroom.
const SIMULATOR_REGISTRATIONS: usize = 200;
/// The second application of the simulator, for cross-application cases.
const SECOND_APP_CODE: &str = "pushcheck-second-application";

/// What the runner reports while it runs, for live progress output.
#[derive(Debug)]
pub enum Event<'a> {
    /// The target is ready; `cases` cases will be reported.
    Started {
        target: &'a TargetInfo,
        mode: Mode,
        cases: usize,
    },
    /// One case finished (or was skipped).
    Case(&'a CaseResult),
}

/// Runs the suite.
pub async fn run(config: SuiteConfig) -> Result<SuiteResult, ContractError> {
    run_with_progress(config, &mut |_| {}).await
}

/// Runs the suite, calling `progress` as it goes.
pub async fn run_with_progress(
    config: SuiteConfig,
    progress: &mut dyn FnMut(Event<'_>),
) -> Result<SuiteResult, ContractError> {
    let started = Instant::now();
    let selected = select(&config.filters);
    if selected.is_empty() {
        return Err(ContractError::NoCase(config.filters.join(", ")));
    }
    let mut target = Prepared::new(&config).await?;
    progress(Event::Started {
        target: &target.info,
        mode: config.mode,
        cases: selected.len(),
    });
    let outcome = target.run_cases(&config, &selected, progress).await;
    if let Some(sim) = target.simulator.take() {
        // A shutdown error after the run does not change the verdict.
        let _ = sim.shutdown().await;
    }
    let (cases, drift, interrupted) = outcome?;
    Ok(SuiteResult {
        tool: "pushcheck",
        version: env!("CARGO_PKG_VERSION"),
        target: target.info.clone(),
        mode: config.mode,
        summary: SuiteResult::summarize(&cases),
        duration: started.elapsed(),
        interrupted,
        cases,
        drift,
        restore_problems: target.restore_problems,
        unusable_devices: target.unusable,
    })
}

/// A target ready for cases.
struct Prepared {
    info: TargetInfo,
    simulator: Option<RunningSimulator>,
    client: Client,
    env: Environment,
    /// Scrubs the run's secrets from everything a target sends back.
    redactor: Redactor,
    /// Registrations cases may use, in order.
    pool: Vec<String>,
    /// Next unused pool index (simulator: every case gets fresh registrations).
    next: usize,
    live: Option<LiveState>,
    restore_problems: Vec<RestoreProblem>,
    /// Live devices writing cases must leave alone.
    unusable: Vec<UnusableDevice>,
}

/// The originals of a live target's registrations.
struct LiveState {
    allow_writes: bool,
    originals: BTreeMap<String, Value>,
}

impl Prepared {
    async fn new(config: &SuiteConfig) -> Result<Prepared, ContractError> {
        let run_tag = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64 % 10_000_000_000);
        let defects = match &config.target {
            Target::DefectiveSimulator(defects) => *defects,
            _ => mock::Defects::none(),
        };
        match &config.target {
            Target::Simulator | Target::DefectiveSimulator(_) => {
                Prepared::simulator(config, run_tag, defects).await
            }
            Target::Live {
                base_url,
                registration_ids,
                allow_writes,
            } => {
                let app_code = config.app_code.clone().unwrap_or_default();
                let client = client(config, base_url, &config.credentials, &app_code)?;
                let devices: Vec<Device> = registration_ids.iter().map(Device::new).collect();
                let states = preflight(&client, &devices).await?;
                let mut originals = BTreeMap::new();
                for state in states {
                    match state.reading {
                        Reading::Registration(value) => {
                            originals.insert(state.device.registration_id, value);
                        }
                        // Read-only cases report what the device answers; writing needs the
                        // original to put back.
                        Reading::Unreadable(message) if *allow_writes => {
                            return Err(ContractError::Unreadable {
                                id: state.device.registration_id,
                                message,
                            });
                        }
                        Reading::Unreadable(_) => {}
                    }
                }
                Ok(Prepared {
                    info: TargetInfo {
                        kind: TargetKind::Live,
                        base_url: client.base_url().to_owned(),
                    },
                    simulator: None,
                    redactor: Redactor::new(&config.credentials),
                    client,
                    env: Environment {
                        simulator: false,
                        credentials: config.credentials.clone(),
                        app_code: config.app_code.clone(),
                        other_app_registration: None,
                        run_tag,
                    },
                    pool: registration_ids.clone(),
                    next: 0,
                    live: Some(LiveState {
                        allow_writes: *allow_writes,
                        originals,
                    }),
                    restore_problems: Vec::new(),
                    unusable: Vec::new(),
                })
            }
        }
    }

    async fn simulator(
        config: &SuiteConfig,
        run_tag: u64,
        defects: mock::Defects,
    ) -> Result<Prepared, ContractError> {
        let mut sim_config = SimulatorConfig {
            seed_registrations: SIMULATOR_REGISTRATIONS,
            defects,
            ..SimulatorConfig::default()
        };
        if let Some(code) = &config.app_code {
            sim_config.applications[0] = Application::from_code(code.clone());
        }
        sim_config
            .applications
            .push(Application::from_code(SECOND_APP_CODE));
        if !config.credentials.is_empty() {
            sim_config.credentials = config.credentials.clone();
        }
        let sim = Simulator::start(sim_config).await?;
        let facts = sim.facts().clone();
        let first_app = facts.applications[0].app_code.clone();
        let (_, listing) = sim.registrations(0, SIMULATOR_REGISTRATIONS);
        let pool: Vec<String> = listing
            .iter()
            .filter(|(_, app)| *app == first_app)
            .map(|(id, _)| id.clone())
            .collect();
        let other = listing
            .iter()
            .find(|(_, app)| *app != first_app)
            .map(|(id, _)| id.clone());
        let client = client(config, &facts.base_url, &facts.credentials, &first_app)?;
        Ok(Prepared {
            info: TargetInfo {
                kind: TargetKind::Simulator,
                base_url: facts.base_url.clone(),
            },
            simulator: Some(sim),
            client,
            redactor: Redactor::new(&facts.credentials),
            env: Environment {
                simulator: true,
                credentials: facts.credentials.clone(),
                app_code: Some(first_app),
                other_app_registration: other,
                run_tag,
            },
            pool,
            next: 0,
            live: None,
            restore_problems: Vec::new(),
            unusable: Vec::new(),
        })
    }

    /// Live registrations writing cases may still use.
    fn usable(&self) -> Vec<String> {
        self.pool
            .iter()
            .filter(|id| self.unusable.iter().all(|u| &u.registration_id != *id))
            .cloned()
            .collect()
    }

    /// Why `spec` cannot run here, if it cannot.
    fn skip_reason(&self, spec: &CaseSpec) -> Option<String> {
        if let Some(live) = &self.live {
            if let Some(reason) = spec.simulator_only {
                return Some(format!("simulator only: {reason}"));
            }
            if !spec.relies_on.is_empty() {
                return Some(format!(
                    "relies on simulator choices the docs leave open: {}",
                    spec.relies_on.join(", ")
                ));
            }
            if spec.writes && !live.allow_writes {
                return Some("writes: needs --allow-writes against a live target".to_owned());
            }
        }
        if let Some(scheme) = spec.needs_scheme
            && !self.env.credentials.iter().any(|c| c.scheme() == scheme)
        {
            return Some(format!("no {scheme} credential given"));
        }
        if spec.needs_other_app && self.env.other_app_registration.is_none() {
            return Some("needs a registration of a second application".to_owned());
        }
        let available = match &self.live {
            Some(_) if spec.writes => self.usable().len(),
            Some(_) => self.pool.len(),
            None => self.pool.len().saturating_sub(self.next),
        };
        if spec.registrations > available {
            let unusable = if self.unusable.is_empty() {
                String::new()
            } else {
                let names: Vec<&str> = self
                    .unusable
                    .iter()
                    .map(|u| u.registration_id.as_str())
                    .collect();
                format!("; unusable: {}", names.join(", "))
            };
            return Some(format!(
                "needs {} registration(s), {available} available (--registration-id){unusable}",
                spec.registrations
            ));
        }
        None
    }

    fn allocate(&mut self, spec: &CaseSpec) -> Vec<String> {
        let n = spec.registrations;
        if self.live.is_some() {
            let pool = if spec.writes {
                self.usable()
            } else {
                self.pool.clone()
            };
            return pool.into_iter().take(n).collect();
        }
        let regs = self.pool[self.next..self.next + n].to_vec();
        self.next += n;
        regs
    }

    async fn run_cases(
        &mut self,
        config: &SuiteConfig,
        selected: &[&'static CaseSpec],
        progress: &mut dyn FnMut(Event<'_>),
    ) -> Result<(Vec<CaseResult>, Vec<Finding>, bool), ContractError> {
        let mut results = Vec::with_capacity(selected.len());
        let mut observed: BTreeMap<&'static str, Vec<(&'static str, Skeleton)>> = BTreeMap::new();
        // Only a live run has something to restore, so only it takes over Ctrl-C.
        let interrupts = Interrupts::new(self.live.is_some());
        for spec in selected {
            if interrupts.count() > 0 {
                break;
            }
            if let Some(reason) = self.skip_reason(spec) {
                let result = skipped(spec, reason);
                progress(Event::Case(&result));
                results.push(result);
                continue;
            }
            let regs = self.allocate(spec);
            let mut ctx = Ctx::new(
                self.client.clone(),
                config.mode,
                regs.clone(),
                self.env.clone(),
                (spec.name, spec.needs_scheme),
            );
            let started = Instant::now();
            let outcome = tokio::select! {
                outcome = (spec.run)(&mut ctx) => outcome,
                () = interrupts.reached(1) => {
                    Err(Failure::new("interrupted by Ctrl-C; the run stopped here"))
                }
            };
            let duration = started.elapsed();
            if spec.writes && self.live.is_some() {
                self.restore(&regs, &ctx.to_depersonalize(), &interrupts)
                    .await;
            }
            for (schema, skeleton) in &ctx.observed {
                observed
                    .entry(schema)
                    .or_default()
                    .push((spec.name, skeleton.clone()));
            }
            if let Err(failure) = &outcome
                && failure.unreachable
                && results.is_empty()
            {
                return Err(ContractError::Unreachable {
                    base_url: self.client.base_url().to_owned(),
                    message: self.redactor.scrub(&failure.message),
                });
            }
            let mut result = CaseResult {
                name: spec.name,
                group: spec.group,
                summary: spec.summary,
                status: if outcome.is_ok() {
                    Status::Passed
                } else {
                    Status::Failed
                },
                duration,
                relies_on: spec.relies_on,
                skip_reason: None,
                failure: outcome.err(),
                exchanges: ctx.exchanges,
                findings: ctx.findings,
            };
            if self.live.is_some() && !ctx.bound_before.is_empty() {
                self.mark_bound(&ctx.bound_before, &mut result);
            }
            result.scrub(&self.redactor);
            progress(Event::Case(&result));
            results.push(result);
        }
        Ok((results, drift_of(&observed), interrupts.count() > 0))
    }

    /// Devices that already belong to a person: named as unusable; the case that found out is
    /// skipped (it could not check anything), not failed.
    fn mark_bound(&mut self, ids: &[String], result: &mut CaseResult) {
        for id in ids {
            let reason = format!(
                "registration {id} already belongs to a person from before the run (personalize without forceDepersonalize answered {}); its writing cases are skipped: name test devices that belong to nobody",
                crate::api::message_id::PERSONALIZATION_IMPOSSIBLE
            );
            if self.unusable.iter().all(|u| &u.registration_id != id) {
                self.unusable.push(UnusableDevice {
                    registration_id: id.clone(),
                    reason: reason.clone(),
                });
            }
            result.status = Status::Skipped;
            result.skip_reason = Some(reason);
            result.failure = None;
        }
    }

    /// Restores a writing case's live registrations; a second Ctrl-C skips what is left, and
    /// the devices not restored are listed. Problems are recorded, never raised.
    async fn restore(&mut self, regs: &[String], personalized: &[String], interrupts: &Interrupts) {
        let Some(live) = &self.live else { return };
        for (i, id) in regs.iter().enumerate() {
            let Some(original) = live.originals.get(id) else {
                continue;
            };
            let bound_before = self.unusable.iter().any(|u| &u.registration_id == id);
            let was_personalized = personalized.contains(id) && !bound_before;
            let outcome = tokio::select! {
                problem = restore_device(&self.client, &self.redactor, id, original, was_personalized) => Some(problem),
                () = interrupts.reached(2) => None,
            };
            match outcome {
                Some(problem) => self.restore_problems.extend(problem),
                None => {
                    for id in &regs[i..] {
                        self.restore_problems.push(RestoreProblem {
                            registration_id: id.clone(),
                            message: "not restored: a second Ctrl-C skipped the restore".to_owned(),
                            left_behind: Vec::new(),
                        });
                    }
                    return;
                }
            }
        }
    }
}

fn skipped(spec: &'static CaseSpec, reason: String) -> CaseResult {
    CaseResult {
        name: spec.name,
        group: spec.group,
        summary: spec.summary,
        status: Status::Skipped,
        duration: Duration::ZERO,
        relies_on: spec.relies_on,
        skip_reason: Some(reason),
        failure: None,
        exchanges: Vec::new(),
        findings: Vec::new(),
    }
}

fn client(
    config: &SuiteConfig,
    base_url: &str,
    credentials: &[Credentials],
    app_code: &str,
) -> Result<Client, ContractError> {
    let mut client_config = ClientConfig::new(base_url);
    client_config.timeout = config.timeout;
    client_config.credentials = credentials.first().cloned();
    client_config.app_code = (!app_code.is_empty()).then(|| app_code.to_owned());
    Client::new(client_config).map_err(ContractError::Client)
}
