//! Stand-ins built on the simulator: [`LiveSim`], a simulator started apart that plays a live
//! account, and [`proxy`], a proxy in front of it that plants exactly one defect, or holds one
//! request's answer (after forwarding it) so a test can press Ctrl-C at that point.

use serde_json::{Value, json};

pub mod proxy {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use axum::body::{Body, to_bytes};
    use axum::extract::{Request, State};
    use axum::response::Response;
    use serde_json::Value;

    /// Which request a hook stops at: `(method, path and query, body)`.
    pub type Matcher = Box<dyn Fn(&str, &str, &[u8]) -> bool + Send + Sync>;

    /// The one thing the proxy breaks.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Defect {
        /// A correct target (the control).
        None,
        /// PATCH answers the isPrimary it was sent but does not store it.
        IsPrimaryNotStored,
        /// `forceDepersonalize=false` is treated as true: a device of another person is moved.
        ForceIgnored,
        /// Every error body echoes the request's Authorization header.
        EchoAuthorization,
        /// Custom attributes sent as `null` in a PATCH are dropped, never deleted.
        NullIgnored,
        /// A personalize with `forceDepersonalize=false` is refused as it should be, but the
        /// device is moved anyway.
        RefusedButMoved,
        /// Correct by the docs, choosing otherwise than the simulator: a PATCH whose
        /// additionalData holds a `null` is refused (400, documented legacy body).
        NullRefused,
        /// Correct by the docs, choosing otherwise: a custom attribute sent as `null` is stored
        /// as `null` (reads back as `null`) instead of deleted.
        NullStored,
        /// Correct by the docs, choosing otherwise: `isPrimary: true` on a device that belongs
        /// to nobody is refused (400).
        PrimaryUnownedRefused,
        /// Correct by the docs, choosing otherwise: every PATCH with `isPrimary: true` is
        /// refused (400) and not forwarded — the load's stand-in for a target that does not let
        /// a device of nobody be primary.
        PrimaryTrueRefused,
        /// depersonalize answers 200 and does nothing.
        DepersonalizeNoop,
        /// Every GET answers another application's `applicationId` (other answers are right).
        OtherApplicationIdOnGet,
        /// GET answers 200 with an empty body.
        GetEmptyBody,
        /// GET answers 200 with a body that is not UTF-8.
        GetNotUtf8,
    }

    /// A stored `null` travels upstream as this string and comes back as `null`.
    const NULL_SENTINEL: &str = "__standin_null__";

    /// The registration ID in a request path (`…/push/{id}[/personalize|/depersonalize]`).
    fn registration_of(path: &str) -> String {
        let path = path.split('?').next().unwrap_or_default();
        let rest = path
            .strip_prefix(pushcheck::api::BASE_PATH)
            .unwrap_or_default()
            .trim_start_matches('/');
        rest.split('/').next().unwrap_or_default().to_owned()
    }

    /// Whether the upstream knows registration `id`.
    async fn exists(shared: &Shared, headers: &axum::http::HeaderMap, id: &str) -> bool {
        let mut get = shared.http.get(format!(
            "{}{}/{id}",
            shared.upstream,
            pushcheck::api::BASE_PATH
        ));
        for name in ["authorization", "appcode"] {
            if let Some(v) = headers.get(name) {
                get = get.header(name, v.as_bytes());
            }
        }
        get.send().await.is_ok_and(|r| r.status() == 200)
    }

    fn refused(text: &str) -> Response {
        let body = serde_json::json!({"requestError": {"serviceException": {
            "messageId": "BAD_REQUEST", "text": text}}});
        Response::builder()
            .status(400)
            .header("content-type", "application/json")
            .body(Body::from(serde_json::to_vec(&body).expect("json")))
            .expect("response")
    }

    fn ok_raw(bytes: Vec<u8>) -> Response {
        Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(Body::from(bytes))
            .expect("response")
    }

    /// A point to stop at: the first request for which `matches(method, path+query, body)`
    /// holds is forwarded, then `signal` gets a message and the answer is held for `hold`.
    /// Hooks are armed one after the other, in the order given.
    pub struct Hook {
        pub matches: Matcher,
        pub signal: std::sync::mpsc::Sender<String>,
        pub hold: Duration,
    }

    struct Shared {
        upstream: String,
        defect: Defect,
        http: reqwest::Client,
        hooks: Mutex<Vec<Hook>>,
        /// Devices personalized through the proxy and not depersonalized since.
        owned: Mutex<std::collections::HashSet<String>>,
    }

    /// Starts the proxy on 127.0.0.1 (a free port) on `runtime`; returns its base URL.
    pub fn start(
        runtime: &tokio::runtime::Runtime,
        upstream: &str,
        defect: Defect,
        hooks: Vec<Hook>,
    ) -> String {
        let shared = Arc::new(Shared {
            upstream: upstream.to_owned(),
            defect,
            http: reqwest::Client::new(),
            hooks: Mutex::new(hooks),
            owned: Mutex::new(std::collections::HashSet::new()),
        });
        runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("addr");
            let app = axum::Router::new().fallback(forward).with_state(shared);
            tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            });
            format!("http://{addr}")
        })
    }

    async fn forward(State(shared): State<Arc<Shared>>, request: Request) -> Response {
        let method = request.method().clone();
        let mut target = request
            .uri()
            .path_and_query()
            .map_or("/".to_owned(), |p| p.as_str().to_owned());
        let headers = request.headers().clone();
        let mut body = to_bytes(request.into_body(), 8 << 20)
            .await
            .map(|b| b.to_vec())
            .unwrap_or_default();
        let mut answer_is_primary = None;
        let id = registration_of(&target);
        let is_get = method == "GET";
        let is_depersonalize = method == "POST" && target.contains("/depersonalize");
        let is_personalize = method == "POST" && target.contains("/personalize");
        let parsed = serde_json::from_slice::<Value>(&body).ok();
        let has_null = parsed
            .as_ref()
            .and_then(|v| v.get("additionalData"))
            .and_then(Value::as_object)
            .is_some_and(|d| d.values().any(Value::is_null));
        // An unknown registration must still answer 48013, so only a known one is refused.
        let known = shared.defect == Defect::PrimaryUnownedRefused
            && method == "PATCH"
            && exists(&shared, &headers, &id).await;
        match shared.defect {
            Defect::NullRefused if method == "PATCH" && has_null => {
                return refused("null is not a valid custom attribute value");
            }
            Defect::NullStored if method == "PATCH" && has_null => {
                if let Some(mut v) = parsed.clone()
                    && let Some(data) = v.get_mut("additionalData").and_then(Value::as_object_mut)
                {
                    for value in data.values_mut().filter(|x| x.is_null()) {
                        *value = Value::String(NULL_SENTINEL.to_owned());
                    }
                    body = serde_json::to_vec(&v).expect("json");
                }
            }
            Defect::PrimaryUnownedRefused
                if method == "PATCH"
                    && parsed.as_ref().and_then(|v| v.get("isPrimary"))
                        == Some(&Value::Bool(true))
                    && !shared.owned.lock().expect("owned").contains(&id)
                    && known =>
            {
                return refused("isPrimary needs a device that belongs to a person");
            }
            Defect::PrimaryTrueRefused
                if method == "PATCH"
                    && parsed.as_ref().and_then(|v| v.get("isPrimary"))
                        == Some(&Value::Bool(true)) =>
            {
                return refused("isPrimary: a device of nobody cannot be primary");
            }
            Defect::DepersonalizeNoop if is_depersonalize => return ok_raw(Vec::new()),
            Defect::GetEmptyBody if is_get => return ok_raw(Vec::new()),
            Defect::GetNotUtf8 if is_get => return ok_raw(vec![0xff, 0xfe, 0x7b, 0xc3]),
            Defect::IsPrimaryNotStored if method == "PATCH" => {
                if let Ok(Value::Object(mut map)) = serde_json::from_slice::<Value>(&body)
                    && let Some(p) = map.remove("isPrimary")
                {
                    answer_is_primary = Some(p);
                    body = serde_json::to_vec(&map).expect("json");
                }
            }
            Defect::ForceIgnored => {
                target = target.replace("forceDepersonalize=false", "forceDepersonalize=true");
            }
            Defect::NullIgnored if method == "PATCH" => {
                if let Ok(mut v) = serde_json::from_slice::<Value>(&body)
                    && let Some(data) = v.get_mut("additionalData").and_then(Value::as_object_mut)
                {
                    data.retain(|_, value| !value.is_null());
                    body = serde_json::to_vec(&v).expect("json");
                }
            }
            _ => {}
        }
        let mut outgoing = shared
            .http
            .request(method.clone(), format!("{}{target}", shared.upstream))
            .body(body.clone());
        for name in ["authorization", "appcode", "content-type"] {
            if let Some(v) = headers.get(name) {
                outgoing = outgoing.header(name, v.as_bytes());
            }
        }
        let Ok(upstream) = outgoing.send().await else {
            return Response::builder()
                .status(502)
                .body(Body::empty())
                .expect("response");
        };
        let status = upstream.status().as_u16();
        if status == 200 && is_personalize {
            shared.owned.lock().expect("owned").insert(id.clone());
        }
        if status == 200 && is_depersonalize {
            shared.owned.lock().expect("owned").remove(&id);
        }
        if shared.defect == Defect::RefusedButMoved
            && status == 400
            && target.contains("forceDepersonalize=false")
        {
            let forced = target.replace("forceDepersonalize=false", "forceDepersonalize=true");
            let mut again = shared
                .http
                .request(method.clone(), format!("{}{forced}", shared.upstream))
                .body(body.clone());
            for name in ["authorization", "appcode", "content-type"] {
                if let Some(v) = headers.get(name) {
                    again = again.header(name, v.as_bytes());
                }
            }
            let _ = again.send().await;
        }
        let content_type = upstream
            .headers()
            .get("content-type")
            .map(|v| v.as_bytes().to_vec());
        let mut bytes = upstream
            .bytes()
            .await
            .map(|b| b.to_vec())
            .unwrap_or_default();
        if let Some(p) = answer_is_primary
            && let Ok(mut v) = serde_json::from_slice::<Value>(&bytes)
            && status == 200
        {
            v["isPrimary"] = p;
            bytes = serde_json::to_vec(&v).expect("json");
        }
        if shared.defect == Defect::OtherApplicationIdOnGet
            && is_get
            && status == 200
            && let Ok(mut v) = serde_json::from_slice::<Value>(&bytes)
        {
            v["applicationId"] = Value::String("ANOTHER-APPLICATION".to_owned());
            bytes = serde_json::to_vec(&v).expect("json");
        }
        if shared.defect == Defect::NullStored {
            let text =
                String::from_utf8_lossy(&bytes).replace(&format!("\"{NULL_SENTINEL}\""), "null");
            bytes = text.into_bytes();
        }
        if shared.defect == Defect::EchoAuthorization && status >= 400 {
            let auth = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            bytes = serde_json::to_vec(&serde_json::json!({"requestError": {"serviceException": {
                "messageId": "GENERAL_ERROR",
                "text": format!("rejected request with Authorization: {auth}")}}}))
            .expect("json");
        }
        let hook = {
            let mut hooks = shared.hooks.lock().expect("hooks");
            let armed = hooks
                .first()
                .is_some_and(|h| (h.matches)(method.as_str(), &target, &body));
            armed.then(|| hooks.remove(0))
        };
        if let Some(hook) = hook {
            let _ = hook.signal.send(format!("{method} {target}"));
            tokio::time::sleep(hook.hold).await;
        }
        let mut builder = Response::builder().status(status);
        if let Some(ct) = content_type {
            builder = builder.header("content-type", ct);
        }
        builder.body(Body::from(bytes)).expect("response")
    }
}

/// A simulator standing in for a live account, on its own runtime.
pub struct LiveSim {
    pub runtime: tokio::runtime::Runtime,
    pub sim: Option<pushcheck::mock::RunningSimulator>,
    pub base_url: String,
    pub app: String,
    pub key: String,
    pub ids: Vec<String>,
}

impl LiveSim {
    pub fn start(devices: usize) -> LiveSim {
        LiveSim::start_with(devices, Vec::new())
    }

    /// With these credentials (the simulator's local ones when empty).
    pub fn start_with(
        devices: usize,
        credentials: Vec<pushcheck::api::auth::Credentials>,
    ) -> LiveSim {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let mut config = pushcheck::mock::SimulatorConfig {
            seed_registrations: 10,
            ..pushcheck::mock::SimulatorConfig::default()
        };
        if !credentials.is_empty() {
            config.credentials = credentials;
        }
        let sim = runtime
            .block_on(pushcheck::mock::Simulator::start(config))
            .expect("simulator");
        let facts = sim.facts().clone();
        let (_, listing) = sim.registrations(0, 10);
        let app = facts.applications[0].app_code.clone();
        let ids = listing
            .iter()
            .filter(|(_, a)| *a == app)
            .skip(1)
            .take(devices)
            .map(|(id, _)| id.clone())
            .collect();
        let key = facts
            .credentials
            .iter()
            .find_map(|c| match c {
                pushcheck::api::auth::Credentials::ApiKey(k) => Some(k.expose().to_owned()),
                _ => None,
            })
            .unwrap_or_default();
        LiveSim {
            runtime,
            base_url: facts.base_url.clone(),
            sim: Some(sim),
            app,
            key,
            ids,
        }
    }

    pub fn client(&self) -> pushcheck::api::client::Client {
        let mut config = pushcheck::api::client::ClientConfig::new(self.base_url.clone());
        config.credentials = Some(pushcheck::api::auth::Credentials::ApiKey(
            pushcheck::api::auth::Secret::new(self.key.clone()),
        ));
        config.app_code = Some(self.app.clone());
        pushcheck::api::client::Client::new(config).expect("client")
    }

    pub fn send(&self, call: pushcheck::api::client::Call) -> (u16, Value) {
        let client = self.client();
        self.runtime.block_on(async {
            let r = client.send(&call).await.expect("response");
            (
                r.status,
                serde_json::from_slice(&r.body).unwrap_or(Value::Null),
            )
        })
    }

    /// Every device's whole registration as GET shows it.
    pub fn states(&self) -> Vec<Value> {
        use pushcheck::api::Operation;
        use pushcheck::api::client::Call;
        self.ids
            .iter()
            .map(|id| self.send(Call::new(Operation::Get, id.clone())).1)
            .collect()
    }

    /// Gives the devices non-default originals: #0 registrationEnabled false and a custom
    /// attribute, #1 primary, #2 (if any) nothing at all (no additionalData).
    pub fn seed_originals(&self) {
        use pushcheck::api::Operation;
        use pushcheck::api::client::Call;
        let bodies = [
            json!({"systemData": {"registrationEnabled": false}, "additionalData": {"owner": "qa", "level": 3}}),
            json!({"isPrimary": true, "additionalData": {"team": "mobile"}}),
        ];
        for (id, body) in self.ids.iter().zip(bodies) {
            let (status, _) = self.send(Call::new(Operation::Patch, id.clone()).json(body));
            assert_eq!(status, 200);
        }
    }

    /// Whether a device belongs to nobody, as far as the API lets one read it: a personalize
    /// with a fresh phone and no force succeeds only on a device of nobody (then undone).
    pub fn belongs_to_nobody(&self, id: &str, n: usize) -> bool {
        use pushcheck::api::Operation;
        use pushcheck::api::client::Call;
        let phone = format!("3859{:08}", 10_000_000 + n);
        let call = Call::new(Operation::Personalize, id.to_owned())
            .json(json!({"identity": {"phoneNumber": phone}}));
        let (status, _) = self.send(call);
        if status == 200 {
            self.send(Call::new(Operation::Depersonalize, id.to_owned()));
        }
        status == 200
    }

    /// A load feed of every device: `ID,APPCODE` lines.
    pub fn feed(&self) -> String {
        self.ids
            .iter()
            .map(|id| format!("{id},{}\n", self.app))
            .collect()
    }

    pub fn args<'a>(&'a self, target: &'a str) -> Vec<&'a str> {
        let mut args = vec![
            "contract",
            "--target",
            target,
            "--app-code",
            &self.app,
            "--api-key",
            &self.key,
        ];
        for id in &self.ids {
            args.extend(["--registration-id", id.as_str()]);
        }
        args
    }
}

impl Drop for LiveSim {
    fn drop(&mut self) {
        if let Some(sim) = self.sim.take() {
            let _ = self.runtime.block_on(sim.shutdown());
        }
    }
}

/// A device's state with pushcheck's own custom attributes (`api::footprint`) taken out, and an
/// empty `additionalData` as absent: what must be as found whatever the target keeps.
pub fn without_ours(state: &Value) -> Value {
    let mut s = state.clone();
    if let Some(data) = s.get_mut("additionalData").and_then(Value::as_object_mut) {
        data.retain(|k, _| !pushcheck::api::footprint::is_ours(k));
        if data.is_empty() {
            s.as_object_mut().map(|o| o.remove("additionalData"));
        }
    }
    s
}

/// pushcheck's own attribute names on each device.
pub fn ours(states: &[Value]) -> Vec<Vec<String>> {
    states
        .iter()
        .map(|s| {
            s.get("additionalData")
                .and_then(Value::as_object)
                .map(|d| {
                    d.keys()
                        .filter(|k| pushcheck::api::footprint::is_ours(k))
                        .cloned()
                        .collect()
                })
                .unwrap_or_default()
        })
        .collect()
}
