//! The run drawn for `pushcheck.html`, as inline SVG ([`super::svg`]): what a performance
//! engineer reads in Gatling's report, and what pushcheck knows beyond it.
//!
//! - users over time (the plan's line) and, with an arrival rate, the target against the rate
//!   achieved, the window the `arrival-rate` rule judged shaded;
//! - throughput per operation and in all, errors per second by kind (4xx, 5xx, no answer,
//!   contract breaks);
//! - per operation latency p50/p95/p99 per second, scaled to the highest p99, the max dashed
//!   and clipped to that scale (its points above marked ▲ and its peak named);
//! - the latency the rules judge: measured against adjusted p50/p95/p99 per operation, with the
//!   `adjusted-pNN` limits drawn;
//! - per operation the latency histogram in milliseconds, with p50/p95/p99 marked.
//!
//! Every point sits in the middle of the step it covers; the last step is as long as the run
//! lasted into it (`TimelineSummary::step_length`), so its rate is real. Pure: it reads the
//! result.

use super::svg::{
    COLOURS, GREY, LineChart, Marker, Pair, Series, bar_chart, escape, line_chart, paired_bars,
};
use crate::load::LoadResult;
use crate::load::result::{Figure, Latency, OperationStats};
use crate::load::threshold::AdjustedRule;
use crate::load::timeline::{TimelinePoint, TimelineSummary};

/// The x axis of every chart over time.
const TIME: &str = "time since the load started (s)";

/// Every chart of the run.
pub(super) fn charts(r: &LoadResult) -> String {
    let t = &r.timeline;
    let mut out = String::from("<h2 id=\"timeline\">Over time</h2>");
    let ops = operations(t);
    if ops.is_empty() {
        out.push_str("<p>no request was sent</p>");
        return out;
    }
    out.push_str(&users(r));
    out.push_str(&arrival(r));
    out.push_str(&throughput(t, &ops));
    out.push_str(&errors(t));
    for op in &ops {
        out.push_str(&latency_chart(t, op));
    }
    out.push_str(&judged_latency(r));
    for op in &ops {
        out.push_str(&histogram(r, op));
    }
    out
}

/// The operations with traffic, in the timeline's order.
fn operations(t: &TimelineSummary) -> Vec<&'static str> {
    let mut ops: Vec<&'static str> = Vec::new();
    for p in &t.points {
        if !ops.contains(&p.operation) {
            ops.push(p.operation);
        }
    }
    ops
}

/// The end of the x axis: the run's length.
fn x_max(t: &TimelineSummary) -> f64 {
    let last = t.points.last().map_or(0, |p| p.t_secs);
    if t.elapsed_secs > 0.0 {
        t.elapsed_secs
    } else {
        (last + t.step_secs.max(1)) as f64
    }
}

/// The middle of the step a point covers.
fn middle(t: &TimelineSummary, p: &TimelinePoint) -> f64 {
    p.t_secs as f64 + t.step_length(p.t_secs) / 2.0
}

/// `f` of every step of `op`, at the steps' middles.
fn series_of(t: &TimelineSummary, op: &str, f: &dyn Fn(&TimelinePoint) -> f64) -> Vec<(f64, f64)> {
    t.points
        .iter()
        .filter(|p| p.operation == op)
        .map(|p| (middle(t, p), f(p)))
        .collect()
}

/// One point per step: `f` summed over every operation.
fn summed(t: &TimelineSummary, f: &dyn Fn(&TimelinePoint) -> f64) -> Vec<(f64, f64)> {
    let mut out: Vec<(u64, f64, f64)> = Vec::new();
    for p in &t.points {
        match out.last_mut() {
            Some(last) if last.0 == p.t_secs => last.2 += f(p),
            _ => out.push((p.t_secs, middle(t, p), f(p))),
        }
    }
    out.into_iter().map(|(_, x, y)| (x, y)).collect()
}

/// A figure of a timeline point.
type Figure2 = fn(&TimelinePoint) -> f64;

fn chart(title: &str, heading: &str, svg: String) -> String {
    format!(
        "<h3 id=\"{}\">{}</h3>{svg}",
        escape(&anchor(title)),
        escape(heading)
    )
}

/// `chart-get-registration-latency`: a stable id for a chart.
fn anchor(title: &str) -> String {
    let mut out = String::from("chart");
    for word in title
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        out.push('-');
        out.push_str(&word.to_ascii_lowercase());
    }
    out
}

/// The users the plan asks for over time.
fn users(r: &LoadResult) -> String {
    let end = x_max(&r.timeline);
    let mut points: Vec<(f64, f64)> = r.scenario.users_plan.iter().map(|c| (c[0], c[1])).collect();
    if let Some(&(x, y)) = points.last()
        && x < end
    {
        points.push((end, y));
    }
    let svg = line_chart(&LineChart {
        title: "users over time, as planned",
        x_label: TIME,
        y_label: "users",
        x_max: end.max(points.last().map_or(0.0, |p| p.0)),
        y_scale: None,
        series: vec![Series::new("users (the scenario's plan)", COLOURS[3], points).width(2.0)],
        band: None,
    });
    chart("users", "Users over time", svg)
}

/// The arrival rate asked against the rate achieved, per second, all operations together.
fn arrival(r: &LoadResult) -> String {
    let Some(a) = &r.arrival else {
        return String::new();
    };
    let t = &r.timeline;
    let end = x_max(t);
    let achieved = summed(t, &|p| p.rps);
    let target = a.target_rps as f64;
    let mut series = vec![
        Series::new("achieved requests/s", COLOURS[0], achieved).width(2.0),
        Series::new(
            "target requests/s",
            GREY,
            vec![(0.0, target), (end, target)],
        )
        .dashed()
        .width(1.5),
    ];
    if f64::from(a.asked_rps) != target {
        let asked = f64::from(a.asked_rps);
        series.push(
            Series::new(
                "asked requests/s",
                COLOURS[1],
                vec![(0.0, asked), (end, asked)],
            )
            .dashed(),
        );
    }
    let [from, to] = a.window_secs;
    let svg = line_chart(&LineChart {
        title: "arrival rate: target and achieved",
        x_label: TIME,
        y_label: "requests/s (all operations)",
        x_max: end,
        y_scale: None,
        series,
        band: Some((
            from as f64,
            (to as f64).min(end),
            format!("seconds {from}–{to}: the window the arrival-rate rule judged"),
        )),
    });
    chart(
        "arrival",
        "Arrival rate: target against achieved (shaded: the window judged)",
        svg,
    )
}

fn throughput(t: &TimelineSummary, ops: &[&'static str]) -> String {
    let mut series: Vec<Series<'_>> = ops
        .iter()
        .enumerate()
        .map(|(i, op)| Series::new(op, COLOURS[i % COLOURS.len()], series_of(t, op, &|p| p.rps)))
        .collect();
    if ops.len() > 1 {
        series.push(Series::new("all", GREY, summed(t, &|p| p.rps)).width(2.0));
    }
    let svg = line_chart(&LineChart {
        title: "requests per second",
        x_label: TIME,
        y_label: "requests/s",
        x_max: x_max(t),
        y_scale: None,
        series,
        band: None,
    });
    chart("throughput", "Throughput", svg)
}

/// Errors per second by kind, all operations; a sentence when there were none.
fn errors(t: &TimelineSummary) -> String {
    let kinds: [(&str, Figure2); 4] = [
        ("4xx", |p| p.status_4xx as f64),
        ("5xx", |p| p.status_5xx as f64),
        ("no answer", |p| p.no_answer as f64),
        ("contract breaks", |p| p.violations as f64),
    ];
    let any = t
        .points
        .iter()
        .any(|p| kinds.iter().any(|(_, f)| f(p) > 0.0));
    if !any {
        return "<h3 id=\"chart-errors\">Errors</h3><p id=\"no-errors\">none: every request was \
                answered, with a 2xx, and every judged response kept its contract</p>"
            .to_owned();
    }
    let series: Vec<Series<'_>> = kinds
        .iter()
        .enumerate()
        .map(|(i, (name, f))| {
            Series::new(
                name,
                COLOURS[i % COLOURS.len()],
                summed(t, &|p| f(p) / t.step_length(p.t_secs)),
            )
        })
        .collect();
    let svg = line_chart(&LineChart {
        title: "errors per second by kind, all operations",
        x_label: TIME,
        y_label: "errors/s",
        x_max: x_max(t),
        y_scale: None,
        series,
        band: None,
    });
    chart("errors", "Errors per second", svg)
}

/// p50/p95/p99 per second scaled to the highest p99; the max dashed and clipped to it.
fn latency_chart(t: &TimelineSummary, op: &str) -> String {
    // A step without responses has no latency: a gap in the line, not a zero.
    let latency =
        |f: Figure2| move |p: &TimelinePoint| if p.requests == 0 { f64::NAN } else { f(p) };
    let p99 = series_of(t, op, &latency(|p| p.p99_ms));
    let scale = p99
        .iter()
        .map(|p| p.1)
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max)
        * 1.1;
    // Drawn widest first, so a line that lies on another stays visible around it.
    let series = vec![
        Series::new("max", GREY, series_of(t, op, &latency(|p| p.max_ms)))
            .dashed()
            .width(1.0),
        Series::new("p50", COLOURS[0], series_of(t, op, &latency(|p| p.p50_ms))).width(5.0),
        Series::new("p95", COLOURS[1], series_of(t, op, &latency(|p| p.p95_ms))).width(2.5),
        Series::new("p99", COLOURS[2], p99).width(1.5),
    ];
    let title = format!("{op}: latency percentiles per second");
    let svg = line_chart(&LineChart {
        title: &title,
        x_label: TIME,
        y_label: "latency (ms)",
        x_max: x_max(t),
        y_scale: Some(scale),
        series,
        band: None,
    });
    chart(
        &format!("{op} latency"),
        &format!("{op}: latency per second (approximate, scaled to p99)"),
        svg,
    )
}

/// The adjusted latency of an operation: the one place the charts read it.
fn adjusted(o: &OperationStats) -> Option<Latency> {
    o.adjusted_latency_ms
}

/// Measured against adjusted p50/p95/p99 per operation, and the `adjusted-pNN` rules' limits:
/// the figures the rules judge.
fn judged_latency(r: &LoadResult) -> String {
    let mut pairs = Vec::new();
    for o in &r.operations {
        let Some(a) = adjusted(o) else { continue };
        let m = &o.latency_ms;
        for (name, measured, adj) in [
            ("p50", m.p50, a.p50),
            ("p95", m.p95, a.p95),
            ("p99", m.p99, a.p99),
        ] {
            pairs.push(Pair {
                label: name.to_owned(),
                heading: o.operation.clone(),
                values: [measured, adj],
            });
        }
    }
    let mode = r
        .coordinated_omission
        .as_ref()
        .map_or("disabled", |c| c.mode.as_str());
    let mut out =
        String::from("<h3 id=\"chart-judged\">Latency the rules judge: measured and adjusted</h3>");
    if pairs.is_empty() {
        out.push_str(&format!(
            "<p id=\"judged-note\">no adjusted figures (coordinated-omission mitigation: {}): \
             the rules judged the measured times above</p>",
            escape(mode)
        ));
        return out;
    }
    let limits: Vec<(f64, String)> = r
        .thresholds
        .iter()
        .filter(|t| t.figure == Figure::CoAdjusted)
        .filter_map(|t| {
            let rule: AdjustedRule = t.rule.parse().ok()?;
            Some((
                rule.limit_ms,
                format!("{} (observed {})", t.rule, t.observed),
            ))
        })
        .collect();
    if let Some(co) = &r.coordinated_omission {
        out.push_str(&format!(
            "<p id=\"judged-note\" class=\"legend\">coordinated-omission mitigation {}: {} event(s), \
             {} synthetic request(s) inside the adjusted percentiles only</p>",
            escape(co.mode.as_str()),
            co.events,
            co.synthetic_requests
        ));
    }
    out.push_str(&paired_bars(
        "measured and adjusted latency per operation",
        "latency (ms)",
        ["measured", "adjusted (what adjusted-pNN rules judge)"],
        &pairs,
        &limits,
    ));
    out
}

/// The whole run's latencies of `op` in log buckets (empty ones between kept, so the axis is
/// even), with p50/p95/p99 marked.
fn histogram(r: &LoadResult, op: &str) -> String {
    let bars: Vec<_> = r
        .timeline
        .histogram
        .iter()
        .filter(|b| b.operation == op)
        .collect();
    let index = |from_ms: f64| ((from_ms * 1000.0).log2() * 4.0).round() as i64;
    let (Some(first), Some(last)) = (bars.first(), bars.last()) else {
        return String::new();
    };
    let (lo, hi) = (index(first.from_ms), index(last.from_ms));
    let mut drawn: Vec<(String, f64)> = Vec::new();
    for i in lo..=hi {
        let to_ms = 2f64.powf((i + 1) as f64 / 4.0) / 1000.0;
        let count = bars
            .iter()
            .find(|b| index(b.from_ms) == i)
            .map_or(0.0, |b| b.count as f64);
        drawn.push((super::svg::number(to_ms), count));
    }
    let markers: Vec<Marker> = r
        .operations
        .iter()
        .find(|o| o.operation == op)
        .map(|o| {
            let l = &o.latency_ms;
            [("p50", l.p50), ("p95", l.p95), ("p99", l.p99)]
                .into_iter()
                .filter(|(_, v)| *v > 0.0)
                .map(|(name, v)| Marker {
                    // The fraction of the bars at v: bucket i holds [2^(i/4), 2^((i+1)/4)) µs.
                    at: ((v * 1000.0).log2() * 4.0 - lo as f64).clamp(0.0, (hi - lo + 1) as f64),
                    label: format!("{name} {} ms", super::svg::number(v)),
                })
                .collect()
        })
        .unwrap_or_default();
    let title = format!("{op}: responses per latency bucket");
    chart(
        &format!("{op} histogram"),
        &format!("{op}: latency histogram"),
        bar_chart(
            &title,
            "latency (ms, upper bound of the bucket; 4 buckets per doubling)",
            "responses",
            &drawn,
            &markers,
        ),
    )
}
