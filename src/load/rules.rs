//! Judging the run's rules after it ended: goose's results for goose's rules (as goose judged
//! them on its measured figures), pushcheck's for `schema-violation-rate` and `adjusted-pNN`,
//! each outcome saying which figure it used, where the rule came from and what it replaced.
//!
//! It only reads the figures; it sends nothing and prints nothing.

use goose::metrics::GooseMetrics;

use crate::load::arrival::ArrivalSummary;
use crate::load::baseline::{Baseline, Figures};
use crate::load::metrics::adjusted_histogram;
use crate::load::result::{Figure, Judge, OperationStats, ThresholdOutcome};
use crate::load::threshold::{AdjustedRule, PercentRule, PlannedRule, RegressionRule, Rule};

/// One outcome per planned rule, in the plan's order.
pub fn judge_all(
    planned: &[PlannedRule],
    metrics: &GooseMetrics,
    operations: &[OperationStats],
    total: &OperationStats,
    baseline: Option<&Baseline>,
    arrival: Option<&ArrivalSummary>,
) -> Vec<ThresholdOutcome> {
    planned
        .iter()
        .map(|p| {
            let mut outcome = match &p.rule {
                Rule::Goose(g) => goose_outcome(&g.rule, metrics),
                Rule::SchemaViolationRate(r) => violations(r, operations, total),
                Rule::Adjusted(r) => adjusted(r, metrics),
                Rule::Regression(r) => regression(r, operations, baseline),
                Rule::ArrivalRate(r) => arrival_rate(r, arrival),
            };
            outcome.source = p.source;
            outcome.replaces = p.replaces.clone();
            outcome
        })
        .collect()
}

fn outcome(rule: &str, judged_by: Judge, figure: Figure) -> ThresholdOutcome {
    ThresholdOutcome {
        rule: rule.to_owned(),
        judged_by,
        figure,
        source: crate::load::threshold::Source::Scenario,
        replaces: None,
        observed: "no samples".to_owned(),
        value: None,
        passed: false,
        aborted: false,
    }
}

/// goose's own result for one of its rules; a rule goose did not report fails.
fn goose_outcome(rule: &str, metrics: &GooseMetrics) -> ThresholdOutcome {
    let mut out = outcome(rule, Judge::Goose, Figure::Measured);
    match metrics.thresholds.iter().find(|t| t.rule == rule) {
        Some(t) => {
            out.observed = t.observed.clone();
            out.value = t.value;
            out.passed = t.passed;
            out.aborted = t.aborted;
        }
        None => out.observed = "goose did not judge this rule".to_owned(),
    }
    out
}

fn violations(
    rule: &PercentRule,
    operations: &[OperationStats],
    total: &OperationStats,
) -> ThresholdOutcome {
    let mut out = outcome(&rule.rule, Judge::Pushcheck, Figure::ViolationRate);
    let stats = match &rule.request {
        None => Some(total),
        Some(name) => operations.iter().find(|o| &o.operation == name),
    };
    if let Some(s) = stats.filter(|s| s.validated > 0) {
        let v = s.schema_violation_rate;
        out.observed = format!("{v:.2}% ({} of {})", s.schema_violations, s.validated);
        out.value = Some(v);
        out.passed = rule.passes(v);
    }
    out
}

/// The share of the throttle achieved, all operations or one.
fn arrival_rate(rule: &PercentRule, arrival: Option<&ArrivalSummary>) -> ThresholdOutcome {
    let mut out = outcome(&rule.rule, Judge::Pushcheck, Figure::ArrivalRate);
    let Some(a) = arrival else {
        out.observed = "no arrival rate asked".to_owned();
        return out;
    };
    let (got, target, share) = match &rule.request {
        None => (a.achieved_rps, a.target_rps as f64, a.achieved_percent),
        Some(name) => match a.operations.iter().find(|o| o.operation == name) {
            Some(o) => (o.achieved_rps, o.target_rps, o.achieved_percent),
            None => return out,
        },
    };
    let causes: Vec<&str> = a.shortfall.iter().map(|s| s.cause.words()).collect();
    let causes = if causes.is_empty() {
        String::new()
    } else {
        format!("; {}", causes.join(", "))
    };
    out.observed = format!("{share:.1}% ({got:.1} of {target:.1} requests/s{causes})");
    out.value = Some(share);
    out.passed = rule.passes(share);
    out
}

fn adjusted(rule: &AdjustedRule, metrics: &GooseMetrics) -> ThresholdOutcome {
    let mut out = outcome(&rule.rule, Judge::Pushcheck, Figure::CoAdjusted);
    let data = adjusted_histogram(metrics, rule.request.as_deref());
    if data.counter > 0 {
        let ms = data.percentile_us(rule.quantile as f32) as f64 / 1000.0;
        out.observed = format!("{ms:.2}ms");
        out.value = Some(ms);
        out.passed = rule.passes(ms);
    }
    out
}

/// The worst regression of the operations the rule compares; without a baseline the rule
/// fails (the run is refused before it starts, so this is only a safeguard).
fn regression(
    rule: &RegressionRule,
    operations: &[OperationStats],
    baseline: Option<&Baseline>,
) -> ThresholdOutcome {
    let mut out = outcome(&rule.rule, Judge::Pushcheck, Figure::BaselineRegression);
    let Some(baseline) = baseline else {
        out.observed = "no baseline given".to_owned();
        return out;
    };
    let m = rule.measure;
    let worst = operations
        .iter()
        .filter(|o| rule.request.as_ref().is_none_or(|r| *r == o.operation))
        .filter_map(|o| {
            let before = m.of(baseline.operation(&o.operation)?)?;
            let now = m.of(&Figures::from(o))?;
            Some((o, before, now, m.regression(before, now)?))
        })
        .max_by(|a, b| a.3.total_cmp(&b.3));
    match worst {
        Some((o, before, now, regression)) => {
            // The comparison's words (crate::load::baseline::Change): no bare sign.
            out.observed = format!("{} {}", o.operation, m.line(before, now));
            out.value = Some(regression);
            out.passed = rule.passes(regression);
        }
        None => out.observed = "no operation in both runs".to_owned(),
    }
    out
}
