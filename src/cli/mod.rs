//! The command line: clap definitions, dispatch, and the exit codes CI depends on.
//!
//! Everything here is glue: parse, call the library, render, map the outcome to an [`Exit`].
//! No check logic lives here.

pub mod auth;
mod schemas;

use std::ffi::OsString;
use std::io::Write;

use clap::{Parser, Subcommand};

/// Exit codes. "A check failed" and "the run broke" are different things for CI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything checked passed.
    Passed = 0,
    /// A check, case, threshold or invariant failed.
    CheckFailed = 1,
    /// Wrong flag, unknown name, unreadable or malformed input: fix the command line or file.
    Usage = 2,
    /// The run itself broke: target unreachable, I/O error.
    Runtime = 3,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> i32 {
        self as i32
    }
}

const AFTER_HELP: &str = "\
Exit codes:
  0  everything checked passed
  1  a check failed (schema violation, failed case, threshold or invariant)
  2  usage or configuration error (wrong flag, unknown schema, unreadable or malformed input)
  3  runtime error (target unreachable, I/O)";

/// Contract tests and load tests, in one verdict, for the People v2 push contact-information API.
#[derive(Debug, Parser)]
#[command(name = "pushcheck", version, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Work with the JSON Schemas of the API's payloads: list, validate, lint the doc examples,
    /// export OpenAPI.
    #[command(subcommand)]
    Schemas(schemas::SchemasCommand),
}

/// Runs the command line `args` (including the program name), writing to `out` and `err`.
pub fn run<I, T>(args: I, out: &mut dyn Write, err: &mut dyn Write) -> Exit
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
    let result = match cli.command {
        Command::Schemas(cmd) => schemas::run(cmd, out),
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
