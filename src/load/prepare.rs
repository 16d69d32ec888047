//! Everything a load needs before goose starts, checked before the first load request: the data
//! feed, the rate cap, the credentials as a header, the report directory, goose's configuration
//! (so a value goose refuses is a usage error with goose's reason), and the shared preflight on
//! the target — one GET of the first registration of each application — so that a target that
//! is down, credentials it refuses, or an app code or registration it does not know end the run
//! in seconds with one line, instead of a load of identical failures.
//!
//! It sends only the feed listing and the probe; it prints nothing.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use goose::config::GooseConfiguration;
use goose::prelude::GooseError;
use reqwest::header::HeaderValue;

use super::{Feed, FeedSource, LoadConfig, LoadError, Reached, total_rate_for};
use crate::api::RATE_LIMIT_PER_SECOND;
use crate::api::client::{Client, ClientConfig};
use crate::api::preflight::{Device, preflight};
use crate::api::transport::{self, Route};
use crate::load::arrival::{self, Pacing};
use crate::load::baseline::{Baseline, DEFAULT_GATES};
use crate::load::reader::Reader;
use crate::load::scenario::{CoMitigation, Length, LoadPlan, Ramp, Shape};
use crate::load::threshold::{PlannedRule, Rule, RuleError, Source};
use crate::report::names;

/// At most this many applications' first devices are read before the load.
const PROBED_APPLICATIONS: usize = 8;
/// The probe's wait for an answer, at most.
const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// What [`prepare`] settled.
#[derive(Debug)]
pub struct Prepared {
    /// The client of the feed listing and the simulator's invariant check.
    pub client: reqwest::Client,
    /// goose's users' client, one for all (one connection pool, as goose's own shared client):
    /// the process's trust (`--ca-cert`) and proxy route, which goose's builder cannot take.
    pub users_client: reqwest::Client,
    /// The API client of the reads and restore around a live run and of the checks after the
    /// load, paced under the rate cap.
    pub reader: Reader,
    pub feed: Feed,
    /// Requests/s per operation the run is capped at.
    pub per_op_cap: Option<u32>,
    /// goose's request throttle, all users together.
    pub throttle: Option<usize>,
    /// The throttle for the scenario's arrival rate, calibrated on goose's tick.
    pub pacing: Option<Pacing>,
    /// Requests/s of the arrival schedule of a paced run (the arrival rate's target, else the
    /// throttle): the open model, whose adjusted latency is from due; `None`: a closed model.
    pub paced_rps: Option<f64>,
    pub authorization: HeaderValue,
    /// Report files the run writes, relative to the report directory.
    pub reports: Vec<String>,
    /// goose's configuration, checked by goose's own parser.
    pub goose: GooseConfiguration,
    /// This run's ID: the start of every value its PATCHes write into
    /// [`crate::api::footprint::LOAD_ATTRIBUTE`].
    pub run_id: String,
    /// The earlier run `--baseline` names.
    pub baseline: Option<Baseline>,
    /// The plan's rules, and the default regression gates when a baseline came without any.
    pub rules: Vec<PlannedRule>,
    pub notes: Vec<String>,
    /// The `applicationId` each application code's registrations must carry.
    pub application_ids: HashMap<String, String>,
}

/// Reads the feed, probes the target and builds goose's configuration.
pub async fn prepare(config: &LoadConfig, at: &Reached) -> Result<Prepared, LoadError> {
    let plan = &config.plan;
    let route = route(at);
    let client = transport::builder(route)
        .user_agent(concat!("pushcheck/", env!("CARGO_PKG_VERSION")))
        .timeout(config.request_timeout)
        .build()
        .map_err(|e| LoadError::Goose(format!("cannot build an HTTP client: {e}")))?;
    // What goose's own shared client is (gzip on, no cookies), with pushcheck's trust and route.
    let users_client = transport::builder(route)
        .user_agent(concat!("pushcheck/", env!("CARGO_PKG_VERSION")))
        .timeout(config.request_timeout)
        .gzip(true)
        .build()
        .map_err(|e| LoadError::Goose(format!("cannot build an HTTP client: {e}")))?;
    let authorization = authorization(config)?;
    let per_op_cap = match (config.max_rps, !at.target.loopback) {
        (Some(cap), _) => Some(cap),
        (None, true) => Some(RATE_LIMIT_PER_SECOND),
        (None, false) => None,
    };
    let (pacing, throttle) = throttle(plan, per_op_cap).await;
    let reports = report_dir(config)?;
    let baseline = match &config.baseline {
        Some(path) => Some(Baseline::read(path).map_err(|e| LoadError::Config(e.to_string()))?),
        None => None,
    };
    let rules = rules_with_baseline(&plan.thresholds, baseline.as_ref())?;
    let goose = goose_configuration(config, at, throttle, baseline.as_ref())?;
    let paced_rps = match pacing {
        Some(p) => Some(p.target as f64),
        None => throttle.map(|t| t as f64),
    };

    let feed = match &at.feed {
        FeedSource::Admin => {
            Feed::from_admin(
                &client,
                &at.target.base_url,
                &authorization,
                config.feed_limit,
            )
            .await?
        }
        FeedSource::File(path) => Feed::from_file(path, config.app_code.as_deref())?,
        FeedSource::Registrations(ids) => Feed::from_ids(ids, config.app_code.as_deref())?,
    };
    let application_ids = probe(config, at, &feed).await?;
    let api = Client::new(ClientConfig {
        credentials: Some(config.credentials.clone()),
        timeout: config.request_timeout,
        route,
        ..ClientConfig::new(at.target.base_url.clone())
    })
    .map_err(|e| LoadError::Config(e.to_string()))?;

    let mut notes = Vec::new();
    let numbered = plan.shape.numbered_users();
    if plan.mix.writes() && numbered > feed.len() {
        notes.push(format!(
            "{} of {numbered} users{} had no registration of their own to write and read instead",
            numbered - feed.len(),
            if matches!(plan.shape, Shape::Stages(_)) {
                " (every user the stages start)"
            } else {
                ""
            }
        ));
    }
    if paced_rps.is_some() && plan.co_mitigation != CoMitigation::Disabled {
        notes.push(format!(
            "co_mitigation = \"{}\" is for a closed model: this run is paced (open model), so \
             its adjusted latency is measured from each request's due time instead of goose's \
             backfill, which would take the pacing for omission",
            plan.co_mitigation.as_str()
        ));
    }
    // An arrival rate has its own section, with the cap's part in any shortfall.
    if let Some(t) = throttle.filter(|_| plan.arrival_rate.is_none()) {
        notes.push(format!(
            "throttled to {t} requests/s in total{}",
            per_op_cap.map_or(String::new(), |c| format!(" (at most {c}/s per operation)"))
        ));
    }
    Ok(Prepared {
        client,
        users_client,
        reader: Reader::new(
            api,
            per_op_cap.map(|c| std::time::Duration::from_secs_f64(1.0 / f64::from(c.max(1)))),
        ),
        feed,
        per_op_cap,
        throttle,
        pacing,
        paced_rps,
        authorization,
        reports,
        goose,
        run_id: run_id(),
        baseline,
        rules,
        notes,
        application_ids,
    })
}

/// goose's one throttle: the lower of the rate cap's total and the scenario's throttle or
/// arrival rate (calibrated on goose's tick, see [`arrival::calibrate`]).
async fn throttle(plan: &LoadPlan, per_op_cap: Option<u32>) -> (Option<Pacing>, Option<usize>) {
    let cap_total = per_op_cap.map(|c| total_rate_for(c, plan));
    let pacing = match plan.arrival_rate {
        Some(rate) => Some(arrival::calibrate(rate, cap_total).await),
        None => None,
    };
    let asked = plan.throttle.or(pacing.map(|p| p.goose_throttle));
    let throttle = match (cap_total, asked) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    (pacing, throttle)
}

/// The credentials as the `Authorization` header, marked sensitive.
fn authorization(config: &LoadConfig) -> Result<HeaderValue, LoadError> {
    let mut value =
        HeaderValue::from_str(config.credentials.header_value().expose()).map_err(|_| {
            LoadError::Config(format!(
                "the {} credentials cannot be sent as a header value (a control character?)",
                config.credentials.scheme()
            ))
        })?;
    value.set_sensitive(true);
    Ok(value)
}

/// Creates the report directory; the files the run will write there.
fn report_dir(config: &LoadConfig) -> Result<Vec<String>, LoadError> {
    let Some(dir) = &config.report_dir else {
        return Ok(Vec::new());
    };
    std::fs::create_dir_all(dir).map_err(|source| LoadError::ReportDir {
        path: dir.clone(),
        source,
    })?;
    Ok(names::LOAD_RUN.map(String::from).to_vec())
}

/// The run's rules: a regression gate needs a baseline; a baseline without any gate brings
/// [`DEFAULT_GATES`].
fn rules_with_baseline(
    planned: &[PlannedRule],
    baseline: Option<&Baseline>,
) -> Result<Vec<PlannedRule>, LoadError> {
    let gates = planned
        .iter()
        .filter(|p| matches!(p.rule, Rule::Regression(_)));
    let mut rules = planned.to_vec();
    match (gates.clone().next(), baseline) {
        (Some(gate), None) => {
            return Err(LoadError::Config(format!(
                "threshold {:?} compares with an earlier run: give `pushcheck load` --baseline with that run's summary.json (`check` has no baseline)",
                gate.rule.text()
            )));
        }
        (None, Some(_)) => {
            for text in DEFAULT_GATES {
                let rule = text
                    .parse()
                    .map_err(|e: RuleError| LoadError::Config(e.to_string()))?;
                rules.push(PlannedRule {
                    rule,
                    source: Source::BaselineDefault,
                    replaces: None,
                });
            }
        }
        _ => {}
    }
    Ok(rules)
}

/// A short ID for this run: time and process, in hex.
fn run_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{:x}{:x}",
        (nanos as u64) & 0xff_ffff_ffff,
        std::process::id()
    )
}

/// The simulator pushcheck started for the run is reached directly; any other target through
/// the environment's proxy, if any (see [`crate::api::transport`]).
fn route(at: &Reached) -> Route {
    if at.embedded {
        Route::Direct
    } else {
        Route::Environment
    }
}

/// The shared preflight ([`crate::api::preflight`]) on the first registration of each app code
/// in the feed (not every device: a feed may list thousands, and a live target allows 50
/// requests/s): a target that does not answer is a runtime error (exit 3); refused credentials,
/// an unknown app code or registration are usage errors (exit 2). Any other answer lets the
/// load go on and judge it.
async fn probe(
    config: &LoadConfig,
    at: &Reached,
    feed: &Feed,
) -> Result<HashMap<String, String>, LoadError> {
    let mut devices: Vec<Device> = Vec::new();
    for entry in &feed.entries {
        let code = entry.app_code.to_str().unwrap_or_default();
        if devices.len() < PROBED_APPLICATIONS
            && !devices.iter().any(|d| d.app_code.as_deref() == Some(code))
        {
            devices.push(Device::with_app(&*entry.registration_id, code));
        }
    }
    let client = Client::new(ClientConfig {
        credentials: Some(config.credentials.clone()),
        timeout: config.request_timeout.min(PROBE_TIMEOUT),
        route: route(at),
        ..ClientConfig::new(at.target.base_url.clone())
    })
    .map_err(|e| LoadError::Config(e.to_string()))?;
    let states = preflight(&client, &devices).await?;
    // One application's registrations carry one applicationId: the flag's, else the one its
    // first device answered (judged on every sampled answer, as the contract suite does).
    let mut ids = HashMap::new();
    for state in &states {
        let code = state.device.app_code.clone().unwrap_or_default();
        let learned = state
            .registration()
            .and_then(|r| r.get(crate::api::field::APPLICATION_ID))
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned);
        if let Some(id) = config.application_id.clone().or(learned) {
            ids.insert(code, id);
        }
    }
    Ok(ids)
}

/// goose's configuration, built from the plan as goose's own command line, so goose checks
/// every value as it would its own flags.
fn goose_configuration(
    config: &LoadConfig,
    at: &Reached,
    throttle: Option<usize>,
    baseline: Option<&Baseline>,
) -> Result<GooseConfiguration, LoadError> {
    let plan = &config.plan;
    // A paced run (open model) measures latency from due itself: goose's backfill would take
    // the throttle's waits for omitted requests.
    let co_mitigation = if throttle.is_some() {
        CoMitigation::Disabled
    } else {
        plan.co_mitigation
    };
    let mut args: Vec<String> = vec![
        "--host".into(),
        at.target.base_url.clone(),
        "--co-mitigation".into(),
        co_mitigation.as_str().into(),
        "--no-print-metrics".into(),
        "--no-telnet".into(),
    ];
    // goose sets the process's log level from its own flags when it starts (its logger then
    // fails to install beside pushcheck's, but the level sticks): --quiet keeps it at warnings,
    // and without it goose's info messages pass, as `-v` (console::install_logger) asks.
    if log::max_level() < log::LevelFilter::Info {
        args.push("--quiet".into());
    }
    args.extend(shape_args(&plan.shape, plan.steady_state_only));
    if let Some(t) = throttle {
        args.extend(["--throttle-requests".into(), t.to_string()]);
    }
    for planned in &plan.thresholds {
        if let Rule::Goose(g) = &planned.rule {
            args.extend(["--threshold".into(), g.rule.clone()]);
        }
    }
    if let Some(dir) = &config.report_dir {
        for name in names::GOOSE {
            args.extend([
                "--report-file".into(),
                dir.join(name).to_string_lossy().into_owned(),
            ]);
        }
    }
    if let Some(report) = baseline.and_then(|b| b.goose_report.as_ref()) {
        args.extend([
            "--baseline-file".into(),
            report.to_string_lossy().into_owned(),
        ]);
    }
    GooseConfiguration::parse_args_default(&args).map_err(|e| LoadError::Config(goose_reason(&e)))
}

/// goose's flags for the users over time: a test plan, or users, ramp and length.
fn shape_args(shape: &Shape, steady_state_only: bool) -> Vec<String> {
    let (users, ramp, length) = match shape {
        // goose's plan never resets its metrics, and refuses the flag that says so.
        Shape::Stages(stages) => return vec!["--test-plan".into(), stages.goose_plan()],
        Shape::Hold {
            users,
            ramp,
            length,
        } => (users, ramp, length),
    };
    let mut args = vec!["--users".into(), users.to_string()];
    match ramp {
        Ramp::Rate(r) => args.extend(["--increase-rate".into(), r.to_string()]),
        Ramp::Time(t) => args.extend(["--increase-time".into(), t.whole_seconds().to_string()]),
    }
    match length {
        Length::RunTime(t) => {
            args.extend(["--run-time".into(), t.whole_seconds().to_string()]);
            // The verdict covers every request sent, the ramp included, unless the scenario
            // asks for the steady state only. (goose refuses the flag with --iterations, which
            // never resets its metrics anyway.)
            if !steady_state_only {
                args.push("--no-reset-metrics".into());
            }
        }
        Length::Iterations(n) => args.extend(["--iterations".into(), n.to_string()]),
    }
    args
}

/// goose's own words for an error: the detail of a refused option, else its display.
pub fn goose_reason(e: &GooseError) -> String {
    match e {
        GooseError::InvalidOption { detail, .. } => format!("goose: {detail}"),
        other => format!("goose: {other}"),
    }
}
