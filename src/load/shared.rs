//! Everything the transactions of one run share ([`Run`]), built once per run: the feed and
//! its request URLs, each user's cursor and padded slot of tallies, the stratified sampling,
//! sending a request raced against the run's [`Cancel`], and settling its response through the
//! judge into the tallies and the ledger of acknowledged writes.
//!
//! Per-user tallies live in one padded slot per user, so users never contend for a lock or a
//! cache line; they are summed once when the run ends (and once a second for the progress line).
//!
//! Every exchange is timed here, from the moment goose's throttle let it through to its whole
//! answer, its failure or the end of the run ([`super::tally::Times`]); in a paced run each
//! request first claims its slot in the arrival [`Schedule`] and also counts from when it was
//! due. A request still waiting when the run is cancelled is counted as
//! [`TransportKind::UnansweredAtEnd`] at its age, and every stretch without an answer while
//! requests waited is kept for the `answer-gap` rule.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use goose::goose::{
    GooseRequest, GooseResponse, GooseUser, TransactionError, goose_method_from_method,
};
use reqwest::Url;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};

use super::feed::path_slot;
use super::figures::AnswerGap;
use super::schedule::{Busy, Claim, Schedule};
use super::tally::{Collected, Expected, Tally, Times, TransportKind};
use super::timeline::{Exchange, OpStep, Step, Timeline};
use crate::api::redact::Redactor;
use crate::api::{APP_CODE_HEADER, Operation, PerOp};
use crate::load::feed::Feed;
use crate::schema::Mode;
use crate::schema::judge::{self, Expect, Meaning};

/// How long a cancelled user waits before its transaction returns (see [`Run::send`]).
const CANCELLED_PAUSE: std::time::Duration = std::time::Duration::from_millis(50);

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
    tallies: PerOp<Tally>,
    /// This user's responses in the current second, handed to the run's timeline when the
    /// second is over.
    second: Option<(u64, Box<Step>)>,
    /// Feed position → what it should read like.
    ledger: HashMap<usize, Expected>,
    /// Every response so far, all operations together, for the live view.
    live: OpStep,
    /// The operation of the request being built (set by [`Run::builder`], taken by
    /// [`Run::send`]).
    next_op: Option<Operation>,
    /// The request in flight: sent, not yet answered.
    pending: Option<Pending>,
    /// The user's previous request, for the schedule (whose wait a late slot was).
    previous: Option<Busy>,
    /// This second's times, handed to the run's with the timeline.
    times: PerOp<Times>,
}

/// A request in flight.
#[derive(Debug, Clone, Copy)]
struct Pending {
    op: Operation,
    /// When goose's throttle let it through (microseconds since the load began).
    sent_us: u64,
    /// Its slot in a paced run.
    claim: Claim,
}

/// A stretch without an answer shorter than this is not kept (the `answer-gap` rule judges
/// seconds).
const GAP_KEPT_FROM_US: u64 = 200_000;
/// How stale the time of the last answer may be (a gap is measured to within this).
const LAST_ANSWER_STEP_US: u64 = 1_000;
/// At most this many stretches without an answer are kept (before they are merged).
const MAX_GAPS: usize = 100_000;

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
    /// Requests/s of a paced run (arrival rate, throttle or rate cap): each request claims a
    /// slot of this [`Schedule`] and is also timed from when it was due; `None`: not paced.
    pub paced_rps: Option<f64>,
    /// The `applicationId` of each application code's registrations (judged on every sampled
    /// registration answer; an app code without one is not judged).
    pub application_ids: HashMap<String, String>,
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
    /// See [`RunSettings::application_ids`].
    application_ids: HashMap<String, String>,
    /// The arrival schedule of a paced run.
    schedule: Option<Schedule>,
    /// Every user's times of the seconds handed over.
    times: Mutex<PerOp<Times>>,
    /// When the last answer came (microseconds since the load began).
    last_answer_us: AtomicU64,
    /// Stretches without an answer while a request waited, `[from, to)` in microseconds, with
    /// the requests in flight when it ended.
    gaps: Mutex<Vec<(u64, u64, u64)>>,
    /// Requests sent and not yet answered (nor failed, nor given up).
    in_flight: AtomicU64,
    /// The age of the oldest request still waiting when the run ended.
    oldest_unanswered_us: AtomicU64,
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
    sample: PerOp<f64>,
    /// Per operation, whether this user validated one yet (its first is always validated).
    seen: PerOp<bool>,
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
            paced_rps,
            application_ids,
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
            application_ids,
            schedule: paced_rps.and_then(Schedule::new),
            times: Mutex::default(),
            last_answer_us: AtomicU64::new(0),
            gaps: Mutex::default(),
            in_flight: AtomicU64::new(0),
            oldest_unanswered_us: AtomicU64::new(0),
        }
    }

    /// What an answer about feed entry `at` must be: `meaning`, and the `applicationId` of the
    /// entry's application (when known); the body itself is not kept.
    pub(super) fn expect<'a>(&'a self, at: usize, meaning: Meaning<'a>) -> Expect<'a> {
        let code = self.feed.entries[at].app_code.to_str().unwrap_or_default();
        Expect {
            meaning,
            application_id: self.application_ids.get(code).map(String::as_str),
            // The load reads the verdict only: a valid body is judged without a `Value`.
            discard_body: true,
            ..Expect::default()
        }
    }

    /// Microseconds since the load began.
    fn now_us(&self) -> u64 {
        self.started.elapsed().as_micros() as u64
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
            sample: PerOp::default(),
            seen: PerOp::default(),
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

    /// Per operation, whether this user can send it as itself: a write needs a registration of
    /// its own (personalize and depersonalize one not kept out of person operations); otherwise
    /// the mix sends a GET (see [`super::mix::Mixer::next`]). The same partition as
    /// [`Run::next_write`]'s.
    pub(super) fn sendable(&self, user: &GooseUser) -> PerOp<bool> {
        let me = user.weighted_users_index % self.users;
        let mut own = (me..self.feed.len()).step_by(self.users);
        let write = me < self.feed.len();
        let person = own.any(|at| self.feed.entries[at].persons);
        PerOp::from_fn(|op| match op {
            Operation::Get => true,
            Operation::Patch => write,
            Operation::Personalize | Operation::Depersonalize => person,
        })
    }

    /// Whether to validate this response of `op`: the user's first of each operation, then by
    /// the user's running share of that operation.
    pub(super) fn sample(&self, user: &mut GooseUser, op: Operation) -> bool {
        if self.sample_rate >= 1.0 {
            return true;
        }
        let mut c = self.cursor(user);
        let take = if c.seen[op] {
            c.sample[op] += self.sample_rate;
            let take = c.sample[op] >= 1.0;
            if take {
                c.sample[op] -= 1.0;
            }
            take
        } else {
            c.seen[op] = true;
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
        self.slot(user.weighted_users_index).next_op = Some(op);
        let entry = &self.feed.entries[at];
        let builder = match &self.urls {
            Some(urls) if user.base_url == urls.base => user
                .client
                .request(op.http_method(), urls.entries[at][path_slot(op)].clone()),
            _ => user.get_request_builder(
                &goose_method_from_method(op.http_method())?,
                entry.request_path(op),
            )?,
        };
        Ok(builder
            .header(AUTHORIZATION, self.authorization.clone())
            .header(APP_CODE_HEADER, entry.app_code.clone()))
    }

    /// Sends `request` (built by [`Run::builder`]) unless the run is cancelled first; `None`
    /// when it was.
    ///
    /// In a paced run the request first claims its slot in the schedule, then waits for goose's
    /// throttle here rather than inside goose, so the schedule knows when it got through. A
    /// request cancelled while it waits for its answer is counted as unanswered at the end.
    ///
    /// A cancelled user pauses before it returns: goose keeps calling a user's transactions
    /// until its controller tells the user to stop, and a transaction that returned at once
    /// would spin the worker threads and starve that controller.
    pub(super) async fn send(
        &self,
        user: &mut GooseUser,
        request: GooseRequest<'_>,
    ) -> Result<Option<GooseResponse>, Box<TransactionError>> {
        let slot_index = user.weighted_users_index;
        let (op, previous) = {
            let mut slot = self.slot(slot_index);
            (slot.next_op.take().unwrap_or(Operation::Get), slot.previous)
        };
        let claim = self
            .schedule
            .as_ref()
            .map(|s| s.claim(self.now_us(), previous));
        let throttle = if user.is_throttled {
            user.throttle.clone()
        } else {
            None
        };
        if let Some(throttle) = throttle {
            let through = tokio::select! {
                biased;
                () = self.cancel.cancelled() => None,
                through = throttle.send_async(true) => Some(through),
            };
            if !matches!(through, Some(Ok(()))) {
                if let (Some(s), Some(_)) = (&self.schedule, claim) {
                    s.left();
                }
            }
            match through {
                None => {
                    tokio::time::sleep(CANCELLED_PAUSE).await;
                    return Ok(None);
                }
                Some(Err(e)) => return Err(Box::new(e.into())),
                Some(Ok(())) => {}
            }
        }
        let sent_us = self.now_us();
        if let (Some(s), Some(_)) = (&self.schedule, claim) {
            s.passed(sent_us);
        }
        self.slot(slot_index).pending = Some(Pending {
            op,
            sent_us,
            claim: claim.unwrap_or_default(),
        });
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        // Through the throttle already: goose must not wait for it again.
        let throttled = std::mem::replace(&mut user.is_throttled, false);
        let sent = tokio::select! {
            biased;
            () = self.cancel.cancelled() => None,
            sent = user.request(request) => Some(sent),
        };
        user.is_throttled = throttled;
        match sent {
            None => {
                self.unanswered_at_end(slot_index);
                tokio::time::sleep(CANCELLED_PAUSE).await;
                Ok(None)
            }
            Some(Err(e)) => {
                // goose could not send it (a request it could not build): no exchange.
                if self.slot(slot_index).pending.take().is_some() {
                    self.in_flight.fetch_sub(1, Ordering::Relaxed);
                }
                Err(e)
            }
            Some(Ok(sent)) => Ok(Some(sent)),
        }
    }

    /// Judges the response (status and Content-Type always, body on the sampled share, meaning
    /// against `meaning`), records breaks as goose failures and returns whether the server
    /// acknowledged (2xx) the request.
    pub(super) async fn settle(
        &self,
        user: &mut GooseUser,
        op: Operation,
        goose: GooseResponse,
        expect: Expect<'_>,
    ) -> Result<bool, Box<TransactionError>> {
        let GooseResponse {
            mut request,
            response,
        } = goose;
        let slot_index = user.weighted_users_index;
        let goose_micros =
            request.response_time * 1000 + u64::from(request.response_time_fraction_us);
        let response = match response {
            Ok(r) => r,
            Err(e) => {
                let at = self.now_us();
                let mut slot = self.slot(slot_index);
                let how = Ended::NoAnswer(TransportKind::from(&e));
                self.ended(&mut slot, op, at, goose_micros, how);
                return Ok(false);
            }
        };
        let status = response.status();
        // A HeaderValue clone shares its bytes: no copy per response.
        let content_type = response.headers().get(CONTENT_TYPE).cloned();
        let body = tokio::select! {
            biased;
            () = self.cancel.cancelled() => {
                self.unanswered_at_end(slot_index);
                return Ok(false);
            }
            body = response.bytes() => body,
        };
        let body = match body {
            Ok(b) => b,
            Err(e) => {
                let kind = TransportKind::from(&e);
                {
                    let at = self.now_us();
                    let mut slot = self.slot(slot_index);
                    self.ended(&mut slot, op, at, goose_micros, Ended::NoAnswer(kind));
                }
                let message = format!("HTTP {status}: the body could not be read ({kind})");
                user.set_failure(&message, &mut request, None, None)?;
                return Ok(false);
            }
        };
        // The answer is whole: its time ends here, not after pushcheck judged it.
        let answered_at = self.now_us();
        let validate = self.sample(user, op);
        let mut judged = judge::judge(
            op,
            status.as_u16(),
            content_type.as_ref().and_then(|v| v.to_str().ok()),
            &body,
            validate,
            self.mode,
            &expect,
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
            slot.tallies[op].record(status.as_u16(), &judged);
            let how = Ended::Answered(exchange);
            self.ended(&mut slot, op, answered_at, goose_micros, how);
        }
        if let Some(problem) = judged.problem {
            user.set_failure(&problem.message, &mut request, None, None)?;
            return Ok(false);
        }
        Ok(status.is_success())
    }

    /// Counts the request in flight of the user in `slot_index` as still waiting when the run
    /// ended, at its age.
    fn unanswered_at_end(&self, slot_index: usize) {
        let mut slot = self.slot(slot_index);
        if let Some(p) = slot.pending {
            let at = self.now_us();
            let age = self.ended(
                &mut slot,
                p.op,
                at,
                0,
                Ended::NoAnswer(TransportKind::UnansweredAtEnd),
            );
            self.oldest_unanswered_us.fetch_max(age, Ordering::Relaxed);
        }
    }

    /// Counts the end at `now` (microseconds since the load began) of the user's request in
    /// flight (`goose_micros`, goose's time, only if none was in flight): its time measured and
    /// from due, the timeline, an exchange without an answer by kind, and a stretch without
    /// answers it waited through. Returns its time.
    fn ended(
        &self,
        slot: &mut SlotData,
        op: Operation,
        now: u64,
        goose_micros: u64,
        how: Ended,
    ) -> u64 {
        let pending = slot.pending.take();
        let (micros, sent_us) = match pending {
            Some(p) => (now.saturating_sub(p.sent_us), p.sent_us),
            None => (goose_micros, now.saturating_sub(goose_micros)),
        };
        let waiting = match pending {
            Some(_) => self.in_flight.fetch_sub(1, Ordering::Relaxed),
            None => self.in_flight.load(Ordering::Relaxed) + 1,
        };
        let times = &mut slot.times[op];
        times.measured.record(micros);
        if let Some(p) = pending.filter(|_| self.schedule.is_some()) {
            times.from_due.record(micros + p.claim.late_us);
            if let Some(missed) = p.claim.missed {
                for late in missed.lateness() {
                    times.from_due.record(micros + late);
                }
            }
        }
        slot.previous = Some(Busy {
            from_us: sent_us,
            until_us: now,
        });
        let exchange = match how {
            Ended::Answered(exchange) => exchange,
            Ended::NoAnswer(kind) => {
                *slot.tallies[op].transport_errors.entry(kind).or_default() += 1;
                Exchange::NoAnswer
            }
        };
        let quiet_from = sent_us.max(self.last_answer_us.load(Ordering::Relaxed));
        if now.saturating_sub(quiet_from) >= GAP_KEPT_FROM_US {
            let mut gaps = self.gaps.lock().unwrap_or_else(|p| p.into_inner());
            if gaps.len() < MAX_GAPS {
                gaps.push((quiet_from, now, waiting));
            }
        }
        // Written at most about once a millisecond: every user reads it, and a line written by
        // every answer would bounce between the cores.
        if matches!(how, Ended::Answered(_))
            && now >= self.last_answer_us.load(Ordering::Relaxed) + LAST_ANSWER_STEP_US
        {
            self.last_answer_us.fetch_max(now, Ordering::Relaxed);
        }
        if self.live {
            slot.live.record(micros, exchange);
        }
        self.step(slot, op, micros, exchange);
        micros
    }

    /// Adds one exchange to the user's current second, handing the last one (and its times) to
    /// the run when a new second has begun.
    fn step(&self, slot: &mut SlotData, op: Operation, micros: u64, exchange: Exchange) {
        let second = self.started.elapsed().as_secs();
        match &mut slot.second {
            Some((current, step)) if *current == second => {
                step[op].record(micros, exchange);
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
                step[op].record(micros, exchange);
                *other = Some((second, step));
                let times = std::mem::take(&mut slot.times);
                let mut run = self.times.lock().unwrap_or_else(|p| p.into_inner());
                for (into, from) in run.values_mut().zip(times.values()) {
                    into.add(from);
                }
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

    /// Sums every user's slot; a request still in flight (its user dropped without being
    /// cancelled) is counted as unanswered at the end.
    pub fn collect(&self) -> Collected {
        for i in 0..self.slots.len() {
            self.unanswered_at_end(i);
        }
        let mut out = Collected {
            paced: self.schedule.is_some(),
            ..Collected::default()
        };
        let mut times = std::mem::take(&mut *self.times.lock().unwrap_or_else(|p| p.into_inner()));
        for slot in self.slots.iter() {
            let mut data = slot.0.lock().unwrap_or_else(|p| p.into_inner());
            for (sum, t) in out.tallies.values_mut().zip(data.tallies.values()) {
                sum.add(t);
            }
            for (sum, t) in times.values_mut().zip(data.times.values()) {
                sum.add(t);
            }
            out.ledger.extend(data.ledger.iter().map(|(k, v)| (*k, *v)));
            if let Some((second, step)) = data.second.take() {
                self.lock_timeline().add(second, &step);
            }
        }
        out.times = times;
        out.timeline = self
            .lock_timeline()
            .summary()
            .ended_at(self.started.elapsed());
        out.answer_gaps = merge_gaps(&self.gaps.lock().unwrap_or_else(|p| p.into_inner()));
        out.oldest_unanswered_us = self.oldest_unanswered_us.load(Ordering::Relaxed);
        out
    }

    /// The times every user has handed to the run so far (a user's current second not
    /// included), for the live metrics endpoint.
    pub(super) fn running_times(&self) -> PerOp<Times> {
        self.times.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Each user's tallies, its current second's times and whether a request of it is in
    /// flight, one user at a time (each user's lock held only while `f` reads it).
    pub(super) fn each_user(&self, mut f: impl FnMut(&PerOp<Tally>, &PerOp<Times>, bool)) {
        for slot in self.slots.iter() {
            let data = slot.0.lock().unwrap_or_else(|p| p.into_inner());
            f(&data.tallies, &data.times, data.pending.is_some());
        }
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

/// How a request in flight ended.
#[derive(Debug, Clone, Copy)]
enum Ended {
    Answered(Exchange),
    /// Without an answer, of this kind.
    NoAnswer(TransportKind),
}

/// Stretches without an answer, each `[from, to)` in microseconds as a waiting request saw it
/// with the requests in flight at its end, merged where they overlap: seconds since the load
/// began, with the most requests waiting at once.
pub(super) fn merge_gaps(gaps: &[(u64, u64, u64)]) -> Vec<AnswerGap> {
    let mut sorted = gaps.to_vec();
    sorted.sort_unstable();
    let mut merged: Vec<(u64, u64, u64)> = Vec::new();
    for (from, to, waiting) in sorted {
        match merged.last_mut() {
            Some(last) if from <= last.1 => {
                last.1 = last.1.max(to);
                last.2 = last.2.max(waiting);
            }
            _ => merged.push((from, to, waiting)),
        }
    }
    let secs = |us: u64| (us as f64 / 1e5).round() / 10.0;
    merged
        .into_iter()
        .map(|(from, to, waiting)| AnswerGap {
            from_secs: secs(from),
            to_secs: secs(to),
            secs: secs(to - from),
            requests_waiting: waiting,
        })
        .collect()
}
