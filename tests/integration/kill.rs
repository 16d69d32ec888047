//! The kill matrix: the contract suite, in-process, against the simulator started with each
//! planted defect (`pushcheck::mock::DEFECTS`). A check that has never been seen failing is a
//! hope: here every case is seen failing on some defect, and each defect is caught by exactly
//! the cases written down below, by hand, from what each case checks and what each defect
//! breaks (never recorded from a run). The control (no defect) passes every case.
//!
//! The observed matrix is written to `docs/kill-matrix.md`; the test fails when that file is out
//! of date (`PUSHCHECK_BLESS=1 cargo test --test integration kill` rewrites it).

use std::collections::{BTreeMap, BTreeSet};

use pushcheck::contract::{self, Status, SuiteConfig, Target};
use pushcheck::mock::{DEFECTS, Defect, Defects};

use crate::util::project_path;

/// The cases a defect must make fail.
enum Killed {
    Only(&'static [&'static str]),
    /// The cases of these lists together.
    Union(&'static [&'static [&'static str]]),
    /// Every case but these (a defect that breaks the suite's own credential).
    AllBut(&'static [&'static str]),
    /// No hand-written case: a defect only a sequence shows, found by `contract --generate`
    /// in the named test of `generate.rs` (which must exist: see [`GENERATOR_TESTS`]).
    ByGenerator(&'static str),
}
use Killed::{AllBut, ByGenerator, Only, Union};

/// The tests of `generate.rs` that find a defect, by the defect's name.
const GENERATOR_TESTS: &[(&str, &str)] = crate::generate::FOUND_BY_GENERATOR;

/// Registration bodies read by `Ctx::ok`: GET, PATCH, and personalize with returnPush.
const READS_REGISTRATIONS: &[&str] = &[
    "auth.scheme.basic",
    "auth.scheme.app",
    "auth.scheme.ibsso",
    "auth.scheme.bearer",
    "get.existing",
    "patch.registration_enabled",
    "patch.additional_data",
    "patch.is_primary",
    "patch.is_primary_stored",
    "patch.custom_attribute.name_256_chars",
    "patch.custom_attribute.string_4096_chars",
    "patch.custom_attribute.number_max",
    "patch.custom_attribute.date_valid",
    "patch.doc_example",
    "patch.read_only_ignored",
    "personalize.same_phone_two_devices",
    "personalize.return_push",
    "personalize.set_device_as_primary",
    "depersonalize.then_get",
    "personalize.set_device_as_primary_leaves_other_persons",
    "patch.read_only_not_stored",
    "patch.doc_typo_ignored",
];

/// The negative cases generated from the request schemas (`contract::cases::invalid`): each
/// expects every bad value refused with a 4xx and a documented error body.
const INVALID_PATCH: &[&str] = &[
    "patch.invalid.body",
    "patch.invalid.is_primary",
    "patch.invalid.system_data",
    "patch.invalid.registration_enabled",
    "patch.invalid.additional_data",
];

/// The negative personalize cases whose bad values a server that validates nothing accepts
/// (beside the run's valid fresh identity); a body or identity without any usable identifier
/// is still refused there (`USER_IDENTITY_INVALID`).
const INVALID_PERSONALIZE_FIELDS: &[&str] = &[
    "personalize.invalid.external_id",
    "personalize.invalid.phone_number",
    "personalize.invalid.email",
    "personalize.invalid.attributes",
    "personalize.invalid.first_name",
    "personalize.invalid.last_name",
    "personalize.invalid.middle_name",
    "personalize.invalid.birthday",
    "personalize.invalid.gender",
    "personalize.invalid.tags",
    "personalize.invalid.custom_attributes",
];

/// Every negative personalize case.
const INVALID_PERSONALIZE: &[&str] = &[
    "personalize.invalid.body",
    "personalize.invalid.identity",
    "personalize.invalid.external_id",
    "personalize.invalid.phone_number",
    "personalize.invalid.email",
    "personalize.invalid.attributes",
    "personalize.invalid.first_name",
    "personalize.invalid.last_name",
    "personalize.invalid.middle_name",
    "personalize.invalid.birthday",
    "personalize.invalid.gender",
    "personalize.invalid.tags",
    "personalize.invalid.custom_attributes",
];

/// The negative cases of both maps of custom attributes: each also sends an attribute past
/// every limit (name, string, number, date), beside its own limit's case.
const INVALID_MAPS: &[&str] = &[
    "patch.invalid.additional_data",
    "personalize.invalid.custom_attributes",
];

/// Cases a defect leaves without their precondition, which they say by skipping: the defect,
/// and the case. keepAsLead ignored from the start looks, through this API, like a correct
/// target whose new persons start as CUSTOMER.
const SKIPPED: &[(&str, &str)] = &[(
    "personalize.keep_as_lead_ignored",
    "personalize.keep_as_lead_keeps_a_lead",
)];

/// Cases expecting a push-shaped error (48001, 48012, 48013).
const PUSH_ERRORS: &[&str] = &[
    "appcode.missing",
    "appcode.unknown",
    "get.unknown_id",
    "get.other_application",
    "patch.unknown_id",
    "personalize.unknown_id",
    "depersonalize.unknown_id",
];

/// The hand-written expectations, one row per defect of the catalogue.
const EXPECTED: &[(&str, Killed)] = &[
    (
        "auth.not_checked",
        Only(&["auth.missing", "auth.wrong_key"]),
    ),
    ("auth.basic_refused", Only(&["auth.scheme.basic"])),
    // The suite sends the App key on every other request.
    (
        "auth.app_refused",
        AllBut(&[
            "auth.missing",
            "auth.wrong_key",
            "auth.scheme.basic",
            "auth.scheme.ibsso",
            "auth.scheme.bearer",
            // A 401 is a refusal: the cases that expect any 4xx pass.
            "patch.text_plain_refused_or_applied",
            "patch.invalid.body",
            "patch.invalid.is_primary",
            "patch.invalid.system_data",
            "patch.invalid.registration_enabled",
            "patch.invalid.additional_data",
            "personalize.invalid.body",
            "personalize.invalid.identity",
            "personalize.invalid.external_id",
            "personalize.invalid.phone_number",
            "personalize.invalid.email",
            "personalize.invalid.attributes",
            "personalize.invalid.first_name",
            "personalize.invalid.last_name",
            "personalize.invalid.middle_name",
            "personalize.invalid.birthday",
            "personalize.invalid.gender",
            "personalize.invalid.tags",
            "personalize.invalid.custom_attributes",
        ]),
    ),
    ("auth.ibsso_refused", Only(&["auth.scheme.ibsso"])),
    ("auth.bearer_refused", Only(&["auth.scheme.bearer"])),
    (
        "appcode.not_checked",
        Only(&["appcode.missing", "appcode.unknown"]),
    ),
    (
        "registration.other_application_visible",
        Only(&["get.other_application"]),
    ),
    (
        "errors.unknown_id_404",
        Only(&[
            "get.unknown_id",
            "get.other_application",
            "patch.unknown_id",
            "personalize.unknown_id",
            "depersonalize.unknown_id",
        ]),
    ),
    ("errors.push_shape", Only(PUSH_ERRORS)),
    (
        "errors.legacy_shape",
        Union(&[
            INVALID_PATCH,
            INVALID_PERSONALIZE,
            &[
                "auth.missing",
                "auth.wrong_key",
                "patch.custom_attribute.name_257_chars",
                "patch.custom_attribute.string_4097_chars",
                "patch.custom_attribute.number_max_plus_one",
                "patch.custom_attribute.date_invalid",
                "patch.malformed_json",
                "patch.wrong_content_type",
                "personalize.conflict_without_force",
                "personalize.ambiguous",
                "personalize.missing_identity",
                "personalize.other_person_refused_without_force",
                "patch.text_plain_refused_or_applied",
            ],
        ]),
    ),
    (
        "response.content_type",
        Only(&[
            "auth.scheme.basic",
            "auth.scheme.app",
            "auth.scheme.ibsso",
            "auth.scheme.bearer",
            "get.existing",
            "patch.registration_enabled",
            "patch.additional_data",
            "patch.is_primary",
            "patch.custom_attribute.name_256_chars",
            "patch.custom_attribute.string_4096_chars",
            "patch.custom_attribute.number_max",
            "patch.custom_attribute.date_valid",
            "patch.doc_example",
            "patch.read_only_ignored",
            "personalize.new_person",
            "personalize.doc_example",
            "personalize.attributes",
            "personalize.external_id_null_string",
            "personalize.same_phone_two_devices",
            "personalize.return_push",
            "personalize.conflict_without_force",
            "personalize.force_depersonalize",
            "personalize.ambiguous",
            "personalize.set_device_as_primary",
            "personalize.keep_as_lead",
            "depersonalize.then_get",
            "depersonalize.then_personalize",
            "patch.is_primary_stored",
            "personalize.other_person_refused_without_force",
            "personalize.set_device_as_primary_leaves_other_persons",
            "personalize.keep_as_lead_keeps_a_lead",
            "patch.read_only_not_stored",
            "patch.doc_typo_ignored",
        ]),
    ),
    ("response.application_id_missing", Only(READS_REGISTRATIONS)),
    ("response.application_id_other", Only(READS_REGISTRATIONS)),
    (
        "response.phone_number_not_string",
        Only(&[
            "personalize.new_person",
            "personalize.doc_example",
            "personalize.external_id_null_string",
            "personalize.same_phone_two_devices",
            "personalize.return_push",
            "personalize.conflict_without_force",
            "personalize.force_depersonalize",
            "personalize.ambiguous",
            "personalize.set_device_as_primary",
            "personalize.keep_as_lead",
            "depersonalize.then_get",
            "depersonalize.then_personalize",
            "patch.is_primary_stored",
            "personalize.other_person_refused_without_force",
            "personalize.set_device_as_primary_leaves_other_persons",
            "personalize.keep_as_lead_keeps_a_lead",
        ]),
    ),
    (
        "get.wrong_registration_id",
        Only(&["get.existing", "depersonalize.then_get"]),
    ),
    (
        "request.malformed_json_accepted",
        Only(&["patch.malformed_json"]),
    ),
    (
        "request.content_type_not_checked",
        Only(&["patch.wrong_content_type"]),
    ),
    (
        "limit.attribute_name_length",
        Union(&[&["patch.custom_attribute.name_257_chars"], INVALID_MAPS]),
    ),
    (
        "limit.string_value_length",
        Union(&[&["patch.custom_attribute.string_4097_chars"], INVALID_MAPS]),
    ),
    (
        "limit.number_range",
        Union(&[
            &["patch.custom_attribute.number_max_plus_one"],
            INVALID_MAPS,
        ]),
    ),
    (
        "limit.date_calendar",
        Union(&[&["patch.custom_attribute.date_invalid"], INVALID_MAPS]),
    ),
    (
        "patch.read_only_refused",
        Only(&[
            "patch.doc_example",
            "patch.read_only_ignored",
            "patch.doc_typo_ignored",
        ]),
    ),
    (
        "patch.read_only_written",
        Only(&["patch.read_only_ignored", "patch.read_only_not_stored"]),
    ),
    (
        "patch.answer_stale",
        Only(&[
            "patch.registration_enabled",
            "patch.additional_data",
            "patch.is_primary",
            "patch.custom_attribute.name_256_chars",
            "patch.custom_attribute.string_4096_chars",
            "patch.custom_attribute.number_max",
            "patch.custom_attribute.date_valid",
            "patch.doc_example",
            "patch.is_primary_stored",
            "patch.doc_typo_ignored",
        ]),
    ),
    (
        "patch.is_primary_not_stored",
        Only(&["patch.is_primary", "patch.is_primary_stored"]),
    ),
    (
        "patch.registration_enabled_not_stored",
        Only(&["patch.registration_enabled"]),
    ),
    (
        "patch.additional_data_not_stored",
        Only(&[
            "patch.additional_data",
            "patch.custom_attribute.name_256_chars",
            "patch.custom_attribute.string_4096_chars",
            "patch.custom_attribute.number_max",
            "patch.custom_attribute.date_valid",
        ]),
    ),
    (
        "personalize.identity_not_required",
        // `{}` is one of the bad bodies: it has no identity.
        Only(&[
            "personalize.missing_identity",
            "personalize.invalid.body",
            "personalize.invalid.identity",
        ]),
    ),
    (
        "personalize.accepts_any_identity",
        Only(INVALID_PERSONALIZE_FIELDS),
    ),
    (
        "personalize.null_external_id_stored",
        Only(&["personalize.external_id_null_string"]),
    ),
    (
        "personalize.force_true_ignored",
        Only(&["personalize.force_depersonalize"]),
    ),
    (
        "personalize.force_false_ignored",
        Only(&[
            "personalize.conflict_without_force",
            "personalize.other_person_refused_without_force",
        ]),
    ),
    (
        "personalize.keep_as_lead_ignored",
        Only(&["personalize.keep_as_lead"]),
    ),
    (
        "personalize.return_push_ignored",
        Only(&[
            "personalize.same_phone_two_devices",
            "personalize.return_push",
        ]),
    ),
    (
        "personalize.set_primary_ignored",
        Only(&[
            "personalize.set_device_as_primary",
            "personalize.set_device_as_primary_leaves_other_persons",
        ]),
    ),
    (
        "personalize.second_primary",
        Only(&["personalize.set_device_as_primary"]),
    ),
    (
        "personalize.set_primary_clears_unrelated",
        Only(&["personalize.set_device_as_primary_leaves_other_persons"]),
    ),
    (
        "personalize.keep_as_lead_ignored_after_depersonalize",
        ByGenerator("generate::finds_keep_as_lead_ignored_after_a_depersonalize"),
    ),
    (
        "personalize.keep_as_lead_ignored_on_match",
        Only(&["personalize.keep_as_lead_keeps_a_lead"]),
    ),
    (
        "personalize.no_merge",
        Only(&[
            "personalize.same_phone_two_devices",
            "personalize.ambiguous",
            "personalize.set_device_as_primary",
            "personalize.other_person_refused_without_force",
            "personalize.keep_as_lead_keeps_a_lead",
        ]),
    ),
    (
        "personalize.attributes_ignored",
        Only(&["personalize.doc_example", "personalize.attributes"]),
    ),
    (
        "personalize.answers_other_person",
        Only(&[
            "personalize.new_person",
            "personalize.doc_example",
            "personalize.attributes",
            "personalize.external_id_null_string",
            "personalize.force_depersonalize",
            "personalize.other_person_refused_without_force",
        ]),
    ),
    (
        "personalize.answers_empty",
        // The personalize-response schema requires contactInformation: every case with a
        // successful personalize (as its subject or in its set-up) validates that answer.
        Only(&[
            "personalize.new_person",
            "personalize.doc_example",
            "personalize.attributes",
            "personalize.external_id_null_string",
            "personalize.same_phone_two_devices",
            "personalize.return_push",
            "personalize.conflict_without_force",
            "personalize.force_depersonalize",
            "personalize.ambiguous",
            "personalize.set_device_as_primary",
            "personalize.keep_as_lead",
            "depersonalize.then_get",
            "depersonalize.then_personalize",
            "patch.is_primary_stored",
            "personalize.other_person_refused_without_force",
            "personalize.set_device_as_primary_leaves_other_persons",
            "personalize.keep_as_lead_keeps_a_lead",
        ]),
    ),
    (
        "depersonalize.no_effect",
        Only(&["depersonalize.then_personalize"]),
    ),
    (
        "depersonalize.deletes_registration",
        Only(&["depersonalize.then_get", "depersonalize.then_personalize"]),
    ),
    (
        "depersonalize.non_empty_body",
        Only(&[
            "depersonalize.then_get",
            "depersonalize.then_personalize",
            "depersonalize.unpersonalized",
        ]),
    ),
];

/// What one run showed: the cases that failed, and any that did not run.
#[derive(Debug, Default)]
struct Outcome {
    failed: BTreeSet<&'static str>,
    skipped: BTreeSet<&'static str>,
    passed: usize,
}

async fn run_suite(defects: Defects) -> Outcome {
    let config = SuiteConfig {
        target: Target::DefectiveSimulator(defects),
        ..SuiteConfig::default()
    };
    let result = contract::run(config)
        .await
        .unwrap_or_else(|e| panic!("the suite runs against {defects:?}: {e}"));
    let mut outcome = Outcome::default();
    for case in &result.cases {
        match case.status {
            Status::Failed => {
                outcome.failed.insert(case.name);
            }
            Status::Skipped => {
                outcome.skipped.insert(case.name);
            }
            Status::Passed => outcome.passed += 1,
        }
    }
    outcome
}

/// Threads running suites side by side (the runner's future is not `Send`, so each thread has
/// its own runtime and takes the next defect when it is done).
const WORKERS: usize = 4;

/// The control and one run per defect, in catalogue order.
fn run_all() -> (Outcome, Vec<(Defect, Outcome)>) {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let jobs: Vec<Option<Defect>> = std::iter::once(None)
        .chain(Defect::all().map(Some))
        .collect();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Outcome)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..WORKERS {
            scope.spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = jobs.get(i) else { break };
                    let defects = job.map_or(Defects::none(), |d| Defects::of(&[d]));
                    let outcome = runtime.block_on(run_suite(defects));
                    results.lock().expect("results").push((i, outcome));
                }
            });
        }
    });
    let mut results = results.into_inner().expect("results");
    results.sort_by_key(|(i, _)| *i);
    let mut outcomes = results.into_iter().map(|(_, o)| o);
    let control = outcomes.next().expect("the control ran");
    (control, Defect::all().zip(outcomes).collect())
}

fn expected_failures(killed: &Killed, all: &[&'static str]) -> BTreeSet<&'static str> {
    match killed {
        Only(names) => names.iter().copied().collect(),
        Union(lists) => lists.iter().flat_map(|l| l.iter().copied()).collect(),
        ByGenerator(_) => BTreeSet::new(),
        AllBut(spared) => all
            .iter()
            .copied()
            .filter(|n| !spared.contains(n))
            .collect(),
    }
}

#[test]
fn every_case_is_killed_and_each_defect_by_exactly_the_expected_cases() {
    let all: Vec<&'static str> = contract::cases::all().iter().map(|c| c.name).collect();
    assert!(all.len() >= 44, "the suite has its cases: {}", all.len());
    let mut problems = Vec::new();
    // The table names every defect of the catalogue, once, and only real cases.
    let rows: Vec<&str> = EXPECTED.iter().map(|(name, _)| *name).collect();
    let catalogue: Vec<&str> = DEFECTS.iter().map(|d| d.name).collect();
    assert_eq!(
        rows, catalogue,
        "EXPECTED has one row per defect, in catalogue order"
    );
    for (defect, killed) in EXPECTED {
        let names: Vec<&str> = match killed {
            Only(names) | AllBut(names) => names.to_vec(),
            Union(lists) => lists.concat(),
            ByGenerator(test) => {
                if !GENERATOR_TESTS.contains(&(*defect, *test)) {
                    problems.push(format!("{defect}: no generator test {test} finds it"));
                }
                Vec::new()
            }
        };
        for name in &names {
            if !all.contains(name) {
                problems.push(format!("{defect}: the table names an unknown case {name}"));
            }
        }
    }

    let started = std::time::Instant::now();
    let (control, observed) = run_all();
    let elapsed = started.elapsed();

    // The control: every case ran and passed.
    assert!(
        control.failed.is_empty() && control.skipped.is_empty() && control.passed == all.len(),
        "the control (no defect) must pass all {} cases: {control:?}",
        all.len()
    );

    let mut killed_by: BTreeMap<&str, Vec<&str>> = all.iter().map(|n| (*n, Vec::new())).collect();
    for ((defect, outcome), (_, killed)) in observed.iter().zip(EXPECTED) {
        let expected = expected_failures(killed, &all);
        let may_skip: BTreeSet<&str> = SKIPPED
            .iter()
            .filter(|(d, _)| *d == defect.name())
            .map(|(_, c)| *c)
            .collect();
        if outcome.skipped != may_skip {
            problems.push(format!(
                "{defect}: cases skipped: {:?}, expected {may_skip:?}",
                outcome.skipped
            ));
        }
        if outcome.failed != expected {
            let missed: Vec<_> = expected.difference(&outcome.failed).collect();
            let extra: Vec<_> = outcome.failed.difference(&expected).collect();
            problems.push(format!(
                "{defect}:\n    expected to fail but passed: {missed:?}\n    failed unexpectedly:         {extra:?}"
            ));
        }
        for case in &outcome.failed {
            killed_by.entry(case).or_default().push(defect.name());
        }
    }
    for (case, defects) in &killed_by {
        if defects.is_empty() {
            problems.push(format!("{case} is killed by no defect"));
        }
    }
    assert!(
        problems.is_empty(),
        "the kill matrix differs from the hand-written expectations:\n  {}",
        problems.join("\n  ")
    );
    // Simulators start in milliseconds; the whole matrix stays fast.
    assert!(elapsed < std::time::Duration::from_secs(60), "{elapsed:?}");
    check_generated(&render(&all, &observed));
}

/// `docs/kill-matrix.md` from an observed run.
fn render(all: &[&str], observed: &[(Defect, Outcome)]) -> String {
    let mut out = String::from(
        "# The kill matrix\n\n\
         Generated by `cargo test --test integration kill` (`PUSHCHECK_BLESS=1` rewrites it); do not edit.\n\n\
         Each row is the contract suite run against the embedded simulator with one planted defect\n\
         (`pushcheck mock --defect NAME`; the catalogue is in the README). The test asserts that exactly the\n\
         cases listed here fail (the expectations are written by hand in `tests/integration/kill.rs`),\n\
         that the control passes every case, and that every case fails on at least one defect. A defect\n\
         no hand-written case catches (one only a sequence of requests shows) is found by `pushcheck contract\n\
         --generate` in the named test of `tests/integration/generate.rs`, with a fixed seed, shrunk to at most 4 steps.\n\n\
         | defect | what it breaks | cases that caught it |\n|---|---|---|\n",
    );
    out.push_str(&format!(
        "| *(none: the control)* | nothing | none: all {} cases passed |\n",
        all.len()
    ));
    for (defect, outcome) in observed {
        let info = defect.info();
        let by_generator = EXPECTED.iter().find_map(|(name, k)| match k {
            ByGenerator(test) if *name == info.name => Some(*test),
            _ => None,
        });
        let cases: Vec<String> = if let (Some(test), true) =
            (by_generator, outcome.failed.is_empty())
        {
            vec![format!(
                "none of the hand-written cases; `pushcheck contract --generate` finds it (test `{test}`)"
            )]
        } else if outcome.failed.len() > all.len() / 2 {
            let spared: Vec<String> = all
                .iter()
                .filter(|c| !outcome.failed.contains(*c))
                .map(|c| format!("`{c}`"))
                .collect();
            vec![format!(
                "every case but {} ({} cases)",
                spared.join(", "),
                outcome.failed.len()
            )]
        } else {
            outcome.failed.iter().map(|c| format!("`{c}`")).collect()
        };
        let mut cases = cases.join(", ");
        if !outcome.skipped.is_empty() {
            let skipped: Vec<String> = outcome.skipped.iter().map(|c| format!("`{c}`")).collect();
            cases.push_str(&format!("; skipped, saying why: {}", skipped.join(", ")));
        }
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            info.name,
            info.breaks.replace('|', "\\|"),
            cases
        ));
    }
    out
}

fn check_generated(text: &str) {
    check_generated_at("docs/kill-matrix.md", text);
}

/// `file` must hold `text` (`PUSHCHECK_BLESS=1` rewrites it).
fn check_generated_at(file: &str, text: &str) {
    let path = project_path(file);
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    if current == text {
        return;
    }
    if std::env::var_os("PUSHCHECK_BLESS").is_some() {
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("rewrite {file}: {e}"));
    } else {
        panic!(
            "{file} is out of date; run `PUSHCHECK_BLESS=1 cargo test --test integration kill` and review the diff"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The live kill matrix: the simulator as a live account.

/// Planted defects a live run does not catch, and why. The test asserts each of them passes
/// live (so a row here cannot outlive its reason) and every other defect fails the run.
const NOT_LIVE: &[(&str, &str)] = &[
    (
        "registration.other_application_visible",
        "needs a registration of a second application; a live run is given devices of one (`get.other_application` is skipped)",
    ),
    (
        "request.content_type_not_checked",
        "reading a JSON body sent as text/plain is not against the docs (they show requests as application/json and say nothing of other types): only the simulator's choice `request.content_type_json` refuses it, so `patch.wrong_content_type` is skipped live and `patch.text_plain_refused_or_applied` accepts a 200 that is stored as answered, as this one is",
    ),
    (
        "personalize.keep_as_lead_ignored",
        "a new person personalized with keepAsLead=true is answered CUSTOMER, as on a correct target whose new persons start as CUSTOMER (the docs leave that open): `personalize.keep_as_lead_keeps_a_lead` is skipped, saying so",
    ),
    (
        "personalize.keep_as_lead_ignored_after_depersonalize",
        "the probes depersonalize every device before any case (proving it belongs to nobody), so live this defect is keepAsLead ignored from the start: the row above",
    ),
];

/// How one live run ended.
#[derive(Debug)]
struct LiveOutcome {
    passed: bool,
    /// What caught it, in words, for the table.
    how: String,
}

/// The registrations a live run is given: 3 of the first application, not the doc's example.
const LIVE_DEVICES: usize = 3;

/// A simulator with `defects`, started apart on the current runtime, played as a live account:
/// the contract suite with `--allow-writes`, every credential, and (when `application_id`) the
/// application's ID given as `--application-id` would.
async fn run_live(defects: Defects, application_id: bool) -> LiveOutcome {
    use pushcheck::mock::{Simulator, SimulatorConfig};
    use pushcheck::outcome::Outcome;
    let config = SimulatorConfig {
        seed_registrations: 10,
        defects,
        ..SimulatorConfig::default()
    };
    let sim = Simulator::start(config).await.expect("simulator");
    let facts = sim.facts().clone();
    let app = facts.applications[0].clone();
    let (_, listing) = sim.registrations(0, 10);
    let ids: Vec<String> = listing
        .iter()
        .filter(|(_, a)| *a == app.app_code)
        .skip(1)
        .take(LIVE_DEVICES)
        .map(|(id, _)| id.clone())
        .collect();
    let suite = SuiteConfig {
        target: Target::Live {
            base_url: facts.base_url.clone(),
            registration_ids: ids,
            allow_writes: true,
        },
        credentials: facts.credentials.clone(),
        app_code: Some(app.app_code.clone()),
        application_id: application_id.then(|| app.application_id.clone()),
        ..SuiteConfig::default()
    };
    let outcome = match contract::run(suite).await {
        Err(e) => LiveOutcome {
            passed: false,
            how: format!(
                "stopped before any case (exit {}): {e}",
                if e.is_configuration() { 2 } else { 3 }
            ),
        },
        Ok(result) => {
            let failed: Vec<String> = result
                .cases
                .iter()
                .filter(|c| c.status == Status::Failed)
                .map(|c| format!("`{}`", c.name))
                .collect();
            let mut how = Vec::new();
            if !result.server_findings.is_empty() {
                let probes: BTreeSet<&str> =
                    result.server_findings.iter().map(|f| f.probe).collect();
                how.push(format!(
                    "server finding of the probes ({})",
                    probes.into_iter().collect::<Vec<_>>().join(", ")
                ));
            }
            if !failed.is_empty() {
                how.push(format!("failed: {}", failed.join(", ")));
            }
            if result.failing_leftovers().next().is_some() {
                how.push("a device not put back (server fault)".to_owned());
            }
            let passed = result.outcome(false) == Outcome::Passed;
            LiveOutcome {
                passed,
                how: how.join("; "),
            }
        }
    };
    let _ = sim.shutdown().await;
    outcome
}

/// Every planted defect a live account can show fails a live run (`--allow-writes`, 3 devices,
/// every credential, `--application-id`); those in [`NOT_LIVE`] pass it, each with its reason.
/// The control passes. The table is `docs/kill-matrix-live.md`.
#[test]
fn live_every_defect_a_live_account_can_show_fails_the_run() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let started = std::time::Instant::now();
    let control = runtime.block_on(run_live(Defects::none(), true));
    assert!(control.passed, "the control passes live: {}", control.how);
    let mut problems = Vec::new();
    let mut rows = Vec::new();
    for defect in Defect::all() {
        let outcome = runtime.block_on(run_live(Defects::of(&[defect]), true));
        let not_live = NOT_LIVE.iter().find(|(d, _)| *d == defect.name());
        match (not_live, outcome.passed) {
            (None, false) | (Some(_), true) => {}
            (None, true) => problems.push(format!("{defect}: passed a live run")),
            (Some(_), false) => problems.push(format!(
                "{defect}: listed in NOT_LIVE but fails the live run ({}); remove its row",
                outcome.how
            )),
        }
        rows.push((defect, outcome, not_live.map(|(_, why)| *why)));
    }
    // Without --application-id the ID is the run's first read: another application's ID on
    // every answer is then consistent, and passes.
    let unflagged = runtime.block_on(run_live(Defects::of(&[Defect::ApplicationIdOther]), false));
    assert!(unflagged.passed, "{}", unflagged.how);
    let elapsed = started.elapsed();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(elapsed < std::time::Duration::from_secs(60), "{elapsed:?}");
    check_generated_at("docs/kill-matrix-live.md", &render_live(&rows));
}

/// `docs/kill-matrix-live.md` from the live runs.
fn render_live(rows: &[(Defect, LiveOutcome, Option<&str>)]) -> String {
    let caught = rows.iter().filter(|(_, o, _)| !o.passed).count();
    let mut out = format!(
        "# The live kill matrix\n\n\
         Generated by `cargo test --test integration kill` (`PUSHCHECK_BLESS=1` rewrites it); do not edit.\n\n\
         Each row is `pushcheck contract` against the embedded simulator with one planted defect, played\n\
         as a live account: `--target` its URL, {LIVE_DEVICES} `--registration-id` devices that belong to nobody,\n\
         `--allow-writes`, every credential (`--api-key` first), and `--application-id`. The run probes\n\
         the target's choices first and skips the cases whose simulator choice the target did not show,\n\
         as against any live account. {caught} of {} defects fail the run; the control passes. The test\n\
         asserts each row's verdict; the defects a live run cannot show are listed there with why\n\
         (`NOT_LIVE` in `tests/integration/kill.rs`). Without `--application-id`, the application's ID is\n\
         the one the run's first read answers, so `response.application_id_other` (another application's\n\
         ID on every answer, consistently) passes: that is asserted too.\n\n\
         | defect | live run | what caught it, or why nothing can |\n|---|---|---|\n",
        rows.len()
    );
    for (defect, outcome, why) in rows {
        let (verdict, how) = match (outcome.passed, why) {
            (false, _) => ("FAILED", outcome.how.clone()),
            (true, Some(why)) => ("passed", format!("not caught live: {why}")),
            (true, None) => ("passed", "NOT CAUGHT".to_owned()),
        };
        out.push_str(&format!(
            "| `{}` | {verdict} | {} |\n",
            defect.name(),
            how.replace('|', "\\|")
        ));
    }
    out
}
