//! Runs the suite: sets up the target, allocates registrations to cases, runs them one by one,
//! restores live registrations, and assembles the [`SuiteResult`].
//!
//! Against the **embedded simulator** (the default) every case gets fresh registrations of a
//! simulator started for this run, with two applications (so 48013 across applications is
//! checked). Against a **live** target the suite loses no data: cases that write run only with
//! `allow_writes`, only on the registrations the user named; each of them is read first, and after
//! every writing case its writable fields (isPrimary, systemData.registrationEnabled,
//! additionalData) are written back and a device the case personalized is depersonalized — also
//! when the case failed or Ctrl-C interrupted the run. A device's original person binding cannot
//! be read through this API, so it cannot be re-established: name dedicated test devices.
//! Cases relying on simulator choices are skipped live, with the reason.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::cases::{self, CaseSpec};
use super::ctx::{Ctx, Environment};
use super::result::{
    CaseResult, Failure, Finding, RestoreProblem, Status, SuiteResult, TargetInfo, TargetKind,
};
use crate::api::Operation;
use crate::api::auth::Credentials;
use crate::api::client::{Call, Client, ClientConfig, ClientError};
use crate::mock::{self, Application, RunningSimulator, Simulator, SimulatorConfig};
use crate::schema::Mode;
use crate::schema::shape::{Skeleton, pinned};

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
    /// Run only cases whose name contains this (or matches it, with `*` wildcards).
    pub filter: Option<String>,
}

impl Default for SuiteConfig {
    fn default() -> SuiteConfig {
        SuiteConfig {
            target: Target::Simulator,
            credentials: Vec::new(),
            app_code: None,
            timeout: Duration::from_secs(5),
            mode: Mode::Lenient,
            filter: None,
        }
    }
}

/// Why the suite could not run (as opposed to a case failing).
#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    #[error("the embedded simulator did not start: {0}")]
    Simulator(#[from] mock::MockError),
    #[error("{0}")]
    Client(ClientError),
    #[error("target {base_url} is unreachable: {message}")]
    Unreachable { base_url: String, message: String },
    #[error(
        "registration {id} cannot be read before writing to it ({message}); --registration-id must name existing registrations of the application"
    )]
    Unreadable { id: String, message: String },
    #[error("no case matches the filter {0:?}")]
    NoCase(String),
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
    let selected: Vec<&'static CaseSpec> = cases::all()
        .into_iter()
        .filter(|c| {
            config
                .filter
                .as_deref()
                .is_none_or(|p| matches_filter(c.name, p))
        })
        .collect();
    if selected.is_empty() {
        return Err(ContractError::NoCase(
            config.filter.clone().unwrap_or_default(),
        ));
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
    })
}

/// `*` matches any run of characters; without `*`, a substring match.
fn matches_filter(name: &str, pattern: &str) -> bool {
    if !pattern.contains('*') {
        return name.contains(pattern);
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut rest = name;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    true
}

/// A target ready for cases.
struct Prepared {
    info: TargetInfo,
    simulator: Option<RunningSimulator>,
    client: Client,
    env: Environment,
    /// Registrations cases may use, in order.
    pool: Vec<String>,
    /// Next unused pool index (simulator: every case gets fresh registrations).
    next: usize,
    live: Option<LiveState>,
    restore_problems: Vec<RestoreProblem>,
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
                })
            }
            Target::Live {
                base_url,
                registration_ids,
                allow_writes,
            } => {
                let app_code = config.app_code.clone().unwrap_or_default();
                let client = client(config, base_url, &config.credentials, &app_code)?;
                let mut prepared = Prepared {
                    info: TargetInfo {
                        kind: TargetKind::Live,
                        base_url: client.base_url().to_owned(),
                    },
                    simulator: None,
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
                        originals: BTreeMap::new(),
                    }),
                    restore_problems: Vec::new(),
                };
                prepared.preflight().await?;
                if *allow_writes {
                    prepared.read_originals().await?;
                }
                Ok(prepared)
            }
        }
    }

    /// One request to learn whether the target answers at all.
    async fn preflight(&self) -> Result<(), ContractError> {
        let id = self
            .pool
            .first()
            .cloned()
            .unwrap_or_else(|| format!("pushcheck-preflight-{}", self.env.run_tag));
        match self.client.send(&Call::new(Operation::Get, id)).await {
            Err(e) if e.is_unreachable() => Err(ContractError::Unreachable {
                base_url: self.client.base_url().to_owned(),
                message: match e {
                    ClientError::Connect { message, .. } => message,
                    other => other.to_string(),
                },
            }),
            _ => Ok(()),
        }
    }

    async fn read_originals(&mut self) -> Result<(), ContractError> {
        for id in self.pool.clone() {
            let response = self
                .client
                .send(&Call::new(Operation::Get, id.clone()))
                .await
                .map_err(|e| ContractError::Unreadable {
                    id: id.clone(),
                    message: e.to_string(),
                })?;
            let body: Option<Value> = serde_json::from_slice(&response.body).ok();
            match (response.status, body) {
                (200, Some(value)) => {
                    if let Some(live) = &mut self.live {
                        live.originals.insert(id, value);
                    }
                }
                (status, _) => {
                    return Err(ContractError::Unreadable {
                        id,
                        message: format!("GET answered HTTP {status}"),
                    });
                }
            }
        }
        Ok(())
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
        let available = if self.live.is_some() {
            self.pool.len()
        } else {
            self.pool.len().saturating_sub(self.next)
        };
        if spec.registrations > available {
            return Some(format!(
                "needs {} registration(s), {available} available (--registration-id)",
                spec.registrations
            ));
        }
        None
    }

    fn allocate(&mut self, n: usize) -> Vec<String> {
        if self.live.is_some() {
            return self.pool.iter().take(n).cloned().collect();
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
        let mut observed: BTreeMap<&'static str, Skeleton> = BTreeMap::new();
        let mut interrupted = false;
        // Only a live run has something to restore, so only it takes over Ctrl-C.
        let watch_interrupt = self.live.is_some();
        let mut ctrl_c = Box::pin(async move {
            if watch_interrupt {
                let _ = tokio::signal::ctrl_c().await;
            } else {
                std::future::pending::<()>().await;
            }
        });
        for spec in selected {
            if interrupted {
                break;
            }
            if let Some(reason) = self.skip_reason(spec) {
                let result = skipped(spec, reason);
                progress(Event::Case(&result));
                results.push(result);
                continue;
            }
            let regs = self.allocate(spec.registrations);
            let mut ctx = Ctx::new(
                self.client.clone(),
                config.mode,
                regs.clone(),
                self.env.clone(),
                spec,
            );
            let started = Instant::now();
            let outcome = tokio::select! {
                outcome = (spec.run)(&mut ctx) => outcome,
                () = &mut ctrl_c => {
                    interrupted = true;
                    Err(Failure::new("interrupted by Ctrl-C; the run stopped here"))
                }
            };
            let duration = started.elapsed();
            if spec.writes && self.live.is_some() {
                self.restore(&regs, &ctx.personalized).await;
            }
            for (schema, skeleton) in &ctx.observed {
                observed.entry(schema).or_default().merge(skeleton);
            }
            if let Err(failure) = &outcome
                && failure.unreachable
                && results.is_empty()
            {
                return Err(ContractError::Unreachable {
                    base_url: self.client.base_url().to_owned(),
                    message: failure.message.clone(),
                });
            }
            let result = CaseResult {
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
            progress(Event::Case(&result));
            results.push(result);
        }
        let drift = observed
            .iter()
            .filter_map(|(schema, seen)| {
                pinned(schema).map(|pin| {
                    pin.diff(seen)
                        .iter()
                        .map(|c| Finding::from_shape(schema, c))
                        .collect::<Vec<_>>()
                })
            })
            .flatten()
            .collect();
        Ok((results, drift, interrupted))
    }

    /// Writes a live registration's original writable fields back; depersonalizes it if the case
    /// personalized it. Problems are recorded, never raised: restoring goes on for the others.
    async fn restore(&mut self, regs: &[String], personalized: &[String]) {
        let Some(live) = &self.live else { return };
        for id in regs {
            let Some(original) = live.originals.get(id) else {
                continue;
            };
            let mut problems = Vec::new();
            if personalized.contains(id) {
                match self
                    .client
                    .send(&Call::new(Operation::Depersonalize, id.clone()))
                    .await
                {
                    Ok(r) if r.status == 200 => {}
                    Ok(r) => problems.push(format!("depersonalize answered HTTP {}", r.status)),
                    Err(e) => problems.push(e.to_string()),
                }
            }
            let body = json!({
                "isPrimary": original.get("isPrimary").cloned().unwrap_or(Value::Bool(false)),
                "systemData": {"registrationEnabled": original
                    .pointer("/systemData/registrationEnabled").cloned().unwrap_or(Value::Bool(true))},
                "additionalData": original.get("additionalData").cloned().unwrap_or_else(|| json!({})),
            });
            match self
                .client
                .send(&Call::new(Operation::Patch, id.clone()).json(body))
                .await
            {
                Ok(r) if r.status == 200 => {}
                Ok(r) => problems.push(format!("PATCH back answered HTTP {}", r.status)),
                Err(e) => problems.push(e.to_string()),
            }
            if !problems.is_empty() {
                self.restore_problems.push(RestoreProblem {
                    registration_id: id.clone(),
                    message: problems.join("; "),
                });
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

#[cfg(test)]
mod tests {
    use super::matches_filter;

    #[test]
    fn filters_match_substrings_and_wildcards() {
        assert!(matches_filter(
            "patch.custom_attribute.name_257_chars",
            "custom_attribute"
        ));
        assert!(matches_filter(
            "patch.custom_attribute.name_257_chars",
            "patch.*257*"
        ));
        assert!(matches_filter("get.existing", "get.*"));
        assert!(!matches_filter("get.existing", "patch.*"));
        assert!(!matches_filter("get.existing", "*.unknown_id"));
    }
}
