//! A target made ready for the suite's cases, and what the runner asks of it between cases.
//!
//! The **embedded simulator** (the default) is started for the run with two applications (so
//! 48013 across applications is checked) and every case gets fresh registrations. A **live**
//! target is read first by [`preflight`] (wrong key, unknown app code, missing registration,
//! unreachable target: an error before any case) and its registrations' originals are kept, so
//! each writing case's devices can be restored afterwards (module `live`); devices that belong
//! to a person from before the run are set aside ([`UnusableDevice`]). This module decides which
//! case can run here ([`Prepared::skip_reason`]) and on which registrations.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::cases::CaseSpec;
use super::ctx::Environment;
use super::live::{Interrupts, restore_device};
use super::result::{CaseResult, RestoreProblem, Status, TargetInfo, TargetKind, UnusableDevice};
use super::runner::{ContractError, SuiteConfig, Target};
use crate::api::auth::Credentials;
use crate::api::client::{Client, ClientConfig};
use crate::api::preflight::{Device, Reading, preflight};
use crate::api::redact::Redactor;
use crate::mock::{self, Application, RunningSimulator, Simulator, SimulatorConfig};

/// Registrations seeded for a suite run: ~45 are used, the rest is headroom.
const SIMULATOR_REGISTRATIONS: usize = 200;
/// The second application of the simulator, for cross-application cases.
const SECOND_APP_CODE: &str = "pushcheck-second-application";

/// A target ready for cases.
pub(super) struct Prepared {
    pub(super) info: TargetInfo,
    pub(super) simulator: Option<RunningSimulator>,
    pub(super) client: Client,
    pub(super) env: Environment,
    /// Scrubs the run's secrets from everything a target sends back.
    pub(super) redactor: Redactor,
    /// Registrations cases may use, in order.
    pub(super) pool: Vec<String>,
    /// Next unused pool index (simulator: every case gets fresh registrations).
    pub(super) next: usize,
    pub(super) live: Option<LiveState>,
    pub(super) restore_problems: Vec<RestoreProblem>,
    /// Live devices writing cases must leave alone.
    pub(super) unusable: Vec<UnusableDevice>,
}

/// The originals of a live target's registrations.
pub(super) struct LiveState {
    pub(super) allow_writes: bool,
    pub(super) originals: BTreeMap<String, Value>,
}

impl Prepared {
    pub(super) async fn new(config: &SuiteConfig) -> Result<Prepared, ContractError> {
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
            } => Prepared::live(config, base_url, registration_ids, *allow_writes, run_tag).await,
        }
    }

    /// A live account: every named registration read once, the originals kept for the restore.
    async fn live(
        config: &SuiteConfig,
        base_url: &str,
        registration_ids: &[String],
        allow_writes: bool,
        run_tag: u64,
    ) -> Result<Prepared, ContractError> {
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
                Reading::Unreadable(message) if allow_writes => {
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
            pool: registration_ids.to_vec(),
            next: 0,
            live: Some(LiveState {
                allow_writes,
                originals,
            }),
            restore_problems: Vec::new(),
            unusable: Vec::new(),
        })
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
    pub(super) fn usable(&self) -> Vec<String> {
        self.pool
            .iter()
            .filter(|id| self.unusable.iter().all(|u| &u.registration_id != *id))
            .cloned()
            .collect()
    }

    /// Why `spec` cannot run here, if it cannot.
    pub(super) fn skip_reason(&self, spec: &CaseSpec) -> Option<String> {
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

    pub(super) fn allocate(&mut self, spec: &CaseSpec) -> Vec<String> {
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

    /// Devices that already belong to a person: named as unusable; the case that found out is
    /// skipped (it could not check anything), not failed.
    pub(super) fn mark_bound(&mut self, ids: &[String], result: &mut CaseResult) {
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

    /// Restores a writing case's live registrations; a second stop signal skips what is left, and
    /// the devices not restored are listed. Problems are recorded, never raised.
    pub(super) async fn restore(
        &mut self,
        regs: &[String],
        personalized: &[String],
        interrupts: &Interrupts,
    ) {
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
                            message: "not restored: a second stop signal skipped the restore"
                                .to_owned(),
                            left_behind: Vec::new(),
                        });
                    }
                    return;
                }
            }
        }
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
