//! `pushcheck contract`: the contract suite against the embedded simulator or a live account.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use super::args::parse_duration;
use super::auth::AuthArgs;
use super::{CmdResult, Console, Exit, Failure, io_failure};
use crate::contract::{self, ContractError, SuiteConfig, Target};
use crate::report;
use crate::schema::Mode;

const AFTER_HELP: &str = "\
Examples:
  pushcheck contract                                    # against the embedded simulator
  pushcheck contract --filter 'personalize.*' --strict
  PUSHCHECK_API_KEY=… pushcheck contract --target https://xxxxx.api.infobip.com \\
      --app-code MY_APP --registration-id REG1 --registration-id REG2 --allow-writes \\
      --report-junit junit.xml --report-json contract.json

Against a live target, cases that write run only with --allow-writes and only on the
--registration-id registrations; their writable fields are read first and written back after
each case (also on failure or Ctrl-C). Use dedicated test devices: a device's original person
binding cannot be read through this API, so it cannot be re-established. Cases that rely on
simulator choices the docs leave open are skipped against a live target.

Environment:
  PUSHCHECK_TARGET, PUSHCHECK_APP_CODE, PUSHCHECK_API_KEY, PUSHCHECK_BASIC,
  PUSHCHECK_IBSSO, PUSHCHECK_BEARER

Exit codes:
  0  every case passed (or was skipped)
  1  a case failed (or a live registration could not be restored)
  2  usage error (bad flag or URL, no case matches --filter, unreadable --registration-id)
  3  runtime error (target unreachable, simulator failed, report not writable, interrupted)";

/// Flags of `pushcheck contract`.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct ContractArgs {
    /// Base URL of a live account. Default: start the embedded simulator in-process.
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
    /// Write the JSON report here (its format: `pushcheck schemas list`, contract-report).
    #[arg(long, value_name = "PATH", help_heading = "Output")]
    report_json: Option<PathBuf>,
    /// Write a JUnit XML report here.
    #[arg(long, value_name = "PATH", help_heading = "Output")]
    report_junit: Option<PathBuf>,
    /// List the cases (name and what each checks) and exit.
    #[arg(long, help_heading = "Output")]
    list: bool,
}

/// The contract suite's flags, shared by `contract` and `check`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Contract")]
pub struct SuiteFlags {
    /// A registration the suite may use on a live target (repeat for more; some cases need 3).
    #[arg(long = "registration-id", value_name = "ID")]
    pub registration_ids: Vec<String>,
    /// Let cases that write run on a live target, on the --registration-id registrations only
    /// (their writable fields are restored afterwards).
    #[arg(long)]
    pub allow_writes: bool,
    /// Per-request timeout, e.g. 5s or 500ms.
    #[arg(long, default_value = "5s", value_parser = parse_duration, value_name = "DURATION")]
    pub timeout: Duration,
    /// Strict mode: fields no schema names are failures (default: reported as findings).
    #[arg(long)]
    pub strict: bool,
    /// Run only cases whose name contains PATTERN (or matches it, with * wildcards).
    #[arg(long, value_name = "PATTERN")]
    pub filter: Option<String>,
}

impl SuiteFlags {
    /// Lenient or strict.
    pub fn mode(&self) -> Mode {
        if self.strict {
            Mode::Strict
        } else {
            Mode::Lenient
        }
    }

    /// The suite configuration for `target` (`None`: the embedded simulator) and credentials.
    pub fn suite_config(
        &self,
        target: Option<&str>,
        auth: &AuthArgs,
    ) -> Result<SuiteConfig, Failure> {
        let credentials = auth
            .credentials()
            .map_err(|e| Failure::usage(anyhow::anyhow!(e)))?;
        let target = match target {
            None => Target::Simulator,
            Some(url) => Target::Live {
                base_url: url.to_owned(),
                registration_ids: self.registration_ids.clone(),
                allow_writes: self.allow_writes,
            },
        };
        Ok(SuiteConfig {
            target,
            credentials,
            app_code: auth.app_code.clone(),
            timeout: self.timeout,
            mode: self.mode(),
            filter: self.filter.clone(),
        })
    }
}

/// Maps a suite error to its exit code.
pub fn contract_failure(error: ContractError) -> Failure {
    match error {
        ContractError::NoCase(_) | ContractError::Unreadable { .. } | ContractError::Client(_) => {
            Failure::usage(error)
        }
        ContractError::Simulator(_) | ContractError::Unreachable { .. } => Failure::runtime(error),
    }
}

pub fn run(args: ContractArgs, out: &mut dyn Write, console: Console) -> CmdResult {
    if args.list {
        for case in contract::cases::all() {
            writeln!(out, "{:<48} {}", case.name, case.summary).map_err(io_failure)?;
        }
        return Ok(Exit::Passed);
    }
    let config = args
        .suite
        .suite_config(args.target.as_deref(), &args.auth)?;
    let runtime = super::runtime()?;
    let style = report::contract::Style {
        color: console.color,
    };
    // Lines are printed as cases finish; a write error stops nothing but is reported at the end.
    let mut write_error = None;
    let result = runtime
        .block_on(contract::run_with_progress(config, &mut |event| {
            let written = match event {
                contract::Event::Started {
                    target,
                    mode,
                    cases,
                } => report::contract::header(out, target, mode, cases),
                contract::Event::Case(case) => report::contract::case_line(out, case, style),
            };
            if let Err(e) = written.and_then(|()| out.flush()) {
                write_error.get_or_insert(e);
            }
        }))
        .map_err(contract_failure)?;
    if let Some(e) = write_error {
        return Err(io_failure(e));
    }
    report::contract::footer(out, &result, style).map_err(io_failure)?;
    write_reports(
        &result,
        args.report_json.as_ref(),
        args.report_junit.as_ref(),
    )?;
    Ok(if result.interrupted {
        Exit::Runtime
    } else if result.passed() {
        Exit::Passed
    } else {
        Exit::CheckFailed
    })
}

/// Writes the JSON and JUnit reports that were asked for.
pub fn write_reports(
    result: &contract::SuiteResult,
    json: Option<&PathBuf>,
    junit: Option<&PathBuf>,
) -> Result<(), Failure> {
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&report::contract::json(result))
            .context("cannot serialize the JSON report")
            .map_err(Failure::runtime)?;
        super::write_file(path, text.as_bytes())?;
    }
    if let Some(path) = junit {
        let xml = report::contract::junit(result)
            .context("cannot render the JUnit report")
            .map_err(Failure::runtime)?;
        super::write_file(path, xml.as_bytes())?;
    }
    Ok(())
}
