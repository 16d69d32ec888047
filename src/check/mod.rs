//! `check`, the main job in one call: the contract suite, then a load scenario with the checks
//! after it, and one verdict over both — as data, for the reporters.
//!
//! Each stage runs against its own target: by default each starts the embedded simulator afresh
//! (the contract suite's simulator has two applications and fresh registrations for every case;
//! the load's is seeded for the scenario and checked for invariants after it), so one stage's
//! writes never disturb the other's checks. With a URL, both go to that account, each under its
//! own safety rules (`--allow-writes` for contract writes, `--allow-remote` for load).
//!
//! Ctrl-C during the contract stage stops it (the suite restores what it changed) and skips the
//! load: `load` is then `None` and the verdict says the run was interrupted.
//!
//! This module orchestrates only: it prints nothing and spells no API knowledge.

use std::time::{Duration, Instant};

use crate::contract::{self, ContractError, Event, Status, SuiteConfig, SuiteResult};
use crate::interrupt;
use crate::load::embedded::{Destination, run_at};
use crate::load::{LoadConfig, LoadError, LoadResult, Target};

/// The load stage, everything but where it goes.
pub struct LoadStage {
    pub destination: Destination,
    /// Builds the load's configuration once its target is known.
    pub build: Box<dyn FnOnce(Target) -> LoadConfig + Send>,
}

impl std::fmt::Debug for LoadStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadStage")
            .field("destination", &self.destination)
            .finish_non_exhaustive()
    }
}

/// What to check.
#[derive(Debug)]
pub struct CheckConfig {
    pub contract: SuiteConfig,
    pub load: LoadStage,
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
    /// `None` when the run was interrupted before the load stage.
    pub load: Option<LoadResult>,
}

impl CheckResult {
    /// Stopped by Ctrl-C in either stage.
    pub fn interrupted(&self) -> bool {
        self.contract.interrupted || self.load.as_ref().is_none_or(|l| l.interrupted)
    }

    /// The load was sent and the target never answered.
    pub fn never_answered(&self) -> bool {
        self.load.as_ref().is_some_and(|l| l.never_answered)
    }
}

/// A progress event of a `check` run.
#[derive(Debug)]
pub enum Progress<'a> {
    /// An event of the contract stage.
    Contract(Event<'a>),
    /// The contract stage is over; the load starts.
    LoadStarting,
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
    let load = if suite.interrupted || interrupt::count() > interrupts_before {
        None
    } else {
        progress(Progress::LoadStarting);
        Some(run_at(config.load.destination, config.load.build).await?)
    };
    let reasons = reasons(&suite, load.as_ref());
    Ok(CheckResult {
        tool: "pushcheck",
        version: env!("CARGO_PKG_VERSION"),
        passed: reasons.is_empty(),
        reasons,
        duration: started.elapsed(),
        contract: suite,
        load,
    })
}

/// One line per reason the run failed.
fn reasons(suite: &SuiteResult, load: Option<&LoadResult>) -> Vec<String> {
    let mut out: Vec<String> = suite
        .cases
        .iter()
        .filter(|c| c.status == Status::Failed)
        .map(|c| {
            let why = c
                .failure
                .as_ref()
                .map_or_else(String::new, |f| format!(": {}", f.message));
            format!("contract case {} failed{why}", c.name)
        })
        .collect();
    out.extend(suite.restore_problems.iter().map(|p| {
        format!(
            "contract: registration {} not restored: {}",
            p.registration_id, p.message
        )
    }));
    if suite.interrupted {
        out.push("contract: interrupted".to_owned());
    }
    match load {
        Some(load) => out.extend(load.verdict.reasons.iter().map(|r| format!("load: {r}"))),
        None => out.push("load: not run (interrupted)".to_owned()),
    }
    out
}
