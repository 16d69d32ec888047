//! goose's metrics turned into pushcheck's figures: per-operation latency (measured and
//! coordinated-omission adjusted), requests, errors by status, and pushcheck's own tallies
//! (validation, contract breaks, transport errors) beside them.
//!
//! goose keeps one row per request name, which is the operation's label; this module merges
//! rows into the `all` figures and reads percentiles from goose's histograms. It only computes.

use std::collections::BTreeMap;

use goose::metrics::{GooseMetrics, GooseRequestMetricTimingData, TimeBuckets};

use crate::api::Operation;
use crate::load::result::{Latency, OperationStats, ViolationSample};
use crate::load::scenario::LoadPlan;
use crate::load::tally::Collected;

/// Percentiles of one histogram, in milliseconds.
pub fn latency(data: &GooseRequestMetricTimingData) -> Latency {
    if data.counter == 0 {
        return Latency::default();
    }
    let ms = |us: u64| us as f64 / 1000.0;
    Latency {
        p50: ms(data.percentile_us(0.50)),
        p95: ms(data.percentile_us(0.95)),
        p99: ms(data.percentile_us(0.99)),
        max: ms(data.maximum_time_us),
        avg: data.total_time_us as f64 / data.counter as f64 / 1000.0,
    }
}

/// Adds `other`'s samples to `into`.
pub fn merge(into: &mut GooseRequestMetricTimingData, other: &GooseRequestMetricTimingData) {
    if other.counter == 0 {
        return;
    }
    let mut buckets = TimeBuckets::new();
    for (b, c) in into.times_us.iter().chain(other.times_us.iter()) {
        let have = buckets.get(b).copied().unwrap_or(0);
        buckets.insert(*b, have + c);
    }
    into.times_us = buckets;
    into.minimum_time_us = if into.counter == 0 {
        other.minimum_time_us
    } else {
        into.minimum_time_us.min(other.minimum_time_us)
    };
    into.maximum_time_us = into.maximum_time_us.max(other.maximum_time_us);
    into.total_time_us += other.total_time_us;
    into.counter += other.counter;
}

/// The adjusted histogram of one request (all requests with `None`): goose's coordinated-
/// omission data where it backfilled anything, the measured times where it did not.
pub fn adjusted_histogram(
    metrics: &GooseMetrics,
    request: Option<&str>,
) -> GooseRequestMetricTimingData {
    let mut out = GooseRequestMetricTimingData::default();
    for (name, a) in &metrics.requests {
        if request.is_none_or(|r| r == name) {
            merge(
                &mut out,
                a.coordinated_omission_data.as_ref().unwrap_or(&a.raw_data),
            );
        }
    }
    out
}

fn rate(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// A tally's counts by kind, with owned keys for the result.
fn by_kind(counts: &BTreeMap<&'static str, u64>) -> BTreeMap<String, u64> {
    counts.iter().map(|(k, c)| ((*k).to_owned(), *c)).collect()
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
            let aggregate = metrics.requests.get(op.label());
            let requests = aggregate.map_or(0, |a| (a.success_count + a.fail_count) as u64);
            OperationStats {
                operation: op.label().to_owned(),
                requests,
                failures: aggregate.map_or(0, |a| a.fail_count as u64),
                rps: requests as f64 / seconds,
                latency_ms: aggregate.map_or_else(Latency::default, |a| latency(&a.raw_data)),
                adjusted_latency_ms: aggregate
                    .and_then(|a| a.coordinated_omission_data.as_ref())
                    .map(latency),
                errors_by_status: aggregate
                    .map(|a| {
                        a.status_code_counts
                            .iter()
                            .filter(|(s, _)| !(200..300).contains(*s))
                            .map(|(s, c)| (s.to_string(), *c as u64))
                            .collect()
                    })
                    .unwrap_or_default(),
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
pub fn total_stats(metrics: &GooseMetrics, operations: &[OperationStats]) -> OperationStats {
    let mut raw = GooseRequestMetricTimingData::default();
    let mut any_adjusted = false;
    for a in metrics.requests.values() {
        merge(&mut raw, &a.raw_data);
        any_adjusted |= a.coordinated_omission_data.is_some();
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
        latency_ms: latency(&raw),
        adjusted_latency_ms: any_adjusted.then(|| latency(&adjusted_histogram(metrics, None))),
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
