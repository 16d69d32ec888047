//! Live metrics while a load runs (`--metrics-addr`): an OpenMetrics text endpoint at
//! `/metrics`, for Prometheus or any scraper of the text exposition format.
//!
//! [`Snapshot`] is what one scrape reads of the run ([`Snapshot::of`]: the per-user tallies and
//! pushcheck's own latency histograms, as the run already keeps them); [`render`] is a pure
//! function of it. [`serve`] binds the address and serves on a tokio task until the returned
//! [`Serving`] is dropped; nothing in the run waits on it.
//!
//! The figures carry operation labels, kinds and counts only: no credentials, no registration
//! IDs, no URLs, no violation messages (which may quote a body). This module must not print.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::sync::oneshot;

use super::histogram::Histogram;
use super::shared::Run;
use super::tally::Tally;
use crate::api::{Operation, PerOp};

/// The path the figures are served at.
pub const METRICS_PATH: &str = "/metrics";
/// The exposition's content type.
pub const CONTENT_TYPE_OPENMETRICS: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Metric names, each spelled once (counters get `_total` on their samples, histograms
/// `_bucket`, `_count` and `_sum`).
pub mod names {
    pub const REQUESTS: &str = "pushcheck_requests";
    pub const ERRORS: &str = "pushcheck_errors";
    pub const CONTRACT_BREAKS: &str = "pushcheck_contract_breaks";
    pub const LATENCY: &str = "pushcheck_latency_seconds";
    pub const USERS_ACTIVE: &str = "pushcheck_users_active";
    pub const USERS: &str = "pushcheck_users";
    pub const ARRIVAL_TARGET: &str = "pushcheck_arrival_target_requests_per_second";
}

/// The latency histogram's bucket bounds, in seconds (`+Inf` follows).
pub const LATENCY_BOUNDS_SECONDS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// An error kind for an answer whose status was 2xx but broke its contract.
const CONTRACT_KIND: &str = "contract";

/// One operation's figures so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OperationFigures {
    /// Requests sent: answered, and without an answer.
    pub requests: u64,
    /// Failed requests by kind: `status-4xx`, `status-5xx`, `status-other`, a transport kind
    /// (`timeout`, `connect`, …) or `contract` (a 2xx answer that broke its contract). They add
    /// up to summary.json's `failures`.
    pub errors: BTreeMap<&'static str, u64>,
    /// Answers that broke their contract, by kind (`schema`, `content-type`, …).
    pub contract_breaks: BTreeMap<&'static str, u64>,
    /// Per bound of [`LATENCY_BOUNDS_SECONDS`], the times at or under it (to within goose's
    /// bucket width, 1/64).
    pub latency_buckets: [u64; LATENCY_BOUNDS_SECONDS.len()],
    /// Times counted.
    pub latency_count: u64,
    /// Their sum, in seconds.
    pub latency_sum_seconds: f64,
}

impl OperationFigures {
    fn add_tally(&mut self, t: &Tally) {
        self.requests += t.requests();
        let mut statuses = 0;
        for (status, c) in &t.error_statuses {
            statuses += c;
            let kind = match status {
                400..=499 => "status-4xx",
                500..=599 => "status-5xx",
                _ => "status-other",
            };
            *self.errors.entry(kind).or_default() += c;
        }
        let broke_on_2xx = t.failed_answers.saturating_sub(statuses);
        if broke_on_2xx > 0 {
            *self.errors.entry(CONTRACT_KIND).or_default() += broke_on_2xx;
        }
        for (kind, c) in &t.transport_errors {
            *self.errors.entry(kind.as_str()).or_default() += c;
        }
        for (kind, c) in &t.violations_by_kind {
            *self.contract_breaks.entry(kind).or_default() += c;
        }
    }

    fn set_latency(&mut self, h: &Histogram) {
        for (slot, bound) in self.latency_buckets.iter_mut().zip(LATENCY_BOUNDS_SECONDS) {
            *slot = h.count_at_most((bound * 1e6).round() as u64);
        }
        self.latency_count = h.count();
        self.latency_sum_seconds = h.total_us() as f64 / 1e6;
    }

    /// Keeps the latency figures from falling below an earlier scrape's: a user hands its
    /// second's times to the run while a scrape reads, so one scrape may miss them.
    fn keep_rising(&mut self, earlier: &OperationFigures) {
        for (now, then) in self
            .latency_buckets
            .iter_mut()
            .zip(earlier.latency_buckets.iter())
        {
            *now = (*now).max(*then);
        }
        self.latency_count = self.latency_count.max(earlier.latency_count);
        self.latency_sum_seconds = self.latency_sum_seconds.max(earlier.latency_sum_seconds);
    }
}

/// What the run does not count but the endpoint shows.
#[derive(Debug, Clone)]
pub struct Fixed {
    /// The operations of the mix (weight above 0), in [`Operation::ALL`] order.
    pub operations: Vec<Operation>,
    /// The most users the plan starts at once.
    pub users: usize,
    /// Requests/s an arrival rate asks for, when one is set.
    pub arrival_target: Option<f64>,
}

/// One scrape's reading of the run.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub operations: Vec<(Operation, OperationFigures)>,
    /// Users that have sent a request.
    pub users_active: usize,
    pub users: usize,
    pub arrival_target: Option<f64>,
}

impl Snapshot {
    /// Reads the run: every user's tallies, and the times handed to the run plus each user's
    /// current second (read in that order, so a scrape never counts a time twice).
    pub(super) fn of(run: &Run, fixed: &Fixed) -> Snapshot {
        let mut times = run.running_times();
        let mut tallies: PerOp<OperationFigures> = PerOp::default();
        let mut active = 0;
        run.each_user(|user_tallies, user_times, pending| {
            let mut sent = pending;
            for ((figures, t), (sum, ut)) in tallies
                .values_mut()
                .zip(user_tallies.values())
                .zip(times.values_mut().zip(user_times.values()))
            {
                figures.add_tally(t);
                sum.add(ut);
                sent |= t.requests() > 0;
            }
            active += usize::from(sent);
        });
        let operations = fixed
            .operations
            .iter()
            .map(|op| {
                let mut figures = std::mem::take(&mut tallies[*op]);
                figures.set_latency(&times[*op].measured);
                (*op, figures)
            })
            .collect();
        Snapshot {
            operations,
            users_active: active,
            users: fixed.users,
            arrival_target: fixed.arrival_target,
        }
    }

    fn keep_rising(&mut self, earlier: &Snapshot) {
        for ((op, now), (then_op, then)) in self.operations.iter_mut().zip(&earlier.operations) {
            if op == then_op {
                now.keep_rising(then);
            }
        }
    }
}

/// A label value, escaped as the exposition format wants.
fn escape(value: &str) -> String {
    value
        .replace('\\', r"\\")
        .replace('"', r#"\""#)
        .replace('\n', r"\n")
}

/// A number as the exposition format writes it (a float always has a decimal point).
fn number(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

/// The family header: `# TYPE` then `# HELP`.
fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# TYPE {name} {kind}");
    let _ = writeln!(out, "# HELP {name} {help}");
}

/// The snapshot as OpenMetrics text, ending with `# EOF`.
pub fn render(s: &Snapshot) -> String {
    let mut out = String::new();
    let op = |o: &Operation| format!("operation=\"{}\"", escape(o.label()));

    family(
        &mut out,
        names::REQUESTS,
        "counter",
        "Requests sent (answered, and without an answer), per operation.",
    );
    for (o, f) in &s.operations {
        let _ = writeln!(out, "{}_total{{{}}} {}", names::REQUESTS, op(o), f.requests);
    }

    family(
        &mut out,
        names::ERRORS,
        "counter",
        "Failed requests by kind: an error status class (status-4xx, status-5xx), an exchange \
         without an answer (timeout, connect, body, transport, unanswered-at-end) or a 2xx \
         answer that broke its contract (contract).",
    );
    for (o, f) in &s.operations {
        for (kind, c) in &f.errors {
            let _ = writeln!(
                out,
                "{}_total{{{},kind=\"{}\"}} {c}",
                names::ERRORS,
                op(o),
                escape(kind)
            );
        }
    }

    family(
        &mut out,
        names::CONTRACT_BREAKS,
        "counter",
        "Answers that broke their contract (status, Content-Type, schema, meaning), by kind.",
    );
    for (o, f) in &s.operations {
        for (kind, c) in &f.contract_breaks {
            let _ = writeln!(
                out,
                "{}_total{{{},kind=\"{}\"}} {c}",
                names::CONTRACT_BREAKS,
                op(o),
                escape(kind)
            );
        }
    }

    family(
        &mut out,
        names::LATENCY,
        "histogram",
        "Response time from sending to the whole answer, the failure or the end of the run, \
         in seconds.",
    );
    for (o, f) in &s.operations {
        for (bound, c) in LATENCY_BOUNDS_SECONDS.iter().zip(f.latency_buckets) {
            let _ = writeln!(
                out,
                "{}_bucket{{{},le=\"{}\"}} {c}",
                names::LATENCY,
                op(o),
                number(*bound)
            );
        }
        let _ = writeln!(
            out,
            "{}_bucket{{{},le=\"+Inf\"}} {}",
            names::LATENCY,
            op(o),
            f.latency_count
        );
        let _ = writeln!(
            out,
            "{}_count{{{}}} {}",
            names::LATENCY,
            op(o),
            f.latency_count
        );
        let _ = writeln!(
            out,
            "{}_sum{{{}}} {}",
            names::LATENCY,
            op(o),
            number(f.latency_sum_seconds)
        );
    }

    family(
        &mut out,
        names::USERS_ACTIVE,
        "gauge",
        "Users that have sent a request.",
    );
    let _ = writeln!(out, "{} {}", names::USERS_ACTIVE, s.users_active);
    family(
        &mut out,
        names::USERS,
        "gauge",
        "The most users the plan runs at once.",
    );
    let _ = writeln!(out, "{} {}", names::USERS, s.users);
    if let Some(rate) = s.arrival_target {
        family(
            &mut out,
            names::ARRIVAL_TARGET,
            "gauge",
            "Requests per second the arrival rate aims at.",
        );
        let _ = writeln!(out, "{} {}", names::ARRIVAL_TARGET, number(rate));
    }
    out.push_str("# EOF\n");
    out
}

/// Why the endpoint could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot serve metrics on {addr}: {source}")]
pub struct BindError {
    pub addr: SocketAddr,
    #[source]
    pub source: std::io::Error,
}

/// The endpoint while it serves; dropping it stops it (open connections close after their
/// current request; nobody waits for that).
#[derive(Debug)]
pub struct Serving {
    addr: SocketAddr,
    _stop: oneshot::Sender<()>,
}

impl Serving {
    /// The bound address (the port the system chose for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

struct Endpoint {
    run: Arc<Run>,
    fixed: Fixed,
    last: Mutex<Option<Snapshot>>,
}

async fn scrape(State(e): State<Arc<Endpoint>>) -> impl IntoResponse {
    let mut snapshot = Snapshot::of(&e.run, &e.fixed);
    {
        let mut last = e.last.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(earlier) = last.as_ref() {
            snapshot.keep_rising(earlier);
        }
        *last = Some(snapshot.clone());
    }
    (
        [(CONTENT_TYPE, CONTENT_TYPE_OPENMETRICS)],
        render(&snapshot),
    )
}

/// Binds `addr` and serves the run's figures on a tokio task until the [`Serving`] is dropped.
pub(super) async fn serve(
    addr: SocketAddr,
    run: Arc<Run>,
    fixed: Fixed,
) -> Result<Serving, BindError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| BindError { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| BindError { addr, source })?;
    let endpoint = Arc::new(Endpoint {
        run,
        fixed,
        last: Mutex::new(None),
    });
    let app = Router::new()
        .route(METRICS_PATH, get(scrape))
        .with_state(endpoint);
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        // An accept error ends the endpoint, never the run.
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await;
    });
    Ok(Serving {
        addr: bound,
        _stop: stop,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed_snapshot() -> Snapshot {
        let mut get = OperationFigures {
            requests: 10,
            ..OperationFigures::default()
        };
        get.errors.insert("status-5xx", 2);
        get.errors.insert("timeout", 1);
        get.contract_breaks.insert("schema", 1);
        let mut h = Histogram::default();
        h.record_n(2_000, 7);
        h.record_n(300_000, 3);
        get.set_latency(&h);
        Snapshot {
            operations: vec![
                (Operation::Get, get),
                (Operation::Patch, OperationFigures::default()),
            ],
            users_active: 3,
            users: 4,
            arrival_target: Some(50.0),
        }
    }

    #[test]
    fn renders_openmetrics_text() {
        let text = render(&fixed_snapshot());
        let expected = r#"# TYPE pushcheck_requests counter
# HELP pushcheck_requests Requests sent (answered, and without an answer), per operation.
pushcheck_requests_total{operation="GET registration"} 10
pushcheck_requests_total{operation="PATCH registration"} 0
# TYPE pushcheck_errors counter
# HELP pushcheck_errors Failed requests by kind: an error status class (status-4xx, status-5xx), an exchange without an answer (timeout, connect, body, transport, unanswered-at-end) or a 2xx answer that broke its contract (contract).
pushcheck_errors_total{operation="GET registration",kind="status-5xx"} 2
pushcheck_errors_total{operation="GET registration",kind="timeout"} 1
# TYPE pushcheck_contract_breaks counter
# HELP pushcheck_contract_breaks Answers that broke their contract (status, Content-Type, schema, meaning), by kind.
pushcheck_contract_breaks_total{operation="GET registration",kind="schema"} 1
# TYPE pushcheck_latency_seconds histogram
# HELP pushcheck_latency_seconds Response time from sending to the whole answer, the failure or the end of the run, in seconds.
pushcheck_latency_seconds_bucket{operation="GET registration",le="0.001"} 0
pushcheck_latency_seconds_bucket{operation="GET registration",le="0.0025"} 7
pushcheck_latency_seconds_bucket{operation="GET registration",le="0.005"} 7
pushcheck_latency_seconds_bucket{operation="GET registration",le="0.01"} 7
pushcheck_latency_seconds_bucket{operation="GET registration",le="0.025"} 7
pushcheck_latency_seconds_bucket{operation="GET registration",le="0.05"} 7
pushcheck_latency_seconds_bucket{operation="GET registration",le="0.1"} 7
pushcheck_latency_seconds_bucket{operation="GET registration",le="0.25"} 7
pushcheck_latency_seconds_bucket{operation="GET registration",le="0.5"} 10
pushcheck_latency_seconds_bucket{operation="GET registration",le="1.0"} 10
pushcheck_latency_seconds_bucket{operation="GET registration",le="2.5"} 10
pushcheck_latency_seconds_bucket{operation="GET registration",le="5.0"} 10
pushcheck_latency_seconds_bucket{operation="GET registration",le="10.0"} 10
pushcheck_latency_seconds_bucket{operation="GET registration",le="+Inf"} 10
pushcheck_latency_seconds_count{operation="GET registration"} 10
pushcheck_latency_seconds_sum{operation="GET registration"} 0.914
"#;
        assert!(text.starts_with(expected), "{text}");
        assert!(text.ends_with(
            "pushcheck_users_active 3\n# TYPE pushcheck_users gauge\n# HELP pushcheck_users The \
             most users the plan runs at once.\npushcheck_users 4\n# TYPE \
             pushcheck_arrival_target_requests_per_second gauge\n# HELP \
             pushcheck_arrival_target_requests_per_second Requests per second the arrival rate \
             aims at.\npushcheck_arrival_target_requests_per_second 50.0\n# EOF\n"
        ));
        // Every family's samples follow its TYPE line; no family twice.
        let types: Vec<&str> = text.lines().filter(|l| l.starts_with("# TYPE")).collect();
        let mut unique = types.clone();
        unique.dedup();
        assert_eq!(types, unique);
    }

    #[test]
    fn no_arrival_gauge_without_an_arrival_rate() {
        let mut s = fixed_snapshot();
        s.arrival_target = None;
        assert!(!render(&s).contains(names::ARRIVAL_TARGET));
    }

    #[test]
    fn latency_never_falls_between_scrapes() {
        let earlier = fixed_snapshot();
        let mut now = fixed_snapshot();
        now.operations[0].1.latency_count = 4;
        now.operations[0].1.latency_buckets[8] = 4;
        now.keep_rising(&earlier);
        assert_eq!(now, earlier);
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), r#"a\"b\\c\nd"#);
        assert_eq!(number(1.0), "1.0");
        assert_eq!(number(0.0025), "0.0025");
    }

    #[test]
    fn errors_add_up_to_failures() {
        let mut t = Tally {
            answered: 10,
            failed_answers: 4,
            ..Tally::default()
        };
        t.error_statuses.insert(503, 2);
        t.error_statuses.insert(404, 1);
        t.transport_errors
            .insert(super::super::tally::TransportKind::Timeout, 2);
        let mut f = OperationFigures::default();
        f.add_tally(&t);
        assert_eq!(f.requests, 12);
        let kinds: Vec<(&str, u64)> = f.errors.iter().map(|(k, c)| (*k, *c)).collect();
        assert_eq!(
            kinds,
            [
                ("contract", 1),
                ("status-4xx", 1),
                ("status-5xx", 2),
                ("timeout", 2)
            ]
        );
        assert_eq!(
            f.errors.values().sum::<u64>(),
            t.failed_answers + t.no_answer()
        );
    }
}
