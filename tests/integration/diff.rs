//! `pushcheck schemas diff`: pushcheck's own export diffs clean; one mutated copy per finding
//! kind, each with its expected classification (insta snapshots of the findings); a stand-in
//! of the published file (OpenAPI 3.0, YAML); the published file itself (its four push
//! operations, tests/fixtures/openapi/people-push-3.1.json) against the shipped baseline; the
//! baseline round trip; usage errors; the JSON report against its schema; the human report's
//! causes; JUnit; and the real binary reading standard input.
//!
//! Mutations are made in code on pushcheck's own export, by JSON pointer: each test shows the
//! one change it makes, instead of a large copied file per case.

use std::io::Write;
use std::process::{Command, Stdio};

use pushcheck::cli::Exit;
use pushcheck::schema::{Mode, registry};
use serde_json::{Value, json};

use crate::util::{TempDir, project_path, run_cli, wait_within};

const REG: &str = "/paths/~1people~12~1contactInformation~1push~1{pushRegId}";
const PERSONALIZE: &str = "/paths/~1people~12~1contactInformation~1push~1{pushRegId}~1personalize";
const DEPERSONALIZE: &str =
    "/paths/~1people~12~1contactInformation~1push~1{pushRegId}~1depersonalize";
const SCHEMAS: &str = "/components/schemas";
const STAND_IN: &str = "tests/fixtures/openapi/published-like-3.0.yaml";
/// The published People v2 file's four push operations (tests/fixtures/README.md).
const PUBLISHED: &str = "tests/fixtures/openapi/people-push-3.1.json";
/// The baseline the CI recipes ship, made from the published file.
const SHIPPED_BASELINE: &str = "examples/ci/openapi-accepted.json";

/// pushcheck's own OpenAPI export.
fn own() -> Value {
    pushcheck::schema::openapi::document(registry())
}

/// Sets the value at `pointer` (its parent must exist).
fn set(doc: &mut Value, pointer: &str, value: Value) {
    let (parent, key) = pointer.rsplit_once('/').expect("a pointer");
    let key = key.replace("~1", "/").replace("~0", "~");
    match doc.pointer_mut(parent).expect("parent exists") {
        Value::Object(map) => {
            map.insert(key, value);
        }
        Value::Array(items) => {
            let i: usize = key.parse().expect("index");
            items[i] = value;
        }
        other => panic!("cannot set inside {other}"),
    }
}

/// Removes the value at `pointer`, returning it.
fn remove(doc: &mut Value, pointer: &str) -> Value {
    let (parent, key) = pointer.rsplit_once('/').expect("a pointer");
    let key = key.replace("~1", "/").replace("~0", "~");
    match doc.pointer_mut(parent).expect("parent exists") {
        Value::Object(map) => map.remove(&key).expect("key exists"),
        Value::Array(items) => items.remove(key.parse().expect("index")),
        other => panic!("cannot remove inside {other}"),
    }
}

/// The outcome of one `schemas diff --json` run.
struct Diff {
    exit: Exit,
    report: Value,
    stderr: String,
}

impl Diff {
    fn findings(&self) -> &Vec<Value> {
        self.report["findings"].as_array().expect("findings")
    }

    /// One line per finding: what a reviewer needs to judge its classification.
    fn lines(&self) -> String {
        self.findings()
            .iter()
            .map(|f| {
                let keyword = f["keyword"].as_str().map(|k| format!(" ({k})")).unwrap_or_default();
                let mut notes = String::new();
                if let Some(topic) = f["known"].as_str() {
                    notes.push_str(&format!(" [known: {topic}]"));
                }
                if f["accepted"] == true {
                    notes.push_str(" [accepted]");
                }
                if f["fails"] == true {
                    notes.push_str(" FAILS");
                }
                format!(
                    "{} | {} | {} {} {}{keyword}{notes}\n    pushcheck {} @ {}\n    published {} @ {}",
                    f["operation"].as_str().unwrap_or_default(),
                    f["place"].as_str().unwrap_or_default(),
                    f["class"].as_str().unwrap_or_default(),
                    f["kind"].as_str().unwrap_or_default(),
                    f["field"].as_str().unwrap_or_default(),
                    f["pushcheck"]["says"].as_str().unwrap_or_default(),
                    f["pushcheck"]["pointer"].as_str().unwrap_or_default(),
                    f["published"]["says"].as_str().unwrap_or_default(),
                    f["published"]["pointer"].as_str().unwrap_or_default(),
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// `(class, kind, field)` of every finding.
    fn classes(&self) -> Vec<(String, String, String)> {
        self.findings()
            .iter()
            .map(|f| {
                let s = |k: &str| f[k].as_str().unwrap_or_default().to_owned();
                (s("class"), s("kind"), s("field"))
            })
            .collect()
    }
}

/// Runs `schemas diff FILE --json ARGS…` on `text` written to a file named `name`, and checks
/// the JSON report against `schemas/schemas-diff.json`.
fn diff_text(dir: &TempDir, name: &str, text: &str, args: &[&str]) -> Diff {
    let path = dir.write(name, text);
    let mut argv = vec!["schemas", "diff", path.as_str(), "--json"];
    argv.extend_from_slice(args);
    let run = run_cli(&argv);
    let report = if run.stdout.is_empty() {
        Value::Null
    } else {
        let report: Value = serde_json::from_str(&run.stdout).expect("JSON on stdout");
        let violations = registry()
            .validate("schemas-diff", Mode::Strict, &report)
            .expect("schema");
        assert!(
            violations.is_empty(),
            "breaks schemas/schemas-diff.json: {violations:#?}"
        );
        report
    };
    Diff {
        exit: run.exit,
        report,
        stderr: run.stderr,
    }
}

fn diff_doc(doc: &Value, args: &[&str]) -> Diff {
    let dir = TempDir::new("diff");
    diff_text(
        &dir,
        "openapi.json",
        &serde_json::to_string_pretty(doc).expect("JSON"),
        args,
    )
}

/// Diffs `doc`, snapshots its findings as `name`, and returns the run.
fn snapshot(name: &str, doc: &Value) -> Diff {
    let run = diff_doc(doc, &[]);
    assert!(run.stderr.is_empty(), "{name}: {}", run.stderr);
    insta::assert_snapshot!(name, run.lines());
    run
}

fn has(run: &Diff, class: &str, kind: &str, field: &str) -> bool {
    run.classes()
        .iter()
        .any(|(c, k, f)| c == class && k == kind && f == field)
}

#[test]
fn own_export_diffs_clean() {
    let run = diff_doc(&own(), &[]);
    assert_eq!(run.exit, Exit::Passed, "{}", run.stderr);
    assert_eq!(run.findings().len(), 0, "{}", run.lines());
    assert_eq!(run.report["passed"], true);
    // Every operation was found and every status compared.
    for op in run.report["operations"].as_array().expect("operations") {
        assert!(op["found"].is_object(), "{op}");
        assert_eq!(op["groups"].as_array().expect("groups").len(), 7, "{op}");
    }
}

#[test]
fn field_removed_from_a_response_is_breaking_everywhere_the_schema_is_used() {
    let mut doc = own();
    remove(
        &mut doc,
        &format!("{SCHEMAS}/push-registration/properties/applicationId"),
    );
    let run = snapshot("field_removed", &doc);
    assert_eq!(run.exit, Exit::CheckFailed);
    assert!(has(&run, "breaking", "field-removed", "/applicationId"));
    assert!(has(
        &run,
        "breaking",
        "field-removed",
        "/contactInformation/push/*/applicationId"
    ));
}

#[test]
fn type_changed_in_a_response_is_breaking() {
    let mut doc = own();
    set(
        &mut doc,
        &format!("{SCHEMAS}/system-data/properties/deviceSecure/type"),
        json!("string"),
    );
    let run = snapshot("type_changed", &doc);
    assert_eq!(run.exit, Exit::CheckFailed);
    assert!(has(
        &run,
        "breaking",
        "type-changed",
        "/systemData/deviceSecure"
    ));
}

#[test]
fn enum_widened_breaks_responses_and_is_additive_in_requests() {
    let mut doc = own();
    let gender = format!("{SCHEMAS}/person-attributes/$defs/gender/enum");
    set(&mut doc, &gender, json!(["MALE", "FEMALE", "OTHER"]));
    let run = snapshot("enum_widened", &doc);
    assert_eq!(run.exit, Exit::CheckFailed);
    assert!(has(&run, "additive", "enum-widened", "/attributes/gender"));
    assert!(has(&run, "breaking", "enum-widened", "/gender"));
}

#[test]
fn limit_changed_tightened_on_a_request_loosened_on_a_response() {
    let mut doc = own();
    set(
        &mut doc,
        &format!("{SCHEMAS}/person-attributes/$defs/firstName/maxLength"),
        json!(100),
    );
    set(
        &mut doc,
        &format!("{SCHEMAS}/person-attributes/$defs/middleName/maxLength"),
        json!(80),
    );
    let run = snapshot("limit_changed", &doc);
    assert!(has(
        &run,
        "breaking",
        "limit-tightened",
        "/attributes/firstName"
    ));
    assert!(has(&run, "additive", "limit-tightened", "/firstName"));
    assert!(has(
        &run,
        "additive",
        "limit-loosened",
        "/attributes/middleName"
    ));
    assert!(has(&run, "breaking", "limit-loosened", "/middleName"));
}

#[test]
fn required_added_to_a_request_is_breaking() {
    let mut doc = own();
    set(
        &mut doc,
        &format!("{SCHEMAS}/personalize-request/required"),
        json!(["identity", "attributes"]),
    );
    let run = snapshot("required_added", &doc);
    assert_eq!(run.exit, Exit::CheckFailed);
    assert_eq!(
        run.classes(),
        [(
            "breaking".into(),
            "required-added".into(),
            "/attributes".into()
        )]
    );
}

#[test]
fn error_body_changed_is_a_disagreement_and_the_400_of_the_notes_is_known() {
    let mut doc = own();
    set(
        &mut doc,
        &format!("{REG}/get/responses/401/content/application~1json/schema"),
        json!({"$ref": "#/components/schemas/error-api"}),
    );
    set(
        &mut doc,
        &format!("{REG}/get/responses/400/content/application~1json/schema"),
        json!({"$ref": "#/components/schemas/error-push"}),
    );
    let run = snapshot("error_body_changed", &doc);
    assert_eq!(run.exit, Exit::CheckFailed);
    let places: Vec<(String, String)> = run
        .findings()
        .iter()
        .map(|f| {
            (
                f["place"].as_str().unwrap_or_default().to_owned(),
                f["class"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        places,
        [
            ("response 400".into(), "known".into()),
            ("response 401".into(), "disagreement".into())
        ]
    );
}

#[test]
fn operation_missing_is_breaking_and_the_others_are_still_compared() {
    let mut doc = own();
    remove(&mut doc, DEPERSONALIZE);
    let run = snapshot("operation_missing", &doc);
    assert_eq!(run.exit, Exit::CheckFailed);
    assert_eq!(
        run.classes(),
        [("breaking".into(), "operation-missing".into(), String::new())]
    );
    let found: Vec<bool> = run.report["operations"]
        .as_array()
        .expect("operations")
        .iter()
        .map(|o| o["found"].is_object())
        .collect();
    assert_eq!(found, [true, true, true, false]);
}

#[test]
fn parameter_renamed_is_breaking_and_a_renamed_path_id_is_no_finding() {
    let mut doc = own();
    set(
        &mut doc,
        &format!("{PERSONALIZE}/post/parameters/1/name"),
        json!("keepLead"),
    );
    // The control: the path ID is called something else everywhere (paths and parameter).
    let paths = doc["paths"].as_object().expect("paths").clone();
    let mut renamed = serde_json::Map::new();
    for (path, item) in paths {
        renamed.insert(path.replace("{pushRegId}", "{id}"), item);
    }
    doc["paths"] = Value::Object(renamed);
    set(
        &mut doc,
        "/components/parameters/pushRegId/name",
        json!("id"),
    );
    let run = snapshot("parameter_renamed", &doc);
    assert_eq!(run.exit, Exit::CheckFailed);
    assert_eq!(
        run.classes(),
        [("breaking".into(), "parameter-renamed".into(), String::new())]
    );

    // A parameter gone, the AppCode header written in lower case (no finding: headers are
    // case-insensitive), and a new required query parameter.
    let mut doc = own();
    let flags = format!("{PERSONALIZE}/post/parameters");
    remove(&mut doc, &format!("{flags}/3"));
    set(
        &mut doc,
        "/components/parameters/AppCode/name",
        json!("appcode"),
    );
    let params = doc
        .pointer_mut(&flags)
        .and_then(Value::as_array_mut)
        .expect("params");
    params.push(
        json!({"name": "tenant", "in": "query", "required": true, "schema": {"type": "string"}}),
    );
    let run = diff_doc(&doc, &[]);
    let kinds: Vec<(String, String)> = run
        .findings()
        .iter()
        .map(|f| {
            (
                f["place"].as_str().unwrap_or_default().to_owned(),
                f["kind"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            (
                "parameter query setDeviceAsPrimary".into(),
                "parameter-missing".into()
            ),
            ("parameter query tenant".into(), "required-added".into()),
        ],
        "a boolean flag gone and a new string parameter are no rename: {}",
        run.lines()
    );
}

#[test]
fn a_ref_chain_is_followed_and_the_finding_points_at_its_end() {
    // GET's 200 body goes through two references to a copy of the registration schema.
    let mut doc = own();
    let registration = doc
        .pointer(&format!("{SCHEMAS}/push-registration"))
        .expect("schema")
        .clone();
    set(
        &mut doc,
        &format!("{REG}/get/responses/200/content/application~1json/schema"),
        json!({"$ref": "#/components/schemas/Registration"}),
    );
    set(
        &mut doc,
        &format!("{SCHEMAS}/Registration"),
        json!({"$ref": "#/components/schemas/RegistrationV2"}),
    );
    set(&mut doc, &format!("{SCHEMAS}/RegistrationV2"), registration);
    // The control: the chain alone changes nothing.
    let clean = diff_doc(&doc, &[]);
    assert_eq!(clean.findings().len(), 0, "{}", clean.lines());
    set(
        &mut doc,
        &format!("{SCHEMAS}/RegistrationV2/properties/registrationId/type"),
        json!("integer"),
    );
    let run = snapshot("ref_chain", &doc);
    assert_eq!(
        run.findings()[0]["published"]["pointer"],
        "/components/schemas/RegistrationV2/properties/registrationId"
    );
    // A chain that loops is a usage error naming the reference.
    set(
        &mut doc,
        &format!("{SCHEMAS}/RegistrationV2"),
        json!({"$ref": "#/components/schemas/Registration"}),
    );
    let looped = diff_doc(&doc, &[]);
    assert_eq!(looped.exit, Exit::Usage);
    assert!(
        looped.stderr.contains("#/components/schemas/Registration")
            && looped.stderr.contains("loops"),
        "{}",
        looped.stderr
    );
}

/// The document as YAML (`yaml_rust2`'s emitter), numbers and strings kept.
fn to_yaml(value: &Value) -> String {
    use yaml_rust2::{Yaml, YamlEmitter, yaml::Hash};
    fn convert(value: &Value) -> Yaml {
        match value {
            Value::Null => Yaml::Null,
            Value::Bool(b) => Yaml::Boolean(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Yaml::Integer(i),
                None => Yaml::Real(n.to_string()),
            },
            Value::String(s) => Yaml::String(s.clone()),
            Value::Array(items) => Yaml::Array(items.iter().map(convert).collect()),
            Value::Object(map) => {
                let mut hash = Hash::new();
                for (k, v) in map {
                    hash.insert(Yaml::String(k.clone()), convert(v));
                }
                Yaml::Hash(hash)
            }
        }
    }
    let mut text = String::new();
    YamlEmitter::new(&mut text)
        .dump(&convert(value))
        .expect("emit YAML");
    text
}

#[test]
fn yaml_input_diffs_like_json() {
    let dir = TempDir::new("diff-yaml");
    let mut doc = own();
    let clean = diff_text(&dir, "own.yaml", &to_yaml(&doc), &[]);
    assert_eq!(clean.exit, Exit::Passed, "{}", clean.stderr);
    assert_eq!(clean.findings().len(), 0, "{}", clean.lines());
    set(
        &mut doc,
        &format!("{SCHEMAS}/system-data/properties/os/enum"),
        json!(["Android", "iOS", "HarmonyOS"]),
    );
    let yaml = diff_text(&dir, "mutated.yaml", &to_yaml(&doc), &[]);
    let json = diff_doc(&doc, &[]);
    assert_eq!(yaml.lines(), json.lines());
    insta::assert_snapshot!("yaml_input", yaml.lines());
}

#[test]
fn nullable_in_3_0_and_in_3_1_is_the_same_finding() {
    // 3.1: a type array with null.
    let mut v31 = own();
    set(
        &mut v31,
        &format!("{SCHEMAS}/person-attributes/$defs/firstName/type"),
        json!(["string", "null"]),
    );
    // 3.0: `nullable: true`, and pushcheck's own nullable externalId written the 3.0 way.
    let mut v30 = own();
    set(&mut v30, "/openapi", json!("3.0.3"));
    set(
        &mut v30,
        &format!("{SCHEMAS}/person-attributes/$defs/firstName/nullable"),
        json!(true),
    );
    let external = format!("{SCHEMAS}/personalize-response/properties/externalId");
    set(&mut v30, &format!("{external}/type"), json!("string"));
    set(&mut v30, &format!("{external}/nullable"), json!(true));
    let a = snapshot("nullable_3_1", &v31);
    let b = diff_doc(&v30, &[]);
    assert_eq!(
        a.lines(),
        b.lines(),
        "3.0 nullable and 3.1 type arrays agree"
    );
    assert!(has(&a, "breaking", "nullable-added", "/firstName"));
    assert!(has(
        &a,
        "additive",
        "nullable-added",
        "/attributes/firstName"
    ));
    assert_eq!(b.report["openapi"], "3.0.3");

    // `nullable` is not a 3.1 keyword: in a 3.1 document it changes nothing.
    let mut ignored = own();
    set(
        &mut ignored,
        &format!("{SCHEMAS}/person-attributes/$defs/firstName/nullable"),
        json!(true),
    );
    assert_eq!(diff_doc(&ignored, &[]).findings().len(), 0);
}

#[test]
fn the_stand_in_of_the_published_file_shows_the_known_disagreements() {
    let run_cli_json = run_cli(&["schemas", "diff", &project_path(STAND_IN), "--json"]);
    assert_eq!(run_cli_json.exit, Exit::Passed, "{}", run_cli_json.stderr);
    let report: Value = serde_json::from_str(&run_cli_json.stdout).expect("JSON");
    let run = Diff {
        exit: run_cli_json.exit,
        report,
        stderr: String::new(),
    };
    let source = run.report["source"].as_str().expect("source").to_owned();
    insta::assert_snapshot!("stand_in", run.lines());
    let classes: std::collections::BTreeSet<String> =
        run.classes().into_iter().map(|(c, _, _)| c).collect();
    assert_eq!(
        classes.into_iter().collect::<Vec<_>>(),
        ["additive", "known"]
    );
    // Known disagreements fail only with --strict.
    let strict = run_cli(&["schemas", "diff", &project_path(STAND_IN), "--strict"]);
    assert_eq!(strict.exit, Exit::CheckFailed);
    assert!(
        strict.stdout.contains("or known with --strict"),
        "{}",
        strict.stdout
    );
    assert!(source.ends_with("published-like-3.0.yaml"));
}

#[test]
fn baseline_round_trip() {
    let dir = TempDir::new("diff-baseline");
    let baseline = dir
        .path()
        .join("accepted.json")
        .to_string_lossy()
        .into_owned();
    let mut doc = own();
    remove(
        &mut doc,
        &format!("{SCHEMAS}/push-registration/properties/applicationId"),
    );
    let text = serde_json::to_string(&doc).expect("JSON");

    // Without a baseline: fails.
    assert_eq!(
        diff_text(&dir, "v1.json", &text, &[]).exit,
        Exit::CheckFailed
    );
    // Write: every finding accepted, so this run passes.
    let written = diff_text(&dir, "v1.json", &text, &["--write-baseline", &baseline]);
    assert_eq!(written.exit, Exit::Passed, "{}", written.stderr);
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(&baseline).expect("written")).expect("JSON");
    assert!(
        registry()
            .validate("schemas-diff-baseline", Mode::Strict, &file)
            .expect("schema")
            .is_empty()
    );
    assert_eq!(
        file["accepted"].as_array().expect("accepted").len(),
        written.findings().len()
    );
    // Re-run: clean, each finding marked accepted.
    let rerun = diff_text(&dir, "v1.json", &text, &["--baseline", &baseline]);
    assert_eq!(rerun.exit, Exit::Passed);
    assert!(
        rerun
            .findings()
            .iter()
            .all(|f| f["accepted"] == true && f["fails"] == false)
    );
    // Mutate once more: fails, naming only the new finding.
    set(
        &mut doc,
        &format!("{SCHEMAS}/system-data/properties/osVersion/type"),
        json!("number"),
    );
    let v2 = serde_json::to_string(&doc).expect("JSON");
    let next = diff_text(&dir, "v2.json", &v2, &["--baseline", &baseline]);
    assert_eq!(next.exit, Exit::CheckFailed);
    let failing: Vec<(String, String)> = next
        .findings()
        .iter()
        .filter(|f| f["fails"] == true)
        .map(|f| {
            (
                f["kind"].as_str().unwrap_or_default().to_owned(),
                f["field"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        failing,
        [
            ("type-changed".into(), "/systemData/osVersion".into()),
            ("type-changed".into(), "/systemData/osVersion".into()),
            (
                "type-changed".into(),
                "/contactInformation/push/*/systemData/osVersion".into()
            ),
        ]
    );
    let path = dir.write("v2-human.json", &v2);
    let human = run_cli(&["schemas", "diff", &path, "--baseline", &baseline]);
    // One cause (the system-data component, in three places), one line.
    let reasons: Vec<&str> = human
        .stdout
        .lines()
        .filter(|l| l.starts_with("  FAILED"))
        .collect();
    assert_eq!(reasons.len(), 1, "{}", human.stdout);
    assert!(
        reasons[0].contains("osVersion") && reasons[0].ends_with("(3 places)"),
        "{reasons:#?}"
    );
    // A baseline that is not one is a usage error naming it.
    let bad = dir.write("bad-baseline.json", r#"{"accepted": [{"operation": 1}]}"#);
    let refused = diff_text(&dir, "v2.json", &v2, &["--baseline", &bad]);
    assert_eq!(refused.exit, Exit::Usage);
    assert!(
        refused
            .stderr
            .contains("bad-baseline.json is not a schemas diff baseline"),
        "{}",
        refused.stderr
    );
}

#[test]
fn usage_errors_name_the_input_and_exit_2() {
    let dir = TempDir::new("diff-usage");
    let missing = dir.path().join("nope.yaml").to_string_lossy().into_owned();
    let not_openapi = dir.write("person.json", r#"{"registrationId": "x"}"#);
    let no_ops = dir.write(
        "other.yaml",
        "openapi: 3.1.0\ninfo: {title: x, version: '1'}\npaths:\n  /people/2/persons:\n    get:\n      responses: {200: {description: ok}}\n",
    );
    let broken_yaml = dir.write("broken.yaml", "openapi: 3.1.0\npaths: [\n");
    let mut gone = own();
    set(
        &mut gone,
        &format!("{REG}/get/responses/200/content/application~1json/schema"),
        json!({"$ref": "#/components/schemas/Gone"}),
    );
    let dangling = dir.write("dangling.json", serde_json::to_string(&gone).expect("JSON"));
    let cases = [
        (missing.as_str(), "cannot read"),
        (
            not_openapi.as_str(),
            "is not an OpenAPI 3.0 or 3.1 document: it has no `openapi` field",
        ),
        (
            no_ops.as_str(),
            "describes none of the four push operations",
        ),
        (broken_yaml.as_str(), "is not valid YAML at line"),
        (dangling.as_str(), "$ref \"#/components/schemas/Gone\""),
    ];
    for (file, expected) in cases {
        let run = run_cli(&["schemas", "diff", file]);
        assert_eq!(run.exit, Exit::Usage, "{file}: {run:?}");
        assert!(run.stderr.contains(expected), "{file}: {}", run.stderr);
        let name = std::path::Path::new(file)
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        assert!(
            run.stderr.contains(&name),
            "{file}: names the input: {}",
            run.stderr
        );
        assert!(run.stdout.is_empty(), "{file}: nothing on stdout");
    }
}

#[test]
fn junit_has_one_case_per_operation_and_status() {
    let dir = TempDir::new("diff-junit");
    let junit = dir
        .path()
        .join("openapi-diff.xml")
        .to_string_lossy()
        .into_owned();
    let mut doc = own();
    remove(&mut doc, DEPERSONALIZE);
    set(
        &mut doc,
        &format!("{SCHEMAS}/system-data/properties/deviceSecure/type"),
        json!("string"),
    );
    let run = diff_text(
        &dir,
        "x.json",
        &serde_json::to_string(&doc).expect("JSON"),
        &["--junit", &junit],
    );
    assert_eq!(run.exit, Exit::CheckFailed);
    let xml = std::fs::read_to_string(&junit).expect("JUnit written");
    let mut reader = quick_xml::Reader::from_str(&xml);
    let (mut cases, mut failures) = (Vec::new(), 0);
    loop {
        match reader.read_event().expect("well-formed XML") {
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                match e.name().as_ref() {
                    b"testcase" => {
                        let name = e.try_get_attribute("name").expect("attr").expect("name");
                        cases.push(String::from_utf8_lossy(&name.value).into_owned());
                    }
                    b"failure" => failures += 1,
                    _ => {}
                }
            }
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    // 3 operations × (request + 6 statuses) + the missing one.
    assert_eq!(cases.len(), 3 * 7 + 1, "{cases:#?}");
    assert!(cases.contains(&"depersonalize-push-instance operation".to_owned()));
    assert!(cases.contains(&"get-push-device-registration response 200".to_owned()));
    // GET 200, PATCH 200, personalize 200 (push[] items), and the missing operation.
    assert_eq!(failures, 4, "{xml}");

    // A report that cannot be written is a runtime error naming it.
    let nowhere = dir.path().join("no-such-dir").join("x.xml");
    let nowhere = nowhere.to_string_lossy().into_owned();
    let own_file = dir.write("own.json", serde_json::to_string(&own()).expect("JSON"));
    for flag in ["--junit", "--write-baseline"] {
        let run = run_cli(&["schemas", "diff", &own_file, flag, &nowhere]);
        assert_eq!(run.exit, Exit::Runtime, "{flag}: {run:?}");
        assert!(
            run.stderr.contains("cannot write") && run.stderr.contains("x.xml"),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn the_binary_reads_standard_input() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pushcheck"))
        .args(["schemas", "diff", "-"])
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start pushcheck");
    let mut doc = own();
    remove(&mut doc, DEPERSONALIZE);
    let text = to_yaml(&doc);
    {
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(text.as_bytes()).expect("write stdin");
    }
    let code = wait_within(&mut child, std::time::Duration::from_secs(30));
    let stdout = crate::util::read_all(child.stdout.take().expect("stdout"));
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.starts_with("<stdin> (OpenAPI 3.1.0) against pushcheck's schemas"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "  FAILED  POST depersonalize (depersonalize-push-instance): not in the file"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("  FAILED  breaking     operation-missing (whole): pushcheck says POST"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\nFAILED: 1 new cause (1 finding)"),
        "{stdout}"
    );
    assert!(
        stdout.trim_end().ends_with("then pass --baseline FILE"),
        "{stdout}"
    );
}

#[test]
fn statuses_added_and_missing() {
    let mut doc = own();
    let responses = format!("{REG}/get/responses");
    let legacy = json!({"description": "x", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/error-legacy"}}}});
    // A 404 is a known disagreement of the published file; a 409 is new.
    set(&mut doc, &format!("{responses}/409"), legacy.clone());
    set(&mut doc, &format!("{responses}/404"), legacy.clone());
    set(&mut doc, &format!("{responses}/default"), legacy);
    remove(&mut doc, &format!("{responses}/500"));
    remove(&mut doc, &format!("{REG}/patch/responses/200"));
    let run = diff_doc(&doc, &[]);
    let found: Vec<(String, String, String)> = run
        .findings()
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or_default().to_owned();
            (s("place"), s("class"), s("kind"))
        })
        .collect();
    let expected = [
        ("response 500", "additive", "status-missing"),
        ("response 404", "known", "status-added"),
        ("response 409", "disagreement", "status-added"),
        ("response default", "additive", "status-added"),
        ("response 200", "breaking", "status-missing"),
    ];
    assert_eq!(
        found,
        expected.map(|(p, c, k)| (p.to_owned(), c.to_owned(), k.to_owned())),
        "{}",
        run.lines()
    );
    assert_eq!(run.exit, Exit::CheckFailed);
}

#[test]
fn human_and_junit_reports_of_the_stand_in() {
    use pushcheck::schema::diff;
    let bytes = std::fs::read(project_path(STAND_IN)).expect("stand-in");
    let loaded = diff::load::parse(&bytes, "published-like-3.0.yaml").expect("loads");
    assert_eq!(loaded.version, diff::Version::V3_0);
    let options = diff::Options {
        strict: true,
        baseline: None,
    };
    let result = diff::diff(&loaded, registry(), &options).expect("diff");
    let mut human = Vec::new();
    pushcheck::report::diff::human(
        &mut human,
        &result,
        pushcheck::report::Style::default(),
        pushcheck::report::diff::Detail::Places,
    )
    .expect("render");
    insta::assert_snapshot!("stand_in_human_strict", String::from_utf8_lossy(&human));
    let junit = pushcheck::report::diff::junit(&result).expect("JUnit");
    insta::assert_snapshot!("stand_in_junit_strict", junit);
}

/// The published file's component, by its name without the hash prefix.
fn published_component(doc: &Value, name: &str) -> String {
    let schemas = doc["components"]["schemas"]
        .as_object()
        .expect("components.schemas");
    let full = schemas
        .keys()
        .find(|k| k.rsplit('.').next() == Some(name))
        .expect("the component")
        .clone();
    format!("{SCHEMAS}/{}", full.replace('~', "~0").replace('/', "~1"))
}

fn published() -> Value {
    let text = std::fs::read_to_string(project_path(PUBLISHED)).expect("fixture");
    serde_json::from_str(&text).expect("JSON")
}

#[test]
fn the_published_file_is_triaged_and_diffs_clean_against_the_shipped_baseline() {
    let baseline = project_path(SHIPPED_BASELINE);
    // Triaged: every finding is a disagreement pushcheck lists (docs/openapi-triage.md).
    let run = diff_doc(&published(), &[]);
    assert_eq!(run.exit, Exit::Passed, "{}", run.lines());
    assert!(!run.findings().is_empty());
    let unknown: Vec<&Value> = run
        .findings()
        .iter()
        .filter(|f| f["class"] != "known")
        .collect();
    assert!(unknown.is_empty(), "not triaged: {unknown:#?}");
    // A read-only property is not part of the PATCH body, though `required` lists it.
    assert!(
        !run.findings()
            .iter()
            .any(|f| f["kind"] == "required-added" || f["kind"] == "field-added"),
        "{}",
        run.lines()
    );
    // Known ones fail with --strict; the shipped baseline accepts every one of them.
    assert_eq!(
        diff_doc(&published(), &["--strict"]).exit,
        Exit::CheckFailed
    );
    let accepted = diff_doc(&published(), &["--strict", "--baseline", &baseline]);
    assert_eq!(accepted.exit, Exit::Passed, "{}", accepted.lines());
    assert!(accepted.findings().iter().all(|f| f["accepted"] == true));
    // The human report: a line per cause, no hash prefixes, no baseline wording without one.
    let human = run_cli(&["schemas", "diff", &project_path(PUBLISHED)]);
    assert_eq!(human.exit, Exit::Passed);
    let causes = run.report["causes"].as_array().expect("causes");
    let lines: Vec<&str> = human.stdout.lines().collect();
    assert_eq!(lines.len(), 1 + causes.len() + 3, "{}", human.stdout);
    assert!(
        human.stdout.contains(
            "required-removed /requestError in ApiException: pushcheck says required, the published file optional [known: legacy error body: what is guaranteed] (15 places)"
        ),
        "{}",
        human.stdout
    );
    assert!(!human.stdout.contains("0b965bbf"), "{}", human.stdout);
    assert!(!human.stdout.contains("accepted by"), "{}", human.stdout);
    assert!(
        lines[lines.len() - 1].starts_with("Next: accept what is there with --write-baseline FILE"),
        "{}",
        human.stdout
    );
    // -v: the places and both pointers of each cause (hash prefixes shortened).
    let verbose = run_cli(&["schemas", "diff", &project_path(PUBLISHED), "-v"]);
    assert!(
        verbose.stdout.contains(
            "          at: GET registration response 401, GET registration response 403, GET registration response 429, GET registration response 500, PATCH registration response 401"
        ),
        "{}",
        verbose.stdout
    );
    assert!(
        verbose
            .stdout
            .contains("(#/components/schemas/…PushApiInstance/properties/additionalData)"),
        "{}",
        verbose.stdout
    );
    // With the baseline, one line says what it accepted.
    let quiet = run_cli(&[
        "schemas",
        "diff",
        &project_path(PUBLISHED),
        "--baseline",
        &baseline,
    ]);
    assert_eq!(quiet.exit, Exit::Passed);
    assert_eq!(quiet.stdout.lines().count(), 4, "{}", quiet.stdout);
    assert!(
        quiet
            .stdout
            .contains("accepted by the baseline (-v lists them)")
    );
}

#[test]
fn a_field_removed_from_the_registration_schema_fails_naming_it_in_a_few_lines() {
    let mut doc = published();
    let instance = published_component(&doc, "PushApiInstance");
    remove(&mut doc, &format!("{instance}/properties/isPrimary"));
    let dir = TempDir::new("diff-published");
    let text = serde_json::to_string(&doc).expect("JSON");
    let path = dir.write("published.json", &text);
    let baseline = project_path(SHIPPED_BASELINE);
    let run = run_cli(&["schemas", "diff", &path, "--baseline", &baseline]);
    assert_eq!(run.exit, Exit::CheckFailed, "{}", run.stdout);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(lines.len() <= 5, "{}", run.stdout);
    assert_eq!(
        lines[1],
        "  FAILED  breaking     field-removed /isPrimary, /contactInformation/push/*/isPrimary in PushApiInstance: pushcheck says boolean, the published file absent (4 places)"
    );
    assert!(
        lines[3].starts_with("FAILED: 1 new cause (4 findings)"),
        "{}",
        run.stdout
    );
    assert!(
        lines[4].starts_with("Next: if the file is right"),
        "{}",
        run.stdout
    );
    // JSON and JUnit keep every finding.
    let json = diff_text(
        &dir,
        "published.json",
        &serde_json::to_string(&doc).expect("JSON"),
        &["--baseline", &baseline],
    );
    let failing: Vec<(String, String)> = json
        .findings()
        .iter()
        .filter(|f| f["fails"] == true)
        .map(|f| {
            (
                f["operation"].as_str().unwrap_or_default().to_owned(),
                f["place"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(failing.len(), 4, "{failing:?}");
    let cause = &json.report["causes"][0];
    assert_eq!(cause["fails"], true);
    assert_eq!(cause["component"], "PushApiInstance");
    assert_eq!(cause["places"].as_array().map(Vec::len), Some(4));
}
