//! The contract suite's flags and checks shared by `contract`, `contract --generate` and
//! `check`: the flags → [`SuiteConfig`], report paths checked before any request, a suite
//! error's exit code. Its own file so that the commands' modules import it and never each
//! other.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::Failure;
use super::args::parse_timeout;
use super::auth::TargetArgs;
use crate::contract::{ContractError, SuiteConfig, Target};
use crate::schema::Mode;

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
    #[arg(long, default_value = "5s", value_parser = parse_timeout, value_name = "DURATION",
          allow_hyphen_values = true)]
    pub timeout: Duration,
    /// Strict mode: fields no schema names are failures (default: reported as findings).
    #[arg(long)]
    pub strict: bool,
    /// Run only cases whose name contains PATTERN (or matches it, with * wildcards); repeat
    /// for more (a case matching any runs). Also limits --list.
    #[arg(long, value_name = "PATTERN")]
    pub filter: Vec<String>,
    /// Accept a run in which every case was skipped (default: exit 2, nothing was checked).
    #[arg(long)]
    pub allow_all_skipped: bool,
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

    /// The suite configuration for `target` (without a URL: the embedded simulator).
    pub fn suite_config(&self, target: &TargetArgs) -> Result<SuiteConfig, Failure> {
        let mut credentials = target.credentials()?;
        let auth = &target.auth;
        let fail_on_residue = target.fail_on_residue;
        let application_id = &target.application_id;
        let target = match target.target.as_deref() {
            None => Target::Simulator,
            Some(url) => {
                let parsed = crate::api::target::parse(url).map_err(Failure::usage)?;
                // The load's policy (`load::credentials_for`): a loopback target without
                // credentials is a `pushcheck mock` and is sent its published local key.
                if credentials.is_empty() && parsed.loopback {
                    credentials = crate::mock::local_credentials();
                }
                Target::Live {
                    base_url: parsed.base_url,
                    registration_ids: self.registration_ids.clone(),
                    allow_writes: self.allow_writes,
                }
            }
        };
        Ok(SuiteConfig {
            target,
            credentials,
            app_code: auth.app_code.clone(),
            application_id: application_id.clone(),
            timeout: self.timeout,
            mode: self.mode(),
            filters: self.filter.clone(),
            fail_on_residue,
        })
    }
}

/// `--feed` feeds the load of a live target; without `--target` it would be silently ignored,
/// so it is refused. For `check` and `load`.
pub fn refuse_feed_without_target(
    feed: Option<&std::path::Path>,
    target: Option<&str>,
) -> Result<(), Failure> {
    match (feed, target) {
        (Some(file), None) => Err(Failure::usage(anyhow::anyhow!(
            "--feed {} needs --target: the embedded simulator feeds itself (drop --feed, or give the live target's URL)",
            file.display()
        ))),
        _ => Ok(()),
    }
}

/// Checks, before any request, that each report path can be written: its directory is created
/// when missing (as `load --report-dir` and `check` create theirs), and the path is not a
/// directory. A file that did not exist is created and removed again.
pub fn check_report_paths(paths: &[Option<&PathBuf>]) -> Result<(), Failure> {
    for path in paths.iter().flatten() {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                Failure::usage(anyhow::anyhow!(
                    "cannot write the report {}: cannot create its directory {}: {e}",
                    path.display(),
                    parent.display()
                ))
            })?;
        }
        let existed = path.exists();
        let opened = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path);
        match opened {
            Ok(_) if !existed => {
                let _ = std::fs::remove_file(path);
            }
            Ok(_) => {}
            Err(e) => {
                return Err(Failure::usage(anyhow::anyhow!(
                    "cannot write the report {}: {e}",
                    path.display()
                )));
            }
        }
    }
    Ok(())
}

/// Maps a suite error to its exit code.
pub fn contract_failure(error: ContractError) -> Failure {
    if error.is_configuration() {
        Failure::usage(error)
    } else {
        Failure::runtime(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Exit;

    #[test]
    fn a_feed_needs_a_target() {
        let feed = std::path::Path::new("feed.txt");
        let err = refuse_feed_without_target(Some(feed), None).unwrap_err();
        assert_eq!(err.exit, Exit::Usage);
        assert!(
            err.error
                .to_string()
                .contains("--feed feed.txt needs --target")
        );
        assert!(refuse_feed_without_target(Some(feed), Some("http://127.0.0.1:1")).is_ok());
        assert!(refuse_feed_without_target(None, None).is_ok());
    }
}
