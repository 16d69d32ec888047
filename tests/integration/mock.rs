//! The embedded simulator (`pushcheck mock`): every operation's success and error answers,
//! validated against `schemas/` in lenient and strict mode and pinned by snapshots; the
//! documented rules, alone and under concurrent load; a table of hostile inputs; faults; the
//! admin surface; and the CLI run as a real process.
//!
//! Requests go through the library's own client (`pushcheck::api::client`), so credentials and
//! AppCode are sent the one way the contract suite sends them; raw sockets only where the bytes
//! themselves are the test. The long stories are told as named steps, one `async fn` each.

// Test code: an unwrap that fails is a failed test, with its location.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use pushcheck::api::auth::{Credentials, Secret};
use pushcheck::api::client::{AppCode, Auth, Call, Client, ClientConfig};
use pushcheck::api::personalize_flag::{
    FORCE_DEPERSONALIZE as FORCE, KEEP_AS_LEAD, RETURN_PUSH, SET_DEVICE_AS_PRIMARY as SET_PRIMARY,
};
use pushcheck::api::{Operation, docs, error_code, message_id};
use pushcheck::mock::config::LOCAL_API_KEY;
use pushcheck::mock::{
    ADMIN_INVARIANTS, ADMIN_REGISTRATIONS, ADMIN_RESET, Application, Faults, RunningSimulator,
    SimulatorConfig, Stall, local_credentials,
};
use pushcheck::schema::{Mode, registry};
use serde_json::{Value, json};

use crate::util::{
    LOCAL_AUTH, run_cli, seeded_registration_ids, simulator_client, simulator_invariants,
    start_default_simulator, start_simulator,
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

/// Sends `call` with the library's client.
async fn send(client: &Client, call: Call) -> Answer {
    let response = client.send(&call).await.expect("simulator answers");
    let body = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    Answer {
        status: response.status,
        raw: response.body,
        body,
    }
}

fn get(id: &str) -> Call {
    Call::new(Operation::Get, id)
}

fn patch(id: &str, body: Value) -> Call {
    Call::new(Operation::Patch, id).json(body)
}

fn personalize(id: &str, body: Value) -> Call {
    Call::new(Operation::Personalize, id).json(body)
}

fn depersonalize(id: &str) -> Call {
    Call::new(Operation::Depersonalize, id)
}

/// A personalize body with only an identity.
fn identity(identity: Value) -> Value {
    json!({ "identity": identity })
}

/// A request outside the API's operations (no credentials: route and method come first).
async fn plain(method: reqwest::Method, url: String) -> Answer {
    let response = reqwest::Client::new()
        .request(method, url)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let raw = response.bytes().await.unwrap().to_vec();
    let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    Answer { status, raw, body }
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

/// A simulator with the doc's application and a second one, `other-app`, the library's client
/// for the first, and the registration IDs of each.
struct TwoApps {
    sim: RunningSimulator,
    client: Client,
    ids: Vec<String>,
    other_ids: Vec<String>,
}

impl TwoApps {
    async fn start(seeded: usize) -> TwoApps {
        let sim = start_simulator(SimulatorConfig {
            applications: vec![Application::doc(), Application::from_code("other-app")],
            seed_registrations: seeded,
            seed: 42,
            ..SimulatorConfig::default()
        })
        .await;
        let client = simulator_client(&sim);
        let ids = ids_of_app(sim.base_url(), &sim.facts().applications[0].app_code).await;
        let other_ids = ids_of_app(sim.base_url(), "other-app").await;
        TwoApps {
            sim,
            client,
            ids,
            other_ids,
        }
    }

    async fn send(&self, call: Call) -> Answer {
        send(&self.client, call).await
    }

    /// The same call with the second application's AppCode.
    async fn send_as_other(&self, call: Call) -> Answer {
        self.send(call.app_code(AppCode::With("other-app".into())))
            .await
    }

    async fn assert_invariants_hold(&self) {
        assert!(simulator_invariants(self.sim.base_url()).await.is_empty());
    }
}

/// Registration IDs of the feed that belong to `app_code`.
async fn ids_of_app(base: &str, app_code: &str) -> Vec<String> {
    let feed: Value =
        admin_json(reqwest::Client::new().get(format!("{base}{ADMIN_REGISTRATIONS}?limit=1000")))
            .await;
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

/// The `contactInformation.push` list of a personalize answer.
fn push_list(answer: &Answer) -> &Vec<Value> {
    answer.body["contactInformation"]["push"]
        .as_array()
        .unwrap_or_else(|| panic!("no push list: {answer:?}"))
}

// ---------------------------------------------------------------------------------------------
// Every answer, in its documented shape

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_success_answer_follows_its_schema() {
    let world = TwoApps::start(20).await;
    let id = &world.ids[1];
    get_patch_personalize_depersonalize_succeed(&world, id).await;
    the_doc_requests_give_the_doc_answers(&world).await;
    world.assert_invariants_hold().await;
}

/// Each operation's 200, validated and pinned.
async fn get_patch_personalize_depersonalize_succeed(world: &TwoApps, id: &str) {
    let answer = world.send(get(id)).await;
    expect(&answer, 200, "push-registration");
    snapshot!("get_ok", &answer.body);

    let answer = world
        .send(patch(
            id,
            json!({
                "isPrimary": true,
                "systemData": { "registrationEnabled": false },
                "additionalData": { "receiveOTP": true, "tier": "gold", "visits": 3, "since": "2024-02-29" }
            }),
        ))
        .await;
    expect(&answer, 200, "push-registration");
    assert_eq!(answer.body["isPrimary"], true);
    assert_eq!(answer.body["systemData"]["registrationEnabled"], false);
    snapshot!("patch_ok", &answer.body);

    let call = personalize(
        id,
        json!({
            "identity": { "phoneNumber": "79810000000", "email": "my.email@gmail.com", "externalId": "jdoe" },
            "attributes": {
                "firstName": "John", "lastName": "Doe", "middleName": "Q", "birthday": "1985-07-12",
                "gender": "MALE", "tags": ["Pizza", "Sports"], "customAttributes": { "vip": true }
            }
        }),
    );
    let answer = world
        .send(
            call.flag(FORCE, true)
                .flag(RETURN_PUSH, true)
                .flag(SET_PRIMARY, true),
        )
        .await;
    expect(&answer, 200, "personalize-response");
    assert_eq!(answer.body["type"], "CUSTOMER");
    assert_eq!(push_list(&answer)[0]["isPrimary"], true);
    snapshot!("personalize_ok", &answer.body);

    let answer = world.send(depersonalize(id)).await;
    assert_eq!(answer.status, 200);
    assert!(answer.raw.is_empty(), "depersonalize answers an empty body");
}

/// The doc's own requests, replayed on the doc's registration, give the doc's answers.
async fn the_doc_requests_give_the_doc_answers(world: &TwoApps) {
    let doc_id = "8621824C-86B2-41F7-BF6F-20D3B1426005";
    let answer = world.send(get(doc_id)).await;
    assert_eq!(answer.body, doc_json("get-response"));
    let answer = world.send(patch(doc_id, doc_json("patch-request"))).await;
    assert_eq!(
        answer.body,
        doc_json("patch-response"),
        "the isPrmary typo is ignored"
    );
    let call = personalize(doc_id, doc_json("personalize-request")).flag(FORCE, true);
    let answer = world.send(call).await;
    expect(&answer, 200, "personalize-response");
    assert_eq!(answer.body["tags"], json!(["Pizza", "Sports"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_answer_follows_its_schema() {
    let world = TwoApps::start(20).await;
    let id = &world.ids[1];
    wrong_credentials_are_401(&world, id).await;
    every_local_credential_is_accepted(&world, id).await;
    app_code_missing_or_unknown_is_48001_48012(&world, id).await;
    unknown_or_foreign_registrations_are_48013(&world).await;
    invalid_bodies_name_their_fields(&world, id).await;
    personalize_conflicts_are_400_with_their_message_id(&world).await;
    routes_methods_and_sizes_are_404_405_413(&world, id).await;
    world.assert_invariants_hold().await;
}

async fn wrong_credentials_are_401(world: &TwoApps, id: &str) {
    let answer = world.send(get(id).auth(Auth::Omitted)).await;
    expect(&answer, 401, "error-legacy");
    assert_eq!(answer.message_id(), message_id::UNAUTHORIZED);
    snapshot!("unauthorized", &answer.body);
    for wrong in [
        Credentials::ApiKey(Secret::new("nope")),
        Credentials::Basic {
            username: "pushcheck".into(),
            password: Secret::new("nope"),
        },
    ] {
        let answer = world.send(get(id).auth(Auth::With(wrong))).await;
        expect(&answer, 401, "error-legacy");
    }
    // Values no `Credentials` can spell go out raw.
    let path = Operation::Get.path(id);
    for (auth, status) in [
        ("Bearer", 401),
        ("pushcheck-local-key", 401),
        ("", 401),
        ("app pushcheck-local-key", 200),
    ] {
        let (got, body) = raw_request(world.sim.addr(), http_as(auth, "GET", &path, "", b"")).await;
        assert_eq!(got, status, "Authorization: {auth:?}");
        let schema = if status == 200 {
            "push-registration"
        } else {
            "error-legacy"
        };
        assert_valid(schema, &serde_json::from_slice(&body).unwrap());
    }
}

async fn every_local_credential_is_accepted(world: &TwoApps, id: &str) {
    for credentials in local_credentials() {
        let scheme = credentials.scheme();
        let answer = world.send(get(id).auth(Auth::With(credentials))).await;
        assert_eq!(answer.status, 200, "{scheme}");
        expect(&answer, 200, "push-registration");
    }
}

async fn app_code_missing_or_unknown_is_48001_48012(world: &TwoApps, id: &str) {
    let answer = world.send(get(id).app_code(AppCode::Omitted)).await;
    expect(&answer, 400, "error-push");
    assert_eq!(answer.error_code(), error_code::APP_CODE_MISSING);
    snapshot!("app_code_missing", &answer.body);

    let answer = world
        .send(get(id).app_code(AppCode::With("no-such-app".into())))
        .await;
    expect(&answer, 400, "error-push");
    assert_eq!(answer.error_code(), error_code::APPLICATION_NOT_FOUND);
    snapshot!("application_not_found", &answer.body);
}

async fn unknown_or_foreign_registrations_are_48013(world: &TwoApps) {
    for op in Operation::ALL {
        let call = |id: &str| {
            let call = Call::new(op, id);
            match op.request_schema() {
                Some(_) => call.json(identity(json!({ "phoneNumber": "1" }))),
                None => call,
            }
        };
        let answer = world.send(call("no-such-registration")).await;
        expect(&answer, 400, "error-push");
        assert_eq!(
            answer.error_code(),
            error_code::REGISTRATION_NOT_FOUND,
            "{op:?}"
        );
        let answer = world.send(call(&world.other_ids[0])).await;
        assert_eq!(
            answer.error_code(),
            error_code::REGISTRATION_NOT_FOUND,
            "{op:?} of another application"
        );
    }
    let answer = world.send(get("no-such-registration")).await;
    snapshot!("registration_not_found", &answer.body);
}

async fn invalid_bodies_name_their_fields(world: &TwoApps, id: &str) {
    let long_name = "n".repeat(257);
    let body = json!({ "isPrimary": "yes", "additionalData": { long_name: 1, "big": "v".repeat(4097), "bad": { "nested": 1 } } });
    let answer = world.send(patch(id, body)).await;
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

    let malformed = Call::new(Operation::Patch, id).raw("application/json", b"{\"isPrimary\": tru");
    let answer = world.send(malformed).await;
    expect(&answer, 400, "error-legacy");
    snapshot!("malformed_json", &answer.body);
}

async fn personalize_conflicts_are_400_with_their_message_id(world: &TwoApps) {
    let ids = &world.ids;
    let first = identity(json!({ "phoneNumber": "111", "externalId": "ext-a" }));
    expect(
        &world.send(personalize(&ids[2], first)).await,
        200,
        "personalize-response",
    );
    let second = identity(json!({ "email": "b@example.com" }));
    expect(
        &world.send(personalize(&ids[3], second)).await,
        200,
        "personalize-response",
    );
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
    for (name, id, body, expected) in cases {
        let answer = world.send(personalize(id, identity(body))).await;
        expect(&answer, 400, "error-legacy");
        assert_eq!(answer.message_id(), expected, "{name}");
        snapshot!(format!("personalize_{name}"), &answer.body);
    }
}

async fn routes_methods_and_sizes_are_404_405_413(world: &TwoApps, id: &str) {
    let base = world.sim.base_url();
    let answer = plain(reqwest::Method::GET, format!("{base}/people/2/persons")).await;
    expect(&answer, 404, "error-legacy");
    assert_eq!(answer.message_id(), message_id::NOT_FOUND);
    snapshot!("not_found", &answer.body);

    let url = format!("{base}{}", Operation::Get.path(id));
    let answer = plain(reqwest::Method::DELETE, url).await;
    expect(&answer, 405, "error-legacy");
    snapshot!("method_not_allowed", &answer.body);

    let too_large =
        Call::new(Operation::Patch, id).raw("application/json", vec![b' '; 2 * 1024 * 1024]);
    let answer = world.send(too_large).await;
    expect(&answer, 413, "error-legacy");
    snapshot!("payload_too_large", &answer.body);
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
        let client = simulator_client(&limited);
        let mut statuses = Vec::new();
        let mut too_many = None;
        for _ in 0..5 {
            let answer = send(&client, get(&id)).await;
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
    let answer = send(&simulator_client(&limited), depersonalize(&id)).await;
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
    let answer = send(&simulator_client(&failing), get(&id)).await;
    expect(&answer, 500, "error-legacy");
    assert_eq!(answer.message_id(), message_id::GENERAL_ERROR);
    snapshot!("general_error", &answer.body);
}

// ---------------------------------------------------------------------------------------------
// The documented rules

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personalize_groups_moves_and_promotes_as_documented() {
    let world = TwoApps::start(30).await;
    let phone = identity(json!({ "phoneNumber": "385911111111" }));
    the_same_phone_on_two_devices_is_one_person(&world, &phone).await;
    return_push_lists_only_the_app_codes_devices(&world, &phone).await;
    a_person_has_one_primary_device(&world, &phone).await;
    a_null_external_id_is_json_null(&world).await;
    a_bound_device_moves_only_with_force_depersonalize(&world).await;
    attributes_replace_fields_and_merge_custom(&world).await;
    depersonalize_detaches_and_keeps_the_person(&world).await;
    patch_merges_additional_data_and_ignores_read_only_fields(&world).await;
    world.assert_invariants_hold().await;
}

/// Two devices personalized with the same phone number end up under one person.
async fn the_same_phone_on_two_devices_is_one_person(world: &TwoApps, phone: &Value) {
    world.send(personalize(&world.ids[0], phone.clone())).await;
    let call = personalize(&world.ids[1], phone.clone()).flag(RETURN_PUSH, true);
    let answer = world.send(call).await;
    expect(&answer, 200, "personalize-response");
    assert_eq!(push_list(&answer).len(), 2, "{answer:?}");
}

/// A device of another application joins the same person, but returnPush lists only the
/// AppCode's application (choice personalize.return_push_same_application).
async fn return_push_lists_only_the_app_codes_devices(world: &TwoApps, phone: &Value) {
    let call = personalize(&world.other_ids[0], phone.clone()).flag(RETURN_PUSH, true);
    let answer = world.send_as_other(call).await;
    assert_eq!(push_list(&answer).len(), 1);
}

/// setDeviceAsPrimary makes one primary and clears the others; PATCH isPrimary does the same.
async fn a_person_has_one_primary_device(world: &TwoApps, phone: &Value) {
    let ids = &world.ids;
    let call = personalize(&ids[0], phone.clone()).flag(SET_PRIMARY, true);
    world.send(call).await;
    let call = personalize(&ids[1], phone.clone())
        .flag(SET_PRIMARY, true)
        .flag(RETURN_PUSH, true);
    let answer = world.send(call).await;
    let primaries = push_list(&answer)
        .iter()
        .filter(|r| r["isPrimary"] == true)
        .count();
    assert_eq!(primaries, 1, "{answer:?}");
    world
        .send(patch(&ids[0], json!({ "isPrimary": true })))
        .await;
    assert_eq!(world.send(get(&ids[1])).await.body["isPrimary"], false);
}

/// "null" externalIds are JSON null; phone plus "Null" still identifies by phone.
async fn a_null_external_id_is_json_null(world: &TwoApps) {
    let body = identity(json!({ "phoneNumber": "385911111111", "externalId": "Null" }));
    let answer = world.send(personalize(&world.ids[0], body)).await;
    expect(&answer, 200, "personalize-response");
    assert!(answer.body.get("externalId").is_none(), "{answer:?}");
}

/// A bound device needs forceDepersonalize to move; with it, it moves and is not primary.
async fn a_bound_device_moves_only_with_force_depersonalize(world: &TwoApps) {
    let id = &world.ids[0];
    let elsewhere = identity(json!({ "email": "new.person@example.com" }));
    let answer = world.send(personalize(id, elsewhere.clone())).await;
    assert_eq!(answer.message_id(), message_id::PERSONALIZATION_IMPOSSIBLE);
    let call = personalize(id, elsewhere.clone())
        .flag(FORCE, true)
        .flag(RETURN_PUSH, true)
        .flag(KEEP_AS_LEAD, true);
    let answer = world.send(call).await;
    expect(&answer, 200, "personalize-response");
    assert_eq!(
        answer.body["type"], "LEAD",
        "keepAsLead keeps a new person a LEAD"
    );
    assert_eq!(push_list(&answer)[0]["isPrimary"], false);
    assert_eq!(world.send(get(id)).await.body["isPrimary"], false);
    let answer = world.send(personalize(id, elsewhere)).await;
    assert_eq!(
        answer.body["type"], "CUSTOMER",
        "without keepAsLead a LEAD is promoted"
    );
}

/// A personalize body for the person of `new.person@example.com` with `attributes`.
fn new_person_with(attributes: Value) -> Value {
    json!({ "identity": { "email": "new.person@example.com" }, "attributes": attributes })
}

/// Attributes: fields and tags replaced, customAttributes merged.
async fn attributes_replace_fields_and_merge_custom(world: &TwoApps) {
    let id = &world.ids[0];
    let first = json!({ "firstName": "Ana", "tags": ["a", "b"], "customAttributes": { "x": 1 } });
    world.send(personalize(id, new_person_with(first))).await;
    let second = json!({ "tags": ["c"], "customAttributes": { "y": "2" } });
    let answer = world.send(personalize(id, new_person_with(second))).await;
    assert_eq!(answer.body["firstName"], "Ana");
    assert_eq!(answer.body["tags"], json!(["c"]));
    assert_eq!(answer.body["customAttributes"], json!({ "x": 1, "y": "2" }));
}

/// Depersonalize detaches; the person stays and is found again by its identity.
async fn depersonalize_detaches_and_keeps_the_person(world: &TwoApps) {
    let ids = &world.ids;
    assert_eq!(world.send(depersonalize(&ids[0])).await.status, 200);
    assert_eq!(world.send(depersonalize(&ids[0])).await.status, 200);
    let call = personalize(&ids[2], new_person_with(json!({}))).flag(RETURN_PUSH, true);
    let answer = world.send(call).await;
    assert_eq!(answer.body["firstName"], "Ana");
    assert_eq!(push_list(&answer).len(), 1);
}

/// PATCH merges additionalData and ignores read-only fields.
async fn patch_merges_additional_data_and_ignores_read_only_fields(world: &TwoApps) {
    let id = &world.ids[3];
    world
        .send(patch(id, json!({ "additionalData": { "a": 1 } })))
        .await;
    let body = json!({ "registrationId": "hijack", "applicationId": "X", "systemData": { "os": "iOS" }, "additionalData": { "b": true } });
    let answer = world.send(patch(id, body)).await;
    expect(&answer, 200, "push-registration");
    assert_eq!(answer.body["additionalData"], json!({ "a": 1, "b": true }));
    assert_eq!(answer.body["registrationId"], id.as_str());
    assert_ne!(answer.body["applicationId"], "X");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_never_break_an_invariant() {
    let sim = start_default_simulator(40).await;
    let client = simulator_client(&sim);
    let ids = seeded_registration_ids(sim.base_url(), 40).await;
    let mut tasks = Vec::new();
    for task in 0..32u64 {
        let client = client.clone();
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
                let call = match next(4) {
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
                        personalize(id, json!({ "identity": identity }))
                            .flag(FORCE, next(2) == 0)
                            .flag(SET_PRIMARY, next(2) == 0)
                    }
                    2 => depersonalize(id),
                    _ => patch(id, json!({ "isPrimary": next(2) == 0 })),
                };
                let answer = send(&client, call).await;
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
    let answer = send(&simulator_client(&sim), get(&id)).await;
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
    let client = simulator_client(&sim);
    let id = seeded_registration_ids(sim.base_url(), 2).await.remove(1);
    a_dropped_patch_is_acknowledged_but_not_stored(&client, &id).await;
    broken_registrations_lack_their_application_id(&client, &id).await;
    a_dropped_personalize_is_not_stored_either(&client, &id).await;
}

async fn a_dropped_patch_is_acknowledged_but_not_stored(client: &Client, id: &str) {
    let answer = send(
        client,
        patch(id, json!({ "additionalData": { "lost": true } })),
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.body["additionalData"]["lost"], true,
        "acknowledged as written"
    );
    let answer = send(client, get(id)).await;
    assert!(
        answer.body.get("additionalData").is_none(),
        "but not stored: {answer:?}"
    );
}

async fn broken_registrations_lack_their_application_id(client: &Client, id: &str) {
    let answer = send(client, get(id)).await;
    let violations = registry()
        .validate("push-registration", Mode::Lenient, &answer.body)
        .unwrap();
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert_eq!(violations[0].instance_path, "/applicationId");
    let call = personalize(id, identity(json!({ "phoneNumber": "1" }))).flag(RETURN_PUSH, true);
    let answer = send(client, call).await;
    assert_eq!(answer.status, 200);
    assert!(
        !registry()
            .is_valid("personalize-response", Mode::Lenient, &answer.body)
            .unwrap()
    );
}

async fn a_dropped_personalize_is_not_stored_either(client: &Client, id: &str) {
    let answer = send(
        client,
        personalize(id, identity(json!({ "phoneNumber": "2" }))),
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
    let client = simulator_client(&sim);
    let id = seeded_registration_ids(sim.base_url(), 1).await.remove(0);
    let answer = send(&client, get(&id)).await;
    assert_eq!(answer.status, 200);
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "held by the stall: {:?}",
        started.elapsed()
    );
    let before = Instant::now();
    send(&client, get(&id)).await;
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
    the_admin_routes_refuse_a_caller_without_credentials(&sim).await;
    the_listing_pages_unique_ids(&sim).await;
    bad_admin_requests_are_400_and_405(&sim).await;
    reset_restores_the_seeded_state(&sim).await;
    the_invariant_check_says_what_it_checked(&sim).await;
    sim.shutdown().await.unwrap();
}

/// A JSON admin answer, asked with the simulator's local credentials.
async fn admin_json(request: reqwest::RequestBuilder) -> Value {
    request
        .header("Authorization", LOCAL_AUTH)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Without credentials, or with wrong ones, the admin routes answer the API's 401 and change
/// nothing: a simulator on a shared address cannot be reset or listed by anyone who reaches it.
async fn the_admin_routes_refuse_a_caller_without_credentials(sim: &RunningSimulator) {
    let client = simulator_client(sim);
    let id = seeded_registration_ids(sim.base_url(), 1).await.remove(0);
    send(
        &client,
        patch(&id, json!({ "additionalData": { "kept": 1 } })),
    )
    .await;
    let base = sim.base_url();
    for (method, path) in [
        (reqwest::Method::POST, ADMIN_RESET),
        (reqwest::Method::GET, ADMIN_REGISTRATIONS),
        (reqwest::Method::GET, ADMIN_INVARIANTS),
    ] {
        for auth in [
            None,
            Some("App wrong-key"),
            Some("Bearer pushcheck-local-key"),
        ] {
            let mut request =
                reqwest::Client::new().request(method.clone(), format!("{base}{path}"));
            if let Some(auth) = auth {
                request = request.header("Authorization", auth);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 401, "{method} {path} with {auth:?}");
            let body: Value = response.json().await.unwrap();
            assert_valid("error-legacy", &body);
        }
    }
    let answer = send(&client, get(&id)).await;
    assert_eq!(
        answer.body["additionalData"]["kept"], 1,
        "an unauthenticated reset changed nothing"
    );
    let reset = reqwest::Client::new().post(format!("{base}{ADMIN_RESET}"));
    assert_eq!(admin_json(reset).await["seeded"], 250);
}

async fn the_listing_pages_unique_ids(sim: &RunningSimulator) {
    let admin = reqwest::Client::new();
    let url = format!("{}{ADMIN_REGISTRATIONS}", sim.base_url());
    let page = admin_json(admin.get(format!("{url}?limit=100&offset=200"))).await;
    assert_eq!(page["total"], 250);
    assert_eq!(page["registrations"].as_array().unwrap().len(), 50);
    let default_page = admin_json(admin.get(&url)).await;
    assert_eq!(default_page["registrations"].as_array().unwrap().len(), 100);
    let ids: std::collections::HashSet<String> = seeded_registration_ids(sim.base_url(), 250)
        .await
        .into_iter()
        .collect();
    assert_eq!(ids.len(), 250, "registration IDs are unique");
}

async fn bad_admin_requests_are_400_and_405(sim: &RunningSimulator) {
    let base = sim.base_url();
    for bad in ["limit=abc", "limit=-1", "limit=100001"] {
        let url = format!("{base}{ADMIN_REGISTRATIONS}?{bad}");
        let response = reqwest::Client::new()
            .get(url)
            .header("Authorization", LOCAL_AUTH)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{bad}");
        assert_valid("error-legacy", &response.json().await.unwrap());
    }
    let answer = plain(reqwest::Method::GET, format!("{base}{ADMIN_RESET}")).await;
    assert_eq!(answer.status, 405);
    assert_valid("error-legacy", &answer.body);
}

async fn reset_restores_the_seeded_state(sim: &RunningSimulator) {
    let client = simulator_client(sim);
    let id = seeded_registration_ids(sim.base_url(), 1).await.remove(0);
    send(&client, patch(&id, json!({ "additionalData": { "k": 1 } }))).await;
    let reset = reqwest::Client::new().post(format!("{}{ADMIN_RESET}", sim.base_url()));
    assert_eq!(admin_json(reset).await["seeded"], 250);
    let answer = send(&client, get(&id)).await;
    assert!(
        answer.body.get("additionalData").is_none(),
        "reset restores the seeded state"
    );
}

async fn the_invariant_check_says_what_it_checked(sim: &RunningSimulator) {
    let check = reqwest::Client::new().get(format!("{}{ADMIN_INVARIANTS}", sim.base_url()));
    assert_eq!(
        admin_json(check).await,
        json!({ "registrations": 250, "violations": [] })
    );
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
    let client = simulator_client(&a);
    let mut clouds = std::collections::BTreeSet::new();
    for id in ids.iter().take(120) {
        let answer = send(&client, get(id)).await;
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

/// The library's client for a `pushcheck mock` process: its base URL and first AppCode, with
/// `credentials`.
fn facts_client(facts: &Value, credentials: Option<Credentials>) -> Client {
    let mut config = ClientConfig::new(facts["base_url"].as_str().unwrap());
    config.app_code = facts["app_codes"][0].as_str().map(str::to_owned);
    config.credentials = credentials;
    Client::new(config).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_serves_prints_facts_and_stops_on_sigterm() {
    let (mut process, facts) = spawn_mock(&["--seed-registrations", "25"]);
    let base = facts["base_url"].as_str().unwrap();
    assert!(base.starts_with("http://127.0.0.1:"), "{facts}");
    assert_eq!(facts["seeded"], 25);
    let local_key = Credentials::ApiKey(Secret::new(LOCAL_API_KEY));
    let auth = facts["credentials"]["authorization"].as_str().unwrap();
    assert_eq!(auth, local_key.header_value().expose(), "printed in full");
    let client = facts_client(&facts, Some(local_key));
    let id = facts["sample_registration"].as_str().unwrap();
    let answer = send(&client, get(id)).await;
    expect(&answer, 200, "push-registration");
    let answer = send(&client, get(id).app_code(AppCode::Omitted)).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.error_code(), error_code::APP_CODE_MISSING);
    let answer = send(&client, get(id).auth(Auth::Omitted)).await;
    assert_eq!(answer.status, 401);

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
    let user_key = Credentials::ApiKey(Secret::new("s3cret-key"));
    let client = facts_client(&facts, Some(user_key));
    let id = facts["sample_registration"].as_str().unwrap();
    assert_eq!(send(&client, get(id)).await.status, 200);
    let local_key = Credentials::ApiKey(Secret::new(LOCAL_API_KEY));
    let answer = send(&client, get(id).auth(Auth::With(local_key))).await;
    assert_eq!(answer.status, 401, "the local defaults are replaced");
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
    let answer = send(&simulator_client(&sim), get(&id)).await;
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
    let client = simulator_client(&sim);
    let ids = seeded_registration_ids(sim.base_url(), 4).await;
    one_attribute_over_the_cap_is_refused_and_not_stored(&client, &ids[0]).await;
    the_cap_counts_what_is_stored(&client, &ids[0]).await;
    a_person_is_capped_too(&client, &ids[1]).await;
}

/// Custom attributes `a{from}`..`a{from + n - 1}`, numbered.
fn numbered_attributes(from: usize, n: usize) -> Value {
    (from..from + n)
        .map(|i| (format!("a{i}"), json!(i)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// The most custom attributes a registration or person holds
/// (choice `limits.custom_attribute_count`).
const CAP: usize = 100;

async fn one_attribute_over_the_cap_is_refused_and_not_stored(client: &Client, id: &str) {
    let body = json!({ "additionalData": numbered_attributes(0, CAP + 1) });
    let over = send(client, patch(id, body)).await;
    expect(&over, 400, "error-legacy");
    assert_eq!(over.message_id(), message_id::BAD_REQUEST);
    let fields = &over.body["requestError"]["serviceException"]["validationErrors"];
    assert!(fields.get("/additionalData").is_some(), "{fields}");
    let read = send(client, get(id)).await;
    assert!(
        read.body.get("additionalData").is_none(),
        "nothing stored: {read:?}"
    );
}

/// Up to the cap is fine; overwriting an attribute is fine; one more is not.
async fn the_cap_counts_what_is_stored(client: &Client, id: &str) {
    let body = json!({ "additionalData": numbered_attributes(0, CAP) });
    let full = send(client, patch(id, body)).await;
    expect(&full, 200, "push-registration");
    assert_eq!(full.body["additionalData"].as_object().unwrap().len(), CAP);
    let same = send(
        client,
        patch(id, json!({ "additionalData": { "a0": "new" } })),
    )
    .await;
    assert_eq!(same.status, 200);
    let one_more = send(
        client,
        patch(id, json!({ "additionalData": { "extra": true } })),
    )
    .await;
    expect(&one_more, 400, "error-legacy");
    let read = send(client, get(id)).await;
    assert_eq!(read.body["additionalData"].as_object().unwrap().len(), CAP);
    assert!(read.body["additionalData"].get("extra").is_none());
}

async fn a_person_is_capped_too(client: &Client, id: &str) {
    let body = json!({ "identity": { "phoneNumber": "3851" }, "attributes": { "customAttributes": numbered_attributes(0, CAP + 1) } });
    let answer = send(client, personalize(id, body)).await;
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
    let client = simulator_client(&sim);
    let id = seeded_registration_ids(sim.base_url(), 1).await.remove(0);
    // Written as text: a JSON value would already have rounded them.
    let patch_number = |number: &str| {
        let body = format!("{{\"additionalData\":{{\"n\":{number}}}}}");
        Call::new(Operation::Patch, &id).raw("application/json", body)
    };
    for refused in [
        "-9223372036854775809",
        "9223372036854775808",
        "-9223372036854775808.5",
        "-1e19",
        "18446744073709551616",
    ] {
        let answer = send(&client, patch_number(refused)).await;
        expect(&answer, 400, "error-legacy");
        let fields = &answer.body["requestError"]["serviceException"]["validationErrors"];
        assert!(
            fields.get("/additionalData/n").is_some(),
            "{refused}: {fields}"
        );
        let read = send(&client, get(&id)).await;
        assert!(
            read.body.get("additionalData").is_none(),
            "{refused} was stored: {read:?}"
        );
    }
    for kept in ["-9223372036854775808", "9223372036854775807", "0", "-1.5"] {
        let answer = send(&client, patch_number(kept)).await;
        assert_eq!(answer.status, 200, "{kept}: {answer:?}");
        let read = send(&client, get(&id)).await;
        let text = String::from_utf8_lossy(&read.raw);
        assert!(
            text.contains(&format!("\"n\":{kept}")),
            "{kept} read back exactly: {text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schema_and_the_simulator_agree_on_every_email() {
    let sim = start_default_simulator(2).await;
    let client = simulator_client(&sim);
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
        let answer = send(&client, personalize(&id, body).flag(FORCE, true)).await;
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
    let id = facts["sample_registration"].as_str().unwrap();
    let response = facts_client(&facts, None).send(&get(id)).await.unwrap();
    assert_eq!(response.status, 200, "credentials are not checked");
    assert_eq!(response.content_type.as_deref(), Some("text/plain"));
    // Without a defect, the same request is refused.
    let (_process, facts) = spawn_mock(&["--seed-registrations", "3"]);
    assert_eq!(facts["defects"], json!([]));
    let id = facts["sample_registration"].as_str().unwrap();
    let answer = send(&facts_client(&facts, None), get(id)).await;
    assert_eq!(answer.status, 401);
}

/// On an address other machines can reach, the published local key is refused (exit 2, naming
/// the address and the way out); with credentials of one's own the simulator starts and says on
/// stderr that it can be reached.
#[test]
fn a_simulator_on_a_shared_address_needs_its_own_credentials() {
    let run = run_cli(&["mock", "--addr", "0.0.0.0:0"]);
    assert_eq!(run.exit, pushcheck::cli::Exit::Usage, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("--addr 0.0.0.0:0 can be reached from other machines")
            && run.stderr.contains("--allow-default-credentials"),
        "{}",
        run.stderr
    );
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pushcheck"))
        .args([
            "mock",
            "--json",
            "--addr",
            "0.0.0.0:0",
            "--seed-registrations",
            "1",
        ])
        .env("PUSHCHECK_API_KEY", "a-key-of-my-own")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    // The facts line comes once the simulator listens. The pipe stays open (read to its end
    // below): a simulator whose stdout reader went away would see a broken pipe on its way out.
    let mut facts = String::new();
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    stdout.read_line(&mut facts).expect("facts line");
    crate::util::send_ctrl_c(&child);
    let code = crate::util::wait_within(&mut child, Duration::from_secs(20));
    let rest = crate::util::read_all(stdout);
    let stderr = crate::util::read_all(child.stderr.take().expect("stderr"));
    assert_eq!(code, Some(0), "{stderr}\n{rest}");
    assert!(facts.starts_with('{'), "{facts}");
    assert!(
        stderr.contains("which other machines can reach")
            && stderr.contains("the credentials you gave"),
        "{stderr}"
    );
    assert!(!stderr.contains("a-key-of-my-own"), "{stderr}");
}
