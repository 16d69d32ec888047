//! `pushcheck schemas diff FILE|-`: flags → [`crate::schema::diff::diff`] → a report → an exit
//! code. No comparison logic lives here.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use super::{CmdResult, Console, Exit, Failure, io_failure};
use crate::report;
use crate::schema::diff::{self, Baseline, Options};
use crate::schema::{self, input::Source};

pub const AFTER_HELP: &str = "\
Finds GET and PATCH /people/2/contactInformation/push/{id} and POST …/{id}/personalize and
…/{id}/depersonalize by method and path template (whatever the path parameter is called), and
compares per operation and status: parameters (forceDepersonalize, keepAsLead, returnPush,
setDeviceAsPrimary, the path ID, the AppCode header), the request body and every response
body. $refs (into components, chains) are followed, 3.0's nullable and allOf normalized: the
schemas are compared by structure, never as text.

Read-only properties are left out of request bodies (and write-only ones out of responses), as
OpenAPI says. Findings are grouped by cause: the same difference between the same two schemas is
one line, with the number of operation×status places it shows at (-v lists them, with a JSON
pointer on both sides: pushcheck's into `pushcheck schemas openapi`, shown as the schemas/ file;
generated hash prefixes of component names are shortened). --json and --junit list every
finding. Each has a class:
  breaking      breaks a client built to the docs: a response field removed, retyped or made
                nullable, an enum value or a looser limit in a response, a tighter limit or a
                new required field in a request, a parameter or operation missing
  disagreement  the file and the docs say different things (a format, an error body shape)
  known         a disagreement pushcheck already lists (`pushcheck schemas lint-docs`)
  additive      compatible (a new optional field, a narrower response)

Examples:
  pushcheck schemas diff people-openapi.yaml
  curl -fsS \"$PUSHCHECK_OPENAPI_URL\" | pushcheck schemas diff - --baseline openapi-accepted.json
  pushcheck schemas diff openapi.json --write-baseline openapi-accepted.json
  pushcheck schemas diff openapi.json --json --junit reports/openapi-diff.xml
  pushcheck schemas diff openapi.json --baseline examples/ci/openapi-accepted.json -v

Exit codes:
  0  no new breaking finding or disagreement (known ones fail only with --strict; additive
     ones never)
  1  a new breaking finding or disagreement (an operation missing from the file is breaking)
  2  usage: unreadable file, not JSON or YAML, not OpenAPI 3.0/3.1, a $ref that leads nowhere,
     none of the four operations in it, a bad --baseline file
  3  a report or baseline could not be written";

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The published OpenAPI 3.0 or 3.1 document (JSON or YAML), or `-` for standard input.
    file: String,
    /// Findings accepted earlier (written by --write-baseline): they do not fail; new ones do.
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,
    /// Accept every finding of this run: write them to FILE (review, then commit it).
    #[arg(long, value_name = "FILE")]
    write_baseline: Option<PathBuf>,
    /// Known disagreements fail too.
    #[arg(long)]
    strict: bool,
    /// Print the JSON report (format: schemas/schemas-diff.json) instead of the human one.
    #[arg(long)]
    json: bool,
    /// Write a JUnit XML report here (one test case per operation and status).
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// List every cause (accepted ones too) with the places it shows at and both pointers.
    #[arg(long, short = 'v')]
    verbose: bool,
}

pub fn run(args: DiffArgs, out: &mut dyn Write, console: Console) -> CmdResult {
    let registry = schema::registry();
    let baseline = match &args.baseline {
        Some(path) => {
            let source = Source::File(path.clone());
            let read = Baseline::read(&source, registry).map_err(Failure::usage)?;
            Some((source.to_string(), read))
        }
        None => None,
    };
    let loaded = diff::load::load(&Source::parse(&args.file)).map_err(Failure::usage)?;
    let mut options = Options {
        strict: args.strict,
        baseline,
    };
    let mut result = diff::diff(&loaded, registry, &options).map_err(Failure::usage)?;
    if let Some(path) = &args.write_baseline {
        let accepted = Baseline::of(&result);
        let text = accepted
            .to_json()
            .map_err(|e| Failure::runtime(anyhow::anyhow!("cannot render the baseline: {e}")))?;
        super::write_files(vec![(path.clone(), Ok(text))])?;
        options.baseline = Some((path.display().to_string(), accepted));
        result = diff::diff(&loaded, registry, &options).map_err(Failure::usage)?;
    }
    if let Some(path) = &args.junit {
        super::write_files(vec![(path.clone(), report::diff::junit(&result))])?;
    }
    if args.json {
        let text = report::diff::json(&result).map_err(Failure::runtime)?;
        writeln!(out, "{text}").map_err(io_failure)?;
    } else {
        let detail = if args.verbose {
            report::diff::Detail::Places
        } else {
            report::diff::Detail::Causes
        };
        report::diff::human(out, &result, console.style(), detail).map_err(io_failure)?;
    }
    Ok(if result.passed() {
        Exit::Passed
    } else {
        Exit::CheckFailed
    })
}
