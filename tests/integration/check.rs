//! `pushcheck check`, end to end, as a user runs it: a subprocess in an empty directory (so the
//! built-in smoke scenario is used), its exit code, its verdict and every report file.

use std::process::Command;

use pushcheck::schema::{Mode, registry};
use serde_json::Value;

use crate::util::{TempDir, read_all, send_ctrl_c, wait_for_line, wait_within};

fn check(dir: &TempDir, extra: &[&str]) -> (Option<i32>, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_pushcheck"))
        .arg("check")
        .args(["--report-dir", "reports"])
        .args(extra)
        .current_dir(dir.path())
        .env_remove("PUSHCHECK_TARGET")
        .output()
        .expect("run pushcheck check");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn check_passes_and_writes_every_report() {
    let dir = TempDir::new("check-e2e");
    let (code, stdout, stderr) = check(&dir, &[]);
    assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let verdict = stdout.lines().last().unwrap_or_default();
    assert!(
        verdict.starts_with("PASSED in "),
        "verdict line: {verdict:?}\n{stdout}"
    );
    assert!(stdout.contains("== Contract: "), "{stdout}");
    assert!(stdout.contains("GET registration"), "{stdout}");
    assert!(
        stdout.contains("ok     no acknowledged write lost"),
        "{stdout}"
    );

    let reports = dir.path().join("reports");
    for file in [
        "check.json",
        "junit.xml",
        "summary.json",
        "timeline.csv",
        "report.html",
        "report.json",
    ] {
        let path = reports.join(file);
        assert!(path.is_file(), "{file} was written");
        assert!(
            std::fs::metadata(&path).expect("meta").len() > 0,
            "{file} is not empty"
        );
    }
    let combined: Value =
        serde_json::from_str(&std::fs::read_to_string(reports.join("check.json")).expect("read"))
            .expect("check.json is JSON");
    let violations = registry()
        .validate("check-report", Mode::Strict, &combined)
        .expect("schema");
    assert!(violations.is_empty(), "{violations:#?}");
    assert_eq!(combined["passed"], true);
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(reports.join("summary.json")).expect("read"))
            .expect("summary.json is JSON");
    assert!(
        registry()
            .validate("load-summary", Mode::Lenient, &summary)
            .expect("schema")
            .is_empty()
    );

    let xml = std::fs::read_to_string(reports.join("junit.xml")).expect("junit");
    let mut reader = quick_xml::Reader::from_str(&xml);
    let mut cases = 0;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e))
                if e.name().as_ref() == b"testcase" =>
            {
                cases += 1;
            }
            Ok(_) => {}
            Err(e) => panic!("junit.xml does not parse: {e}"),
        }
    }
    let expected = combined["contract"]["cases"].as_array().map_or(0, Vec::len)
        + combined["load"]["thresholds"]
            .as_array()
            .map_or(0, Vec::len)
        + combined["load"]["invariants"]
            .as_array()
            .map_or(0, Vec::len);
    assert_eq!(
        cases, expected,
        "one JUnit case per contract case, threshold and invariant"
    );
}

#[test]
fn a_threshold_that_cannot_be_met_fails_with_the_reason() {
    let dir = TempDir::new("check-threshold");
    let (code, stdout, stderr) = check(
        &dir,
        &["--threshold", "p95<1us", "--filter", "get.existing"],
    );
    assert_eq!(code, Some(1), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("FAILED:"), "{stdout}");
    assert!(
        stdout.contains("- load: threshold p95<1us failed"),
        "{stdout}"
    );
    let combined: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("reports/check.json")).expect("read"),
    )
    .expect("JSON");
    assert_eq!(combined["passed"], false);
}

#[test]
fn check_usage_errors_exit_2() {
    let dir = TempDir::new("check-usage");
    for (args, needle) in [
        (vec!["--threshold", "p95<0"], "p95<0"),
        (vec!["--scenario", "missing.toml"], "missing.toml"),
        (
            vec!["--target", "http://pushcheck.invalid"],
            "--allow-remote",
        ),
        (vec!["--target", "http://127.0.0.1:9"], "--registration-id"),
    ] {
        let (code, stdout, stderr) = check(&dir, &args);
        assert_eq!(
            code,
            Some(2),
            "{args:?}: stdout:\n{stdout}\nstderr:\n{stderr}"
        );
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}

#[test]
fn ctrl_c_during_the_load_stage_stops_it_writes_the_reports_and_exits_3() {
    let dir = TempDir::new("check-ctrl-c");
    let scenario = dir.write(
        "long.toml",
        "users = 4\nrun_time = \"60s\"\n[mix]\nget = 1\n",
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_pushcheck"))
        .args(["check", "--report-dir", "reports", "--scenario", &scenario])
        .args(["--progress", "always"])
        .current_dir(dir.path())
        .env_remove("PUSHCHECK_TARGET")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    // The load's first progress line says the 60 s load is running.
    let stderr = child.stderr.take().expect("stderr");
    let (running, _) = wait_for_line(stderr, "load: ", std::time::Duration::from_secs(60));
    assert!(running, "the load never reported progress");
    send_ctrl_c(&child);
    let code = wait_within(&mut child, std::time::Duration::from_secs(10));
    let stdout = read_all(child.stdout.take().expect("stdout"));
    assert_eq!(code, Some(3), "{stdout}");
    assert!(stdout.contains("the run was interrupted"), "{stdout}");
    let combined: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("reports/check.json")).expect("check.json"),
    )
    .expect("JSON");
    assert_eq!(combined["passed"], false);
    assert_eq!(combined["load"]["interrupted"], true);
    assert!(
        registry()
            .validate("check-report", Mode::Strict, &combined)
            .expect("schema")
            .is_empty()
    );
}

#[test]
fn on_a_terminal_check_ends_and_prints_its_verdict() {
    let dir = TempDir::new("check-tty");
    let cmd = format!(
        "{} check --report-dir reports",
        env!("CARGO_BIN_EXE_pushcheck")
    );
    // `script` gives the process a pseudo-terminal, as an engineer's shell would.
    let mut child = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .current_dir(dir.path())
        .env_remove("PUSHCHECK_TARGET")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("script");
    let code = wait_within(&mut child, std::time::Duration::from_secs(60));
    let stdout = read_all(child.stdout.take().expect("stdout"));
    assert_eq!(code, Some(0), "{stdout}");
    // On a terminal the verdict word is coloured.
    assert!(stdout.contains("PASSED"), "{stdout}");
}

/// `check --target` on test devices (the simulator standing in for a live account, devices
/// given non-default originals): every device reads exactly the same after the run as before,
/// whole GET bodies compared, with the run going to the end and with Ctrl-C during its load.
#[test]
fn a_live_check_leaves_every_device_as_it_found_it() {
    let live = crate::contract::standin::LiveSim::start(3);
    live.seed_originals();
    let before = live.states();
    let dir = TempDir::new("check-live");
    let scenario = dir.write(
        "long.toml",
        "users = 2\nrun_time = \"30s\"\n[mix]\nget = 1\npatch = 1\n",
    );
    let mut args: Vec<String> = [
        "check",
        "--report-dir",
        "reports",
        "--target",
        &live.base_url,
        "--app-code",
        &live.app,
        "--allow-writes",
    ]
    .map(String::from)
    .to_vec();
    for id in &live.ids {
        args.extend(["--registration-id".to_owned(), id.clone()]);
    }
    let spawn = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_pushcheck"))
            .args(&args)
            .args(extra)
            .current_dir(dir.path())
            .env_remove("PUSHCHECK_TARGET")
            .env("PUSHCHECK_API_KEY", &live.key)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn")
    };
    // To the end: the contract stage writes and restores; the load only reads (no --feed).
    let mut child = spawn(&[]);
    let code = wait_within(&mut child, std::time::Duration::from_secs(120));
    let stdout = read_all(child.stdout.take().expect("stdout"));
    assert_eq!(code, Some(0), "{stdout}");
    assert!(
        stdout.contains("mix get/patch/personalize/depersonalize 1/0/0/0"),
        "{stdout}"
    );
    assert_eq!(live.states(), before, "the devices changed:\n{stdout}");
    // Ctrl-C during a long load on the same devices (once its first progress line says it
    // runs): still exactly as before.
    let mut child = spawn(&["--scenario", &scenario, "--progress", "always"]);
    let stderr = child.stderr.take().expect("stderr");
    let (running, _) = wait_for_line(stderr, "load: ", std::time::Duration::from_secs(60));
    assert!(running, "the load never reported progress");
    send_ctrl_c(&child);
    let code = wait_within(&mut child, std::time::Duration::from_secs(30));
    assert_eq!(code, Some(3));
    assert_eq!(live.states(), before, "the devices changed after Ctrl-C");
}

/// The reports a run without a verdict leaves: junit.xml with one `<error>` case naming why,
/// and a JSON document (valid against `schema`, strict) with the reason and the exit kind.
fn assert_not_judged(junit: &std::path::Path, json: &std::path::Path, schema: &str, kind: &str) {
    let xml = std::fs::read_to_string(junit)
        .unwrap_or_else(|e| panic!("{} was not written: {e}", junit.display()));
    assert_eq!(xml.matches("<testcase").count(), 1, "{xml}");
    assert!(xml.contains("<error message=\""), "{xml}");
    let value: Value = serde_json::from_str(
        &std::fs::read_to_string(json)
            .unwrap_or_else(|e| panic!("{} was not written: {e}", json.display())),
    )
    .expect("JSON");
    let violations = registry()
        .validate(schema, Mode::Strict, &value)
        .expect("schema");
    assert!(violations.is_empty(), "{value:#}\n{violations:#?}");
    assert_eq!(value["not_judged"]["exit_kind"], kind, "{value:#}");
    let reason = value["not_judged"]["reason"].as_str().expect("reason");
    let text = xml
        .replace("&apos;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    assert!(
        text.contains(&format!("message=\"{reason}\"")),
        "the JUnit case says why: {reason}\n{xml}"
    );
}

/// `check --target http://127.0.0.1:1`: nothing listens, exit 3 — and the report directory
/// still holds junit.xml and check.json saying so, for the CI job's publish step.
#[test]
fn an_unreachable_target_still_leaves_junit_and_check_json() {
    let dir = TempDir::new("check-unreachable");
    let (code, stdout, stderr) = check(
        &dir,
        &["--target", "http://127.0.0.1:1", "--registration-id", "X"],
    );
    assert_eq!(code, Some(3), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stderr.contains("unreachable"), "{stderr}");
    let reports = dir.path().join("reports");
    assert_not_judged(
        &reports.join("junit.xml"),
        &reports.join("check.json"),
        "check-report",
        "runtime",
    );
}

/// A usage error found once the report paths are known (a scenario value, an unreachable
/// target without registrations): `load` and `contract --report-junit` leave their reports.
#[test]
fn a_usage_error_after_the_report_paths_are_known_leaves_the_reports() {
    use crate::util::run_cli;
    use pushcheck::cli::Exit;
    let dir = TempDir::new("not-judged-usage");
    let scenario = dir.write("bad.toml", "users = 0\nrun_time = \"1s\"\n");
    let reports = dir.path().join("load-reports");
    let run = run_cli(&[
        "load",
        "--scenario",
        &scenario,
        "--report-dir",
        reports.to_str().expect("utf-8"),
    ]);
    assert_eq!(run.exit, Exit::Usage, "{}", run.stderr);
    assert_not_judged(
        &reports.join("junit.xml"),
        &reports.join("summary.json"),
        "load-summary",
        "usage",
    );
    let junit = dir.path().join("contract").join("junit.xml");
    let json = dir.path().join("contract").join("contract.json");
    std::fs::create_dir_all(dir.path().join("contract")).expect("dir");
    let run = run_cli(&[
        "contract",
        "--target",
        "http://127.0.0.1:1",
        "--report-junit",
        junit.to_str().expect("utf-8"),
        "--report-json",
        json.to_str().expect("utf-8"),
    ]);
    assert_eq!(run.exit, Exit::Usage, "{}", run.stderr);
    assert_not_judged(&junit, &json, "contract-report", "usage");
    // Unreachable, with a registration: exit 3, the same reports.
    let run = run_cli(&[
        "contract",
        "--target",
        "http://127.0.0.1:1",
        "--registration-id",
        "X",
        "--report-junit",
        junit.to_str().expect("utf-8"),
        "--report-json",
        json.to_str().expect("utf-8"),
    ]);
    assert_eq!(run.exit, Exit::Runtime, "{}", run.stderr);
    assert_not_judged(&junit, &json, "contract-report", "runtime");
}
