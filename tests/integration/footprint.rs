//! A live `load --feed` leaves its devices as it found them (issue 20): the one fixed attribute
//! `pushcheck_load_seq` removed again (or named once as a leftover where the target keeps it),
//! the load's persons unbound, `isPrimary` as found, and a device of someone else never moved.
//!
//! The simulator plays the live account ([`LiveSim`]), a [`proxy`] in front of it plants the
//! one way a target answers differently. Every run is a few requests on three devices under a
//! rate cap, through the in-process CLI, holding the load tests' lock ([`crate::load::SERIAL`]).

use pushcheck::api::Operation;
use pushcheck::api::client::Call;
use pushcheck::api::footprint::LOAD_ATTRIBUTE;
use pushcheck::cli::Exit;
use serde_json::{Value, json};

use crate::contract::standin::{LiveSim, proxy};
use crate::util::{CliRun, TempDir, read_load_summary, run_cli};

/// Reads and writes: a few iterations per user.
const WRITES: &str = "users = 2\niterations = 4\n[mix]\nget = 1\npatch = 2\n";
/// Every operation, personalize and depersonalize included.
const PERSONS: &str =
    "users = 2\niterations = 4\n[mix]\nget = 1\npatch = 1\npersonalize = 2\ndepersonalize = 1\n";

/// A live account of three devices with non-default originals (one primary, attributes), and
/// the URL the load goes to: the simulator itself, or a proxy with `defect` in front of it.
fn account(defect: proxy::Defect) -> (LiveSim, String) {
    let live = LiveSim::start(3);
    live.seed_originals();
    let url = match defect {
        proxy::Defect::None => live.base_url.clone(),
        defect => proxy::start(&live.runtime, &live.base_url, defect, Vec::new()),
    };
    (live, url)
}

/// `pushcheck load --feed` of every device of `live` at `url`, with `scenario`; the run and its
/// summary (checked against its schema).
fn load(live: &LiveSim, url: &str, scenario: &str, extra: &[&str]) -> (CliRun, Value) {
    let (run, summary, _) = load_with_junit(live, url, scenario, extra);
    (run, summary)
}

/// [`load`], and the run's junit.xml.
fn load_with_junit(
    live: &LiveSim,
    url: &str,
    scenario: &str,
    extra: &[&str],
) -> (CliRun, Value, String) {
    let dir = TempDir::new("footprint");
    let feed = dir.write("feed.txt", live.feed());
    let file = dir.write("scenario.toml", scenario);
    let reports = dir.path().join("reports");
    let mut args = vec![
        "load",
        "--scenario",
        &file,
        "--target",
        url,
        "--feed",
        &feed,
        "--api-key",
        &live.key,
        "--max-rps",
        "40",
        "--report-dir",
        reports.to_str().expect("utf-8"),
    ];
    args.extend_from_slice(extra);
    let run = {
        let _serial = crate::load::SERIAL.blocking_lock();
        run_cli(&args)
    };
    let summary = read_load_summary(&reports.join("summary.json"));
    let junit = std::fs::read_to_string(reports.join("junit.xml")).unwrap_or_default();
    (run, summary, junit)
}

fn show(run: &CliRun) -> String {
    format!("stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr)
}

/// Custom attributes on every device together.
fn attributes(live: &LiveSim) -> usize {
    live.states()
        .iter()
        .map(|s| {
            s["additionalData"]
                .as_object()
                .map_or(0, serde_json::Map::len)
        })
        .sum()
}

/// Every device of `live` belongs to nobody (a personalize without force to a fresh identity
/// answers 200, and is undone).
fn all_unbound(live: &LiveSim) {
    for (n, id) in live.ids.iter().enumerate() {
        assert!(live.belongs_to_nobody(id, 500 + n), "{id} is left bound");
    }
}

#[test]
fn a_target_that_deletes_null_gets_every_device_back_exactly() {
    let (live, url) = account(proxy::Defect::None);
    let before = live.states();
    let (run, summary) = load(&live, &url, WRITES, &[]);
    assert_eq!(run.exit, Exit::Passed, "{}", show(&run));
    assert_eq!(live.states(), before, "{}", show(&run));
    assert_eq!(summary["run_attribute"], LOAD_ATTRIBUTE);
    assert_eq!(summary["left_on_devices"], json!([]));
    assert!(
        !run.stdout.contains("Left on the devices"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!(
            "removed the run's attribute {LOAD_ATTRIBUTE} (sent as null) from 3 of 3 device(s)"
        )),
        "{}",
        run.stdout
    );
}

#[test]
fn personalize_in_the_mix_leaves_devices_unbound_and_primary_as_found() {
    let (live, url) = account(proxy::Defect::None);
    let before = live.states();
    assert_eq!(
        before[1]["isPrimary"], true,
        "a device primary before the run"
    );
    let (run, summary) = load(&live, &url, PERSONS, &[]);
    assert_eq!(run.exit, Exit::Passed, "{}", show(&run));
    let personalized = summary["operations"]
        .as_array()
        .and_then(|o| o.iter().find(|o| o["operation"] == "POST personalize"))
        .and_then(|o| o["answered"].as_u64());
    assert!(personalized > Some(0), "{}", show(&run));
    assert_eq!(live.states(), before, "{}", show(&run));
    all_unbound(&live);
    assert!(
        run.stdout
            .contains("device(s) unbound from the load's persons"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_target_that_refuses_null_keeps_one_bounded_attribute_however_many_runs() {
    let (live, url) = account(proxy::Defect::NullRefused);
    let (first, summary) = load(&live, &url, WRITES, &[]);
    assert_eq!(first.exit, Exit::Passed, "{}", show(&first));
    assert!(
        first.stdout.contains(&format!(
            "{LOAD_ATTRIBUTE} on 3 device(s) (target choice): the target refuses null"
        )),
        "{}",
        first.stdout
    );
    let left = summary["left_on_devices"].as_array().expect("left");
    assert_eq!(left.len(), 3, "once per device: {left:#?}");
    assert!(
        left.iter()
            .all(|l| l["items"] == json!([LOAD_ATTRIBUTE]) && l["cause"] == "target_choice"),
        "{left:#?}"
    );
    let after_first = attributes(&live);
    for n in 2..=10 {
        let (run, _) = load(&live, &url, WRITES, &[]);
        assert_eq!(run.exit, Exit::Passed, "run {n}: {}", show(&run));
    }
    assert_eq!(
        attributes(&live),
        after_first,
        "ten runs leave what one leaves"
    );
    for state in live.states() {
        let ours: Vec<&String> = state["additionalData"]
            .as_object()
            .map(|d| {
                d.keys()
                    .filter(|k| pushcheck::api::footprint::is_ours(k))
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(ours, [LOAD_ATTRIBUTE], "{state}");
    }
    let (strict, summary) = load(&live, &url, WRITES, &["--fail-on-residue"]);
    assert_eq!(strict.exit, Exit::CheckFailed, "{}", show(&strict));
    assert_eq!(summary["fail_on_residue"], true);
    assert!(
        strict.stdout.contains("--fail-on-residue"),
        "the verdict names why: {}",
        strict.stdout
    );
}

#[test]
fn a_target_that_stores_null_passes_and_names_the_attribute() {
    let (live, url) = account(proxy::Defect::NullStored);
    let (run, summary) = load(&live, &url, WRITES, &[]);
    assert_eq!(run.exit, Exit::Passed, "{}", show(&run));
    assert!(
        run.stdout.contains(&format!(
            "{LOAD_ATTRIBUTE} on 3 device(s) (target choice): the target stores null"
        )),
        "{}",
        run.stdout
    );
    assert_eq!(summary["left_on_devices"].as_array().map(Vec::len), Some(3));
    // A second run on the stored nulls: still the one name.
    let (again, _) = load(&live, &url, WRITES, &[]);
    assert_eq!(again.exit, Exit::Passed, "{}", show(&again));
}

#[test]
fn a_target_that_ignores_null_with_200_is_a_server_fault() {
    let (live, url) = account(proxy::Defect::NullIgnored);
    let (run, summary, junit) = load_with_junit(&live, &url, WRITES, &[]);
    assert_eq!(run.exit, Exit::CheckFailed, "{}", show(&run));
    assert!(
        run.stdout
            .contains(&format!("{LOAD_ATTRIBUTE} on 3 device(s) (server fault)")),
        "{}",
        run.stdout
    );
    let reasons = summary["verdict"]["reasons"].to_string();
    assert!(reasons.contains("server fault"), "{reasons}");
    assert!(
        junit.contains(&format!(
            "left on the devices: {LOAD_ATTRIBUTE} on 3 device(s) (server fault)"
        )) && junit.contains("type=\"server fault\""),
        "{junit}"
    );
}

#[test]
fn a_target_that_refuses_an_unowned_primary_device_leaves_is_primary_named() {
    let (live, url) = account(proxy::Defect::PrimaryTrueRefused);
    let (run, summary) = load(&live, &url, PERSONS, &[]);
    assert_eq!(run.exit, Exit::Passed, "{}", show(&run));
    let left = summary["left_on_devices"].as_array().expect("left");
    assert_eq!(
        left.iter()
            .map(|l| (
                l["registration_id"].as_str(),
                l["items"].clone(),
                l["cause"].as_str()
            ))
            .collect::<Vec<_>>(),
        [(
            Some(live.ids[1].as_str()),
            json!(["isPrimary"]),
            Some("target_choice")
        )],
        "{}",
        show(&run)
    );
    all_unbound(&live);
}

/// A device personalized to someone before the run is kept out of person operations, named,
/// and still its person's afterwards; with no device of nobody at all the run is refused.
#[test]
fn a_device_of_someone_else_is_never_moved_and_is_named() {
    let (live, url) = account(proxy::Defect::None);
    let owner = json!({"identity": {"phoneNumber": "385917654321"}});
    let taken = live.ids[0].clone();
    let personalize = |id: &str| {
        live.send(Call::new(Operation::Personalize, id.to_owned()).json(owner.clone()))
            .0
    };
    assert_eq!(personalize(&taken), 200);
    let before = live.states();
    let (run, summary) = load(&live, &url, PERSONS, &[]);
    assert_eq!(run.exit, Exit::Passed, "{}", show(&run));
    let excluded = &summary["excluded_from_person_operations"];
    assert_eq!(excluded.as_array().map(Vec::len), Some(1), "{excluded:#}");
    assert_eq!(excluded[0]["registration_id"], taken.as_str());
    assert!(
        run.stdout
            .contains("Kept out of personalize and depersonalize")
            && run.stdout.contains("PERSONALIZATION_IMPOSSIBLE"),
        "{}",
        run.stdout
    );
    assert_eq!(live.states(), before, "{}", show(&run));
    assert_eq!(personalize(&taken), 200, "still its person's");
    for (n, id) in live.ids.iter().enumerate().skip(1) {
        assert!(live.belongs_to_nobody(id, 600 + n), "{id} is left bound");
    }

    // Every device someone's: nothing to personalize without moving a device: exit 2.
    for id in &live.ids[1..] {
        assert_eq!(personalize(id), 200);
    }
    let before = live.states();
    let (run, _) = load(&live, &url, PERSONS, &[]);
    assert_eq!(run.exit, Exit::Usage, "{}", show(&run));
    assert!(
        run.stderr
            .contains("every device of the feed belongs to a person from before the run"),
        "{}",
        run.stderr
    );
    assert_eq!(live.states(), before);
    assert_eq!(personalize(&live.ids[2]), 200, "still its person's");
}
