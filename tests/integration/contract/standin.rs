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
        /// A PATCH whose additionalData holds a `null` is answered 400 (documented legacy body)
        /// and not forwarded: a correct target that refuses null (the docs never say null
        /// deletes).
        NullRefused,
        /// A custom attribute sent as `null` is stored as null: later answers show it with the
        /// value null until a PATCH writes it again (a correct target, by the docs).
        NullStored,
        /// A PATCH with `isPrimary: true` is answered 400 (documented legacy body) and not
        /// forwarded: a target that does not let a device of nobody be primary (the docs do not
        /// say).
        PrimaryTrueRefused,
    }

    /// The registration ID of a request path (`/people/2/…/push/{id}[/…][?…]`).
    fn registration_of(target: &str) -> Option<String> {
        let rest = target
            .strip_prefix(pushcheck::api::BASE_PATH)?
            .strip_prefix('/')?;
        let id = rest.split(['/', '?']).next()?;
        (!id.is_empty()).then(|| id.to_owned())
    }

    /// The names a PATCH body sends as `null` in additionalData, and those it sends a value.
    fn nulls_and_values(body: &[u8]) -> (Vec<String>, Vec<String>) {
        let mut nulls = Vec::new();
        let mut values = Vec::new();
        if let Ok(v) = serde_json::from_slice::<Value>(body)
            && let Some(data) = v.get("additionalData").and_then(Value::as_object)
        {
            for (k, value) in data {
                if value.is_null() {
                    nulls.push(k.clone());
                } else {
                    values.push(k.clone());
                }
            }
        }
        (nulls, values)
    }

    /// A 400 with the documented legacy body, `BAD_REQUEST`.
    fn bad_request(text: &str) -> Response {
        let body = serde_json::json!({"requestError": {"serviceException": {
            "messageId": "BAD_REQUEST", "text": text}}});
        Response::builder()
            .status(400)
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
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
        /// `NullStored`: (registration, attribute) stored as null.
        stored_nulls: Mutex<std::collections::BTreeSet<(String, String)>>,
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
            stored_nulls: Mutex::default(),
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
        let registration = registration_of(&target);
        match shared.defect {
            Defect::NullRefused if method == "PATCH" && !nulls_and_values(&body).0.is_empty() => {
                return bad_request("additionalData: a value may not be null");
            }
            Defect::PrimaryTrueRefused
                if method == "PATCH"
                    && serde_json::from_slice::<Value>(&body)
                        .is_ok_and(|v| v.get("isPrimary") == Some(&Value::Bool(true))) =>
            {
                return bad_request("isPrimary: a device of nobody cannot be primary");
            }
            Defect::NullStored if method == "PATCH" => {
                let (nulls, values) = nulls_and_values(&body);
                if let Some(id) = &registration {
                    let mut stored = shared.stored_nulls.lock().expect("nulls");
                    for k in values {
                        stored.remove(&(id.clone(), k));
                    }
                    for k in nulls {
                        stored.insert((id.clone(), k));
                    }
                }
            }
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
        if shared.defect == Defect::NullStored
            && status == 200
            && (method == "GET" || method == "PATCH")
            && let Some(id) = &registration
            && let Ok(mut v) = serde_json::from_slice::<Value>(&bytes)
        {
            let stored = shared.stored_nulls.lock().expect("nulls");
            for (_, k) in stored.iter().filter(|(r, _)| r == id) {
                if !v["additionalData"].is_object() {
                    v["additionalData"] = serde_json::json!({});
                }
                v["additionalData"][k] = Value::Null;
            }
            bytes = serde_json::to_vec(&v).expect("json");
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
