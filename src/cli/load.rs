//! `pushcheck load`: run a load scenario, print one verdict, write the reports.
//!
//! Glue only: the scenario file plus flags (flags win) to a [`LoadPlan`], a target (the embedded
//! simulator unless `--target`), credentials, then [`load::run`], the reporters, and the exit code.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::Args;

use super::args::parse_timeout;
use super::auth::{TargetArgs, tls_and_proxies};
use super::suite::refuse_feed_without_target;
use super::{CmdResult, Console, Failure, io_failure};
use crate::load::scenario::Span;
use crate::load::{
    self, DEFAULT_FEED_LIMIT, DEFAULT_REQUEST_TIMEOUT, Destination, FeedSource, LoadConfig,
    LoadError, LoadPlan, Progress, Scenario, credentials_for,
};
use crate::report;

const AFTER_HELP: &str = concat!("\
Without --target, the embedded simulator is started on 127.0.0.1 and seeded; the data feed is
its registration listing and its invariant check runs after the load. A loopback --target
without credentials is sent the simulator's local API key. A non-loopback --target needs
--allow-remote and is then capped at 50 requests/s per operation (the documented limit)
unless --max-rps says otherwise; give it --feed FILE (one registration ID per line,
optionally `,APPCODE`).

A live --feed (a target that is not the simulator's listing) is put back as found: before the
load every device is read (at most 1000, paced under the rate cap) and, when the mix
personalizes, probed with a personalize without forceDepersonalize: a device of someone else
is kept out of personalize and depersonalize (named in the report; none left: exit 2), and the
load's personalize never forces. After it the load's people are unbound, isPrimary is set back
and the attribute pushcheck_load_seq (one name for every run) is sent as null and read back.
What the target keeps by its own choice (it refuses or stores null, …) is reported under \"Left
on the devices\" and fails the run only with --fail-on-residue; a server fault fails it.

Thresholds: goose's rules on measured times (p95<500ms, p99<1s for GET registration,
error-rate<1%, rps>=100), and pushcheck's: adjusted-p95<500ms (a paced run, with an arrival
rate, a throttle or a rate cap: each request's latency from its due time in the arrival
schedule; otherwise goose's coordinated-omission backfill), schema-violation-rate<0.1%
(responses that broke their contract: status, Content-Type, schema, meaning) and
answer-gap<2s (the longest stretch without an answer while requests waited). --threshold adds
to the scenario's rules; one on the same metric and request replaces the scenario's, and the
verdict says so. error-rate<1%, schema-violation-rate<=0%, answer-gap<2s and mix-drift<=3%
(each operation's share of the requests sent within 3 points of its weight's, from 200
requests on) always apply unless a rule on that metric is given or --without-rule NAME turns
one off. A rule naming a request
the load never sends is refused. Requests are answered + no answer; a request still waiting a
second after the planned end is dropped and counted as unanswered at the end, at its age.

Regression gates: --baseline DIR/summary.json (an earlier run's) compares every operation with
it, in the verdict, summary.json and JUnit; `p95 regression>10%` or `rps regression>5% for GET
registration` fail when an operation got that much worse (p50, p95, p99, avg, max, rps;
error-rate in percentage points). Every change reads the same everywhere: which way the figure
moved and whether that is worse (\"rps 4328.0/s → 114.0/s, fell 97.4% (worse)\"); in JSON,
regression_pct is positive when worse. Without a gate, --baseline applies those two. goose's
report.json beside the summary goes to goose's own baseline (deltas in report.html).

The verdict covers every request, the ramp included (--steady-state-only: goose's figures
after the ramp). Each request times out after --request-timeout. A stop signal (Ctrl-C,
SIGTERM or SIGHUP) stops the run within a moment, removes the run's attribute, writes the
reports and exits 3; a second one skips the removal and names the attribute left behind.

Examples:
  pushcheck load --scenario scenarios/smoke.toml --report-dir /tmp/lr
  pushcheck load --scenario scenarios/read-heavy.toml --users 200 --run-time 1m
  pushcheck load --scenario scenarios/smoke.toml --threshold 'adjusted-p95<50ms' --without-rule error-rate

", tls_and_proxies!(), "
Environment:
  PUSHCHECK_TARGET, PUSHCHECK_APP_CODE, PUSHCHECK_API_KEY, PUSHCHECK_BASIC,
  PUSHCHECK_IBSSO, PUSHCHECK_BEARER, PUSHCHECK_CA_CERT

Exit codes:
  0  every threshold and invariant passed
  1  a threshold or invariant failed, or a live device was left with a server fault
  2  usage or configuration error (bad scenario value, a threshold goose refuses, remote target without --allow-remote)
  2  also: credentials the target refuses, an app code or registration it does not know,
     a live feed whose devices all belong to someone while the mix personalizes
  3  runtime error (target unreachable or never answering, I/O, the run was interrupted)");

/// `pushcheck load` flags. Each scenario flag overrides the file's value.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP, allow_negative_numbers = true)]
pub struct LoadArgs {
    /// Scenario: a TOML file, or a built-in name such as read-heavy (`pushcheck scenarios
    /// list`).
    #[arg(long, value_name = "FILE")]
    scenario: Option<PathBuf>,
    #[command(flatten)]
    overrides: Scenario,

    #[command(flatten)]
    target: TargetArgs,
    #[command(flatten)]
    output: ProgressArgs,
    /// Allow a non-loopback --target.
    #[arg(long, help_heading = "Target")]
    allow_remote: bool,
    /// Requests per second per operation (a remote target defaults to the documented 50).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..), help_heading = "Target")]
    max_rps: Option<u32>,
    /// Longest wait for one response (e.g. 10s, 500ms).
    #[arg(long, value_name = "TIME", value_parser = |s: &str| parse_timeout(s).map(Span), default_value_t = Span(DEFAULT_REQUEST_TIMEOUT), help_heading = "Target")]
    request_timeout: Span,
    /// Registration IDs to use, one per line (`ID` or `ID,APPCODE`), instead of the simulator's listing.
    #[arg(long, value_name = "FILE", help_heading = "Target")]
    feed: Option<PathBuf>,
    /// At most this many registrations from the simulator's listing.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_FEED_LIMIT, help_heading = "Target")]
    feed_limit: usize,
    /// Registrations the embedded simulator seeds.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1000,
        help_heading = "Target"
    )]
    seed_registrations: usize,

    /// Write pushcheck.html, summary.json, junit.xml, timeline.csv and goose's HTML and JSON
    /// reports here (as `check` does).
    #[arg(
        long,
        value_name = "DIR",
        default_value = "target/pushcheck",
        help_heading = "Output"
    )]
    report_dir: PathBuf,
    /// pushcheck's summary.json of an earlier run: per operation comparison and regression
    /// gates (`p95 regression>10%` and `rps regression>5%` unless --threshold gives gates);
    /// goose's report.json beside it goes to goose's own baseline (deltas in report.html).
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    baseline: Option<PathBuf>,
    /// Print the summary JSON on stdout instead of the human verdict.
    #[arg(long, help_heading = "Output")]
    json: bool,
    /// Show goose's info messages on stderr.
    #[arg(long, short = 'v', help_heading = "Output")]
    verbose: bool,
}

impl LoadArgs {
    /// The scenario file's values with every flag given applied on top ([`Scenario::merge`]).
    fn plan(&self) -> Result<(LoadPlan, Option<PathBuf>), Failure> {
        let (file, path) = match &self.scenario {
            Some(asked) => {
                let (file, path) = Scenario::from_file_or_builtin(asked).map_err(Failure::usage)?;
                (file, Some(path))
            }
            None => (Scenario::default(), None),
        };
        let plan = file.merge(self.overrides.clone()).resolve().map_err(|e| {
            let source = path
                .as_ref()
                .map_or("flags".to_owned(), |p| p.display().to_string());
            Failure::usage(anyhow::anyhow!("{source}: {e}"))
        })?;
        Ok((plan, path))
    }

    /// Everything the run is started with.
    fn config(&self, console: Console) -> Result<LoadConfig, Failure> {
        refuse_feed_without_target(self.feed.as_deref(), self.target.target.as_deref())?;
        let (plan, scenario_file) = self.plan()?;
        let feed = self
            .feed
            .clone()
            .map_or(FeedSource::Admin, FeedSource::File);
        let destination = Destination::of(
            self.target.target.as_deref(),
            self.allow_remote,
            feed,
            self.seed_registrations,
        )
        .map_err(load_failure)?;
        let setup = LoadSetup {
            plan,
            scenario_file,
            destination,
            target: &self.target,
            max_rps: self.max_rps,
            report_dir: Some(self.report_dir.clone()),
            output: self.output,
        };
        Ok(LoadConfig {
            feed_limit: self.feed_limit,
            baseline: self.baseline.clone(),
            request_timeout: self.request_timeout.0,
            ..setup.config(console)?
        })
    }
}

/// What a command's load stage is put together from (`load`'s and `check`'s).
pub(super) struct LoadSetup<'a> {
    pub plan: LoadPlan,
    pub scenario_file: Option<PathBuf>,
    pub destination: Destination,
    /// `--target`, its credentials, app code, application ID and residue policy.
    pub target: &'a TargetArgs,
    pub max_rps: Option<u32>,
    pub report_dir: Option<PathBuf>,
    pub output: ProgressArgs,
}

impl LoadSetup<'_> {
    /// The one way a command's load becomes a [`LoadConfig`]: the credentials for where it goes
    /// ([`credentials_for`]), the progress line on a terminal; what only `load` has flags for
    /// (feed limit, baseline, request timeout) at its default.
    pub(super) fn config(self, console: Console) -> Result<LoadConfig, Failure> {
        let credentials = credentials_for(&self.destination, &self.target.credentials()?)
            .map_err(load_failure)?;
        Ok(LoadConfig {
            plan: self.plan,
            scenario_file: self.scenario_file,
            destination: self.destination,
            credentials,
            app_code: self.target.auth.app_code.clone(),
            feed_limit: DEFAULT_FEED_LIMIT,
            report_dir: self.report_dir,
            baseline: None,
            max_rps: self.max_rps,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            quiet_stdout: console.own_stdout,
            progress: progress(self.output.progress),
            fail_on_residue: self.target.fail_on_residue,
            application_id: self.target.application_id.clone(),
            metrics_addr: self.output.metrics_addr,
            metrics_bound: Some(Box::new(metrics_bound)),
        })
    }
}

pub fn run(
    args: LoadArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
    console: Console,
) -> CmdResult {
    let dir = &args.report_dir;
    let result = judged(&args, console).map_err(|failure| {
        super::not_judged(failure, "load", |why| {
            report::load::not_judged_files(dir, why)
        })
    })?;
    super::write_files(report::load::files(dir, &result))?;
    if args.json {
        let json = report::load::summary_json(&result).map_err(Failure::runtime)?;
        writeln!(out, "{json}").map_err(io_failure)?;
    } else {
        report::load::human(out, &result, Some(dir), console.style()).map_err(io_failure)?;
    }
    let _ = err.flush();
    super::finish(result.outcome())
}

/// The configuration, then the run: a result, or why there is none.
fn judged(args: &LoadArgs, console: Console) -> Result<load::LoadResult, Failure> {
    let config = args.config(console)?;
    load::console::install_logger(args.verbose);
    let result = super::runtime()?.block_on(load::run(config));
    clear_progress();
    result.map_err(load_failure)
}

/// Maps a load error to its exit code: a setting to fix is a usage error, the server's fault
/// before any result a failed check (1), the rest runtime.
pub fn load_failure(error: LoadError) -> Failure {
    if error.is_usage() {
        Failure::usage(error)
    } else if error.is_server_finding() {
        Failure::server(error)
    } else {
        Failure::runtime(error)
    }
}

/// The environment variable that sets `--progress` (a CI job's whole pipeline at once).
pub const PROGRESS_ENV: &str = "PUSHCHECK_PROGRESS";

/// When the load's progress shows on stderr.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ProgressWhen {
    // (Plain comments: doc comments here would turn clap's help into its long form.)
    // A line redrawn in place, on a terminal only.
    #[default]
    Auto,
    // Also off a terminal: one plain line a second (a CI log of a long soak).
    Always,
    Never,
}

/// `--progress` and `--metrics-addr`, shared by `load` and `check`.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct ProgressArgs {
    /// When the load's progress shows on stderr: auto (a line redrawn in place on a terminal),
    /// always (also off a terminal, one plain line a second: for CI logs), never.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t, env = PROGRESS_ENV, hide_env_values = true, help_heading = "Output")]
    pub progress: ProgressWhen,
    /// While the load runs, serve live figures (OpenMetrics text, for Prometheus) at
    /// http://ADDR/metrics; port 0 picks a free one, printed on stderr. Requests, errors by kind,
    /// contract breaks and latency per operation, users, arrival target: counts and operation
    /// names only, no credentials or registration IDs, but anyone who can reach a non-loopback
    /// ADDR can read them.
    #[arg(long, value_name = "ADDR", help_heading = "Output")]
    pub metrics_addr: Option<std::net::SocketAddr>,
}

/// Tells stderr where the live metrics are served.
fn metrics_bound(addr: std::net::SocketAddr) {
    eprintln!(
        "metrics: http://{addr}{}",
        load::metrics_endpoint::METRICS_PATH
    );
}

/// The live progress: redrawn in place on a terminal, plain lines with `always` elsewhere.
pub(super) fn progress(when: ProgressWhen) -> Option<load::ProgressFn> {
    let terminal = std::io::stderr().is_terminal();
    match when {
        ProgressWhen::Never => None,
        _ if terminal => Some(Box::new(progress_line) as load::ProgressFn),
        ProgressWhen::Always => Some(Box::new(progress_log_line) as load::ProgressFn),
        ProgressWhen::Auto => None,
    }
}

/// The figures of one progress report, for the terminal line and the log line alike.
fn progress_figures(p: &Progress) -> String {
    format!(
        "{:>4}s  users {}/{}  {:.0} req/s  p95 ~{:.1} ms  errors {}  violations {}",
        p.elapsed.as_secs(),
        p.users_active,
        p.users,
        p.rps,
        p.p95_ms,
        p.errors,
        p.violations
    )
}

/// One progress line for a log: no escape codes, one line a second.
fn progress_log_line(p: Progress) {
    eprintln!("load: {}", progress_figures(&p).trim_start());
}

/// Clears the progress line, on a terminal.
pub(super) fn clear_progress() {
    if std::io::stderr().is_terminal() {
        eprint!("\r\x1b[2K");
    }
}

fn progress_line(p: Progress) {
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "\r\x1b[2K{}", progress_figures(&p));
    let _ = err.flush();
}
