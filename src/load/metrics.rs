//! The run's figures per operation: requests (answered + no answer), latency measured and
//! adjusted, errors by status, and pushcheck's tallies (validation, contract breaks, transport
//! errors) beside them.
//!
//! Counts and times are pushcheck's own ([`Collected`]): every request sent, answered or not,
//! timed to its whole answer, its failure or the end of the run. goose's histograms give only
//! the closed model's adjusted figure: goose's coordinated-omission backfill, taken as the
//! times goose added (its adjusted data less its measured data) on top of pushcheck's measured
//! times, so its synthetic requests never count as requests. In an open model the adjusted
//! figure is the latency from due ([`super::schedule`]). It only computes.

use std::collections::BTreeMap;

use goose::metrics::GooseMetrics;

use crate::api::Operation;
use crate::load::histogram::Histogram;
use crate::load::result::{AdjustedFrom, Latency, OperationStats, ViolationSample};
use crate::load::scenario::LoadPlan;
use crate::load::tally::{Collected, TransportKind};

/// What the adjusted figures are in this run.
pub fn adjusted_from(metrics: &GooseMetrics, collected: &Collected) -> AdjustedFrom {
    if collected.paced {
        AdjustedFrom::FromDue
    } else if metrics.coordinated_omission_metrics.is_some() {
        AdjustedFrom::GooseBackfill
    } else {
        AdjustedFrom::Measured
    }
}

/// The adjusted times of one operation (all with `None`): from due in a paced run; else the
/// measured times plus goose's synthetic ones, where goose added any.
pub fn adjusted_histogram(
    metrics: &GooseMetrics,
    collected: &Collected,
    request: Option<Operation>,
) -> Histogram {
    let mut out = Histogram::default();
    for op in Operation::ALL
        .into_iter()
        .filter(|op| request.is_none_or(|r| r == *op))
    {
        let times = collected.times(op);
        if collected.paced {
            out.add(&times.from_due);
            continue;
        }
        out.add(&times.measured);
        if let Some(a) = metrics.requests.get(op.label())
            && let Some(co) = &a.coordinated_omission_data
        {
            out.add(&Histogram::synthetic(co, &a.raw_data));
        }
    }
    out
}

/// Whether goose backfilled anything for `request` (all with `None`).
fn goose_backfilled(metrics: &GooseMetrics, request: Option<&str>) -> bool {
    metrics
        .requests
        .iter()
        .any(|(name, a)| request.is_none_or(|r| r == name) && a.coordinated_omission_data.is_some())
}

/// The adjusted latency of `request` as the result shows it: always in a paced run; in a
/// closed one only where goose backfilled.
fn adjusted_latency(
    metrics: &GooseMetrics,
    collected: &Collected,
    request: Option<Operation>,
) -> Option<Latency> {
    (collected.paced || goose_backfilled(metrics, request.map(Operation::label)))
        .then(|| adjusted_histogram(metrics, collected, request).latency())
}

fn rate(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// A tally's counts by kind, with owned keys for the result.
fn by_kind<K: std::fmt::Display>(counts: &BTreeMap<K, u64>) -> BTreeMap<String, u64> {
    counts.iter().map(|(k, c)| (k.to_string(), *c)).collect()
}

/// Figures of every operation the plan sends, in the API's order.
pub fn operation_stats(
    metrics: &GooseMetrics,
    collected: &Collected,
    plan: &LoadPlan,
) -> Vec<OperationStats> {
    let seconds = (metrics.duration as f64).max(1.0);
    Operation::ALL
        .iter()
        .filter(|op| plan.mix.weight(**op) > 0)
        .map(|op| {
            let tally = collected.tally(*op);
            let mut samples: Vec<ViolationSample> = tally
                .samples
                .iter()
                .map(|(m, c)| ViolationSample {
                    message: m.clone(),
                    count: *c,
                })
                .collect();
            samples.sort_by(|a, b| b.count.cmp(&a.count).then(a.message.cmp(&b.message)));
            let requests = tally.requests();
            let no_answer = tally.no_answer();
            let mut errors_by_status: BTreeMap<String, u64> = tally
                .error_statuses
                .iter()
                .map(|(s, c)| (s.to_string(), *c))
                .collect();
            if no_answer > 0 {
                errors_by_status.insert("0".to_owned(), no_answer);
            }
            OperationStats {
                operation: op.label().to_owned(),
                requests,
                failures: tally.failed_answers + no_answer,
                rps: requests as f64 / seconds,
                latency_ms: collected.times(*op).measured.latency(),
                adjusted_latency_ms: adjusted_latency(metrics, collected, Some(*op)),
                no_answer,
                unanswered_at_end: tally
                    .transport_errors
                    .get(&TransportKind::UnansweredAtEnd)
                    .copied()
                    .unwrap_or(0),
                errors_by_status,
                answered: tally.answered,
                validated: tally.validated,
                schema_violations: tally.violations,
                schema_violation_rate: rate(tally.violations, tally.validated),
                violations_by_kind: by_kind(&tally.violations_by_kind),
                transport_errors: by_kind(&tally.transport_errors),
                violation_samples: samples,
            }
        })
        .collect()
}

/// All operations together.
pub fn total_stats(
    metrics: &GooseMetrics,
    collected: &Collected,
    operations: &[OperationStats],
) -> OperationStats {
    let mut measured = Histogram::default();
    for t in collected.times.values() {
        measured.add(&t.measured);
    }
    let sum = |f: fn(&OperationStats) -> u64| operations.iter().map(f).sum::<u64>();
    let add_maps = |f: fn(&OperationStats) -> &BTreeMap<String, u64>| {
        let mut out = BTreeMap::new();
        for o in operations {
            for (k, c) in f(o) {
                *out.entry(k.clone()).or_insert(0) += c;
            }
        }
        out
    };
    let requests = sum(|o| o.requests);
    let validated = sum(|o| o.validated);
    let violations = sum(|o| o.schema_violations);
    OperationStats {
        operation: "all".into(),
        requests,
        failures: sum(|o| o.failures),
        rps: requests as f64 / (metrics.duration as f64).max(1.0),
        latency_ms: measured.latency(),
        adjusted_latency_ms: adjusted_latency(metrics, collected, None),
        no_answer: sum(|o| o.no_answer),
        unanswered_at_end: sum(|o| o.unanswered_at_end),
        errors_by_status: add_maps(|o| &o.errors_by_status),
        answered: sum(|o| o.answered),
        validated,
        schema_violations: violations,
        schema_violation_rate: rate(violations, validated),
        violations_by_kind: add_maps(|o| &o.violations_by_kind),
        transport_errors: add_maps(|o| &o.transport_errors),
        violation_samples: Vec::new(),
    }
}
