//! Generated, stateful, differential contract testing (`pushcheck contract --generate`): the
//! control (the simulator against its own rules) finds nothing; each planted defect below is
//! found with a fixed seed and shrunk to at most 4 steps; the saved sequence replays (it fails
//! on the defect, passes on the control); the CLI prints the seed, the steps, curl commands
//! without the credential, and exits 1.

use pushcheck::api::Operation;
use pushcheck::api::client::Call;
use pushcheck::contract::Target;
use pushcheck::contract::generate::step::Replay;
use pushcheck::contract::generate::{GenerateConfig, GenerateResult, Work, run};
use pushcheck::mock::{Defect, Defects};

use crate::util::{TempDir, run_cli};

/// Planted defects no hand-written case catches and the test here that finds each (the kill
/// matrix, `kill.rs`, checks its rows against this list).
pub const FOUND_BY_GENERATOR: &[(&str, &str)] = &[(
    "personalize.keep_as_lead_ignored_after_depersonalize",
    "generate::finds_keep_as_lead_ignored_after_a_depersonalize",
)];

/// The seed every defect test uses.
const SEED: u64 = 15;
/// Generated steps each defect test may use before it must have found the defect.
const STEPS: usize = 3000;

fn generate(target: Target, steps: usize, seed: u64) -> GenerateResult {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let config = GenerateConfig::new(target, Work::Generate { steps, seed });
    runtime
        .block_on(run(config))
        .expect("the generated run runs")
}

fn replay(target: Target, replay: Replay) -> GenerateResult {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let config = GenerateConfig::new(target, Work::Replay(replay));
    runtime.block_on(run(config)).expect("the replay runs")
}

/// `--generate` finds `defect` and shrinks it to at most 4 steps, which replay: failing on the
/// defect, passing on the control.
fn finds_and_shrinks(defect: Defect) {
    let planted = Target::DefectiveSimulator(Defects::of(&[defect]));
    let result = generate(planted, STEPS, SEED);
    let finding = result.finding.as_ref().unwrap_or_else(|| {
        panic!(
            "{defect}: not found in {} steps (seed {SEED})",
            result.steps
        )
    });
    assert!(
        finding.steps.len() <= 4,
        "{defect}: shrunk to {} steps: {:#?}\n{}",
        finding.steps.len(),
        finding.steps,
        finding.divergence.describe()
    );
    let saved = Replay::new(
        Some(SEED),
        result.registrations.len(),
        finding.steps.clone(),
    );
    let again = replay(
        Target::DefectiveSimulator(Defects::of(&[defect])),
        saved.clone(),
    );
    assert!(again.finding.is_some(), "{defect}: the replay fails again");
    let control = replay(Target::Simulator, saved);
    assert!(
        control.passed(),
        "{defect}: the replay passes on the control"
    );
}

#[test]
fn the_control_finds_nothing_in_2000_generated_steps() {
    let result = generate(Target::Simulator, 2000, SEED);
    assert!(result.passed(), "{:?}", result.finding);
    assert!(result.steps >= 2000 && result.sequences > 200, "{result:?}");
    assert!(result.choices.is_empty(), "{:?}", result.choices);
}

#[test]
fn finds_set_primary_clearing_an_unrelated_device() {
    finds_and_shrinks(Defect::PrimaryClearsUnrelated);
}

#[test]
fn finds_keep_as_lead_ignored_after_a_depersonalize() {
    finds_and_shrinks(Defect::KeepAsLeadIgnoredAfterDepersonalize);
}

#[test]
fn finds_is_primary_not_stored() {
    finds_and_shrinks(Defect::IsPrimaryNotStored);
}

#[test]
fn finds_a_second_primary_device() {
    finds_and_shrinks(Defect::SecondPrimary);
}

#[test]
fn finds_no_merge() {
    finds_and_shrinks(Defect::NoMerge);
}

#[test]
fn finds_depersonalize_without_effect() {
    finds_and_shrinks(Defect::DepersonalizeNoEffect);
}

#[test]
fn finds_impossible_dates_accepted() {
    finds_and_shrinks(Defect::DateCalendar);
}

#[test]
fn finds_force_depersonalize_ignored() {
    finds_and_shrinks(Defect::ForceTrueIgnored);
}

#[test]
fn the_cli_prints_the_finding_saves_it_and_replays_it() {
    let dir = TempDir::new("generate-cli");
    let file = dir.path().join("replay.json");
    let file = file.to_str().expect("utf-8 path");
    // `contract` has no --defect: the CLI's control passes, and a replay of a failing
    // sequence saved by the library fails against nothing but a defect, so the CLI is shown
    // the control's way and the replay's file format here.
    let run = run_cli(&[
        "contract",
        "--generate",
        "200",
        "--seed",
        "7",
        "--save-replay",
        file,
    ]);
    assert_eq!(
        run.exit,
        pushcheck::cli::Exit::Passed,
        "{}{}",
        run.stdout,
        run.stderr
    );
    assert!(
        run.stdout.contains("seed 7 (rerun with --seed 7)"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("generated cases/s"), "{}", run.stdout);
    let planted = Target::DefectiveSimulator(Defects::of(&[Defect::IsPrimaryNotStored]));
    let result = generate(planted, STEPS, SEED);
    let text = pushcheck::report::generate::replay_file(&result)
        .expect("a finding")
        .expect("rendered");
    std::fs::write(file, &text).expect("write the replay");
    let rerun = run_cli(&["contract", "--replay", file]);
    assert_eq!(
        rerun.exit,
        pushcheck::cli::Exit::Passed,
        "the control passes the replay: {}",
        rerun.stdout
    );
    assert!(rerun.stdout.contains("replayed"), "{}", rerun.stdout);
    let mut human = Vec::new();
    pushcheck::report::generate::human(&mut human, &result, None, Default::default())
        .expect("render");
    let human = String::from_utf8(human).expect("utf-8");
    assert!(human.contains("curl -sS -X PATCH"), "{human}");
    assert!(human.contains("Authorization: App [redacted]"), "{human}");
    assert!(!human.contains("pushcheck-local-key"), "{human}");
    assert!(human.contains("FAILED"), "{human}");
}

/// Prints each defect's shrunk sequence (`cargo test --test integration generate::show -- --ignored --nocapture`).
#[test]
#[ignore]
fn show_shrunk_sequences() {
    for defect in [
        Defect::PrimaryClearsUnrelated,
        Defect::KeepAsLeadIgnoredAfterDepersonalize,
        Defect::IsPrimaryNotStored,
        Defect::SecondPrimary,
        Defect::NoMerge,
    ] {
        let result = generate(
            Target::DefectiveSimulator(Defects::of(&[defect])),
            STEPS,
            SEED,
        );
        let mut out = Vec::new();
        pushcheck::report::generate::human(&mut out, &result, None, Default::default()).unwrap();
        println!("== {defect}\n{}", String::from_utf8_lossy(&out));
    }
}

/// A running simulator seen as a live target (its own seed, so its IDs and devices differ from
/// the model's), with the local API key.
struct Live {
    runtime: tokio::runtime::Runtime,
    sim: pushcheck::mock::RunningSimulator,
    ids: Vec<String>,
}

fn live_simulator(defects: Defects) -> Live {
    let runtime = crate::util::server_runtime();
    let sim = runtime.block_on(crate::util::start_simulator(
        pushcheck::mock::SimulatorConfig {
            seed: 99,
            seed_registrations: 6,
            defects,
            ..pushcheck::mock::SimulatorConfig::default()
        },
    ));
    let ids: Vec<String> = sim
        .registrations(1, 3)
        .1
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    // Test devices with an attribute each: a device without any cannot be put back exactly
    // (the API deletes attributes, not the additionalData object; the restore says so).
    let client = crate::util::simulator_client(&sim);
    runtime.block_on(async {
        for id in &ids {
            let patch = Call::new(Operation::Patch, id.clone())
                .json(serde_json::json!({"additionalData": {"device": "test"}}));
            assert_eq!(client.send(&patch).await.expect("patch").status, 200);
        }
    });
    Live { runtime, sim, ids }
}

fn live_config(live: &Live, steps: usize) -> GenerateConfig {
    use pushcheck::api::auth::{Credentials, Secret};
    let target = Target::Live {
        base_url: live.sim.base_url().to_owned(),
        registration_ids: live.ids.clone(),
        allow_writes: true,
    };
    GenerateConfig {
        credentials: vec![Credentials::ApiKey(Secret::new(
            pushcheck::mock::config::LOCAL_API_KEY,
        ))],
        app_code: Some(pushcheck::mock::config::DOC_APP_CODE.to_owned()),
        max_rps: Some(400),
        ..GenerateConfig::new(target, Work::Generate { steps, seed: SEED })
    }
}

#[test]
fn a_live_target_agrees_with_the_model_is_paced_and_restored() {
    let live = live_simulator(Defects::none());
    let client = crate::util::simulator_client(&live.sim);
    // A device with an attribute and a primary flag of its own, to be found again afterwards.
    let patch = Call::new(Operation::Patch, live.ids[0].clone())
        .json(serde_json::json!({"isPrimary": true, "additionalData": {"owner": "qa"}}));
    let before = live.runtime.block_on(async {
        assert_eq!(client.send(&patch).await.unwrap().status, 200);
        client
            .send(&Call::new(Operation::Get, live.ids[0].clone()))
            .await
            .unwrap()
            .body
    });
    let result = live
        .runtime
        .block_on(run(live_config(&live, 120)))
        .expect("runs");
    assert!(
        result.passed(),
        "{:?}\n{:?}",
        result.finding,
        result.left_on_devices
    );
    assert!(result.choices.is_empty(), "{:?}", result.choices);
    assert!(result.steps >= 120, "{result:?}");
    let rate = result.requests as f64 / result.elapsed.as_secs_f64();
    assert!(rate <= 440.0, "paced at --max-rps 400: {rate:.0}/s");
    let after = live.runtime.block_on(async {
        client
            .send(&Call::new(Operation::Get, live.ids[0].clone()))
            .await
            .unwrap()
            .body
    });
    let (before, after): (serde_json::Value, serde_json::Value) = (
        serde_json::from_slice(&before).unwrap(),
        serde_json::from_slice(&after).unwrap(),
    );
    assert_eq!(after, before, "the device is as the run found it");
    assert!(live.sim.invariants().is_empty());
}

#[test]
fn on_a_live_target_a_divergence_a_simulator_choice_explains_is_not_a_failure() {
    // The target refuses unknown PATCH fields, which the simulator's choice
    // patch.read_only_fields_ignored ignores: the docs leave it open.
    let live = live_simulator(Defects::of(&[Defect::ReadOnlyRefused]));
    let result = live
        .runtime
        .block_on(run(live_config(&live, 400)))
        .expect("runs");
    assert!(result.passed(), "{:?}", result.finding);
    let choices: Vec<&str> = result.choices.iter().map(|c| c.choice).collect();
    assert!(
        choices.contains(&"patch.read_only_fields_ignored"),
        "{choices:?}"
    );
}

#[test]
fn a_live_device_of_a_person_from_before_the_run_stops_it() {
    let live = live_simulator(Defects::none());
    let client = crate::util::simulator_client(&live.sim);
    let bind = Call::new(Operation::Personalize, live.ids[1].clone())
        .json(serde_json::json!({"identity": {"externalId": "a-real-customer"}}));
    live.runtime
        .block_on(async { assert_eq!(client.send(&bind).await.unwrap().status, 200) });
    let err = live
        .runtime
        .block_on(run(live_config(&live, 10)))
        .unwrap_err();
    assert!(err.is_configuration(), "{err}");
    assert!(err.to_string().contains(&live.ids[1]), "{err}");
}

#[test]
fn a_live_target_needs_allow_writes() {
    let live = live_simulator(Defects::none());
    let url = live.sim.base_url().to_owned();
    let run = run_cli(&[
        "contract",
        "--generate",
        "10",
        "--target",
        &url,
        "--registration-id",
        &live.ids[0],
        "--api-key",
        pushcheck::mock::config::LOCAL_API_KEY,
    ]);
    assert_eq!(
        run.exit,
        pushcheck::cli::Exit::Usage,
        "{}{}",
        run.stdout,
        run.stderr
    );
    assert!(run.stderr.contains("--allow-writes"), "{}", run.stderr);
}

#[test]
fn on_a_live_target_a_broken_documented_rule_is_a_failure_and_the_devices_are_restored() {
    let live = live_simulator(Defects::of(&[Defect::NoMerge]));
    let result = live
        .runtime
        .block_on(run(live_config(&live, 400)))
        .expect("runs");
    let finding = result
        .finding
        .as_ref()
        .expect("no merge is found on a live target");
    assert!(finding.divergence.choice.is_none());
    let shrinking = finding.shrinking.as_ref().expect("shrunk");
    assert!(shrinking.requests <= pushcheck::contract::generate::LIVE_SHRINK_BUDGET);
    assert!(
        result.left_on_devices.is_empty(),
        "{:?}",
        result.left_on_devices
    );
    assert!(!result.passed());
}

#[test]
fn each_answer_is_judged_alone_like_a_hand_written_case() {
    // Registration bodies without their required applicationId: the judge's schema check
    // names it before any comparison with the model.
    let planted = Target::DefectiveSimulator(Defects::of(&[Defect::ApplicationIdMissing]));
    let result = generate(planted, STEPS, SEED);
    let finding = result.finding.expect("found");
    assert_eq!(
        finding.divergence.at,
        pushcheck::contract::generate::Where::Contract
    );
    assert!(
        finding.divergence.got.contains("applicationId"),
        "{:?}",
        finding.divergence
    );
    assert!(finding.steps.len() <= 2, "{:?}", finding.steps);
}

#[test]
fn bad_replay_files_and_suite_report_flags_are_usage_errors() {
    let dir = TempDir::new("generate-usage");
    let missing = dir.path().join("missing.json");
    let missing = missing.to_str().expect("utf-8 path");
    let not_json = dir.write("not.json", "steps: 1");
    let wide = dir.write(
        "wide.json",
        r#"{"format":1,"registrations":1,"steps":[{"op":"get","reg":2}]}"#,
    );
    // A usage error still writes the report asked for (why the run could not judge): into the
    // test's own directory, never the working tree.
    let report = dir.path().join("x.json");
    let report = report.to_str().expect("utf-8 path");
    for args in [
        vec!["contract", "--replay", missing],
        vec!["contract", "--replay", &not_json],
        vec!["contract", "--replay", &wide],
        vec!["contract", "--generate", "5", "--report-json", report],
        vec!["contract", "--generate", "5", "--filter", "patch.*"],
    ] {
        let run = run_cli(&args);
        assert_eq!(
            run.exit,
            pushcheck::cli::Exit::Usage,
            "{args:?}: {}",
            run.stderr
        );
    }
    let run = run_cli(&["contract", "--replay", &wide]);
    assert!(run.stderr.contains("step 1 addresses r2"), "{}", run.stderr);
}

/// Planted defects the generator cannot reach by design, and why: it sends the simulator's own
/// credentials and AppCode to known registrations, as `application/json` (the hand-written
/// suite covers all of these).
const OUT_OF_SCOPE: &[(&str, &str)] = &[
    ("auth.not_checked", "credentials are never varied"),
    ("auth.basic_refused", "one scheme is sent"),
    ("auth.ibsso_refused", "one scheme is sent"),
    ("auth.bearer_refused", "one scheme is sent"),
    ("appcode.not_checked", "the AppCode is never varied"),
    (
        "registration.other_application_visible",
        "one application's registrations only",
    ),
    (
        "errors.unknown_id_404",
        "only known registrations are addressed",
    ),
    (
        "errors.push_shape",
        "48001/48012/48013 need a wrong AppCode or an unknown ID",
    ),
    (
        "request.content_type_not_checked",
        "every body is sent as application/json",
    ),
];

/// Every other planted defect is found with the fixed seed and shrunk to at most 4 steps.
#[test]
fn finds_every_planted_defect_in_its_scope() {
    let mut missed = Vec::new();
    for defect in Defect::all() {
        let name = defect.to_string();
        if OUT_OF_SCOPE.iter().any(|(d, _)| *d == name) {
            continue;
        }
        let planted = Target::DefectiveSimulator(Defects::of(&[defect]));
        let result = generate(planted, STEPS, SEED);
        match &result.finding {
            Some(f) if f.steps.len() <= 4 => {}
            Some(f) => missed.push(format!("{name}: shrunk to {} steps only", f.steps.len())),
            None => missed.push(format!("{name}: not found in {} steps", result.steps)),
        }
    }
    assert!(missed.is_empty(), "{missed:#?}");
    // The list names real defects, so a renamed one cannot slip out of the test.
    for (d, _) in OUT_OF_SCOPE {
        assert!(
            Defect::all().any(|x| x.to_string() == *d),
            "{d} is no defect"
        );
    }
}
