//! Stop signals from outside — SIGTERM (a CI timeout, `timeout(1)`, `docker stop`) and SIGHUP
//! (a terminal closing) — sent to the real binary, one test per command: each stops the run,
//! writes the reports asked for, puts the devices back and exits 3 within [`STOP_WITHIN`], as
//! the first Ctrl-C does (Ctrl-C itself is tried in `verdict`, `check` and `contract`). A second
//! signal skips the restore and the output names what was left.
//!
//! The live runs go to [`LiveSim`], the simulator playing a live account with three test
//! devices given non-default originals; each device's whole GET body after the run must equal
//! the one before. A test waits for something it can see (a write landed on a device, a request
//! held by the proxy in front of the target, the process's signal handler in place), never for
//! a fixed time, and kills only the processes it started.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pushcheck::schema::{Mode, registry};
use serde_json::{Value, json};

use crate::contract::standin::{LiveSim, proxy};
use crate::util::{TempDir, read_all, read_load_summary};

/// How long a run may take to end after the signal that stops it.
const STOP_WITHIN: Duration = Duration::from_secs(3);
/// How long a test waits for a run to reach the point where it is signalled.
const REACH_WITHIN: Duration = Duration::from_secs(60);

/// The binary, with none of the environment's target settings.
fn binary() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pushcheck"));
    for var in [
        "PUSHCHECK_TARGET",
        "PUSHCHECK_API_KEY",
        "PUSHCHECK_APP_CODE",
        "PUSHCHECK_BASIC",
        "PUSHCHECK_IBSSO",
        "PUSHCHECK_BEARER",
    ] {
        c.env_remove(var);
    }
    c
}

/// A running `pushcheck`, its output read as it comes (a full pipe never blocks it); killed if
/// the test ends before it does.
struct Run {
    child: Child,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
    signalled: Option<Instant>,
}

/// How a signalled run ended.
struct Ended {
    exit: Option<i32>,
    /// From the last signal to the exit.
    stopped_in: Duration,
    /// stdout, then stderr.
    output: String,
}

impl Run {
    fn spawn(command: &mut Command) -> Run {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn pushcheck");
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        Run {
            child,
            stdout: Some(std::thread::spawn(move || read_all(stdout))),
            stderr: Some(std::thread::spawn(move || read_all(stderr))),
            signalled: None,
        }
    }

    /// Sends `signal` (`TERM`, `HUP`, `INT`) to this process only.
    fn signal(&mut self, signal: &str) {
        send(&self.child, signal);
        self.signalled = Some(Instant::now());
    }

    /// Waits for the end (never more than a minute: a run that hangs fails the test).
    fn end(mut self) -> Ended {
        let exit = crate::util::wait_within(&mut self.child, REACH_WITHIN);
        let stopped_in = self.signalled.map(|s| s.elapsed()).unwrap_or_default();
        let join = |h: Option<JoinHandle<String>>| h.map(|h| h.join().unwrap_or_default());
        let output = format!(
            "stdout:\n{}\nstderr:\n{}",
            join(self.stdout.take()).unwrap_or_default(),
            join(self.stderr.take()).unwrap_or_default()
        );
        Ended {
            exit,
            stopped_in,
            output,
        }
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `kill -SIGNAL <pid>` of a child this test started.
fn send(child: &Child, signal: &str) {
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(sent.success(), "kill -{signal} {}", child.id());
}

impl Ended {
    /// Exit 3, within [`STOP_WITHIN`] of the signal.
    fn assert_stopped(&self) {
        assert_eq!(self.exit, Some(3), "{}", self.output);
        assert!(
            self.stopped_in < STOP_WITHIN,
            "ended {:?} after the signal:\n{}",
            self.stopped_in,
            self.output
        );
    }
}

/// Polls `ready` until it holds; fails the test after [`REACH_WITHIN`].
fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + REACH_WITHIN;
    while !ready() {
        assert!(Instant::now() < deadline, "never saw: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A simulator playing a live account: three devices with non-default originals.
fn live_account() -> (LiveSim, Vec<Value>) {
    let live = LiveSim::start(3);
    assert_eq!(live.ids.len(), 3);
    live.seed_originals();
    let before = live.states();
    (live, before)
}

/// `--registration-id` for each device of `live`.
fn device_flags(live: &LiveSim) -> Vec<String> {
    live.ids
        .iter()
        .flat_map(|id| ["--registration-id".to_owned(), id.clone()])
        .collect()
}

/// A proxy in front of `live` that forwards every request and holds the answer of the first
/// request each matcher (in turn) accepts; the receiver hears of each hold once the request
/// reached the target.
fn held_at(live: &LiveSim, matchers: Vec<proxy::Matcher>) -> (String, Receiver<String>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let hooks = matchers
        .into_iter()
        .map(|matches| proxy::Hook {
            matches,
            signal: tx.clone(),
            hold: Duration::from_secs(30),
        })
        .collect();
    let url = proxy::start(&live.runtime, &live.base_url, proxy::Defect::None, hooks);
    (url, rx)
}

fn method(method: &'static str) -> proxy::Matcher {
    Box::new(move |m, _, _| m == method)
}

/// Waits until the proxy holds its next request; returns it (`METHOD /path`).
fn next_hold(rx: &Receiver<String>) -> String {
    rx.recv_timeout(REACH_WITHIN)
        .expect("the run reached the request the proxy holds")
}

/// A JSON file, checked against pushcheck's schema `schema`.
fn json_report(path: &Path, schema: &str) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{} was not written: {e}", path.display()));
    let value: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    let violations = registry()
        .validate(schema, Mode::Strict, &value)
        .expect("schema");
    assert!(
        violations.is_empty(),
        "{} breaks schemas/{schema}.json: {violations:#?}",
        path.display()
    );
    value
}

/// A JUnit file that parses; the number of its test cases.
fn junit_cases(path: &Path) -> usize {
    use quick_xml::events::Event;
    let xml = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{} was not written: {e}", path.display()));
    let mut reader = quick_xml::Reader::from_str(&xml);
    let mut cases = 0;
    loop {
        match reader.read_event() {
            Ok(Event::Eof) => break,
            Ok(Event::Start(e) | Event::Empty(e)) if e.name().as_ref() == b"testcase" => {
                cases += 1;
            }
            Ok(_) => {}
            Err(e) => panic!("{} does not parse: {e}", path.display()),
        }
    }
    cases
}

// ---------------------------------------------------------------------------------------------
// load

/// A load long enough to be stopped, writing to its own three devices.
const LONG_WRITES: &str =
    "users = 3\nrun_time = \"60s\"\nthrottle = 60\n[mix]\nget = 1\npatch = 1\n";

/// `pushcheck load` on the three devices of a live account, stopped by `signal` once its
/// writes have landed: the reports are written, the run's attribute removed, the devices as
/// before.
fn load_stops_on(signal: &str) {
    let (live, before) = live_account();
    let dir = TempDir::new("signal-load");
    let scenario = dir.write("long.toml", LONG_WRITES);
    let feed: String = live
        .ids
        .iter()
        .map(|id| format!("{id},{}\n", live.app))
        .collect();
    let feed = dir.write("feed.txt", feed);
    let reports = dir.path().join("reports");
    let mut run = Run::spawn(
        binary()
            .args(["load", "--scenario", &scenario, "--feed", &feed])
            .args(["--target", &live.base_url, "--app-code", &live.app])
            .arg("--report-dir")
            .arg(&reports)
            .env("PUSHCHECK_API_KEY", &live.key),
    );
    let written = |state: &Value| {
        state["additionalData"]
            .as_object()
            .is_some_and(|a| a.contains_key(pushcheck::api::footprint::LOAD_ATTRIBUTE))
    };
    wait_until("the load's attribute on a device", || {
        live.states().iter().any(written)
    });
    run.signal(signal);
    let ended = run.end();
    ended.assert_stopped();
    assert!(
        ended.output.contains("removed the run's attribute"),
        "{}",
        ended.output
    );
    let summary = read_load_summary(&reports.join("summary.json"));
    assert_eq!(summary["interrupted"], true, "{summary:#}");
    assert!(junit_cases(&reports.join("junit.xml")) > 0);
    for file in ["report.html", "pushcheck.html", "timeline.csv"] {
        assert!(reports.join(file).exists(), "{file} not written");
    }
    assert_eq!(
        live.states(),
        before,
        "the devices changed:\n{}",
        ended.output
    );
}

#[test]
fn sigterm_stops_a_live_load_writes_its_reports_and_removes_its_attribute() {
    load_stops_on("TERM");
}

#[test]
fn sighup_stops_a_live_load_writes_its_reports_and_removes_its_attribute() {
    load_stops_on("HUP");
}

/// A stop signal before the load started (while the devices are read before it): no result
/// exists, exit 3 — and the report directory still holds junit.xml (one `<error>` case) and a
/// minimal summary.json saying the run was interrupted before it could judge.
#[test]
fn a_load_stopped_before_it_started_still_leaves_junit_and_summary_json() {
    let (live, before) = live_account();
    let dir = TempDir::new("signal-before-load");
    let scenario = dir.write("long.toml", LONG_WRITES);
    let feed: String = live
        .ids
        .iter()
        .map(|id| format!("{id},{}\n", live.app))
        .collect();
    let feed = dir.write("feed.txt", feed);
    // The first GET is the preflight's; the second one reads a device before the load.
    let gets = std::sync::atomic::AtomicUsize::new(0);
    let second_get: proxy::Matcher = Box::new(move |m, _, _| {
        m == "GET" && gets.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 1
    });
    let (url, held) = held_at(&live, vec![second_get]);
    let reports = dir.path().join("reports");
    let mut run = Run::spawn(
        binary()
            .args(["load", "--scenario", &scenario, "--feed", &feed])
            .args(["--target", &url, "--app-code", &live.app])
            .arg("--report-dir")
            .arg(&reports)
            .env("PUSHCHECK_API_KEY", &live.key),
    );
    next_hold(&held);
    run.signal("TERM");
    let ended = run.end();
    ended.assert_stopped();
    assert!(
        ended.output.contains("interrupted before the load started"),
        "{}",
        ended.output
    );
    let summary = json_report(&reports.join("summary.json"), "load-summary");
    assert_eq!(summary["not_judged"]["exit_kind"], "runtime", "{summary:#}");
    assert_eq!(summary["not_judged"]["exit_code"], 3, "{summary:#}");
    let xml = std::fs::read_to_string(reports.join("junit.xml")).expect("junit.xml");
    assert!(
        xml.contains("<error message=\"interrupted before the load started"),
        "{xml}"
    );
    assert_eq!(junit_cases(&reports.join("junit.xml")), 1);
    assert_eq!(live.states(), before, "{}", ended.output);
}

// ---------------------------------------------------------------------------------------------
// contract, live

/// `pushcheck contract --allow-writes` on a live account, stopped by `signal` while the first
/// PATCH of a writing case is in flight (it has reached the target): the case's devices are
/// restored, the JSON and JUnit reports written.
fn contract_stops_on(signal: &str) {
    let (live, before) = live_account();
    let (url, held) = held_at(&live, vec![method("PATCH")]);
    let dir = TempDir::new("signal-contract");
    let (json, junit) = (dir.path().join("c.json"), dir.path().join("junit.xml"));
    let mut run = Run::spawn(
        binary()
            .args(["contract", "--target", &url, "--app-code", &live.app])
            .args(["--allow-writes", "--report-json"])
            .arg(&json)
            .arg("--report-junit")
            .arg(&junit)
            .args(device_flags(&live))
            .env("PUSHCHECK_API_KEY", &live.key),
    );
    next_hold(&held);
    run.signal(signal);
    let ended = run.end();
    ended.assert_stopped();
    assert!(
        ended.output.contains("interrupted by a stop signal"),
        "{}",
        ended.output
    );
    let report = json_report(&json, "contract-report");
    assert_eq!(report["interrupted"], true);
    let ran = report["cases"].as_array().expect("cases").len();
    // Every case that ran, and one error case saying why the rest did not.
    assert_eq!(junit_cases(&junit), ran + 1);
    assert_eq!(
        live.states(),
        before,
        "the devices changed:\n{}",
        ended.output
    );
    assert!(
        !ended.output.contains(&live.key),
        "the key leaked:\n{}",
        ended.output
    );
}

#[test]
fn sigterm_stops_a_live_contract_run_restores_its_devices_and_writes_its_reports() {
    contract_stops_on("TERM");
}

#[test]
fn sighup_stops_a_live_contract_run_restores_its_devices_and_writes_its_reports() {
    contract_stops_on("HUP");
}

/// A second signal (another kind than the first) while the restore is under way skips it, and
/// the output names the devices not restored — which indeed still differ.
#[test]
fn a_second_signal_skips_the_restore_and_lists_what_was_left() {
    let (live, before) = live_account();
    // The PATCH of patch.additional_data (a visible change), then the restore's first read.
    let added: proxy::Matcher = Box::new(|m, _, body| {
        m == "PATCH" && String::from_utf8_lossy(body).contains("pushcheck_otp")
    });
    let (url, held) = held_at(&live, vec![added, method("GET")]);
    let mut run = Run::spawn(
        binary()
            .args(["contract", "--target", &url, "--app-code", &live.app])
            .arg("--allow-writes")
            .args(device_flags(&live))
            .env("PUSHCHECK_API_KEY", &live.key),
    );
    let patch = next_hold(&held);
    run.signal("TERM");
    next_hold(&held);
    run.signal("HUP");
    let ended = run.end();
    ended.assert_stopped();
    let patched = live
        .ids
        .iter()
        .position(|id| patch.contains(id.as_str()))
        .unwrap_or_else(|| panic!("{patch} names no device"));
    let id = &live.ids[patched];
    assert!(
        ended
            .output
            .contains(&format!("{id}: whatever the interrupted case changed"))
            && ended
                .output
                .contains("a second stop signal skipped the restore"),
        "{}",
        ended.output
    );
    let after = live.states();
    assert_ne!(after[patched], before[patched], "{}", ended.output);
    assert_eq!(
        after[patched]["additionalData"]["pushcheck_otp"],
        json!(true),
        "the device the restore skipped was left as the case wrote it"
    );
}

// ---------------------------------------------------------------------------------------------
// contract --generate / --replay, live

/// Runs `contract ARGS` on the live account's devices until a write of it shows on a device,
/// then sends `signal`: exit 3, "interrupted" said, the devices as before.
fn generated_run_stops_on(live: &LiveSim, before: &[Value], args: &[&str], signal: &str) {
    let mut run = Run::spawn(
        binary()
            .args([
                "contract",
                "--target",
                &live.base_url,
                "--app-code",
                &live.app,
            ])
            .arg("--allow-writes")
            .args(args)
            .args(device_flags(live))
            .env("PUSHCHECK_API_KEY", &live.key),
    );
    wait_until("a device written by the run", || live.states() != before);
    run.signal(signal);
    let ended = run.end();
    ended.assert_stopped();
    assert!(
        ended.output.contains("interrupted by a stop signal"),
        "{}",
        ended.output
    );
    assert!(!ended.output.contains("not restored"), "{}", ended.output);
    assert_eq!(
        live.states(),
        before,
        "the devices changed:\n{}",
        ended.output
    );
}

#[test]
fn sigterm_stops_generate_on_a_live_target_and_restores_its_devices() {
    let (live, before) = live_account();
    generated_run_stops_on(
        &live,
        &before,
        &["--generate", "100000", "--seed", "20"],
        "TERM",
    );
}

#[test]
fn sighup_stops_a_replay_on_a_live_target_and_restores_its_devices() {
    let (live, before) = live_account();
    // Long enough at the live pace (5 requests/s, reads back included): writes on every device.
    let steps: Vec<Value> = (0..120)
        .map(|n| match n % 2 {
            0 => json!({"op": "patch", "reg": n % 3,
                        "body": {"json": {"additionalData": {"pushcheckSignalTest": n}}}}),
            _ => json!({"op": "get", "reg": n % 3}),
        })
        .collect();
    let replay = json!({"format": 1, "registrations": 3, "steps": steps});
    let dir = TempDir::new("signal-replay");
    let file = dir.write("replay.json", replay.to_string());
    generated_run_stops_on(&live, &before, &["--replay", &file], "HUP");
}

// ---------------------------------------------------------------------------------------------
// check, live

/// `pushcheck check` on a live account, SIGTERM during its contract stage (a writing case's
/// PATCH in flight): the devices are restored, the load is not run, check.json and junit.xml
/// are written.
#[test]
fn sigterm_stops_a_live_check_restores_its_devices_and_writes_its_reports() {
    let (live, before) = live_account();
    let (url, held) = held_at(&live, vec![method("PATCH")]);
    let dir = TempDir::new("signal-check");
    let reports = dir.path().join("reports");
    let mut run = Run::spawn(
        binary()
            .args(["check", "--target", &url, "--app-code", &live.app])
            .arg("--allow-writes")
            .arg("--report-dir")
            .arg(&reports)
            .args(device_flags(&live))
            .env("PUSHCHECK_API_KEY", &live.key),
    );
    next_hold(&held);
    run.signal("TERM");
    let ended = run.end();
    ended.assert_stopped();
    let combined = json_report(&reports.join("check.json"), "check-report");
    assert_eq!(combined["contract"]["interrupted"], true, "{combined:#}");
    assert_eq!(combined["passed"], false);
    assert!(combined["load"].is_null(), "the load ran: {combined:#}");
    assert!(junit_cases(&reports.join("junit.xml")) > 0);
    assert_eq!(
        live.states(),
        before,
        "the devices changed:\n{}",
        ended.output
    );
}

// ---------------------------------------------------------------------------------------------
// contract, embedded simulator

/// `pushcheck contract` against the embedded simulator: SIGTERM stops it too (exit 3, the
/// reports written, the remaining cases not run), rather than being ignored until a third
/// signal.
///
/// The whole suite takes a fraction of a second there, so the test holds the run where a slow
/// reader would: its stdout is a FIFO the test has filled but for [`HEADROOM`] bytes, so the
/// run blocks on a progress line a few cases in and cannot finish. The signal goes once the
/// process's handler is in place (`SigCgt` in `/proc/PID/status`; before it, SIGTERM would
/// simply kill the process); then the test drains the FIFO.
#[cfg(target_os = "linux")]
#[test]
fn sigterm_stops_a_contract_run_against_the_embedded_simulator() {
    use std::os::unix::fs::OpenOptionsExt;
    /// Bytes the run may write before its stdout is full: the first line and a few cases.
    const HEADROOM: usize = 600;
    /// `O_NONBLOCK` on Linux (the test's own end only; the run's end blocks).
    const O_NONBLOCK: i32 = 0o4000;
    let dir = TempDir::new("signal-sim");
    let fifo = dir.path().join("stdout");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    // Read-write, so opening never waits for the other side.
    let mut ours = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(O_NONBLOCK)
        .open(&fifo)
        .expect("open the FIFO");
    fill_all_but(&mut ours, HEADROOM);
    let (json, junit) = (dir.path().join("c.json"), dir.path().join("junit.xml"));
    let mut child = {
        let theirs = std::fs::OpenOptions::new()
            .write(true)
            .open(&fifo)
            .expect("open the FIFO for the run");
        // The command (and its copy of the FIFO) is gone once the child runs: the FIFO then
        // ends when the child does.
        binary()
            .args(["contract", "--report-json"])
            .arg(&json)
            .arg("--report-junit")
            .arg(&junit)
            .stdin(Stdio::null())
            .stdout(theirs)
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn pushcheck")
    };
    let pid = child.id();
    let handled = || {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|status| {
                status
                    .lines()
                    .find_map(|l| l.strip_prefix("SigCgt:"))
                    .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
            })
            // SIGHUP (1), SIGINT (2), SIGTERM (15): bits 0, 1 and 14.
            .is_some_and(|mask| mask & 0x4003 == 0x4003)
    };
    wait_until("pushcheck's signal handler in place", handled);
    send(&child, "TERM");
    let signalled = Instant::now();
    // Drain the FIFO: a blocking reader of its own, then let go of the test's end, so the
    // reader sees the end of the file when the run closes its stdout.
    let reader = std::fs::File::open(&fifo).expect("open the FIFO to read");
    drop(ours);
    let drained = std::thread::spawn(move || read_all(reader));
    let exit = crate::util::wait_within(&mut child, REACH_WITHIN);
    let stopped_in = signalled.elapsed();
    let output = drained.join().unwrap_or_default();
    let output = output.trim_start_matches('.');
    assert_eq!(exit, Some(3), "{output}");
    assert!(
        stopped_in < STOP_WITHIN,
        "ended {stopped_in:?} after SIGTERM"
    );
    assert!(output.contains("interrupted"), "{output}");
    let report = json_report(&json, "contract-report");
    assert_eq!(report["interrupted"], true);
    let ran = report["cases"].as_array().expect("cases").len();
    assert!(
        ran < pushcheck::contract::select(&[]).len(),
        "every case ran: {output}"
    );
    // Every case that ran, and one error case saying why the rest did not.
    assert_eq!(junit_cases(&junit), ran + 1);
}

/// Fills the FIFO `pipe` (opened non-blocking) to its capacity less `headroom` bytes: filled
/// once to learn the capacity, emptied, then filled again, so the free room is at its end,
/// where the next writes go.
#[cfg(target_os = "linux")]
fn fill_all_but(pipe: &mut std::fs::File, headroom: usize) {
    let chunk = [b'.'; 512];
    let mut capacity = 0;
    loop {
        match pipe.write(&chunk) {
            Ok(n) => capacity += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("fill the FIFO: {e}"),
        }
    }
    let mut back = vec![0; capacity];
    pipe.read_exact(&mut back).expect("empty the FIFO");
    let mut left = capacity - headroom;
    while left > 0 {
        let n = pipe.write(&chunk[..left.min(chunk.len())]).expect("refill");
        left -= n;
    }
}
