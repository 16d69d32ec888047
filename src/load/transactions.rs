//! The goose transactions, one documented `async fn` per operation, and the state they share.
//!
//! Each transaction picks a registration from the feed, sends one request named by operation
//! (`GET registration`, never one row per ID), validates a sampled share of responses against
//! `schemas/`, records a violation as a goose failure with a message, and, for writes, remembers
//! the last acknowledged write of the registration. Reads go anywhere in the feed; writes only to
//! the user's own partition (see [`crate::load::feed`]), so every registration has one writer.
//!
//! Per-user tallies live in one padded slot per user, so users never contend for a lock or a
//! cache line; they are summed once when the run ends (and once a second for the progress line).
//! Nothing here prints.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use goose::goose::{GooseMethod, GooseRequest, GooseResponse, GooseUser, TransactionError};
use goose::prelude::TransactionResult;
use reqwest::Url;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde_json::Value;

use crate::api::{APP_CODE_HEADER, Operation};
use crate::load::feed::{Feed, FeedEntry};
use crate::schema::{self, Mode};

/// The custom attribute each PATCH writes: the writer's sequence number, read back after the run.
pub const SEQ_ATTRIBUTE: &str = "pushcheckLoadSeq";
/// Prefix of the `externalId` personalize uses; one person per registration, so that
/// `setDeviceAsPrimary` never touches another writer's device.
pub const EXTERNAL_ID_PREFIX: &str = "pushcheck-load-";
/// Distinct violation messages kept per operation and user.
const MAX_SAMPLES: usize = 8;

/// The goose request name of `op`: its label without the method, since goose prefixes the
/// method itself, so goose's row for `op` is exactly [`Operation::label`].
pub fn request_name(op: Operation) -> &'static str {
    let label = op.label();
    label
        .strip_prefix(op.method())
        .map_or(label, str::trim_start)
}

/// What a registration should read like after the run, from its last acknowledged writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Expected {
    /// `additionalData.pushcheckLoadSeq` of the last acknowledged PATCH.
    pub seq: Option<u64>,
    /// `isPrimary` after a personalize with `setDeviceAsPrimary=true` (documented \[spec\]);
    /// `None` after a depersonalize, whose effect on `isPrimary` the docs do not give.
    pub primary: Option<bool>,
    /// The operation of the last acknowledged write.
    pub last: Option<Operation>,
    /// A write after the last acknowledged one got no 2xx answer (a timeout, an error): the
    /// server may or may not have applied it, so only "not older than acknowledged" is checked.
    pub unsure: bool,
}

/// Schema checks of one operation, summed over users.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    pub validated: u64,
    pub violations: u64,
    /// Violation message → count (a few distinct messages per user).
    pub samples: HashMap<String, u64>,
}

impl Tally {
    fn add(&mut self, other: &Tally) {
        self.validated += other.validated;
        self.violations += other.violations;
        for (m, c) in &other.samples {
            *self.samples.entry(m.clone()).or_default() += c;
        }
    }
}

/// Live figures for the progress line.
#[derive(Debug, Clone)]
pub struct Live {
    pub requests: u64,
    pub errors: u64,
    /// Log-scaled latency buckets: index = 4·log2(µs).
    pub buckets: [u64; 128],
}

impl Default for Live {
    fn default() -> Live {
        Live {
            requests: 0,
            errors: 0,
            buckets: [0; 128],
        }
    }
}

impl Live {
    fn record(&mut self, micros: u64, failed: bool) {
        self.requests += 1;
        self.errors += u64::from(failed);
        let index = ((micros.max(1) as f64).log2() * 4.0) as usize;
        self.buckets[index.min(127)] += 1;
    }

    /// Adds another user's figures.
    pub fn add(&mut self, other: &Live) {
        self.requests += other.requests;
        self.errors += other.errors;
        for (a, b) in self.buckets.iter_mut().zip(other.buckets.iter()) {
            *a += b;
        }
    }

    /// The approximate `q` quantile, in milliseconds.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        let total: u64 = self.buckets.iter().sum();
        if total == 0 {
            return 0.0;
        }
        let target = (total as f64 * q).ceil() as u64;
        let mut seen = 0;
        for (i, count) in self.buckets.iter().enumerate() {
            seen += count;
            if seen >= target {
                return 2f64.powf((i + 1) as f64 / 4.0) / 1000.0;
            }
        }
        0.0
    }
}

/// One user's tallies and acknowledged writes.
#[derive(Debug, Default)]
struct SlotData {
    tallies: [Tally; 4],
    /// Feed position → what it should read like.
    ledger: HashMap<usize, Expected>,
    live: Live,
}

/// One user's slot, padded to its own cache lines.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Slot(Mutex<SlotData>);

/// Everything the transactions of one run share. Built once per run.
#[derive(Debug)]
pub struct Run {
    pub(crate) feed: Feed,
    /// The target's URLs of every feed entry, joined once; see [`Urls`].
    urls: Option<Urls>,
    users: usize,
    authorization: HeaderValue,
    json: HeaderValue,
    sample_rate: f64,
    mode: Mode,
    live: bool,
    slots: Box<[Slot]>,
}

/// The request URLs of every feed entry, joined to the target once per run.
///
/// goose's `get_request_builder` joins the path to the user's base URL on every request, and
/// parses and serializes the URL three times doing so: about a tenth of the load generator's CPU
/// at tens of thousands of requests per second. These are the same URLs, joined the same way
/// (`Url::join`), once. A user whose base URL is not the target's (goose's `--sticky-follow`
/// after a redirect) gets goose's builder instead.
#[derive(Debug)]
struct Urls {
    base: Url,
    /// Per feed entry: GET and PATCH, personalize with the load's flags, depersonalize.
    entries: Box<[[Url; 3]]>,
}

impl Urls {
    fn new(base_url: &str, feed: &Feed) -> Option<Urls> {
        let base = Url::parse(base_url).ok()?;
        let entries = feed
            .entries
            .iter()
            .map(|e| {
                Some([
                    base.join(e.path(Operation::Get)).ok()?,
                    base.join(&e.personalize_with_flags).ok()?,
                    base.join(e.path(Operation::Depersonalize)).ok()?,
                ])
            })
            .collect::<Option<_>>()?;
        Some(Urls { base, entries })
    }
}

/// Per-user cursors, kept in goose's session data.
#[derive(Debug, Clone, Copy)]
struct Cursor {
    read: usize,
    write: usize,
    seq: u64,
    /// Accumulated share of responses to validate; validate when it reaches 1.
    sample: f64,
}

/// Sums over all users, read after the run.
#[derive(Debug, Default)]
pub struct Collected {
    pub tallies: [Tally; 4],
    /// Feed position → expected state, over every writer.
    pub ledger: HashMap<usize, Expected>,
}

fn index(op: Operation) -> usize {
    match op {
        Operation::Get => 0,
        Operation::Patch => 1,
        Operation::Personalize => 2,
        Operation::Depersonalize => 3,
    }
}

impl Run {
    /// State for a run of `users` users over `feed`, against `base_url`.
    pub fn new(
        feed: Feed,
        base_url: &str,
        users: usize,
        mut authorization: HeaderValue,
        sample_rate: f64,
        mode: Mode,
        live: bool,
    ) -> Run {
        authorization.set_sensitive(true);
        let users = users.max(1);
        Run {
            urls: Urls::new(base_url, &feed),
            feed,
            users,
            authorization,
            json: HeaderValue::from_static("application/json"),
            sample_rate,
            mode,
            live,
            slots: (0..users).map(|_| Slot::default()).collect(),
        }
    }

    fn slot(&self, user: usize) -> MutexGuard<'_, SlotData> {
        self.slots[user % self.slots.len()]
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// The user's cursor, created on its first transaction.
    fn cursor(&self, user: &mut GooseUser) -> Cursor {
        if let Some(c) = user.get_session_data::<Cursor>() {
            return *c;
        }
        let n = self.feed.len().max(1);
        let c = Cursor {
            read: (user.weighted_users_index * n / self.users) % n,
            write: 0,
            seq: 0,
            sample: 0.0,
        };
        user.set_session_data(c);
        c
    }

    fn save(user: &mut GooseUser, c: Cursor) {
        if let Some(slot) = user.get_session_data_mut::<Cursor>() {
            *slot = c;
        }
    }

    /// The feed position of the next registration to read, anywhere in the feed.
    fn next_read(&self, user: &mut GooseUser) -> usize {
        let mut c = self.cursor(user);
        let at = c.read % self.feed.len();
        c.read = at + 1;
        Run::save(user, c);
        at
    }

    /// The next registration this user may write, or `None` when its partition is empty.
    fn next_write(&self, user: &mut GooseUser) -> Option<(usize, u64)> {
        let me = user.weighted_users_index % self.users;
        let owned = self.feed.len().saturating_sub(me).div_ceil(self.users);
        if owned == 0 {
            return None;
        }
        let mut c = self.cursor(user);
        let at = me + (c.write % owned) * self.users;
        c.write += 1;
        c.seq += 1;
        Run::save(user, c);
        Some((at, c.seq))
    }

    /// Whether to validate this response, by the user's running share.
    fn sample(&self, user: &mut GooseUser) -> bool {
        if self.sample_rate >= 1.0 {
            return true;
        }
        let mut c = self.cursor(user);
        c.sample += self.sample_rate;
        let take = c.sample >= 1.0;
        if take {
            c.sample -= 1.0;
        }
        Run::save(user, c);
        take
    }

    /// A request builder for `op` on feed entry `at`, with the headers every request carries.
    fn builder(
        &self,
        user: &GooseUser,
        op: Operation,
        at: usize,
    ) -> Result<reqwest::RequestBuilder, Box<TransactionError>> {
        let entry = &self.feed.entries[at];
        let which = match op {
            Operation::Get | Operation::Patch => 0,
            Operation::Personalize => 1,
            Operation::Depersonalize => 2,
        };
        let builder = match &self.urls {
            Some(urls) if user.base_url == urls.base => {
                let url = urls.entries[at][which].clone();
                match op {
                    Operation::Get => user.client.get(url),
                    Operation::Patch => user.client.patch(url),
                    Operation::Personalize | Operation::Depersonalize => user.client.post(url),
                }
            }
            _ => user.get_request_builder(&goose_method(op), request_path(entry, op))?,
        };
        Ok(builder
            .header(AUTHORIZATION, self.authorization.clone())
            .header(APP_CODE_HEADER, entry.app_code.clone()))
    }

    /// Reads the body, validates a sampled share, records violations as goose failures and
    /// returns whether the server acknowledged (2xx) the request.
    async fn settle(
        &self,
        user: &mut GooseUser,
        op: Operation,
        goose: GooseResponse,
    ) -> Result<bool, Box<TransactionError>> {
        let GooseResponse {
            mut request,
            response,
        } = goose;
        let slot_index = user.weighted_users_index;
        let micros = request.response_time * 1000 + u64::from(request.response_time_fraction_us);
        let response = match response {
            Ok(r) => r,
            Err(_) => {
                if self.live {
                    self.slot(slot_index).live.record(micros, true);
                }
                return Ok(false);
            }
        };
        let status = response.status();
        let body = response.bytes().await.map_err(|e| Box::new(e.into()))?;
        let acknowledged = status.is_success();
        let violation = if self.sample(user) {
            Some(self.check(op, status.as_u16(), &body))
        } else {
            None
        };
        {
            let mut slot = self.slot(slot_index);
            if self.live {
                let failed = !acknowledged || matches!(violation, Some(Some(_)));
                slot.live.record(micros, failed);
            }
            if let Some(found) = &violation {
                let tally = &mut slot.tallies[index(op)];
                tally.validated += 1;
                if let Some(message) = found {
                    tally.violations += 1;
                    if let Some(c) = tally.samples.get_mut(message) {
                        *c += 1;
                    } else if tally.samples.len() < MAX_SAMPLES {
                        tally.samples.insert(message.clone(), 1);
                    }
                }
            }
        }
        if let Some(Some(message)) = violation {
            user.set_failure(&message, &mut request, None, None)?;
        }
        Ok(acknowledged)
    }

    /// The violation message of one response, if it breaks its schema.
    fn check(&self, op: Operation, status: u16, body: &[u8]) -> Option<String> {
        let one: [&str; 1];
        let schemas: &[&str] = if (200..300).contains(&status) {
            one = [op.response_schema()?];
            &one
        } else {
            op.error_answers()
                .iter()
                .find(|a| a.status == status)
                .map(|a| a.schemas)?
        };
        let value: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => {
                return Some(format!(
                    "HTTP {status} body is not JSON ({:?}), expected {}",
                    e.classify(),
                    schemas.join(" or ")
                ));
            }
        };
        let registry = schema::registry();
        if schemas
            .iter()
            .any(|s| registry.is_valid(s, self.mode, &value).unwrap_or(false))
        {
            return None;
        }
        let first = registry
            .validate(schemas[0], self.mode, &value)
            .ok()
            .and_then(|v| v.into_iter().next())
            .map_or_else(|| "invalid".to_owned(), |v| v.to_string());
        Some(format!(
            "schema violation: HTTP {status} body breaks {}: {first}",
            schemas.join(" / ")
        ))
    }

    /// Records the outcome of a write: `change` applies when it was acknowledged; otherwise
    /// the registration's state is marked unsure.
    fn acknowledge(
        &self,
        user: &GooseUser,
        at: usize,
        acknowledged: bool,
        change: impl FnOnce(&mut Expected),
    ) {
        let mut slot = self.slot(user.weighted_users_index);
        let expected = slot.ledger.entry(at).or_default();
        if acknowledged {
            change(expected);
            expected.unsure = false;
        } else {
            expected.unsure = true;
        }
    }

    /// Sums every user's slot.
    pub fn collect(&self) -> Collected {
        let mut out = Collected::default();
        for slot in self.slots.iter() {
            let data = slot.0.lock().unwrap_or_else(|p| p.into_inner());
            for (sum, t) in out.tallies.iter_mut().zip(data.tallies.iter()) {
                sum.add(t);
            }
            out.ledger.extend(data.ledger.iter().map(|(k, v)| (*k, *v)));
        }
        out
    }

    /// Live figures over all users, and how many users have sent a request.
    pub fn live(&self) -> (Live, usize) {
        let mut sum = Live::default();
        let mut active = 0;
        for slot in self.slots.iter() {
            let data = slot.0.lock().unwrap_or_else(|p| p.into_inner());
            active += usize::from(data.live.requests > 0);
            sum.add(&data.live);
        }
        (sum, active)
    }
}

/// goose's method of `op`.
fn goose_method(op: Operation) -> GooseMethod {
    match op {
        Operation::Get => GooseMethod::Get,
        Operation::Patch => GooseMethod::Patch,
        Operation::Personalize | Operation::Depersonalize => GooseMethod::Post,
    }
}

/// The path the load requests for `op` on `entry` (personalize with its flags).
fn request_path(entry: &FeedEntry, op: Operation) -> &str {
    match op {
        Operation::Personalize => &entry.personalize_with_flags,
        _ => entry.path(op),
    }
}

/// `tally_of(op)` for reports.
pub fn tally_of(collected: &Collected, op: Operation) -> &Tally {
    &collected.tallies[index(op)]
}

/// The goose request of `op` on feed entry `at`, named by operation, sent with `builder`.
fn goose_request<'a>(
    run: &'a Run,
    op: Operation,
    at: usize,
    builder: reqwest::RequestBuilder,
) -> GooseRequest<'a> {
    GooseRequest::builder()
        .method(goose_method(op))
        .path(request_path(&run.feed.entries[at], op))
        .name(request_name(op))
        .set_request_builder(builder)
        .build()
}

/// GET registration: reads one registration anywhere in the feed and validates the body.
pub async fn get_registration(user: &mut GooseUser, run: &Run) -> TransactionResult {
    let at = run.next_read(user);
    let builder = run.builder(user, Operation::Get, at)?;
    let goose = user
        .request(goose_request(run, Operation::Get, at, builder))
        .await?;
    run.settle(user, Operation::Get, goose).await?;
    Ok(())
}

/// PATCH registration: writes the user's next sequence number into `additionalData` of one of
/// its own registrations, and remembers it once acknowledged. Without a partition (more users
/// than registrations) the user reads instead.
pub async fn patch_registration(user: &mut GooseUser, run: &Run) -> TransactionResult {
    let Some((at, seq)) = run.next_write(user) else {
        return get_registration(user, run).await;
    };
    let body = format!("{{\"additionalData\":{{\"{SEQ_ATTRIBUTE}\":{seq}}}}}");
    let builder = run
        .builder(user, Operation::Patch, at)?
        .header(CONTENT_TYPE, run.json.clone())
        .body(body);
    let goose = user
        .request(goose_request(run, Operation::Patch, at, builder))
        .await?;
    let acknowledged = run.settle(user, Operation::Patch, goose).await?;
    run.acknowledge(user, at, acknowledged, |e| {
        e.seq = Some(seq);
        e.last = Some(Operation::Patch);
    });
    Ok(())
}

/// POST personalize: binds one of the user's registrations to its own person
/// (`externalId` derived from the registration ID, `forceDepersonalize` and
/// `setDeviceAsPrimary`), so the device must read back as primary.
pub async fn personalize(user: &mut GooseUser, run: &Run) -> TransactionResult {
    let Some((at, _)) = run.next_write(user) else {
        return get_registration(user, run).await;
    };
    let entry = &run.feed.entries[at];
    let body = serde_json::json!({
        "identity": { "externalId": format!("{EXTERNAL_ID_PREFIX}{}", entry.registration_id) }
    })
    .to_string();
    let builder = run
        .builder(user, Operation::Personalize, at)?
        .header(CONTENT_TYPE, run.json.clone())
        .body(body);
    let goose = user
        .request(goose_request(run, Operation::Personalize, at, builder))
        .await?;
    let acknowledged = run.settle(user, Operation::Personalize, goose).await?;
    run.acknowledge(user, at, acknowledged, |e| {
        e.primary = Some(true);
        e.last = Some(Operation::Personalize);
    });
    Ok(())
}

/// POST depersonalize: detaches one of the user's registrations from its person.
pub async fn depersonalize(user: &mut GooseUser, run: &Run) -> TransactionResult {
    let Some((at, _)) = run.next_write(user) else {
        return get_registration(user, run).await;
    };
    let builder = run.builder(user, Operation::Depersonalize, at)?;
    let goose = user
        .request(goose_request(run, Operation::Depersonalize, at, builder))
        .await?;
    let acknowledged = run.settle(user, Operation::Depersonalize, goose).await?;
    run.acknowledge(user, at, acknowledged, |e| {
        e.primary = None;
        e.last = Some(Operation::Depersonalize);
    });
    Ok(())
}

/// The goose transaction of `op`, bound to `run`.
pub fn transaction(run: &Arc<Run>, op: Operation) -> goose::goose::Transaction {
    macro_rules! bind {
        ($f:ident) => {{
            let run = Arc::clone(run);
            let f: goose::goose::TransactionFunction = Arc::new(move |user| {
                let run = Arc::clone(&run);
                Box::pin(async move { $f(user, &run).await })
            });
            f
        }};
    }
    let f = match op {
        Operation::Get => bind!(get_registration),
        Operation::Patch => bind!(patch_registration),
        Operation::Personalize => bind!(personalize),
        Operation::Depersonalize => bind!(depersonalize),
    };
    goose::goose::Transaction::new(f).set_name(op.label())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goose_rows_are_the_operation_labels() {
        for op in Operation::ALL {
            assert_eq!(format!("{} {}", op.method(), request_name(op)), op.label());
        }
    }

    #[test]
    fn live_quantiles_are_in_the_right_decade() {
        let mut live = Live::default();
        for _ in 0..100 {
            live.record(1_000, false);
        }
        let p = live.quantile_ms(0.95);
        assert!((0.9..1.5).contains(&p), "{p}");
    }
}
