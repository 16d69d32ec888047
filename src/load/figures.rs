//! The figures of one operation (or of all together) and of a stretch without answers: the
//! leaf types that the arrival rate, the baseline, the histogram and the tally fill or read,
//! and that [`LoadResult`](super::LoadResult) carries. Its own file, importing nothing of
//! `load`, so that `result` can gather the run's parts and each part can produce figures
//! without a circle between them.

use std::collections::BTreeMap;

use serde::Serialize;

/// A stretch of the run without an answer while requests waited.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnswerGap {
    /// Seconds since the load began, to a tenth.
    pub from_secs: f64,
    pub to_secs: f64,
    pub secs: f64,
    /// The most requests waiting at once when it ended.
    pub requests_waiting: u64,
}

impl AnswerGap {
    /// `2.0 s–7.1 s (5.1 s, 4 requests waiting)`.
    pub fn words(&self) -> String {
        format!(
            "{:.1} s–{:.1} s ({:.1} s, {} request{} waiting)",
            self.from_secs,
            self.to_secs,
            self.secs,
            self.requests_waiting,
            if self.requests_waiting == 1 { "" } else { "s" }
        )
    }
}

/// Response times in milliseconds (also read back from an earlier run's summary, see
/// [`crate::load::baseline`]).
#[derive(Debug, Clone, Copy, Default, Serialize, serde::Deserialize)]
pub struct Latency {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
    pub avg: f64,
}

/// One schema violation message and how often it was seen.
#[derive(Debug, Clone, Serialize)]
pub struct ViolationSample {
    pub message: String,
    pub count: u64,
}

/// Figures of one operation (or of all together).
#[derive(Debug, Clone, Default, Serialize)]
pub struct OperationStats {
    /// `GET registration`, …, or `all`.
    pub operation: String,
    /// Requests sent: `answered` + `no_answer` (goose's synthetic requests are never counted).
    pub requests: u64,
    /// Failed requests: error statuses, contract breaks and requests without an answer.
    pub failures: u64,
    /// `requests` per second of the run.
    pub rps: f64,
    /// Response times: from sending to the whole answer, a failure at the time it took, or the
    /// end of the run for a request still waiting.
    pub latency_ms: Latency,
    /// The adjusted times (see `latency_model`): from due in an open model; goose's backfill
    /// in a closed model, when it added any.
    pub adjusted_latency_ms: Option<Latency>,
    /// Requests without an HTTP answer (every kind of `transport_errors`).
    pub no_answer: u64,
    /// Of them, requests still waiting when the run ended.
    pub unanswered_at_end: u64,
    /// Count per HTTP status other than 2xx (`"0"`: no response).
    pub errors_by_status: BTreeMap<String, u64>,
    /// Responses with an HTTP status; every one had its status and Content-Type judged.
    pub answered: u64,
    /// Responses judged whole: the sampled share whose body was validated (schema and meaning),
    /// plus every response that broke its contract on status or Content-Type.
    pub validated: u64,
    /// Responses that broke their contract (status, Content-Type, body, schema or meaning).
    pub schema_violations: u64,
    /// Violations as a percent of `validated`.
    pub schema_violation_rate: f64,
    /// Violations by kind: `status`, `content-type`, `body`, `schema`, `meaning`.
    pub violations_by_kind: BTreeMap<String, u64>,
    /// Requests without an HTTP answer, by kind: `timeout`, `connect`, `body`, `transport`,
    /// `unanswered-at-end`.
    pub transport_errors: BTreeMap<String, u64>,
    pub violation_samples: Vec<ViolationSample>,
}
