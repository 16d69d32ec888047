//! The contract suite: against the embedded simulator it passes; against wiremock servers that
//! serve each class of break it fails with a message naming the break; its reports follow their
//! formats; credentials never leak.

use std::time::Duration;

use pushcheck::api::docs;
use pushcheck::cli::Exit;
use pushcheck::contract::{self, Status, SuiteConfig};
use pushcheck::schema::{Mode, registry};
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::util::{TempDir, run_cli};

const KEY: &str = "pushcheck-canary-key-7f3a9c";
const APP: &str = "pushcheck-test-app";

fn doc_get() -> Value {
    serde_json::from_str(docs::example("get-response").expect("example").json).expect("json")
}

fn doc_id() -> String {
    doc_get()["registrationId"].as_str().expect("id").to_owned()
}

#[test]
fn every_case_passes_against_the_embedded_simulator() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let result = runtime
        .block_on(contract::run(SuiteConfig::default()))
        .expect("suite runs");
    let failed: Vec<String> = result
        .cases
        .iter()
        .filter(|c| c.status != Status::Passed)
        .map(|c| {
            format!(
                "{}: {:?} {:?}",
                c.name,
                c.skip_reason,
                c.failure.as_ref().map(ToString::to_string)
            )
        })
        .collect();
    assert!(failed.is_empty(), "not passed: {failed:#?}");
    assert!(result.cases.len() >= 40, "{} cases", result.cases.len());
    assert!(result.passed());
    for required in [
        "get.existing",
        "get.unknown_id",
        "auth.missing",
        "appcode.missing",
        "appcode.unknown",
        "patch.custom_attribute.name_257_chars",
        "personalize.force_depersonalize",
        "personalize.same_phone_two_devices",
        "personalize.set_device_as_primary",
        "personalize.external_id_null_string",
        "depersonalize.then_get",
    ] {
        assert!(
            result.cases.iter().any(|c| c.name == required),
            "case {required} exists"
        );
    }
    // The shape of every response kind was observed and compared with the pinned doc shapes.
    assert!(
        result
            .drift
            .iter()
            .all(|f| f.kind != contract::result::FindingKind::Breaking),
        "{:#?}",
        result.drift
    );
}

#[test]
fn strict_mode_against_the_simulator_still_passes() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let config = SuiteConfig {
        mode: Mode::Strict,
        ..SuiteConfig::default()
    };
    let result = runtime.block_on(contract::run(config)).expect("suite runs");
    assert_eq!(
        result.summary.failed,
        0,
        "{:#?}",
        result
            .cases
            .iter()
            .filter_map(|c| c.failure.as_ref())
            .collect::<Vec<_>>()
    );
}

/// A fake live API over wiremock: correct answers for the read-only cases, except where a test
/// swaps in a broken answer for the existing registration or for unknown ones.
struct Fake {
    existing: ResponseTemplate,
    unknown: ResponseTemplate,
}

impl Fake {
    fn correct() -> Fake {
        Fake {
            existing: ResponseTemplate::new(200).set_body_json(doc_get()),
            unknown: ResponseTemplate::new(400).set_body_json(
                json!({"errorCode": 48013, "errorMessage": "Push registration not found"}),
            ),
        }
    }
}

fn legacy(status: u16, id: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .set_body_json(json!({"requestError": {"serviceException": {"messageId": id, "text": id}}}))
}

impl Respond for Fake {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let header = |name: &str| request.headers.get(name).and_then(|v| v.to_str().ok());
        if header("Authorization") != Some(&format!("App {KEY}")) {
            return legacy(401, "UNAUTHORIZED");
        }
        match header("AppCode") {
            None => {
                return ResponseTemplate::new(400).set_body_json(
                    json!({"errorCode": 48001, "errorMessage": "Application code missing"}),
                );
            }
            Some(code) if code != APP => {
                return ResponseTemplate::new(400).set_body_json(
                    json!({"errorCode": 48012, "errorMessage": "Push application not found"}),
                );
            }
            Some(_) => {}
        }
        let existing = format!("/people/2/contactInformation/push/{}", doc_id());
        if request.url.path() == existing && request.method.as_str() == "GET" {
            self.existing.clone()
        } else {
            self.unknown.clone()
        }
    }
}

/// Starts `fake` on 127.0.0.1 and runs `pushcheck contract` against it with `extra` flags.
fn run_against(fake: Fake, extra: &[&str]) -> crate::util::CliRun {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let server = runtime.block_on(async {
        let server = MockServer::start().await;
        Mock::given(wiremock::matchers::any())
            .respond_with(fake)
            .mount(&server)
            .await;
        server
    });
    let uri = server.uri();
    let id = doc_id();
    let mut args = vec![
        "contract",
        "--target",
        &uri,
        "--api-key",
        KEY,
        "--app-code",
        APP,
        "--registration-id",
        &id,
        "--timeout",
        "500ms",
    ];
    args.extend_from_slice(extra);
    let run = run_cli(&args);
    assert!(
        !run.stdout.contains(KEY) && !run.stderr.contains(KEY),
        "the key leaked: {run:?}"
    );
    drop(server);
    run
}

#[test]
fn a_correct_live_target_passes_the_read_only_cases_and_skips_the_rest() {
    let run = run_against(Fake::correct(), &[]);
    assert_eq!(run.exit, Exit::Passed, "{}", run.stdout);
    for passed in [
        "get.existing ... ok",
        "get.unknown_id ... ok",
        "auth.missing ... ok",
        "appcode.missing ... ok",
        "appcode.unknown ... ok",
        "personalize.unknown_id ... ok",
        "auth.scheme.app ... ok",
    ] {
        assert!(run.stdout.contains(passed), "{passed}:\n{}", run.stdout);
    }
    assert!(
        run.stdout
            .contains("patch.additional_data ... skipped: writes: needs --allow-writes"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("patch.doc_example ... skipped: relies on simulator choices"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("personalize.doc_example ... skipped: simulator only"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("auth.scheme.basic ... skipped: no Basic credential given"),
        "{}",
        run.stdout
    );
}

fn with_existing(existing: ResponseTemplate) -> Fake {
    Fake {
        existing,
        ..Fake::correct()
    }
}

fn get_body(change: impl FnOnce(&mut Value)) -> ResponseTemplate {
    let mut body = doc_get();
    change(&mut body);
    ResponseTemplate::new(200).set_body_json(body)
}

/// Each class of break, served for `get.existing` (or `get.unknown_id`), and what the failure
/// must say.
#[test]
fn each_class_of_break_is_caught_with_a_useful_message() {
    let unknown_broken = |unknown| Fake {
        unknown,
        ..Fake::correct()
    };
    let cases: Vec<(&str, Fake, &str, Vec<&str>)> = vec![
        (
            "missing required field",
            with_existing(get_body(|b| {
                b.as_object_mut().map(|o| o.remove("applicationId"));
            })),
            "get.existing",
            vec![
                "at:       /applicationId",
                "required property \"applicationId\" is missing",
                "status:   200",
            ],
        ),
        (
            "wrong type",
            with_existing(get_body(|b| b["isPrimary"] = json!("yes"))),
            "get.existing",
            vec![
                "at:       /isPrimary",
                "is not of type \"boolean\"",
                "got:      \"yes\"",
            ],
        ),
        (
            "enum value outside the set",
            with_existing(get_body(|b| b["systemData"]["os"] = json!("Windows"))),
            "get.existing",
            vec!["at:       /systemData/os", "Windows"],
        ),
        (
            "wrong status",
            unknown_broken(legacy(404, "NOT_FOUND")),
            "get.unknown_id",
            vec!["expected HTTP 400, got 404"],
        ),
        (
            "error body in the wrong shape",
            unknown_broken(ResponseTemplate::new(400).set_body_json(json!({"error": "not found"}))),
            "get.unknown_id",
            vec!["not a documented error shape", "at:       /errorCode"],
        ),
        (
            "non-JSON body",
            with_existing(
                ResponseTemplate::new(200).set_body_raw("<html>oops</html>", "application/json"),
            ),
            "get.existing",
            vec![
                "the body is not valid JSON (line 1, column 1)",
                "got:      <html>oops</html>",
            ],
        ),
        (
            "wrong content type",
            with_existing(
                ResponseTemplate::new(200).set_body_raw(doc_get().to_string(), "text/plain"),
            ),
            "get.existing",
            vec![
                "the content type is not JSON",
                "got:      Content-Type: text/plain",
            ],
        ),
        (
            "empty body where JSON is expected",
            with_existing(ResponseTemplate::new(200)),
            "get.existing",
            vec!["the body is empty where JSON was expected"],
        ),
        (
            "slower than the timeout",
            with_existing(get_body(|_| {}).set_delay(Duration::from_secs(3))),
            "get.existing",
            vec!["no response within 500ms (timeout)"],
        ),
        (
            "a 500",
            with_existing(legacy(500, "GENERAL_ERROR")),
            "get.existing",
            vec!["expected HTTP 200, got 500", "GENERAL_ERROR"],
        ),
    ];
    for (label, fake, case, expected) in cases {
        let run = run_against(fake, &["--filter", case]);
        assert_eq!(run.exit, Exit::CheckFailed, "{label}: {}", run.stdout);
        assert!(
            run.stdout.contains(&format!("---- {case} ----")),
            "{label}: {}",
            run.stdout
        );
        for needle in expected {
            assert!(
                run.stdout.contains(needle),
                "{label}: expected {needle:?} in:\n{}",
                run.stdout
            );
        }
    }
}

#[test]
fn an_undocumented_field_is_a_finding_and_fails_only_in_strict_mode() {
    let fake = || with_existing(get_body(|b| b["batteryLevel"] = json!(80)));
    let lenient = run_against(fake(), &["--filter", "get.existing"]);
    assert_eq!(lenient.exit, Exit::Passed, "{}", lenient.stdout);
    assert!(
        lenient.stdout.contains("push-registration /batteryLevel"),
        "{}",
        lenient.stdout
    );
    let strict = run_against(fake(), &["--filter", "get.existing", "--strict"]);
    assert_eq!(strict.exit, Exit::CheckFailed, "{}", strict.stdout);
    assert!(
        strict.stdout.contains("at:       /batteryLevel"),
        "{}",
        strict.stdout
    );
    assert!(strict.stdout.contains("undocumented"), "{}", strict.stdout);
}

#[test]
fn a_closed_port_is_a_runtime_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let target = format!("http://127.0.0.1:{port}");
    let run = run_cli(&[
        "contract",
        "--target",
        &target,
        "--registration-id",
        "x",
        "--api-key",
        KEY,
    ]);
    assert_eq!(run.exit, Exit::Runtime, "{run:?}");
    assert!(
        run.stderr
            .contains(&format!("target http://127.0.0.1:{port} is unreachable")),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains(KEY));
}

#[test]
fn usage_errors_exit_2() {
    for (args, needle) in [
        (
            vec!["contract", "--filter", "no.such.case"],
            "no case matches the filter",
        ),
        (vec!["contract", "--target", "not a url"], "is not a URL"),
        (vec!["contract", "--timeout", "5"], "needs a unit"),
        (vec!["contract", "--basic", "nocolon"], "expected USER:PASS"),
        (vec!["contract", "--alow-writes"], "--allow-writes"),
    ] {
        let run = run_cli(&args);
        assert_eq!(run.exit, Exit::Usage, "{args:?}: {run:?}");
        assert!(run.stderr.contains(needle), "{args:?}: {}", run.stderr);
    }
}

/// Replaces every `time="…"` attribute value, after checking it is a number.
fn mask_junit_times(xml: &str) -> String {
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(at) = rest.find("time=\"") {
        let (head, tail) = rest.split_at(at + 6);
        out.push_str(head);
        let end = tail.find('"').expect("closing quote");
        assert!(
            tail[..end].parse::<f64>().is_ok(),
            "time is a number: {}",
            &tail[..end]
        );
        out.push_str("[time]");
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[test]
fn reports_follow_their_formats() {
    let dir = TempDir::new("contract-reports");
    let json_path = dir.path().join("r.json").to_string_lossy().into_owned();
    let junit_path = dir.path().join("j.xml").to_string_lossy().into_owned();
    let run = run_cli(&[
        "contract",
        "--filter",
        "get.*",
        "--api-key",
        KEY,
        "--report-json",
        &json_path,
        "--report-junit",
        &junit_path,
    ]);
    assert_eq!(run.exit, Exit::Passed, "{run:?}");

    let json_text = std::fs::read_to_string(&json_path).expect("json report");
    let xml = std::fs::read_to_string(&junit_path).expect("junit report");
    for text in [&json_text, &xml, &run.stdout] {
        assert!(!text.contains(KEY), "the key leaked into a report");
    }
    let report: Value = serde_json::from_str(&json_text).expect("JSON");
    let violations = registry()
        .validate("contract-report", Mode::Strict, &report)
        .expect("schema");
    assert!(violations.is_empty(), "{violations:#?}");

    let mut reader = quick_xml::Reader::from_str(&xml);
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("JUnit XML does not parse: {e}"),
        }
    }

    let millis = || {
        insta::dynamic_redaction(|value, _| {
            assert!(
                value.as_f64().is_some(),
                "a duration is a number: {value:?}"
            );
            "[ms]"
        })
    };
    let run_tag = insta::dynamic_redaction(|value, _| {
        let text = value.as_str().expect("a request is a string").to_owned();
        let masked = match text.find("pushcheck-unknown-") {
            Some(at) => format!("{}pushcheck-unknown-[run tag]", &text[..at]),
            None => text,
        };
        insta::internals::Content::from(masked)
    });
    insta::assert_json_snapshot!("contract_report_json", report, {
        ".duration_ms" => millis(),
        ".cases[].duration_ms" => millis(),
        ".cases[].exchanges[].duration_ms" => millis(),
        ".cases[].exchanges[].request" => run_tag,
        ".target.base_url" => "[simulator url]",
        ".version" => "[version]",
    });
    insta::assert_snapshot!("contract_report_junit", mask_junit_times(&xml));
}

/// The simulator, started apart, stands in for a live account: the suite may write only with
/// --allow-writes, and afterwards every registration has its original writable fields back.
#[test]
fn a_live_run_with_writes_restores_every_registration() {
    use pushcheck::api::Operation;
    use pushcheck::api::client::{Call, Client, ClientConfig};
    use pushcheck::mock::{Simulator, SimulatorConfig};

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let sim = Simulator::start(SimulatorConfig { seed_registrations: 20, ..SimulatorConfig::default() })
            .await
            .expect("simulator");
        let facts = sim.facts().clone();
        let listing: Value = reqwest::get(format!("{}?limit=5", facts.admin_url()))
            .await
            .expect("listing")
            .json()
            .await
            .expect("json");
        let ids: Vec<String> = listing["registrations"].as_array().expect("array")[1..4]
            .iter()
            .map(|r| r["registrationId"].as_str().expect("id").to_owned())
            .collect();
        let mut config = ClientConfig::new(facts.base_url.clone());
        config.credentials = facts.credentials.first().cloned();
        config.app_code = Some(facts.applications[0].app_code.clone());
        let client = Client::new(config).expect("client");
        // Give one registration state worth restoring.
        let setup = Call::new(Operation::Patch, ids[0].clone())
            .json(json!({"additionalData": {"owner": "qa", "pushcheck_note": "before"}, "systemData": {"registrationEnabled": false}}));
        assert_eq!(client.send(&setup).await.expect("patch").status, 200);
        let mut originals = Vec::new();
        for id in &ids {
            let r = client.send(&Call::new(Operation::Get, id.clone())).await.expect("get");
            originals.push(serde_json::from_slice::<Value>(&r.body).expect("json"));
        }

        let suite = SuiteConfig {
            target: contract::Target::Live { base_url: facts.base_url.clone(), registration_ids: ids.clone(), allow_writes: true },
            credentials: facts.credentials.clone(),
            app_code: Some(facts.applications[0].app_code.clone()),
            ..SuiteConfig::default()
        };
        let result = contract::run(suite).await.expect("suite runs");
        assert!(result.restore_problems.is_empty(), "{:?}", result.restore_problems);
        assert_eq!(result.summary.failed, 0, "{:#?}", result.cases.iter().filter_map(|c| c.failure.as_ref()).collect::<Vec<_>>());
        assert!(result.cases.iter().any(|c| c.name == "personalize.force_depersonalize" && c.status == Status::Passed));
        assert!(result.cases.iter().any(|c| c.name == "patch.doc_example" && c.status == Status::Skipped));

        for (id, original) in ids.iter().zip(&originals) {
            let r = client.send(&Call::new(Operation::Get, id.clone())).await.expect("get");
            let after: Value = serde_json::from_slice(&r.body).expect("json");
            assert_eq!(after["isPrimary"], original["isPrimary"], "{id} isPrimary");
            assert_eq!(after["systemData"], original["systemData"], "{id} systemData");
            if let Some(data) = original["additionalData"].as_object() {
                for (key, value) in data {
                    assert_eq!(&after["additionalData"][key], value, "{id} additionalData {key}");
                }
            }
        }
        let invariants: Value = reqwest::get(format!("{}/__pushcheck/invariants", facts.base_url))
            .await
            .expect("invariants")
            .json()
            .await
            .expect("json");
        assert_eq!(invariants["violations"], json!([]));
        sim.shutdown().await.expect("shutdown");
    });
}

/// Ctrl-C in the middle of a live run with writes: the run stops, the registration the running
/// case wrote to is restored, and the exit code is 3.
#[test]
fn ctrl_c_during_a_live_run_restores_and_exits_3() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};

    use pushcheck::api::Operation;
    use pushcheck::api::client::{Call, Client, ClientConfig};
    use pushcheck::mock::{Faults, Simulator, SimulatorConfig};

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let sim = runtime
        .block_on(Simulator::start(SimulatorConfig {
            seed_registrations: 10,
            faults: Faults {
                latency: Duration::from_millis(100),
                ..Faults::default()
            },
            ..SimulatorConfig::default()
        }))
        .expect("simulator");
    let facts = sim.facts().clone();
    let app = facts.applications[0].app_code.clone();
    let key = facts
        .credentials
        .iter()
        .find_map(|c| match c {
            pushcheck::api::auth::Credentials::ApiKey(k) => Some(k.expose().to_owned()),
            _ => None,
        })
        .expect("an API key");
    let listing: Value = runtime
        .block_on(async {
            reqwest::get(format!("{}?limit=4", facts.admin_url()))
                .await?
                .json()
                .await
        })
        .expect("listing");
    let ids: Vec<String> = listing["registrations"].as_array().expect("array")[1..4]
        .iter()
        .map(|r| r["registrationId"].as_str().expect("id").to_owned())
        .collect();
    let mut config = ClientConfig::new(facts.base_url.clone());
    config.credentials = facts.credentials.first().cloned();
    config.app_code = Some(app.clone());
    let client = Client::new(config).expect("client");
    let read_all = |client: &Client| -> Vec<Value> {
        runtime.block_on(async {
            let mut out = Vec::new();
            for id in &ids {
                let r = client
                    .send(&Call::new(Operation::Get, id.clone()))
                    .await
                    .expect("get");
                out.push(serde_json::from_slice::<Value>(&r.body).expect("json"));
            }
            out
        })
    };
    let originals = read_all(&client);

    let mut child = Command::new(env!("CARGO_BIN_EXE_pushcheck"))
        .args([
            "contract",
            "--target",
            &facts.base_url,
            "--app-code",
            &app,
            "--allow-writes",
        ])
        .args(ids.iter().flat_map(|id| ["--registration-id", id.as_str()]))
        .env("PUSHCHECK_API_KEY", &key)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pushcheck");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    // Wait (with a deadline) until the writing cases have started, then press Ctrl-C.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()))
            .unwrap_or_else(|_| panic!("no patch case started; output so far: {seen:#?}"));
        let started_writing = line.starts_with("case patch.");
        seen.push(line);
        if started_writing {
            break;
        }
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let exit = loop {
        if let Some(exit) = child.try_wait().expect("wait") {
            break exit;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "pushcheck did not stop after Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    seen.extend(rx.try_iter());
    let output = seen.join("\n");
    assert_eq!(exit.code(), Some(3), "{output}");
    assert!(output.contains("interrupted"), "{output}");
    assert!(!output.contains(&key), "the key leaked");

    let after = read_all(&client);
    for ((id, before), after) in ids.iter().zip(&originals).zip(&after) {
        assert_eq!(before["isPrimary"], after["isPrimary"], "{id}");
        assert_eq!(before["systemData"], after["systemData"], "{id}");
    }
    runtime.block_on(sim.shutdown()).expect("shutdown");
}
