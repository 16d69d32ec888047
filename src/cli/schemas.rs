//! `pushcheck schemas …`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};

use super::{CmdResult, Console, Exit, Failure, io_failure};
use crate::report;
use crate::schema::{self, Mode, input};

pub const AFTER_HELP: &str = "\
Examples:
  pushcheck schemas list
  pushcheck schemas validate push-registration response.json --strict
  pushcheck schemas lint-docs --strict
  pushcheck schemas openapi --output openapi.json
  pushcheck schemas diff people-openapi.yaml --baseline openapi-accepted.json

Reads no environment variables.

Exit codes:
  0  valid (validate), every doc example valid (lint-docs), written (openapi), nothing new
     (diff)
  1  violations found; a new breaking finding or disagreement (diff)
  2  unknown schema name, or a file that is missing, empty, binary, too large or not JSON (or
     for diff: not YAML, not OpenAPI 3.0/3.1, none of the four operations)
  3  I/O error (e.g. --output not writable)";

#[derive(Debug, Subcommand)]
pub enum SchemasCommand {
    /// List every schema's name and title.
    List,
    /// Validate one JSON document against a named schema.
    ///
    /// Prints every violation with its JSON pointer, the schema keyword that failed and a plain
    /// message. Exit 0 valid, 1 violations, 2 unknown schema / unreadable file / not JSON.
    #[command(
        after_help = "Examples:\n  pushcheck schemas validate push-registration response.json\n  curl -s … | pushcheck schemas validate personalize-response - --strict"
    )]
    Validate {
        /// Schema name (see `pushcheck schemas list`).
        name: String,
        /// JSON file to validate, or `-` for standard input.
        file: String,
        #[command(flatten)]
        strictness: Strictness,
    },
    /// Check the documentation's JSON examples against the schemas and list the known
    /// doc-vs-spec disagreements. With --strict, the doc's `isPrmary` typo fails.
    LintDocs {
        #[command(flatten)]
        strictness: Strictness,
    },
    /// Print an OpenAPI 3.1 document for the four operations, assembled from the schemas.
    Openapi {
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Compare a published OpenAPI 3.0/3.1 document (JSON or YAML) with pushcheck's schemas:
    /// per operation and status, each finding breaking, additive, disagreement or known.
    #[command(after_help = super::diff::AFTER_HELP)]
    Diff(super::diff::DiffArgs),
}

#[derive(Debug, Args)]
pub struct Strictness {
    /// Strict mode: any property no schema names is a violation (default: lenient, unknown
    /// properties allowed as the documented contract).
    #[arg(long)]
    strict: bool,
}

impl Strictness {
    fn mode(&self) -> Mode {
        if self.strict {
            Mode::Strict
        } else {
            Mode::Lenient
        }
    }
}

pub fn run(cmd: SchemasCommand, out: &mut dyn Write, console: Console) -> CmdResult {
    let registry = schema::registry();
    match cmd {
        SchemasCommand::List => {
            for (name, title) in registry.list() {
                writeln!(out, "{name:<22} {title}").map_err(io_failure)?;
            }
            Ok(Exit::Passed)
        }
        SchemasCommand::Validate {
            name,
            file,
            strictness,
        } => {
            let mode = strictness.mode();
            // Check the name before reading input, so a typo never waits on stdin.
            registry.document(&name).map_err(Failure::usage)?;
            let source = input::Source::parse(&file);
            let document = input::read_json(&source).map_err(Failure::usage)?;
            let violations = registry
                .validate(&name, mode, &document)
                .map_err(Failure::usage)?;
            let mode_name = mode;
            if violations.is_empty() {
                writeln!(out, "{source}: valid {name} ({mode_name} mode)").map_err(io_failure)?;
                Ok(Exit::Passed)
            } else {
                writeln!(
                    out,
                    "{source}: {} violation(s) of {name} ({mode_name} mode)",
                    violations.len()
                )
                .map_err(io_failure)?;
                report::schemas::violations(out, &violations).map_err(io_failure)?;
                Ok(Exit::CheckFailed)
            }
        }
        SchemasCommand::LintDocs { strictness } => {
            let lint =
                schema::lint::lint_docs(registry, strictness.mode()).map_err(Failure::runtime)?;
            report::schemas::lint(out, &lint).map_err(io_failure)?;
            Ok(if lint.passed() {
                Exit::Passed
            } else {
                Exit::CheckFailed
            })
        }
        SchemasCommand::Diff(args) => super::diff::run(args, out, console),
        SchemasCommand::Openapi { output } => {
            let document = schema::openapi::document(registry);
            let mut text = serde_json::to_string_pretty(&document)
                .context("cannot serialize the OpenAPI document")
                .map_err(Failure::runtime)?;
            text.push('\n');
            match output {
                Some(path) => std::fs::write(&path, text)
                    .with_context(|| format!("cannot write {}", path.display()))
                    .map_err(Failure::runtime)?,
                None => out.write_all(text.as_bytes()).map_err(io_failure)?,
            }
            Ok(Exit::Passed)
        }
    }
}
