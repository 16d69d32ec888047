//! After the load: re-read every registration written during the run and compare it with its
//! last acknowledged write (no lost updates), against a simulator run its invariant check, and
//! on a live run put every device back as it was found ([`super::restore`]).
//!
//! Every PATCH writes one fixed attribute ([`LOAD_ATTRIBUTE`]) with a value that names the run
//! (`"<run id>:<seq>"`): a value of another run is never taken for this run's, and the value a
//! device had before a live run (read by [`super::restore::find`]) is never taken for a later
//! write. On a simulator the attribute stays (see [`check`]).
//!
//! Each registration had a single writer (see [`crate::load::feed`]), so its last acknowledged
//! write is known exactly and the state read back must show it. A re-read that fails (no answer,
//! 429, 5xx) is tried again a few times; one that still fails is "could not check", which fails
//! the verdict for that reason and is never counted as a lost write. Findings are data; they go
//! into the verdict and the reports, never to the terminal from here.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use super::attack::Attacked;
use super::prepare::Prepared;
use super::reader::{Read, Reader, TRIES, each_written, list};
use super::restore::{self, Before};
use super::{LoadConfig, Reached};
use crate::api::Operation;
use crate::api::field;
use crate::api::footprint::{LOAD_ATTRIBUTE, Leftover};
use crate::interrupt;
use crate::load::feed::Feed;
use crate::load::result::{InvariantOutcome, InvariantStatus};
use crate::load::tally::Expected;
use crate::load::transactions::{parse_seq_value, seq_value};
use crate::mock::AdminClient;

/// Name of the lost-update invariant in reports.
pub const NO_LOST_UPDATES: &str = "no acknowledged write lost";
/// Prefix of the simulator's invariants in reports.
pub const SIMULATOR_PREFIX: &str = "simulator invariants";
/// Findings kept per invariant.
const MAX_FINDINGS: usize = 25;
/// What a registration read back says of this run's writes.
#[derive(Debug, PartialEq, Eq)]
enum Judged {
    /// What was acknowledged is there (or a later write of this run's).
    Kept,
    /// An acknowledged write is missing: what differs.
    Lost(String),
    /// Another pushcheck run's value, written after this run's pre-run read: another run wrote
    /// the device meanwhile, so this run's last write cannot be told from it.
    Overtaken,
}

/// Re-reads every registration of `ledger` and compares it with what was acknowledged; `found`
/// gives the value of [`LOAD_ATTRIBUTE`] each device had before the run, where it was read (a
/// live run, see [`super::restore`]). Also returns a note on the devices another run overtook.
pub async fn lost_updates(
    reader: &Reader,
    feed: &Feed,
    ledger: &HashMap<usize, Expected>,
    run_id: &str,
    found: &dyn Fn(usize) -> Option<Option<Value>>,
) -> (InvariantOutcome, Option<String>) {
    let mut positions: Vec<usize> = ledger.keys().copied().collect();
    positions.sort_unstable();
    let reads = each_written(feed, &positions, |_, entry| {
        let reader = reader.clone();
        async move { (entry.registration_id.clone(), reader.get(&entry).await) }
    })
    .await;
    let mut lost = Vec::new();
    let mut unchecked = Vec::new();
    let mut overtaken = Vec::new();
    // Another run wrote some of these devices during this one: its depersonalize may have
    // cleared isPrimary anywhere, even where this run's value was written last.
    let others = reads.iter().any(|(at, (_, read))| {
        matches!(read, Read::Body(body) if overtaken_by_another_run(body, run_id, found(*at).as_ref()))
    });
    for (at, (id, read)) in reads {
        match read {
            Read::Failed(why) => {
                unchecked.push(format!("registration {id}: could not check: {why}"))
            }
            Read::Body(_) if ledger[&at].shared => unchecked.push(format!(
                "registration {id}: could not check: two load users wrote it (pushcheck's \
                 partition of the writes failed)"
            )),
            Read::Body(body) => {
                match compare(&ledger[&at], &body, run_id, found(at).as_ref(), !others) {
                    Judged::Kept => {}
                    Judged::Lost(f) => lost.push(format!("registration {id}: {f}")),
                    Judged::Overtaken => overtaken.push(id.to_string()),
                }
            }
        }
    }
    let status = if !lost.is_empty() {
        InvariantStatus::Failed
    } else if !unchecked.is_empty() {
        InvariantStatus::CouldNotCheck
    } else {
        InvariantStatus::Passed
    };
    let (lost_n, unchecked_n) = (lost.len(), unchecked.len());
    let mut findings: Vec<String> = lost.into_iter().chain(unchecked).collect();
    let all = findings.len();
    findings.truncate(MAX_FINDINGS);
    if all > findings.len() {
        findings.push(format!("… and {} more", all - findings.len()));
    }
    let note = (!overtaken.is_empty()).then(|| {
        format!(
            "{} device(s) carried another pushcheck run's value of {LOAD_ATTRIBUTE} after the \
             load (a run writing the same devices at the same time; one writer per device is \
             required for the check): not judged: {}",
            overtaken.len(),
            list(&overtaken)
        )
    });
    let outcome = InvariantOutcome {
        name: NO_LOST_UPDATES.to_owned(),
        status,
        passed: status == InvariantStatus::Passed,
        checked: positions.len() - unchecked_n - overtaken.len(),
        failed: lost_n,
        unchecked: unchecked_n,
        findings,
        reason: (unchecked_n > 0).then(|| {
            format!("{unchecked_n} registration(s) could not be re-read after {TRIES} tries")
        }),
    };
    (outcome, note)
}

/// Whether `body` carries another run's value of [`LOAD_ATTRIBUTE`] that is not the value found
/// before the run (`found`, where it was read): another run wrote the device during this one.
fn overtaken_by_another_run(body: &Value, run_id: &str, found: Option<&Option<Value>>) -> bool {
    let got = body
        .get(field::ADDITIONAL_DATA)
        .and_then(|d| d.get(LOAD_ATTRIBUTE));
    let as_found = found.is_some_and(|f| f.as_ref() == got);
    got.and_then(parse_seq_value)
        .is_some_and(|(run, _)| run != run_id)
        && !as_found
}

/// What a registration read back says of the expected state. `found` is the value of
/// [`LOAD_ATTRIBUTE`] before the run (`Some(None)`: absent; `None`: not read, as on a
/// simulator).
///
/// Every writer's values are unique (its run ID and a growing sequence number), so:
/// this run's value with a lower number than acknowledged, nothing, something that is not a
/// load's value, or exactly the value found before the run are lost writes; another run's value
/// that was not there before the run is a write of another run made since (not judged).
/// `isPrimary` is compared only with `judge_primary`: when no other run wrote these devices
/// during this one (another writer's depersonalize legitimately changes it).
fn compare(
    expected: &Expected,
    body: &Value,
    run_id: &str,
    found: Option<&Option<Value>>,
    judge_primary: bool,
) -> Judged {
    let got = body
        .get(field::ADDITIONAL_DATA)
        .and_then(|d| d.get(LOAD_ATTRIBUTE));
    let as_found = found.is_some_and(|f| f.as_ref() == got);
    let parsed = got.and_then(parse_seq_value);
    if overtaken_by_another_run(body, run_id, found) {
        return Judged::Overtaken;
    }
    let mut wrong = Vec::new();
    if let Some(seq) = expected.seq {
        // Sequence numbers grow per writer: a newer value is a later write that was applied
        // without an answer, not a lost one.
        let ours = parsed.filter(|(run, _)| *run == run_id);
        if ours.is_none_or(|(_, g)| g < seq) {
            wrong.push(format!(
                "PATCH of {}.{LOAD_ATTRIBUTE} = {} was acknowledged, read back {}{}",
                field::ADDITIONAL_DATA,
                seq_value(run_id, seq),
                got.map_or_else(|| "nothing".to_owned(), Value::to_string),
                if as_found && got.is_some() {
                    " (the value it had before the run)"
                } else {
                    ""
                }
            ));
        }
    }
    if let Some(primary) = expected
        .primary
        .filter(|_| !expected.unsure && judge_primary)
    {
        let got = body.get(field::IS_PRIMARY).and_then(Value::as_bool);
        if got != Some(primary) {
            wrong.push(format!(
                "personalize with setDeviceAsPrimary was acknowledged last, isPrimary reads {}",
                got.map_or_else(|| "nothing".to_owned(), |b| b.to_string())
            ));
        }
    }
    if wrong.is_empty() {
        Judged::Kept
    } else {
        Judged::Lost(wrong.join("; "))
    }
}

/// Calls the simulator's invariant check; one outcome per broken rule, plus the overall one.
/// A check that cannot run is "could not check", which fails the verdict.
pub async fn simulator_invariants(
    client: &reqwest::Client,
    base_url: &str,
    authorization: &reqwest::header::HeaderValue,
) -> Vec<InvariantOutcome> {
    let could_not = |why: String| {
        vec![InvariantOutcome {
            name: SIMULATOR_PREFIX.to_owned(),
            status: InvariantStatus::CouldNotCheck,
            passed: false,
            checked: 0,
            failed: 0,
            unchecked: 1,
            findings: Vec::new(),
            reason: Some(why),
        }]
    };
    let body = match AdminClient::new(client.clone(), base_url, authorization.clone())
        .invariants()
        .await
    {
        Ok(body) => body,
        Err(e) => return could_not(e.to_string()),
    };
    let mut by_rule: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for v in body.violations {
        by_rule.entry(v.rule).or_default().push(v.detail);
    }
    let status = if by_rule.is_empty() {
        InvariantStatus::Passed
    } else {
        InvariantStatus::Failed
    };
    let mut out = vec![InvariantOutcome {
        name: SIMULATOR_PREFIX.to_owned(),
        status,
        passed: by_rule.is_empty(),
        checked: body.registrations,
        failed: by_rule.values().map(Vec::len).sum(),
        unchecked: 0,
        findings: by_rule
            .iter()
            .map(|(rule, d)| format!("{rule}: {} violation(s)", d.len()))
            .collect(),
        reason: None,
    }];
    for (rule, details) in by_rule {
        let n = details.len();
        let mut findings: Vec<String> = details.into_iter().take(MAX_FINDINGS).collect();
        if n > findings.len() {
            findings.push(format!("… and {} more", n - findings.len()));
        }
        out.push(InvariantOutcome {
            name: format!("{SIMULATOR_PREFIX}: {rule}"),
            status: InvariantStatus::Failed,
            passed: false,
            checked: body.registrations,
            failed: n,
            unchecked: 0,
            findings,
            reason: None,
        });
    }
    out
}

/// What the checks after the load found, what they left on the devices, and the notes they
/// leave.
#[derive(Debug, Default)]
pub struct AfterLoad {
    pub invariants: Vec<InvariantOutcome>,
    /// What a live run could not put back (see [`super::restore`]).
    pub left_on_devices: Vec<Leftover>,
    pub notes: Vec<String>,
}

/// The re-reads and the simulator's invariants (none of it after an interruption), then, on a
/// live run, the devices put back as they were found ([`restore::put_back`]: it still runs
/// after an interruption, unless a second stop signal comes).
pub async fn check(
    config: &LoadConfig,
    at: &Reached,
    prepared: &Prepared,
    attacked: &Attacked,
    before: &Before,
    interrupts_before: u32,
) -> AfterLoad {
    let plan = &config.plan;
    let run = &attacked.run;
    let mut out = AfterLoad::default();
    let reader = prepared.reader.clone();
    let ledger = &attacked.collected.ledger;
    let skip = "the run was interrupted";
    if attacked.interrupted || attacked.never_answered {
        let why = if attacked.interrupted {
            skip
        } else {
            "the target never answered"
        };
        if plan.mix.writes() {
            out.invariants
                .push(InvariantOutcome::not_run(NO_LOST_UPDATES, why));
        }
        if at.simulator_invariants() {
            out.invariants
                .push(InvariantOutcome::not_run(SIMULATOR_PREFIX, why));
        }
    } else {
        let found = |pos: usize| before.value_found(pos);
        let checks = async {
            if plan.mix.writes() {
                let (outcome, note) =
                    lost_updates(&reader, &run.feed, ledger, &run.run_id, &found).await;
                out.invariants.push(outcome);
                out.notes.extend(note);
            }
            if at.simulator_invariants() {
                out.invariants.extend(
                    simulator_invariants(
                        &prepared.client,
                        &at.target.base_url,
                        &prepared.authorization,
                    )
                    .await,
                );
            }
        };
        tokio::select! {
            () = checks => {}
            () = interrupt::at_least(interrupts_before + 1) => {
                out.notes.push("a stop signal during the checks after the load: they did not finish".to_owned());
            }
        }
    }
    if before.is_live() {
        let restored =
            restore::put_back(&reader, &run.feed, before, ledger, interrupts_before + 2).await;
        out.left_on_devices = restored.leftovers;
        out.notes.extend(restored.notes);
    } else if plan.mix.weight(Operation::Patch) > 0 && !ledger.is_empty() && !at.embedded {
        out.notes.push(format!(
            "the simulator keeps {LOAD_ATTRIBUTE} on the devices this run wrote (one fixed name \
             every run reuses): removing it could delete the last write of another run on the \
             same simulator"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn expected() -> Expected {
        Expected {
            seq: Some(7),
            primary: Some(true),
            last: Some(Operation::Patch),
            unsure: false,
            writer: Some(0),
            shared: false,
        }
    }

    fn body(primary: bool, value: Option<Value>) -> Value {
        match value {
            Some(v) => json!({"isPrimary": primary, "additionalData": {LOAD_ATTRIBUTE: v}}),
            None => json!({"isPrimary": primary}),
        }
    }

    #[test]
    fn a_stale_sequence_number_is_a_lost_update() {
        let e = expected();
        assert_eq!(
            compare(&e, &body(true, Some(json!("t:7"))), "t", None, true),
            Judged::Kept
        );
        assert_eq!(
            compare(&e, &body(true, Some(json!("t:9"))), "t", None, true),
            Judged::Kept,
            "a later write applied without an answer"
        );
        let Judged::Lost(f) = compare(&e, &body(false, Some(json!("t:6"))), "t", None, true) else {
            panic!("lost")
        };
        assert!(
            f.contains("= t:7 was acknowledged, read back \"t:6\""),
            "{f}"
        );
        assert!(f.contains("isPrimary reads false"), "{f}");
        for nothing in [None, Some(json!(7)), Some(json!("t")), Some(Value::Null)] {
            assert!(
                matches!(
                    compare(&e, &body(true, nothing.clone()), "t", None, true),
                    Judged::Lost(_)
                ),
                "{nothing:?}"
            );
        }
    }

    #[test]
    fn another_runs_value_is_not_this_runs_write_unless_it_was_there_before() {
        let e = expected();
        // Written by another run during this one: not judged, isPrimary included.
        assert_eq!(
            compare(&e, &body(false, Some(json!("u:3"))), "t", None, true),
            Judged::Overtaken
        );
        assert_eq!(
            compare(&e, &body(false, Some(json!("u:3"))), "t", Some(&None), true),
            Judged::Overtaken
        );
        // The value the device had before the run: every write of this run was lost.
        let Judged::Lost(f) = compare(
            &e,
            &body(true, Some(json!("u:3"))),
            "t",
            Some(&Some(json!("u:3"))),
            true,
        ) else {
            panic!("lost")
        };
        assert!(f.contains("(the value it had before the run)"), "{f}");
        // Another run on these devices: isPrimary is not this run's to judge anywhere.
        assert_eq!(
            compare(&e, &body(false, Some(json!("t:7"))), "t", None, false),
            Judged::Kept
        );
        // Nothing written by this run there (a personalize only): isPrimary still judged.
        let only_personalized = Expected { seq: None, ..e };
        assert_eq!(
            compare(
                &only_personalized,
                &body(true, Some(json!("u:3"))),
                "t",
                Some(&Some(json!("u:3"))),
                true
            ),
            Judged::Kept
        );
    }
}
