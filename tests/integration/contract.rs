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

pub(crate) mod standin;

// A live account that chooses otherwise where the docs are silent, or has one defect.
mod choices;
use standin::{LiveSim, proxy};

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
        "patch.is_primary_stored",
        "personalize.other_person_refused_without_force",
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
    // A run in which nothing ran would pass "no failure" vacuously.
    assert_eq!(result.summary.skipped, 0, "every case ran");
    assert_eq!(result.summary.passed, result.summary.total);
    assert!(result.summary.total >= 40, "{:?}", result.summary);
    assert!(result.passed());
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

/// `--list` lists what `--filter` (repeatable) selects (a closed pipe: `cli::contract` unit test).
#[test]
fn list_honours_repeated_filters_and_a_closed_pipe() {
    let run = run_cli(&[
        "contract",
        "--list",
        "--filter",
        "get.*",
        "--filter",
        "appcode.missing",
    ]);
    assert_eq!(run.exit, Exit::Passed, "{run:?}");
    let names: Vec<&str> = run
        .stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(
        names.contains(&"get.existing") && names.contains(&"appcode.missing"),
        "{names:?}"
    );
    assert!(
        names
            .iter()
            .all(|n| n.starts_with("get.") || *n == "appcode.missing"),
        "{names:?}"
    );
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
        (
            vec!["contract", "--timeout", "-5s"],
            "invalid value '-5s' for '--timeout <DURATION>'",
        ),
        (vec!["contract", "--timeout", "-5s"], "is negative"),
        (
            vec!["contract", "--list", "--filter", "no.such.case"],
            "no case matches the filter",
        ),
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
/// --allow-writes, and afterwards every device is exactly as it was — the whole registration
/// (isPrimary, registrationEnabled, additionalData present or absent), seeded with non-default
/// originals, and still belonging to nobody.
#[test]
fn a_live_run_with_writes_restores_every_registration() {
    let live = LiveSim::start(3);
    live.seed_originals();
    let originals = live.states();
    assert_eq!(
        originals[0]["systemData"]["registrationEnabled"],
        json!(false)
    );
    assert_eq!(originals[1]["isPrimary"], json!(true));
    assert!(
        originals[2].get("additionalData").is_none(),
        "{}",
        originals[2]
    );
    let suite = SuiteConfig {
        target: contract::Target::Live {
            base_url: live.base_url.clone(),
            registration_ids: live.ids.clone(),
            allow_writes: true,
        },
        credentials: vec![pushcheck::api::auth::Credentials::ApiKey(
            pushcheck::api::auth::Secret::new(live.key.clone()),
        )],
        app_code: Some(live.app.clone()),
        ..SuiteConfig::default()
    };
    let result = live
        .runtime
        .block_on(contract::run(suite))
        .expect("suite runs");
    assert!(
        result.left_on_devices.is_empty(),
        "{:?}",
        result.left_on_devices
    );
    let failures: Vec<_> = result
        .cases
        .iter()
        .filter_map(|c| c.failure.as_ref())
        .collect();
    assert_eq!(result.summary.failed, 0, "{failures:#?}");
    let passed = |name: &str| {
        result
            .cases
            .iter()
            .any(|c| c.name == name && c.status == Status::Passed)
    };
    for name in [
        "personalize.force_depersonalize",
        "patch.additional_data",
        "patch.is_primary_stored",
        "personalize.other_person_refused_without_force",
    ] {
        assert!(passed(name), "{name} ran and passed");
    }
    assert!(
        result
            .cases
            .iter()
            .any(|c| c.name == "patch.doc_example" && c.status == Status::Skipped)
    );
    assert_eq!(live.states(), originals, "every device exactly as before");
    for (n, id) in live.ids.iter().enumerate() {
        assert!(live.belongs_to_nobody(id, n), "{id} left bound to a person");
    }
    let sim = live.sim.as_ref().expect("simulator");
    assert!(sim.invariants().is_empty(), "{:?}", sim.invariants());
}

/// What a Ctrl-C run printed and how it ended.
struct Interrupted {
    exit: Option<i32>,
    output: String,
}

/// Runs `pushcheck contract --allow-writes --filter FILTER` against `target` as a subprocess;
/// at each hook (in order) the proxy has forwarded the request and holds its answer, `at_hook`
/// looks at the target, then the test presses Ctrl-C (SIGINT).
fn interrupt_at(
    live: &LiveSim,
    filter: &str,
    matchers: Vec<proxy::Matcher>,
    mut at_hook: impl FnMut(usize, &str),
) -> Interrupted {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let (tx, rx) = std::sync::mpsc::channel();
    let hooks_total = matchers.len();
    let hooks = matchers
        .into_iter()
        .map(|matches| proxy::Hook {
            matches,
            signal: tx.clone(),
            hold: Duration::from_secs(8),
        })
        .collect();
    let url = proxy::start(&live.runtime, &live.base_url, proxy::Defect::None, hooks);
    let mut child = Command::new(env!("CARGO_BIN_EXE_pushcheck"))
        .args([
            "contract",
            "--target",
            &url,
            "--app-code",
            &live.app,
            "--allow-writes",
            "--filter",
            filter,
        ])
        .args(
            live.ids
                .iter()
                .flat_map(|id| ["--registration-id", id.as_str()]),
        )
        .env("PUSHCHECK_API_KEY", &live.key)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pushcheck");
    drop(tx);
    for i in 0..hooks_total {
        let request = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("hook {i} never reached"));
        at_hook(i, &request);
        let status = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }
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
    let mut output = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut output)
        .expect("read");
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut output)
        .expect("read");
    assert!(!output.contains(&live.key), "the key leaked");
    Interrupted {
        exit: exit.code(),
        output,
    }
}

fn matcher(method: &'static str, path_has: &'static str, body_has: &'static str) -> proxy::Matcher {
    Box::new(move |m, path, body| {
        m == method && path.contains(path_has) && String::from_utf8_lossy(body).contains(body_has)
    })
}

/// Ctrl-C while a case's PATCH is in flight (the write has landed: read back before the
/// signal): the run stops with exit 3 and the device is exactly as before, the attributes the
/// case added deleted.
#[test]
fn ctrl_c_during_a_write_restores_and_exits_3() {
    use pushcheck::api::Operation;
    use pushcheck::api::client::Call;
    let live = LiveSim::start(2);
    live.seed_originals();
    let originals = live.states();
    let run = interrupt_at(
        &live,
        "patch.additional_data",
        vec![matcher("PATCH", "", "pushcheck_otp")],
        |_, _| {
            let (_, now) = live.send(Call::new(Operation::Get, live.ids[0].clone()));
            assert_eq!(
                now["additionalData"]["pushcheck_otp"],
                json!(true),
                "the write landed: {now}"
            );
            assert_eq!(now["additionalData"]["owner"], json!("qa"));
        },
    );
    assert_eq!(run.exit, Some(3), "{}", run.output);
    assert!(run.output.contains("interrupted"), "{}", run.output);
    assert_eq!(live.states(), originals, "{}", run.output);
}

/// Ctrl-C while a personalize is in flight: the device was bound (a personalize of another
/// identity is refused before the signal) and belongs to nobody again afterwards.
#[test]
fn ctrl_c_during_a_personalize_depersonalizes_and_exits_3() {
    use pushcheck::api::Operation;
    use pushcheck::api::client::Call;
    let live = LiveSim::start(2);
    live.seed_originals();
    let originals = live.states();
    let run = interrupt_at(
        &live,
        "personalize.new_person",
        // The case's personalize (a phone number), not the ownership probe's (an externalId).
        vec![matcher("POST", "/personalize", "phoneNumber")],
        |_, _| {
            let probe = Call::new(Operation::Personalize, live.ids[0].clone())
                .json(json!({"identity": {"phoneNumber": "385997654321"}}));
            assert_eq!(
                live.send(probe).0,
                400,
                "the device is bound while the answer is held"
            );
        },
    );
    assert_eq!(run.exit, Some(3), "{}", run.output);
    assert_eq!(live.states(), originals, "{}", run.output);
    assert!(live.belongs_to_nobody(&live.ids[0], 0), "{}", run.output);
}

/// A second Ctrl-C during the restore skips it and lists the device not restored — which indeed
/// still carries what the case wrote.
#[test]
fn a_second_ctrl_c_skips_the_restore_and_lists_what_was_not_restored() {
    let live = LiveSim::start(1);
    live.seed_originals();
    let originals = live.states();
    let hooks = vec![
        matcher("PATCH", "", "pushcheck_otp"),
        matcher("GET", "", ""),
    ];
    let run = interrupt_at(&live, "patch.additional_data", hooks, |_, _| {});
    assert_eq!(run.exit, Some(3), "{}", run.output);
    let id = &live.ids[0];
    assert!(
        run.output
            .contains(&format!("{id}: whatever the interrupted case changed"))
            && run
                .output
                .contains("a second stop signal skipped the restore"),
        "{}",
        run.output
    );
    let after = live.states();
    assert_ne!(after, originals);
    assert_eq!(after[0]["additionalData"]["pushcheck_otp"], json!(true));
}

/// The two live-safe cases run live with --allow-writes; a stand-in with exactly the defect each
/// guards against fails it, the correct target (control) passes it.
#[test]
fn live_safe_cases_fail_on_exactly_their_defect_and_pass_the_control() {
    use proxy::Defect;
    let is_primary = "patch.is_primary_stored";
    let force = "personalize.other_person_refused_without_force";
    for (defect, case, passes, says) in [
        (Defect::None, is_primary, true, ""),
        (
            Defect::IsPrimaryNotStored,
            is_primary,
            false,
            "unexpected value at /isPrimary in the GET after the PATCH",
        ),
        (Defect::None, force, true, ""),
        (
            Defect::ForceIgnored,
            force,
            false,
            "without forceDepersonalize must be refused",
        ),
        (
            Defect::RefusedButMoved,
            force,
            false,
            "must still belong to A",
        ),
    ] {
        let live = LiveSim::start(3);
        let url = proxy::start(&live.runtime, &live.base_url, defect, Vec::new());
        let originals = live.states();
        let mut args = live.args(&url);
        args.extend(["--allow-writes", "--filter", case]);
        let run = run_cli(&args);
        let label = format!("{defect:?} / {case}");
        if passes {
            assert_eq!(run.exit, Exit::Passed, "{label}: {run:?}");
            assert!(
                run.stdout.contains(&format!("case {case} ... ok")),
                "{label}: {}",
                run.stdout
            );
        } else {
            assert_eq!(run.exit, Exit::CheckFailed, "{label}: {run:?}");
            assert!(
                run.stdout.contains(&format!("case {case} ... FAILED")),
                "{label}: {}",
                run.stdout
            );
            assert!(
                run.stdout.contains(says),
                "{label}: expected {says:?} in {}",
                run.stdout
            );
        }
        assert_eq!(live.states(), originals, "{label}: devices restored");
        for (n, id) in live.ids.iter().enumerate() {
            assert!(live.belongs_to_nobody(id, n), "{label}: {id} left bound");
        }
    }
}

/// A target that echoes the Authorization header in its error bodies: neither the key, nor
/// `user:pass`, nor their base64, nor the password reaches stdout, stderr, the JSON or the JUnit
/// report. The failing run's reports are also checked: the JSON against its schema, the JUnit
/// `<failure>` and `<skipped>` elements.
#[test]
fn an_echoing_target_leaks_no_secret_into_any_output_or_report() {
    use pushcheck::api::auth::{Credentials, Secret, base64};
    let key = "canary-key-5d1e9a7b";
    let (user, pass) = ("qa-user", "s3cret-pass-4471");
    let pair = format!("{user}:{pass}");
    let live = LiveSim::start_with(
        1,
        vec![
            Credentials::ApiKey(Secret::new(key)),
            Credentials::basic_from_pair(&pair).expect("pair"),
        ],
    );
    let url = proxy::start(
        &live.runtime,
        &live.base_url,
        proxy::Defect::EchoAuthorization,
        Vec::new(),
    );
    let secrets = [
        key.to_owned(),
        base64(key.as_bytes()),
        pair.clone(),
        base64(pair.as_bytes()),
        pass.to_owned(),
    ];
    for credential in [["--api-key", key], ["--basic", pair.as_str()]] {
        let dir = TempDir::new("echo");
        let json_path = dir.path().join("c.json").to_string_lossy().into_owned();
        let junit_path = dir.path().join("c.xml").to_string_lossy().into_owned();
        let run = run_cli(&[
            "contract",
            "--target",
            &url,
            "--app-code",
            &live.app,
            credential[0],
            credential[1],
            "--registration-id",
            &live.ids[0],
            "--report-json",
            &json_path,
            "--report-junit",
            &junit_path,
        ]);
        assert_eq!(run.exit, Exit::CheckFailed, "{run:?}");
        assert!(
            run.stdout.contains("[redacted]"),
            "the echo was scrubbed: {}",
            run.stdout
        );
        let json_text = std::fs::read_to_string(&json_path).expect("json");
        let xml = std::fs::read_to_string(&junit_path).expect("junit");
        for (what, text) in [
            ("stdout", &run.stdout),
            ("stderr", &run.stderr),
            ("json", &json_text),
            ("junit", &xml),
        ] {
            for secret in &secrets {
                assert!(
                    !text.contains(secret.as_str()),
                    "{secret} leaked into {what}"
                );
            }
        }
        let report: Value = serde_json::from_str(&json_text).expect("JSON");
        assert_eq!(report["passed"], json!(false));
        let violations = registry()
            .validate("contract-report", Mode::Strict, &report)
            .expect("schema");
        assert!(violations.is_empty(), "{violations:#?}");
        let elements = junit_elements(&xml);
        let failed: Vec<&str> = report["cases"]
            .as_array()
            .expect("cases")
            .iter()
            .filter(|c| c["status"] == "failed")
            .filter_map(|c| c["name"].as_str())
            .collect();
        let skipped = report["summary"]["skipped"].as_u64().expect("count") as usize;
        assert!(!failed.is_empty());
        assert_eq!(elements.failures.len(), failed.len(), "{xml}");
        for name in &failed {
            assert!(
                elements.failures.iter().any(|(case, _)| case == name),
                "{name} has a <failure>"
            );
        }
        assert!(
            elements
                .failures
                .iter()
                .all(|(_, message)| !message.is_empty())
        );
        assert_eq!(elements.skipped.len(), skipped, "{xml}");
    }
}

/// What a JUnit report holds: `(test case, message)` of each `<failure>` and `<skipped>`.
#[derive(Debug, Default)]
struct JunitElements {
    failures: Vec<(String, String)>,
    skipped: Vec<(String, String)>,
}

fn junit_elements(xml: &str) -> JunitElements {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut out = JunitElements::default();
    let mut case = String::new();
    let attr = |e: &quick_xml::events::BytesStart<'_>, name: &[u8]| {
        e.attributes()
            .flatten()
            .find(|a| a.key.as_ref() == name)
            .map(|a| String::from_utf8_lossy(&a.value).into_owned())
            .unwrap_or_default()
    };
    loop {
        match reader.read_event().expect("JUnit XML parses") {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) => match e.name().as_ref() {
                b"testcase" => case = attr(&e, b"name"),
                b"failure" => out.failures.push((case.clone(), attr(&e, b"message"))),
                b"skipped" => out.skipped.push((case.clone(), attr(&e, b"message"))),
                _ => {}
            },
            _ => {}
        }
    }
    out
}

#[test]
fn credentials_in_the_target_url_are_refused_without_showing_them() {
    let run = run_cli(&[
        "contract",
        "--target",
        "http://qa:canary-in-url-77@127.0.0.1:9",
        "--registration-id",
        "r",
    ]);
    assert_eq!(run.exit, Exit::Usage, "{run:?}");
    assert!(run.stderr.contains("http://127.0.0.1:9"), "{}", run.stderr);
    assert!(run.stderr.contains("carries credentials"), "{}", run.stderr);
    assert!(!run.stderr.contains("canary-in-url-77") && !run.stdout.contains("canary-in-url-77"));
}

/// Configuration mistakes are exit 2 with one line naming them, before any case runs; an
/// unreachable target is exit 3 within seconds.
#[test]
fn preflight_turns_configuration_mistakes_into_exit_2() {
    let live = LiveSim::start(1);
    let url = live.base_url.clone();
    let id = live.ids[0].as_str();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "--api-key",
                "wrong-key",
                "--app-code",
                &live.app,
                "--registration-id",
                id,
            ],
            "refused the credentials (HTTP 401",
        ),
        // (No credentials at all: a loopback target is sent the local key, see
        // `a_loopback_target_without_credentials_gets_the_local_key`.)
        (
            vec![
                "--api-key",
                &live.key,
                "--app-code",
                "no-such-app",
                "--registration-id",
                id,
            ],
            "no application with code \"no-such-app\"",
        ),
        (
            vec!["--api-key", &live.key, "--registration-id", id],
            "no AppCode was sent",
        ),
        (
            vec![
                "--api-key",
                &live.key,
                "--app-code",
                &live.app,
                "--registration-id",
                "missing-reg-1",
            ],
            "registration missing-reg-1 does not exist",
        ),
        (
            vec![
                "--api-key",
                &live.key,
                "--app-code",
                &live.app,
                "--registration-id",
                "missing-reg-1",
                "--allow-writes",
            ],
            "registration missing-reg-1 does not exist",
        ),
        (
            vec!["--api-key", &live.key, "--app-code", &live.app],
            "no registration to run on",
        ),
    ];
    for (extra, needle) in cases {
        let mut args = vec!["contract", "--target", url.as_str()];
        args.extend(extra.iter().copied());
        let run = run_cli(&args);
        assert_eq!(run.exit, Exit::Usage, "{args:?}: {run:?}");
        assert!(run.stderr.contains(needle), "{args:?}: {}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "one line: {}", run.stderr);
        assert_eq!(
            run.stderr.matches(needle).count(),
            1,
            "said once: {}",
            run.stderr
        );
        assert!(run.stdout.is_empty(), "no case ran: {}", run.stdout);
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let closed = format!("http://127.0.0.1:{port}");
    let started = std::time::Instant::now();
    let run = run_cli(&[
        "contract",
        "--target",
        &closed,
        "--registration-id",
        "r",
        "--api-key",
        "k",
    ]);
    assert_eq!(run.exit, Exit::Runtime, "{run:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

/// A report into a directory that does not exist yet: the directory is made, as `load` and
/// `check` make theirs.
#[test]
fn a_report_into_a_missing_directory_is_written_there() {
    let dir = TempDir::new("report-dir-made");
    let json = dir.path().join("new").join("deeper").join("r.json");
    let run = run_cli(&[
        "contract",
        "--filter",
        "get.existing",
        "--report-json",
        json.to_str().expect("utf-8"),
    ]);
    assert_eq!(run.exit, Exit::Passed, "{run:?}");
    assert!(json.exists(), "{run:?}");
}

/// An unwritable report path is exit 2 before a single request reaches the target.
#[test]
fn an_unwritable_report_path_is_refused_before_any_request() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let server = runtime.block_on(async {
        let server = MockServer::start().await;
        Mock::given(wiremock::matchers::any())
            .respond_with(ResponseTemplate::new(500))
            .expect(0)
            .mount(&server)
            .await;
        server
    });
    let dir = TempDir::new("unwritable");
    // Under a regular file no directory can be made; a missing directory is created instead.
    let under_a_file = dir.write("a-file", "x");
    let under_a_file = format!("{under_a_file}/r.json");
    let as_dir = dir.path().to_string_lossy().into_owned();
    for (flag, path) in [
        ("--report-json", &under_a_file),
        ("--report-junit", &as_dir),
    ] {
        let run = run_cli(&[
            "contract",
            "--target",
            &server.uri(),
            "--registration-id",
            "r",
            "--api-key",
            KEY,
            flag,
            path,
        ]);
        assert_eq!(run.exit, Exit::Usage, "{run:?}");
        assert!(
            run.stderr.contains("cannot write the report"),
            "{}",
            run.stderr
        );
        assert_eq!(
            run.stderr.matches("os error").count(),
            1,
            "the OS error once: {}",
            run.stderr
        );
    }
    runtime.block_on(server.verify());
}

/// A run whose every case was skipped checked nothing: exit 2 saying why, unless asked for;
/// its JUnit report marks each case `<skipped>` with the reason.
#[test]
fn an_all_skipped_run_is_exit_2_unless_allowed() {
    let live = LiveSim::start(1);
    let dir = TempDir::new("skipped");
    let junit_path = dir.path().join("s.xml").to_string_lossy().into_owned();
    let mut args = live.args(&live.base_url);
    args.extend([
        "--filter",
        "patch.additional_data",
        "--filter",
        "personalize.new_person",
        "--report-junit",
        &junit_path,
    ]);
    let run = run_cli(&args);
    assert_eq!(run.exit, Exit::Usage, "{run:?}");
    assert!(
        run.stderr.contains("every case was skipped (2 of 2)"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("needs --allow-writes"),
        "{}",
        run.stderr
    );
    let elements = junit_elements(&std::fs::read_to_string(&junit_path).expect("junit"));
    let names: Vec<&str> = elements.skipped.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(
        names,
        vec!["patch.additional_data", "personalize.new_person"]
    );
    assert!(
        elements
            .skipped
            .iter()
            .all(|(_, m)| m.contains("--allow-writes"))
    );
    assert!(elements.failures.is_empty());
    args.push("--allow-all-skipped");
    assert_eq!(run_cli(&args).exit, Exit::Passed);
}

/// A device already personalized to someone: named, its writing cases skipped, exit 2 — and it
/// still belongs to its person afterwards (the run never detaches a person it did not attach).
#[test]
fn a_device_bound_before_the_run_is_named_and_left_to_its_person() {
    use pushcheck::api::Operation;
    use pushcheck::api::client::Call;
    let live = LiveSim::start(1);
    let id = live.ids[0].clone();
    let owner = json!({"identity": {"phoneNumber": "385911234567"}});
    assert_eq!(
        live.send(Call::new(Operation::Personalize, id.clone()).json(owner.clone()))
            .0,
        200
    );
    let before = live.states();
    let mut args = live.args(&live.base_url);
    args.extend([
        "--allow-writes",
        "--filter",
        "personalize.new_person",
        "--filter",
        "patch.is_primary_stored",
    ]);
    let run = run_cli(&args);
    assert_eq!(run.exit, Exit::Usage, "{run:?}");
    assert!(
        run.stderr
            .contains(&format!("registration {id} already belongs to a person")),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout.contains("PERSONALIZATION_IMPOSSIBLE"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("FAILED ("), "{}", run.stdout);
    assert_eq!(
        run.stdout.matches("already belongs to a person").count(),
        1,
        "said once: {}",
        run.stdout
    );
    assert_eq!(live.states(), before);
    assert_eq!(
        live.send(Call::new(Operation::Personalize, id).json(owner))
            .0,
        200,
        "still its person's"
    );
}

/// The simulator models null as delete (choice `patch.additional_data_merged`), and a device
/// left with no attribute has no additionalData, not `{}`.
#[test]
fn the_simulator_deletes_a_custom_attribute_sent_as_null() {
    use pushcheck::api::Operation;
    use pushcheck::api::client::Call;
    let live = LiveSim::start(1);
    let id = live.ids[0].clone();
    let patch = |body: Value| live.send(Call::new(Operation::Patch, id.clone()).json(body));
    let (status, body) = patch(json!({"additionalData": {"a": 1, "b": "x"}}));
    assert_eq!(
        (status, &body["additionalData"]),
        (200, &json!({"a": 1, "b": "x"}))
    );
    let (status, body) = patch(json!({"additionalData": {"a": null}}));
    assert_eq!((status, &body["additionalData"]), (200, &json!({"b": "x"})));
    let (_, body) = patch(json!({"additionalData": {"b": null}}));
    assert!(body.get("additionalData").is_none(), "{body}");
    assert!(live.states()[0].get("additionalData").is_none());
}

/// A target that answers 200 to null and keeps the attribute (a write acknowledged and not
/// applied): the probe says so (a server finding), and the restore says which attributes remain,
/// as a server fault.
#[test]
fn attributes_a_target_keeps_are_reported_as_left_behind() {
    let live = LiveSim::start(1);
    let url = proxy::start(
        &live.runtime,
        &live.base_url,
        proxy::Defect::NullIgnored,
        Vec::new(),
    );
    let dir = TempDir::new("left-behind");
    let json_path = dir.path().join("r.json").to_string_lossy().into_owned();
    let mut args = live.args(&url);
    args.extend([
        "--allow-writes",
        "--filter",
        "patch.additional_data",
        "--report-json",
        &json_path,
    ]);
    let run = run_cli(&args);
    assert_eq!(run.exit, Exit::CheckFailed, "{run:?}");
    assert!(run.stdout.contains("left on the devices"), "{}", run.stdout);
    assert!(run.stdout.contains("pushcheck_note"), "{}", run.stdout);
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).expect("json")).expect("JSON");
    let left = &report["left_on_devices"][0];
    assert_eq!(left["cause"], json!("server_fault"), "{left}");
    for name in ["pushcheck_note", "pushcheck_otp"] {
        assert!(
            left["items"]
                .as_array()
                .is_some_and(|i| i.contains(&json!(name))),
            "{left}"
        );
    }
    assert_eq!(report["target_choices"]["null_attribute"], json!("ignored"));
    assert!(
        registry()
            .validate("contract-report", Mode::Strict, &report)
            .expect("schema")
            .is_empty()
    );
}

/// `--application-id` through the CLI: a live run whose registrations carry that application's
/// ID passes; one naming another ID fails every registration read, naming applicationId.
#[test]
fn every_registration_answered_carries_the_application_id_given() {
    let live = LiveSim::start(3);
    let right = pushcheck::mock::Application::doc().application_id;
    let mut args = live.args(&live.base_url);
    args.extend(["--application-id", &right, "--filter", "get.existing"]);
    let run = run_cli(&args);
    assert_eq!(run.exit, Exit::Passed, "{run:?}");
    let mut args = live.args(&live.base_url);
    args.extend(["--application-id", "0000WRONG", "--filter", "get.existing"]);
    let run = run_cli(&args);
    assert_eq!(run.exit, Exit::CheckFailed, "{run:?}");
    assert!(
        run.stdout
            .contains("is answered with applicationId \"753CBCDC1D587223934106E2A2AEDD44\""),
        "{}",
        run.stdout
    );
}

/// A loopback target without credentials (a `pushcheck mock` of one's own) is sent the
/// simulator's published local key, as `load` does; a wrong key given is still sent as given.
#[test]
fn a_loopback_target_without_credentials_gets_the_local_key() {
    let runtime = crate::util::server_runtime();
    let sim = runtime.block_on(crate::util::start_default_simulator(5));
    let id = runtime
        .block_on(crate::util::seeded_registration_ids(sim.base_url(), 1))
        .remove(0);
    let args = |extra: &[&str]| {
        let mut all = vec![
            "contract",
            "--target",
            sim.base_url(),
            "--registration-id",
            &id,
            "--filter",
            "get.existing",
            "--app-code",
            pushcheck::mock::config::DOC_APP_CODE,
        ];
        all.extend_from_slice(extra);
        all.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let plain = args(&[]);
    let run = run_cli(&plain.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(run.exit, Exit::Passed, "{run:?}");
    let wrong = args(&["--api-key", "not-the-key"]);
    let run = run_cli(&wrong.iter().map(String::as_str).collect::<Vec<_>>());
    assert_ne!(
        run.exit,
        Exit::Passed,
        "a key given is sent as given: {run:?}"
    );
    runtime.block_on(async { sim.shutdown().await.expect("shutdown") });
}
