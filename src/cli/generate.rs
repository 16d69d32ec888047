//! `pushcheck contract --generate N` and `--replay FILE`: generated, stateful, differential
//! contract testing (`contract::generate`). Glue only: flags → [`GenerateConfig`], run, render,
//! write the replay file, exit code.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::args::parse_duration;
use super::auth::TargetArgs;
use super::suite::{SuiteFlags, check_report_paths};
use super::{CmdResult, Console, Exit, Failure, io_failure};
use crate::contract::generate::step::{REPLAY_FORMAT, Replay};
use crate::contract::generate::{GenerateConfig, GenerateError, Work};
use crate::report;

/// The generated-testing flags of `pushcheck contract`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Generated")]
pub struct GenerateFlags {
    /// Generate about N requests (sequences of get/patch/personalize/depersonalize), each
    /// checked against the simulator's rules run in process; a failure is shrunk and saved.
    #[arg(long, value_name = "N", conflicts_with_all = ["replay", "list", "filter"],
          value_parser = clap::value_parser!(u64).range(1..))]
    pub generate: Option<u64>,
    /// The generator's seed (default: from the clock; printed, so a run can be repeated).
    #[arg(long, value_name = "S", requires = "generate")]
    pub seed: Option<u64>,
    /// Rerun a saved sequence (the file a failing --generate wrote).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["list", "filter"])]
    pub replay: Option<PathBuf>,
    /// Where a failing --generate saves its shrunk sequence.
    #[arg(long, value_name = "PATH", default_value = "pushcheck-replay.json")]
    pub save_replay: PathBuf,
    /// Requests per second to the target (default: 5 on a live target, unpaced on the
    /// embedded simulator).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_rps: Option<u32>,
    /// Requests shrinking may send (default: 4000 on the simulator, 300 on a live target).
    #[arg(long, value_name = "N")]
    pub shrink_budget: Option<usize>,
    /// How long generating may take before it stops (shrinking gets 2 minutes more).
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration)]
    pub generate_time: Duration,
}

impl GenerateFlags {
    /// Whether this run generates or replays (instead of the hand-written suite).
    pub fn active(&self) -> bool {
        self.generate.is_some() || self.replay.is_some()
    }
}

/// Reads a replay file (usage error when unreadable or not one).
fn read_replay(path: &std::path::Path) -> Result<Replay, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Failure::usage(anyhow::anyhow!(
            "cannot read the replay file {}: {e}",
            path.display()
        ))
    })?;
    let replay: Replay = serde_json::from_str(&text).map_err(|e| {
        Failure::usage(anyhow::anyhow!(
            "{} is not a replay file: {e}",
            path.display()
        ))
    })?;
    replay
        .check()
        .map_err(|why| Failure::usage(anyhow::anyhow!("{}: {why}", path.display())))?;
    if replay.format != REPLAY_FORMAT {
        return Err(Failure::usage(anyhow::anyhow!(
            "{}: replay format {} is not {REPLAY_FORMAT}",
            path.display(),
            replay.format
        )));
    }
    Ok(replay)
}

fn seed_from_clock() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64 % 1_000_000_000)
}

/// Runs a generated or replayed sequence run.
pub fn run(
    flags: &GenerateFlags,
    target: &TargetArgs,
    suite: &SuiteFlags,
    out: &mut dyn Write,
    console: Console,
) -> CmdResult {
    let suite_config = suite.suite_config(target)?;
    let work = match (&flags.replay, flags.generate) {
        (Some(path), _) => Work::Replay(read_replay(path)?),
        (None, Some(steps)) => Work::Generate {
            steps: usize::try_from(steps).unwrap_or(usize::MAX),
            seed: flags.seed.unwrap_or_else(seed_from_clock),
        },
        (None, None) => return Err(Failure::usage(anyhow::anyhow!("--generate or --replay"))),
    };
    if flags.generate.is_some() {
        check_report_paths(&[Some(&flags.save_replay)])?;
    }
    let config = GenerateConfig {
        credentials: suite_config.credentials,
        app_code: suite_config.app_code,
        timeout: suite_config.timeout,
        mode: suite_config.mode,
        max_rps: flags.max_rps,
        shrink_budget: flags.shrink_budget,
        time_limit: flags.generate_time,
        fail_on_residue: suite_config.fail_on_residue,
        ..GenerateConfig::new(suite_config.target, work)
    };
    let runtime = super::runtime()?;
    let progress = std::sync::Arc::clone(&config.progress);
    let result = runtime
        .block_on(async move {
            // On a terminal, a progress line once a second (a live run at 5 requests/s takes
            // minutes); off one, nothing until the end.
            let ticker = std::io::IsTerminal::is_terminal(&std::io::stderr()).then(|| {
                tokio::spawn(async move {
                    let started = std::time::Instant::now();
                    let mut tick = tokio::time::interval(Duration::from_secs(1));
                    tick.tick().await;
                    loop {
                        tick.tick().await;
                        let line = progress.line(started.elapsed());
                        let mut err = std::io::stderr();
                        let _ = write!(err, "\r\x1b[2K{line}");
                        let _ = err.flush();
                    }
                })
            });
            let result = crate::contract::generate::run(config).await;
            if let Some(t) = ticker {
                t.abort();
                let _ = write!(std::io::stderr(), "\r\x1b[2K");
            }
            result
        })
        .map_err(|e: GenerateError| {
            if e.is_configuration() {
                Failure::usage(e)
            } else if e.is_server_finding() {
                Failure::server(e)
            } else {
                Failure::runtime(e)
            }
        })?;
    let saved = match (flags.generate, report::generate::replay_file(&result)) {
        (Some(_), Some(text)) => {
            super::write_files(vec![(flags.save_replay.clone(), text)])?;
            Some(flags.save_replay.as_path())
        }
        _ => None,
    };
    report::generate::human(out, &result, saved, console.style()).map_err(io_failure)?;
    Ok(Exit::of(&result.outcome()))
}
