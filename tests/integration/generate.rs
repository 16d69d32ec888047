//! Generated, stateful, differential contract testing (`pushcheck contract --generate`): the
//! control (the simulator against its own rules) finds nothing; each planted defect below is
//! found with a fixed seed and shrunk to at most 4 steps; the saved sequence replays (it fails
//! on the defect, passes on the control); the CLI prints the seed, the steps, curl commands
//! without the credential, and exits 1.

use pushcheck::contract::Target;
use pushcheck::contract::generate::step::Replay;
use pushcheck::contract::generate::{GenerateConfig, GenerateResult, Work, run};
use pushcheck::mock::{Defect, Defects};

use crate::util::{TempDir, run_cli};

/// Planted defects no hand-written case catches and the test here that finds each (the kill
/// matrix, `kill.rs`, checks its rows against this list).
pub const FOUND_BY_GENERATOR: &[(&str, &str)] = &[
    (
        "personalize.set_primary_clears_unrelated",
        "generate::finds_set_primary_clearing_an_unrelated_device",
    ),
    (
        "personalize.keep_as_lead_ignored_after_depersonalize",
        "generate::finds_keep_as_lead_ignored_after_a_depersonalize",
    ),
];

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
