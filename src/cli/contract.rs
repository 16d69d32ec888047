//! `pushcheck contract`: the contract suite against the embedded simulator or a live account.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use super::auth::{TargetArgs, tls_and_proxies};
use super::suite::{SuiteFlags, check_report_paths, contract_failure};
use super::{CmdResult, Console, Exit, Failure, io_failure};
use crate::contract;
use crate::report;

const AFTER_HELP: &str = concat!("\
Examples:
  pushcheck contract                                    # against the embedded simulator
  pushcheck contract --filter 'personalize.*' --strict
  PUSHCHECK_API_KEY=… pushcheck contract --target https://xxxxx.api.infobip.com \\
      --app-code MY_APP --registration-id REG1 --registration-id REG2 --allow-writes \\
      --report-junit junit.xml --report-json contract.json
  pushcheck contract --generate 2000 --seed 42           # generated sequences, checked against the model
  pushcheck contract --replay pushcheck-replay.json      # rerun a saved (shrunk) failing sequence

A loopback --target without credentials (a `pushcheck mock` of your own) is sent the
simulator's local API key, as `load` does.

Against a live target, every --registration-id is read once before any case (a wrong key, an
unknown app code or a registration that does not exist stops the run with exit 2; a read the
server garbles is its fault: exit 1). Cases that write run only with --allow-writes and only on
those registrations. Before them, a few probe requests prove each device belongs to nobody (a
personalize of a fresh identity without forceDepersonalize: refused on a device of someone else,
which is then named and left alone, exit 2) and learn what the target chose where the docs are
silent (does null delete a custom attribute, may a device of nobody be primary, what does
depersonalize do): printed as \"target choices\", and a case relying on a choice runs only where
the target chose the same. After each writing case the devices are put back and read back; what
stays is listed under \"left on the devices\" with its cause: a target's choice (it cannot delete
pushcheck's few fixed pushcheck_… attributes, say) is reported, not failed, unless
--fail-on-residue; a server fault (a 5xx, a write answered 200 and not applied) fails the run.
A stop signal (Ctrl-C, SIGTERM or SIGHUP) stops any run, the simulator's and --generate/--replay
included: a live target's devices are restored, the reports written, and the exit code is 3; a
second signal skips the restore and lists what was not restored. Cases that rely on simulator choices the target was not probed for are skipped. A run in
which every case was skipped checked nothing: exit 2, unless --allow-all-skipped. Credentials
never go in the URL (user:pass@ is refused).

--generate N sends about N generated requests, in sequences of get/patch/personalize/
depersonalize over 3 registrations, and after every step compares status, error code, the
answer and every registration read back with the simulator's rules run in process; a
difference is shrunk to a short sequence, printed as steps and as curl commands (credential
redacted) and saved (--save-replay) for --replay. With --target the same sequences go to the
live target, only with --allow-writes, on --registration-id devices that belong to nobody (each
is probed first), at --max-rps (default 5), with identities of a reserved namespace
(pushcheck-gen-…, @example.invalid, 555-01XX phones); the devices are restored afterwards, and a
difference that a documented simulator choice explains is reported, not failed.

", tls_and_proxies!(), "
Environment:
  PUSHCHECK_TARGET, PUSHCHECK_APP_CODE, PUSHCHECK_API_KEY, PUSHCHECK_BASIC,
  PUSHCHECK_IBSSO, PUSHCHECK_BEARER, PUSHCHECK_CA_CERT

Exit codes:
  0  every case passed (or was skipped, with at least one run or --allow-all-skipped)
  1  a case failed, a probe or a restore met a server fault (a garbled answer, a depersonalize
     without effect, a write answered 200 and not applied), a leftover with --fail-on-residue,
     breaking drift with --strict, or --generate/--replay found target and model differ
  2  configuration error: bad flag or URL, credentials in the URL, no case matches --filter,
     credentials rejected, unknown app code, a --registration-id that does not exist or
     belonged to a person before the run, no --registration-id for a live target, report
     path not writable, every case skipped
  3  runtime error (target unreachable, simulator failed, report write failed, interrupted)");

/// Flags of `pushcheck contract`.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct ContractArgs {
    #[command(flatten)]
    target: TargetArgs,
    #[command(flatten)]
    suite: SuiteFlags,
    #[command(flatten)]
    generate: super::generate::GenerateFlags,
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

/// `--list`: the selected cases; a reader that stops early (`| head`) ends it quietly.
fn list(filters: &[String], out: &mut dyn Write) -> CmdResult {
    let selected = contract::select(filters);
    if selected.is_empty() {
        return Err(Failure::usage(anyhow::anyhow!(
            "no case matches the filter {:?}",
            filters.join(", ")
        )));
    }
    for case in selected {
        match writeln!(out, "{:<48} {}", case.name, case.summary) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(Exit::Passed),
            Err(e) => return Err(io_failure(e)),
        }
    }
    match out.flush() {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(io_failure(e)),
        _ => Ok(Exit::Passed),
    }
}

pub fn run(args: ContractArgs, out: &mut dyn Write, console: Console) -> CmdResult {
    if args.list {
        return list(&args.suite.filter, out);
    }
    let style = console.style();
    let (result, write_error) = judged(&args, out, console).map_err(|failure| {
        super::not_judged(failure, "contract", |why| {
            [
                (&args.report_json, report::not_judged::contract_json(why)),
                (&args.report_junit, report::not_judged::junit(why)),
            ]
            .into_iter()
            .filter_map(|(path, text)| Some((path.clone()?, text)))
            .collect()
        })
    })?;
    let result = match result {
        Judged::Suite(result) => result,
        Judged::Generated(exit) => return Ok(exit),
    };
    // A stdout gone mid-run (a terminal closed: SIGHUP) still gets the report files written.
    let printed = match write_error {
        Some(e) => Err(e),
        None => report::contract::footer(out, &result, style),
    };
    let files: Vec<report::File> = [
        (args.report_json, report::contract::json(&result)),
        (args.report_junit, report::contract::junit(&result)),
    ]
    .into_iter()
    .filter_map(|(path, text)| Some((path?, text)))
    .collect();
    super::write_files(files)?;
    printed.map_err(io_failure)?;
    super::finish(result.outcome(args.suite.allow_all_skipped))
}

/// What a contract command ran to: the suite's result, or a generated run's exit.
enum Judged {
    Suite(Box<contract::SuiteResult>),
    Generated(Exit),
}

/// The configuration, then the suite (case lines printed as they finish; a write error stops
/// nothing and is handed back), or `--generate`/`--replay`: a result, or why there is none.
fn judged(
    args: &ContractArgs,
    out: &mut dyn Write,
    console: Console,
) -> Result<(Judged, Option<std::io::Error>), Failure> {
    if args.generate.active() {
        if args.report_json.is_some() || args.report_junit.is_some() {
            return Err(Failure::usage(anyhow::anyhow!(
                "--report-json and --report-junit report the hand-written suite; --generate and --replay print their finding and save it with --save-replay"
            )));
        }
        let exit = super::generate::run(&args.generate, &args.target, &args.suite, out, console)?;
        return Ok((Judged::Generated(exit), None));
    }
    let config = args.suite.suite_config(&args.target)?;
    if args.target.target.is_some() && args.suite.registration_ids.is_empty() {
        return Err(Failure::usage(
            crate::api::preflight::PreflightError::NoRegistrations,
        ));
    }
    check_report_paths(&[args.report_json.as_ref(), args.report_junit.as_ref()])?;
    let runtime = super::runtime()?;
    let style = console.style();
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
    Ok((Judged::Suite(Box::new(result)), write_error))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer whose reader went away after `left` bytes, as `| head` leaves stdout.
    struct ClosedPipe {
        left: usize,
    }

    impl Write for ClosedPipe {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.left == 0 {
                return Err(std::io::ErrorKind::BrokenPipe.into());
            }
            let n = buf.len().min(self.left);
            self.left -= n;
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn list_into_a_closed_pipe_ends_quietly() {
        let exit = list(&[], &mut ClosedPipe { left: 200 });
        assert!(matches!(exit, Ok(Exit::Passed)), "{exit:?}");
        let all = list(&["get.".to_owned()], &mut Vec::new());
        assert!(matches!(all, Ok(Exit::Passed)));
    }

    /// stdout gone mid-run (a closed terminal, after its SIGHUP): the run still writes its
    /// report files, and ends as a runtime error.
    #[test]
    fn reports_are_written_when_stdout_is_gone() {
        let dir = tempfile::tempdir().expect("temp dir");
        let json = dir.path().join("c.json");
        let args = [
            "pushcheck",
            "contract",
            "--filter",
            "get.existing",
            "--report-json",
            json.to_str().expect("utf-8"),
        ];
        let exit = crate::cli::run(args, &mut ClosedPipe { left: 20 }, &mut Vec::new());
        let written = std::fs::read_to_string(&json);
        assert_eq!(exit, Exit::Runtime);
        let report: serde_json::Value =
            serde_json::from_str(&written.expect("c.json written")).expect("JSON");
        assert_eq!(report["summary"]["passed"], 1);
    }
}
