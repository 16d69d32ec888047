//! `check`, the main job in one call: the contract suite, then a load scenario with the checks
//! after it, and one verdict over both — as data, for the reporters.
//!
//! Each stage runs against its own target: by default each starts the embedded simulator afresh
//! (the contract suite's simulator has two applications and fresh registrations for every case;
//! the load's is seeded for the scenario and checked for invariants after it), so one stage's
//! writes never disturb the other's checks. With a URL, both go to that account, each under its
//! own safety rules (`--allow-writes` for contract writes, `--allow-remote` for load).
//!
//! A stop signal (Ctrl-C, SIGTERM or SIGHUP; see [`crate::interrupt`]) during the contract stage
//! stops it (the suite restores what it changed) and skips the load: `load` is then
//! [`LoadStage::NotRun`] and the verdict says the run was interrupted; during the load it stops
//! the load.
//!
//! This module orchestrates only: it prints nothing and spells no API knowledge.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::contract::{self, ContractError, Event, SuiteConfig, SuiteResult};
use crate::interrupt;
use crate::load::scenario::{Mix, Validation};
use crate::load::{self, FeedSource, LoadConfig, LoadError, LoadResult, Rule, Scenario};
use crate::outcome::Outcome;
use crate::schema::Mode;

/// The command line's part of the load scenario of a `check` (merged over the file with
/// [`Scenario::merge`]): the flags' rules; a strict contract run validates the load strictly
/// too; and a live target without a feed of the load's own only reads — the contract's
/// `--registration-id` devices belong to the suite, which restores them, and the load could not.
pub fn load_overrides(thresholds: Vec<Rule>, mode: Mode, live_without_feed: bool) -> Scenario {
    Scenario {
        thresholds: Some(thresholds),
        validation: (mode == Mode::Strict).then_some(Validation {
            sample_rate: None,
            mode: Some(Mode::Strict),
        }),
        mix: live_without_feed.then_some(Mix {
            get: 1,
            ..Mix::default()
        }),
        ..Scenario::default()
    }
}

/// The load's feed in a `check`: the embedded simulator's listing, the load's own `--feed`
/// file, or (live, without one) the contract's registrations.
pub fn load_feed(feed: Option<PathBuf>, registration_ids: &[String]) -> FeedSource {
    match feed {
        Some(file) => FeedSource::File(file),
        None if registration_ids.is_empty() => FeedSource::Admin,
        None => FeedSource::Registrations(registration_ids.to_vec()),
    }
}

/// What to check.
#[derive(Debug)]
pub struct CheckConfig {
    pub contract: SuiteConfig,
    /// The load stage, where it goes included.
    pub load: LoadConfig,
    /// A contract stage where every case was skipped may go on to the load.
    pub allow_all_skipped: bool,
}

/// Why `check` could not produce a verdict.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("contract stage: {0}")]
    Contract(#[from] ContractError),
    #[error("load stage: {0}")]
    Load(#[from] LoadError),
}

/// What happened, stage by stage. Its JSON form is written by `report::check::json`.
#[derive(Debug, Clone)]
pub struct CheckResult {
    pub tool: &'static str,
    pub version: &'static str,
    /// The verdict over both stages.
    pub passed: bool,
    /// Why it failed, one line each (empty when it passed).
    pub reasons: Vec<String>,
    pub duration: Duration,
    pub contract: SuiteResult,
    /// The load stage's result, or why it did not run.
    pub load: LoadStage,
    /// A configuration mistake the contract stage found (a device it must not use, every case
    /// skipped without `allow_all_skipped`): the run is a usage error, whatever else it says.
    pub mistake: Option<String>,
    /// Stopped by a stop signal (Ctrl-C, SIGTERM, SIGHUP) in either stage.
    pub interrupted: bool,
}

impl CheckResult {
    /// Stopped by a stop signal (Ctrl-C, SIGTERM, SIGHUP) in either stage.
    pub fn interrupted(&self) -> bool {
        self.interrupted
    }

    /// The load was sent and the target never answered.
    pub fn never_answered(&self) -> bool {
        self.load.ran().is_some_and(|l| l.never_answered)
    }

    /// What the check amounts to: the contract stage's mistake, then a broken run, then the
    /// verdict.
    pub fn outcome(&self) -> Outcome {
        Outcome::of(
            self.mistake.as_deref(),
            self.interrupted || self.never_answered(),
            self.passed,
        )
    }
}

/// The load stage of a `check`: it ran, or it did not and why.
#[derive(Debug, Clone)]
pub enum LoadStage {
    Ran(Box<LoadResult>),
    /// Why the load stage did not run: a stop signal during the contract stage, or a
    /// configuration mistake the contract stage found (a device bound to someone, every case
    /// skipped).
    NotRun(String),
}

impl LoadStage {
    /// The load's result, when it ran.
    pub fn ran(&self) -> Option<&LoadResult> {
        match self {
            LoadStage::Ran(result) => Some(result),
            LoadStage::NotRun(_) => None,
        }
    }
}

/// A progress event of a `check` run.
#[derive(Debug)]
pub enum Progress<'a> {
    /// An event of the contract stage.
    Contract(Event<'a>),
    /// The contract stage is over (its result, to show before the load); the load starts.
    LoadStarting(&'a SuiteResult),
}

/// Runs both stages and judges them.
pub async fn run(
    config: CheckConfig,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<CheckResult, CheckError> {
    let started = Instant::now();
    let interrupts_before = interrupt::count();
    let suite = contract::run_with_progress(config.contract, &mut |e| {
        progress(Progress::Contract(e));
    })
    .await?;
    let contract_interrupted = suite.interrupted || interrupt::count() > interrupts_before;
    let mistake = suite.mistake(config.allow_all_skipped);
    let load_not_run = if contract_interrupted {
        Some("interrupted during the contract stage".to_owned())
    } else if let Some(device) = suite.unusable_devices.first() {
        Some(format!(
            "the contract stage found a device it cannot use: {}",
            device.reason
        ))
    } else if let Some(f) = suite.server_findings.first() {
        Some(format!(
            "the contract stage's probes found the server at fault on registration {} ({}): the load would only add requests to devices in doubt",
            f.registration_id, f.probe
        ))
    } else if mistake.is_some() {
        Some("every contract case was skipped: nothing to build a verdict on".to_owned())
    } else {
        None
    };
    let load = match load_not_run {
        Some(why) => LoadStage::NotRun(why),
        None => {
            progress(Progress::LoadStarting(&suite));
            LoadStage::Ran(Box::new(load::run(config.load).await?))
        }
    };
    let interrupted = contract_interrupted || load.ran().is_some_and(|l| l.interrupted);
    let reasons = reasons(&suite, &load);
    Ok(CheckResult {
        tool: "pushcheck",
        version: env!("CARGO_PKG_VERSION"),
        passed: reasons.is_empty(),
        reasons,
        duration: started.elapsed(),
        contract: suite,
        load,
        mistake,
        interrupted,
    })
}

/// One line per reason the run failed.
fn reasons(suite: &SuiteResult, load: &LoadStage) -> Vec<String> {
    let mut out = suite.reasons();
    match load {
        LoadStage::Ran(load) => {
            out.extend(load.verdict.reasons.iter().map(|r| format!("load: {r}")));
        }
        LoadStage::NotRun(why) => out.push(format!("load: not run ({why})")),
    }
    out
}
