//! Leave a live account's devices as the load found them: what each device the load may write
//! looked like before the attack ([`find`]), and putting it back after the checks
//! ([`put_back`]). A *live* run is one whose feed is not a simulator's listing (`--feed FILE`,
//! or `check`'s `--registration-id` devices); a simulator's devices are not put back (see
//! [`super::after::check`]).
//!
//! **Before the attack** ([`find`]), for a mix that writes, every device of the feed (each one
//! may be written: the partitions cover the feed) is read once through the API client, paced
//! under the run's rate cap, at most [`MAX_LIVE_DEVICES`] devices and within a time bound:
//! its `isPrimary` and its value of [`LOAD_ATTRIBUTE`] are kept. A device the target refuses to
//! read (a 4xx: an unknown registration, a key without the scope) is a usage error; one whose
//! read is answered as no correct server does (a 2xx whose body is not a registration — empty,
//! not UTF-8, not JSON) is a server finding (exit 1, nothing written); one that gets no answer
//! or a 5xx after three tries stops a run that personalizes (exit 3: its `isPrimary` could not
//! be put back) and is a note otherwise (the load's own checks then judge the 5xx).
//!
//! When the mix personalizes or depersonalizes, each device read is then **probed**: a
//! personalize to the device's own load person (`externalId` `pushcheck-load-<registration
//! ID>`) *without* `forceDepersonalize`. 200: it belonged to nobody (or to that load person
//! from an earlier run): the load may bind it, and unbinds it at the end. Refused
//! (`PERSONALIZATION_IMPOSSIBLE`, or another 4xx): it belongs to someone; the load never
//! personalizes or depersonalizes it (it stays in the feed for GET and PATCH) and the report
//! names it. No device left for person operations is a usage error (exit 2): give devices of
//! nobody, or a mix without personalize and depersonalize. During the attack a live run's
//! personalize goes without `forceDepersonalize` ([`super::feed::FeedEntry::for_live`]), so it
//! can never move a device away from a person.
//!
//! **After the checks** ([`put_back`]), for each device the run wrote, bound or found with the
//! load's attribute:
//! 1. a device the load may have bound: personalize to its load person again without force (a
//!    person who took the device during the run keeps it: refused, named in a note), then
//!    depersonalize;
//! 2. read it; if [`LOAD_ATTRIBUTE`] is there, send it as `null` and read back: the answer is
//!    classified by [`NullAnswer::classify`] (deleted; refused or stored: a target choice;
//!    ignored or broken: a server fault). A target that stores the null gets the attribute's
//!    last value written back: null is no documented value type, and every later GET of the
//!    device would break the schema;
//! 3. on a device the load may have bound, `PATCH isPrimary` back to the value found, and read
//!    back (a 4xx: a target choice, the docs do not say whether an unowned device may be
//!    primary; a 5xx, no answer, or 200 and not applied: a server fault).
//!
//! What is not as found is a [`Leftover`], one per device and cause. The attribute left behind
//! is always the one fixed name, so runs on a target that cannot delete it leave no more than
//! that name however many they are. The restore's requests are paced and bounded in time; a
//! second Ctrl-C (counted from the run's start) skips what is left (`not restored`).
//!
//! The load persons stay on the account without devices: the API has no call that deletes a
//! person.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use super::LoadError;
use super::feed::{Feed, FeedEntry};
use super::reader::{CONCURRENCY, Exchange, Read, Reader, TRIES, each_written, list};
use super::scenario::LoadPlan;
use super::tally::Expected;
use super::transactions::load_external_id;
use crate::api::client::Call;
use crate::api::footprint::{Cause, LOAD_ATTRIBUTE, Leftover, NullAnswer};
use crate::api::{Operation, field, message_id};
use crate::interrupt;
use crate::load::result::ExcludedDevice;

/// At most this many devices in the feed of a live run that writes: each is read before the
/// run, probed when it personalizes, and put back after it, all under the rate cap (1000
/// devices at the documented 50 requests/s: about 20 s of reads before the attack).
pub const MAX_LIVE_DEVICES: usize = 1000;
/// Slack on top of every phase's time bound.
const SLACK: Duration = Duration::from_secs(10);

/// Whether the load may bind a device to a person, as the probe found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Person {
    /// The mix has no person operation: never probed, never bound.
    Untouched,
    /// It belonged to nobody (or to its load person): the load may bind it and unbinds it.
    Ours,
    /// It belonged to someone else: never personalized or depersonalized by the load.
    Foreign,
    /// The probe did not tell (no answer, interrupted): the restore checks before it unbinds.
    Unknown,
}

/// One device as the run found it.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// `isPrimary` before the run (`None`: the body had none).
    pub is_primary: Option<bool>,
    /// The value of [`LOAD_ATTRIBUTE`] before the run (`None`: absent), left by an earlier run
    /// on a target that cannot delete it.
    pub attribute: Option<Value>,
    pub person: Person,
}

/// What [`find`] learned: the devices of a live run as found, and those excluded from person
/// operations.
#[derive(Debug, Default)]
pub struct Before {
    /// The run is live: [`put_back`] runs after it.
    live: bool,
    /// Only unbind what the probe may have bound (the run stopped before its load).
    undo_only: bool,
    /// Feed position → the device as found.
    pub found: BTreeMap<usize, Found>,
    /// Devices that could not be read (a run without person operations goes on without them).
    pub unread: BTreeMap<usize, String>,
    /// Devices bound to someone before the run: kept out of personalize and depersonalize.
    pub excluded: Vec<ExcludedDevice>,
    pub notes: Vec<String>,
}

impl Before {
    /// True for a live run (its devices are put back).
    pub fn is_live(&self) -> bool {
        self.live
    }

    /// What a run that stops before its load puts back: the bindings its probe may have made
    /// (and the isPrimary those changed), nothing else.
    pub fn probed_only(&self) -> Before {
        Before {
            live: self.live,
            undo_only: true,
            found: self
                .found
                .iter()
                .filter(|(_, f)| matches!(f.person, Person::Ours | Person::Unknown))
                .map(|(at, f)| (*at, f.clone()))
                .collect(),
            ..Before::default()
        }
    }

    /// The value of [`LOAD_ATTRIBUTE`] the device at `pos` had before the run (`Some(None)`:
    /// none), or `None` where it was not read.
    pub fn value_found(&self, pos: usize) -> Option<Option<Value>> {
        self.found.get(&pos).map(|f| f.attribute.clone())
    }
}

/// A time bound for `requests` requests per device over `devices` devices: the pacing of them
/// all, plus every try timing out in each round of [`CONCURRENCY`] devices.
fn bound(reader: &Reader, devices: usize, requests: u32) -> Duration {
    let paced = reader.pace.unwrap_or_default() * (devices as u32).saturating_mul(requests);
    let rounds = devices.div_ceil(CONCURRENCY).max(1) as u32;
    let one = reader.client.config().timeout * TRIES + Duration::from_secs(1);
    paced + one * requests * rounds + SLACK
}

/// Reads (and, for a mix with person operations, probes) every device a live run may write,
/// and prepares the feed for a live run (personalize without `forceDepersonalize`; devices of
/// someone else out of person operations). On a simulator's feed, or a mix that only reads,
/// nothing is sent. The error says why the run cannot start; [`put_back`] must still run over
/// the `Before` returned with it (a probe may have bound devices).
pub async fn find(
    reader: &Reader,
    feed: &mut Feed,
    plan: &LoadPlan,
    live: bool,
    interrupts_before: u32,
) -> (Before, Option<LoadError>) {
    let mut before = Before {
        live,
        ..Before::default()
    };
    if !live {
        return (before, None);
    }
    for entry in &mut feed.entries {
        *entry = entry.clone().for_live();
    }
    if !plan.mix.writes() {
        return (before, None);
    }
    if feed.len() > MAX_LIVE_DEVICES {
        return (
            before,
            Some(LoadError::Config(format!(
                "the feed lists {} devices; a live load that writes reads and puts back every \
                 device, at most {MAX_LIVE_DEVICES}: give a shorter feed (or a mix that only \
                 reads)",
                feed.len()
            ))),
        );
    }
    if let Err(e) = read_all(reader, feed, &mut before, plan, interrupts_before).await {
        return (before, Some(e));
    }
    if plan.mix.person_writes()
        && let Err(e) = probe_all(reader, feed, &mut before, interrupts_before).await
    {
        return (before, Some(e));
    }
    (before, None)
}

/// The value of [`LOAD_ATTRIBUTE`] in a registration body.
fn attribute_of(body: &Value) -> Option<&Value> {
    body.get(field::ADDITIONAL_DATA)
        .and_then(|d| d.get(LOAD_ATTRIBUTE))
}

/// Step one of [`find`]: one GET of every device.
async fn read_all(
    reader: &Reader,
    feed: &Feed,
    before: &mut Before,
    plan: &LoadPlan,
    interrupts_before: u32,
) -> Result<(), LoadError> {
    let positions: Vec<usize> = (0..feed.len()).collect();
    let limit = bound(reader, positions.len(), 1);
    let reads = each_written(feed, &positions, |_, entry| {
        let reader = reader.clone();
        async move {
            let id = entry.registration_id.to_string();
            reader
                .exchange(&entry, || Call::new(Operation::Get, id.clone()))
                .await
        }
    });
    let reads = tokio::select! {
        reads = tokio::time::timeout(limit, reads) => reads.map_err(|_| LoadError::Devices(format!(
            "reading the {} device(s) of the feed before the load took longer than {limit:?}",
            positions.len()
        )))?,
        () = interrupt::at_least(interrupts_before + 1) => return Err(LoadError::Interrupted),
    };
    let mut refused = Vec::new();
    let mut garbled = Vec::new();
    for (at, read) in reads {
        let id = &feed.entries[at].registration_id;
        match read {
            Exchange::Answered(r) if (200..300).contains(&r.status) => {
                match serde_json::from_slice::<Value>(&r.body) {
                    Ok(body) => {
                        before.found.insert(
                            at,
                            Found {
                                is_primary: body.get(field::IS_PRIMARY).and_then(Value::as_bool),
                                attribute: attribute_of(&body).cloned(),
                                person: Person::Untouched,
                            },
                        );
                    }
                    Err(e) => {
                        garbled.push(format!(
                            "{id}: HTTP {}, a body that is not a registration: {e}",
                            r.status
                        ));
                    }
                }
            }
            Exchange::Answered(r) if r.status != 429 && r.status < 500 => {
                refused.push(format!(
                    "{id}: {}",
                    Exchange::Answered(r.clone()).describe()
                ));
            }
            other => {
                before
                    .unread
                    .insert(at, format!("{} after {TRIES} tries", other.describe()));
            }
        }
    }
    if !garbled.is_empty() {
        return Err(LoadError::Server(format!(
            "{} device(s) of the feed answered a read as no correct server does ({}); nothing \
             was written",
            garbled.len(),
            list(&garbled)
        )));
    }
    if !refused.is_empty() {
        return Err(LoadError::Config(format!(
            "the target refused to read {} device(s) of the feed before the load ({}): a live \
             load reads every device it may write, to put it back; give registrations it knows",
            refused.len(),
            list(&refused)
        )));
    }
    if let Some((at, why)) = before.unread.iter().next() {
        let id = &feed.entries[*at].registration_id;
        let persons = plan.mix.person_writes();
        if persons {
            return Err(LoadError::Devices(format!(
                "cannot read registration {id} before the load ({why}): a load that \
                 personalizes must know each device's isPrimary to put it back"
            )));
        }
        before.notes.push(format!(
            "{} device(s) could not be read before the load (first: {id}, {why}): there the \
             lost-update check cannot tell the value found from a later write",
            before.unread.len()
        ));
    }
    Ok(())
}

/// Step two of [`find`], for a mix with person operations: may the load bind each device?
async fn probe_all(
    reader: &Reader,
    feed: &mut Feed,
    before: &mut Before,
    interrupts_before: u32,
) -> Result<(), LoadError> {
    let positions: Vec<usize> = before.found.keys().copied().collect();
    // Until a probe answers, the device may be bound by it: the restore checks first.
    for f in before.found.values_mut() {
        f.person = Person::Unknown;
    }
    let limit = bound(reader, positions.len(), 1);
    let probes = each_written(feed, &positions, |_, entry| {
        let reader = reader.clone();
        async move {
            let id = entry.registration_id.to_string();
            reader.exchange(&entry, || personalize_call(&id)).await
        }
    });
    let probes = tokio::select! {
        probes = tokio::time::timeout(limit, probes) => probes.map_err(|_| LoadError::Devices(format!(
            "checking which of the {} device(s) belong to nobody took longer than {limit:?}",
            positions.len()
        )))?,
        () = interrupt::at_least(interrupts_before + 1) => return Err(LoadError::Interrupted),
    };
    let mut failed = None;
    for (at, probe) in probes {
        let entry = &mut feed.entries[at];
        let person = match &probe {
            Exchange::Answered(r) if (200..300).contains(&r.status) => Person::Ours,
            Exchange::Answered(r) if r.status != 429 && r.status < 500 => {
                let why =
                    if r.error_code().as_deref() == Some(message_id::PERSONALIZATION_IMPOSSIBLE) {
                        "it belonged to a person before the run"
                    } else {
                        "the target would not bind it to the load's person"
                    };
                before.excluded.push(ExcludedDevice {
                    registration_id: entry.registration_id.to_string(),
                    reason: format!(
                        "{why} (personalize without forceDepersonalize answered {}): the load \
                         neither personalizes nor depersonalizes it",
                        probe.describe()
                    ),
                });
                Person::Foreign
            }
            other => {
                failed.get_or_insert_with(|| {
                    format!(
                        "registration {}: personalize to its load person (to learn whether it \
                         belongs to nobody) got {} after {TRIES} tries",
                        entry.registration_id,
                        other.describe()
                    )
                });
                Person::Unknown
            }
        };
        entry.persons = person == Person::Ours;
        if let Some(f) = before.found.get_mut(&at) {
            f.person = person;
        }
    }
    if let Some(why) = failed {
        return Err(LoadError::Devices(why));
    }
    if !before.found.values().any(|f| f.person == Person::Ours) {
        return Err(LoadError::Config(format!(
            "every device of the feed belongs to a person from before the run ({}): the load \
             personalizes only devices of nobody, so it never moves a device away from its \
             person; give devices that belong to nobody, or a mix without personalize and \
             depersonalize",
            list(
                &before
                    .excluded
                    .iter()
                    .map(|d| d.registration_id.clone())
                    .collect::<Vec<_>>()
            )
        )));
    }
    Ok(())
}

/// A personalize of `id` to its load person, without any flag.
fn personalize_call(id: &str) -> Call {
    Call::new(Operation::Personalize, id.to_owned())
        .json(json!({ field::IDENTITY: { field::EXTERNAL_ID: load_external_id(id) } }))
}

/// What [`put_back`] did.
#[derive(Debug, Default)]
pub struct Restored {
    /// What could not be put back, one per device and cause.
    pub leftovers: Vec<Leftover>,
    pub notes: Vec<String>,
}

/// What happened to one device's load attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attribute {
    /// It was not there.
    Absent,
    /// Sent as null and gone.
    Deleted,
    /// Still there.
    Left,
}

/// One device put back.
#[derive(Debug)]
struct Outcome {
    id: String,
    attribute: Attribute,
    unbound: bool,
    primary_set: bool,
    leftovers: Vec<Leftover>,
    notes: Vec<String>,
}

impl Outcome {
    fn leave(&mut self, item: &str, cause: Cause, reason: String) {
        match self.leftovers.iter_mut().find(|l| l.cause == cause) {
            Some(l) => {
                l.items.push(item.to_owned());
                l.reason = format!("{}; {reason}", l.reason);
            }
            None => self.leftovers.push(Leftover {
                registration_id: self.id.clone(),
                items: vec![item.to_owned()],
                cause,
                reason,
            }),
        }
    }
}

/// Puts back every device a live run wrote, may have bound, or found with the load's
/// attribute (see the module's documentation); `stop_at`: the Ctrl-C count that skips the rest.
pub async fn put_back(
    reader: &Reader,
    feed: &Feed,
    before: &Before,
    ledger: &HashMap<usize, Expected>,
    stop_at: u32,
) -> Restored {
    let mut out = Restored::default();
    if !before.live {
        return out;
    }
    let positions: Vec<usize> = (0..feed.len())
        .filter(|p| match before.found.get(p) {
            Some(f) => {
                ledger.contains_key(p)
                    || matches!(f.person, Person::Ours | Person::Unknown)
                    || f.attribute.is_some()
            }
            None => ledger.contains_key(p),
        })
        .collect();
    if positions.is_empty() {
        return out;
    }
    let done: Arc<Mutex<Vec<(usize, Outcome)>>> = Arc::default();
    let limit = bound(reader, positions.len(), 7);
    let work = each_written(feed, &positions, |at, entry| {
        let reader = reader.clone();
        let found = before.found.get(&at).cloned();
        let done = Arc::clone(&done);
        let attribute = !before.undo_only;
        async move {
            let outcome = restore_one(&reader, &entry, found.as_ref(), attribute).await;
            done.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((at, outcome));
        }
    });
    let stopped = tokio::select! {
        r = tokio::time::timeout(limit, work) => r.err().map(|_| (
            Cause::ServerFault,
            format!("the restore did not finish within {limit:?}"),
        )),
        () = interrupt::at_least(stop_at) => Some((
            Cause::NotRestored,
            "Ctrl-C again: the restore was skipped".to_owned(),
        )),
    };
    let mut outcomes = std::mem::take(&mut *done.lock().unwrap_or_else(|p| p.into_inner()));
    outcomes.sort_by_key(|(at, _)| *at);
    if let Some((cause, reason)) = stopped {
        for at in positions
            .iter()
            .filter(|p| outcomes.iter().all(|(o, _)| o != *p))
        {
            let mut items = Vec::new();
            if ledger.get(at).is_some_and(|e| e.seq.is_some() || e.unsure)
                || before.found.get(at).is_some_and(|f| f.attribute.is_some())
            {
                items.push(LOAD_ATTRIBUTE.to_owned());
            }
            if before
                .found
                .get(at)
                .is_some_and(|f| matches!(f.person, Person::Ours | Person::Unknown))
            {
                items.push(format!(
                    "bound to the load's person {}",
                    load_external_id(&feed.entries[*at].registration_id)
                ));
                items.push(field::IS_PRIMARY.to_owned());
            }
            if items.is_empty() {
                items.push("what the load changed".to_owned());
            }
            out.leftovers.push(Leftover {
                registration_id: feed.entries[*at].registration_id.to_string(),
                items,
                cause,
                reason: reason.clone(),
            });
        }
    }
    let count = |f: &dyn Fn(&Outcome) -> bool| outcomes.iter().filter(|(_, o)| f(o)).count();
    let deleted = count(&|o| o.attribute == Attribute::Deleted);
    let carried = deleted + count(&|o| o.attribute == Attribute::Left);
    if carried > 0 {
        out.notes.push(format!(
            "removed the run's attribute {LOAD_ATTRIBUTE} (sent as null) from {deleted} of \
             {carried} device(s)"
        ));
    }
    let unbound = count(&|o| o.unbound);
    let primary = count(&|o| o.primary_set);
    if unbound + primary > 0 {
        out.notes.push(format!(
            "put back: {unbound} device(s) unbound from the load's persons, isPrimary set back \
             on {primary}"
        ));
    }
    for (_, o) in outcomes {
        out.leftovers.extend(o.leftovers);
        out.notes.extend(o.notes);
    }
    out.leftovers
        .sort_by(|a, b| a.registration_id.cmp(&b.registration_id));
    out
}

/// Puts back one device (steps 1–3 of the module's documentation; step 2 only with
/// `attribute`).
async fn restore_one(
    reader: &Reader,
    entry: &FeedEntry,
    found: Option<&Found>,
    attribute: bool,
) -> Outcome {
    let id = entry.registration_id.to_string();
    let mut out = Outcome {
        id: id.clone(),
        attribute: Attribute::Absent,
        unbound: false,
        primary_set: false,
        leftovers: Vec::new(),
        notes: Vec::new(),
    };
    let ours = found.is_some_and(|f| matches!(f.person, Person::Ours | Person::Unknown));
    if ours {
        unbind(reader, entry, &mut out).await;
    }
    let mut now = match reader.get(entry).await {
        Read::Body(b) => b,
        Read::Failed(why) => {
            out.leave(
                "its state after the load",
                Cause::ServerFault,
                format!("it could not be read back after the load: {why}"),
            );
            return out;
        }
    };
    if attribute && let Some(prior) = attribute_of(&now).cloned() {
        let null = json!({ field::ADDITIONAL_DATA: { LOAD_ATTRIBUTE: null } });
        let patch = reader
            .exchange(entry, || {
                Call::new(Operation::Patch, id.clone()).json(null.clone())
            })
            .await;
        let answer = match patch.status().filter(|s| *s != 429 && *s < 500) {
            Some(s) if (200..300).contains(&s) => match reader.get(entry).await {
                Read::Body(b) => {
                    let answer = NullAnswer::classify(Some(s), attribute_of(&b));
                    now = b;
                    answer
                }
                Read::Failed(_) => NullAnswer::Broken,
            },
            status => NullAnswer::classify(status, None),
        };
        if answer == NullAnswer::Deletes {
            out.attribute = Attribute::Deleted;
        } else {
            out.attribute = Attribute::Left;
            let mut reason = format!("{} ({})", answer.describe(), patch.describe());
            if answer == NullAnswer::Stored && !prior.is_null() {
                // A stored null is no documented value type: every later GET of the device
                // would break the schema (the app's reads and the next run's alike). The value
                // it had is written back instead.
                let back = json!({ field::ADDITIONAL_DATA: { LOAD_ATTRIBUTE: prior } });
                let written = reader
                    .exchange(entry, || {
                        Call::new(Operation::Patch, id.clone()).json(back.clone())
                    })
                    .await;
                reason.push_str(if written.ok() {
                    "; its last value was written back, since null is no documented value"
                } else {
                    "; it reads null, which is no documented value"
                });
            }
            out.leave(LOAD_ATTRIBUTE, answer.cause(), reason);
        }
    }
    let was = found.and_then(|f| f.is_primary);
    let is = now.get(field::IS_PRIMARY).and_then(Value::as_bool);
    match was {
        Some(was) if is != Some(was) && ours => set_primary(reader, entry, was, is, &mut out).await,
        Some(was) if is != Some(was) => out.notes.push(format!(
            "isPrimary of registration {id} changed during the run ({was} before, {} now), \
             though the load neither bound it nor wrote isPrimary: left as it is",
            shown(is)
        )),
        _ => {}
    }
    out
}

/// `true`, `false` or `nothing`.
fn shown(value: Option<bool>) -> String {
    value.map_or_else(|| "nothing".to_owned(), |b| b.to_string())
}

/// Step 1: unbinds a device the load may have bound, after checking that it is not someone
/// else's now.
async fn unbind(reader: &Reader, entry: &FeedEntry, out: &mut Outcome) {
    let id = entry.registration_id.to_string();
    let person = load_external_id(&id);
    let item = format!("bound to the load's person {person}");
    let check = reader.exchange(entry, || personalize_call(&id)).await;
    match &check {
        c if c.ok() => {
            let gone = reader
                .exchange(entry, || Call::new(Operation::Depersonalize, id.clone()))
                .await;
            if gone.ok() {
                out.unbound = true;
            } else {
                out.leave(
                    &item,
                    Cause::ServerFault,
                    format!("depersonalize got {}", gone.describe()),
                );
            }
        }
        Exchange::Answered(r)
            if r.error_code().as_deref() == Some(message_id::PERSONALIZATION_IMPOSSIBLE) =>
        {
            out.notes.push(format!(
                "registration {id} belongs to another person now (bound to it while the load \
                 ran): left to that person"
            ));
        }
        other => out.leave(
            &item,
            Cause::ServerFault,
            format!(
                "personalize to its load person (to make sure it is nobody else's before \
                 unbinding it) got {}",
                other.describe()
            ),
        ),
    }
}

/// Step 3: `isPrimary` back to `was`, read back.
async fn set_primary(
    reader: &Reader,
    entry: &FeedEntry,
    was: bool,
    is: Option<bool>,
    out: &mut Outcome,
) {
    let id = entry.registration_id.to_string();
    let patch = reader
        .exchange(entry, || {
            Call::new(Operation::Patch, id.clone()).json(json!({ field::IS_PRIMARY: was }))
        })
        .await;
    let first = format!("{was} before the run, {} after it", shown(is));
    match patch.status() {
        Some(s) if (200..300).contains(&s) => match reader.get(entry).await {
            Read::Body(b) => {
                let now = b.get(field::IS_PRIMARY).and_then(Value::as_bool);
                if now == Some(was) {
                    out.primary_set = true;
                } else {
                    out.leave(
                        field::IS_PRIMARY,
                        Cause::ServerFault,
                        format!(
                            "{first}: PATCH isPrimary={was} answered HTTP {s} and it reads {} \
                             (a write acknowledged and not applied)",
                            shown(now)
                        ),
                    );
                }
            }
            Read::Failed(why) => out.leave(
                field::IS_PRIMARY,
                Cause::ServerFault,
                format!("{first}: PATCH isPrimary={was} answered HTTP {s}; reading it back: {why}"),
            ),
        },
        Some(s) if s != 429 && s < 500 => out.leave(
            field::IS_PRIMARY,
            Cause::TargetChoice,
            format!(
                "{first}: the target refuses isPrimary={was} on a device of nobody ({}; the docs \
                 do not say whether an unowned device may be set primary)",
                patch.describe()
            ),
        ),
        _ => out.leave(
            field::IS_PRIMARY,
            Cause::ServerFault,
            format!("{first}: PATCH isPrimary={was} got {}", patch.describe()),
        ),
    }
}
