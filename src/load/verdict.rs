//! The last stage of a run: goose's figures ([`super::metrics`]), every planned rule judged
//! ([`super::rules`]), the checks after the load and the notes of every stage, into one
//! [`LoadResult`] with its [`Verdict`]. Pure: it reads what the stages produced.

use super::after::AfterLoad;
use super::arrival::Observed;
use super::attack::Attacked;
use super::prepare::Prepared;
use super::restore::Before;
use super::result::{
    AdjustedFrom, CoSummary, LatencyModel, LoadModel, LoadResult, MixSummary, OperationStats,
    SUMMARY_FORMAT, ScenarioSummary, TargetSummary, UnansweredAtEnd, Verdict,
};
use super::scenario::{Length, Ramp, Shape, Span};
use super::{FeedSource, LoadConfig, Reached};
use crate::api::footprint::LOAD_ATTRIBUTE;

/// The result of the run, from everything the stages produced.
pub(super) fn result(
    config: &LoadConfig,
    at: &Reached,
    prepared: &Prepared,
    attacked: &Attacked,
    before: &Before,
    after: AfterLoad,
) -> LoadResult {
    let plan = &config.plan;
    let metrics = &attacked.metrics;
    let operations = super::metrics::operation_stats(metrics, &attacked.collected, plan);
    let collected = &attacked.collected;
    let total = super::metrics::total_stats(metrics, collected, &operations);
    let baseline = prepared.baseline.as_ref().map(|b| b.compare(&operations));
    let arrival = super::arrival::summary(
        plan,
        Observed {
            timeline: &attacked.collected.timeline,
            total: &total,
            pacing: prepared.pacing,
            per_op_cap: prepared.per_op_cap,
        },
    );
    // The mix asked against the mix sent (issue 21, item 1).
    let mix = super::mix::MixShares::of(
        &plan.mix,
        super::mix::sent(&attacked.collected),
        &attacked.picked,
    );
    let thresholds = super::rules::judge_all(
        &prepared.rules,
        super::rules::Judged {
            metrics,
            collected,
            operations: &operations,
            total: &total,
            baseline: prepared.baseline.as_ref(),
            arrival: arrival.as_ref(),
            mix: &mix,
        },
    );
    let latency_model = latency_model(super::metrics::adjusted_from(metrics, collected));
    let unanswered_at_end = UnansweredAtEnd {
        requests: total.unanswered_at_end,
        oldest_ms: collected.oldest_unanswered_us as f64 / 1000.0,
    };
    let mut before_notes = before.notes.clone();
    before_notes.extend(after.notes);
    let notes = notes(prepared, attacked, before_notes, &operations);
    let verdict = Verdict::of(
        &thresholds,
        &after.invariants,
        &after.left_on_devices,
        config.fail_on_residue,
        attacked.interrupted,
        attacked.never_answered,
    );
    LoadResult {
        format: SUMMARY_FORMAT,
        pushcheck_version: env!("CARGO_PKG_VERSION"),
        scenario: scenario_summary(config, prepared.throttle),
        target: target_summary(at, prepared, attacked),
        duration_secs: metrics.duration as u64,
        metrics_cover: if plan.steady_state_only
            && matches!(
                plan.shape,
                Shape::Hold {
                    length: Length::RunTime(_),
                    ..
                }
            ) {
            "steady state".to_owned()
        } else {
            "whole run".to_owned()
        },
        interrupted: attacked.interrupted,
        never_answered: attacked.never_answered,
        run_attribute: LOAD_ATTRIBUTE.to_owned(),
        run_id: attacked.run.run_id.clone(),
        left_on_devices: after.left_on_devices,
        excluded_from_person_operations: before.excluded.clone(),
        fail_on_residue: config.fail_on_residue,
        operations,
        total,
        mix,
        coordinated_omission: metrics
            .coordinated_omission_metrics
            .as_ref()
            .filter(|_| !collected.paced)
            .map(|co| CoSummary {
                mode: plan.co_mitigation,
                events: co.co_events.len(),
                actual_requests: co.actual_requests,
                synthetic_requests: co.synthetic_requests,
            }),
        thresholds,
        invariants: after.invariants,
        reports: prepared.reports.clone(),
        notes,
        verdict,
        timeline: attacked.collected.timeline.clone(),
        baseline,
        arrival,
        latency_model,
        answer_gaps: collected.answer_gaps.clone(),
        unanswered_at_end,
    }
}

/// The run's load model and what its adjusted latency is, in words for the reports.
fn latency_model(adjusted: AdjustedFrom) -> LatencyModel {
    let (model, words) = match adjusted {
        AdjustedFrom::FromDue => (
            LoadModel::Open,
            "open model (paced): adjusted = from each request's due time in the arrival \
             schedule, with the slots no user could send while every user waited on the server",
        ),
        AdjustedFrom::GooseBackfill => (
            LoadModel::Closed,
            "closed model: adjusted = measured plus goose's coordinated-omission backfill \
             (its synthetic requests count in the adjusted percentiles only)",
        ),
        AdjustedFrom::Measured => (
            LoadModel::Closed,
            "closed model, coordinated-omission mitigation disabled: adjusted = measured",
        ),
    };
    LatencyModel {
        model,
        adjusted,
        words: words.to_owned(),
    }
}

fn target_summary(at: &Reached, prepared: &Prepared, attacked: &Attacked) -> TargetSummary {
    TargetSummary {
        base_url: at.target.base_url.clone(),
        embedded_simulator: at.embedded,
        remote: !at.target.loopback,
        rate_cap_per_operation: prepared.per_op_cap,
        feed_registrations: attacked.run.feed.len(),
        feed_source: match at.feed {
            FeedSource::Admin => "simulator-admin".into(),
            FeedSource::File(_) => "file".into(),
            FeedSource::Registrations(_) => "registrations".into(),
        },
    }
}

/// Every stage's notes, and one per operation that was never validated.
fn notes(
    prepared: &Prepared,
    attacked: &Attacked,
    after: Vec<String>,
    operations: &[OperationStats],
) -> Vec<String> {
    let mut notes = prepared.notes.clone();
    notes.extend(attacked.notes.iter().cloned());
    notes.extend(after);
    for o in operations
        .iter()
        .filter(|o| o.answered > 0 && o.validated == 0)
    {
        notes.push(format!(
            "{}: {} responses, none validated (raise the sample rate)",
            o.operation, o.answered
        ));
    }
    notes
}

fn scenario_summary(config: &LoadConfig, throttle: Option<usize>) -> ScenarioSummary {
    let plan = &config.plan;
    let (ramp, length, stages) = match &plan.shape {
        Shape::Hold { ramp, length, .. } => (
            match ramp {
                Ramp::Rate(r) => format!("{r} users/s"),
                Ramp::Time(t) => format!("all users over {t}"),
            },
            match length {
                Length::RunTime(t) => format!("{t}"),
                Length::Iterations(n) => format!("{n} iterations per user"),
            },
            None,
        ),
        Shape::Stages(s) => ("stages".to_owned(), s.to_string(), Some(s.0.clone())),
    };
    ScenarioSummary {
        name: plan.name.clone(),
        description: plan.description.clone(),
        file: config
            .scenario_file
            .as_ref()
            .map(|p| p.display().to_string()),
        users: plan.shape.peak_users(),
        ramp,
        length,
        stages,
        users_plan: plan.shape.users_plan(),
        throttle_rps: throttle,
        arrival_rate: plan.arrival_rate,
        think_time: if plan.think_time.min == plan.think_time.max {
            format!("{}", Span(plan.think_time.min))
        } else {
            format!(
                "{}..{}",
                Span(plan.think_time.min),
                Span(plan.think_time.max)
            )
        },
        co_mitigation: plan.co_mitigation,
        mix: MixSummary::from(plan.mix),
        validation_sample_rate: plan.sample_rate,
        validation_mode: plan.mode,
    }
}
