//! A target made ready for the suite's cases, and what the runner asks of it between cases.
//!
//! The **embedded simulator** (the default) is started for the run with two applications (so
//! 48013 across applications is checked) and every case gets fresh registrations. A **live**
//! target is read first by [`preflight`] (wrong key, unknown app code, missing registration,
//! unreachable target: an error before any case) and its registrations' originals are kept, so
//! each writing case's devices can be restored afterwards (module `live`). With writes allowed,
//! [`crate::api::learn::probe`] then proves whom each device belongs to before any other write
//! (devices of a person from before the run are set aside: [`UnusableDevice`], the user's to
//! fix) and learns the target's choices where the docs are silent; a device that answered
//! garbage, or that a probe could not put back, is withheld from writing cases and the server
//! finding fails the run. This module decides which case can run here
//! ([`Prepared::skip_reason`]: a case relying on a simulator choice runs when the target's own
//! answer showed the same choice, and is skipped naming what the target does otherwise) and on
//! which registrations.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::cases::CaseSpec;
use super::config::{ContractError, SuiteConfig, Target};
use super::ctx::Environment;
use super::live::{Interrupts, restore_device};
use super::result::{TargetInfo, TargetKind, UnusableDevice};
use crate::api::auth::Credentials;
use crate::api::client::{Client, ClientConfig};
use crate::api::footprint::{Cause, Leftover};
use crate::api::learn::{Ownership, ServerFinding, TargetChoices, probe};
use crate::api::preflight::{Device, Reading, preflight};
use crate::api::redact::Redactor;
use crate::api::transport::Route;
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
    /// What each live device still differs in after its last restore.
    pub(super) leftovers: BTreeMap<String, Leftover>,
    /// Live devices writing cases must leave alone: bound to a person before the run.
    pub(super) unusable: Vec<UnusableDevice>,
}

/// The originals of a live target's registrations, and what the probes learned.
pub(super) struct LiveState {
    pub(super) allow_writes: bool,
    pub(super) originals: BTreeMap<String, Value>,
    /// The target's choices (default: nothing learned, for a read-only run).
    pub(super) choices: TargetChoices,
    /// Whether anything was probed (a run with writes).
    pub(super) probed: bool,
    pub(super) findings: Vec<ServerFinding>,
    /// Devices the server made unusable for writing cases (garbled answers, a failed probe).
    pub(super) withheld: Vec<String>,
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
        let client = client(
            config,
            base_url,
            &config.credentials,
            &app_code,
            Route::Environment,
        )?;
        let devices: Vec<Device> = registration_ids.iter().map(Device::new).collect();
        let states = preflight(&client, &devices).await?;
        let redactor = Redactor::new(&config.credentials);
        let mut originals = BTreeMap::new();
        let mut findings = Vec::new();
        let mut withheld = Vec::new();
        let mut live_first_read = None;
        for state in states {
            let id = state.device.registration_id;
            match state.reading {
                Reading::Registration(value) => {
                    if live_first_read.is_none() {
                        live_first_read = Some(value.clone());
                    }
                    originals.insert(id, value);
                }
                // The server's fault: the device is left alone, the finding fails the run.
                Reading::Garbled(message) => {
                    findings.push(ServerFinding {
                        probe: "read before the run",
                        registration_id: id.clone(),
                        message,
                    });
                    withheld.push(id);
                }
                // Read-only cases report what the device answers; writing needs the
                // original to put back.
                Reading::Unreadable(message) if allow_writes => {
                    return Err(ContractError::Unreadable { id, message });
                }
                Reading::Unreadable(_) => {}
            }
        }
        // The application's ID: given, or as the run's first read answered it.
        let application_id = config.application_id.clone().or_else(|| {
            live_first_read.and_then(|v| {
                v.get(crate::api::field::APPLICATION_ID)
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
        });
        let mut live = LiveState {
            allow_writes,
            originals,
            choices: TargetChoices::default(),
            probed: false,
            findings,
            withheld,
        };
        let mut unusable = Vec::new();
        let mut leftovers = BTreeMap::new();
        if allow_writes && !live.originals.is_empty() {
            let probed = probe(&client, &redactor, &live.originals, run_tag).await;
            for (id, owner) in &probed.ownership {
                match owner {
                    Ownership::Nobody => {}
                    Ownership::BoundBefore => unusable.push(UnusableDevice {
                        registration_id: id.clone(),
                        reason: bound_before(id),
                    }),
                    Ownership::Unknown => live.withheld.push(id.clone()),
                }
            }
            for leftover in probed.leftovers {
                record(&mut leftovers, leftover);
            }
            live.findings.extend(probed.findings);
            live.choices = probed.choices;
            live.probed = true;
            // Put each device the probes wrote to back, as after a case (a device of someone
            // else was not changed: its personalize was refused).
            for id in &probed.touched {
                let owner = probed.ownership.get(id);
                let original = live.originals.get(id);
                if let Some(original) = original
                    && owner != Some(&Ownership::BoundBefore)
                {
                    // A device of nobody was left depersonalized by the probe; one it could not
                    // tell (a server fault) or did not finish is depersonalized once more.
                    let unbind = probed.interrupted || owner != Some(&Ownership::Nobody);
                    let left =
                        restore_device(&client, &redactor, id, original, unbind, &live.choices)
                            .await;
                    settle(&mut leftovers, id, left);
                }
            }
        }
        Ok(Prepared {
            info: TargetInfo {
                kind: TargetKind::Live,
                base_url: client.base_url().to_owned(),
            },
            simulator: None,
            redactor,
            client,
            env: Environment {
                simulator: false,
                credentials: config.credentials.clone(),
                app_code: config.app_code.clone(),
                application_id,
                other_app_registration: None,
                run_tag,
            },
            pool: registration_ids.to_vec(),
            next: 0,
            live: Some(live),
            leftovers,
            unusable,
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
        if let Some(id) = &config.application_id {
            sim_config.applications[0].application_id = id.clone();
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
        let client = client(
            config,
            &facts.base_url,
            &facts.credentials,
            &first_app,
            Route::Direct,
        )?;
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
                application_id: facts.applications.first().map(|a| a.application_id.clone()),
                other_app_registration: other,
                run_tag,
            },
            pool,
            next: 0,
            live: None,
            leftovers: BTreeMap::new(),
            unusable: Vec::new(),
        })
    }

    /// Live registrations writing cases may still use.
    pub(super) fn usable(&self) -> Vec<String> {
        let withheld = self
            .live
            .as_ref()
            .map(|l| l.withheld.as_slice())
            .unwrap_or(&[]);
        self.pool
            .iter()
            .filter(|id| self.unusable.iter().all(|u| &u.registration_id != *id))
            .filter(|id| !withheld.contains(id))
            .cloned()
            .collect()
    }

    /// Why `spec` cannot run here, if it cannot.
    pub(super) fn skip_reason(&self, spec: &CaseSpec) -> Option<String> {
        if let Some(live) = &self.live {
            if let Some(reason) = spec.simulator_only {
                return Some(format!("simulator only: {reason}"));
            }
            if let Some(reason) = live.unconfirmed(spec.relies_on) {
                return Some(reason);
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

    /// Restores a writing case's live registrations; a second stop signal skips what is left, and
    /// the devices not restored are listed. What is left is recorded per device (the last
    /// restore of a device tells its state; a server fault seen once stays), never raised.
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
            let was_personalized = personalized.contains(id);
            let outcome = tokio::select! {
                left = restore_device(&self.client, &self.redactor, id, original, was_personalized, &live.choices) => Some(left),
                () = interrupts.reached(2) => None,
            };
            match outcome {
                Some(left) => settle(&mut self.leftovers, id, left),
                None => {
                    for id in &regs[i..] {
                        record(
                            &mut self.leftovers,
                            Leftover {
                                registration_id: id.clone(),
                                items: vec!["whatever the interrupted case changed".to_owned()],
                                cause: Cause::NotRestored,
                                reason: "a second stop signal skipped the restore".to_owned(),
                            },
                        );
                    }
                    return;
                }
            }
        }
    }
}

impl LiveState {
    /// Why a case relying on `choices` cannot run here: one of them the probes did not learn,
    /// or the target's answer differs from the simulator's.
    fn unconfirmed(&self, choices: &[&str]) -> Option<String> {
        let mut unknown = Vec::new();
        for id in choices {
            match self.choices.agrees_with(id) {
                Some(true) => {}
                Some(false) => {
                    let does = self
                        .choices
                        .lines()
                        .into_iter()
                        .find(|(c, _)| c == id)
                        .map(|(_, text)| text)
                        .unwrap_or_default();
                    return Some(format!(
                        "relies on the simulator choice {id}; this target chose otherwise: {does}"
                    ));
                }
                None => unknown.push(*id),
            }
        }
        (!unknown.is_empty()).then(|| {
            format!(
                "relies on simulator choices the docs leave open{}: {}",
                if self.probed { " (not probed)" } else { "" },
                unknown.join(", ")
            )
        })
    }
}

/// The message of a device bound to a person before the run (said once, in the report).
fn bound_before(id: &str) -> String {
    format!(
        "registration {id} already belongs to a person from before the run (a personalize of a fresh identity without forceDepersonalize answered {}, so nothing was changed); name test devices that belong to nobody",
        crate::api::message_id::PERSONALIZATION_IMPOSSIBLE
    )
}

/// Records a leftover; a server fault already recorded for the device is kept (its items
/// joined), anything else is replaced by the newer state.
fn record(leftovers: &mut BTreeMap<String, Leftover>, new: Leftover) {
    match leftovers.get_mut(&new.registration_id) {
        Some(old) if old.cause == Cause::ServerFault && new.cause != Cause::ServerFault => {
            for item in new.items {
                if !old.items.contains(&item) {
                    old.items.push(item);
                }
            }
        }
        _ => {
            leftovers.insert(new.registration_id.clone(), new);
        }
    }
}

/// The outcome of one restore of `id`: a leftover recorded, or the device back (a server fault
/// seen earlier stays on record).
fn settle(leftovers: &mut BTreeMap<String, Leftover>, id: &str, left: Option<Leftover>) {
    match left {
        Some(l) => record(leftovers, l),
        None => {
            if leftovers
                .get(id)
                .is_some_and(|l| l.cause != Cause::ServerFault)
            {
                leftovers.remove(id);
            }
        }
    }
}

fn client(
    config: &SuiteConfig,
    base_url: &str,
    credentials: &[Credentials],
    app_code: &str,
    route: Route,
) -> Result<Client, ContractError> {
    let mut client_config = ClientConfig::new(base_url);
    client_config.route = route;
    client_config.timeout = config.timeout;
    client_config.credentials = credentials.first().cloned();
    client_config.app_code = (!app_code.is_empty()).then(|| app_code.to_owned());
    Client::new(client_config).map_err(ContractError::Client)
}
