//! A live account as it really is: stand-ins correct by the documentation that choose otherwise
//! than the simulator where the docs are silent (they must PASS, with a bounded residue named),
//! and stand-ins with one defect a live account can show (they must FAIL with exit 1, the
//! server's fault, never exit 2). Each runs the real CLI path (`run_cli`) against the simulator
//! playing a live account behind a proxy that plants the choice or the defect.

use pushcheck::api::footprint;
use pushcheck::cli::Exit;
use pushcheck::schema::{Mode, registry};
use serde_json::{Value, json};

use super::standin::{LiveSim, ours, proxy, without_ours};
use crate::util::{TempDir, run_cli};

/// A contract run with writes through a proxy planting `defect`: the run, its JSON report,
/// and every device's whole state before and after.
struct Run {
    exit: Exit,
    stdout: String,
    report: Value,
    before: Vec<Value>,
    after: Vec<Value>,
}

fn contract(live: &LiveSim, url: &str, extra: &[&str]) -> Run {
    let dir = TempDir::new("choices");
    let json_path = dir.path().join("r.json").to_string_lossy().into_owned();
    let before = live.states();
    let mut args = live.args(url);
    args.extend(["--allow-writes", "--report-json", &json_path]);
    args.extend(extra);
    let run = run_cli(&args);
    let report: Value = std::fs::read_to_string(&json_path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    if !report.is_null() {
        let errors = registry()
            .validate("contract-report", Mode::Strict, &report)
            .expect("schema");
        assert!(errors.is_empty(), "{errors:?}");
    }
    Run {
        exit: run.exit,
        stdout: run.stdout,
        report,
        before,
        after: live.states(),
    }
}

fn proxied(live: &LiveSim, defect: proxy::Defect) -> String {
    proxy::start(&live.runtime, &live.base_url, defect, Vec::new())
}

/// Control: a target that deletes on null, as the simulator does. The devices end exactly as
/// found, the choices block says what was learned, and the cases that rely on those choices
/// run instead of being skipped.
#[test]
fn a_target_that_deletes_on_null_is_left_exactly_as_found() {
    let live = LiveSim::start(3);
    live.seed_originals();
    let url = proxied(&live, proxy::Defect::None);
    let run = contract(&live, &url, &[]);
    assert_eq!(run.exit, Exit::Passed, "{}", run.stdout);
    assert_eq!(run.before, run.after);
    assert!(run.stdout.contains("target choices"), "{}", run.stdout);
    assert_eq!(
        run.report["target_choices"]["null_attribute"],
        json!("deletes")
    );
    assert_eq!(run.report["left_on_devices"], json!([]));
    let case = |name: &str| {
        run.report["cases"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["name"] == json!(name)))
            .map(|c| c["status"].clone())
    };
    assert_eq!(
        case("patch.is_primary"),
        Some(json!("passed")),
        "learned, so run"
    );
}

/// Correct by the docs, refusing null: ten runs in a row each exit 0, the residue is named and
/// bounded (pushcheck's fixed names only, the same after run 10 as after run 1), and
/// nothing else of the devices changed. `--fail-on-residue` turns it into a failure.
#[test]
fn a_target_that_refuses_null_passes_with_a_bounded_residue() {
    let live = LiveSim::start(3);
    live.seed_originals();
    let url = proxied(&live, proxy::Defect::NullRefused);
    let first = contract(&live, &url, &[]);
    assert_eq!(first.exit, Exit::Passed, "{}", first.stdout);
    assert_eq!(
        first.report["target_choices"]["null_attribute"],
        json!("refused")
    );
    assert!(
        first.stdout.contains("left on the devices"),
        "{}",
        first.stdout
    );
    let left = first.report["left_on_devices"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(!left.is_empty());
    assert!(
        left.iter().all(|l| l["cause"] == json!("target_choice")),
        "{left:?}"
    );
    let names = footprint::names(256);
    for device in ours(&first.after) {
        assert!(device.iter().all(|n| names.contains(n)), "{device:?}");
    }
    for (before, after) in first.before.iter().zip(&first.after) {
        assert_eq!(without_ours(before), without_ours(after));
    }
    // Nine more runs in a row: each exits 0, names the residue again, and it does not grow.
    for run in 2..=10 {
        let next = contract(&live, &url, &[]);
        assert_eq!(next.exit, Exit::Passed, "run {run}: {}", next.stdout);
        assert_eq!(
            ours(&first.after),
            ours(&next.after),
            "run {run}: the residue does not grow"
        );
        assert!(
            next.stdout.contains("left on the devices"),
            "run {run}: the residue is named again: {}",
            next.stdout
        );
    }
    let strict = contract(&live, &url, &["--fail-on-residue"]);
    assert_eq!(strict.exit, Exit::CheckFailed, "{}", strict.stdout);
}

/// Correct by the docs, storing null: exit 0, the residue named, the choice in the report.
#[test]
fn a_target_that_stores_null_passes_with_the_residue_named() {
    let live = LiveSim::start(3);
    live.seed_originals();
    let url = proxied(&live, proxy::Defect::NullStored);
    let run = contract(&live, &url, &[]);
    assert_eq!(run.exit, Exit::Passed, "{}", run.stdout);
    assert_eq!(
        run.report["target_choices"]["null_attribute"],
        json!("stored")
    );
    for (before, after) in run.before.iter().zip(&run.after) {
        assert_eq!(without_ours(before), without_ours(after));
    }
}

/// Correct by the docs, refusing isPrimary=true on a device of nobody: exit 0; the case that
/// relies on the simulator's choice is skipped naming what this target does.
#[test]
fn a_target_that_refuses_primary_on_a_device_of_nobody_passes() {
    let live = LiveSim::start(3);
    let url = proxied(&live, proxy::Defect::PrimaryUnownedRefused);
    let run = contract(&live, &url, &[]);
    assert_eq!(run.exit, Exit::Passed, "{}", run.stdout);
    assert_eq!(
        run.report["target_choices"]["primary_on_unowned"],
        json!("refused")
    );
    let skipped = run.report["cases"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == json!("patch.is_primary")))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(skipped["status"], json!("skipped"), "{skipped}");
    assert!(
        skipped["skip_reason"]
            .as_str()
            .is_some_and(|r| r.contains("chose otherwise")),
        "{skipped}"
    );
    assert_eq!(run.before, run.after);
}

/// One defect: depersonalize answers 200 and does nothing. The probe sees it before any case:
/// exit 1 (the server's fault), said once, the device named as left bound.
#[test]
fn a_depersonalize_without_effect_is_a_server_finding() {
    let live = LiveSim::start(3);
    let url = proxied(&live, proxy::Defect::DepersonalizeNoop);
    let run = contract(&live, &url, &[]);
    assert_eq!(run.exit, Exit::CheckFailed, "{}", run.stdout);
    let said = run.stdout.matches("did not unbind the device").count();
    assert!(said >= 1, "{}", run.stdout);
    assert!(
        !run.stdout.contains("from before the run"),
        "{}",
        run.stdout
    );
    let findings = run.report["server_findings"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        findings
            .iter()
            .any(|f| f["probe"] == json!("depersonalize")),
        "{findings:?}"
    );
}

/// One defect each: GET answers 200 with an empty body, or a body that is not UTF-8. The
/// server's fault (exit 1), not "--registration-id must name existing registrations" (exit 2),
/// and nothing is written to the devices.
#[test]
fn garbled_reads_are_the_servers_fault() {
    for defect in [proxy::Defect::GetEmptyBody, proxy::Defect::GetNotUtf8] {
        let live = LiveSim::start(3);
        let url = proxied(&live, defect);
        let run = contract(&live, &url, &[]);
        assert_eq!(run.exit, Exit::CheckFailed, "{defect:?}: {}", run.stdout);
        assert!(
            !run.stdout.contains("must name existing registrations"),
            "{defect:?}: {}",
            run.stdout
        );
        assert_eq!(run.before, run.after, "{defect:?}");
        let findings = run.report["server_findings"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(findings.len(), 3, "{defect:?}: {findings:?}");
    }
}

/// `contract --generate` on a target that refuses null: it starts (its known state no longer
/// depends on null), adopts what the devices keep, and ends without a finding; the devices end
/// as found but for pushcheck's own fixed attribute names.
#[test]
fn generated_runs_start_on_a_target_that_refuses_null() {
    generated_run_passes_on(proxy::Defect::NullRefused);
}

/// The same on a target that stores null instead of deleting.
#[test]
fn generated_runs_pass_on_a_target_that_stores_null() {
    generated_run_passes_on(proxy::Defect::NullStored);
}

fn generated_run_passes_on(defect: proxy::Defect) {
    let live = LiveSim::start(3);
    live.seed_originals();
    let url = proxied(&live, defect);
    let before = live.states();
    let dir = TempDir::new("generated");
    let replay = dir.path().join("found.json").to_string_lossy().into_owned();
    let mut args = live.args(&url);
    args.extend(["--allow-writes", "--generate", "200", "--max-rps", "400"]);
    args.extend(["--save-replay", &replay]);
    let run = run_cli(&args);
    assert_ne!(run.exit, Exit::Runtime, "{}\n{}", run.stdout, run.stderr);
    assert_ne!(run.exit, Exit::Usage, "{}\n{}", run.stdout, run.stderr);
    let after = live.states();
    let names = footprint::names(256);
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(without_ours(b), without_ours(a));
    }
    for device in ours(&after) {
        assert!(device.iter().all(|n| names.contains(n)), "{device:?}");
    }
    assert_eq!(run.exit, Exit::Passed, "{}\n{}", run.stdout, run.stderr);
}

/// A generated run that finds a defect on a live target prints a rerun command that replays it
/// there: the target URL, the registrations, --allow-writes and the replay file, with the
/// credential and app code named by their environment variables, never their values.
#[test]
fn a_live_finding_prints_a_rerun_command_for_the_same_target() {
    let live = LiveSim::start(3);
    let url = proxied(&live, proxy::Defect::DepersonalizeNoop);
    let dir = TempDir::new("rerun");
    let replay = dir.path().join("found.json").to_string_lossy().into_owned();
    let mut args = live.args(&url);
    args.extend(["--allow-writes", "--generate", "200", "--max-rps", "400"]);
    args.extend(["--save-replay", &replay]);
    let run = run_cli(&args);
    assert_eq!(
        run.exit,
        Exit::CheckFailed,
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    let line = run
        .stdout
        .lines()
        .find(|l| l.contains("--replay"))
        .unwrap_or_default();
    assert!(line.contains(&format!("--target {url}")), "{line}");
    assert!(line.contains("--allow-writes"), "{line}");
    assert!(line.contains(&format!("--replay {replay}")), "{line}");
    assert!(
        line.contains("PUSHCHECK_API_KEY=\"$PUSHCHECK_API_KEY\""),
        "{line}"
    );
    for id in &live.ids {
        assert!(line.contains(&format!("--registration-id {id}")), "{line}");
    }
    assert!(!run.stdout.contains(&live.key), "the key leaked");
}

/// `check --target` with writes, on the same stand-ins: a target that refuses null passes
/// (exit 0, the residue named in check.json); a depersonalize without effect fails (exit 1, the
/// server's fault), and the load does not run on those devices.
#[test]
fn check_judges_the_server_and_reports_the_footprint() {
    for (defect, exit) in [
        (proxy::Defect::NullRefused, Exit::Passed),
        (proxy::Defect::DepersonalizeNoop, Exit::CheckFailed),
    ] {
        let live = LiveSim::start(3);
        let url = proxied(&live, defect);
        let dir = TempDir::new("check-choices");
        let reports = dir.path().join("reports").to_string_lossy().into_owned();
        let scenario = dir.write("reads.toml", "users = 2\niterations = 4\n[mix]\nget = 1\n");
        let mut args = live.args(&url);
        args[0] = "check";
        let more = [
            "--allow-writes",
            "--report-dir",
            &reports,
            "--scenario",
            &scenario,
        ];
        args.extend(more);
        let before = live.states();
        let run = {
            let _serial = crate::load::SERIAL.blocking_lock();
            run_cli(&args)
        };
        assert_eq!(run.exit, exit, "{defect:?}: {}\n{}", run.stdout, run.stderr);
        let text =
            std::fs::read_to_string(dir.path().join("reports/check.json")).expect("check.json");
        let report: Value = serde_json::from_str(&text).expect("JSON");
        let errors = registry()
            .validate("check-report", Mode::Strict, &report)
            .expect("schema");
        assert!(errors.is_empty(), "{errors:?}");
        assert!(
            report["contract"]["target_choices"].is_object(),
            "{defect:?}"
        );
        let after = live.states();
        for (b, a) in before.iter().zip(&after) {
            assert_eq!(without_ours(b), without_ours(a), "{defect:?}");
        }
    }
}

/// A live load with personalize in its mix, then a contract run with writes on the same
/// devices: the load put its bindings and isPrimary back, so the contract run finds devices of
/// nobody and passes (before: exit 2, "already belongs to a person from before the run").
#[test]
fn a_contract_run_after_a_load_on_the_same_devices_passes() {
    let live = LiveSim::start(3);
    live.seed_originals();
    let url = proxied(&live, proxy::Defect::None);
    let before = live.states();
    let load = load_feed(
        &live,
        &url,
        "users = 2\niterations = 6\n[mix]\nget = 1\npatch = 1\npersonalize = 3\ndepersonalize = 1\n",
    );
    assert_eq!(load.exit, Exit::Passed, "{}\n{}", load.stdout, load.stderr);
    assert_eq!(live.states(), before, "the load put everything back");
    let run = contract(&live, &url, &[]);
    assert_eq!(run.exit, Exit::Passed, "{}", run.stdout);
    assert!(
        !run.stdout.contains("from before the run"),
        "{}",
        run.stdout
    );
    assert_eq!(run.before, run.after);
}

/// One defect: every GET answers another application's `applicationId` (PATCH answers carry the
/// right one). The contract suite and the load judge every answer against the one learned from
/// the first read (or given with `--application-id`): both fail (exit 1).
#[test]
fn another_application_id_on_every_get_fails_contract_and_load() {
    let live = LiveSim::start(3);
    let url = proxied(&live, proxy::Defect::OtherApplicationIdOnGet);
    let run = contract(&live, &url, &[]);
    assert_eq!(run.exit, Exit::CheckFailed, "{}", run.stdout);
    let load = load_feed(
        &live,
        &url,
        "users = 2\niterations = 6\n[mix]\nget = 1\npatch = 1\n",
    );
    assert_eq!(
        load.exit,
        Exit::CheckFailed,
        "{}\n{}",
        load.stdout,
        load.stderr
    );
    assert!(load.stdout.contains("applicationId"), "{}", load.stdout);
}

/// `pushcheck load --feed` of every device of `live` at `url` with the scenario `toml`, under a
/// 40/s cap, holding the load tests' lock.
fn load_feed(live: &LiveSim, url: &str, toml: &str) -> crate::util::CliRun {
    let dir = TempDir::new("load-feed");
    let feed = dir.write("feed.txt", live.feed());
    let scenario = dir.write("scenario.toml", toml);
    let reports = dir.path().join("reports").to_string_lossy().into_owned();
    let _serial = crate::load::SERIAL.blocking_lock();
    run_cli(&[
        "load",
        "--target",
        url,
        "--api-key",
        &live.key,
        "--feed",
        &feed,
        "--scenario",
        &scenario,
        "--max-rps",
        "40",
        "--report-dir",
        &reports,
    ])
}
