//! `pushcheck load`: the smoke scenario against the in-process simulator, exit codes, reports,
//! validation under load with broken payloads, coordinated omission with a stall, lost updates,
//! the remote-target guard and credential redaction.
//!
//! goose's killswitch, Ctrl-C handler and logger are process-wide; `load::run` itself takes a
//! process-wide lock, so the runs never overlap, and these tests also hold [`SERIAL`] from
//! before their simulator starts, so no simulator waits on another test's load. Every run is a
//! few seconds.

use std::path::Path;
use std::time::Duration;

use pushcheck::api::auth::{Credentials, Secret};
use pushcheck::cli::Exit;
use pushcheck::load::{
    self, Destination, FeedSource, LoadConfig, LoadPlan, LoadResult, Scenario, load_target,
};
use pushcheck::mock::{Faults, RunningSimulator, SimulatorConfig, Stall, local_credentials};
use pushcheck::report::names;
use pushcheck::schema::{Mode, registry};

use crate::util::{TempDir, project_path, read_load_summary, run_cli};

/// A plan from scenario TOML.
fn plan(toml: &str) -> LoadPlan {
    Scenario::from_toml(toml, Path::new("test.toml"))
        .expect("scenario parses")
        .resolve()
        .expect("scenario resolves")
}

/// Runs of goose in this module one at a time, simulator start included: a simulator started
/// while another test's load holds goose's process-wide lock would run its stall window (which
/// counts from the simulator's start) before its own load begins.
pub(crate) static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn config(sim: &RunningSimulator, plan: LoadPlan) -> LoadConfig {
    LoadConfig {
        plan,
        scenario_file: None,
        destination: Destination::Url {
            target: load_target(sim.base_url(), false).expect("loopback target"),
            feed: FeedSource::Admin,
        },
        credentials: local_credentials().remove(0),
        app_code: None,
        feed_limit: 10_000,
        report_dir: None,
        baseline: None,
        max_rps: None,
        request_timeout: load::DEFAULT_REQUEST_TIMEOUT,
        quiet_stdout: false,
        progress: None,
        fail_on_residue: false,
        application_id: None,
        metrics_addr: None,
        metrics_bound: None,
    }
}

async fn simulator(faults: Faults, seeded: usize) -> RunningSimulator {
    crate::util::start_simulator(SimulatorConfig {
        faults,
        seed_registrations: seeded,
        ..SimulatorConfig::default()
    })
    .await
}

/// One load of scenario `toml` against a fresh simulator with `faults` and `seeded`
/// registrations, serialized with the other goose runs of this module ([`SERIAL`]).
async fn load_against(faults: Faults, seeded: usize, toml: &str) -> LoadResult {
    let _serial = SERIAL.lock().await;
    let sim = simulator(faults, seeded).await;
    let result = load::run(config(&sim, plan(toml))).await.expect("run");
    sim.shutdown().await.expect("shutdown");
    result
}

/// A second's p99 that only a stall explains (the stall tests hold requests for a second).
const STALLED_MS: f64 = 400.0;

fn op<'r>(result: &'r LoadResult, label: &str) -> &'r load::OperationStats {
    result
        .operations
        .iter()
        .find(|o| o.operation == label)
        .unwrap_or_else(|| panic!("no row {label:?} in {:#?}", result.operations))
}

#[test]
fn smoke_scenario_passes_and_writes_every_report() {
    let _serial = SERIAL.blocking_lock();
    let dir = TempDir::new("load-smoke");
    let reports = dir.path().join("reports");
    let run = run_cli(&[
        "load",
        "--scenario",
        &project_path("scenarios/smoke.toml"),
        "--run-time",
        "1s",
        "--report-dir",
        reports.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(
        run.exit,
        Exit::Passed,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout,
        run.stderr
    );
    assert!(run.stdout.contains("PASS"), "{}", run.stdout);
    for name in names::LOAD_RUN {
        let meta = std::fs::metadata(reports.join(name))
            .unwrap_or_else(|e| panic!("{name} was not written: {e}"));
        assert!(meta.len() > 0, "{name} is empty");
    }
    let summary = read_load_summary(&reports.join(names::SUMMARY_JSON));
    assert!(!summary.is_null(), "summary.json was written");
    let points = summary["timeline"]["points"].as_array().expect("timeline");
    let csv = std::fs::read_to_string(reports.join(names::TIMELINE_CSV)).expect("timeline.csv");
    assert!(csv.starts_with("t_secs,operation,requests,"), "{csv}");
    assert_eq!(csv.lines().count(), points.len() + 1, "{csv}");
    let sent: u64 = points.iter().filter_map(|p| p["requests"].as_u64()).sum();
    // goose's request count includes coordinated-omission backfill; the timeline has the
    // requests actually sent, as the tallies do.
    let answered = summary["total"]["answered"].as_u64().expect("answered");
    assert_eq!(sent, answered, "the timeline counts every request sent");
    assert_eq!(summary["verdict"]["passed"], true);
    let rows: Vec<&str> = summary["operations"]
        .as_array()
        .expect("operations")
        .iter()
        .map(|o| o["operation"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        rows,
        [
            "GET registration",
            "PATCH registration",
            "POST personalize",
            "POST depersonalize"
        ],
        "requests are named by operation, never by registration ID"
    );
    let junit = std::fs::read_to_string(reports.join(names::JUNIT_XML)).expect("read junit");
    let cases = junit.matches("<testcase").count();
    let expected = summary["thresholds"].as_array().map_or(0, Vec::len)
        + summary["invariants"].as_array().map_or(0, Vec::len);
    assert_eq!(
        cases, expected,
        "one test case per threshold and invariant:\n{junit}"
    );
    assert!(junit.contains("no acknowledged write lost"), "{junit}");
}

#[test]
fn json_output_is_the_summary_and_nothing_else() {
    let _serial = SERIAL.blocking_lock();
    let run = run_cli(&[
        "load",
        "--scenario",
        &project_path("scenarios/smoke.toml"),
        "--run-time",
        "1s",
        "--json",
    ]);
    assert_eq!(run.exit, Exit::Passed, "{}\n{}", run.stdout, run.stderr);
    let v: serde_json::Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}", run.stdout));
    assert!(
        registry()
            .validate("load-summary", Mode::Strict, &v)
            .expect("schema")
            .is_empty()
    );
}

#[test]
fn a_threshold_that_cannot_be_met_exits_1() {
    let _serial = SERIAL.blocking_lock();
    let run = run_cli(&[
        "load",
        "--scenario",
        &project_path("scenarios/smoke.toml"),
        "--run-time",
        "1s",
        "--threshold",
        "p95<1us",
    ]);
    assert_eq!(
        run.exit,
        Exit::CheckFailed,
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    assert!(run.stdout.contains("FAILED p95<1us"), "{}", run.stdout);
}

#[test]
fn a_threshold_goose_refuses_exits_2_with_gooses_reason() {
    let _serial = SERIAL.blocking_lock();
    let run = run_cli(&[
        "load",
        "--scenario",
        &project_path("scenarios/smoke.toml"),
        "--threshold",
        "p95<0",
    ]);
    assert_eq!(run.exit, Exit::Usage, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("it can never pass; no response time is less than 0."),
        "{}",
        run.stderr
    );
}

#[test]
fn a_bad_scenario_value_names_file_line_and_field() {
    let dir = TempDir::new("load-bad-scenario");
    let file = dir.write(
        "bad.toml",
        "users = 4\nrun_time = \"1s\"\n\n[validation]\nsample_rate = 2.5\n",
    );
    let run = run_cli(&["load", "--scenario", &file]);
    assert_eq!(run.exit, Exit::Usage, "{}", run.stderr);
    let expected = format!("{file}:5:15: field `sample_rate`: ");
    assert!(
        run.stderr.contains(&expected) && run.stderr.contains("between 0 and 1"),
        "expected {expected:?} in:\n{}",
        run.stderr
    );
}

/// Issue 21, item 5: weights that send nothing are a usage error naming the file and the key
/// (`[mix]`, or `[arrival_rate]` rates per operation), and weights too large to add in a `u32`
/// run (their sums are `u64`).
#[test]
fn weights_that_send_nothing_are_a_usage_error_and_huge_ones_run() {
    let dir = TempDir::new("load-mix-weights");
    for (name, toml, key) in [
        (
            "zero.toml",
            "users = 1\nrun_time = \"1s\"\n\n[mix]\nget = 0\npatch = 0\n",
            "mix",
        ),
        ("empty.toml", "users = 1\nrun_time = \"1s\"\n[mix]\n", "mix"),
        (
            "rates.toml",
            "users = 1\nrun_time = \"1s\"\n[arrival_rate]\nget = 0\n",
            "arrival_rate",
        ),
    ] {
        let file = dir.write(name, toml);
        let run = run_cli(&["load", "--scenario", &file]);
        assert_eq!(run.exit, Exit::Usage, "{name}: {}", run.stderr);
        assert!(
            run.stderr.contains(&format!("{file}:")) && run.stderr.contains(&format!("`{key}`")),
            "{name}: the file and the key in:\n{}",
            run.stderr
        );
        assert!(run.stderr.contains("0"), "{}", run.stderr);
    }
    let _serial = SERIAL.blocking_lock();
    let huge = dir.write(
        "huge.toml",
        "users = 2\niterations = 1\n[mix]\nget = 4294967295\npatch = 4294967295\n\
         personalize = 4294967295\ndepersonalize = 4294967295\n",
    );
    let run = run_cli(&["load", "--scenario", &huge, "--json"]);
    assert_eq!(run.exit, Exit::Passed, "{}{}", run.stdout, run.stderr);
    let summary: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    // Reduced to 1/1/1/1: one pass is four requests, the lost-update check ran on the writes.
    assert_eq!(summary["mix"]["requests"], 8, "{:#}", summary["mix"]);
    let lost = summary["invariants"]
        .as_array()
        .and_then(|i| i.iter().find(|i| i["name"] == "no acknowledged write lost"))
        .unwrap_or_else(|| panic!("no lost-update check: {:#}", summary["invariants"]));
    assert_eq!(lost["status"], "passed", "{lost:#}");
}

#[test]
fn every_shipped_scenario_parses() {
    for name in ["smoke", "read-heavy", "write-heavy", "personalize-storm"] {
        let path = project_path(&format!("scenarios/{name}.toml"));
        let s = Scenario::from_file(Path::new(&path))
            .unwrap_or_else(|e| panic!("scenarios/{name}.toml: {e}"));
        let plan = s.resolve().unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(plan.name, name);
        assert!(!plan.thresholds.is_empty(), "{name} has thresholds");
    }
}

#[test]
fn a_remote_target_needs_allow_remote() {
    let run = run_cli(&[
        "load",
        "--target",
        "http://pushcheck.invalid:9",
        "--run-time",
        "1s",
    ]);
    assert_eq!(run.exit, Exit::Usage, "{}", run.stderr);
    assert!(run.stderr.contains("--allow-remote"), "{}", run.stderr);
}

#[test]
fn credentials_never_appear_in_output_or_reports() {
    let _serial = SERIAL.blocking_lock();
    const KEY: &str = "recognisable-secret-key-4711";
    let runtime = crate::util::server_runtime();
    let sim = runtime.block_on(crate::util::start_simulator(SimulatorConfig {
        credentials: vec![Credentials::ApiKey(Secret::new(KEY))],
        ..SimulatorConfig::default()
    }));
    let dir = TempDir::new("load-secret");
    let reports = dir.path().join("r");
    let run = run_cli(&[
        "load",
        "--scenario",
        &project_path("scenarios/smoke.toml"),
        "--run-time",
        "1s",
        "--target",
        sim.base_url(),
        "--api-key",
        KEY,
        "--report-dir",
        reports.to_str().expect("utf-8"),
    ]);
    assert_eq!(run.exit, Exit::Passed, "{}\n{}", run.stdout, run.stderr);
    assert!(!run.stdout.contains(KEY) && !run.stderr.contains(KEY));
    for entry in std::fs::read_dir(&reports).expect("reports") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("read report");
        assert!(
            !text.contains(KEY),
            "{} contains the API key",
            path.display()
        );
    }
    runtime.block_on(async { sim.shutdown().await.expect("shutdown") });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn broken_payloads_under_load_are_counted_and_gated() {
    let result = load_against(
        Faults {
            break_responses: 0.5,
            ..Faults::default()
        },
        200,
        r#"
        users = 4
        run_time = "1s"
        thresholds = ["schema-violation-rate<=1%", "schema-violation-rate<=100% for GET registration"]
        [mix]
        get = 1
        [validation]
        sample_rate = 1.0
        "#,
    )
    .await;
    let get = op(&result, "GET registration");
    assert!(get.validated > 50, "{get:#?}");
    assert!(
        (20.0..80.0).contains(&get.schema_violation_rate),
        "about half the bodies are broken: {get:#?}"
    );
    // goose's counts start once every user has started; pushcheck's tallies cover the ramp too.
    assert!(
        get.failures > 0 && get.failures <= get.schema_violations,
        "recorded as goose failures: {get:#?}"
    );
    assert!(
        get.violation_samples
            .iter()
            .any(|s| s.message.contains("applicationId")),
        "{:#?}",
        get.violation_samples
    );
    let gated: Vec<(&str, bool)> = result
        .thresholds
        .iter()
        .map(|t| (t.rule.as_str(), t.passed))
        .collect();
    assert_eq!(
        gated,
        [
            ("schema-violation-rate<=1%", false),
            ("schema-violation-rate<=100% for GET registration", true),
            // Always on: broken bodies are failed requests too.
            ("error-rate<1%", false),
            // Always on: a GET-only mix sends nothing else.
            ("mix-drift<=3%", true),
            // Always on: answers never stopped.
            ("answer-gap<2s", true),
        ]
    );
    assert!(!result.verdict.passed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stall_shows_in_the_coordinated_omission_adjusted_tail() {
    // goose measures a user's cadence in whole milliseconds: against a sub-millisecond target
    // the cadence is 0 and nothing is backfilled. 2 ms of latency gives it a cadence to use.
    let result = load_against(
        Faults {
            latency: Duration::from_millis(2),
            stall: Some(Stall {
                from: Duration::from_millis(1500),
                until: Duration::from_millis(2500),
            }),
            ..Faults::default()
        },
        100,
        r#"
        users = 4
        increase_rate = 8
        run_time = "3s"
        co_mitigation = "average"
        [mix]
        get = 1
        "#,
    )
    .await;
    let total = &result.total;
    assert!(
        total.latency_ms.max >= 400.0,
        "the stalled requests themselves took most of the stall: {total:#?}"
    );
    let adjusted = total
        .adjusted_latency_ms
        .unwrap_or_else(|| panic!("mitigation added no synthetic times: {result:#?}"));
    assert!(
        adjusted.p99 > total.latency_ms.p99 && adjusted.p99 >= 100.0,
        "the adjusted tail reflects the stall: measured {:?}, adjusted {adjusted:?}",
        total.latency_ms
    );
    let co = result.coordinated_omission.as_ref().expect("co summary");
    assert!(co.synthetic_requests > 0, "{co:#?}");
    // The timeline shows when: a second whose slowest responses are the stall (a handful of
    // held requests among hundreds: the maximum shows them, p99 need not), and fast seconds.
    let points = &result.timeline.points;
    assert!(
        points.iter().any(|p| p.max_ms >= STALLED_MS),
        "no second shows the stall: {points:#?}"
    );
    assert!(
        points
            .iter()
            .any(|p| p.requests > 0 && p.p99_ms < STALLED_MS / 4.0),
        "no second is fast: {points:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dropped_writes_are_reported_as_lost_updates() {
    let result = load_against(
        Faults {
            drop_writes: 0.3,
            ..Faults::default()
        },
        40,
        r#"
        users = 4
        run_time = "1s"
        [mix]
        get = 1
        patch = 3
        "#,
    )
    .await;
    let lost = result
        .invariants
        .iter()
        .find(|i| i.name == load::after::NO_LOST_UPDATES)
        .expect("the lost-update check ran");
    assert!(!lost.passed, "{lost:#?}");
    assert!(lost.checked > 0 && !lost.findings.is_empty(), "{lost:#?}");
    assert!(
        lost.findings[0].contains("was acknowledged, read back"),
        "{lost:#?}"
    );
    assert!(!result.verdict.passed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_faults_writes_survive_and_invariants_hold() {
    let result = load_against(
        Faults::default(),
        50,
        r#"
        users = 4
        run_time = "1s"
        [mix]
        get = 1
        patch = 2
        personalize = 2
        depersonalize = 1
        "#,
    )
    .await;
    assert!(
        result.invariants.iter().all(|i| i.passed),
        "{:#?}",
        result.invariants
    );
    assert!(result.verdict.passed, "{:#?}", result.verdict);
    // The control of the stall test: no second looks stalled.
    let points = &result.timeline.points;
    assert!(!points.is_empty());
    assert!(
        points.iter().all(|p| p.p99_ms < STALLED_MS),
        "a second looks stalled without a stall: {points:#?}"
    );
}

/// `pushcheck load` against a simulator answering after `latency`, reports in `reports`.
fn load_with_latency(latency: Duration, reports: &Path, extra: &[&str]) -> crate::util::CliRun {
    let runtime = crate::util::server_runtime();
    let sim = runtime.block_on(crate::util::start_simulator(SimulatorConfig {
        faults: Faults {
            latency,
            ..Faults::default()
        },
        seed_registrations: 20,
        ..SimulatorConfig::default()
    }));
    let dir = reports.parent().expect("parent");
    let scenario = dir.join("gets.toml");
    std::fs::write(&scenario, "users = 4\nrun_time = \"2s\"\n[mix]\nget = 1\n").expect("write");
    let mut args = vec![
        "load",
        "--scenario",
        scenario.to_str().expect("utf-8"),
        "--target",
        sim.base_url(),
        "--report-dir",
        reports.to_str().expect("utf-8"),
    ];
    args.extend_from_slice(extra);
    let run = run_cli(&args);
    runtime.block_on(async { sim.shutdown().await.expect("shutdown") });
    run
}

#[test]
fn a_slower_run_fails_its_baseline_gates_naming_the_operation_and_figures() {
    let _serial = SERIAL.blocking_lock();
    let dir = TempDir::new("baseline");
    let before = dir.path().join("before");
    // Latencies well above what a busy 2-core machine adds, so the control stays in its gate.
    let first = load_with_latency(Duration::from_millis(50), &before, &[]);
    assert_eq!(
        first.exit,
        Exit::Passed,
        "{}\n{}",
        first.stdout,
        first.stderr
    );
    let baseline = before.join(names::SUMMARY_JSON);
    let baseline = baseline.to_str().expect("utf-8");

    // The defect: the same load, four times slower. --baseline's default gates catch it.
    let slower = load_with_latency(
        Duration::from_millis(200),
        &dir.path().join("slower"),
        &["--baseline", baseline],
    );
    assert_eq!(
        slower.exit,
        Exit::CheckFailed,
        "{}\n{}",
        slower.stdout,
        slower.stderr
    );
    let out = &slower.stdout;
    assert!(out.contains("Against the baseline"), "{out}");
    for gate in ["FAILED p95 regression>10%", "FAILED rps regression>5%"] {
        assert!(out.contains(gate), "{gate} in:\n{out}");
    }
    assert!(
        out.contains("observed GET registration p95 ")
            && out.contains("ms → ")
            && out.contains("ms, rose "),
        "the operation and its figures: {out}"
    );
    // Throughput fell with the slower server: the comparison and the rule line say so alike.
    assert!(
        out.contains("observed GET registration rps ") && out.contains(", fell "),
        "{out}"
    );
    let summary = read_load_summary(&dir.path().join("slower").join(names::SUMMARY_JSON));
    let compared = &summary["baseline"]["operations"][0];
    assert_eq!(compared["operation"], "GET registration");
    let p95 = &compared["changes"][1];
    assert_eq!(p95["measure"], "p95");
    assert!(
        p95["regression_pct"].as_f64().expect("regression") > 100.0
            && p95["change"]
                .as_str()
                .is_some_and(|c| c.ends_with("(worse)")),
        "{compared}"
    );
    let junit =
        std::fs::read_to_string(dir.path().join("slower").join(names::JUNIT_XML)).expect("junit");
    assert!(junit.contains("p95 regression&gt;10%"), "{junit}");

    // The control: as fast as before, within a gate a noisy machine keeps.
    let same = load_with_latency(
        Duration::from_millis(50),
        &dir.path().join("same"),
        &["--baseline", baseline, "--threshold", "p95 regression>50%"],
    );
    assert_eq!(same.exit, Exit::Passed, "{}\n{}", same.stdout, same.stderr);
    assert!(
        same.stdout.contains("ok     p95 regression>50%"),
        "{}",
        same.stdout
    );
}

#[test]
fn a_regression_gate_without_a_baseline_and_a_gooses_report_as_one_are_refused() {
    let dir = TempDir::new("baseline-usage");
    let run = run_cli(&[
        "load",
        "--run-time",
        "1s",
        "--threshold",
        "p95 regression>10%",
    ]);
    assert_eq!(run.exit, Exit::Usage, "{}", run.stderr);
    assert!(
        run.stderr.contains("--baseline with that run"),
        "{}",
        run.stderr
    );
    let goose = dir.write("report.json", r#"{"raw_metrics": {}}"#);
    let run = run_cli(&["load", "--run-time", "1s", "--baseline", &goose]);
    assert_eq!(run.exit, Exit::Usage, "{}", run.stderr);
    assert!(
        run.stderr.contains("give pushcheck's summary.json"),
        "{}",
        run.stderr
    );
}

/// The shipped scenarios are built in: `scenarios list` names them, `scenarios show` prints the
/// file as shipped, `--scenario NAME` runs one from anywhere, and a name that is neither a file
/// nor built in is a usage error listing the built-in names.
#[test]
fn built_in_scenarios_run_by_name_and_print() {
    let list = run_cli(&["scenarios", "list"]);
    assert_eq!(list.exit, Exit::Passed);
    assert_eq!(list.stdout.lines().count(), 6, "{}", list.stdout);
    assert!(list.stdout.contains("read-heavy"), "{}", list.stdout);
    let shown = run_cli(&["scenarios", "show", "read-heavy"]);
    assert_eq!(
        shown.stdout,
        std::fs::read_to_string(project_path("scenarios/read-heavy.toml")).unwrap()
    );
    let unknown = run_cli(&["scenarios", "show", "nope"]);
    assert_eq!(unknown.exit, Exit::Usage);
    let dir = TempDir::new("builtin-scenario");
    let summary = dir.path().join("r");
    let ran = run_cli(&[
        "load",
        "--scenario",
        "read-heavy",
        "--run-time",
        "1s",
        "--users",
        "2",
        "--report-dir",
        summary.to_str().unwrap(),
    ]);
    assert_ne!(ran.exit, Exit::Usage, "{}{}", ran.stdout, ran.stderr);
    let summary = read_load_summary(&summary.join("summary.json"));
    assert_eq!(summary["scenario"]["name"], "read-heavy");
    let missing = run_cli(&["load", "--scenario", "readheavy"]);
    assert_eq!(missing.exit, Exit::Usage);
    assert!(
        missing.stderr.contains("readheavy")
            && missing.stderr.contains("no built-in scenario of that name")
            && missing.stderr.contains("read-heavy"),
        "{}",
        missing.stderr
    );
}
