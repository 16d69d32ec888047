//! After the load: re-read every registration written during the run and compare it with its
//! last acknowledged write (no lost updates), remove the run's own custom attribute, and, against
//! a simulator, run its invariant check.
//!
//! Each registration had a single writer (see [`crate::load::feed`]), so its last acknowledged
//! write is known exactly and the state read back must show it. A re-read that fails (no answer,
//! 429, 5xx) is tried again a few times; one that still fails is "could not check", which fails
//! the verdict for that reason and is never counted as a lost write. Findings are data; they go
//! into the verdict and the reports, never to the terminal from here.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use tokio::sync::Semaphore;

use super::attack::Attacked;
use super::prepare::Prepared;
use super::{LoadConfig, Reached};
use crate::api::Operation;
use crate::api::client::{AppCode, Call, Client, ClientError, Response};
use crate::api::field;
use crate::interrupt;
use crate::load::feed::{ADMIN_INVARIANTS, Feed, FeedEntry};
use crate::load::result::{InvariantOutcome, InvariantStatus};
use crate::load::tally::Expected;
use crate::load::transactions::SEQ_ATTRIBUTE_PREFIX;

/// Name of the lost-update invariant in reports.
pub const NO_LOST_UPDATES: &str = "no acknowledged write lost";
/// Prefix of the simulator's invariants in reports.
pub const SIMULATOR_PREFIX: &str = "simulator invariants";
/// Findings kept per invariant.
const MAX_FINDINGS: usize = 25;
/// Re-reads in flight at once.
const CONCURRENCY: usize = 32;
/// Tries of one re-read before it is "could not check".
const TRIES: u32 = 3;
/// Wait before the second try; doubled for each later one.
const BACKOFF: Duration = Duration::from_millis(200);

/// How the checks after the load reach the target: the API client every runner shares
/// ([`crate::api::client`]), paced for a rate-capped target (cheap to clone).
#[derive(Debug, Clone)]
pub struct Reader {
    pub client: Client,
    /// Spaces requests out, for a rate-capped live target.
    pub pace: Option<Duration>,
}

/// What one request after the load got: the body of a 2xx, or why there is none.
enum Read {
    Body(Value),
    Failed(String),
}

impl Reader {
    /// `op` on `entry` (with `body`), under the entry's own app code.
    async fn send(
        &self,
        op: Operation,
        entry: &FeedEntry,
        body: Option<&Value>,
    ) -> Result<Response, ClientError> {
        let mut call = Call::new(op, &*entry.registration_id).app_code(AppCode::With(
            entry.app_code.to_str().unwrap_or_default().to_owned(),
        ));
        if let Some(body) = body {
            call = call.json(body.clone());
        }
        self.client.send(&call).await
    }

    /// GET of `entry`, tried again on no answer, 429 or 5xx.
    async fn get(&self, entry: &FeedEntry) -> Read {
        let mut why = String::new();
        for attempt in 0..TRIES {
            if attempt > 0 {
                tokio::time::sleep(BACKOFF * 2u32.pow(attempt - 1)).await;
            }
            match self.send(Operation::Get, entry, None).await {
                Err(e) => why = format!("no answer ({})", no_answer_kind(&e)),
                Ok(r) if (200..300).contains(&r.status) => {
                    return match serde_json::from_slice::<Value>(&r.body) {
                        Ok(body) => Read::Body(body),
                        Err(e) => Read::Failed(format!("the body is not JSON: {e}")),
                    };
                }
                Ok(r) if r.status == 429 || r.status >= 500 => {
                    why = format!("HTTP {}", r.status);
                }
                Ok(r) => return Read::Failed(format!("HTTP {}", r.status)),
            }
        }
        Read::Failed(format!("{why} after {TRIES} tries"))
    }

    /// PATCH of `entry` with `body`; true on a 2xx.
    async fn patch(&self, entry: &FeedEntry, body: &Value) -> bool {
        self.send(Operation::Patch, entry, Some(body))
            .await
            .is_ok_and(|r| (200..300).contains(&r.status))
    }
}

/// The kind of a failed exchange, in the words of the load's tallies.
fn no_answer_kind(e: &ClientError) -> &'static str {
    match e {
        ClientError::Timeout { .. } => "timeout",
        ClientError::Connect { .. } => "connect",
        ClientError::Transport { .. } | ClientError::Setup(_) => "transport",
    }
}

/// Runs `work` over the written registrations, a few at a time, paced as the reader says.
async fn each_written<T, F, Fut>(
    reader: &Reader,
    feed: &Feed,
    positions: &[usize],
    work: F,
) -> Vec<(usize, T)>
where
    T: Send + 'static,
    F: Fn(FeedEntry) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    let semaphore = Arc::new(Semaphore::new(CONCURRENCY));
    let mut tasks = tokio::task::JoinSet::new();
    for at in positions {
        let permit = Arc::clone(&semaphore).acquire_owned().await;
        if let Some(pace) = reader.pace {
            tokio::time::sleep(pace).await;
        }
        let job = work(feed.entries[*at].clone());
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

/// Re-reads every registration of `ledger` and compares it with what was acknowledged.
pub async fn lost_updates(
    reader: &Reader,
    feed: &Feed,
    ledger: &HashMap<usize, Expected>,
    attribute: &str,
) -> InvariantOutcome {
    let mut positions: Vec<usize> = ledger.keys().copied().collect();
    positions.sort_unstable();
    let reads = each_written(reader, feed, &positions, |entry| {
        let reader = reader.clone();
        async move { (entry.registration_id.clone(), reader.get(&entry).await) }
    })
    .await;
    let mut lost = Vec::new();
    let mut unchecked = Vec::new();
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
                if let Some(f) = compare(&ledger[&at], &body, attribute) {
                    lost.push(format!("registration {id}: {f}"));
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
    InvariantOutcome {
        name: NO_LOST_UPDATES.to_owned(),
        status,
        passed: status == InvariantStatus::Passed,
        checked: positions.len() - unchecked_n,
        failed: lost_n,
        unchecked: unchecked_n,
        findings,
        reason: (unchecked_n > 0).then(|| {
            format!("{unchecked_n} registration(s) could not be re-read after {TRIES} tries")
        }),
    }
}

/// What differs between the expected state and a registration read back. `isPrimary` is
/// compared only where no other pushcheck run wrote the device too (its attribute is there):
/// another writer's depersonalize legitimately changes it.
fn compare(expected: &Expected, body: &Value, attribute: &str) -> Option<String> {
    let mut wrong = Vec::new();
    if let Some(seq) = expected.seq {
        let got = body
            .get(field::ADDITIONAL_DATA)
            .and_then(|d| d.get(attribute));
        // Sequence numbers grow per writer: a newer value is a later write that was applied
        // without an answer, not a lost one.
        if got.and_then(Value::as_u64).is_none_or(|g| g < seq) {
            wrong.push(format!(
                "PATCH of {}.{attribute} = {seq} was acknowledged, read back {}",
                field::ADDITIONAL_DATA,
                got.map_or_else(|| "nothing".to_owned(), Value::to_string)
            ));
        }
    }
    // Another pushcheck run's attribute on the device: that run may have personalized or
    // depersonalized it after this run's last write, so isPrimary says nothing of this run.
    let shared = body
        .get(field::ADDITIONAL_DATA)
        .and_then(Value::as_object)
        .is_some_and(|d| {
            d.keys()
                .any(|k| k.starts_with(SEQ_ATTRIBUTE_PREFIX) && k != attribute)
        });
    if let Some(primary) = expected.primary.filter(|_| !expected.unsure && !shared) {
        let got = body.get(field::IS_PRIMARY).and_then(Value::as_bool);
        if got != Some(primary) {
            wrong.push(format!(
                "personalize with setDeviceAsPrimary was acknowledged last, isPrimary reads {}",
                got.map_or_else(|| "nothing".to_owned(), |b| b.to_string())
            ));
        }
    }
    (!wrong.is_empty()).then(|| wrong.join("; "))
}

/// Removes the run's custom attribute from every registration a PATCH may have written, by
/// sending it as `null` (how the vendor's SDKs delete one; the docs promise nothing), then reads
/// back whether it is gone. Returns a note for the report.
pub async fn remove_attribute(
    reader: &Reader,
    feed: &Feed,
    ledger: &HashMap<usize, Expected>,
    attribute: &str,
) -> String {
    let mut positions: Vec<usize> = ledger
        .iter()
        .filter(|(_, e)| e.seq.is_some() || e.unsure)
        .map(|(at, _)| *at)
        .collect();
    positions.sort_unstable();
    if positions.is_empty() {
        return format!("the run's attribute {attribute} was written to no device");
    }
    let results = each_written(reader, feed, &positions, |entry| {
        let reader = reader.clone();
        let attribute = attribute.to_owned();
        async move {
            let body = serde_json::json!({ field::ADDITIONAL_DATA: { attribute.as_str(): null } });
            if !reader.patch(&entry, &body).await {
                return Removal::Refused;
            }
            match reader.get(&entry).await {
                Read::Body(b)
                    if b.pointer(&format!("/{}/{attribute}", field::ADDITIONAL_DATA))
                        .is_none() =>
                {
                    Removal::Gone
                }
                Read::Body(_) => Removal::Remains,
                Read::Failed(_) => Removal::Unknown,
            }
        }
    })
    .await;
    let mut counts: BTreeMap<Removal, usize> = BTreeMap::new();
    for (_, r) in results {
        *counts.entry(r).or_default() += 1;
    }
    let n = |r| counts.get(&r).copied().unwrap_or(0);
    let mut note = format!(
        "removed the run's attribute {attribute} (sent as null) from {} of {} device(s)",
        n(Removal::Gone),
        positions.len()
    );
    if n(Removal::Remains) > 0 {
        note.push_str(&format!(
            "; {} still carry it (the target keeps attributes sent as null)",
            n(Removal::Remains)
        ));
    }
    if n(Removal::Refused) + n(Removal::Unknown) > 0 {
        note.push_str(&format!(
            "; {} could not be cleaned or read back",
            n(Removal::Refused) + n(Removal::Unknown)
        ));
    }
    note
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Removal {
    Gone,
    Remains,
    Refused,
    Unknown,
}

/// Calls the simulator's invariant check; one outcome per broken rule, plus the overall one.
/// A check that cannot run is "could not check", which fails the verdict.
pub async fn simulator_invariants(
    client: &reqwest::Client,
    base_url: &str,
) -> Vec<InvariantOutcome> {
    #[derive(Deserialize)]
    struct Body {
        registrations: usize,
        violations: Vec<Found>,
    }
    #[derive(Deserialize)]
    struct Found {
        rule: String,
        detail: String,
    }
    let url = format!("{base_url}{ADMIN_INVARIANTS}");
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
    let body: Body = match client.get(&url).send().await {
        Err(e) => return could_not(format!("cannot call {url}: {e}")),
        Ok(r) if !r.status().is_success() => {
            return could_not(format!("{url} answered HTTP {}", r.status()));
        }
        Ok(r) => match r.json().await {
            Ok(b) => b,
            Err(e) => return could_not(format!("{url}: unexpected body: {e}")),
        },
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

/// What the checks after the load found, and the notes they leave.
#[derive(Debug)]
pub struct AfterLoad {
    pub invariants: Vec<InvariantOutcome>,
    pub notes: Vec<String>,
}

/// The re-reads, the removal of the run's attribute and the simulator's invariants; none of it
/// after an interruption (the removal still runs, unless a second stop signal comes).
pub async fn check(
    config: &LoadConfig,
    at: &Reached,
    prepared: &Prepared,
    attacked: &Attacked,
    interrupts_before: u32,
) -> AfterLoad {
    let plan = &config.plan;
    let run = &attacked.run;
    let mut invariants = Vec::new();
    let mut notes = Vec::new();
    let reader = Reader {
        client: prepared.api.clone(),
        pace: prepared
            .per_op_cap
            .map(|c| Duration::from_secs_f64(1.0 / f64::from(c.max(1)))),
    };
    let ledger = &attacked.collected.ledger;
    let skip = "the run was interrupted";
    if attacked.interrupted || attacked.never_answered {
        let why = if attacked.interrupted {
            skip
        } else {
            "the target never answered"
        };
        if plan.mix.writes() {
            invariants.push(InvariantOutcome::not_run(NO_LOST_UPDATES, why));
        }
        if at.simulator_invariants() {
            invariants.push(InvariantOutcome::not_run(SIMULATOR_PREFIX, why));
        }
    } else {
        let checks = async {
            if plan.mix.writes() {
                invariants.push(lost_updates(&reader, &run.feed, ledger, &run.attribute).await);
            }
            if at.simulator_invariants() {
                invariants
                    .extend(simulator_invariants(&prepared.client, &at.target.base_url).await);
            }
        };
        tokio::select! {
            () = checks => {}
            () = interrupt::at_least(interrupts_before + 1) => {
                notes.push("a stop signal during the checks after the load: they did not finish".to_owned());
            }
        }
    }
    if plan.mix.weight(Operation::Patch) > 0 && !ledger.is_empty() {
        tokio::select! {
            note = remove_attribute(&reader, &run.feed, ledger, &run.attribute) => notes.push(note),
            () = interrupt::at_least(interrupts_before + 2) => notes.push(format!(
                "a second stop signal: the run's attribute {} was not removed from the devices it wrote",
                run.attribute
            )),
        }
    }
    AfterLoad { invariants, notes }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_stale_sequence_number_is_a_lost_update() {
        let e = Expected {
            seq: Some(7),
            primary: Some(true),
            last: Some(Operation::Patch),
            unsure: false,
            writer: Some(0),
            shared: false,
        };
        let attr = "pushcheckLoadSeq_t";
        assert_eq!(
            compare(
                &e,
                &json!({"isPrimary": true, "additionalData": {attr: 7}}),
                attr
            ),
            None
        );
        let f = compare(
            &e,
            &json!({"isPrimary": false, "additionalData": {attr: 6}}),
            attr,
        )
        .unwrap();
        assert!(f.contains("= 7 was acknowledged, read back 6"), "{f}");
        assert!(f.contains("isPrimary reads false"), "{f}");
        // Another run on the same device: isPrimary is not this run's to judge.
        assert_eq!(
            compare(
                &e,
                &json!({"isPrimary": false, "additionalData": {attr: 7, "pushcheckLoadSeq_u": 3}}),
                attr
            ),
            None
        );
        // Another run's attribute is not this run's write.
        assert!(
            compare(
                &e,
                &json!({"isPrimary": true, "additionalData": {"pushcheckLoadSeq_u": 7}}),
                attr
            )
            .is_some()
        );
    }
}
