//! `pushcheck check`: the main job — contract suite, smoke load, one verdict, reports.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

use super::auth::AuthArgs;
use super::contract::{SuiteFlags, contract_failure, refuse_feed_without_target};
use super::load::{load_failure, progress_line};
use super::{CmdResult, Console, Exit, Failure, io_failure, write_file};
use crate::check::{self, CheckConfig, CheckError, LoadStage, Progress};
use crate::contract::Event;
use crate::load::embedded::Destination;
use crate::load::scenario::Mix;
use crate::load::{
    self, DEFAULT_FEED_LIMIT, DEFAULT_REQUEST_TIMEOUT, FeedSource, JUNIT_XML, LoadConfig,
    REPORT_HTML, REPORT_JSON, Rule, SUMMARY_JSON, Scenario, Target,
};
use crate::mock::local_credentials;
use crate::report;
use crate::schema::Mode;

/// The combined JSON report's file name.
pub const CHECK_JSON: &str = "check.json";
/// The scenario `check` runs unless told otherwise.
const DEFAULT_SCENARIO: &str = "scenarios/smoke.toml";
/// That scenario, built in, for when the binary runs outside the project directory.
const BUILT_IN_SMOKE: &str = include_str!("../../scenarios/smoke.toml");

const AFTER_HELP: &str = "\
Without --target, each stage starts the embedded simulator on 127.0.0.1: the contract suite
runs every case, then the smoke load runs with validation of responses, its thresholds, and the
checks after the load (no acknowledged write lost, the simulator's invariants). One verdict,
then reports in --report-dir: check.json (schema check-report), junit.xml (contract cases,
thresholds, invariants), summary.json, and goose's report.html and report.json.

With --target, both stages go to that account: contract cases that write need --allow-writes
and --registration-id (restored afterwards); the load needs --allow-remote for a non-loopback
host (capped at 50 requests/s per operation unless --max-rps). The load writes only to the
devices of --feed FILE (its own load devices: it writes a run attribute, removed at the end,
and personalizes them to pushcheck-load-… people); without --feed it only reads the
--registration-id devices, so the contract's test devices are left as the suite restored them.

Ctrl-C stops the running stage (the contract suite restores its devices first) and skips the
later ones; the reports are written and the exit code is 3.

Examples:
  pushcheck check
  pushcheck check --threshold 'p95<50ms' --report-dir reports
  PUSHCHECK_API_KEY=… pushcheck check --target https://xxxxx.api.infobip.com --app-code MY_APP \\
      --registration-id REG1 --registration-id REG2 --registration-id REG3 \\
      --allow-writes --allow-remote

Environment:
  PUSHCHECK_TARGET, PUSHCHECK_APP_CODE, PUSHCHECK_API_KEY, PUSHCHECK_BASIC,
  PUSHCHECK_IBSSO, PUSHCHECK_BEARER

Exit codes:
  0  every contract case, threshold and invariant passed
  1  a case, threshold or invariant failed
  2  usage or configuration error (bad flag, scenario value or threshold, remote load without --allow-remote)
  3  runtime error (target unreachable, simulator or I/O failure, interrupted)";

/// Flags of `pushcheck check`.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP, allow_negative_numbers = true)]
pub struct CheckArgs {
    /// Base URL of a live account. Default: the embedded simulator.
    #[arg(
        long,
        env = "PUSHCHECK_TARGET",
        hide_env_values = true,
        value_name = "URL"
    )]
    target: Option<String>,
    #[command(flatten)]
    auth: AuthArgs,
    #[command(flatten)]
    suite: SuiteFlags,
    /// Load scenario (default: scenarios/smoke.toml, or its built-in copy outside the project).
    #[arg(long, value_name = "FILE", help_heading = "Load")]
    scenario: Option<PathBuf>,
    /// Load pass/fail rule; repeatable; added to the scenario's (replacing its rule on the same
    /// metric and request).
    #[arg(long, value_name = "RULE", value_parser = parse_rule, help_heading = "Load")]
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

fn parse_rule(s: &str) -> Result<Rule, String> {
    s.parse()
}

impl CheckArgs {
    fn scenario(&self) -> Result<(Scenario, PathBuf), Failure> {
        let path = self
            .scenario
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_SCENARIO));
        let scenario = if self.scenario.is_none() && !path.exists() {
            Scenario::from_toml(BUILT_IN_SMOKE, Path::new("(built-in) scenarios/smoke.toml"))
        } else {
            Scenario::from_file(&path)
        };
        Ok((scenario.map_err(Failure::usage)?, path))
    }
}

pub fn run(args: CheckArgs, out: &mut dyn Write, console: Console) -> CmdResult {
    refuse_feed_without_target(args.feed.as_deref(), args.target.as_deref())?;
    let suite = args
        .suite
        .suite_config(args.target.as_deref(), &args.auth)?;

    let (mut scenario, scenario_path) = args.scenario()?;
    scenario.flag_thresholds = args.threshold.clone();
    if args.target.is_some() && args.feed.is_none() {
        // Without devices of its own, a live load only reads: the --registration-id devices
        // belong to the contract suite, which restores them; the load could not.
        scenario.mix = Some(Mix {
            get: 1,
            ..Mix::default()
        });
    }
    if suite.mode == Mode::Strict {
        let mut validation = scenario.validation.unwrap_or_default();
        validation.mode = Some(load::scenario::ValidationMode::Strict);
        scenario.validation = Some(validation);
    }
    let plan = scenario
        .resolve()
        .map_err(|e| Failure::usage(anyhow::anyhow!("{}: {e}", scenario_path.display())))?;

    std::fs::create_dir_all(&args.report_dir)
        .with_context(|| {
            format!(
                "cannot create the report directory {}",
                args.report_dir.display()
            )
        })
        .map_err(Failure::runtime)?;

    let (destination, feed) = match &args.target {
        None => (
            Destination::Simulator {
                seed_registrations: args.seed_registrations,
            },
            FeedSource::Admin,
        ),
        Some(url) => {
            let target = Target::parse(url, args.allow_remote).map_err(Failure::usage)?;
            let feed = match &args.feed {
                Some(file) => FeedSource::File(file.clone()),
                None => {
                    let ids = &args.suite.registration_ids;
                    if ids.is_empty() {
                        return Err(Failure::usage(anyhow::anyhow!(
                            "a live check needs registrations: --registration-id (repeatable) or --feed FILE"
                        )));
                    }
                    // The load's feed is the --registration-id list, kept with the reports.
                    let file = args.report_dir.join("feed.txt");
                    write_file(&file, (ids.join("\n") + "\n").as_bytes())?;
                    FeedSource::File(file)
                }
            };
            (Destination::Url(target), feed)
        }
    };
    let load_credentials = match suite.credentials.first() {
        Some(c) => c.clone(),
        None => local_credentials()
            .into_iter()
            .next()
            .context("the simulator has no local credentials")
            .map_err(Failure::runtime)?,
    };
    let terminal = std::io::stderr().is_terminal();
    let report_dir = args.report_dir.clone();
    let app_code = args.auth.app_code.clone();
    let config = CheckConfig {
        allow_all_skipped: args.suite.allow_all_skipped,
        contract: suite,
        load: LoadStage {
            destination,
            build: Box::new(move |target| LoadConfig {
                plan,
                scenario_file: Some(scenario_path),
                target,
                credentials: load_credentials,
                simulator_invariants: feed == FeedSource::Admin,
                feed,
                app_code,
                feed_limit: DEFAULT_FEED_LIMIT,
                report_dir: Some(report_dir),
                baseline: None,
                max_rps: args.max_rps,
                request_timeout: DEFAULT_REQUEST_TIMEOUT,
                embedded_simulator: false,
                quiet_stdout: console.own_stdout,
                progress: terminal.then(|| Box::new(progress_line) as load::ProgressFn),
            }),
        },
    };

    let runtime = super::runtime()?;
    let mut done = 0usize;
    let result = runtime.block_on(check::run(config, &mut |event| {
        // Progress on a terminal only, on stderr; CI logs stay quiet.
        if !terminal {
            return;
        }
        let mut err = std::io::stderr().lock();
        match event {
            Progress::Contract(Event::Started { cases, .. }) => {
                let _ = write!(err, "\r\x1b[2Kcontract: 0/{cases} cases");
            }
            Progress::Contract(Event::Case(case)) => {
                done += 1;
                let _ = write!(
                    err,
                    "\r\x1b[2Kcontract: {done} cases done, last {}",
                    case.name
                );
            }
            Progress::LoadStarting => {
                let _ = write!(err, "\r\x1b[2Kload: starting");
            }
        }
        let _ = err.flush();
    }));
    if terminal {
        eprint!("\r\x1b[2K");
    }
    let result = result.map_err(|e| match e {
        CheckError::Contract(e) => contract_failure(e),
        CheckError::Load(e) => load_failure(e),
    })?;

    let dir = &args.report_dir;
    let combined = serde_json::to_string_pretty(&report::check::json(&result))
        .context("cannot serialize the JSON report")
        .map_err(Failure::runtime)?;
    write_file(&dir.join(CHECK_JSON), combined.as_bytes())?;
    let junit = report::check::junit(&result)
        .context("cannot render the JUnit report")
        .map_err(Failure::runtime)?;
    write_file(&dir.join(JUNIT_XML), junit.as_bytes())?;
    if let Some(load) = &result.load {
        write_file(
            &dir.join(SUMMARY_JSON),
            report::load::summary_json(load).as_bytes(),
        )?;
    }
    let mut files: Vec<String> = vec![CHECK_JSON.to_owned(), JUNIT_XML.to_owned()];
    if result.load.is_some() {
        files.extend([SUMMARY_JSON, REPORT_HTML, REPORT_JSON].map(String::from));
    }
    let style = report::contract::Style {
        color: console.color,
    };
    report::check::human(out, &result, Some((dir, &files)), style).map_err(io_failure)?;
    if let Some(mistake) = args.suite.configuration_verdict(&result.contract) {
        return Err(mistake);
    }
    Ok(if result.interrupted() || result.never_answered() {
        Exit::Runtime
    } else if result.passed {
        Exit::Passed
    } else {
        Exit::CheckFailed
    })
}
