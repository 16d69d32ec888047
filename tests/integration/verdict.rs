//! The load verdict, tried against stand-in servers with exactly one defect each (see
//! [`crate::standin`]) and a control with none: each defect must FAIL (or exit with the code
//! that names the mistake), the control must PASS, and every run must end on its own.
//!
//! Most runs go through the in-process CLI (`run_cli`), so the exit code is the one a user gets;
//! what only the real binary shows (stdout kept clean, Ctrl-C, a terminal) runs the binary.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pushcheck::cli::Exit;
use serde_json::Value;

use crate::standin::{Defect, StandIn};
use crate::util::{
    CliRun, TempDir, project_path, read_all, read_load_summary, run_cli, send_ctrl_c,
    server_runtime, wait_within,
};

/// All four operations, 4 users, 1 s, every response validated.
const ALL_OPS: &str = r#"
users = 4
run_time = "1s"
[mix]
get = 3
patch = 1
personalize = 1
depersonalize = 1
[validation]
sample_rate = 1.0
"#;

/// Runs `pushcheck load` with `scenario` against a stand-in with `defect`; returns the run and
/// the summary JSON.
fn load_against(defect: Defect, scenario: &str, extra: &[&str]) -> (CliRun, Value) {
    let rt = server_runtime();
    let standin = rt.block_on(StandIn::start(defect, 20));
    let dir = TempDir::new("verdict");
    let feed = standin.feed_file(&dir);
    let file = dir.write("scenario.toml", scenario);
    let reports = dir.path().join("reports");
    let mut args = vec![
        "load",
        "--scenario",
        &file,
        "--target",
        &standin.base_url,
        "--feed",
        &feed,
        "--report-dir",
        reports.to_str().expect("utf-8"),
    ];
    args.extend_from_slice(extra);
    let run = run_cli(&args);
    let summary = read_load_summary(&reports.join("summary.json"));
    drop(standin);
    (run, summary)
}

/// Runs `pushcheck load` with `scenario` against the simulator with the planted defect `name`.
fn load_against_simulator(name: &str, scenario: &str, extra: &[&str]) -> (CliRun, Value) {
    let rt = server_runtime();
    let defect = pushcheck::mock::Defect::from_name(name).expect("a known defect");
    let sim = rt.block_on(crate::util::start_simulator(
        pushcheck::mock::SimulatorConfig {
            seed_registrations: 100,
            defects: pushcheck::mock::Defects::of(&[defect]),
            ..pushcheck::mock::SimulatorConfig::default()
        },
    ));
    let dir = TempDir::new("verdict-sim");
    let file = dir.write("scenario.toml", scenario);
    let mut args = vec![
        "load",
        "--scenario",
        &file,
        "--target",
        sim.base_url(),
        "--json",
    ];
    args.extend_from_slice(extra);
    let run = run_cli(&args);
    let summary = serde_json::from_str(&run.stdout).unwrap_or(Value::Null);
    rt.block_on(async { sim.shutdown().await.expect("shutdown") });
    (run, summary)
}

fn show(run: &CliRun) -> String {
    format!("stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr)
}

/// The rule outcome named `rule` in a summary.
fn rule<'a>(summary: &'a Value, rule: &str) -> &'a Value {
    summary["thresholds"]
        .as_array()
        .and_then(|t| t.iter().find(|r| r["rule"] == rule))
        .unwrap_or_else(|| panic!("no rule {rule:?} in {:#}", summary["thresholds"]))
}

fn op<'a>(summary: &'a Value, label: &str) -> &'a Value {
    summary["operations"]
        .as_array()
        .and_then(|o| o.iter().find(|o| o["operation"] == label))
        .unwrap_or_else(|| panic!("no operation {label:?}"))
}

/// A scenario of one operation, with a ramp of 2 s at a throttled rate: the ramp's requests
/// are a large share of the run.
const RAMP: &str = r#"
users = 4
increase_rate = 2
run_time = "1s"
throttle = 40
[mix]
get = 1
"#;

/// The same ramp at half the rate, so slow ramp answers are most of the run's requests.
const RAMP_SLOW: &str = r#"
users = 4
increase_rate = 2
run_time = "1s"
throttle = 20
[mix]
get = 1
"#;

/// Every operation at pushcheck's default sample rate (no [validation]).
const DEFAULT_SAMPLE: &str = r#"
users = 4
run_time = "1s"
[mix]
get = 6
patch = 2
personalize = 1
depersonalize = 1
"#;

/// No rules at all: only the always-on ones judge.
const NO_RULES: &str = "users = 2\nrun_time = \"1s\"\n[mix]\nget = 1\n";
/// Reads and writes at a steady rate.
const WRITES: &str = "users = 4\nrun_time = \"1s\"\nthrottle = 400\n[mix]\nget = 1\npatch = 2\n";
/// Writes only.
const PATCH_ONLY: &str = "users = 2\nrun_time = \"1s\"\n[mix]\npatch = 1\n";
/// Reads and writes.
const GET_PATCH: &str = "users = 2\nrun_time = \"1s\"\n[mix]\nget = 1\npatch = 1\n";
/// Long enough for a 1 s stall in the middle, with coordinated-omission mitigation.
const STALL: &str = r#"
users = 4
increase_rate = 8
run_time = "3s"
co_mitigation = "average"
[mix]
get = 1
"#;

/// One row of the load kill matrix: a defect, the run that meets it, and what must catch it,
/// written by hand (never recorded from a run).
struct Row {
    defect: Defect,
    /// Instead of a stand-in, the simulator with this planted defect (`pushcheck mock
    /// --defect NAME`), its listing as the feed and its invariant check after the load.
    simulator_defect: Option<&'static str>,
    /// What the defect breaks, for the docs.
    breaks: &'static str,
    scenario: &'static str,
    flags: &'static [&'static str],
    exit: Exit,
    /// Exactly the rules and checks after the load that fail (`name (status)` for a check).
    caught_by: &'static [&'static str],
    /// More that must hold of the run.
    also: Option<fn(&CliRun, &Value)>,
}

const CONTRACT_BREAK: &[&str] = &["error-rate<1%", "schema-violation-rate<=0%"];

/// A write-heavy run against the simulator: every device is personalized again and again.
const PERSONALIZE_AGAIN: &str =
    "users = 4\nrun_time = \"1s\"\n[mix]\nget = 1\npatch = 1\npersonalize = 2\n";

const MATRIX: &[Row] = &[
    Row {
        simulator_defect: None,
        defect: Defect::None,
        breaks: "nothing (the control)",
        scenario: ALL_OPS,
        flags: &[],
        exit: Exit::Passed,
        caught_by: &[],
        also: Some(control),
    },
    Row {
        simulator_defect: None,
        defect: Defect::ErrorsDuringRamp,
        breaks: "500s during the first 1.5 s only, while users ramp up",
        scenario: RAMP,
        flags: &[],
        exit: Exit::CheckFailed,
        caught_by: &["error-rate<1%"],
        also: Some(|_, s| assert_eq!(s["metrics_cover"], "whole run")),
    },
    Row {
        simulator_defect: None,
        defect: Defect::SlowDuringRamp,
        breaks: "300 ms answers during the first 1.5 s only",
        scenario: RAMP_SLOW,
        flags: &["--threshold", "p95<100ms"],
        exit: Exit::CheckFailed,
        caught_by: &["p95<100ms"],
        also: None,
    },
    Row {
        simulator_defect: None,
        defect: Defect::Stall,
        breaks: "every answer held for 1 s in the middle of the run (users wait it out once)",
        scenario: STALL,
        flags: &[
            "--threshold",
            "p95<250ms",
            "--threshold",
            "adjusted-p99<250ms",
        ],
        exit: Exit::CheckFailed,
        caught_by: &["adjusted-p99<250ms"],
        also: Some(|_, s| {
            assert_eq!(rule(s, "p95<250ms")["figure"], "measured");
            assert_eq!(rule(s, "adjusted-p99<250ms")["figure"], "co-adjusted");
        }),
    },
    Row {
        simulator_defect: None,
        defect: Defect::TextPlain,
        breaks: "`Content-Type: text/plain` on every 2xx JSON answer",
        scenario: ALL_OPS,
        flags: &[],
        exit: Exit::CheckFailed,
        caught_by: CONTRACT_BREAK,
        also: Some(|_, s| kind_seen(s, "all", "content-type")),
    },
    Row {
        simulator_defect: None,
        defect: Defect::WrongPerson,
        breaks: "personalize answers another person than the identity sent",
        scenario: ALL_OPS,
        flags: &[],
        exit: Exit::CheckFailed,
        caught_by: CONTRACT_BREAK,
        also: Some(|_, s| {
            kind_seen(s, "POST personalize", "meaning");
            assert_eq!(op(s, "GET registration")["schema_violations"], 0);
        }),
    },
    Row {
        simulator_defect: None,
        defect: Defect::EmptyPerson,
        breaks: "personalize answers `{}`",
        scenario: ALL_OPS,
        flags: &[],
        exit: Exit::CheckFailed,
        caught_by: CONTRACT_BREAK,
        also: Some(|_, s| kind_seen(s, "POST personalize", "schema")),
    },
    Row {
        simulator_defect: None,
        defect: Defect::DepersonalizeBody,
        breaks: "depersonalize answers a JSON body instead of an empty one",
        scenario: ALL_OPS,
        flags: &[],
        exit: Exit::CheckFailed,
        caught_by: CONTRACT_BREAK,
        also: Some(|_, s| kind_seen(s, "POST depersonalize", "body")),
    },
    Row {
        simulator_defect: None,
        defect: Defect::BrokenPatchAnswers,
        breaks: "PATCH answers without the required `applicationId`, at the default sample rate",
        scenario: DEFAULT_SAMPLE,
        flags: &[],
        exit: Exit::CheckFailed,
        caught_by: CONTRACT_BREAK,
        also: Some(|_, s| {
            kind_seen(s, "PATCH registration", "schema");
            for label in ["GET registration", "POST personalize", "POST depersonalize"] {
                assert!(
                    op(s, label)["validated"].as_u64() > Some(0),
                    "{label} validated"
                );
            }
        }),
    },
    Row {
        simulator_defect: None,
        defect: Defect::AllErrors,
        breaks: "a 500 to every request, in a scenario with no rules",
        scenario: NO_RULES,
        flags: &[],
        exit: Exit::CheckFailed,
        caught_by: &["error-rate<1%"],
        also: Some(|_, s| assert_eq!(rule(s, "error-rate<1%")["source"], "always-on")),
    },
    Row {
        simulator_defect: None,
        defect: Defect::RareErrors,
        breaks: "0.7% 500s (under the 1% rule), re-reads after the load included",
        scenario: WRITES,
        flags: &[],
        exit: Exit::Passed,
        caught_by: &[],
        also: None,
    },
    Row {
        simulator_defect: None,
        defect: Defect::LosesWrites,
        breaks: "PATCH answers the write but does not store it",
        scenario: GET_PATCH,
        flags: &[],
        exit: Exit::CheckFailed,
        caught_by: &["no acknowledged write lost (failed)"],
        also: None,
    },
    Row {
        simulator_defect: None,
        defect: Defect::ReadsUnavailable,
        breaks: "GET answers 503 without a body (writes work): nothing can be re-read",
        scenario: PATCH_ONLY,
        flags: &[],
        exit: Exit::CheckFailed,
        caught_by: &["no acknowledged write lost (could-not-check)"],
        also: Some(|run, _| assert!(run.stdout.contains("could not check"), "{}", run.stdout)),
    },
    Row {
        simulator_defect: None,
        defect: Defect::Unauthorized,
        breaks: "401 to every request (credentials refused)",
        scenario: ALL_OPS,
        flags: &[],
        exit: Exit::Usage,
        caught_by: &[],
        also: Some(|run, s| {
            assert!(run.stderr.contains("refused the"), "{}", run.stderr);
            assert!(
                s.get("not_judged").is_some(),
                "the probe stopped it before any load: {s}"
            );
        }),
    },
    Row {
        defect: Defect::None,
        simulator_defect: Some("personalize.no_merge"),
        breaks: "the simulator never matches an identity: personalizing with the same externalId \
                 makes a new person each time",
        scenario: PERSONALIZE_AGAIN,
        flags: &[],
        exit: Exit::CheckFailed,
        caught_by: &[
            "simulator invariants (failed)",
            "simulator invariants: identity.unique_external_id (failed)",
        ],
        also: None,
    },
];

fn control(_: &CliRun, summary: &Value) {
    for label in [
        "GET registration",
        "PATCH registration",
        "POST personalize",
        "POST depersonalize",
    ] {
        let o = op(summary, label);
        assert!(o["validated"].as_u64() > Some(0), "{label}: {o:#}");
        assert_eq!(o["schema_violations"], 0, "{label}: {o:#}");
    }
    let notes: Vec<&str> = summary["notes"]
        .as_array()
        .expect("notes")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let removed = notes
        .iter()
        .find(|n| n.starts_with("removed the run's attribute"))
        .unwrap_or_else(|| panic!("no removal note: {notes:#?}"));
    let counts: Vec<&str> = removed
        .split(" from ")
        .nth(1)
        .map(|rest| rest.split(' ').collect())
        .unwrap_or_default();
    assert!(
        counts.len() >= 3 && counts[0] == counts[2],
        "every written device cleaned: {removed}"
    );
}

fn kind_seen(summary: &Value, label: &str, kind: &str) {
    let o = if label == "all" {
        &summary["total"]
    } else {
        op(summary, label)
    };
    assert!(
        o["violations_by_kind"][kind].as_u64() > Some(0),
        "{label}: no {kind} break counted: {o:#}"
    );
}

/// What failed in a run: each failed rule, and each check after the load that did not pass.
fn failed_items(summary: &Value) -> Vec<String> {
    let mut out: Vec<String> = summary["thresholds"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["passed"] == false)
        .filter_map(|t| t["rule"].as_str().map(str::to_owned))
        .collect();
    out.extend(
        summary["invariants"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|i| i["status"] != "passed")
            .map(|i| {
                format!(
                    "{} ({})",
                    i["name"].as_str().unwrap_or(""),
                    i["status"].as_str().unwrap_or("")
                )
            }),
    );
    out.sort();
    out
}

#[test]
fn every_load_check_fails_on_its_defect_and_the_control_passes() {
    for row in MATRIX {
        let (run, summary) = match row.simulator_defect {
            None => load_against(row.defect, row.scenario, row.flags),
            Some(name) => load_against_simulator(name, row.scenario, row.flags),
        };
        assert_eq!(run.exit, row.exit, "{:?}: {}", row.defect, show(&run));
        let mut expected: Vec<String> = row.caught_by.iter().map(|s| (*s).to_owned()).collect();
        expected.sort();
        assert_eq!(
            failed_items(&summary),
            expected,
            "{:?}: what failed is not what was written down\n{}",
            row.defect,
            show(&run)
        );
        if let Some(also) = row.also {
            also(&run, &summary);
        }
    }
}

/// The matrix as the README shows it (a test keeps the README in step).
pub fn kill_matrix_markdown() -> String {
    let mut out = String::from(
        "| stand-in defect | what it breaks | exit | what fails |\n|---|---|---|---|\n",
    );
    for row in MATRIX {
        let caught = match (row.caught_by, row.exit) {
            ([], Exit::Usage) => "the probe before the load: credentials refused".to_owned(),
            ([], _) => "nothing (it must pass)".to_owned(),
            (items, _) => items
                .iter()
                .map(|i| format!("`{i}`"))
                .collect::<Vec<_>>()
                .join(", "),
        };
        let name = match row.simulator_defect {
            Some(defect) => format!("simulator `--defect {defect}`"),
            None => format!("`{:?}`", row.defect),
        };
        out.push_str(&format!(
            "| {name} | {} | {} | {caught} |\n",
            row.breaks,
            row.exit.code()
        ));
    }
    out
}

#[test]
fn steady_state_only_judges_after_the_ramp_and_says_so() {
    let (run, summary) = load_against(Defect::ErrorsDuringRamp, RAMP, &["--steady-state-only"]);
    assert_eq!(run.exit, Exit::Passed, "{}", show(&run));
    assert_eq!(summary["metrics_cover"], "steady state");
}

#[test]
fn a_flag_threshold_adds_and_replaces_by_metric_and_request() {
    let scenario = ALL_OPS.replacen(
        "[mix]",
        "thresholds = [\"schema-violation-rate<=0%\", \"p95<250ms\"]\n[mix]",
        1,
    );
    let (run, summary) = load_against(
        Defect::BrokenPatchAnswers,
        &scenario,
        &["--threshold", "p95<100ms"],
    );
    assert_eq!(run.exit, Exit::CheckFailed, "{}", show(&run));
    assert_eq!(rule(&summary, "schema-violation-rate<=0%")["passed"], false);
    assert_eq!(
        rule(&summary, "schema-violation-rate<=0%")["source"],
        "scenario"
    );
    let flag = rule(&summary, "p95<100ms");
    assert_eq!(flag["source"], "flag");
    assert_eq!(flag["replaces"], "p95<250ms");
    assert!(
        run.stdout.contains("replaces the scenario's p95<250ms"),
        "{}",
        run.stdout
    );
}

#[test]
fn an_always_on_rule_can_be_turned_off_by_name() {
    let (run, summary) = load_against(
        Defect::AllErrors,
        NO_RULES,
        &["--without-rule", "error-rate"],
    );
    assert_eq!(run.exit, Exit::Passed, "{}", show(&run));
    assert!(
        summary["thresholds"]
            .as_array()
            .is_some_and(|t| t.iter().all(|r| r["rule"] != "error-rate<1%"))
    );
}

#[test]
fn a_target_that_echoes_the_key_leaks_it_nowhere() {
    const KEY: &str = "echoed-secret-key-5813";
    let rt = server_runtime();
    let standin = rt.block_on(StandIn::start(Defect::EchoesAuth, 10));
    let dir = TempDir::new("verdict-echo");
    let feed = standin.feed_file(&dir);
    let reports = dir.path().join("reports");
    let run = run_cli(&[
        "load",
        "--target",
        &standin.base_url,
        "--feed",
        &feed,
        "--api-key",
        KEY,
        "--run-time",
        "1s",
        "--users",
        "2",
        "--report-dir",
        reports.to_str().expect("utf-8"),
    ]);
    assert_eq!(run.exit, Exit::CheckFailed, "{}", show(&run));
    assert!(
        run.stdout.contains("[redacted]") || run.stdout.contains("isPrimary"),
        "{}",
        run.stdout
    );
    for (what, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        assert!(!text.contains(KEY), "{what} carries the key:\n{text}");
    }
    let mut files = 0;
    for entry in std::fs::read_dir(&reports).expect("reports") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("report text");
        assert!(!text.contains(KEY), "{} carries the key", path.display());
        files += 1;
    }
    assert!(files >= 4, "every report was written and read");
}

#[test]
fn configuration_mistakes_are_usage_errors() {
    let smoke = project_path("scenarios/smoke.toml");
    for (args, needle) in [
        (
            vec!["--threshold", "p95<100ms for GET registratoin"],
            "GET registratoin",
        ),
        (vec!["--run-time", "0s"], "at least 1s"),
        (vec!["--run-time", "1500ms"], "whole number of seconds"),
        (vec!["--iterations", "0"], "at least 1"),
        (vec!["--api-key", "bad\nkey"], "header value"),
        (vec!["--without-rule", "p95"], "always-on"),
        (vec!["--request-timeout", "0s"], "more than 0"),
    ] {
        let mut full = vec!["load", "--scenario", smoke.as_str()];
        full.extend(args.iter().copied());
        let run = run_cli(&full);
        assert_eq!(run.exit, Exit::Usage, "{args:?}: {}", show(&run));
        let first = run.stderr.lines().next().unwrap_or("");
        assert!(
            first.contains(needle),
            "{args:?}: the first line names it: {}",
            run.stderr
        );
    }
}

#[test]
fn a_key_given_for_the_embedded_simulator_is_accepted() {
    let run = run_cli(&[
        "load",
        "--scenario",
        &project_path("scenarios/smoke.toml"),
        "--run-time",
        "1s",
        "--api-key",
        "my-own-key",
    ]);
    assert_eq!(run.exit, Exit::Passed, "{}", show(&run));
}

#[test]
fn an_unreachable_target_exits_3_in_seconds() {
    let dir = TempDir::new("unreachable");
    let feed = dir.write("feed.txt", "r1,app\n");
    let started = Instant::now();
    let run = run_cli(&[
        "load",
        "--target",
        "http://127.0.0.1:1",
        "--feed",
        &feed,
        "--run-time",
        "5s",
    ]);
    assert_eq!(run.exit, Exit::Runtime, "{}", show(&run));
    assert!(run.stderr.contains("http://127.0.0.1:1"), "{}", run.stderr);
    assert_eq!(run.stderr.trim().lines().count(), 1, "{}", run.stderr);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------------------------
// The real binary: what only a separate process shows.

fn binary() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pushcheck"));
    for var in [
        "PUSHCHECK_TARGET",
        "PUSHCHECK_API_KEY",
        "PUSHCHECK_APP_CODE",
    ] {
        c.env_remove(var);
    }
    c
}

#[test]
fn json_in_iterations_mode_is_one_document_on_stdout() {
    let out = binary()
        .args(["load", "--scenario", &project_path("scenarios/smoke.toml")])
        .args(["--iterations", "2", "--json"])
        .output()
        .expect("run the binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{stdout}"));
    assert_eq!(v["verdict"]["passed"], true, "{stdout}");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn verbose_shows_gooses_info_messages() {
    let out = binary()
        .args(["load", "--scenario", &project_path("scenarios/smoke.toml")])
        .args(["--run-time", "1s", "-v"])
        .output()
        .expect("run the binary");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("goose: info:"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}

#[test]
fn ctrl_c_stops_a_load_within_2s_writes_the_reports_and_exits_3() {
    let dir = TempDir::new("ctrl-c");
    let reports = dir.path().join("r");
    let mut child = binary()
        .args(["load", "--scenario", &project_path("scenarios/smoke.toml")])
        .args(["--run-time", "30s", "--report-dir"])
        .arg(&reports)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // Let the load run for a moment (the run lasts 30 s, so any moment is mid-run).
    std::thread::sleep(Duration::from_secs(2));
    send_ctrl_c(&child);
    let signalled = Instant::now();
    let status = wait_within(&mut child, Duration::from_secs(10));
    let stopped_in = signalled.elapsed();
    let stdout = read_all(child.stdout.take().expect("stdout"));
    let stderr = read_all(child.stderr.take().expect("stderr"));
    assert_eq!(status, Some(3), "{stdout}\n{stderr}");
    assert!(
        stopped_in < Duration::from_secs(3),
        "stopped after {stopped_in:?}"
    );
    assert!(stdout.contains("interrupted"), "{stdout}");
    let summary: Value = serde_json::from_str(
        &std::fs::read_to_string(reports.join("summary.json")).expect("summary written"),
    )
    .expect("JSON");
    assert_eq!(summary["interrupted"], true);
    assert!(reports.join("report.html").exists());
}

#[test]
fn a_dead_target_ends_the_run_on_time_with_errors_by_kind() {
    let mut mock = binary()
        .args([
            "mock",
            "--json",
            "--addr",
            "127.0.0.1:0",
            "--seed-registrations",
            "50",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn mock");
    let mut line = String::new();
    let stdout = mock.stdout.take().expect("stdout");
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).expect("facts");
    let facts: Value = serde_json::from_str(&line).expect("facts JSON");
    let base = facts["base_url"].as_str().expect("base_url").to_owned();
    let load = binary()
        .args(["load", "--target", &base, "--run-time", "3s", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn load");
    let started = Instant::now();
    // The load starts within milliseconds; the target dies in the middle of its 3 s.
    std::thread::sleep(Duration::from_millis(1500));
    mock.kill().expect("kill the target");
    let _ = mock.wait();
    let mut load = load;
    let status = wait_within(&mut load, Duration::from_secs(20));
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "{:?}",
        started.elapsed()
    );
    let stdout = read_all(load.stdout.take().expect("stdout"));
    let stderr = read_all(load.stderr.take().expect("stderr"));
    assert_eq!(status, Some(1), "{stdout}\n{stderr}");
    let summary: Value = serde_json::from_str(&stdout).expect("JSON");
    assert!(
        summary["total"]["transport_errors"]["connect"].as_u64() > Some(0),
        "{:#}",
        summary["total"]
    );
    assert!(
        stderr.lines().count() < 20,
        "no line per failed request:\n{stderr}"
    );
}

#[test]
fn on_a_terminal_the_run_ends_and_prints_its_verdict() {
    // `script` gives the process a pseudo-terminal, as an engineer's shell would.
    let line = format!(
        "{} load --scenario {} --run-time 2s >verdict.txt; echo EXIT=$?",
        env!("CARGO_BIN_EXE_pushcheck"),
        project_path("scenarios/smoke.toml")
    );
    let dir = TempDir::new("tty-live");
    let out = on_a_terminal_in(dir.path(), &line, Duration::from_secs(30));
    assert!(out.contains("EXIT=0"), "{out}");
    // The live view: a line a second on the terminal's stderr …
    assert!(
        out.contains("p95 ~") && out.contains("violations 0"),
        "no live line on the terminal: {out:?}"
    );
    // … and nothing of it in stdout, which carries the verdict.
    let verdict = std::fs::read_to_string(dir.path().join("verdict.txt")).expect("stdout");
    assert!(verdict.contains("PASSED"), "{verdict}");
    assert!(!verdict.contains("p95 ~"), "{verdict}");
}

/// Runs the shell line `line` on a pseudo-terminal (`script`) and returns what it printed.
fn on_a_terminal(line: &str, limit: Duration) -> String {
    on_a_terminal_in(Path::new("."), line, limit)
}

/// [`on_a_terminal`] in directory `dir`.
fn on_a_terminal_in(dir: &Path, line: &str, limit: Duration) -> String {
    let mut child = Command::new("script")
        .current_dir(dir)
        .args(["-qec", line, "/dev/null"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script");
    let status = wait_within(&mut child, limit);
    let stdout = read_all(child.stdout.take().expect("stdout"));
    assert_eq!(status, Some(0), "{stdout}");
    stdout
}

#[test]
fn on_a_terminal_ctrl_c_stops_a_load_and_exits_3() {
    let line = format!(
        "{} load --scenario {} --run-time 30s & pid=$!; sleep 2; kill -INT $pid; wait $pid; echo EXIT=$?",
        env!("CARGO_BIN_EXE_pushcheck"),
        project_path("scenarios/smoke.toml")
    );
    let started = Instant::now();
    let out = on_a_terminal(&line, Duration::from_secs(20));
    assert!(out.contains("EXIT=3"), "{out}");
    assert!(out.contains("interrupted"), "{out}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn on_a_terminal_an_unreachable_target_exits_3_in_seconds() {
    let dir = TempDir::new("tty-unreachable");
    let feed = dir.write("feed.txt", "r1,app\n");
    let line = format!(
        "{} load --target http://127.0.0.1:1 --feed {feed}; echo EXIT=$?",
        env!("CARGO_BIN_EXE_pushcheck")
    );
    let out = on_a_terminal(&line, Duration::from_secs(15));
    assert!(out.contains("EXIT=3"), "{out}");
    assert!(out.contains("http://127.0.0.1:1"), "{out}");
}

#[test]
fn two_write_runs_at_once_on_one_simulator_both_pass() {
    let rt = server_runtime();
    let sim = rt.block_on(crate::util::start_default_simulator(200));
    let spawn = || {
        binary()
            .args([
                "load",
                "--target",
                sim.base_url(),
                "--run-time",
                "2s",
                "--json",
            ])
            .args(["--scenario", &project_path("scenarios/write-heavy.toml")])
            // Two loads share two cores with the simulator: latency is not what this judges.
            .args(["--threshold", "adjusted-p95<10s for PATCH registration"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn")
    };
    let (mut a, mut b) = (spawn(), spawn());
    for child in [&mut a, &mut b] {
        let status = wait_within(child, Duration::from_secs(60));
        let stdout = read_all(child.stdout.take().expect("stdout"));
        let stderr = read_all(child.stderr.take().expect("stderr"));
        let v: Value = serde_json::from_str(&stdout).unwrap_or(Value::Null);
        assert_eq!(status, Some(0), "{:#}\n{stderr}", v["verdict"]);
    }
    rt.block_on(async { sim.shutdown().await.expect("shutdown") });
}

/// Runs `pushcheck load` against a stand-in with `defect` into a report directory; returns the
/// run, its summary, the report directory (kept while the `TempDir` lives) and how long it took.
fn load_with_reports(
    defect: Defect,
    scenario: &str,
    extra: &[&str],
) -> (CliRun, Value, TempDir, Duration) {
    let rt = server_runtime();
    let standin = rt.block_on(StandIn::start(defect, 20));
    let dir = TempDir::new("figures");
    let feed = standin.feed_file(&dir);
    let file = dir.write("scenario.toml", scenario);
    let reports = dir.path().join("reports");
    let mut args = vec![
        "load",
        "--scenario",
        &file,
        "--target",
        &standin.base_url,
        "--feed",
        &feed,
        "--report-dir",
        reports.to_str().expect("utf-8"),
    ];
    args.extend_from_slice(extra);
    let started = Instant::now();
    let run = run_cli(&args);
    let took = started.elapsed();
    let summary = read_load_summary(&reports.join("summary.json"));
    drop(standin);
    (run, summary, dir, took)
}

fn ms(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// An arrival rate through stages (ramp, hold, ramp down), as the issue ran it.
fn arrival_stages(co_mitigation: &str) -> String {
    format!(
        "arrival_rate = 100\nco_mitigation = \"{co_mitigation}\"\nstages = [\n  \
         {{ users = 8, duration = \"1s\" }},\n  {{ users = 8, duration = \"2s\" }},\n  \
         {{ users = 0, duration = \"1s\" }},\n]\n[mix]\nget = 1\n"
    )
}

/// A healthy 5 ms server under an arrival rate: whatever `co_mitigation` says, the adjusted
/// figure (from due: the run is paced) is the measured one, within 10% or 1 ms, and
/// `adjusted-p99<100ms` passes. goose's backfill used to take the throttle's waits for omitted
/// requests (adjusted p99 420 ms over a measured 10 ms).
#[test]
fn an_arrival_rate_on_a_healthy_server_is_adjusted_as_measured_with_every_co_mitigation() {
    for co in ["disabled", "average", "minimum", "maximum"] {
        let (run, s, _dir, _) = load_with_reports(
            Defect::FiveMs,
            &arrival_stages(co),
            &[
                "--threshold",
                "adjusted-p99<100ms",
                "--without-rule",
                "arrival-rate",
            ],
        );
        assert_eq!(run.exit, Exit::Passed, "{co}: {}", show(&run));
        let rule = rule(&s, "adjusted-p99<100ms");
        assert_eq!(rule["figure"], "from-due", "{co}");
        assert_eq!(s["latency_model"]["adjusted"], "from-due", "{co}");
        assert!(
            s["coordinated_omission"].is_null(),
            "{co}: goose's backfill is off"
        );
        let t = &s["total"];
        for p in ["p50", "p95", "p99"] {
            let (measured, adjusted) = (ms(&t["latency_ms"][p]), ms(&t["adjusted_latency_ms"][p]));
            assert!(
                (adjusted - measured).abs() <= (measured * 0.1).max(1.0),
                "{co}: {p} adjusted {adjusted} ms, measured {measured} ms\n{}",
                show(&run)
            );
        }
        assert!(
            ms(&t["latency_ms"]["p50"]) >= 5.0,
            "the server takes 5 ms: {t:#}"
        );
    }
}

/// The control's twin: a 1 s stall in an arrival-rate run. Each user waits it out once, so the
/// measured p95 barely moves; the slots due during the stall are late by what they waited, so
/// the adjusted p95 shows it and `adjusted-p95<100ms` fails.
#[test]
fn a_stall_under_an_arrival_rate_fails_on_the_adjusted_figure() {
    let scenario = "users = 8\nrun_time = \"4s\"\narrival_rate = 100\nco_mitigation = \"average\"\n\
                    [mix]\nget = 1\n";
    let (run, s, _dir, _) = load_with_reports(
        Defect::Stall,
        scenario,
        &["--threshold", "adjusted-p95<100ms"],
    );
    assert_eq!(run.exit, Exit::CheckFailed, "{}", show(&run));
    let adjusted = rule(&s, "adjusted-p95<100ms");
    assert_eq!(adjusted["passed"], false, "{}", show(&run));
    assert_eq!(adjusted["figure"], "from-due");
    let t = &s["total"];
    let (measured, from_due) = (
        ms(&t["latency_ms"]["p95"]),
        ms(&t["adjusted_latency_ms"]["p95"]),
    );
    assert!(
        measured < 100.0,
        "measured p95 {measured} ms barely shows it"
    );
    assert!(
        from_due > 300.0,
        "the adjusted p95 shows the 1 s stall: {from_due} ms\n{}",
        show(&run)
    );
    // A 1 s stall is not answers that stopped.
    assert_eq!(rule(&s, "answer-gap<2s")["passed"], true);
}

/// Answers that stop (the trickle stand-in): the run fails on `answer-gap<2s`, which names the
/// stretch; it ends on time though every user waits (before, it waited for the 10 s request
/// timeout); the requests still waiting at the end count, at their age.
#[test]
fn answers_that_stop_fail_the_run_naming_the_stall_and_it_ends_on_time() {
    // Users start within 1 s and hold 4 s: the planned end is at 5 s. From 1 s the stand-in
    // holds every answer 60 s; requests time out after 30 s, so a run that waited for them
    // would end after 31 s at the earliest. The bound leaves room for a busy machine.
    let scenario = "users = 4\nrun_time = \"4s\"\n[mix]\nget = 1\n";
    let extra = ["--request-timeout", "30s"];
    let (run, s, dir, took) = load_with_reports(Defect::Trickle, scenario, &extra);
    assert_eq!(run.exit, Exit::CheckFailed, "{}", show(&run));
    assert!(
        took < Duration::from_secs(20),
        "a 5 s run ended after {took:?}"
    );
    let gap = rule(&s, "answer-gap<2s");
    assert_eq!(gap["passed"], false);
    assert_eq!(gap["figure"], "answer-gap");
    let observed = gap["observed"].as_str().expect("text");
    assert!(observed.starts_with("answers stopped 1."), "{observed}");
    let stretch = &s["answer_gaps"][0];
    assert!((0.9..1.6).contains(&ms(&stretch["from_secs"])), "{stretch}");
    assert!(ms(&stretch["secs"]) >= 3.0, "{stretch}");
    assert_eq!(stretch["requests_waiting"], 4, "{stretch}");
    let t = &s["total"];
    let at_end = t["unanswered_at_end"].as_u64().expect("count");
    assert_eq!(at_end, 4, "every user was waiting at the end: {t:#}");
    assert_eq!(s["unanswered_at_end"]["requests"], 4);
    assert!(
        ms(&s["unanswered_at_end"]["oldest_ms"]) >= 3000.0,
        "{:#}",
        s["unanswered_at_end"]
    );
    assert!(
        ms(&t["latency_ms"]["max"]) >= 3000.0,
        "the requests still waiting count at their age: {t:#}"
    );
    assert_eq!(
        t["requests"].as_u64(),
        Some(t["answered"].as_u64().unwrap() + t["no_answer"].as_u64().unwrap())
    );
    assert!(run.stdout.contains("no answer 1."), "{}", run.stdout);
    drop(dir);
}

/// goose's synthetic requests (a closed model with mitigation, a stall) and requests without an
/// answer (timeouts during the stall): `requests` is answered + no answer in the terminal,
/// summary.json, junit.xml, timeline.csv and pushcheck.html, and never goose's count.
#[test]
fn requests_are_answered_plus_no_answer_in_every_report() {
    let (run, s, dir, _) = load_with_reports(Defect::Stall, STALL, &["--request-timeout", "600ms"]);
    let t = &s["total"];
    let (requests, answered, no_answer) = (
        t["requests"].as_u64().expect("requests"),
        t["answered"].as_u64().expect("answered"),
        t["no_answer"].as_u64().expect("no answer"),
    );
    assert!(no_answer > 0, "timeouts in the stall: {t:#}");
    assert!(
        ms(&t["latency_ms"]["max"]) >= 600.0,
        "a timeout counts in the latency at its time: {t:#}"
    );
    assert_eq!(requests, answered + no_answer, "{t:#}");
    let co = &s["coordinated_omission"];
    assert!(
        co["synthetic_requests"].as_u64() > Some(0),
        "{co:#}\n{}",
        show(&run)
    );
    assert_eq!(s["latency_model"]["adjusted"], "goose-backfill");
    // The terminal's total row and its requests line.
    let row = run
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("all "))
        .expect("a total row");
    assert_eq!(
        row.split_whitespace().nth(1),
        Some(requests.to_string().as_str()),
        "{row}"
    );
    assert!(
        run.stdout.contains(&format!(
            "requests {requests} = {answered} answered + {no_answer} without an answer"
        )),
        "{}",
        run.stdout
    );
    let reports = dir.path().join("reports");
    let junit = std::fs::read_to_string(reports.join("junit.xml")).expect("junit");
    assert!(
        junit.contains(&format!(
            r#"<property name="requests" value="{requests}"/>"#
        )),
        "{junit}"
    );
    let csv = std::fs::read_to_string(reports.join("timeline.csv")).expect("csv");
    let in_csv: u64 = csv
        .lines()
        .skip(1)
        .map(|l| {
            l.split(',')
                .nth(2)
                .and_then(|n| n.parse::<u64>().ok())
                .expect("requests")
        })
        .sum();
    assert_eq!(in_csv, requests, "{csv}");
    let html = std::fs::read_to_string(reports.join("pushcheck.html")).expect("html");
    assert!(
        html.contains(&format!(">{requests}<")),
        "the HTML table shows {requests}"
    );
    let synthetic = co["synthetic_requests"].as_u64().unwrap_or(0);
    assert!(
        !html.contains(&format!(">{}<", requests + synthetic)),
        "never goose's count"
    );
}
