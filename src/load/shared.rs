//! Everything the transactions of one run share ([`Run`]), built once per run: the feed and
//! its request URLs, each user's cursor and padded slot of tallies, the stratified sampling,
//! sending a request raced against the run's [`Cancel`], and settling its response through the
//! judge into the tallies and the ledger of acknowledged writes.
//!
//! Per-user tallies live in one padded slot per user, so users never contend for a lock or a
//! cache line; they are summed once when the run ends (and once a second for the progress line).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use goose::goose::{
    GooseRequest, GooseResponse, GooseUser, TransactionError, goose_method_from_method,
};
use reqwest::Url;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};

use super::feed::path_slot;
use super::tally::{Collected, Expected, Tally, transport_kind};
use super::timeline::{Exchange, OpStep, Step, Timeline};
use super::transactions::{CANCELLED_PAUSE, request_path};
use crate::api::redact::Redactor;
use crate::api::{APP_CODE_HEADER, Operation};
use crate::load::feed::Feed;
use crate::schema::Mode;
use crate::schema::judge::{self, Meaning};

/// The run's stop: set on a stop signal (Ctrl-C, SIGTERM, SIGHUP) or when the run must end now;
/// every request races it.
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

/// One user's tallies and acknowledged writes.
#[derive(Debug, Default)]
struct SlotData {
    tallies: [Tally; 4],
    /// This user's responses in the current second, handed to the run's timeline when the
    /// second is over.
    second: Option<(u64, Box<Step>)>,
    /// Feed position → what it should read like.
    ledger: HashMap<usize, Expected>,
    /// Every response so far, all operations together, for the live view.
    live: OpStep,
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
    /// This run's ID: the start of every value PATCH writes (see
    /// [`super::transactions::seq_value`]).
    pub run_id: String,
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
    pub(super) json: HeaderValue,
    sample_rate: f64,
    mode: Mode,
    live: bool,
    slots: Box<[Slot]>,
    /// This run's ID, the start of every value PATCH writes (see
    /// [`super::transactions::seq_value`]).
    pub(crate) run_id: String,
    /// Set on a stop signal; every request races it.
    pub cancel: Cancel,
    /// When the load started: second 0 of the timeline.
    started: Instant,
    timeline: Mutex<Timeline>,
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

impl Run {
    /// State for a run over `feed` against `base_url`, as `settings` say.
    pub fn new(feed: Feed, base_url: &str, settings: RunSettings) -> Run {
        let RunSettings {
            users,
            mut authorization,
            sample_rate,
            mode,
            live,
            run_id,
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
            run_id,
            cancel: Cancel::default(),
            started: Instant::now(),
            timeline: Mutex::default(),
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
    pub(super) fn next_read(&self, user: &mut GooseUser) -> usize {
        let mut c = self.cursor(user);
        let at = c.read % self.feed.len();
        c.read = at + 1;
        Run::save(user, c);
        at
    }

    /// The next registration this user may write, or `None` when its partition is empty.
    pub(super) fn next_write(&self, user: &mut GooseUser) -> Option<(usize, u64)> {
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

    /// The next registration this user may personalize or depersonalize: its next write that is
    /// not excluded from person operations (a device bound to someone before a live run), or
    /// `None` when its partition has none.
    pub(super) fn next_person_write(&self, user: &mut GooseUser) -> Option<(usize, u64)> {
        let me = user.weighted_users_index % self.users;
        let owned = self.feed.len().saturating_sub(me).div_ceil(self.users);
        for _ in 0..owned {
            let (at, seq) = self.next_write(user)?;
            if self.feed.entries[at].persons {
                return Some((at, seq));
            }
        }
        None
    }

    /// Per operation ([`Operation::index`]), whether this user can send it as itself: a write
    /// needs a registration of its own (personalize and depersonalize one not kept out of person
    /// operations); otherwise the mix sends a GET (see [`super::mix::Mixer::next`]). The same
    /// partition as [`Run::next_write`]'s.
    pub(super) fn sendable(&self, user: &GooseUser) -> [bool; 4] {
        let me = user.weighted_users_index % self.users;
        let mut own = (me..self.feed.len()).step_by(self.users);
        let write = me < self.feed.len();
        let person = own.any(|at| self.feed.entries[at].persons);
        [true, write, person, person]
    }

    /// Whether to validate this response of `op`: the user's first of each operation, then by
    /// the user's running share of that operation.
    pub(super) fn sample(&self, user: &mut GooseUser, op: Operation) -> bool {
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
    pub(super) fn builder(
        &self,
        user: &GooseUser,
        op: Operation,
        at: usize,
    ) -> Result<reqwest::RequestBuilder, Box<TransactionError>> {
        let entry = &self.feed.entries[at];
        let builder = match &self.urls {
            Some(urls) if user.base_url == urls.base => user
                .client
                .request(op.http_method(), urls.entries[at][path_slot(op)].clone()),
            _ => user.get_request_builder(
                &goose_method_from_method(op.http_method())?,
                request_path(entry, op),
            )?,
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
    pub(super) async fn send(
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
    pub(super) async fn settle(
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
                self.no_answer(slot_index, op, transport_kind(&e), micros);
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
                self.no_answer(slot_index, op, kind, micros);
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
            let exchange = Exchange::Answered {
                status: status.as_u16(),
                broke: judged.problem.is_some(),
            };
            if self.live {
                slot.live.record(micros, exchange);
            }
            slot.tallies[op.index()].record(&judged);
            self.step(&mut slot, op, micros, exchange);
        }
        if let Some(problem) = judged.problem {
            user.set_failure(&problem.message, &mut request, None, None)?;
            return Ok(false);
        }
        Ok(status.is_success())
    }

    /// Counts an exchange of `op` that got no (whole) answer, by kind.
    fn no_answer(&self, slot_index: usize, op: Operation, kind: &'static str, micros: u64) {
        let mut slot = self.slot(slot_index);
        *slot.tallies[op.index()]
            .transport_errors
            .entry(kind)
            .or_default() += 1;
        if self.live {
            slot.live.record(micros, Exchange::NoAnswer);
        }
        self.step(&mut slot, op, micros, Exchange::NoAnswer);
    }

    /// Adds one exchange to the user's current second, handing the last one to the timeline
    /// when a new second has begun.
    fn step(&self, slot: &mut SlotData, op: Operation, micros: u64, exchange: Exchange) {
        let second = self.started.elapsed().as_secs();
        match &mut slot.second {
            Some((current, step)) if *current == second => {
                step[op.index()].record(micros, exchange);
            }
            other => {
                let mut step = match other.take() {
                    Some((done, mut step)) => {
                        self.lock_timeline().add(done, &step);
                        *step = Step::default();
                        step
                    }
                    None => Box::default(),
                };
                step[op.index()].record(micros, exchange);
                *other = Some((second, step));
            }
        }
    }

    fn lock_timeline(&self) -> MutexGuard<'_, Timeline> {
        self.timeline.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records the outcome of a write: `change` applies when it was acknowledged; otherwise
    /// the registration's state is marked unsure.
    pub(super) fn acknowledge(
        &self,
        user: &GooseUser,
        at: usize,
        acknowledged: bool,
        change: impl FnOnce(&mut Expected),
    ) {
        let mut slot = self.slot(user.weighted_users_index);
        let expected = slot.ledger.entry(at).or_default();
        let me = user.weighted_users_index;
        expected.shared |= expected.writer.is_some_and(|w| w != me);
        expected.writer = Some(me);
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
            let mut data = slot.0.lock().unwrap_or_else(|p| p.into_inner());
            for (sum, t) in out.tallies.iter_mut().zip(data.tallies.iter()) {
                sum.add(t);
            }
            out.ledger.extend(data.ledger.iter().map(|(k, v)| (*k, *v)));
            if let Some((second, step)) = data.second.take() {
                self.lock_timeline().add(second, &step);
            }
        }
        out.timeline = self
            .lock_timeline()
            .summary()
            .ended_at(self.started.elapsed());
        out
    }

    /// Live figures over all users, and how many users have sent a request.
    pub fn live(&self) -> (OpStep, usize) {
        let mut sum = OpStep::default();
        let mut active = 0;
        for slot in self.slots.iter() {
            let data = slot.0.lock().unwrap_or_else(|p| p.into_inner());
            active += usize::from(data.live.requests > 0);
            sum.add(&data.live);
        }
        (sum, active)
    }
}
