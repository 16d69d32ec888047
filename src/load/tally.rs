//! What the transactions count, per operation: the judge's verdicts and the exchanges without
//! an answer ([`Tally`]), the last
//! acknowledged write of every registration ([`Expected`]), and their sums over all users after
//! the run ([`Collected`]). Plain data: nothing here sends or prints.

use std::collections::{BTreeMap, HashMap};

use crate::api::client::ClientError;
use crate::api::{Operation, PerOp};
use crate::load::figures::AnswerGap;
use crate::load::histogram::Histogram;
use crate::load::timeline::TimelineSummary;
use crate::schema::judge::Judged;

/// Distinct violation messages kept per operation and user.
const MAX_SAMPLES: usize = 8;

/// What a registration should read like after the run, from its last acknowledged writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Expected {
    /// The sequence number of the last acknowledged PATCH (written as `"<run id>:<seq>"` into
    /// `additionalData.pushcheck_load_seq`).
    pub seq: Option<u64>,
    /// `isPrimary` after a personalize with `setDeviceAsPrimary=true` (documented \[spec\]);
    /// `None` after a depersonalize, whose effect on `isPrimary` the docs do not give.
    pub primary: Option<bool>,
    /// The operation of the last acknowledged write.
    pub last: Option<Operation>,
    /// A write after the last acknowledged one got no 2xx answer (a timeout, an error): the
    /// server may or may not have applied it, so only "not older than acknowledged" is checked.
    pub unsure: bool,
    /// The goose user that wrote it (writes are partitioned: one writer per registration).
    pub writer: Option<usize>,
    /// A second user wrote it too: the partition failed, and which write was last cannot be
    /// told, so the re-read cannot judge it.
    pub shared: bool,
}

/// What the judge and the transport saw of one operation, summed over users.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// Responses with an HTTP status (status and Content-Type judged).
    pub answered: u64,
    /// Responses whose body was validated (schema and meaning), or whose break was found on
    /// status or Content-Type alone: every response that counts in the violation rate.
    pub validated: u64,
    /// Responses that broke their contract.
    pub violations: u64,
    /// Contract breaks by kind (`schema`, `content-type`, …).
    pub violations_by_kind: BTreeMap<&'static str, u64>,
    /// Requests with no HTTP answer, by kind.
    pub transport_errors: BTreeMap<TransportKind, u64>,
    /// Answers that failed: an error status or a contract break (goose's failures, less the
    /// exchanges without an answer).
    pub failed_answers: u64,
    /// Answers by status other than 2xx.
    pub error_statuses: BTreeMap<u16, u64>,
    /// Violation message → count (a few distinct messages per user).
    pub samples: HashMap<String, u64>,
}

impl Tally {
    pub(super) fn add(&mut self, other: &Tally) {
        self.answered += other.answered;
        self.validated += other.validated;
        self.violations += other.violations;
        self.failed_answers += other.failed_answers;
        for (k, c) in &other.error_statuses {
            *self.error_statuses.entry(*k).or_default() += c;
        }
        for (k, c) in &other.violations_by_kind {
            *self.violations_by_kind.entry(k).or_default() += c;
        }
        for (k, c) in &other.transport_errors {
            *self.transport_errors.entry(*k).or_default() += c;
        }
        for (m, c) in &other.samples {
            *self.samples.entry(m.clone()).or_default() += c;
        }
    }

    /// Counts one answer with `status`, as the judge saw it.
    pub(super) fn record(&mut self, status: u16, judged: &Judged) {
        self.answered += 1;
        if !(200..300).contains(&status) {
            *self.error_statuses.entry(status).or_default() += 1;
        }
        if judged.problem.is_some() || !(200..300).contains(&status) {
            self.failed_answers += 1;
        }
        if judged.validated || judged.problem.is_some() {
            self.validated += 1;
        }
        if let Some(problem) = &judged.problem {
            self.violations += 1;
            *self
                .violations_by_kind
                .entry(problem.kind.as_str())
                .or_default() += 1;
            if let Some(c) = self.samples.get_mut(&problem.message) {
                *c += 1;
            } else if self.samples.len() < MAX_SAMPLES {
                self.samples.insert(problem.message.clone(), 1);
            }
        }
    }

    /// Requests without an HTTP answer, every kind.
    pub fn no_answer(&self) -> u64 {
        self.transport_errors.values().sum()
    }

    /// Requests sent: answered, and without an answer.
    pub fn requests(&self) -> u64 {
        self.answered + self.no_answer()
    }
}

/// Why an exchange has no HTTP answer, as the reports count them (`summary.json`'s
/// `transport_errors` keys, the re-read's "no answer (…)").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TransportKind {
    /// The answer's body could not be read whole (or decoded).
    Body,
    /// No connection.
    Connect,
    /// No answer within the request timeout.
    Timeout,
    /// Any other failure of the exchange.
    Transport,
    /// Still waiting for its answer when the run ended.
    UnansweredAtEnd,
}

impl TransportKind {
    /// The kind as reports spell it. The variants are declared in this spelling's order, so a
    /// map keyed by kind lists them as one keyed by the words does.
    pub fn as_str(self) -> &'static str {
        match self {
            TransportKind::Body => "body",
            TransportKind::Connect => "connect",
            TransportKind::Timeout => "timeout",
            TransportKind::Transport => "transport",
            TransportKind::UnansweredAtEnd => "unanswered-at-end",
        }
    }
}

impl std::fmt::Display for TransportKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&reqwest::Error> for TransportKind {
    /// The kind of goose's failed exchange.
    fn from(e: &reqwest::Error) -> TransportKind {
        if e.is_timeout() {
            TransportKind::Timeout
        } else if e.is_connect() {
            TransportKind::Connect
        } else if e.is_body() || e.is_decode() {
            TransportKind::Body
        } else {
            TransportKind::Transport
        }
    }
}

impl From<&ClientError> for TransportKind {
    /// The kind of a failed exchange of [`crate::api::client::Client`] (the re-reads after the
    /// load).
    fn from(e: &ClientError) -> TransportKind {
        match e {
            ClientError::Timeout { .. } => TransportKind::Timeout,
            ClientError::Connect { .. } | ClientError::Untrusted { .. } => TransportKind::Connect,
            ClientError::Transport { .. } | ClientError::Setup(_) => TransportKind::Transport,
        }
    }
}

/// Sums over all users, read after the run.
#[derive(Debug, Default)]
pub struct Collected {
    pub tallies: PerOp<Tally>,
    /// Feed position → expected state, over every writer.
    pub ledger: HashMap<usize, Expected>,
    /// The run second by second.
    pub timeline: TimelineSummary,
    /// Per operation, pushcheck's own times (see [`Times`]).
    pub times: PerOp<Times>,
    /// The run was paced (arrival rate, throttle or rate cap): `Times::from_due` holds every
    /// request's latency from its slot in the arrival schedule.
    pub paced: bool,
    /// Stretches without an answer while requests waited, in time order.
    pub answer_gaps: Vec<AnswerGap>,
    /// The oldest request still waiting when the run ended, in microseconds (0: none).
    pub oldest_unanswered_us: u64,
}

/// One operation's times, as pushcheck measured them.
#[derive(Debug, Clone, Default)]
pub struct Times {
    /// From sending to the whole answer, the failure, or the end of the run.
    pub measured: Histogram,
    /// In a paced run, from the moment each request was due, with the slots no user could
    /// send while every user waited on the server (see [`super::schedule`]).
    pub from_due: Histogram,
}

impl Times {
    pub(super) fn add(&mut self, other: &Times) {
        self.measured.add(&other.measured);
        self.from_due.add(&other.from_due);
    }
}

impl Collected {
    /// The tally of `op`.
    pub fn tally(&self, op: Operation) -> &Tally {
        &self.tallies[op]
    }

    /// The times of `op`.
    pub fn times(&self, op: Operation) -> &Times {
        &self.times[op]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_ordered_as_their_words() {
        let kinds = [
            TransportKind::Body,
            TransportKind::Connect,
            TransportKind::Timeout,
            TransportKind::Transport,
            TransportKind::UnansweredAtEnd,
        ];
        let words: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
        let mut sorted = words.clone();
        sorted.sort_unstable();
        assert_eq!(words, sorted);
        assert!(kinds.windows(2).all(|w| w[0] < w[1]));
    }
}
