//! The embedded simulator (`pushcheck mock`): every operation's success and error answers,
//! validated against `schemas/` in lenient and strict mode and pinned by snapshots; the
//! documented rules, alone and under concurrent load; a table of hostile inputs; faults; the
//! admin surface; and the CLI run as a real process.

// Test code: an unwrap that fails is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use pushcheck::api::{APP_CODE_HEADER, Operation, docs, error_code, message_id};
use pushcheck::mock::{
    ADMIN_INVARIANTS, ADMIN_REGISTRATIONS, ADMIN_RESET, Application, Faults, RunningSimulator,
    SimulatorConfig, Stall,
};
use pushcheck::schema::{Mode, registry};
use reqwest::{Client, Method};
use serde_json::{Value, json};

use crate::util::{
    LOCAL_AUTH, run_cli, seeded_registration_ids, simulator_invariants, start_default_simulator,
    start_simulator,
};

// ---------------------------------------------------------------------------------------------
// Helpers

/// One answer: status, the raw body, and the body as JSON (`null` when empty or not JSON).
#[derive(Debug)]
struct Answer {
    status: u16,
    raw: Vec<u8>,
    body: Value,
}

impl Answer {
    fn message_id(&self) -> &str {
        self.body
            .pointer("/requestError/serviceException/messageId")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    fn error_code(&self) -> i64 {
        self.body["errorCode"].as_i64().unwrap_or(0)
    }
}

/// A client for one simulator with chosen credentials and AppCode.
#[derive(Debug, Clone)]
struct Api {
    client: Client,
    base: String,
    auth: Option<String>,
    app_code: Option<String>,
}

impl Api {
    fn new(sim: &RunningSimulator) -> Api {
        Api {
            client: Client::new(),
            base: sim.base_url().to_owned(),
            auth: Some(LOCAL_AUTH.to_owned()),
            app_code: Some(sim.facts().applications[0].app_code.clone()),
        }
    }

    fn with_auth(&self, auth: Option<&str>) -> Api {
        Api {
            auth: auth.map(str::to_owned),
            ..self.clone()
        }
    }

    fn with_app_code(&self, app_code: Option<&str>) -> Api {
        Api {
            app_code: app_code.map(str::to_owned),
            ..self.clone()
        }
    }

    /// Calls `op` on registration `id`, with `query` (no `?`) and an optional JSON body.
    async fn call(&self, op: Operation, id: &str, query: &str, body: Option<&Value>) -> Answer {
        let mut path = op.path(id);
        if !query.is_empty() {
            path = format!("{path}?{query}");
        }
        let method = Method::from_bytes(op.method().as_bytes()).unwrap();
        let body = body.map(|b| serde_json::to_vec(b).unwrap());
        let mut headers = vec![];
        if body.is_some() {
            headers.push(("Content-Type", "application/json".to_owned()));
        }
        self.send(method, &path, &headers, body).await
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Option<Vec<u8>>,
    ) -> Answer {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(auth) = &self.auth {
            request = request.header("Authorization", auth);
        }
        if let Some(code) = &self.app_code {
            request = request.header(APP_CODE_HEADER, code);
        }
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request.send().await.expect("simulator answers");
        let status = response.status().as_u16();
        let raw = response.bytes().await.expect("body").to_vec();
        let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        Answer { status, raw, body }
    }
}

/// Every body must follow its schema in both modes.
#[track_caller]
fn assert_valid(schema: &str, body: &Value) {
    for mode in [Mode::Lenient, Mode::Strict] {
        let violations = registry().validate(schema, mode, body).unwrap();
        assert!(
            violations.is_empty(),
            "{schema} ({mode:?}) violated:\n{violations:#?}\nbody: {body:#}"
        );
    }
}

#[track_caller]
fn expect(answer: &Answer, status: u16, schema: &str) {
    assert_eq!(
        answer.status,
        status,
        "expected {status}, got {} with body {}",
        answer.status,
        String::from_utf8_lossy(&answer.raw)
    );
    assert_valid(schema, &answer.body);
}

/// Masks a registration ID, but only if it still is a string: a type change must show.
fn id_redaction() -> insta::internals::Redaction {
    insta::dynamic_redaction(|value, _path| match value.as_str() {
        Some(_) => insta::internals::Content::from("[registrationId]"),
        None => value,
    })
}

macro_rules! snapshot {
    ($name:expr, $body:expr) => {
        insta::assert_json_snapshot!($name, $body, {
            ".registrationId" => id_redaction(),
            ".contactInformation.push[].registrationId" => id_redaction(),
        })
    };
}

/// A simulator with the doc's application and a second one, `other-app`.
async fn two_app_simulator(seeded: usize) -> RunningSimulator {
    start_simulator(SimulatorConfig {
        applications: vec![Application::doc(), Application::from_code("other-app")],
        seed_registrations: seeded,
        seed: 42,
        ..SimulatorConfig::default()
    })
    .await
}

/// Registration IDs of the feed that belong to `app_code`.
async fn ids_of_app(base: &str, app_code: &str) -> Vec<String> {
    let feed: Value = reqwest::get(format!("{base}{ADMIN_REGISTRATIONS}?limit=1000"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    feed["registrations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["appCode"] == app_code)
        .map(|r| r["registrationId"].as_str().unwrap().to_owned())
        .collect()
}

fn doc_json(name: &str) -> Value {
    serde_json::from_str(docs::example(name).unwrap().json).unwrap()
}

fn personalize_body(identity: Value) -> Value {
    json!({ "identity": identity })
}

// ---------------------------------------------------------------------------------------------
// Every answer, in its documented shape

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_success_answer_follows_its_schema() {
    let sim = two_app_simulator(20).await;
    let api = Api::new(&sim);
    let ids = ids_of_app(sim.base_url(), &sim.facts().applications[0].app_code).await;
    let id = &ids[1];

    let get = api.call(Operation::Get, id, "", None).await;
    expect(&get, 200, "push-registration");
    snapshot!("get_ok", &get.body);

    let patch = api
        .call(
            Operation::Patch,
            id,
            "",
            Some(&json!({
                "isPrimary": true,
                "systemData": { "registrationEnabled": false },
                "additionalData": { "receiveOTP": true, "tier": "gold", "visits": 3, "since": "2024-02-29" }
            })),
        )
        .await;
    expect(&patch, 200, "push-registration");
    assert_eq!(patch.body["isPrimary"], true);
    assert_eq!(patch.body["systemData"]["registrationEnabled"], false);
    snapshot!("patch_ok", &patch.body);

    let personalize = api
        .call(
            Operation::Personalize,
            id,
            "forceDepersonalize=true&returnPush=true&setDeviceAsPrimary=true",
            Some(&json!({
                "identity": { "phoneNumber": "79810000000", "email": "my.email@gmail.com", "externalId": "jdoe" },
                "attributes": {
                    "firstName": "John", "lastName": "Doe", "middleName": "Q", "birthday": "1985-07-12",
                    "gender": "MALE", "tags": ["Pizza", "Sports"], "customAttributes": { "vip": true }
                }
            })),
        )
        .await;
    expect(&personalize, 200, "personalize-response");
    assert_eq!(personalize.body["type"], "CUSTOMER");
    assert_eq!(
        personalize.body["contactInformation"]["push"][0]["isPrimary"],
        true
    );
    snapshot!("personalize_ok", &personalize.body);

    let depersonalize = api.call(Operation::Depersonalize, id, "", None).await;
    assert_eq!(depersonalize.status, 200);
    assert!(
        depersonalize.raw.is_empty(),
        "depersonalize answers an empty body"
    );

    // The doc's own requests, replayed on the doc's registration, give the doc's answers.
    let doc_id = "8621824C-86B2-41F7-BF6F-20D3B1426005";
    let get = api.call(Operation::Get, doc_id, "", None).await;
    assert_eq!(get.body, doc_json("get-response"));
    let patch = api
        .call(
            Operation::Patch,
            doc_id,
            "",
            Some(&doc_json("patch-request")),
        )
        .await;
    assert_eq!(
        patch.body,
        doc_json("patch-response"),
        "the isPrmary typo is ignored"
    );
    let personalize = api
        .call(
            Operation::Personalize,
            doc_id,
            "forceDepersonalize=true",
            Some(&doc_json("personalize-request")),
        )
        .await;
    expect(&personalize, 200, "personalize-response");
    assert_eq!(personalize.body["tags"], json!(["Pizza", "Sports"]));
    assert!(simulator_invariants(sim.base_url()).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_answer_follows_its_schema() {
    let sim = two_app_simulator(20).await;
    let api = Api::new(&sim);
    let ids = ids_of_app(sim.base_url(), &sim.facts().applications[0].app_code).await;
    let other_ids = ids_of_app(sim.base_url(), "other-app").await;
    let id = &ids[1];

    let answer = api.with_auth(None).call(Operation::Get, id, "", None).await;
    expect(&answer, 401, "error-legacy");
    assert_eq!(answer.message_id(), message_id::UNAUTHORIZED);
    snapshot!("unauthorized", &answer.body);
    for wrong in [
        "App nope",
        "Basic cHVzaGNoZWNrOm5vcGU=",
        "Bearer",
        "pushcheck-local-key",
        "",
    ] {
        let answer = api
            .with_auth(Some(wrong))
            .call(Operation::Get, id, "", None)
            .await;
        expect(&answer, 401, "error-legacy");
    }
    for scheme in [
        "Basic cHVzaGNoZWNrOnB1c2hjaGVjaw==",
        "IBSSO pushcheck-local-ibsso",
        "Bearer pushcheck-local-bearer",
        "app pushcheck-local-key",
    ] {
        let answer = api
            .with_auth(Some(scheme))
            .call(Operation::Get, id, "", None)
            .await;
        expect(&answer, 200, "push-registration");
    }

    let answer = api
        .with_app_code(None)
        .call(Operation::Get, id, "", None)
        .await;
    expect(&answer, 400, "error-push");
    assert_eq!(answer.error_code(), error_code::APP_CODE_MISSING);
    snapshot!("app_code_missing", &answer.body);

    let answer = api
        .with_app_code(Some("no-such-app"))
        .call(Operation::Get, id, "", None)
        .await;
    expect(&answer, 400, "error-push");
    assert_eq!(answer.error_code(), error_code::APPLICATION_NOT_FOUND);
    snapshot!("application_not_found", &answer.body);

    for op in Operation::ALL {
        let body = op
            .request_schema()
            .map(|_| json!({ "identity": { "phoneNumber": "1" } }));
        let answer = api
            .call(op, "no-such-registration", "", body.as_ref())
            .await;
        expect(&answer, 400, "error-push");
        assert_eq!(
            answer.error_code(),
            error_code::REGISTRATION_NOT_FOUND,
            "{op:?}"
        );
        let answer = api.call(op, &other_ids[0], "", body.as_ref()).await;
        assert_eq!(
            answer.error_code(),
            error_code::REGISTRATION_NOT_FOUND,
            "{op:?} of another application"
        );
    }
    let answer = api
        .call(Operation::Get, "no-such-registration", "", None)
        .await;
    snapshot!("registration_not_found", &answer.body);

    let long_name = "n".repeat(257);
    let answer = api
        .call(
            Operation::Patch,
            id,
            "",
            Some(&json!({ "isPrimary": "yes", "additionalData": { long_name: 1, "big": "v".repeat(4097), "bad": { "nested": 1 } } })),
        )
        .await;
    expect(&answer, 400, "error-legacy");
    let fields = &answer.body["requestError"]["serviceException"]["validationErrors"];
    for field in ["/isPrimary", "/additionalData/big", "/additionalData/bad"] {
        assert!(fields.get(field).is_some(), "{field} named in {fields:#}");
    }
    assert!(
        fields
            .as_object()
            .unwrap()
            .keys()
            .any(|k| k.starts_with("/additionalData"))
    );
    snapshot!("validation_error", &answer.body);

    let answer = api
        .send(
            Method::PATCH,
            &Operation::Patch.path(id),
            &[("Content-Type", "application/json".into())],
            Some(b"{\"isPrimary\": tru".to_vec()),
        )
        .await;
    expect(&answer, 400, "error-legacy");
    snapshot!("malformed_json", &answer.body);

    // Personalize conflicts.
    let p = |identity: Value| personalize_body(identity);
    let ok = api
        .call(
            Operation::Personalize,
            &ids[2],
            "",
            Some(&p(json!({ "phoneNumber": "111", "externalId": "ext-a" }))),
        )
        .await;
    expect(&ok, 200, "personalize-response");
    let ok = api
        .call(
            Operation::Personalize,
            &ids[3],
            "",
            Some(&p(json!({ "email": "b@example.com" }))),
        )
        .await;
    expect(&ok, 200, "personalize-response");
    let cases = [
        (
            "ambiguous",
            &ids[4],
            json!({ "phoneNumber": "111", "email": "b@example.com" }),
            message_id::AMBIGUOUS_PERSONALIZE_CANDIDATES,
        ),
        (
            "impossible",
            &ids[2],
            json!({ "phoneNumber": "222" }),
            message_id::PERSONALIZATION_IMPOSSIBLE,
        ),
        (
            "merge_interrupted",
            &ids[5],
            json!({ "phoneNumber": "111", "externalId": "ext-b" }),
            message_id::USER_MERGE_INTERRUPTED,
        ),
        (
            "identity_invalid",
            &ids[5],
            json!({ "externalId": "NULL" }),
            message_id::USER_IDENTITY_INVALID,
        ),
        (
            "email_invalid",
            &ids[5],
            json!({ "email": "not-an-email" }),
            message_id::EMAIL_INVALID,
        ),
    ];
    for (name, id, identity, expected) in cases {
        let answer = api
            .call(Operation::Personalize, id, "", Some(&p(identity)))
            .await;
        expect(&answer, 400, "error-legacy");
        assert_eq!(answer.message_id(), expected, "{name}");
        snapshot!(format!("personalize_{name}"), &answer.body);
    }

    let answer = api.send(Method::GET, "/people/2/persons", &[], None).await;
    expect(&answer, 404, "error-legacy");
    assert_eq!(answer.message_id(), message_id::NOT_FOUND);
    snapshot!("not_found", &answer.body);

    let answer = api
        .send(Method::DELETE, &Operation::Get.path(id), &[], None)
        .await;
    expect(&answer, 405, "error-legacy");
    snapshot!("method_not_allowed", &answer.body);

    let answer = api
        .send(
            Method::PATCH,
            &Operation::Patch.path(id),
            &[("Content-Type", "application/json".into())],
            Some(vec![b' '; 2 * 1024 * 1024]),
        )
        .await;
    expect(&answer, 413, "error-legacy");
    snapshot!("payload_too_large", &answer.body);
    assert!(simulator_invariants(sim.base_url()).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_faults_answer_429_and_500_in_documented_shapes() {
    // With a budget of 1 per second, five GETs in the simulator's first second answer exactly
    // 200 then four 429s. A run that does not fit in that second (a loaded machine) is retried
    // on a fresh simulator, a bounded number of times: the check itself stays exact.
    let mut attempts = Vec::new();
    let (limited, id, too_many) = loop {
        let started = Instant::now();
        let limited = start_simulator(SimulatorConfig {
            seed_registrations: 3,
            faults: Faults {
                rate_limit: Some(1),
                ..Faults::default()
            },
            ..SimulatorConfig::default()
        })
        .await;
        let id = limited.facts().sample_registration.clone().unwrap();
        let api = Api::new(&limited);
        let mut statuses = Vec::new();
        let mut too_many = None;
        for _ in 0..5 {
            let answer = api.call(Operation::Get, &id, "", None).await;
            statuses.push(answer.status);
            if answer.status == 429 {
                too_many = Some(answer);
            }
        }
        if started.elapsed() < Duration::from_millis(900) {
            assert_eq!(statuses, [200, 429, 429, 429, 429]);
            break (limited, id, too_many.unwrap());
        }
        attempts.push((statuses, started.elapsed()));
        assert!(attempts.len() < 5, "never within one second: {attempts:?}");
    };
    expect(&too_many, 429, "error-api");
    snapshot!("too_many_requests", &too_many.body);
    // The limit is per operation: depersonalize still has its budget.
    let answer = Api::new(&limited)
        .call(Operation::Depersonalize, &id, "", None)
        .await;
    assert_eq!(answer.status, 200);

    let failing = start_simulator(SimulatorConfig {
        seed_registrations: 3,
        faults: Faults {
            error_rate: 1.0,
            ..Faults::default()
        },
        ..SimulatorConfig::default()
    })
    .await;
    let answer = Api::new(&failing).call(Operation::Get, &id, "", None).await;
    expect(&answer, 500, "error-legacy");
    assert_eq!(answer.message_id(), message_id::GENERAL_ERROR);
    snapshot!("general_error", &answer.body);
}

// ---------------------------------------------------------------------------------------------
// The documented rules

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personalize_groups_moves_and_promotes_as_documented() {
    let sim = two_app_simulator(30).await;
    let api = Api::new(&sim);
    let ids = ids_of_app(sim.base_url(), &sim.facts().applications[0].app_code).await;
    let other = ids_of_app(sim.base_url(), "other-app").await;
    let other_api = api.with_app_code(Some("other-app"));

    // Two devices personalized with the same phone number end up under one person.
    let body = personalize_body(json!({ "phoneNumber": "385911111111" }));
    api.call(Operation::Personalize, &ids[0], "", Some(&body))
        .await;
    let answer = api
        .call(
            Operation::Personalize,
            &ids[1],
            "returnPush=true",
            Some(&body),
        )
        .await;
    expect(&answer, 200, "personalize-response");
    let push = answer.body["contactInformation"]["push"]
        .as_array()
        .unwrap();
    assert_eq!(push.len(), 2, "{answer:?}");
    // A device of another application joins the same person, but returnPush lists only the
    // AppCode's application (choice personalize.return_push_same_application).
    let answer = other_api
        .call(
            Operation::Personalize,
            &other[0],
            "returnPush=true",
            Some(&body),
        )
        .await;
    assert_eq!(
        answer.body["contactInformation"]["push"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // setDeviceAsPrimary makes one primary and clears the others; PATCH isPrimary does the same.
    api.call(
        Operation::Personalize,
        &ids[0],
        "setDeviceAsPrimary=true",
        Some(&body),
    )
    .await;
    let answer = api
        .call(
            Operation::Personalize,
            &ids[1],
            "setDeviceAsPrimary=true&returnPush=true",
            Some(&body),
        )
        .await;
    let primaries: Vec<bool> = answer.body["contactInformation"]["push"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["isPrimary"] == true)
        .collect();
    assert_eq!(primaries.iter().filter(|p| **p).count(), 1, "{answer:?}");
    api.call(
        Operation::Patch,
        &ids[0],
        "",
        Some(&json!({ "isPrimary": true })),
    )
    .await;
    assert_eq!(
        api.call(Operation::Get, &ids[1], "", None).await.body["isPrimary"],
        false
    );

    // "null" externalIds are JSON null; phone plus "Null" still identifies by phone.
    let answer = api
        .call(
            Operation::Personalize,
            &ids[0],
            "",
            Some(&personalize_body(
                json!({ "phoneNumber": "385911111111", "externalId": "Null" }),
            )),
        )
        .await;
    expect(&answer, 200, "personalize-response");
    assert!(answer.body.get("externalId").is_none(), "{answer:?}");

    // A bound device needs forceDepersonalize to move; with it, it moves and is not primary.
    let elsewhere = personalize_body(json!({ "email": "new.person@example.com" }));
    let answer = api
        .call(Operation::Personalize, &ids[0], "", Some(&elsewhere))
        .await;
    assert_eq!(answer.message_id(), message_id::PERSONALIZATION_IMPOSSIBLE);
    let answer = api
        .call(
            Operation::Personalize,
            &ids[0],
            "forceDepersonalize=true&returnPush=true&keepAsLead=true",
            Some(&elsewhere),
        )
        .await;
    expect(&answer, 200, "personalize-response");
    assert_eq!(
        answer.body["type"], "LEAD",
        "keepAsLead keeps a new person a LEAD"
    );
    assert_eq!(
        answer.body["contactInformation"]["push"][0]["isPrimary"],
        false
    );
    assert_eq!(
        api.call(Operation::Get, &ids[0], "", None).await.body["isPrimary"],
        false
    );
    let answer = api
        .call(Operation::Personalize, &ids[0], "", Some(&elsewhere))
        .await;
    assert_eq!(
        answer.body["type"], "CUSTOMER",
        "without keepAsLead a LEAD is promoted"
    );

    // Attributes: fields and tags replaced, customAttributes merged.
    let with = |attributes: Value| json!({ "identity": { "email": "new.person@example.com" }, "attributes": attributes });
    api.call(
        Operation::Personalize,
        &ids[0],
        "",
        Some(&with(
            json!({ "firstName": "Ana", "tags": ["a", "b"], "customAttributes": { "x": 1 } }),
        )),
    )
    .await;
    let answer = api
        .call(
            Operation::Personalize,
            &ids[0],
            "",
            Some(&with(
                json!({ "tags": ["c"], "customAttributes": { "y": "2" } }),
            )),
        )
        .await;
    assert_eq!(answer.body["firstName"], "Ana");
    assert_eq!(answer.body["tags"], json!(["c"]));
    assert_eq!(answer.body["customAttributes"], json!({ "x": 1, "y": "2" }));

    // Depersonalize detaches; the person stays and is found again by its identity.
    let answer = api.call(Operation::Depersonalize, &ids[0], "", None).await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        api.call(Operation::Depersonalize, &ids[0], "", None)
            .await
            .status,
        200
    );
    let answer = api
        .call(
            Operation::Personalize,
            &ids[2],
            "returnPush=true",
            Some(&with(json!({}))),
        )
        .await;
    assert_eq!(answer.body["firstName"], "Ana");
    assert_eq!(
        answer.body["contactInformation"]["push"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // PATCH merges additionalData and ignores read-only fields.
    api.call(
        Operation::Patch,
        &ids[3],
        "",
        Some(&json!({ "additionalData": { "a": 1 } })),
    )
    .await;
    let answer = api
        .call(Operation::Patch, &ids[3], "", Some(&json!({ "registrationId": "hijack", "applicationId": "X", "systemData": { "os": "iOS" }, "additionalData": { "b": true } })))
        .await;
    expect(&answer, 200, "push-registration");
    assert_eq!(answer.body["additionalData"], json!({ "a": 1, "b": true }));
    assert_eq!(answer.body["registrationId"], ids[3].as_str());
    assert_ne!(answer.body["applicationId"], "X");
    assert!(simulator_invariants(sim.base_url()).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_never_break_an_invariant() {
    let sim = start_default_simulator(40).await;
    let api = Api::new(&sim);
    let ids = seeded_registration_ids(sim.base_url(), 40).await;
    let mut tasks = Vec::new();
    for task in 0..32u64 {
        let api = api.clone();
        let ids = ids.clone();
        tasks.push(tokio::spawn(async move {
            let mut state = task.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            let mut next = move |n: u64| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state % n
            };
            let mut statuses = Vec::new();
            for _ in 0..40 {
                let id = &ids[next(12) as usize];
                let answer = match next(4) {
                    0 | 1 => {
                        let mut identity = serde_json::Map::new();
                        if next(2) == 0 {
                            identity
                                .insert("phoneNumber".into(), json!(format!("3859100{}", next(6))));
                        }
                        if next(2) == 0 {
                            identity
                                .insert("email".into(), json!(format!("p{}@example.com", next(6))));
                        }
                        if identity.is_empty() || next(3) == 0 {
                            identity.insert("externalId".into(), json!(format!("ext-{}", next(6))));
                        }
                        let query = format!(
                            "forceDepersonalize={}&setDeviceAsPrimary={}",
                            next(2) == 0,
                            next(2) == 0
                        );
                        api.call(
                            Operation::Personalize,
                            id,
                            &query,
                            Some(&json!({ "identity": identity })),
                        )
                        .await
                    }
                    2 => api.call(Operation::Depersonalize, id, "", None).await,
                    _ => {
                        api.call(
                            Operation::Patch,
                            id,
                            "",
                            Some(&json!({ "isPrimary": next(2) == 0 })),
                        )
                        .await
                    }
                };
                statuses.push((answer.status, answer.message_id().to_owned()));
            }
            statuses
        }));
    }
    let mut seen = std::collections::BTreeMap::new();
    for task in tasks {
        for (status, message) in task.await.unwrap() {
            assert!(status == 200 || status == 400, "{status} {message}");
            *seen.entry((status, message)).or_insert(0) += 1;
        }
    }
    assert!(seen.keys().any(|(s, _)| *s == 200), "{seen:?}");
    let violations = simulator_invariants(sim.base_url()).await;
    assert!(violations.is_empty(), "{violations:#?}\nanswers: {seen:?}");
    assert!(sim.invariants().is_empty(), "the in-process check agrees");
    assert_eq!(sim.registrations(0, 100).0, 40);
}

// ---------------------------------------------------------------------------------------------
// Hostile input

/// Sends raw bytes on a fresh connection and reads the answer until the server closes.
async fn raw_request(addr: SocketAddr, request: Vec<u8>) -> (u16, Vec<u8>) {
    tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let _ = stream.write_all(&request);
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let text = String::from_utf8_lossy(&answer).into_owned();
        let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
        let body = match answer.windows(4).position(|w| w == b"\r\n\r\n") {
            Some(at) => answer[at + 4..].to_vec(),
            None => Vec::new(),
        };
        (status, body)
    })
    .await
    .unwrap()
}

fn http(method: &str, path: &str, extra_headers: &str, body: &[u8]) -> Vec<u8> {
    http_as(LOCAL_AUTH, method, path, extra_headers, body)
}

/// An HTTP/1.1 request with `Authorization: auth`, the doc's AppCode and `Connection: close`.
fn http_as(auth: &str, method: &str, path: &str, extra_headers: &str, body: &[u8]) -> Vec<u8> {
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAuthorization: {auth}\r\nAppCode: {}\r\n{extra_headers}Content-Length: {}\r\n\r\n",
        pushcheck::mock::config::DOC_APP_CODE,
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_gets_a_documented_answer_never_a_500() {
    let sim = start_simulator(SimulatorConfig {
        seed_registrations: 5,
        body_limit: 4096,
        ..SimulatorConfig::default()
    })
    .await;
    let id = seeded_registration_ids(sim.base_url(), 1).await.remove(0);
    let patch = Operation::Patch.path(&id);
    let personalize = Operation::Personalize.path(&id);
    let json_type = "Content-Type: application/json\r\n";
    let deep = format!("{}{}", "[".repeat(2_000), "]".repeat(2_000));
    let nested = format!(
        "{{\"additionalData\":{{\"a\":{}1{}}}}}",
        "{\"b\":".repeat(200),
        "}".repeat(200)
    );
    let chunked_over_limit = {
        let chunk = format!("{:x}\r\n{}\r\n", 3000, "a".repeat(3000));
        let mut r = format!(
            "PATCH {patch} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: {LOCAL_AUTH}\r\nAppCode: {}\r\n{json_type}Transfer-Encoding: chunked\r\n\r\n",
            pushcheck::mock::config::DOC_APP_CODE
        );
        r.push_str(&chunk);
        r.push_str(&chunk);
        r.push_str("0\r\n\r\n");
        r.into_bytes()
    };
    let many_headers: String = (0..150).map(|i| format!("X-Filler-{i}: {i}\r\n")).collect();
    let long_id_ok = "R".repeat(60_000);
    let long_id_huge = "R".repeat(100_000);
    let mut non_utf8_app = http("GET", &Operation::Get.path(&id), "", b"");
    let at = non_utf8_app
        .windows(8)
        .position(|w| w == b"AppCode:")
        .unwrap();
    non_utf8_app.splice(at + 9..at + 9, [0xFFu8, 0xFE]);

    // (name, request, status, schema of the body or "" for the HTTP layer's empty body)
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("malformed JSON", http("PATCH", &patch, json_type, b"{\"isPrimary\":"), 400, "error-legacy"),
        ("wrong content type", http("PATCH", &patch, "Content-Type: text/plain\r\n", b"{}"), 400, "error-legacy"),
        ("no content type", http("PATCH", &patch, "", b"{}"), 400, "error-legacy"),
        ("form body", http("POST", &personalize, "Content-Type: application/x-www-form-urlencoded\r\n", b"identity=1"), 400, "error-legacy"),
        ("invalid UTF-8 body", http("PATCH", &patch, json_type, b"{\"additionalData\":{\"a\":\"\xff\xfe\"}}"), 400, "error-legacy"),
        ("deep array nesting", http("PATCH", &patch, json_type, deep.as_bytes()), 400, "error-legacy"),
        ("deep object nesting", http("PATCH", &patch, json_type, nested.as_bytes()), 400, "error-legacy"),
        ("empty body", http("PATCH", &patch, json_type, b""), 400, "error-legacy"),
        ("JSON null body", http("PATCH", &patch, json_type, b"null"), 400, "error-legacy"),
        ("JSON array body", http("PATCH", &patch, json_type, b"[]"), 400, "error-legacy"),
        ("number out of range", http("PATCH", &patch, json_type, b"{\"additionalData\":{\"n\":1e400}}"), 400, "error-legacy"),
        ("empty identity", http("POST", &personalize, json_type, b"{\"identity\":{}}"), 400, "error-legacy"),
        ("identity not an object", http("POST", &personalize, json_type, b"{\"identity\":\"79810000000\"}"), 400, "error-legacy"),
        ("flag not a boolean", http("POST", &format!("{personalize}?forceDepersonalize=maybe"), json_type, b"{\"identity\":{\"phoneNumber\":\"1\"}}"), 400, "error-legacy"),
        ("body over the limit", http("PATCH", &patch, json_type, &[b' '; 5000]), 413, "error-legacy"),
        ("chunked body over the limit", chunked_over_limit, 413, "error-legacy"),
        ("declared length over the limit", format!("PATCH {patch} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: {LOCAL_AUTH}\r\nAppCode: {}\r\n{json_type}Content-Length: 99999999\r\n\r\n", pushcheck::mock::config::DOC_APP_CODE).into_bytes(), 413, "error-legacy"),
        ("unknown path", http("GET", "/people/2/persons", "", b""), 404, "error-legacy"),
        ("dot segments", http("GET", "/people/2/contactInformation/push/../x", "", b""), 404, "error-legacy"),
        ("trailing slash", http("GET", &format!("{}/", Operation::Get.path(&id)), "", b""), 404, "error-legacy"),
        ("wrong method", http("PUT", &patch, json_type, b"{}"), 405, "error-legacy"),
        ("GET on personalize", http("GET", &personalize, "", b""), 405, "error-legacy"),
        ("percent-encoded non-UTF-8 ID", http("GET", &format!("{}/%FF%FE", pushcheck::api::BASE_PATH), "", b""), 400, "error-push"),
        ("encoded slash in ID", http("GET", &Operation::Get.path("a/b"), "", b""), 400, "error-push"),
        ("60 000-character ID", http("GET", &Operation::Get.path(&long_id_ok), "", b""), 400, "error-push"),
        ("100 000-character ID", http("GET", &Operation::Get.path(&long_id_huge), "", b""), 414, ""),
        ("60 KB Authorization", http_as(&format!("App {}", "k".repeat(60_000)), "GET", &Operation::Get.path(&id), "", b""), 401, "error-legacy"),
        ("1 MB header", http("GET", &Operation::Get.path(&id), &format!("X-Big: {}\r\n", "h".repeat(1_000_000)), b""), 431, ""),
        ("150 headers", http("GET", &Operation::Get.path(&id), &many_headers, b""), 431, ""),
        ("non-UTF-8 AppCode", non_utf8_app, 400, "error-push"),
        ("not HTTP at all", b"\x16\x03\x01\x02\x00garbage\r\n\r\n".to_vec(), 400, ""),
    ];
    let mut failures = Vec::new();
    for (name, request, status, schema) in cases {
        let (got, body) = raw_request(sim.addr(), request).await;
        let shape_ok = if schema.is_empty() {
            body.is_empty()
        } else {
            serde_json::from_slice::<Value>(&body).is_ok_and(|v| {
                [Mode::Lenient, Mode::Strict]
                    .iter()
                    .all(|m| registry().is_valid(schema, *m, &v).unwrap())
            })
        };
        if got != status || !shape_ok {
            failures.push(format!(
                "{name}: expected {status} {schema}, got {got} {}",
                String::from_utf8_lossy(&body[..body.len().min(300)])
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    // Still serving, state intact.
    let answer = Api::new(&sim).call(Operation::Get, &id, "", None).await;
    expect(&answer, 200, "push-registration");
    assert!(simulator_invariants(sim.base_url()).await.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Faults

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_writes_and_broken_responses_are_injected() {
    let sim = start_simulator(SimulatorConfig {
        seed_registrations: 5,
        faults: Faults {
            drop_writes: 1.0,
            break_responses: 1.0,
            ..Faults::default()
        },
        ..SimulatorConfig::default()
    })
    .await;
    let api = Api::new(&sim);
    let id = seeded_registration_ids(sim.base_url(), 2).await.remove(1);
    let answer = api
        .call(
            Operation::Patch,
            &id,
            "",
            Some(&json!({ "additionalData": { "lost": true } })),
        )
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.body["additionalData"]["lost"], true,
        "acknowledged as written"
    );
    let answer = api.call(Operation::Get, &id, "", None).await;
    assert!(
        answer.body.get("additionalData").is_none(),
        "but not stored: {answer:?}"
    );
    let violations = registry()
        .validate("push-registration", Mode::Lenient, &answer.body)
        .unwrap();
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert_eq!(violations[0].instance_path, "/applicationId");
    let answer = api
        .call(
            Operation::Personalize,
            &id,
            "returnPush=true",
            Some(&personalize_body(json!({ "phoneNumber": "1" }))),
        )
        .await;
    assert_eq!(answer.status, 200);
    assert!(
        !registry()
            .is_valid("personalize-response", Mode::Lenient, &answer.body)
            .unwrap()
    );
    let answer = api
        .call(
            Operation::Personalize,
            &id,
            "",
            Some(&personalize_body(json!({ "phoneNumber": "2" }))),
        )
        .await;
    assert_eq!(
        answer.status, 200,
        "the first personalize was not stored either"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_and_stall_hold_responses() {
    let sim = start_simulator(SimulatorConfig {
        seed_registrations: 2,
        faults: Faults {
            latency: Duration::from_millis(60),
            jitter: Duration::from_millis(10),
            stall: Some(Stall {
                from: Duration::ZERO,
                until: Duration::from_millis(700),
            }),
            ..Faults::default()
        },
        ..SimulatorConfig::default()
    })
    .await;
    let started = Instant::now();
    let api = Api::new(&sim);
    let id = seeded_registration_ids(sim.base_url(), 1).await.remove(0);
    let answer = api.call(Operation::Get, &id, "", None).await;
    assert_eq!(answer.status, 200);
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "held by the stall: {:?}",
        started.elapsed()
    );
    let before = Instant::now();
    api.call(Operation::Get, &id, "", None).await;
    let took = before.elapsed();
    assert!(took >= Duration::from_millis(60), "latency added: {took:?}");
    assert!(
        took < Duration::from_millis(690),
        "the stall is over: {took:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Admin surface

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_lists_resets_and_checks() {
    let sim = start_default_simulator(250).await;
    let base = sim.base_url();
    let client = Client::new();
    let page: Value = client
        .get(format!("{base}{ADMIN_REGISTRATIONS}?limit=100&offset=200"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["total"], 250);
    assert_eq!(page["registrations"].as_array().unwrap().len(), 50);
    let default_page: Value = client
        .get(format!("{base}{ADMIN_REGISTRATIONS}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(default_page["registrations"].as_array().unwrap().len(), 100);
    let ids: std::collections::HashSet<String> = seeded_registration_ids(base, 250)
        .await
        .into_iter()
        .collect();
    assert_eq!(ids.len(), 250, "registration IDs are unique");

    for bad in ["limit=abc", "limit=-1", "limit=100001"] {
        let response = client
            .get(format!("{base}{ADMIN_REGISTRATIONS}?{bad}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{bad}");
        assert_valid("error-legacy", &response.json().await.unwrap());
    }
    let response = client
        .get(format!("{base}{ADMIN_RESET}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_valid("error-legacy", &response.json().await.unwrap());

    let api = Api::new(&sim);
    let id = seeded_registration_ids(base, 1).await.remove(0);
    api.call(
        Operation::Patch,
        &id,
        "",
        Some(&json!({ "additionalData": { "k": 1 } })),
    )
    .await;
    let reset: Value = client
        .post(format!("{base}{ADMIN_RESET}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reset["seeded"], 250);
    let answer = api.call(Operation::Get, &id, "", None).await;
    assert!(
        answer.body.get("additionalData").is_none(),
        "reset restores the seeded state"
    );
    let violations: Value = client
        .get(format!("{base}{ADMIN_INVARIANTS}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        violations,
        json!({ "registrations": 250, "violations": [] })
    );
    sim.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeding_is_deterministic_and_sdk_like() {
    let a = start_simulator(SimulatorConfig {
        seed: 9,
        seed_registrations: 300,
        ..SimulatorConfig::default()
    })
    .await;
    let b = start_simulator(SimulatorConfig {
        seed: 9,
        seed_registrations: 300,
        ..SimulatorConfig::default()
    })
    .await;
    let ids = seeded_registration_ids(a.base_url(), 300).await;
    assert_eq!(ids, seeded_registration_ids(b.base_url(), 300).await);
    let api = Api::new(&a);
    let mut clouds = std::collections::BTreeSet::new();
    for id in ids.iter().take(120) {
        let answer = api.call(Operation::Get, id, "", None).await;
        expect(&answer, 200, "push-registration");
        clouds.insert(format!(
            "{}/{}",
            answer.body["systemData"]["os"], answer.body["systemData"]["cloudType"]
        ));
    }
    for expected in [
        "\"Android\"/\"GCM\"",
        "\"iOS\"/\"APNS\"",
        "\"Android\"/\"HMS\"",
    ] {
        assert!(
            clouds.contains(expected),
            "{expected} missing from {clouds:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The command line

/// A `pushcheck mock` child process, killed on drop if still running.
struct MockProcess(std::process::Child);

impl Drop for MockProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_mock(args: &[&str]) -> (MockProcess, Value) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_pushcheck"));
    command
        .arg("mock")
        .args(["--json", "--addr", "127.0.0.1:0"])
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    for var in [
        "PUSHCHECK_API_KEY",
        "PUSHCHECK_BASIC",
        "PUSHCHECK_IBSSO",
        "PUSHCHECK_BEARER",
        "PUSHCHECK_APP_CODE",
    ] {
        command.env_remove(var);
    }
    let mut child = command.spawn().expect("spawn pushcheck mock");
    let stdout = child.stdout.take().unwrap();
    let process = MockProcess(child);
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = send.send(line);
    });
    let line = receive
        .recv_timeout(Duration::from_secs(60))
        .expect("the facts line within 60 s");
    let facts: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    (process, facts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_serves_prints_facts_and_stops_on_sigterm() {
    let (mut process, facts) = spawn_mock(&["--seed-registrations", "25"]);
    let base = facts["base_url"].as_str().unwrap();
    assert!(base.starts_with("http://127.0.0.1:"), "{facts}");
    assert_eq!(facts["seeded"], 25);
    let auth = facts["credentials"]["authorization"].as_str().unwrap();
    let app_code = facts["app_codes"][0].as_str().unwrap();
    let id = facts["sample_registration"].as_str().unwrap();
    let client = Client::new();
    let url = format!("{base}{}", Operation::Get.path(id));
    let response = client
        .get(&url)
        .header("Authorization", auth)
        .header(APP_CODE_HEADER, app_code)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_valid("push-registration", &response.json().await.unwrap());
    let response = client
        .get(&url)
        .header("Authorization", auth)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.json::<Value>().await.unwrap()["errorCode"],
        error_code::APP_CODE_MISSING
    );
    let response = client
        .get(&url)
        .header(APP_CODE_HEADER, app_code)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    let pid = process.0.id().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = process.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "pushcheck mock did not stop on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(status.code(), Some(0), "graceful stop exits 0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_redacts_user_credentials_and_accepts_only_them() {
    let (_process, facts) = spawn_mock(&[
        "--seed-registrations",
        "3",
        "--api-key",
        "s3cret-key",
        "--app-code",
        "my-app",
    ]);
    let line = facts.to_string();
    assert!(!line.contains("s3cret-key"), "{line}");
    assert_eq!(facts["credentials"]["authorization"], "App [redacted]");
    assert_eq!(facts["app_codes"], json!(["my-app"]));
    let url = format!(
        "{}{}",
        facts["base_url"].as_str().unwrap(),
        Operation::Get.path(facts["sample_registration"].as_str().unwrap())
    );
    let client = Client::new();
    let ok = client
        .get(&url)
        .header("Authorization", "App s3cret-key")
        .header(APP_CODE_HEADER, "my-app")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let local = client
        .get(&url)
        .header("Authorization", LOCAL_AUTH)
        .header(APP_CODE_HEADER, "my-app")
        .send()
        .await
        .unwrap();
    assert_eq!(local.status(), 401, "the local defaults are replaced");
}

#[test]
fn cli_seed_only_usage_errors_and_help() {
    let run = run_cli(&["mock", "--seed-registrations", "2000", "--exit-after-seed"]);
    assert_eq!(run.exit.code(), 0, "{run:?}");
    assert!(
        run.stdout.starts_with("seeded 2000 registrations in "),
        "{run:?}"
    );
    let run = run_cli(&["mock", "--error-rate", "2"]);
    assert_eq!(run.exit.code(), 2, "{run:?}");
    let run = run_cli(&["mock", "--stall", "6s..5s"]);
    assert_eq!(run.exit.code(), 2, "{run:?}");
    let run = run_cli(&["mock", "--basic", "no-colon", "--exit-after-seed"]);
    assert_eq!(run.exit.code(), 2, "{run:?}");
    let run = run_cli(&["mock", "--help"]);
    assert_eq!(run.exit.code(), 0);
    for flag in [
        "--addr",
        "--json",
        "--seed-registrations",
        "--latency",
        "--jitter",
        "--error-rate",
        "--rate-limit",
        "--stall",
        "--drop-writes",
        "--break-responses",
        "--api-key",
        "--app-code",
        "--defect",
        "Exit codes",
    ] {
        assert!(run.stdout.contains(flag), "--help lacks {flag}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_port_is_a_runtime_error() {
    let sim = start_default_simulator(1).await;
    let addr = sim.addr().to_string();
    let run = tokio::task::spawn_blocking(move || {
        run_cli(&["mock", "--addr", &addr, "--seed-registrations", "1"])
    })
    .await
    .unwrap();
    assert_eq!(run.exit.code(), 3, "{run:?}");
    assert!(run.stderr.contains("cannot listen"), "{run:?}");
}

// ---------------------------------------------------------------------------------------------
// A hostile client cannot hold the simulator hostage; limits are exact

/// Reads until the server closes the connection; the time it took, or `None` past `deadline`.
async fn closed_within(stream: &mut tokio::net::TcpStream, deadline: Duration) -> Option<Duration> {
    use tokio::io::AsyncReadExt;
    let started = Instant::now();
    let mut buffer = [0u8; 1024];
    let read_to_end = async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(deadline, read_to_end).await.ok()?;
    Some(started.elapsed())
}

/// A simulator whose clients get `timeout` to send a request head and a body.
async fn impatient_simulator(timeout: Duration) -> RunningSimulator {
    start_simulator(SimulatorConfig {
        seed_registrations: 3,
        header_read_timeout: timeout,
        body_read_timeout: timeout,
        ..SimulatorConfig::default()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_header_senders_are_dropped_and_block_nobody() {
    use tokio::io::AsyncWriteExt;
    let timeout = Duration::from_millis(400);
    let sim = impatient_simulator(timeout).await;
    let id = seeded_registration_ids(sim.base_url(), 1).await.remove(0);
    let half = format!(
        "GET {} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {LOCAL_AUTH}\r\n",
        Operation::Get.path(&id)
    );
    // One connection with half its headers, one with nothing at all.
    let mut slow = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
    slow.write_all(half.as_bytes()).await.unwrap();
    let mut silent = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
    let took = closed_within(&mut slow, Duration::from_secs(5))
        .await
        .expect("a connection with half its headers is closed within 5 s");
    assert!(took >= timeout / 2, "not before the timeout: {took:?}");
    closed_within(&mut silent, Duration::from_secs(5))
        .await
        .expect("a connection that sends nothing is closed within 5 s");

    // A hundred of them do not keep a normal request waiting.
    let mut held = Vec::new();
    for _ in 0..100 {
        let mut stream = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
        stream.write_all(half.as_bytes()).await.unwrap();
        held.push(stream);
    }
    let started = Instant::now();
    let answer = Api::new(&sim).call(Operation::Get, &id, "", None).await;
    assert_eq!(answer.status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    for stream in &mut held {
        closed_within(stream, Duration::from_secs(5))
            .await
            .expect("every slow connection is closed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_never_arrives_is_answered_408_and_closed() {
    use tokio::io::AsyncWriteExt;
    let sim = impatient_simulator(Duration::from_millis(300)).await;
    let id = seeded_registration_ids(sim.base_url(), 1).await.remove(0);
    let mut request = http(
        "PATCH",
        &Operation::Patch.path(&id),
        "Content-Type: application/json\r\n",
        b"",
    );
    // Promise 100 bytes, send 10.
    let at = request
        .windows(17)
        .position(|w| w == b"Content-Length: 0")
        .unwrap();
    request.splice(at..at + 17, b"Content-Length: 100".iter().copied());
    request.extend_from_slice(b"{\"isPrima");
    let mut stream = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
    stream.write_all(&request).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), async {
        use tokio::io::AsyncReadExt;
        let _ = stream.read_to_end(&mut answer).await;
    })
    .await;
    assert!(read.is_ok(), "answered and closed within 5 s");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    let body = &answer[answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4..];
    assert_valid("error-legacy", &serde_json::from_slice(body).unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_attributes_are_capped_per_registration_and_person() {
    let sim = start_default_simulator(4).await;
    let api = Api::new(&sim);
    let ids = seeded_registration_ids(sim.base_url(), 4).await;
    let attributes = |from: usize, n: usize| -> Value {
        (from..from + n)
            .map(|i| (format!("a{i}"), json!(i)))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    let cap = 100;
    let over = api
        .call(
            Operation::Patch,
            &ids[0],
            "",
            Some(&json!({ "additionalData": attributes(0, cap + 1) })),
        )
        .await;
    expect(&over, 400, "error-legacy");
    assert_eq!(over.message_id(), message_id::BAD_REQUEST);
    let fields = &over.body["requestError"]["serviceException"]["validationErrors"];
    assert!(fields.get("/additionalData").is_some(), "{fields}");
    let get = api.call(Operation::Get, &ids[0], "", None).await;
    assert!(
        get.body.get("additionalData").is_none(),
        "nothing stored: {get:?}"
    );

    let full = api
        .call(
            Operation::Patch,
            &ids[0],
            "",
            Some(&json!({ "additionalData": attributes(0, cap) })),
        )
        .await;
    expect(&full, 200, "push-registration");
    assert_eq!(full.body["additionalData"].as_object().unwrap().len(), cap);
    // Overwriting an attribute is fine; one more is not.
    let same = api
        .call(
            Operation::Patch,
            &ids[0],
            "",
            Some(&json!({ "additionalData": { "a0": "new" } })),
        )
        .await;
    assert_eq!(same.status, 200);
    let one_more = api
        .call(
            Operation::Patch,
            &ids[0],
            "",
            Some(&json!({ "additionalData": { "extra": true } })),
        )
        .await;
    expect(&one_more, 400, "error-legacy");
    let get = api.call(Operation::Get, &ids[0], "", None).await;
    assert_eq!(get.body["additionalData"].as_object().unwrap().len(), cap);
    assert!(get.body["additionalData"].get("extra").is_none());

    let person = json!({ "identity": { "phoneNumber": "3851" }, "attributes": { "customAttributes": attributes(0, cap + 1) } });
    let answer = api
        .call(Operation::Personalize, &ids[1], "", Some(&person))
        .await;
    expect(&answer, 400, "error-legacy");
    let fields = &answer.body["requestError"]["serviceException"]["validationErrors"];
    assert!(
        fields.get("/attributes/customAttributes").is_some(),
        "{fields}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_attribute_numbers_are_range_checked_exactly() {
    let sim = start_default_simulator(2).await;
    let api = Api::new(&sim);
    let id = seeded_registration_ids(sim.base_url(), 1).await.remove(0);
    let patch = Operation::Patch.path(&id);
    let raw = |number: &str| format!("{{\"additionalData\":{{\"n\":{number}}}}}").into_bytes();
    let json_type = [("Content-Type", "application/json".to_owned())];
    for refused in [
        "-9223372036854775809",
        "9223372036854775808",
        "-9223372036854775808.5",
        "-1e19",
        "18446744073709551616",
    ] {
        let answer = api
            .send(Method::PATCH, &patch, &json_type, Some(raw(refused)))
            .await;
        expect(&answer, 400, "error-legacy");
        let fields = &answer.body["requestError"]["serviceException"]["validationErrors"];
        assert!(
            fields.get("/additionalData/n").is_some(),
            "{refused}: {fields}"
        );
        let get = api.call(Operation::Get, &id, "", None).await;
        assert!(
            get.body.get("additionalData").is_none(),
            "{refused} was stored: {get:?}"
        );
    }
    for kept in ["-9223372036854775808", "9223372036854775807", "0", "-1.5"] {
        let answer = api
            .send(Method::PATCH, &patch, &json_type, Some(raw(kept)))
            .await;
        assert_eq!(answer.status, 200, "{kept}: {answer:?}");
        let get = api.call(Operation::Get, &id, "", None).await;
        let text = String::from_utf8_lossy(&get.raw);
        assert!(
            text.contains(&format!("\"n\":{kept}")),
            "{kept} read back exactly: {text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schema_and_the_simulator_agree_on_every_email() {
    let sim = start_default_simulator(2).await;
    let api = Api::new(&sim);
    let id = seeded_registration_ids(sim.base_url(), 1).await.remove(0);
    let long_local = format!("{}@example.com", "l".repeat(243));
    let too_long = format!("{}@example.com", "l".repeat(244));
    let emails = [
        "plain@example.com",
        "first.last+tag@sub.example.co.uk",
        "ünïcode@exämple.com",
        "a@b.c",
        long_local.as_str(),
        too_long.as_str(),
        "a@b",
        "no-at.example.com",
        "two@@example.com",
        "a@b@example.com",
        "@example.com",
        "a@.example.com",
        "a@example.com.",
        "a@example..com",
        "with space@example.com",
        "",
    ];
    let (mut accepted, mut refused) = (0, 0);
    for (i, email) in emails.iter().enumerate() {
        let body = json!({ "identity": { "email": email } });
        let schema_allows = registry()
            .is_valid("personalize-request", Mode::Lenient, &body)
            .unwrap();
        // forceDepersonalize: each email is another person, on the same device.
        let answer = api
            .call(
                Operation::Personalize,
                &id,
                "forceDepersonalize=true",
                Some(&body),
            )
            .await;
        if schema_allows {
            accepted += 1;
            assert_eq!(
                answer.status, 200,
                "#{i} {email:?} is allowed by the schema: {answer:?}"
            );
        } else {
            refused += 1;
            expect(&answer, 400, "error-legacy");
            assert_eq!(
                answer.message_id(),
                message_id::EMAIL_INVALID,
                "#{i} {email:?}: {answer:?}"
            );
        }
    }
    assert_eq!((accepted, refused), (5, 11), "the table covers both sides");
}

#[test]
fn cli_lists_defects_and_refuses_unknown_ones() {
    let run = run_cli(&["mock", "--defect", "list"]);
    assert_eq!(run.exit.code(), 0, "{run:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), pushcheck::mock::DEFECTS.len(), "{run:?}");
    for (line, defect) in lines.iter().zip(pushcheck::mock::DEFECTS) {
        assert!(
            line.starts_with(defect.name) && line.ends_with(defect.instead),
            "{line}"
        );
    }
    let run = run_cli(&[
        "mock",
        "--defect",
        "auth.not_checked",
        "--defect",
        "no.such_defect",
    ]);
    assert_eq!(run.exit.code(), 2, "{run:?}");
    assert!(
        run.stderr.contains("\"no.such_defect\""),
        "names it: {run:?}"
    );
    assert!(
        run.stderr.contains("auth.not_checked")
            && run.stderr.contains("depersonalize.non_empty_body"),
        "lists the valid ones: {run:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_plants_the_defects_it_is_given() {
    let (_process, facts) = spawn_mock(&[
        "--seed-registrations",
        "3",
        "--defect",
        "auth.not_checked",
        "--defect",
        "response.content_type",
    ]);
    assert_eq!(
        facts["defects"],
        json!(["auth.not_checked", "response.content_type"])
    );
    let url = format!(
        "{}{}",
        facts["base_url"].as_str().unwrap(),
        Operation::Get.path(facts["sample_registration"].as_str().unwrap())
    );
    let response = Client::new()
        .get(&url)
        .header(APP_CODE_HEADER, facts["app_codes"][0].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "credentials are not checked");
    assert_eq!(response.headers()["content-type"], "text/plain");
    // Without a defect, the same request is refused.
    let (_process, facts) = spawn_mock(&["--seed-registrations", "3"]);
    assert_eq!(facts["defects"], json!([]));
    let url = format!(
        "{}{}",
        facts["base_url"].as_str().unwrap(),
        Operation::Get.path(facts["sample_registration"].as_str().unwrap())
    );
    let response = Client::new()
        .get(&url)
        .header(APP_CODE_HEADER, facts["app_codes"][0].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}
