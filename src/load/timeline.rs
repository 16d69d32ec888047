//! The run second by second: per operation, requests, errors (by kind) and approximate latency
//! percentiles, kept while the load runs, for the reports (`summary.json`, and `timeline.csv`,
//! which `report::csv` renders) — so a stall, the ramp or a slow minute can be seen, not only
//! end-of-run percentiles.
//!
//! Memory is bounded for hours-long soaks: at most [`MAX_POINTS`] points; when a run outgrows
//! them, neighbouring points are merged and the step doubles (1 s, 2 s, 4 s, …). Each user adds
//! its responses to a one-second accumulator in its own slot and hands it over here once per
//! second, so the shared timeline is locked about once per user per second, never per response.
//! Latencies go into log-scaled buckets (four per doubling): the percentiles are approximate,
//! within about 10% — goose's histograms give the exact end-of-run figures.

use serde::Serialize;

use crate::api::{Operation, PerOp};

/// The most points a timeline keeps (an hour at one second).
pub const MAX_POINTS: usize = 3600;
/// Latency buckets: index = 4·log2(µs), up to about 4.6 hours.
const BUCKETS: usize = 96;

/// One operation's responses in one step.
#[derive(Debug, Clone, PartialEq)]
pub struct OpStep {
    pub requests: u64,
    /// Error statuses, contract breaks and exchanges without an answer (goose's failures).
    pub errors: u64,
    /// Responses that broke their contract (status, Content-Type, body, schema, meaning).
    pub violations: u64,
    /// Exchanges without an HTTP answer (timeout, connect, transport).
    pub no_answer: u64,
    pub status_4xx: u64,
    pub status_5xx: u64,
    buckets: [u32; BUCKETS],
}

impl Default for OpStep {
    fn default() -> OpStep {
        OpStep {
            requests: 0,
            errors: 0,
            violations: 0,
            no_answer: 0,
            status_4xx: 0,
            status_5xx: 0,
            buckets: [0; BUCKETS],
        }
    }
}

/// What became of one exchange, for the timeline.
#[derive(Debug, Clone, Copy)]
pub enum Exchange {
    /// An HTTP status came back; `broke`: the response broke its contract.
    Answered { status: u16, broke: bool },
    /// No (whole) answer.
    NoAnswer,
}

impl OpStep {
    /// Counts one exchange that took `micros`.
    pub fn record(&mut self, micros: u64, exchange: Exchange) {
        self.requests += 1;
        match exchange {
            Exchange::Answered { status, broke } => {
                self.violations += u64::from(broke);
                self.errors += u64::from(broke || !(200..300).contains(&status));
                self.status_4xx += u64::from((400..500).contains(&status));
                self.status_5xx += u64::from(status >= 500);
            }
            Exchange::NoAnswer => {
                self.no_answer += 1;
                self.errors += 1;
            }
        }
        let index = ((micros.max(1) as f64).log2() * 4.0) as usize;
        let bucket = &mut self.buckets[index.min(BUCKETS - 1)];
        *bucket = bucket.saturating_add(1);
    }

    /// Adds another's counts (another user's, another second's).
    pub fn add(&mut self, other: &OpStep) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.violations += other.violations;
        self.no_answer += other.no_answer;
        self.status_4xx += other.status_4xx;
        self.status_5xx += other.status_5xx;
        for (a, b) in self.buckets.iter_mut().zip(other.buckets.iter()) {
            *a = a.saturating_add(*b);
        }
    }

    /// The upper bound of the slowest non-empty bucket, in milliseconds; 0 without requests.
    pub fn max_ms(&self) -> f64 {
        self.buckets
            .iter()
            .rposition(|c| *c > 0)
            .map_or(0.0, |i| 2f64.powf((i + 1) as f64 / 4.0) / 1000.0)
    }

    /// What happened since `earlier` (an earlier reading of the same running sum).
    pub fn since(&self, earlier: &OpStep) -> OpStep {
        let mut buckets = self.buckets;
        for (a, b) in buckets.iter_mut().zip(earlier.buckets.iter()) {
            *a = a.saturating_sub(*b);
        }
        OpStep {
            requests: self.requests.saturating_sub(earlier.requests),
            errors: self.errors.saturating_sub(earlier.errors),
            violations: self.violations.saturating_sub(earlier.violations),
            no_answer: self.no_answer.saturating_sub(earlier.no_answer),
            status_4xx: self.status_4xx.saturating_sub(earlier.status_4xx),
            status_5xx: self.status_5xx.saturating_sub(earlier.status_5xx),
            buckets,
        }
    }

    /// The approximate `q` quantile of the latencies, in milliseconds (the bucket's geometric
    /// middle); 0 without requests.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        let total: u64 = self.buckets.iter().map(|b| u64::from(*b)).sum();
        if total == 0 {
            return 0.0;
        }
        let target = ((total as f64 * q).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (i, count) in self.buckets.iter().enumerate() {
            seen += u64::from(*count);
            if seen >= target {
                return 2f64.powf((i as f64 + 0.5) / 4.0) / 1000.0;
            }
        }
        0.0
    }
}

/// Every operation's responses in one step.
pub type Step = PerOp<OpStep>;

/// The run's timeline: one [`Step`] per `step_secs` seconds since the load started.
#[derive(Debug, Clone)]
pub struct Timeline {
    step_secs: u64,
    points: Vec<Step>,
}

impl Default for Timeline {
    fn default() -> Timeline {
        Timeline {
            step_secs: 1,
            points: Vec::new(),
        }
    }
}

impl Timeline {
    /// Adds what happened in second `second` (counted from the start of the load).
    pub fn add(&mut self, second: u64, step: &Step) {
        while second / self.step_secs >= MAX_POINTS as u64 {
            self.coarsen();
        }
        let at = (second / self.step_secs) as usize;
        if self.points.len() <= at {
            self.points.resize_with(at + 1, Step::default);
        }
        for (into, from) in self.points[at].values_mut().zip(step.values()) {
            into.add(from);
        }
    }

    /// Merges neighbouring points: half as many, each twice as long.
    fn coarsen(&mut self) {
        let merged = self
            .points
            .chunks(2)
            .map(|pair| {
                let mut step = pair[0].clone();
                if let Some(second) = pair.get(1) {
                    for (into, from) in step.values_mut().zip(second.values()) {
                        into.add(from);
                    }
                }
                step
            })
            .collect();
        self.points = merged;
        self.step_secs *= 2;
    }

    /// The timeline as the reports have it: one point per step for every operation that had
    /// traffic in the run, steps without traffic included (a stall shows as zeros).
    pub fn summary(&self) -> TimelineSummary {
        let sent: Vec<Operation> = Operation::ALL
            .into_iter()
            .filter(|op| self.points.iter().any(|p| p[*op].requests > 0))
            .collect();
        let step = self.step_secs as f64;
        let points = self
            .points
            .iter()
            .enumerate()
            .flat_map(|(i, p)| {
                sent.iter().map(move |op| {
                    let s = &p[*op];
                    TimelinePoint {
                        t_secs: i as u64 * self.step_secs,
                        operation: op.label(),
                        requests: s.requests,
                        rps: s.requests as f64 / step,
                        errors: s.errors,
                        violations: s.violations,
                        no_answer: s.no_answer,
                        status_4xx: s.status_4xx,
                        status_5xx: s.status_5xx,
                        p50_ms: s.quantile_ms(0.50),
                        p95_ms: s.quantile_ms(0.95),
                        p99_ms: s.quantile_ms(0.99),
                        max_ms: s.max_ms(),
                    }
                })
            })
            .collect();
        let histogram = sent
            .iter()
            .flat_map(|op| {
                let mut whole = OpStep::default();
                for p in &self.points {
                    whole.add(&p[*op]);
                }
                whole
                    .buckets
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| **c > 0)
                    .map(|(i, c)| HistogramBar {
                        operation: op.label(),
                        from_ms: 2f64.powf(i as f64 / 4.0) / 1000.0,
                        to_ms: 2f64.powf((i + 1) as f64 / 4.0) / 1000.0,
                        count: u64::from(*c),
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        TimelineSummary {
            step_secs: self.step_secs,
            points,
            histogram,
            elapsed_secs: 0.0,
        }
    }
}

/// The timeline in `summary.json` and `timeline.csv`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TimelineSummary {
    /// Seconds per point (1, unless the run outgrew [`MAX_POINTS`] points).
    pub step_secs: u64,
    /// One per step and operation, in time order.
    pub points: Vec<TimelinePoint>,
    /// The whole run's latencies per operation, in log-scaled buckets (four per doubling);
    /// empty buckets left out.
    pub histogram: Vec<HistogramBar>,
    /// Seconds from the start of the load to its end (see [`TimelineSummary::ended_at`]): the
    /// last step is only as long as the run lasted into it. 0 when not known.
    pub elapsed_secs: f64,
}

/// One latency bucket of one operation over the whole run.
#[derive(Debug, Clone, Serialize)]
pub struct HistogramBar {
    pub operation: &'static str,
    pub from_ms: f64,
    pub to_ms: f64,
    pub count: u64,
}

/// One operation in one step.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TimelinePoint {
    /// Start of the step, seconds after the load started.
    pub t_secs: u64,
    pub operation: &'static str,
    pub requests: u64,
    pub rps: f64,
    pub errors: u64,
    pub violations: u64,
    pub no_answer: u64,
    pub status_4xx: u64,
    pub status_5xx: u64,
    /// Approximate percentiles (log buckets, within about 10%).
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    /// The slowest response's bucket, its upper bound: a stall shows here even when too few
    /// requests were held to move p99.
    pub max_ms: f64,
}

impl TimelineSummary {
    /// The timeline of a load that ended `elapsed` after its start: the last step's rate is
    /// its requests over the part of the step the run lasted, not over a whole step (a run that
    /// ends 0.2 s into a second would otherwise show a drop to a fifth of its rate).
    pub fn ended_at(mut self, elapsed: std::time::Duration) -> TimelineSummary {
        self.elapsed_secs = elapsed.as_secs_f64();
        for i in 0..self.points.len() {
            let length = self.step_length(self.points[i].t_secs);
            let p = &mut self.points[i];
            p.rps = p.requests as f64 / length;
        }
        self
    }

    /// How long the step starting at `t_secs` lasted: `step_secs`, or less for the step the
    /// run ended in (at least a tenth of a second, so a few late answers are not a spike).
    pub fn step_length(&self, t_secs: u64) -> f64 {
        let step = self.step_secs.max(1) as f64;
        if self.elapsed_secs <= 0.0 {
            return step;
        }
        (self.elapsed_secs - t_secs as f64).clamp(0.1_f64.min(step), step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step_with(op: Operation, requests: u64, micros: u64) -> Step {
        let mut step = Step::default();
        for _ in 0..requests {
            step[op].record(
                micros,
                Exchange::Answered {
                    status: 200,
                    broke: false,
                },
            );
        }
        step
    }

    #[test]
    fn a_second_without_traffic_is_a_zero_not_a_gap() {
        let mut t = Timeline::default();
        t.add(0, &step_with(Operation::Get, 10, 1_000));
        t.add(2, &step_with(Operation::Get, 5, 1_000));
        let s = t.summary();
        let requests: Vec<u64> = s.points.iter().map(|p| p.requests).collect();
        assert_eq!(requests, [10, 0, 5]);
        assert!(s.points.iter().all(|p| p.operation == "GET registration"));
        let p50 = s.points[0].p50_ms;
        assert!((0.9..1.1).contains(&p50), "{p50}");
    }

    #[test]
    fn a_long_run_keeps_at_most_max_points_and_every_request() {
        let mut t = Timeline::default();
        let seconds = MAX_POINTS as u64 * 3 + 7;
        for second in 0..seconds {
            t.add(second, &step_with(Operation::Patch, 2, 500));
        }
        let s = t.summary();
        assert!(s.points.len() <= MAX_POINTS, "{}", s.points.len());
        assert_eq!(s.step_secs, 4);
        let total: u64 = s.points.iter().map(|p| p.requests).sum();
        assert_eq!(total, seconds * 2);
    }

    #[test]
    fn the_last_second_is_the_difference_of_two_readings() {
        let mut sum = OpStep::default();
        let ok = Exchange::Answered {
            status: 200,
            broke: false,
        };
        for _ in 0..100 {
            sum.record(1_000, ok);
        }
        let earlier = sum.clone();
        for _ in 0..10 {
            sum.record(400_000, ok);
        }
        let last = sum.since(&earlier);
        assert_eq!(last.requests, 10);
        let p95 = last.quantile_ms(0.95);
        assert!((350.0..450.0).contains(&p95), "{p95}");
    }

    #[test]
    fn the_last_partial_second_has_its_real_rate() {
        let mut t = Timeline::default();
        t.add(0, &step_with(Operation::Get, 100, 1_000));
        t.add(1, &step_with(Operation::Get, 100, 1_000));
        t.add(2, &step_with(Operation::Get, 25, 1_000));
        let s = t
            .summary()
            .ended_at(std::time::Duration::from_millis(2_250));
        let rps: Vec<f64> = s.points.iter().map(|p| p.rps).collect();
        assert_eq!(rps, [100.0, 100.0, 100.0]);
        assert_eq!(s.step_length(2), 0.25);
        assert_eq!(s.step_length(0), 1.0);
    }

    #[test]
    fn errors_are_counted_by_kind() {
        let mut step = OpStep::default();
        step.record(
            10,
            Exchange::Answered {
                status: 503,
                broke: false,
            },
        );
        step.record(
            10,
            Exchange::Answered {
                status: 200,
                broke: true,
            },
        );
        step.record(10, Exchange::NoAnswer);
        assert_eq!(
            (
                step.errors,
                step.violations,
                step.no_answer,
                step.status_5xx
            ),
            (3, 1, 1, 1)
        );
    }
}
