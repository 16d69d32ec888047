//! `pushcheck mock`: the embedded simulator as a standalone server.
//!
//! Glue only: flags to a [`SimulatorConfig`], start it, print the facts a user needs (one line
//! each, or one JSON line), serve until SIGINT/SIGTERM. Credentials given by flag or environment
//! are printed redacted; the local defaults are printed in full, since that is how a user curls
//! the simulator.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;
use serde_json::json;

use super::args::{parse_duration, parse_rate};
use super::auth::AuthArgs;
use super::{CmdResult, Exit, Failure, io_failure};
use crate::api::APP_CODE_HEADER;
use crate::api::auth::{Credentials, REDACTED};
use crate::mock::config::{DEFAULT_BODY_LIMIT, DEFAULT_SEED_REGISTRATIONS};
use crate::mock::{
    Application, DEFECTS, Defect, Defects, ErrorShapes, Facts, Faults, MockError, Simulator,
    SimulatorConfig, Stall, local_credentials,
};

const AFTER_HELP: &str = "\
Without credential flags the simulator accepts four local credentials (printed at start):
  Authorization: App pushcheck-local-key
  Authorization: Basic base64(pushcheck:pushcheck)
  Authorization: IBSSO pushcheck-local-ibsso
  Authorization: Bearer pushcheck-local-bearer
and the doc's application code. Any of --api-key/--basic/--ibsso/--bearer replaces them.

Admin routes (with the same credentials as the API): GET /__pushcheck/registrations?limit=N&offset=M,
POST /__pushcheck/reset, GET /__pushcheck/invariants.

On an address other machines can reach (not 127.0.0.1 or ::1) the simulator says so on stderr,
and refuses to start with the published local credentials unless --allow-default-credentials.

Examples:
  pushcheck mock --seed-registrations 1000
  pushcheck mock --json --addr 127.0.0.1:0
  pushcheck mock --latency 20ms --jitter 5ms --error-rate 0.01 --rate-limit 50 --stall 5s..6s
  pushcheck mock --defect list
  pushcheck mock --defect personalize.force_true_ignored   (a server with one known bug)
  pushcheck mock --errors published   (error bodies as the published OpenAPI file declares them)

Environment:
  PUSHCHECK_APP_CODE, PUSHCHECK_API_KEY, PUSHCHECK_BASIC, PUSHCHECK_IBSSO, PUSHCHECK_BEARER
  (the credentials and application code the simulator accepts)

Exit codes:
  0  stopped by SIGINT or SIGTERM (or --exit-after-seed finished)
  2  usage or configuration error (bad flag value, malformed credential)
  3  runtime error (cannot listen on the address, server failure)";

/// `pushcheck mock` flags.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct MockArgs {
    /// Address to listen on; port 0 picks a free port (printed at start).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "IP:PORT")]
    addr: SocketAddr,
    /// Print the facts as one JSON line on stdout, for scripts.
    #[arg(long)]
    json: bool,
    /// Seed of the generated data: the same seed gives the same registrations.
    #[arg(long, default_value_t = 0, value_name = "N")]
    seed: u64,
    /// How many registrations to create at start, as the mobile SDKs would.
    #[arg(long, default_value_t = DEFAULT_SEED_REGISTRATIONS, value_name = "N")]
    seed_registrations: usize,
    /// Seed, print how many registrations and how long it took, and exit without serving.
    #[arg(long)]
    exit_after_seed: bool,
    /// On an address other machines can reach (not 127.0.0.1 / ::1), accept the published local
    /// key anyway. Without it such a simulator needs credentials of your own.
    #[arg(long)]
    allow_default_credentials: bool,
    /// Largest request body accepted, in bytes; larger ones get 413.
    #[arg(long, default_value_t = DEFAULT_BODY_LIMIT, value_name = "BYTES")]
    body_limit: usize,
    #[command(flatten)]
    auth: AuthArgs,
    /// Fault: latency added to every API response (e.g. 20ms, 1.5s).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION", help_heading = "Faults (all off by default)")]
    latency: Option<Duration>,
    /// Fault: a further random delay between 0 and this.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION", help_heading = "Faults (all off by default)")]
    jitter: Option<Duration>,
    /// Fault: share of API requests answered 500 GENERAL_ERROR (0 to 1).
    #[arg(long, value_parser = parse_rate, value_name = "RATE", help_heading = "Faults (all off by default)")]
    error_rate: Option<f64>,
    /// Fault: requests per second per operation; beyond it, 429 (the API documents 50).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..), value_name = "N", help_heading = "Faults (all off by default)")]
    rate_limit: Option<u32>,
    /// Fault: hold every API response during this window after start, e.g. 5s..6s.
    #[arg(long, value_parser = parse_stall, value_name = "FROM..UNTIL", help_heading = "Faults (all off by default)")]
    stall: Option<Stall>,
    /// Fault: share of writes answered 200 but not stored (lost updates), 0 to 1.
    #[arg(long, value_parser = parse_rate, value_name = "RATE", help_heading = "Faults (all off by default)")]
    drop_writes: Option<f64>,
    /// Fault: share of registration bodies served without their required applicationId, 0 to 1.
    #[arg(long, value_parser = parse_rate, value_name = "RATE", help_heading = "Faults (all off by default)")]
    break_responses: Option<f64>,
    /// Error bodies as the doc shows them (documented) or as the published OpenAPI file declares them (published: every 400 {errorCode, errorMessage}, every 429 requestError).
    #[arg(long, value_enum, default_value_t = ErrorShapes::Documented, value_name = "documented|published", hide_possible_values = true)]
    errors: ErrorShapes,
    /// Plant a defect that breaks one documented behaviour (repeatable); `--defect list` lists them.
    #[arg(
        long = "defect",
        value_name = "NAME",
        help_heading = "Planted defects (to prove a check can fail)"
    )]
    defects: Vec<String>,
}

/// The `--defect` names as a set; `Ok(None)` when `list` was asked for.
fn planted(names: &[String]) -> Result<Option<Defects>, Failure> {
    if names.iter().any(|n| n == "list") {
        return Ok(None);
    }
    let mut set = Defects::none();
    for name in names {
        let defect: Defect = name.parse().map_err(Failure::usage)?;
        set = set.with(defect);
    }
    Ok(Some(set))
}

/// `--defect list`: one line per defect, its name and what it breaks.
fn list_defects(out: &mut dyn Write) -> std::io::Result<()> {
    let width = DEFECTS.iter().map(|d| d.name.len()).max().unwrap_or(0);
    for d in DEFECTS {
        writeln!(out, "{:width$}  {}", d.name, d.instead)?;
    }
    Ok(())
}

pub fn run(args: MockArgs, out: &mut dyn Write) -> CmdResult {
    let Some(defects) = planted(&args.defects)? else {
        list_defects(out).map_err(io_failure)?;
        return Ok(Exit::Passed);
    };
    let (config, user_credentials) = simulator_config(&args, defects)?;
    shared_address(&args, user_credentials)?;
    if args.exit_after_seed {
        return seed_only(&config, args.json, out);
    }
    let runtime = super::runtime()?;
    runtime.block_on(async {
        // Listening before the facts are printed: a stop signal sent as soon as they are is a
        // graceful stop.
        let signals = crate::mock::StopSignals::listen().map_err(failure)?;
        let simulator = Simulator::start(config).await.map_err(failure)?;
        let facts = simulator.facts();
        if args.json {
            writeln!(out, "{}", facts_json(facts, user_credentials)).map_err(io_failure)?;
        } else {
            write_facts(out, facts, user_credentials).map_err(io_failure)?;
        }
        out.flush().map_err(io_failure)?;
        simulator.run_until(signals).await.map_err(failure)?;
        Ok(Exit::Passed)
    })
}

/// A simulator on an address other machines can reach: refused with the published local key
/// (anyone could use it), unless `--allow-default-credentials`; said on stderr either way.
fn shared_address(args: &MockArgs, user_credentials: bool) -> Result<(), Failure> {
    if args.addr.ip().is_loopback() || args.exit_after_seed {
        return Ok(());
    }
    if !user_credentials && !args.allow_default_credentials {
        return Err(Failure::usage(anyhow::anyhow!(
            "--addr {} can be reached from other machines, and the simulator would accept its published local key: give credentials of your own (--api-key or {}, or another scheme), or pass --allow-default-credentials",
            args.addr,
            crate::api::auth::env::API_KEY
        )));
    }
    eprintln!(
        "warning: the simulator listens on {}, which other machines can reach; its API and its admin routes (reset, listing) answer anyone with {}",
        args.addr,
        if user_credentials {
            "the credentials you gave"
        } else {
            "the published local key (--allow-default-credentials)"
        }
    );
    Ok(())
}

/// The flags as a simulator configuration, and whether the credentials are the user's own.
fn simulator_config(args: &MockArgs, defects: Defects) -> Result<(SimulatorConfig, bool), Failure> {
    let given = args
        .auth
        .credentials()
        .map_err(|e| Failure::usage(anyhow::anyhow!(e)))?;
    let user_credentials = !given.is_empty();
    let config = SimulatorConfig {
        addr: args.addr,
        applications: vec![match &args.auth.app_code {
            Some(code) => Application::from_code(code.clone()),
            None => Application::doc(),
        }],
        credentials: if user_credentials {
            given
        } else {
            local_credentials()
        },
        seed: args.seed,
        seed_registrations: args.seed_registrations,
        faults: Faults {
            latency: args.latency.unwrap_or_default(),
            jitter: args.jitter.unwrap_or_default(),
            error_rate: args.error_rate.unwrap_or_default(),
            rate_limit: args.rate_limit,
            stall: args.stall,
            drop_writes: args.drop_writes.unwrap_or_default(),
            break_responses: args.break_responses.unwrap_or_default(),
        },
        body_limit: args.body_limit,
        defects,
        errors: args.errors,
        ..SimulatorConfig::default()
    };
    Ok((config, user_credentials))
}

/// `--exit-after-seed`: seeds, says how many and how long, serves nothing.
fn seed_only(config: &SimulatorConfig, json: bool, out: &mut dyn Write) -> CmdResult {
    let summary = Simulator::seed_only(config).map_err(failure)?;
    let secs = summary.elapsed.as_secs_f64();
    if json {
        let line = json!({ "seeded": summary.seeded, "seconds": secs });
        writeln!(out, "{line}").map_err(io_failure)?;
    } else {
        writeln!(
            out,
            "seeded {} registrations in {secs:.3} s",
            summary.seeded
        )
        .map_err(io_failure)?;
    }
    Ok(Exit::Passed)
}

fn failure(error: MockError) -> Failure {
    match error {
        MockError::Config(_) => Failure::usage(error),
        _ => Failure::runtime(error),
    }
}

/// A header value to print: in full for the local defaults, redacted for the user's own.
fn shown(credentials: &Credentials, user_supplied: bool) -> String {
    if user_supplied {
        format!("{} {REDACTED}", credentials.scheme())
    } else {
        credentials.header_value().expose().to_owned()
    }
}

fn write_facts(out: &mut dyn Write, facts: &Facts, user: bool) -> std::io::Result<()> {
    writeln!(out, "base URL      {}", facts.base_url)?;
    for app in &facts.applications {
        writeln!(
            out,
            "app code      {}  (applicationId {})",
            app.app_code, app.application_id
        )?;
    }
    for c in &facts.credentials {
        let note = match c {
            Credentials::Basic { username, .. } if !user => {
                format!(
                    "  ({username}:{})",
                    crate::mock::config::LOCAL_BASIC_PASSWORD
                )
            }
            _ => String::new(),
        };
        writeln!(out, "credential    Authorization: {}{note}", shown(c, user))?;
    }
    writeln!(
        out,
        "seeded        {} registrations (seed {})",
        facts.seeded, facts.seed
    )?;
    writeln!(out, "admin         {}?limit=10", facts.admin_url())?;
    writeln!(out, "faults        {}", faults_summary(&facts.faults))?;
    if !facts.defects.is_empty() {
        let names: Vec<&str> = facts.defects.iter().map(Defect::name).collect();
        writeln!(
            out,
            "DEFECTS       {} (planted: this simulator breaks documented behaviour)",
            names.join(", ")
        )?;
    }
    if let (Some(id), Some(app), Some(c)) = (
        &facts.sample_registration,
        facts.applications.first(),
        facts.credentials.first(),
    ) {
        writeln!(
            out,
            "try           curl -H 'Authorization: {}' -H '{APP_CODE_HEADER}: {}' {}{}",
            shown(c, user),
            app.app_code,
            facts.base_url,
            crate::api::Operation::Get.path(id)
        )?;
    }
    writeln!(out, "stop          Ctrl-C or SIGTERM")
}

fn faults_summary(f: &Faults) -> String {
    let mut parts = Vec::new();
    if !f.latency.is_zero() {
        parts.push(format!("latency {:?}", f.latency));
    }
    if !f.jitter.is_zero() {
        parts.push(format!("jitter up to {:?}", f.jitter));
    }
    if f.error_rate > 0.0 {
        parts.push(format!("error rate {}", f.error_rate));
    }
    if let Some(limit) = f.rate_limit {
        parts.push(format!("rate limit {limit}/s per operation"));
    }
    if let Some(stall) = f.stall {
        parts.push(format!("stall {:?}..{:?}", stall.from, stall.until));
    }
    if f.drop_writes > 0.0 {
        parts.push(format!("drop writes {}", f.drop_writes));
    }
    if f.break_responses > 0.0 {
        parts.push(format!("break responses {}", f.break_responses));
    }
    if parts.is_empty() {
        "none".to_owned()
    } else {
        parts.join(", ")
    }
}

fn facts_json(facts: &Facts, user: bool) -> serde_json::Value {
    let accepted: Vec<String> = facts.credentials.iter().map(|c| shown(c, user)).collect();
    json!({
        "base_url": facts.base_url,
        "app_codes": facts.applications.iter().map(|a| &a.app_code).collect::<Vec<_>>(),
        "applications": facts.applications.iter().map(|a| json!({
            "app_code": a.app_code,
            "application_id": a.application_id,
        })).collect::<Vec<_>>(),
        "credentials": {
            "authorization": accepted.first(),
            "app_code": facts.applications.first().map(|a| &a.app_code),
            "accepted": accepted,
            "redacted": user,
        },
        "seeded": facts.seeded,
        "seed": facts.seed,
        "sample_registration": facts.sample_registration,
        "admin_url": facts.admin_url(),
        "defects": facts.defects.iter().map(Defect::name).collect::<Vec<_>>(),
    })
}

/// `5s..6s`.
fn parse_stall(text: &str) -> Result<Stall, String> {
    let (from, until) = text
        .split_once("..")
        .ok_or_else(|| format!("{text:?} is not a window like 5s..6s"))?;
    let stall = Stall {
        from: parse_duration(from).map_err(|e| e.to_string())?,
        until: parse_duration(until).map_err(|e| e.to_string())?,
    };
    if stall.until <= stall.from {
        return Err(format!("{text:?}: the window must end after it starts"));
    }
    Ok(stall)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_windows_parse() {
        assert_eq!(parse_duration("20ms"), Ok(Duration::from_millis(20)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("20").is_err());
        assert!(parse_duration("20d").is_err());
        let s = parse_stall("5s..6s").unwrap();
        assert_eq!(s.until - s.from, Duration::from_secs(1));
        assert!(parse_stall("6s..5s").is_err());
        assert!(parse_rate("1.5").is_err());
    }
}
