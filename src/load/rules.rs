//! Judging the run's rules after it ended: goose's results for goose's rules (as goose judged
//! them on its measured figures), pushcheck's for `schema-violation-rate`, `arrival-rate`,
//! `adjusted-pNN` (from due in an open model, goose's backfill in a closed one) and
//! `answer-gap`, each outcome saying which figure it used, where the rule came from and what it
//! replaced.
//!
//! It only reads the figures; it sends nothing and prints nothing.

use goose::metrics::GooseMetrics;

use crate::load::arrival::ArrivalSummary;
use crate::load::baseline::{Baseline, Figures};
use crate::load::metrics::adjusted_histogram;
use crate::load::result::{AnswerGap, Figure, Judge, OperationStats, ThresholdOutcome};
use crate::load::tally::Collected;
use crate::load::threshold::{
    AdjustedRule, GapRule, PercentRule, PlannedRule, RegressionRule, Rule,
};

/// What the rules are judged on.
#[derive(Debug, Clone, Copy)]
pub struct Judged<'a> {
    pub metrics: &'a GooseMetrics,
    pub collected: &'a Collected,
    pub operations: &'a [OperationStats],
    pub total: &'a OperationStats,
    pub baseline: Option<&'a Baseline>,
    pub arrival: Option<&'a ArrivalSummary>,
}

/// One outcome per planned rule, in the plan's order.
pub fn judge_all(planned: &[PlannedRule], on: Judged<'_>) -> Vec<ThresholdOutcome> {
    let Judged {
        metrics,
        collected,
        operations,
        total,
        baseline,
        arrival,
    } = on;
    planned
        .iter()
        .map(|p| {
            let mut outcome = match &p.rule {
                Rule::Goose(g) => goose_outcome(&g.rule, metrics),
                Rule::SchemaViolationRate(r) => violations(r, operations, total),
                Rule::Adjusted(r) => adjusted(r, metrics, collected),
                Rule::AnswerGap(r) => answer_gap(r, &collected.answer_gaps),
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

fn adjusted(
    rule: &AdjustedRule,
    metrics: &GooseMetrics,
    collected: &Collected,
) -> ThresholdOutcome {
    let figure = if collected.paced {
        Figure::FromDue
    } else {
        Figure::CoAdjusted
    };
    let mut out = outcome(&rule.rule, Judge::Pushcheck, figure);
    let data = adjusted_histogram(metrics, collected, rule.request.as_deref());
    if data.count() > 0 {
        let ms = data.quantile_ms(rule.quantile);
        out.observed = format!("{ms:.2}ms");
        out.value = Some(ms);
        out.passed = rule.passes(ms);
    }
    out
}

/// The longest stretch without an answer while requests waited; the observed value names
/// every stretch the rule fails on (the longest first when there are many).
fn answer_gap(rule: &GapRule, gaps: &[AnswerGap]) -> ThresholdOutcome {
    let mut out = outcome(&rule.rule, Judge::Pushcheck, Figure::AnswerGap);
    let longest_ms = gaps.iter().map(|g| g.secs * 1000.0).fold(0.0, f64::max);
    out.value = Some(longest_ms);
    out.passed = rule.passes(longest_ms);
    let failing: Vec<&AnswerGap> = gaps
        .iter()
        .filter(|g| !rule.passes(g.secs * 1000.0))
        .collect();
    out.observed = if failing.is_empty() {
        format!("longest {:.1}s without an answer", longest_ms / 1000.0)
    } else {
        const SHOWN: usize = 3;
        let mut worst = failing.clone();
        worst.sort_by(|a, b| b.secs.total_cmp(&a.secs));
        let mut shown: Vec<&AnswerGap> = worst.into_iter().take(SHOWN).collect();
        shown.sort_by(|a, b| a.from_secs.total_cmp(&b.from_secs));
        let words: Vec<String> = shown.iter().map(|g| g.words()).collect();
        let more = failing.len().saturating_sub(SHOWN);
        format!(
            "answers stopped {}{}",
            words.join(", "),
            if more > 0 {
                format!(" and {more} more time(s)")
            } else {
                String::new()
            }
        )
    };
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
            let before = m.of(baseline.operation(&o.operation)?);
            let now = m.of(&Figures::from(o));
            Some((o, before, now, m.regression(before, now)?))
        })
        .max_by(|a, b| a.3.total_cmp(&b.3));
    match worst {
        Some((o, before, now, change)) => {
            out.observed = format!(
                "{} {} {} → {} ({change:+.1}%)",
                o.operation,
                m.name(),
                m.show(before),
                m.show(now)
            );
            out.value = Some(change);
            out.passed = rule.passes(change);
        }
        None => out.observed = "no operation in both runs".to_owned(),
    }
    out
}
