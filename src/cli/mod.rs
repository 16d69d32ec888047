//! The command line: clap definitions, dispatch, and the exit codes CI depends on.
//!
//! Everything here is glue: parse, call the library, render, map the outcome to an [`Exit`].
//! No check logic lives here.

pub mod args;
pub mod auth;
mod check;
mod contract;
mod diff;
mod generate;
mod load;
mod mock;
mod scenarios;
mod schemas;
mod suite;

use std::ffi::OsString;
use std::io::Write;

use clap::{Parser, Subcommand};

pub use crate::outcome::Exit;
use crate::outcome::Outcome;

const AFTER_HELP: &str = "\
Start here:
  pushcheck check                      # contract suite + smoke load on the embedded simulator
  pushcheck contract --filter 'patch.*'
  pushcheck load --scenario scenarios/read-heavy.toml
  pushcheck mock --seed-registrations 1000
  pushcheck schemas lint-docs --strict

Environment (check, contract, load, mock):
  PUSHCHECK_TARGET, PUSHCHECK_APP_CODE, PUSHCHECK_API_KEY, PUSHCHECK_BASIC,
  PUSHCHECK_IBSSO, PUSHCHECK_BEARER

Exit codes:
  0  everything checked passed
  1  a check failed (schema violation, failed case, threshold or invariant)
  2  usage or configuration error (wrong flag, unknown schema, unreadable or malformed input)
  3  runtime error (target unreachable, I/O)";

/// Contract tests and load tests, in one verdict, for the People v2 push contact-information API.
#[derive(Debug, Parser)]
#[command(name = "pushcheck", version, after_help = AFTER_HELP, term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The main job: the contract suite, then the smoke load, then one verdict and the reports.
    Check(Box<check::CheckArgs>),
    /// Run the contract suite against the embedded simulator (default) or a live account.
    Contract(Box<contract::ContractArgs>),
    /// Run a load scenario (goose): schema validation under load, thresholds, and invariant
    /// checks after the load, in one verdict.
    Load(Box<load::LoadArgs>),
    /// Run the embedded simulator of the API as a standalone server, until SIGINT/SIGTERM.
    Mock(Box<mock::MockArgs>),
    /// Work with the JSON Schemas of the API's payloads: list, validate, lint the doc examples,
    /// export OpenAPI, diff a published OpenAPI file against them.
    #[command(subcommand, after_help = schemas::AFTER_HELP)]
    Schemas(schemas::SchemasCommand),
    /// The built-in load scenarios: list them, or print one to start from.
    #[command(subcommand, after_help = scenarios::AFTER_HELP)]
    Scenarios(scenarios::ScenariosCommand),
}

/// How output may be styled, and what the process's output belongs to.
#[derive(Debug, Clone, Copy, Default)]
pub struct Console {
    /// ANSI colours (only when stdout is a terminal and `NO_COLOR` is unset).
    pub color: bool,
    /// The process's stdout is this command's alone (the binary): it may be pointed at
    /// /dev/null while goose runs, so goose's stray lines stay out of the verdict or JSON.
    /// Tests that call [`run`] in-process share stdout with the test harness and leave it.
    pub own_stdout: bool,
}

impl Console {
    /// How human reports are styled.
    pub fn style(self) -> crate::report::Style {
        crate::report::Style { color: self.color }
    }

    /// Colour when standard output is a terminal, unless `NO_COLOR` is set; the binary's own
    /// stdout.
    pub fn detect() -> Console {
        use std::io::IsTerminal;
        Console {
            color: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
            own_stdout: true,
        }
    }
}

/// Checks that a command line parses (names a real subcommand with valid flags) without running
/// it; for tests that keep documented commands (README, CI recipes) honest.
pub fn parse_args<I, T>(args: I) -> Result<(), String>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    Cli::try_parse_from(args)
        .map(drop)
        .map_err(|e| e.to_string())
}

/// Runs the command line `args` (including the program name), writing plain text to `out` and
/// `err`. Tests call this; the binary calls [`run_with`] with [`Console::detect`].
pub fn run<I, T>(args: I, out: &mut dyn Write, err: &mut dyn Write) -> Exit
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    run_with(args, out, err, Console::default())
}

/// Runs the command line `args`, styling output as `console` allows.
pub fn run_with<I, T>(args: I, out: &mut dyn Write, err: &mut dyn Write, console: Console) -> Exit
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let exit = if e.use_stderr() {
                Exit::Usage
            } else {
                Exit::Passed
            };
            let target: &mut dyn Write = if e.use_stderr() { err } else { out };
            let _ = write!(target, "{}", e.render());
            return exit;
        }
    };
    if matches!(
        cli.command,
        Command::Check(_) | Command::Contract(_) | Command::Load(_)
    ) {
        // pushcheck's handler of Ctrl-C, SIGTERM and SIGHUP, before goose can install its own
        // (see crate::interrupt).
        crate::interrupt::install();
    }
    let result = match cli.command {
        Command::Schemas(cmd) => schemas::run(cmd, out, console),
        Command::Scenarios(cmd) => scenarios::run(cmd, out),
        Command::Check(args) => check::run(*args, out, console),
        Command::Contract(args) => contract::run(*args, out, console),
        Command::Mock(args) => mock::run(*args, out),
        Command::Load(args) => load::run(*args, out, err, console),
    };
    match result {
        Ok(exit) => exit,
        Err(failure) => {
            let _ = writeln!(err, "error: {:#}", failure.error);
            failure.exit
        }
    }
}

/// An error at the top, with the exit code it maps to.
#[derive(Debug)]
struct Failure {
    exit: Exit,
    error: anyhow::Error,
}

impl Failure {
    fn usage(error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            exit: Exit::Usage,
            error: error.into(),
        }
    }

    /// The target misbehaved before there was a result to report (exit 1: the server's fault).
    pub(super) fn server(error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            exit: Exit::CheckFailed,
            error: error.into(),
        }
    }

    fn runtime(error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            exit: Exit::Runtime,
            error: error.into(),
        }
    }
}

type CmdResult = Result<Exit, Failure>;

/// Writing to stdout failed (a closed pipe, a full disk): a runtime error.
fn io_failure(error: std::io::Error) -> Failure {
    Failure::runtime(anyhow::Error::new(error).context("cannot write output"))
}

/// The tokio runtime a command runs its async work on.
fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            Failure::runtime(anyhow::Error::new(e).context("cannot start the async runtime"))
        })
}

/// Writes the report files a command rendered; a file that cannot be rendered or written is a
/// runtime error naming it.
fn write_files(files: Vec<crate::report::File>) -> Result<Vec<String>, Failure> {
    crate::report::write_files(files).map_err(Failure::runtime)
}

/// A command that ended without a result (exit 2 or 3, or the server's fault before any)
/// still leaves the reports it was asked for, saying why ([`crate::report::not_judged`]): each
/// file written on its own, its directory created. Returns the failure; a file that cannot be
/// written either is named after it.
fn not_judged(
    failure: Failure,
    command: &'static str,
    files: impl FnOnce(&crate::report::not_judged::NotJudged<'_>) -> Vec<crate::report::File>,
) -> Failure {
    let reason = format!("{:#}", failure.error);
    let why = crate::report::not_judged::NotJudged {
        command,
        exit: failure.exit,
        reason: &reason,
    };
    let mut unwritten = Vec::new();
    for (path, text) in files(&why) {
        let written = text.map_err(|e| e.to_string()).and_then(|text| {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
            }
            std::fs::write(&path, text).map_err(|e| e.to_string())
        });
        // A path the error already names (the report path itself is unwritable) is not
        // named twice.
        match written {
            Err(e) if !reason.contains(&path.display().to_string()) => {
                unwritten.push(format!("{}: {e}", path.display()));
            }
            _ => {}
        }
    }
    if unwritten.is_empty() {
        return failure;
    }
    Failure {
        exit: failure.exit,
        error: anyhow::anyhow!(
            "{reason}\n(the reports saying so could not be written either: {})",
            unwritten.join("; ")
        ),
    }
}

/// The exit code of a finished run ([`Exit::of`]); a configuration mistake the run found is
/// printed as an error, like any other usage error.
fn finish(outcome: Outcome) -> CmdResult {
    match outcome {
        Outcome::Mistake(why) => Err(Failure::usage(anyhow::anyhow!(why))),
        other => Ok(Exit::of(&other)),
    }
}
