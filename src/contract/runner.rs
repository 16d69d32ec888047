//! Runs the suite: sets up the target (module `prepare`), allocates registrations to cases, runs
//! them one by one, restores live registrations, and assembles the [`SuiteResult`].
//!
//! Against the **embedded simulator** (the default) every case gets fresh registrations of a
//! simulator started for this run, with two applications (so 48013 across applications is
//! checked). Against a **live** target, [`crate::api::preflight`] first reads every named
//! registration once (wrong key, unknown app code, missing registration, unreachable target: an
//! error before any case). Cases that write run only with `allow_writes`, only on the
//! registrations the user named, and each writing case's devices are restored afterwards (module
//! `live`) — also when the case failed or a stop signal (Ctrl-C, SIGTERM, SIGHUP) interrupted
//! the run; a stop signal ends a simulator run too (see `Prepared::run_cases`). Before the first case, the
//! probes of `api::learn` prove each device belongs to nobody (one that belongs to a person
//! already is named in [`SuiteResult::unusable_devices`] and its writing cases are skipped) and
//! learn the target's choices; a case relying on a simulator choice runs where the target chose
//! the same, and is skipped naming the difference otherwise. Every text a target sent back is
//! scrubbed of the run's secrets ([`crate::api::redact::Redactor`]) before it enters a result.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::cases::CaseSpec;
use super::config::{ContractError, SuiteConfig};
use super::ctx::Ctx;
use super::drift::drift_of;
use super::live::Interrupts;
use super::prepare::Prepared;
use super::result::{CaseResult, Failure, Finding, Status, SuiteResult, TargetInfo};
use super::select::select;
use crate::schema::Mode;
use crate::schema::shape::Skeleton;

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
    // A stop signal while the target is prepared stops the run before its first case.
    let interrupts = Interrupts::new();
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
    let outcome = target
        .run_cases(&config, &selected, &interrupts, progress)
        .await;
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
        target_choices: target
            .live
            .as_ref()
            .filter(|l| l.probed)
            .map(|l| l.choices.clone()),
        server_findings: target
            .live
            .as_ref()
            .map(|l| l.findings.clone())
            .unwrap_or_default(),
        left_on_devices: target.leftovers.into_values().collect(),
        fail_on_residue: config.fail_on_residue,
        unusable_devices: target.unusable,
    })
}

/// Skeletons of 200 answers by schema, each with the case that saw it: the run's drift.
type Observed = BTreeMap<&'static str, Vec<(&'static str, Skeleton)>>;

impl Prepared {
    /// Runs the selected cases one by one, until the end or a stop signal.
    ///
    /// A stop signal (Ctrl-C, SIGTERM, SIGHUP; see [`crate::interrupt`]) is heard by every run,
    /// the embedded simulator's too: the running case stops there, a live run restores its
    /// devices (a second signal skips that), no later case runs, and the result says
    /// `interrupted` — so the reports are still written and the exit code is 3. A simulator run
    /// has nothing to restore, but a CI job stopped by its timeout (SIGTERM) should still get
    /// its JUnit and JSON of the cases that ran, and an exit code that says "interrupted", not a
    /// run that goes on until a third signal ends it.
    async fn run_cases(
        &mut self,
        config: &SuiteConfig,
        selected: &[&'static CaseSpec],
        interrupts: &Interrupts,
        progress: &mut dyn FnMut(Event<'_>),
    ) -> Result<(Vec<CaseResult>, Vec<Finding>, bool), ContractError> {
        let mut results = Vec::with_capacity(selected.len());
        let mut observed = Observed::new();
        for spec in selected {
            if interrupts.count() > 0 {
                break;
            }
            let result = match self.skip_reason(spec) {
                Some(reason) => CaseResult {
                    skip_reason: Some(reason),
                    ..result_of(spec, Status::Skipped)
                },
                None => {
                    let first = results.is_empty();
                    self.run_case(spec, config.mode, interrupts, &mut observed, first)
                        .await?
                }
            };
            progress(Event::Case(&result));
            results.push(result);
        }
        Ok((results, drift_of(&observed), interrupts.count() > 0))
    }

    /// Runs one case on registrations of its own, restores them on a live target, and returns
    /// its scrubbed result. The first case finding the target unreachable ends the run.
    async fn run_case(
        &mut self,
        spec: &'static CaseSpec,
        mode: Mode,
        interrupts: &Interrupts,
        observed: &mut Observed,
        first: bool,
    ) -> Result<CaseResult, ContractError> {
        let regs = self.allocate(spec);
        let case = (spec.name, spec.needs_scheme);
        let env = self.env.clone();
        let mut ctx = Ctx::new(self.client.clone(), mode, regs.clone(), env, case);
        let started = Instant::now();
        let outcome = tokio::select! {
            outcome = (spec.run)(&mut ctx) => outcome,
            () = interrupts.reached(1) => {
                Err(Failure::new(format!(
                    "interrupted by a stop signal ({}); the run stopped here",
                    crate::interrupt::SIGNALS
                )))
            }
        };
        let duration = started.elapsed();
        if spec.writes && self.live.is_some() {
            self.restore(&regs, &ctx.to_depersonalize(), interrupts)
                .await;
        }
        for (schema, skeleton) in &ctx.observed {
            observed
                .entry(schema)
                .or_default()
                .push((spec.name, skeleton.clone()));
        }
        if let Err(failure) = &outcome
            && let Some(reason) = &failure.untrusted
            && first
        {
            return Err(ContractError::Untrusted {
                base_url: self.client.base_url().to_owned(),
                reason: reason.clone(),
            });
        }
        if let Err(failure) = &outcome
            && failure.unreachable
            && first
        {
            return Err(ContractError::Unreachable {
                base_url: self.client.base_url().to_owned(),
                message: self.redactor.scrub(&failure.message),
            });
        }
        let status = match (&outcome, &ctx.skipped) {
            (Ok(()), Some(_)) => Status::Skipped,
            (Ok(()), None) => Status::Passed,
            (Err(_), _) => Status::Failed,
        };
        let skip_reason = outcome.is_ok().then(|| ctx.skipped.take()).flatten();
        let mut result = CaseResult {
            duration,
            skip_reason,
            failure: outcome.err(),
            exchanges: ctx.exchanges,
            findings: ctx.findings,
            ..result_of(spec, status)
        };
        result.scrub(&self.redactor);
        Ok(result)
    }
}

/// The result of `spec` with `status`, before anything happened: no time, failure or exchange.
fn result_of(spec: &'static CaseSpec, status: Status) -> CaseResult {
    CaseResult {
        name: spec.name,
        group: spec.group,
        summary: spec.summary,
        status,
        duration: Duration::ZERO,
        relies_on: spec.relies_on,
        skip_reason: None,
        failure: None,
        exchanges: Vec::new(),
        findings: Vec::new(),
    }
}
