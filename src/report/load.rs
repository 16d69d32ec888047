//! Renderers of a [`LoadResult`]: the human verdict, pushcheck's summary JSON (schema
//! `schemas/load-summary.json`) and JUnit XML with one test case per threshold and per invariant.
//! They only read the result.

use std::io::{self, Write};
use std::path::Path;

use super::junit::{Case, Junit, Suite};
use super::load_words::{OPERATION_COLUMNS, arrival_headline, users_over_time};
use super::names::{self, JUNIT_XML, PUSHCHECK_HTML, SUMMARY_JSON, TIMELINE_CSV};
use super::{File, Mark, ReportError, Style};
use crate::api::footprint::{Cause, Leftover};
use crate::load::result::Figure;
use crate::load::threshold::Source;
use crate::load::{
    InvariantOutcome, InvariantStatus, LoadResult, OperationStats, ThresholdOutcome,
};

/// The summary JSON, pretty-printed.
pub fn summary_json(result: &LoadResult) -> Result<String, ReportError> {
    super::to_json("summary", result)
}

/// JUnit XML: suite `thresholds` (one case per rule), suite `invariants` (one per invariant) and,
/// on a live run that left something or kept devices out of person operations, suite
/// `devices`.
pub fn junit(result: &LoadResult) -> Result<String, ReportError> {
    Junit::new(format!("pushcheck load {}", result.scenario.name))
        .suites(junit_suites(result))
        .render()
}

/// The files pushcheck writes for a load in `dir`: those of [`names::LOAD_RUN`] but goose's
/// (goose writes its report.html and report.json during the run).
pub fn files(dir: &Path, result: &LoadResult) -> Vec<File> {
    names::LOAD_RUN
        .iter()
        .filter_map(|name| Some((dir.join(name), render(name, result)?)))
        .collect()
}

/// The text of the file `name` of a load, `None` for goose's.
fn render(name: &str, result: &LoadResult) -> Option<Result<String, ReportError>> {
    match name {
        SUMMARY_JSON => Some(summary_json(result)),
        TIMELINE_CSV => Some(Ok(super::csv::timeline(&result.timeline))),
        JUNIT_XML => Some(junit(result)),
        PUSHCHECK_HTML => Some(Ok(super::html::load(result))),
        _ => None,
    }
}

/// The files of a load that could not judge, in `dir`: a minimal summary.json and a junit.xml
/// with one `<error>` case ([`super::not_judged`]).
pub fn not_judged_files(dir: &Path, why: &super::not_judged::NotJudged<'_>) -> Vec<File> {
    vec![
        (dir.join(SUMMARY_JSON), super::not_judged::summary_json(why)),
        (dir.join(JUNIT_XML), super::not_judged::junit(why)),
    ]
}

/// summary.json and timeline.csv: the load's own data, also under `check` (whose JUnit and HTML
/// reports combine both stages).
pub fn data_files(dir: &Path, result: &LoadResult) -> Vec<File> {
    names::LOAD_DATA
        .iter()
        .filter_map(|name| Some((dir.join(name), render(name, result)?)))
        .collect()
}

/// The JUnit suites of a load result, for a report of its own or a combined one.
pub fn junit_suites(result: &LoadResult) -> Vec<Suite> {
    let mut thresholds = Suite::new("thresholds");
    // The figures the rules judged: requests are answered + no answer (never goose's count).
    let t = &result.total;
    for (name, value) in [
        ("requests", t.requests.to_string()),
        ("answered", t.answered.to_string()),
        ("no_answer", t.no_answer.to_string()),
        ("unanswered_at_end", t.unanswered_at_end.to_string()),
        ("latency_model", result.latency_model.words.clone()),
    ] {
        thresholds.property(name, value);
    }
    thresholds.cases(result.thresholds.iter().map(|t| {
        let case = threshold_case(t);
        if t.figure == Figure::MixDrift {
            // The shares asked and sent, per operation, beside the rule that judges them.
            case.output(format!(
                "observed {}{}\n{}",
                t.observed,
                threshold_note(t),
                mix_lines(result).join("\n")
            ))
        } else {
            case
        }
    }));
    let mut invariants = Suite::new("invariants");
    invariants.cases(result.invariants.iter().map(invariant_case));
    let mut suites = vec![thresholds, invariants];
    if !result.left_on_devices.is_empty() || !result.excluded_from_person_operations.is_empty() {
        let mut devices = Suite::new("devices");
        devices.cases(
            leftover_groups(&result.left_on_devices)
                .iter()
                .map(|g| leftover_case(g, result.fail_on_residue)),
        );
        devices.cases(result.excluded_from_person_operations.iter().map(|d| {
            Case::skipped(format!(
                "registration {}: personalize and depersonalize",
                d.registration_id
            ))
            .message(d.reason.clone())
            .classname("devices.excluded")
        }));
        suites.push(devices);
    }
    suites
}

/// Leftovers with the same items, cause and reason, and the devices that have them.
pub(super) struct LeftoverGroup<'a> {
    pub items: &'a [String],
    pub cause: Cause,
    pub reason: &'a str,
    pub devices: Vec<&'a str>,
}

impl LeftoverGroup<'_> {
    /// Whether it fails the run.
    pub fn fails(&self, fail_on_residue: bool) -> bool {
        self.cause != Cause::TargetChoice || fail_on_residue
    }

    /// `pushcheck_load_seq on 3 device(s) (target choice)`.
    pub fn headline(&self) -> String {
        format!(
            "{} on {} device(s) ({})",
            self.items.join(", "),
            self.devices.len(),
            self.cause.label()
        )
    }
}

/// What was left on the devices, grouped: one line per kind, not per device.
pub(super) fn leftover_groups(left: &[Leftover]) -> Vec<LeftoverGroup<'_>> {
    let mut groups: Vec<LeftoverGroup<'_>> = Vec::new();
    for l in left {
        match groups
            .iter_mut()
            .find(|g| g.items == l.items.as_slice() && g.cause == l.cause && g.reason == l.reason)
        {
            Some(g) => g.devices.push(&l.registration_id),
            None => groups.push(LeftoverGroup {
                items: &l.items,
                cause: l.cause,
                reason: &l.reason,
                devices: vec![&l.registration_id],
            }),
        }
    }
    groups
}

fn leftover_case(g: &LeftoverGroup<'_>, fail_on_residue: bool) -> Case {
    let devices = g.devices.join(", ");
    Case::judged(
        format!("left on the devices: {}", g.headline()),
        !g.fails(fail_on_residue),
    )
    .kind(g.cause.label())
    .message(g.reason)
    .description(devices.clone())
    .classname("devices.left")
    .output(format!("{}\n{devices}", g.reason))
}

fn threshold_case(t: &ThresholdOutcome) -> Case {
    Case::judged(t.rule.clone(), t.passed)
        .message(format!("observed {}", t.observed))
        .kind(if t.aborted {
            "threshold failed and stopped the run"
        } else {
            "threshold failed"
        })
        .classname(format!("thresholds.{:?}", t.judged_by).to_lowercase())
        .output(format!("observed {}{}", t.observed, threshold_note(t)))
}

fn invariant_case(i: &InvariantOutcome) -> Case {
    let case = match i.status {
        InvariantStatus::Passed => Case::passed(i.name.clone()),
        InvariantStatus::NotRun => {
            Case::skipped(i.name.clone()).message(i.reason.clone().unwrap_or_default())
        }
        InvariantStatus::Failed | InvariantStatus::CouldNotCheck => Case::failed(i.name.clone())
            .kind(invariant_mark(i.status).word())
            .message(match i.status {
                InvariantStatus::Failed => format!("{} of {} broke it", i.failed, i.checked),
                _ => i.reason.clone().unwrap_or_default(),
            })
            .description(i.findings.join("\n")),
    };
    case.classname("invariants").assertions(i.checked)
}

fn invariant_mark(status: InvariantStatus) -> Mark {
    match status {
        InvariantStatus::Passed => Mark::Ok,
        InvariantStatus::Failed => Mark::Failed,
        InvariantStatus::CouldNotCheck => Mark::CouldNotCheck,
        InvariantStatus::NotRun => Mark::NotRun,
    }
}

/// How a threshold line says which figure it used, where it came from and what it replaced.
fn threshold_note(t: &ThresholdOutcome) -> String {
    let mut parts = Vec::new();
    match t.figure {
        Figure::CoAdjusted => parts.push("co-adjusted times".to_owned()),
        Figure::FromDue => parts.push("times from due".to_owned()),
        Figure::AnswerGap => parts.push("while requests waited".to_owned()),
        Figure::BaselineRegression => parts.push("against the baseline".to_owned()),
        Figure::ArrivalRate => parts.push("of the target rate".to_owned()),
        Figure::MixDrift => parts.push("sent against asked shares".to_owned()),
        Figure::Measured | Figure::ViolationRate => {}
    }
    match t.source {
        Source::Flag => parts.push(match &t.replaces {
            Some(old) => format!("--threshold, replaces the scenario's {old}"),
            None => "--threshold".to_owned(),
        }),
        Source::AlwaysOn => parts.push("always on".to_owned()),
        Source::BaselineDefault => parts.push("--baseline's default gate".to_owned()),
        Source::Scenario => {}
    }
    if t.aborted {
        parts.push("stopped the run".to_owned());
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join("; "))
    }
}

/// The human verdict: a table per operation, thresholds, invariants, then the verdict.
pub fn human(
    out: &mut dyn Write,
    result: &LoadResult,
    report_dir: Option<&Path>,
    style: Style,
) -> io::Result<()> {
    tables(out, result, style)?;
    if let Some(dir) = report_dir {
        writeln!(
            out,
            "\nReports in {}: {}",
            dir.display(),
            result.reports.join(", ")
        )?;
    }
    writeln!(out)?;
    super::style::verdict_lines(
        out,
        result.verdict.passed,
        std::time::Duration::from_secs(result.duration_secs),
        &result.verdict.reasons,
        style,
    )
}

/// Everything of [`human`] but the report list and the verdict: the scenario, the table per
/// operation, coordinated omission, thresholds, invariants and notes.
pub fn tables(out: &mut dyn Write, result: &LoadResult, style: Style) -> io::Result<()> {
    heading(out, result)?;
    operations(out, result)?;
    mix(out, result)?;
    breakdowns(out, result)?;
    coordinated_omission(out, result)?;
    arrival(out, result)?;
    against_baseline(out, result)?;
    thresholds(out, result, style)?;
    invariants(out, result, style)?;
    left_on_devices(out, result, style)?;
    for n in &result.notes {
        writeln!(out, "\nnote: {n}")?;
    }
    Ok(())
}

fn heading(out: &mut dyn Write, result: &LoadResult) -> io::Result<()> {
    let s = &result.scenario;
    writeln!(
        out,
        "Load: {} — {}, mix get/patch/personalize/depersonalize {}/{}/{}/{}",
        s.name,
        users_over_time(s),
        s.mix.get,
        s.mix.patch,
        s.mix.personalize,
        s.mix.depersonalize
    )?;
    writeln!(
        out,
        "Target: {}{} · {} registrations ({}) · validation {:.0}% {}",
        result.target.base_url,
        if result.target.embedded_simulator {
            " (embedded simulator)"
        } else {
            ""
        },
        result.target.feed_registrations,
        result.target.feed_source,
        s.validation_sample_rate * 100.0,
        s.validation_mode
    )?;
    writeln!(out)
}

/// The table: one row per operation and a total.
fn operations(out: &mut dyn Write, result: &LoadResult) -> io::Result<()> {
    let [op, requests, rps, p50, p95, p99, max, failed, violations] = OPERATION_COLUMNS;
    writeln!(
        out,
        "  {op:<20} {requests:>9} {rps:>9} {p50:>8} {p95:>8} {p99:>8} {max:>8} {failed:>7} {violations:>10}"
    )?;
    for o in result
        .operations
        .iter()
        .chain(std::iter::once(&result.total))
    {
        row(out, o)?;
    }
    if result.metrics_cover != "whole run" {
        writeln!(
            out,
            "  goose's figures cover the {}; validation and transport tallies the whole run",
            result.metrics_cover
        )?;
    }
    Ok(())
}

/// The mix asked and sent, one line per operation, and why writes went out as GETs (terminal,
/// and the JUnit case of `mix-drift`).
pub(super) fn mix_lines(result: &LoadResult) -> Vec<String> {
    let m = &result.mix;
    let mut lines = vec![format!(
        "Mix: weights asked, requests sent ({} in all; mix-drift judges runs of {} or more):",
        m.requests, m.judged_from_requests
    )];
    lines.extend(m.lines().into_iter().map(|l| format!("  {l}")));
    lines.extend(m.fallback());
    lines
}

fn mix(out: &mut dyn Write, result: &LoadResult) -> io::Result<()> {
    let mut lines = mix_lines(result).into_iter();
    if let Some(head) = lines.next() {
        writeln!(out, "\n{head}")?;
    }
    for line in lines {
        writeln!(out, "  {line}")?;
    }
    Ok(())
}

/// Per operation: errors without an answer, contract breaks and error statuses by kind, and the
/// first samples of what broke.
fn breakdowns(out: &mut dyn Write, result: &LoadResult) -> io::Result<()> {
    let by_kind = |m: &std::collections::BTreeMap<String, u64>| {
        m.iter()
            .map(|(k, c)| format!("{k}×{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for o in &result.operations {
        let lines = [
            ("without an answer", by_kind(&o.transport_errors)),
            ("contract breaks", by_kind(&o.violations_by_kind)),
            (
                "errors by status",
                o.errors_by_status
                    .iter()
                    .map(|(s, c)| format!("{s}×{c}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        ];
        for (what, list) in lines {
            if !list.is_empty() {
                writeln!(out, "  {} {what}: {list}", o.operation)?;
            }
        }
        for v in o.violation_samples.iter().take(3) {
            writeln!(out, "  {} ×{}: {}", o.operation, v.count, v.message)?;
        }
    }
    Ok(())
}

/// What the requests were (answered + no answer), the adjusted latency with the figure the
/// run's model uses, requests still waiting at the end and stretches without an answer.
fn coordinated_omission(out: &mut dyn Write, result: &LoadResult) -> io::Result<()> {
    let t = &result.total;
    let mut line = format!(
        "  requests {} = {} answered + {} without an answer",
        t.requests, t.answered, t.no_answer
    );
    if result.unanswered_at_end.requests > 0 {
        line.push_str(&format!(
            " ({} still waiting at the end, the oldest for {:.0} ms)",
            result.unanswered_at_end.requests, result.unanswered_at_end.oldest_ms
        ));
    }
    writeln!(out, "{line}")?;
    if let Some(l) = t.adjusted_latency_ms {
        writeln!(
            out,
            "  adjusted p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms: {}",
            l.p50, l.p95, l.p99, l.max, result.latency_model.words
        )?;
    } else {
        writeln!(out, "  {}", result.latency_model.words)?;
    }
    if let Some(co) = &result.coordinated_omission {
        writeln!(
            out,
            "  coordinated omission ({}): {} event(s), {} synthetic request(s), in the adjusted \
             percentiles only",
            co.mode.as_str(),
            co.events,
            co.synthetic_requests
        )?;
    }
    for g in &result.answer_gaps {
        writeln!(out, "  no answer {}", g.words())?;
    }
    Ok(())
}

/// The arrival rate asked and achieved, per operation, and why any was missing.
fn arrival(out: &mut dyn Write, result: &LoadResult) -> io::Result<()> {
    let Some(a) = &result.arrival else {
        return Ok(());
    };
    writeln!(out, "\nArrival rate: {}", arrival_headline(a))?;
    for o in &a.operations {
        writeln!(
            out,
            "  {:<20} target {:>7.1}/s   achieved {:>7.1}/s   {:>5.1}%",
            o.operation, o.target_rps, o.achieved_rps, o.achieved_percent
        )?;
    }
    for s in &a.shortfall {
        writeln!(out, "  shortfall: {}", s.detail)?;
    }
    Ok(())
}

/// Per operation: p95 and throughput (and a moved error rate) before and now, in words.
fn against_baseline(out: &mut dyn Write, result: &LoadResult) -> io::Result<()> {
    let Some(b) = &result.baseline else {
        return Ok(());
    };
    writeln!(out, "\nAgainst the baseline {}:", b.file)?;
    for o in &b.operations {
        // p95 and rps always; the error rate when it moved.
        let shown: Vec<String> = o
            .changes
            .iter()
            .filter(|c| {
                matches!(c.measure, "p95" | "rps")
                    || (c.measure == "error-rate" && c.change != "unchanged")
            })
            .map(baseline_line)
            .collect();
        writeln!(out, "  {:<20} {}", o.operation, shown.join("   "))?;
    }
    Ok(())
}

/// `p95 1.53ms → 1.85ms, rose 20.9% (worse)`: one change in the baseline's words (terminal
/// and HTML).
pub(super) fn baseline_line(c: &crate::load::baseline::Change) -> String {
    let measure = crate::load::baseline::Measure::ALL
        .into_iter()
        .find(|m| m.name() == c.measure);
    match measure {
        Some(m) => m.line(c.before, c.now),
        None => format!("{} {} → {}, {}", c.measure, c.before, c.now, c.change),
    }
}

fn thresholds(out: &mut dyn Write, result: &LoadResult, style: Style) -> io::Result<()> {
    if result.thresholds.is_empty() {
        return Ok(());
    }
    writeln!(out, "\nThresholds:")?;
    for t in &result.thresholds {
        let mark = Mark::of(t.passed);
        writeln!(
            out,
            "  {}{} {:<40} observed {}{}",
            style.mark(mark),
            pad(mark),
            t.rule,
            t.observed,
            threshold_note(t)
        )?;
    }
    Ok(())
}

fn invariants(out: &mut dyn Write, result: &LoadResult, style: Style) -> io::Result<()> {
    if result.invariants.is_empty() {
        return Ok(());
    }
    writeln!(out, "\nAfter the load:")?;
    for i in &result.invariants {
        let mark = invariant_mark(i.status);
        writeln!(
            out,
            "  {}{} {} ({} checked)",
            style.mark(mark),
            pad(mark),
            i.name,
            i.checked
        )?;
        if let Some(why) = &i.reason {
            writeln!(out, "         {why}")?;
        }
        for f in i.findings.iter().take(10) {
            writeln!(out, "         {f}")?;
        }
    }
    Ok(())
}

/// What a live run left on its devices (grouped), and the devices it kept out of person
/// operations.
fn left_on_devices(out: &mut dyn Write, result: &LoadResult, style: Style) -> io::Result<()> {
    let groups = leftover_groups(&result.left_on_devices);
    if !groups.is_empty() {
        writeln!(out, "\nLeft on the devices:")?;
        for g in &groups {
            let mark = if g.fails(result.fail_on_residue) {
                format!("{} ", style.mark(Mark::Failed))
            } else {
                String::new()
            };
            writeln!(out, "  {mark}{}: {}", g.headline(), g.reason)?;
            writeln!(out, "         {}", short_list(&g.devices))?;
        }
    }
    let excluded = &result.excluded_from_person_operations;
    if !excluded.is_empty() {
        writeln!(
            out,
            "\nKept out of personalize and depersonalize ({} device(s)):",
            excluded.len()
        )?;
        for d in excluded.iter().take(10) {
            writeln!(out, "  {}: {}", d.registration_id, d.reason)?;
        }
        if excluded.len() > 10 {
            writeln!(out, "  … and {} more", excluded.len() - 10)?;
        }
    }
    Ok(())
}

/// A few registration IDs, then how many more.
fn short_list(ids: &[&str]) -> String {
    let mut out = ids.iter().take(10).copied().collect::<Vec<_>>().join(", ");
    if ids.len() > 10 {
        out.push_str(&format!(" and {} more", ids.len() - 10));
    }
    out
}

/// Spaces that line `ok` up with `FAILED` (longer words stand out anyway).
fn pad(mark: Mark) -> &'static str {
    match mark {
        Mark::Ok => "    ",
        _ => "",
    }
}

fn row(out: &mut dyn Write, o: &OperationStats) -> io::Result<()> {
    let l = &o.latency_ms;
    writeln!(
        out,
        "  {:<20} {:>9} {:>9.1} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>7} {:>10}",
        o.operation, o.requests, o.rps, l.p50, l.p95, l.p99, l.max, o.failures, o.schema_violations
    )
}
