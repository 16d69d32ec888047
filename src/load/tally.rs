//! What the transactions count, per operation: the judge's verdicts and the exchanges without
//! an answer ([`Tally`]), the live figures of the progress line ([`Live`]), the last
//! acknowledged write of every registration ([`Expected`]), and their sums over all users after
//! the run ([`Collected`]). Plain data: nothing here sends or prints.

use std::collections::{BTreeMap, HashMap};

use crate::api::Operation;
use crate::load::timeline::TimelineSummary;
use crate::schema::judge::Judged;

/// Distinct violation messages kept per operation and user.
const MAX_SAMPLES: usize = 8;

/// What a registration should read like after the run, from its last acknowledged writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Expected {
    /// `additionalData.pushcheckLoadSeq` of the last acknowledged PATCH.
    pub seq: Option<u64>,
    /// `isPrimary` after a personalize with `setDeviceAsPrimary=true` (documented \[spec\]);
    /// `None` after a depersonalize, whose effect on `isPrimary` the docs do not give.
    pub primary: Option<bool>,
    /// The operation of the last acknowledged write.
    pub last: Option<Operation>,
    /// A write after the last acknowledged one got no 2xx answer (a timeout, an error): the
    /// server may or may not have applied it, so only "not older than acknowledged" is checked.
    pub unsure: bool,
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
    /// Requests with no HTTP answer, by kind (`timeout`, `connect`, `body`, `transport`).
    pub transport_errors: BTreeMap<&'static str, u64>,
    /// Violation message → count (a few distinct messages per user).
    pub samples: HashMap<String, u64>,
}

impl Tally {
    pub(super) fn add(&mut self, other: &Tally) {
        self.answered += other.answered;
        self.validated += other.validated;
        self.violations += other.violations;
        for (k, c) in &other.violations_by_kind {
            *self.violations_by_kind.entry(k).or_default() += c;
        }
        for (k, c) in &other.transport_errors {
            *self.transport_errors.entry(k).or_default() += c;
        }
        for (m, c) in &other.samples {
            *self.samples.entry(m.clone()).or_default() += c;
        }
    }

    pub(super) fn record(&mut self, judged: &Judged) {
        self.answered += 1;
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
}

/// The kind of a failed exchange without an HTTP answer, as reports count them.
pub fn transport_kind(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else if e.is_body() || e.is_decode() {
        "body"
    } else {
        "transport"
    }
}

/// Live figures for the progress line.
#[derive(Debug, Clone)]
pub struct Live {
    pub requests: u64,
    pub errors: u64,
    /// Log-scaled latency buckets: index = 4·log2(µs).
    pub buckets: [u64; 128],
}

impl Default for Live {
    fn default() -> Live {
        Live {
            requests: 0,
            errors: 0,
            buckets: [0; 128],
        }
    }
}

impl Live {
    pub(super) fn record(&mut self, micros: u64, failed: bool) {
        self.requests += 1;
        self.errors += u64::from(failed);
        let index = ((micros.max(1) as f64).log2() * 4.0) as usize;
        self.buckets[index.min(127)] += 1;
    }

    /// Adds another user's figures.
    pub fn add(&mut self, other: &Live) {
        self.requests += other.requests;
        self.errors += other.errors;
        for (a, b) in self.buckets.iter_mut().zip(other.buckets.iter()) {
            *a += b;
        }
    }

    /// The approximate `q` quantile, in milliseconds.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        let total: u64 = self.buckets.iter().sum();
        if total == 0 {
            return 0.0;
        }
        let target = (total as f64 * q).ceil() as u64;
        let mut seen = 0;
        for (i, count) in self.buckets.iter().enumerate() {
            seen += count;
            if seen >= target {
                return 2f64.powf((i + 1) as f64 / 4.0) / 1000.0;
            }
        }
        0.0
    }
}

/// Sums over all users, read after the run.
#[derive(Debug, Default)]
pub struct Collected {
    pub tallies: [Tally; 4],
    /// Feed position → expected state, over every writer.
    pub ledger: HashMap<usize, Expected>,
    /// The run second by second.
    pub timeline: TimelineSummary,
}

impl Collected {
    /// The tally of `op`.
    pub fn tally(&self, op: Operation) -> &Tally {
        &self.tallies[op.index()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_quantiles_are_in_the_right_decade() {
        let mut live = Live::default();
        for _ in 0..100 {
            live.record(1_000, false);
        }
        let p = live.quantile_ms(0.95);
        assert!((0.9..1.5).contains(&p), "{p}");
    }
}
