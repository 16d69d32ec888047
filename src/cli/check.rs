//! `pushcheck check`: the main job — contract suite, smoke load, one verdict, reports.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use super::auth::{TargetArgs, tls_and_proxies};
use super::load::{LoadSetup, ProgressArgs, clear_progress, load_failure};
use super::suite::{SuiteFlags, contract_failure, refuse_feed_without_target};
use super::{CmdResult, Console, Failure, io_failure};
use crate::check::{self, CheckConfig, CheckError, Progress};
use crate::contract::Event;
use crate::load::{Destination, LoadPlan, Rule, Scenario};
use crate::report;
use crate::schema::Mode;
/// The scenario `check` runs unless told otherwise (its built-in copy where no such file is).
const DEFAULT_SCENARIO: &str = "scenarios/smoke.toml";

const AFTER_HELP: &str = concat!(
    "\
Without --target, each stage starts the embedded simulator on 127.0.0.1: the contract suite
runs every case, then the smoke load runs with validation of responses, its thresholds, and the
checks after the load (no acknowledged write lost, the simulator's invariants). One verdict,
then reports in --report-dir: check.json (schema check-report), junit.xml (contract cases,
thresholds, invariants), pushcheck.html (one self-contained report of both stages),
summary.json, timeline.csv (the load second by second), and goose's report.html and report.json.

With --target, both stages go to that account: contract cases that write need --allow-writes
and --registration-id (restored afterwards); the load needs --allow-remote for a non-loopback
host (capped at 50 requests/s per operation unless --max-rps). The load writes only to the
devices of --feed FILE (its own load devices: it writes the attribute pushcheck_load_seq and
personalizes the devices of nobody to pushcheck-load-… people, then puts every device back as
found; what the target keeps is reported, and fails with --fail-on-residue); without --feed it
only reads the --registration-id devices, so the contract's test devices are left as the suite
restored them.

A stop signal (Ctrl-C, SIGTERM or SIGHUP) stops the running stage (the contract suite restores
its devices first; a second signal skips that and lists them) and skips the later ones; the
reports are written and the exit code is 3.

Examples:
  pushcheck check
  pushcheck check --threshold 'p95<50ms' --report-dir reports
  PUSHCHECK_API_KEY=… pushcheck check --target https://xxxxx.api.infobip.com --app-code MY_APP \\
      --registration-id REG1 --registration-id REG2 --registration-id REG3 \\
      --allow-writes --allow-remote

",
    tls_and_proxies!(),
    "
Environment:
  PUSHCHECK_TARGET, PUSHCHECK_APP_CODE, PUSHCHECK_API_KEY, PUSHCHECK_BASIC,
  PUSHCHECK_IBSSO, PUSHCHECK_BEARER, PUSHCHECK_CA_CERT

Exit codes:
  0  every contract case, threshold and invariant passed
  1  a case, threshold or invariant failed
  2  usage or configuration error (bad flag, scenario value or threshold, remote load without
     --allow-remote or without credentials)
  3  runtime error (target unreachable, simulator or I/O failure, interrupted)"
);

/// Flags of `pushcheck check`.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP, allow_negative_numbers = true)]
pub struct CheckArgs {
    #[command(flatten)]
    target: TargetArgs,
    #[command(flatten)]
    suite: SuiteFlags,
    #[command(flatten)]
    output: ProgressArgs,
    /// Load scenario: a file, or a built-in name (`pushcheck scenarios list`); default
    /// scenarios/smoke.toml, or its built-in copy outside the project.
    #[arg(long, value_name = "FILE", help_heading = "Load")]
    scenario: Option<PathBuf>,
    /// Load pass/fail rule; repeatable; added to the scenario's (replacing its rule on the same
    /// metric and request).
    #[arg(long, value_name = "RULE", help_heading = "Load")]
    threshold: Vec<Rule>,
    /// Allow the load to go to a non-loopback --target.
    #[arg(long, help_heading = "Load")]
    allow_remote: bool,
    /// Load requests per second per operation (a remote target defaults to the documented 50).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..), help_heading = "Load")]
    max_rps: Option<u32>,
    /// The load's own devices on a live target, one per line (`ID` or `ID,APPCODE`); the load
    /// writes to them. Without it, a live load only reads the --registration-id devices.
    #[arg(long, value_name = "FILE", help_heading = "Load")]
    feed: Option<PathBuf>,
    /// Registrations the load's embedded simulator seeds.
    #[arg(long, value_name = "N", default_value_t = 1000, help_heading = "Load")]
    seed_registrations: usize,
    /// Where the reports go.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "target/pushcheck",
        help_heading = "Output"
    )]
    report_dir: PathBuf,
}

impl CheckArgs {
    /// The scenario file (the default one, or its built-in copy outside the project) with the
    /// check's overrides ([`check::load_overrides`]), resolved; and the file's path.
    fn plan(&self, mode: Mode) -> Result<(LoadPlan, PathBuf), Failure> {
        let asked = self
            .scenario
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_SCENARIO));
        let (file, path) = Scenario::from_file_or_builtin(&asked).map_err(Failure::usage)?;
        let live_without_feed = self.target.target.is_some() && self.feed.is_none();
        let overrides = check::load_overrides(self.threshold.clone(), mode, live_without_feed);
        let plan = file
            .merge(overrides)
            .resolve()
            .map_err(|e| Failure::usage(anyhow::anyhow!("{}: {e}", path.display())))?;
        Ok((plan, path))
    }

    /// Both stages' configuration.
    fn config(&self, console: Console) -> Result<CheckConfig, Failure> {
        let target = self.target.target.as_deref();
        refuse_feed_without_target(self.feed.as_deref(), target)?;
        let suite = self.suite.suite_config(&self.target)?;
        let ids = &self.suite.registration_ids;
        let (plan, scenario_file) = self.plan(suite.mode)?;
        let feed = check::load_feed(self.feed.clone(), ids);
        let destination = Destination::of(target, self.allow_remote, feed, self.seed_registrations)
            .map_err(load_failure)?;
        if target.is_some() && self.feed.is_none() && ids.is_empty() {
            return Err(Failure::usage(anyhow::anyhow!(
                "a live check needs registrations: --registration-id (repeatable) or --feed FILE"
            )));
        }
        let load = LoadSetup {
            plan,
            scenario_file: Some(scenario_file),
            destination,
            target: &self.target,
            max_rps: self.max_rps,
            report_dir: Some(self.report_dir.clone()),
            output: self.output,
        }
        .config(console)?;
        Ok(CheckConfig {
            allow_all_skipped: self.suite.allow_all_skipped,
            contract: suite,
            load,
        })
    }
}

pub fn run(args: CheckArgs, out: &mut dyn Write, console: Console) -> CmdResult {
    let dir = &args.report_dir;
    // The contract stage's tables are printed when it ends, before the load (a long soak does
    // not hide them); `shown` says whether they were.
    let mut shown = false;
    let result = judged(&args, console, out, &mut shown).map_err(|failure| {
        super::not_judged(failure, "check", |why| {
            report::check::not_judged_files(dir, why)
        })
    })?;
    let mut files = super::write_files(report::check::files(dir, &result))?;
    files.extend(report::check::goose_files(&result));
    let style = console.style();
    let reports = Some((dir.as_path(), files.as_slice()));
    if shown {
        report::check::human_after_contract(out, &result, reports, style)
    } else {
        report::check::human(out, &result, reports, style)
    }
    .map_err(io_failure)?;
    super::finish(result.outcome())
}

/// The configuration, the report directory, then both stages: a result, or why there is none.
fn judged(
    args: &CheckArgs,
    console: Console,
    out: &mut dyn Write,
    shown: &mut bool,
) -> Result<check::CheckResult, Failure> {
    let config = args.config(console)?;
    let dir = &args.report_dir;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the report directory {}", dir.display()))
        .map_err(Failure::runtime)?;
    let result = super::runtime()?.block_on(check::run(
        config,
        &mut progress_event(out, shown, console.style()),
    ));
    clear_progress();
    result.map_err(|e| match e {
        CheckError::Contract(e) => contract_failure(e),
        CheckError::Load(e) => load_failure(e),
    })
}

/// The progress of a check on a terminal (stderr), nothing else there: CI logs stay quiet. When
/// the load starts, the contract stage's tables go to `out` (on a terminal or not), and `shown`
/// says so. A write to `out` that fails leaves them to the end.
fn progress_event<'a>(
    out: &'a mut dyn Write,
    shown: &'a mut bool,
    style: report::Style,
) -> impl FnMut(Progress<'_>) + 'a {
    let terminal = std::io::stderr().is_terminal();
    let mut done = 0usize;
    move |event| {
        if let Progress::LoadStarting(suite) = event {
            clear_progress();
            *shown = report::check::human_contract(out, suite, style)
                .and_then(|()| out.flush())
                .is_ok();
        }
        if !terminal {
            return;
        }
        let mut err = std::io::stderr().lock();
        let _ = match event {
            Progress::Contract(Event::Started { cases, .. }) => {
                write!(err, "\r\x1b[2Kcontract: 0/{cases} cases")
            }
            Progress::Contract(Event::Case(case)) => {
                done += 1;
                write!(
                    err,
                    "\r\x1b[2Kcontract: {done} cases done, last {}",
                    case.name
                )
            }
            Progress::LoadStarting(_) => write!(err, "\r\x1b[2Kload: starting"),
        };
        let _ = err.flush();
    }
}
