//! `pushcheck scenarios list` and `pushcheck scenarios show NAME`: the built-in scenarios, to
//! run by name (`--scenario read-heavy`) or to print and start a file of one's own from.

use std::io::Write;
use std::path::Path;

use clap::Subcommand;

use super::{CmdResult, Exit, Failure, io_failure};
use crate::load::Scenario;
use crate::load::scenario::builtin;

pub const AFTER_HELP: &str = "\
Examples:
  pushcheck scenarios list
  pushcheck scenarios show read-heavy > my-scenario.toml
  pushcheck load --scenario read-heavy

Exit codes:
  0  listed or shown
  2  no built-in scenario of that name
  3  I/O error (stdout closed)";

#[derive(Debug, Subcommand)]
pub enum ScenariosCommand {
    /// List the built-in scenarios: name and description.
    List,
    /// Print a built-in scenario's TOML (to run as is with --scenario NAME, or to copy).
    Show {
        /// A name from `pushcheck scenarios list`.
        name: String,
    },
}

pub fn run(cmd: ScenariosCommand, out: &mut dyn Write) -> CmdResult {
    match cmd {
        ScenariosCommand::List => {
            for (name, text) in builtin::BUILT_IN {
                let description = Scenario::from_toml(text, Path::new(name))
                    .ok()
                    .and_then(|s| s.description)
                    .unwrap_or_default();
                writeln!(out, "{name:<18} {description}").map_err(io_failure)?;
            }
            Ok(Exit::Passed)
        }
        ScenariosCommand::Show { name } => {
            let text = builtin::text_of(&name).ok_or_else(|| {
                Failure::usage(anyhow::anyhow!(
                    "no built-in scenario {name:?}; built in: {}",
                    builtin::names()
                ))
            })?;
            out.write_all(text.as_bytes()).map_err(io_failure)?;
            Ok(Exit::Passed)
        }
    }
}
