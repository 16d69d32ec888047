//! Renderers of a generated run ([`GenerateResult`]): the human report (what ran, how fast, the
//! finding shrunk to a numbered list of steps and to curl commands with the credential
//! redacted) and the replay file `--replay` reads. They only read the result.

use std::io::{self, Write};
use std::path::Path;

use super::{Mark, ReportError, Style, style};
use crate::api::footprint::Cause;
use crate::contract::generate::step::{Names, Replay, render_curl, render_list};
use crate::contract::generate::{Finding, GenerateResult};
use crate::contract::result::TargetKind;

/// The replay file of the run's finding, if it has one.
pub fn replay_file(result: &GenerateResult) -> Option<Result<String, ReportError>> {
    let finding = result.finding.as_ref()?;
    let replay = Replay::new(
        result.seed,
        result.registrations.len(),
        finding.steps.clone(),
    );
    Some(super::to_json("replay", &replay).map(|mut t| {
        t.push('\n');
        t
    }))
}

/// The whole human report; `saved` is where the replay file was written.
pub fn human(
    out: &mut dyn Write,
    result: &GenerateResult,
    saved: Option<&Path>,
    style: Style,
) -> io::Result<()> {
    let target = match result.target.kind {
        TargetKind::Simulator => format!("the embedded simulator at {}", result.target.base_url),
        TargetKind::Live => result.target.base_url.clone(),
    };
    match result.seed.filter(|_| !result.replayed) {
        Some(seed) => writeln!(
            out,
            "generated {} steps in {} sequences against {target}, seed {seed} (rerun with --seed {seed})",
            result.steps, result.sequences
        )?,
        None => writeln!(out, "replayed {} steps against {target}", result.steps)?,
    }
    let secs = result.elapsed.as_secs_f64().max(1e-9);
    writeln!(
        out,
        "{} requests in {:.2}s ({:.0} generated cases/s, model compared after every step)",
        result.requests,
        secs,
        result.steps as f64 / secs
    )?;
    if result.interrupted {
        writeln!(
            out,
            "{}: interrupted by a stop signal ({})",
            style.mark(Mark::NotRun),
            crate::interrupt::SIGNALS
        )?;
    }
    if result.timed_out {
        writeln!(
            out,
            "{}: the time limit came first",
            style.mark(Mark::NotRun)
        )?;
    }
    for note in &result.choices {
        writeln!(
            out,
            "{} {} divergence(s) the simulator choice {} explains (not a failure), e.g. {}",
            style.mark(Mark::Skipped),
            note.count,
            note.choice,
            note.example
        )?;
    }
    for l in &result.left_on_devices {
        let fails = result.fail_on_residue || l.cause == Cause::ServerFault;
        let mark = if fails { Mark::Failed } else { Mark::Skipped };
        writeln!(
            out,
            "{} left on {}: {} [{}] {}",
            style.mark(mark),
            l.registration_id,
            l.items.join(", "),
            l.cause.label(),
            l.reason
        )?;
    }
    if let Some(finding) = &result.finding {
        finding_text(out, result, finding, saved, style)?;
    }
    let mut reasons = Vec::new();
    if let Some(f) = &result.finding {
        reasons.push(f.divergence.describe());
    }
    let failing = result
        .left_on_devices
        .iter()
        .filter(|l| result.fail_on_residue || l.cause == Cause::ServerFault)
        .count();
    if failing > 0 {
        reasons.push(format!("{failing} registration(s) not put back"));
    }
    if result.interrupted {
        reasons.push(format!(
            "interrupted by a stop signal ({})",
            crate::interrupt::SIGNALS
        ));
    }
    let passed = result.passed() && !result.interrupted;
    style::verdict_lines(out, passed, result.elapsed, &reasons, style)
}

fn finding_text(
    out: &mut dyn Write,
    result: &GenerateResult,
    finding: &Finding,
    saved: Option<&Path>,
    style: Style,
) -> io::Result<()> {
    writeln!(
        out,
        "{} target and model differ: {}",
        style.mark(Mark::Failed),
        finding.divergence.describe()
    )?;
    if let Some(s) = &finding.shrinking {
        writeln!(
            out,
            "shrunk from {} to {} steps in {} attempts ({} requests of a budget of {}{})",
            s.from,
            finding.steps.len(),
            s.attempts,
            s.requests,
            s.budget,
            if s.exhausted {
                ", budget or time spent"
            } else {
                ""
            }
        )?;
    }
    let names = Names {
        registrations: &result.registrations,
        namespace: &finding.namespace,
    };
    writeln!(out, "steps:")?;
    write!(out, "{}", render_list(&finding.steps, &names))?;
    writeln!(out, "as curl (credential redacted):")?;
    let curl = render_curl(
        &finding.steps,
        &names,
        &result.target.base_url,
        result.credentials.as_ref(),
        result.app_code.as_deref(),
    );
    for line in curl.lines() {
        writeln!(out, "  {line}")?;
    }
    if let Some(path) = saved {
        writeln!(
            out,
            "saved to {}; rerun with:\n  {}",
            path.display(),
            rerun_command(result, path)
        )?;
    }
    Ok(())
}

/// The command that replays the finding where it was found: against a live target, its URL,
/// registrations and `--allow-writes`, with the credential and app code named by their
/// environment variables (never their values).
pub fn rerun_command(result: &GenerateResult, replay: &Path) -> String {
    let mut line = String::new();
    if result.target.kind == TargetKind::Live {
        if let Some(c) = &result.credentials {
            line.push_str(&format!("{0}=\"${0}\" ", c.env_var()));
        }
        if result.app_code.is_some() {
            line.push_str(&format!("{0}=\"${0}\" ", crate::api::auth::env::APP_CODE));
        }
    }
    line.push_str("pushcheck contract");
    if result.target.kind == TargetKind::Live {
        line.push_str(&format!(" --target {}", result.target.base_url));
        for id in &result.registrations {
            line.push_str(&format!(" --registration-id {id}"));
        }
        line.push_str(" --allow-writes");
    }
    line.push_str(&format!(" --replay {}", replay.display()));
    line
}
