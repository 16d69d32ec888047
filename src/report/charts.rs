//! The run's timeline drawn for `pushcheck.html`: per operation latency p50/p95/p99 (and max)
//! over time, throughput and errors by kind over time, and the latency histograms, as inline SVG
//! ([`super::svg`]). Pure: it reads the timeline.

use super::html::escape;
use super::svg::{Series, bar_chart, line_chart};
use crate::load::timeline::{TimelinePoint, TimelineSummary};

/// Latency over time per operation, throughput and errors over time, and the histograms.
pub(super) fn charts(t: &TimelineSummary) -> String {
    let mut out = String::from("<h2 id=\"timeline\">Over time</h2>");
    let mut ops: Vec<&str> = t.points.iter().map(|p| p.operation).collect();
    ops.sort_unstable();
    ops.dedup();
    if ops.is_empty() {
        out.push_str("<p>no request was sent</p>");
        return out;
    }
    for op in &ops {
        out.push_str(&latency_chart(t, op));
    }
    out.push_str(&throughput_and_errors(t, &ops));
    for op in &ops {
        out.push_str(&histogram(t, op));
    }
    out
}

/// `f` of every step of `op`.
fn series_of(t: &TimelineSummary, op: &str, f: &dyn Fn(&TimelinePoint) -> f64) -> Vec<(f64, f64)> {
    t.points
        .iter()
        .filter(|p| p.operation == op)
        .map(|p| (p.t_secs as f64, f(p)))
        .collect()
}

fn latency_chart(t: &TimelineSummary, op: &str) -> String {
    // A step without responses has no latency: a gap in the line, not a zero.
    let latency =
        |f: Figure| move |p: &TimelinePoint| if p.requests == 0 { f64::NAN } else { f(p) };
    let percentiles: [(&str, Figure); 4] = [
        ("p50", |p| p.p50_ms),
        ("p95", |p| p.p95_ms),
        ("p99", |p| p.p99_ms),
        ("max", |p| p.max_ms),
    ];
    let series: Vec<Series<'_>> = percentiles
        .into_iter()
        .map(|(name, f)| Series {
            name,
            points: series_of(t, op, &latency(f)),
        })
        .collect();
    format!(
        "<h3>{}: latency</h3>{}",
        escape(op),
        line_chart(
            &format!("{op}: latency percentiles per second"),
            "seconds",
            "ms",
            &series
        )
    )
}

fn throughput_and_errors(t: &TimelineSummary, ops: &[&str]) -> String {
    let rps: Vec<Series<'_>> = ops
        .iter()
        .map(|op| Series {
            name: op,
            points: series_of(t, op, &|p| p.rps),
        })
        .collect();
    let errors: [(&str, Figure); 4] = [
        ("4xx", |p| p.status_4xx as f64),
        ("5xx", |p| p.status_5xx as f64),
        ("no answer", |p| p.no_answer as f64),
        ("contract breaks", |p| p.violations as f64),
    ];
    let error_series: Vec<Series<'_>> = errors
        .iter()
        .map(|(name, f)| Series {
            name,
            points: summed_over_operations(t, f),
        })
        .collect();
    format!(
        "<h3>Throughput</h3>{}<h3>Errors</h3>{}",
        line_chart("requests per second", "seconds", "req/s", &rps),
        line_chart(
            "errors per step, all operations",
            "seconds",
            "count",
            &error_series
        )
    )
}

fn histogram(t: &TimelineSummary, op: &str) -> String {
    let bars: Vec<(String, f64)> = t
        .histogram
        .iter()
        .filter(|b| b.operation == op)
        .map(|b| (format!("{:.2}", b.to_ms), b.count as f64))
        .collect();
    format!(
        "<h3>{}: latency histogram</h3>{}",
        escape(op),
        bar_chart(
            &format!("{op}: responses per latency bucket (ms, upper bound)"),
            "responses",
            &bars
        )
    )
}

/// A figure of a timeline point.
type Figure = fn(&TimelinePoint) -> f64;

/// One point per step: `f` summed over every operation.
fn summed_over_operations(
    t: &TimelineSummary,
    f: &dyn Fn(&TimelinePoint) -> f64,
) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    for p in &t.points {
        let x = p.t_secs as f64;
        match out.last_mut() {
            Some(last) if last.0 == x => last.1 += f(p),
            _ => out.push((x, f(p))),
        }
    }
    out
}
