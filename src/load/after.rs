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
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Semaphore;

use super::attack::Attacked;
use super::prepare::Prepared;
use super::restore::{self, Before};
use super::{LoadConfig, Reached};
use crate::api::Operation;
use crate::api::client::{AppCode, Call, Client, ClientError, Response};
use crate::api::field;
use crate::api::footprint::{LOAD_ATTRIBUTE, Leftover};
use crate::interrupt;
use crate::load::feed::{Feed, FeedEntry};
use crate::load::result::{InvariantOutcome, InvariantStatus};
use crate::load::tally::{Expected, TransportKind};
use crate::load::transactions::{parse_seq_value, seq_value};
use crate::mock::AdminClient;

/// Name of the lost-update invariant in reports.
pub const NO_LOST_UPDATES: &str = "no acknowledged write lost";
/// Prefix of the simulator's invariants in reports.
pub const SIMULATOR_PREFIX: &str = "simulator invariants";
/// Findings kept per invariant.
const MAX_FINDINGS: usize = 25;
/// Re-reads in flight at once.
pub(super) const CONCURRENCY: usize = 32;
/// Tries of one re-read before it is "could not check".
pub(super) const TRIES: u32 = 3;
/// Wait before the second try; doubled for each later one.
const BACKOFF: Duration = Duration::from_millis(200);

/// How the checks after the load (and the reads and restore around a live run, see
/// [`super::restore`]) reach the target: the API client every runner shares
/// ([`crate::api::client`]), every request paced for a rate-capped target (cheap to clone: the
/// pacer is shared).
#[derive(Debug, Clone)]
pub struct Reader {
    pub client: Client,
    /// Spaces requests out, all operations together, for a rate-capped live target.
    pub pace: Option<Duration>,
    /// When the next paced request may leave.
    next: Arc<tokio::sync::Mutex<tokio::time::Instant>>,
}

/// What one request after the load got: the body of a 2xx, or why there is none.
pub(super) enum Read {
    Body(Value),
    Failed(String),
}

/// One request tried until it got an answer that is not 429 or 5xx (or the tries ran out).
pub(super) enum Exchange {
    /// The last answer (a 2xx, a 4xx other than 429, or the last 429/5xx).
    Answered(Response),
    /// No answer at the last try: why.
    NoAnswer(String),
}

impl Exchange {
    /// The HTTP status, if any.
    pub(super) fn status(&self) -> Option<u16> {
        match self {
            Exchange::Answered(r) => Some(r.status),
            Exchange::NoAnswer(_) => None,
        }
    }

    /// True for a 2xx.
    pub(super) fn ok(&self) -> bool {
        self.status().is_some_and(|s| (200..300).contains(&s))
    }

    /// The answer in a few words: `HTTP 400 (PERSONALIZATION_IMPOSSIBLE)`, `no answer (timeout)`.
    pub(super) fn describe(&self) -> String {
        match self {
            Exchange::Answered(r) => match r.error_code() {
                Some(code) => format!("HTTP {} ({code})", r.status),
                None => format!("HTTP {}", r.status),
            },
            Exchange::NoAnswer(why) => why.clone(),
        }
    }
}

impl Reader {
    /// A reader through `client`, `pace` apart.
    pub fn new(client: Client, pace: Option<Duration>) -> Reader {
        Reader {
            client,
            pace,
            next: Arc::new(tokio::sync::Mutex::new(tokio::time::Instant::now())),
        }
    }

    /// Waits for this request's slot under the pace.
    async fn slot(&self) {
        let Some(pace) = self.pace else { return };
        let at = {
            let mut next = self.next.lock().await;
            let at = (*next).max(tokio::time::Instant::now());
            *next = at + pace;
            at
        };
        tokio::time::sleep_until(at).await;
    }

    /// `call` on `entry`, under the entry's own app code, in its paced slot.
    async fn send(&self, call: Call, entry: &FeedEntry) -> Result<Response, ClientError> {
        self.slot().await;
        let call = call.app_code(AppCode::With(
            entry.app_code.to_str().unwrap_or_default().to_owned(),
        ));
        self.client.send(&call).await
    }

    /// `make()` on `entry`, tried again on no answer, 429 or 5xx.
    pub(super) async fn exchange(&self, entry: &FeedEntry, make: impl Fn() -> Call) -> Exchange {
        let mut last = Exchange::NoAnswer("not sent".to_owned());
        for attempt in 0..TRIES {
            if attempt > 0 {
                tokio::time::sleep(BACKOFF * 2u32.pow(attempt - 1)).await;
            }
            last = match self.send(make(), entry).await {
                Err(e) => Exchange::NoAnswer(format!("no answer ({})", TransportKind::from(&e))),
                Ok(r) if r.status == 429 || r.status >= 500 => Exchange::Answered(r),
                Ok(r) => return Exchange::Answered(r),
            };
        }
        last
    }

    /// GET of `entry`, tried again on no answer, 429 or 5xx.
    pub(super) async fn get(&self, entry: &FeedEntry) -> Read {
        let id = entry.registration_id.to_string();
        match self
            .exchange(entry, || Call::new(Operation::Get, id.clone()))
            .await
        {
            Exchange::Answered(r) if (200..300).contains(&r.status) => {
                match serde_json::from_slice::<Value>(&r.body) {
                    Ok(body) => Read::Body(body),
                    Err(e) => Read::Failed(format!("the body is not JSON: {e}")),
                }
            }
            Exchange::Answered(r) if r.status == 429 || r.status >= 500 => {
                Read::Failed(format!("HTTP {} after {TRIES} tries", r.status))
            }
            Exchange::Answered(r) => Read::Failed(format!("HTTP {}", r.status)),
            Exchange::NoAnswer(why) => Read::Failed(format!("{why} after {TRIES} tries")),
        }
    }
}

/// Runs `work` over the registrations at `positions`, a few at a time (the reader paces each
/// request).
pub(super) async fn each_written<T, F, Fut>(
    feed: &Feed,
    positions: &[usize],
    work: F,
) -> Vec<(usize, T)>
where
    T: Send + 'static,
    F: Fn(usize, FeedEntry) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    let semaphore = Arc::new(Semaphore::new(CONCURRENCY));
    let mut tasks = tokio::task::JoinSet::new();
    for at in positions {
        let permit = Arc::clone(&semaphore).acquire_owned().await;
        let job = work(*at, feed.entries[*at].clone());
        let at = *at;
        tasks.spawn(async move {
            let _permit = permit;
            (at, job.await)
        });
    }
    let mut out = Vec::with_capacity(positions.len());
    while let Some(done) = tasks.join_next().await {
        if let Ok(pair) = done {
            out.push(pair);
        }
    }
    out.sort_by_key(|(at, _)| *at);
    out
}

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

/// A few registration IDs, then how many more.
pub(super) fn list(ids: &[String]) -> String {
    const SHOWN: usize = 10;
    let mut out = ids
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if ids.len() > SHOWN {
        out.push_str(&format!(" and {} more", ids.len() - SHOWN));
    }
    out
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
