//! The goose transactions, one documented `async fn` per operation, and the state they share.
//!
//! Each transaction picks a registration from the feed, sends one request named by operation
//! (`GET registration`, never one row per ID) and has the response judged by
//! [`crate::schema::judge`]: status and Content-Type always, schema and meaning on a sampled share.
//! A contract break becomes a goose failure with a message. Writes remember the last
//! acknowledged write of the registration. Reads go anywhere in the feed; writes only to the
//! user's own partition (see [`crate::load::feed`]), so every registration has one writer.
//!
//! Sampling is stratified: each user keeps one running share per operation and always validates
//! its first response of each operation, so at any sample rate every operation is validated in
//! proportion to its traffic (goose runs a user's transactions in a fixed order, so one shared
//! share would validate the same operations every time and never the others).
//!
//! Every request races the run's [`Cancel`]: on Ctrl-C the in-flight requests are dropped and
//! goose's users stop at once, instead of goose waiting for each to time out.
//!
//! Per-user tallies live in one padded slot per user, so users never contend for a lock or a
//! cache line; they are summed once when the run ends (and once a second for the progress line).
//! Nothing here prints.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use goose::goose::{GooseMethod, GooseRequest, GooseResponse, GooseUser, TransactionError};
use goose::prelude::TransactionResult;
use reqwest::Url;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde_json::Value;

use crate::api::redact::Redactor;
use crate::api::{APP_CODE_HEADER, Operation};
use crate::load::feed::{Feed, FeedEntry};
use crate::schema::Mode;
use crate::schema::judge::{self, Judged, Meaning};

/// The start of the custom attribute each PATCH writes (the writer's sequence number, read back
/// after the run); the run's ID follows, so two runs on one account never read each other's
/// writes, and the run removes its own attribute at the end.
pub const SEQ_ATTRIBUTE_PREFIX: &str = "pushcheckLoadSeq_";
/// Prefix of the `externalId` personalize uses; one person per registration, so that
/// `setDeviceAsPrimary` never touches another writer's device.
pub const EXTERNAL_ID_PREFIX: &str = "pushcheck-load-";
/// How long a cancelled user waits before its transaction returns (see [`Run::send`]).
const CANCELLED_PAUSE: std::time::Duration = std::time::Duration::from_millis(50);
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

/// What the judge and the transport saw of one operation, summed over users.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// Responses with an HTTP status (status and Content-Type judged).
    pub answered: u64,
    /// Responses whose body was validated (schema and meaning), or whose break was found on
    /// status or Content-Type alone: every response that counts in the violation rate.
    pub validated: u64,
    /// Responses that broke their contract.
    pub violations: u64,
    /// Contract breaks by kind (`schema`, `content-type`, …).
    pub violations_by_kind: BTreeMap<&'static str, u64>,
    /// Requests with no HTTP answer, by kind (`timeout`, `connect`, `body`, `transport`).
    pub transport_errors: BTreeMap<&'static str, u64>,
    /// Violation message → count (a few distinct messages per user).
    pub samples: HashMap<String, u64>,
}

impl Tally {
    fn add(&mut self, other: &Tally) {
        self.answered += other.answered;
        self.validated += other.validated;
        self.violations += other.violations;
        for (k, c) in &other.violations_by_kind {
            *self.violations_by_kind.entry(k).or_default() += c;
        }
        for (k, c) in &other.transport_errors {
            *self.transport_errors.entry(k).or_default() += c;
        }
        for (m, c) in &other.samples {
            *self.samples.entry(m.clone()).or_default() += c;
        }
    }

    fn record(&mut self, judged: &Judged) {
        self.answered += 1;
        if judged.validated || judged.problem.is_some() {
            self.validated += 1;
        }
        if let Some(problem) = &judged.problem {
            self.violations += 1;
            *self
                .violations_by_kind
                .entry(problem.kind.as_str())
                .or_default() += 1;
            if let Some(c) = self.samples.get_mut(&problem.message) {
                *c += 1;
            } else if self.samples.len() < MAX_SAMPLES {
                self.samples.insert(problem.message.clone(), 1);
            }
        }
    }
}

/// The kind of a failed exchange without an HTTP answer, as reports count them.
pub fn transport_kind(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else if e.is_body() || e.is_decode() {
        "body"
    } else {
        "transport"
    }
}

/// The run's stop signal: set on Ctrl-C (or when the run must end now); every request races it.
#[derive(Debug, Default)]
pub struct Cancel {
    set: AtomicBool,
    notify: tokio::sync::Notify,
}

impl Cancel {
    /// Stops the run: in-flight requests are dropped, users return at once.
    pub fn cancel(&self) {
        self.set.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    /// Whether the run was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.set.load(Ordering::SeqCst)
    }

    /// Resolves once the run is cancelled.
    pub async fn cancelled(&self) {
        loop {
            let notified = self.notify.notified();
            if self.is_cancelled() {
                return;
            }
            notified.await;
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

/// How the transactions of a run behave.
#[derive(Debug, Clone)]
pub struct RunSettings {
    pub users: usize,
    /// The `Authorization` header every request carries.
    pub authorization: HeaderValue,
    /// Share of responses whose body is validated, per operation and user.
    pub sample_rate: f64,
    pub mode: Mode,
    /// Keep live figures for a progress line.
    pub live: bool,
    /// The custom attribute PATCH writes (see [`SEQ_ATTRIBUTE_PREFIX`]).
    pub attribute: String,
    /// Scrubs the run's secrets from every message a response produces (a target may echo
    /// the `Authorization` header back in a body that then breaks its schema).
    pub redactor: Redactor,
}

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
    /// The custom attribute PATCH writes in this run (see [`SEQ_ATTRIBUTE_PREFIX`]).
    pub(crate) attribute: String,
    /// Set on Ctrl-C; every request races it.
    pub cancel: Cancel,
    redactor: Redactor,
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
    /// Per operation, the accumulated share of responses to validate; validate at 1.
    sample: [f64; 4],
    /// Per operation, whether this user validated one yet (its first is always validated).
    seen: [bool; 4],
}

/// Sums over all users, read after the run.
#[derive(Debug, Default)]
pub struct Collected {
    pub tallies: [Tally; 4],
    /// Feed position → expected state, over every writer.
    pub ledger: HashMap<usize, Expected>,
}

impl Run {
    /// State for a run over `feed` against `base_url`, as `settings` say.
    pub fn new(feed: Feed, base_url: &str, settings: RunSettings) -> Run {
        let RunSettings {
            users,
            mut authorization,
            sample_rate,
            mode,
            live,
            attribute,
            redactor,
        } = settings;
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
            attribute,
            cancel: Cancel::default(),
            redactor,
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
            sample: [0.0; 4],
            seen: [false; 4],
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

    /// Whether to validate this response of `op`: the user's first of each operation, then by
    /// the user's running share of that operation.
    fn sample(&self, user: &mut GooseUser, op: Operation) -> bool {
        if self.sample_rate >= 1.0 {
            return true;
        }
        let mut c = self.cursor(user);
        let i = op.index();
        let take = if c.seen[i] {
            c.sample[i] += self.sample_rate;
            let take = c.sample[i] >= 1.0;
            if take {
                c.sample[i] -= 1.0;
            }
            take
        } else {
            c.seen[i] = true;
            true
        };
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

    /// Sends `request` unless the run is cancelled first; `None` when it was.
    ///
    /// A cancelled user pauses before it returns: goose keeps calling a user's transactions
    /// until its controller tells the user to stop, and a transaction that returned at once
    /// would spin the worker threads and starve that controller.
    async fn send(
        &self,
        user: &mut GooseUser,
        request: GooseRequest<'_>,
    ) -> Result<Option<GooseResponse>, Box<TransactionError>> {
        let sent = tokio::select! {
            biased;
            () = self.cancel.cancelled() => None,
            sent = user.request(request) => Some(sent?),
        };
        if sent.is_none() {
            tokio::time::sleep(CANCELLED_PAUSE).await;
        }
        Ok(sent)
    }

    /// Judges the response (status and Content-Type always, body on the sampled share, meaning
    /// against `meaning`), records breaks as goose failures and returns whether the server
    /// acknowledged (2xx) the request.
    async fn settle(
        &self,
        user: &mut GooseUser,
        op: Operation,
        goose: GooseResponse,
        meaning: Meaning<'_>,
    ) -> Result<bool, Box<TransactionError>> {
        let GooseResponse {
            mut request,
            response,
        } = goose;
        let slot_index = user.weighted_users_index;
        let micros = request.response_time * 1000 + u64::from(request.response_time_fraction_us);
        let response = match response {
            Ok(r) => r,
            Err(e) => {
                let mut slot = self.slot(slot_index);
                *slot.tallies[op.index()]
                    .transport_errors
                    .entry(transport_kind(&e))
                    .or_default() += 1;
                if self.live {
                    slot.live.record(micros, true);
                }
                return Ok(false);
            }
        };
        let status = response.status();
        // A HeaderValue clone shares its bytes: no copy per response.
        let content_type = response.headers().get(CONTENT_TYPE).cloned();
        let body = tokio::select! {
            biased;
            () = self.cancel.cancelled() => return Ok(false),
            body = response.bytes() => body,
        };
        let body = match body {
            Ok(b) => b,
            Err(e) => {
                let kind = transport_kind(&e);
                {
                    let mut slot = self.slot(slot_index);
                    *slot.tallies[op.index()]
                        .transport_errors
                        .entry(kind)
                        .or_default() += 1;
                    if self.live {
                        slot.live.record(micros, true);
                    }
                }
                let message = format!("HTTP {status}: the body could not be read ({kind})");
                user.set_failure(&message, &mut request, None, None)?;
                return Ok(false);
            }
        };
        let validate = self.sample(user, op);
        let mut judged = judge::judge(
            op,
            status.as_u16(),
            content_type.as_ref().and_then(|v| v.to_str().ok()),
            &body,
            validate,
            self.mode,
            &meaning.into(),
        );
        if let Some(problem) = &mut judged.problem
            && !self.redactor.is_empty()
        {
            problem.message = self.redactor.scrub(&problem.message);
        }
        {
            let mut slot = self.slot(slot_index);
            if self.live {
                slot.live
                    .record(micros, !status.is_success() || judged.problem.is_some());
            }
            slot.tallies[op.index()].record(&judged);
        }
        if let Some(problem) = judged.problem {
            user.set_failure(&problem.message, &mut request, None, None)?;
            return Ok(false);
        }
        Ok(status.is_success())
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
    &collected.tallies[op.index()]
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

/// GET registration: reads one registration anywhere in the feed; the answer must be that
/// registration.
pub async fn get_registration(user: &mut GooseUser, run: &Run) -> TransactionResult {
    let at = run.next_read(user);
    let builder = run.builder(user, Operation::Get, at)?;
    let request = goose_request(run, Operation::Get, at, builder);
    let Some(goose) = run.send(user, request).await? else {
        return Ok(());
    };
    let id = &run.feed.entries[at].registration_id;
    run.settle(user, Operation::Get, goose, Meaning::Registration { id })
        .await?;
    Ok(())
}

/// PATCH registration: writes the user's next sequence number into the run's custom attribute
/// of one of its own registrations, and remembers it once acknowledged; the answer must carry
/// the write. Without a partition (more users than registrations) the user reads instead.
pub async fn patch_registration(user: &mut GooseUser, run: &Run) -> TransactionResult {
    let Some((at, seq)) = run.next_write(user) else {
        return get_registration(user, run).await;
    };
    let body = format!("{{\"additionalData\":{{\"{}\":{seq}}}}}", run.attribute);
    let builder = run
        .builder(user, Operation::Patch, at)?
        .header(CONTENT_TYPE, run.json.clone())
        .body(body);
    let request = goose_request(run, Operation::Patch, at, builder);
    let Some(goose) = run.send(user, request).await? else {
        run.acknowledge(user, at, false, |_| {});
        return Ok(());
    };
    let value = Value::from(seq);
    let meaning = Meaning::Wrote {
        id: &run.feed.entries[at].registration_id,
        name: &run.attribute,
        value: &value,
    };
    let acknowledged = run.settle(user, Operation::Patch, goose, meaning).await?;
    run.acknowledge(user, at, acknowledged, |e| {
        e.seq = Some(seq);
        e.last = Some(Operation::Patch);
    });
    Ok(())
}

/// POST personalize: binds one of the user's registrations to its own person
/// (`externalId` derived from the registration ID, `forceDepersonalize` and
/// `setDeviceAsPrimary`), so the device must read back as primary; the answer must be that
/// person.
pub async fn personalize(user: &mut GooseUser, run: &Run) -> TransactionResult {
    let Some((at, _)) = run.next_write(user) else {
        return get_registration(user, run).await;
    };
    let entry = &run.feed.entries[at];
    let external_id = format!("{EXTERNAL_ID_PREFIX}{}", entry.registration_id);
    let body = serde_json::json!({ "identity": { "externalId": external_id } }).to_string();
    let builder = run
        .builder(user, Operation::Personalize, at)?
        .header(CONTENT_TYPE, run.json.clone())
        .body(body);
    let request = goose_request(run, Operation::Personalize, at, builder);
    let Some(goose) = run.send(user, request).await? else {
        run.acknowledge(user, at, false, |_| {});
        return Ok(());
    };
    let meaning = Meaning::Person {
        external_id: Some(&external_id),
        phone: None,
        email: None,
    };
    let acknowledged = run
        .settle(user, Operation::Personalize, goose, meaning)
        .await?;
    run.acknowledge(user, at, acknowledged, |e| {
        e.primary = Some(true);
        e.last = Some(Operation::Personalize);
    });
    Ok(())
}

/// POST depersonalize: detaches one of the user's registrations from its person; the answer
/// must be empty.
pub async fn depersonalize(user: &mut GooseUser, run: &Run) -> TransactionResult {
    let Some((at, _)) = run.next_write(user) else {
        return get_registration(user, run).await;
    };
    let builder = run.builder(user, Operation::Depersonalize, at)?;
    let request = goose_request(run, Operation::Depersonalize, at, builder);
    let Some(goose) = run.send(user, request).await? else {
        run.acknowledge(user, at, false, |_| {});
        return Ok(());
    };
    let acknowledged = run
        .settle(user, Operation::Depersonalize, goose, Meaning::Nothing)
        .await?;
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
