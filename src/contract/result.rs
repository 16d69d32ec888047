//! The contract suite's results, as data. Reporters (human, JSON, JUnit) only read these.

use std::time::Duration;

use serde::{Serialize, Serializer};

use crate::api::footprint::{Cause, Leftover};
use crate::api::learn::{ServerFinding, TargetChoices};
use crate::api::redact::Redactor;
use crate::outcome::Outcome;
use crate::schema::Mode;
use crate::schema::shape::{Severity, ShapeChange};

/// Where the suite ran.
#[derive(Debug, Clone, Serialize)]
pub struct TargetInfo {
    /// `simulator` (embedded, in-process) or `live`.
    pub kind: TargetKind,
    pub base_url: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    Simulator,
    Live,
}

/// A case's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Passed,
    Failed,
    Skipped,
}

/// Why a case failed: which request, which status, where in the body, expected vs got.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub got: Option<String>,
    /// The target could not be reached at all.
    #[serde(skip)]
    pub unreachable: bool,
    /// Why the target's TLS certificate was not trusted, when that is why nothing came back.
    #[serde(skip)]
    pub untrusted: Option<String>,
}

impl Failure {
    pub fn new(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            ..Failure::default()
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.message)?;
        if let Some(request) = &self.request {
            write!(f, "\n  request:  {request}")?;
        }
        if let Some(status) = self.status {
            write!(f, "\n  status:   {status}")?;
        }
        if let Some(pointer) = &self.pointer {
            let shown = if pointer.is_empty() {
                "(root)"
            } else {
                pointer
            };
            write!(f, "\n  at:       {shown}")?;
        }
        if let Some(expected) = &self.expected {
            write!(f, "\n  expected: {expected}")?;
        }
        if let Some(got) = &self.got {
            write!(f, "\n  got:      {got}")?;
        }
        Ok(())
    }
}

/// One request a case made.
#[derive(Debug, Clone, Serialize)]
pub struct Exchange {
    pub request: String,
    /// `None` when no response came back.
    pub status: Option<u16>,
    #[serde(rename = "duration_ms", serialize_with = "millis")]
    pub duration: Duration,
}

/// What a response showed beyond pass/fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FindingKind {
    /// A field no schema names (a failure with `--strict`).
    Undocumented,
    /// A field the pinned shape does not have.
    Additive,
    /// A required pinned field missing, or a changed type (a failure with `--strict`).
    Breaking,
    /// An optional pinned field no response carried: nothing to judge.
    #[serde(rename = "not_seen")]
    NotSeen,
}

/// A finding about one response, or about the shapes seen over the whole run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    /// The schema (response kind) it concerns.
    pub schema: String,
    /// JSON pointer (`[]` for any array element in shape paths).
    pub path: String,
    pub detail: String,
    /// Drift: the cases whose responses produced this shape (for a field not seen or removed:
    /// every case that produced the response kind).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cases: Vec<String>,
}

impl Finding {
    /// A shape change of a response kind, as a finding, produced by `cases`.
    pub fn from_shape(schema: &str, change: &ShapeChange, cases: Vec<String>) -> Finding {
        Finding {
            kind: match change.severity() {
                Severity::Additive => FindingKind::Additive,
                Severity::Breaking => FindingKind::Breaking,
                Severity::NotSeen => FindingKind::NotSeen,
            },
            schema: schema.to_owned(),
            path: change.path.clone(),
            detail: change.to_string(),
            cases,
        }
    }
}

/// One case's result.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    pub name: &'static str,
    pub group: &'static str,
    pub summary: &'static str,
    pub status: Status,
    #[serde(rename = "duration_ms", serialize_with = "millis")]
    pub duration: Duration,
    /// Simulator choices (undocumented behaviour) this case relies on.
    pub relies_on: &'static [&'static str],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    pub exchanges: Vec<Exchange>,
    pub findings: Vec<Finding>,
}

impl CaseResult {
    /// Scrubs the run's secrets from every text of a case result.
    pub fn scrub(&mut self, redactor: &Redactor) {
        let result = self;
        if redactor.is_empty() {
            return;
        }
        if let Some(f) = &mut result.failure {
            redactor.scrub_in_place(&mut f.message);
            for text in [&mut f.request, &mut f.expected, &mut f.got, &mut f.pointer]
                .into_iter()
                .flatten()
            {
                redactor.scrub_in_place(text);
            }
        }
        for finding in &mut result.findings {
            redactor.scrub_in_place(&mut finding.detail);
            redactor.scrub_in_place(&mut finding.path);
        }
        for exchange in &mut result.exchanges {
            redactor.scrub_in_place(&mut exchange.request);
        }
    }
}

/// A live device the run could not use, and why (a configuration problem: exit 2).
#[derive(Debug, Clone, Serialize)]
pub struct UnusableDevice {
    pub registration_id: String,
    pub reason: String,
}

/// Counts of a run.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Summary {
    pub total: usize,
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

/// The whole suite's result.
#[derive(Debug, Clone, Serialize)]
pub struct SuiteResult {
    pub tool: &'static str,
    pub version: &'static str,
    pub target: TargetInfo,
    pub mode: Mode,
    pub summary: Summary,
    #[serde(rename = "duration_ms", serialize_with = "millis")]
    pub duration: Duration,
    /// A stop signal (Ctrl-C, SIGTERM, SIGHUP) stopped the run; the cases after it did not run.
    pub interrupted: bool,
    pub cases: Vec<CaseResult>,
    /// Shape drift of each response kind over the whole run, against the pinned doc shapes.
    pub drift: Vec<Finding>,
    /// Live targets with writes: what the target chose where the docs are silent, as its own
    /// answers showed (`api::learn`); `None` when nothing was probed.
    pub target_choices: Option<TargetChoices>,
    /// Answers no correct server gives, seen by the probes before the cases: each fails the run.
    pub server_findings: Vec<ServerFinding>,
    /// Live targets: what is left on each device after its last restore, and whose doing it is
    /// (one entry per device). A server fault fails the run; a target's choice only with
    /// `fail_on_residue`.
    pub left_on_devices: Vec<Leftover>,
    /// Leftovers that are a target's choice fail the run too (`--fail-on-residue`).
    pub fail_on_residue: bool,
    /// Live targets: devices that cannot be used for writing cases (already bound to a person).
    pub unusable_devices: Vec<UnusableDevice>,
}

impl SuiteResult {
    /// True when no case failed, no probe saw a server fault, the run was not interrupted, no
    /// restore met a server fault (nor, with `fail_on_residue`, left anything) and, in strict
    /// mode, no response shape drifted in a breaking way. (A run whose cases were all skipped
    /// passes here; the CLI refuses it: see [`SuiteResult::all_skipped`].)
    pub fn passed(&self) -> bool {
        self.summary.failed == 0
            && !self.interrupted
            && self.server_findings.is_empty()
            && self.failing_leftovers().next().is_none()
            && !self.strict_drift_failed()
    }

    /// Leftovers that fail the run: server faults, and every one with `fail_on_residue`.
    pub fn failing_leftovers(&self) -> impl Iterator<Item = &Leftover> {
        self.left_on_devices
            .iter()
            .filter(|l| self.fail_on_residue || l.cause == Cause::ServerFault)
    }

    /// Strict mode and a breaking shape change.
    pub fn strict_drift_failed(&self) -> bool {
        self.mode == Mode::Strict && self.drift.iter().any(|f| f.kind == FindingKind::Breaking)
    }

    /// The configuration mistake the run found, if any: a device it must not use, or every
    /// case skipped (unless `allow_all_skipped`).
    pub fn mistake(&self, allow_all_skipped: bool) -> Option<String> {
        if let Some(device) = self.unusable_devices.first() {
            return Some(device.reason.clone());
        }
        if self.all_skipped() && !allow_all_skipped {
            let why = self
                .cases
                .iter()
                .find_map(|c| c.skip_reason.clone())
                .unwrap_or_default();
            return Some(format!(
                "every case was skipped ({} of {}), so nothing was checked; first reason: {why}. Pass --allow-all-skipped if that is intended",
                self.summary.skipped, self.summary.total
            ));
        }
        None
    }

    /// What the suite amounts to: its mistake, then interrupted, then the verdict.
    pub fn outcome(&self, allow_all_skipped: bool) -> Outcome {
        Outcome::of(
            self.mistake(allow_all_skipped).as_deref(),
            self.interrupted,
            self.passed(),
        )
    }

    /// Every selected case was skipped: nothing was checked.
    pub fn all_skipped(&self) -> bool {
        self.summary.total > 0 && self.summary.skipped == self.summary.total
    }

    /// One line per reason the run did not pass (for a verdict or a combined report).
    pub fn reasons(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .cases
            .iter()
            .filter(|c| c.status == Status::Failed)
            .map(|c| {
                let why = c
                    .failure
                    .as_ref()
                    .map_or_else(String::new, |f| format!(": {}", f.message));
                format!("contract case {} failed{why}", c.name)
            })
            .collect();
        out.extend(self.server_findings.iter().map(|f| {
            format!(
                "contract: probe {} of registration {}: {}",
                f.probe, f.registration_id, f.message
            )
        }));
        out.extend(self.failing_leftovers().map(|l| {
            format!(
                "contract: registration {} not put back ({}): {}: {}",
                l.registration_id,
                l.cause.label(),
                l.items.join(", "),
                l.reason
            )
        }));
        if self.strict_drift_failed() {
            out.extend(
                self.drift
                    .iter()
                    .filter(|f| f.kind == FindingKind::Breaking)
                    .map(|f| {
                        format!(
                            "contract: breaking shape drift (--strict): {} {}",
                            f.schema, f.detail
                        )
                    }),
            );
        }
        out.extend(self.unusable_devices.iter().map(|d| {
            format!(
                "contract: registration {} unusable: {}",
                d.registration_id, d.reason
            )
        }));
        if self.interrupted {
            out.push("contract: interrupted".to_owned());
        }
        out
    }

    pub(crate) fn summarize(cases: &[CaseResult]) -> Summary {
        let count = |s: Status| cases.iter().filter(|c| c.status == s).count();
        Summary {
            total: cases.len(),
            passed: count(Status::Passed),
            failed: count(Status::Failed),
            skipped: count(Status::Skipped),
        }
    }
}

/// A duration in milliseconds, kept to 0.001 ms: how every report writes a duration.
pub fn as_millis(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

/// Serializes a duration with [`as_millis`].
pub fn millis<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(as_millis(*duration))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(mode: Mode, kind: FindingKind) -> SuiteResult {
        let cases = vec![CaseResult {
            name: "get.existing",
            group: "get",
            summary: "",
            status: Status::Passed,
            duration: Duration::ZERO,
            relies_on: &[],
            skip_reason: None,
            failure: None,
            exchanges: Vec::new(),
            findings: Vec::new(),
        }];
        SuiteResult {
            tool: "pushcheck",
            version: "0",
            target: TargetInfo {
                kind: TargetKind::Live,
                base_url: "http://127.0.0.1:1".into(),
            },
            mode,
            summary: SuiteResult::summarize(&cases),
            duration: Duration::ZERO,
            interrupted: false,
            cases,
            drift: vec![Finding {
                kind,
                schema: "push-registration".into(),
                path: "/isPrimary".into(),
                detail: "/isPrimary: retyped from boolean to string, breaking".into(),
                cases: vec!["get.existing".into()],
            }],
            target_choices: None,
            server_findings: Vec::new(),
            left_on_devices: Vec::new(),
            fail_on_residue: false,
            unusable_devices: Vec::new(),
        }
    }

    #[test]
    fn breaking_drift_fails_only_in_strict_mode() {
        assert!(result(Mode::Lenient, FindingKind::Breaking).passed());
        let strict = result(Mode::Strict, FindingKind::Breaking);
        assert!(!strict.passed());
        assert!(
            strict.reasons()[0].contains("breaking shape drift"),
            "{:?}",
            strict.reasons()
        );
        assert!(result(Mode::Strict, FindingKind::NotSeen).passed());
        assert!(result(Mode::Strict, FindingKind::Additive).passed());
    }

    #[test]
    fn all_skipped_is_told_apart() {
        let mut r = result(Mode::Lenient, FindingKind::Additive);
        assert!(!r.all_skipped());
        r.cases[0].status = Status::Skipped;
        r.summary = SuiteResult::summarize(&r.cases);
        assert!(r.all_skipped());
    }
}
