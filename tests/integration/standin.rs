//! A stand-in of the API with exactly one defect (or none, the control): a small axum server
//! on 127.0.0.1 that answers the four operations the way the docs say, unless its [`Defect`]
//! says otherwise. The load verdict tests point `pushcheck load` at it.
//!
//! Its registrations are `r0` … `r{n-1}` of the application with app code `app`; `feed_file`
//! writes them as a load feed. Times of the ramp defects count from the first API request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

/// What the stand-in gets wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Defect {
    /// Nothing: the control.
    None,
    /// 500 (documented legacy body) during the first `RAMP` of traffic, then right.
    ErrorsDuringRamp,
    /// 300 ms answers during the first `RAMP` of traffic, then fast.
    SlowDuringRamp,
    /// Every 2xx JSON answer says `Content-Type: text/plain`.
    TextPlain,
    /// personalize answers another person than the identity sent.
    WrongPerson,
    /// personalize answers `{}`.
    EmptyPerson,
    /// PATCH answers lack the required `applicationId`.
    BrokenPatchAnswers,
    /// depersonalize answers a JSON body instead of an empty one.
    DepersonalizeBody,
    /// Every API request gets a 500 (documented legacy body).
    AllErrors,
    /// GET answers 503 (no documented body); writes work.
    ReadsUnavailable,
    /// 401 to every request.
    Unauthorized,
    /// PATCH answers the write but does not store it.
    LosesWrites,
    /// 500 to 0.7% of requests (every 143rd): under `error-rate<1%`.
    RareErrors,
    /// GET answers put the request's `Authorization` header into `isPrimary` (a string where a
    /// boolean belongs) and `registrationId`: a break whose message would carry the secret.
    EchoesAuth,
    /// 2 ms answers, and from 1.2 s to 2.2 s after the first request every answer is held until
    /// 2.2 s: a stall that users' measured times barely show (they wait it out once).
    Stall,
    /// Every answer after 5 ms: a healthy server for the adjusted figures (the control of the
    /// stall under an arrival rate).
    FiveMs,
    /// From 1 s after the first request, answers stop: each is held 20 s (longer than any run
    /// that meets it), so the few that come trickle out long after their users gave up.
    Trickle,
}

/// How long [`Defect::Trickle`] answers normally before it stops.
pub const TRICKLE_FROM: Duration = Duration::from_secs(1);

/// How long the ramp defects last.
pub const RAMP: Duration = Duration::from_millis(1500);

#[derive(Debug)]
struct Inner {
    defect: Defect,
    first: Mutex<Option<Instant>>,
    count: std::sync::atomic::AtomicU64,
    registrations: Mutex<HashMap<String, Value>>,
}

type Shared = Arc<Inner>;

/// A running stand-in; stops when dropped.
#[derive(Debug)]
pub struct StandIn {
    pub base_url: String,
    task: tokio::task::JoinHandle<()>,
    inner: Shared,
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl StandIn {
    /// Starts a stand-in with `n` registrations and `defect`, on the current runtime.
    pub async fn start(defect: Defect, n: usize) -> StandIn {
        let registrations = (0..n)
            .map(|i| {
                let id = format!("r{i}");
                (
                    id.clone(),
                    json!({"registrationId": id, "applicationId": "app", "isPrimary": false,
                           "additionalData": {}}),
                )
            })
            .collect();
        let inner = Arc::new(Inner {
            defect,
            first: Mutex::new(None),
            count: std::sync::atomic::AtomicU64::new(0),
            registrations: Mutex::new(registrations),
        });
        let base = "/people/2/contactInformation/push/{id}";
        let app = Router::new()
            .route(base, get(get_one).patch(patch_one))
            .route(&format!("{base}/personalize"), post(personalize))
            .route(&format!("{base}/depersonalize"), post(depersonalize))
            .with_state(Arc::clone(&inner));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the stand-in");
        let base_url = format!("http://{}", listener.local_addr().expect("address"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        StandIn {
            base_url,
            task,
            inner,
        }
    }

    /// Writes a load feed of every registration (`ID,app`) into `dir`.
    pub fn feed_file(&self, dir: &crate::util::TempDir) -> String {
        let ids: Vec<String> = self
            .inner
            .registrations
            .lock()
            .expect("state")
            .keys()
            .map(|id| format!("{id},app"))
            .collect();
        dir.write("feed.txt", ids.join("\n") + "\n")
    }
}

fn legacy(status: StatusCode, id: &str, text: &str) -> Response {
    let body = json!({"requestError": {"serviceException": {"messageId": id, "text": text}}});
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// The answer every request gets before its operation runs, if the defect decides it.
fn intercept(s: &Inner, headers: &HeaderMap) -> Option<Response> {
    let first = *s
        .first
        .lock()
        .expect("clock")
        .get_or_insert_with(Instant::now);
    let n = s.count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    if s.defect == Defect::Unauthorized || !headers.contains_key(header::AUTHORIZATION) {
        return Some(legacy(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "Invalid login details",
        ));
    }
    let in_ramp = first.elapsed() < RAMP;
    let error = match s.defect {
        Defect::AllErrors => true,
        Defect::ErrorsDuringRamp => in_ramp,
        Defect::RareErrors => n % 143 == 142,
        _ => false,
    };
    error.then(|| {
        legacy(
            StatusCode::INTERNAL_SERVER_ERROR,
            "GENERAL_ERROR",
            "Something went wrong",
        )
    })
}

async fn slow_if_ramp(s: &Inner) {
    let first = *s
        .first
        .lock()
        .expect("clock")
        .get_or_insert_with(Instant::now);
    match s.defect {
        Defect::SlowDuringRamp if first.elapsed() < RAMP => {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        Defect::FiveMs => tokio::time::sleep(Duration::from_millis(5)).await,
        Defect::Trickle if first.elapsed() >= TRICKLE_FROM => {
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
        Defect::Stall => {
            // goose measures a user's cadence in whole milliseconds: 2 ms gives it one.
            tokio::time::sleep(Duration::from_millis(2)).await;
            let (from, until) = (Duration::from_millis(1200), Duration::from_millis(2200));
            let now = first.elapsed();
            if now >= from && now < until {
                tokio::time::sleep(until - now).await;
            }
        }
        _ => {}
    }
}

fn ok_json(s: &Inner, body: &Value) -> Response {
    let ct = if s.defect == Defect::TextPlain {
        "text/plain"
    } else {
        "application/json"
    };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, ct)],
        body.to_string(),
    )
        .into_response()
}

fn not_found(id: &str) -> Response {
    let body = json!({"errorCode": 48013, "errorMessage": format!("registration {id} not found")});
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn get_one(State(s): State<Shared>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    if let Some(r) = intercept(&s, &headers) {
        return r;
    }
    slow_if_ramp(&s).await;
    if s.defect == Defect::ReadsUnavailable {
        return (StatusCode::SERVICE_UNAVAILABLE, "try later").into_response();
    }
    let found = s.registrations.lock().expect("state").get(&id).cloned();
    match found {
        Some(mut r) if s.defect == Defect::EchoesAuth => {
            let auth = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            r["isPrimary"] = json!(auth);
            r["registrationId"] = json!(auth);
            ok_json(&s, &r)
        }
        Some(r) => ok_json(&s, &r),
        None => not_found(&id),
    }
}

async fn patch_one(
    State(s): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = intercept(&s, &headers) {
        return r;
    }
    slow_if_ramp(&s).await;
    let Ok(patch) = serde_json::from_slice::<Value>(&body) else {
        return legacy(StatusCode::BAD_REQUEST, "BAD_REQUEST", "not JSON");
    };
    let mut state = s.registrations.lock().expect("state");
    let Some(stored) = state.get_mut(&id) else {
        return not_found(&id);
    };
    let mut updated = stored.clone();
    if let Some(data) = patch.get("additionalData").and_then(Value::as_object) {
        for (k, v) in data {
            if v.is_null() {
                updated["additionalData"]
                    .as_object_mut()
                    .map(|m| m.remove(k));
            } else {
                updated["additionalData"][k] = v.clone();
            }
        }
    }
    if let Some(p) = patch.get("isPrimary") {
        updated["isPrimary"] = p.clone();
    }
    if s.defect != Defect::LosesWrites {
        *stored = updated.clone();
    }
    drop(state);
    if s.defect == Defect::BrokenPatchAnswers {
        updated.as_object_mut().map(|m| m.remove("applicationId"));
    }
    ok_json(&s, &updated)
}

async fn personalize(
    State(s): State<Shared>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = intercept(&s, &headers) {
        return r;
    }
    slow_if_ramp(&s).await;
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let external_id = request["identity"]["externalId"].clone();
    {
        let mut state = s.registrations.lock().expect("state");
        let Some(stored) = state.get_mut(&id) else {
            return not_found(&id);
        };
        if query.get("setDeviceAsPrimary").is_some_and(|v| v == "true") {
            stored["isPrimary"] = json!(true);
        }
    }
    let person = match s.defect {
        Defect::EmptyPerson => json!({}),
        Defect::WrongPerson => {
            json!({"externalId": "somebody-else", "contactInformation": {"phones": [], "emails": []}})
        }
        _ => json!({"externalId": external_id, "contactInformation": {"phones": [], "emails": []}}),
    };
    ok_json(&s, &person)
}

async fn depersonalize(
    State(s): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = intercept(&s, &headers) {
        return r;
    }
    slow_if_ramp(&s).await;
    if !s.registrations.lock().expect("state").contains_key(&id) {
        return not_found(&id);
    }
    if s.defect == Defect::DepersonalizeBody {
        return ok_json(&s, &json!({"depersonalized": true}));
    }
    StatusCode::OK.into_response()
}
