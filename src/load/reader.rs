//! Reading devices back after (and, live, before) a load: [`Reader`], retried and paced
//! re-reads through `api::Client`, run a few at a time over the feed ([`each_written`]). Shared
//! by the lost-update check (`after`), the live restore (`restore`) and the first probe of the
//! target (`prepare`); its own file so that none of those imports another for it.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Semaphore;

use crate::api::Operation;
use crate::api::client::{AppCode, Call, Client, ClientError, Response};
use crate::load::feed::{Feed, FeedEntry};
use crate::load::tally::TransportKind;

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
