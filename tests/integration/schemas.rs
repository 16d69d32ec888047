//! The schemas of `schemas/`, the doc examples, shape skeletons, the OpenAPI export and the
//! `pushcheck schemas` command.

use pushcheck::api::docs::EXAMPLES;
use pushcheck::cli::Exit;
use pushcheck::schema::lint::parse_example;
use pushcheck::schema::registry::{BASE_URI, SCHEMA_FILES};
use pushcheck::schema::shape::Skeleton;
use pushcheck::schema::{Mode, Registry, Violation, registry};
use serde_json::{Value, json};

use crate::util::{TempDir, project_path, run_cli};

fn paths(violations: &[Violation]) -> Vec<&str> {
    violations
        .iter()
        .map(|v| v.instance_path.as_str())
        .collect()
}

fn check(schema: &str, mode: Mode, value: &Value) -> Vec<Violation> {
    registry()
        .validate(schema, mode, value)
        .expect("known schema")
}

#[test]
fn every_schema_file_is_embedded_and_valid_2020_12() {
    let mut on_disk: Vec<String> = std::fs::read_dir(project_path("schemas"))
        .expect("schemas/ exists")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    on_disk.sort();
    let mut embedded: Vec<String> = SCHEMA_FILES
        .iter()
        .map(|(n, _)| format!("{n}.json"))
        .collect();
    embedded.sort();
    assert_eq!(
        on_disk, embedded,
        "every file in schemas/ is embedded, and only those"
    );

    for (name, text) in SCHEMA_FILES {
        let doc: Value = serde_json::from_str(text).expect("schema is JSON");
        if let Err(e) = jsonschema::meta::validate(&doc) {
            panic!("{name}.json is not a valid 2020-12 schema: {e}");
        }
        assert_eq!(
            doc["$schema"], "https://json-schema.org/draft/2020-12/schema",
            "{name}: $schema"
        );
        assert_eq!(doc["$id"], format!("{BASE_URI}{name}.json"), "{name}: $id");
        for field in ["title", "description"] {
            assert!(
                doc[field].as_str().is_some_and(|s| !s.is_empty()),
                "{name}: {field}"
            );
        }
    }
}

#[test]
fn every_ref_compiles_and_a_dangling_ref_is_caught() {
    // Compiling touches every $ref across files, in both modes.
    assert_eq!(registry().names().len(), SCHEMA_FILES.len());

    let broken = r#"{"$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://pushcheck.invalid/schemas/broken.json",
        "properties": {"x": {"$ref": "missing.json#/$defs/nope"}}}"#;
    let err = Registry::from_files(&[("broken", broken)]).expect_err("dangling $ref");
    assert!(err.to_string().contains("missing.json"), "{err}");
}

#[test]
fn doc_examples_are_valid_lenient_and_strict_flags_only_the_typo() {
    assert_eq!(EXAMPLES.len(), 5);
    for example in EXAMPLES {
        let value = parse_example(example);
        assert!(value.is_object(), "{} parses", example.name);
        let lenient = check(example.schema, Mode::Lenient, &value);
        assert!(lenient.is_empty(), "{} lenient: {lenient:#?}", example.name);
        let strict = check(example.schema, Mode::Strict, &value);
        if example.name == "patch-request" {
            assert_eq!(paths(&strict), vec!["/isPrmary"]);
            assert!(strict[0].undocumented);
        } else {
            assert!(strict.is_empty(), "{} strict: {strict:#?}", example.name);
        }
    }
}

#[test]
fn strict_mode_reaches_nested_and_referenced_objects() {
    let mut value = parse_example(pushcheck::api::docs::example("get-response").expect("example"));
    value["systemData"]["batteryLevel"] = json!(80);
    value["surprise"] = json!(true);
    let strict = check("push-registration", Mode::Strict, &value);
    assert_eq!(
        paths(&strict),
        vec!["/surprise", "/systemData/batteryLevel"]
    );
    assert!(check("push-registration", Mode::Lenient, &value).is_empty());
}

#[test]
fn a_missing_required_field_is_named_by_its_pointer() {
    let mut value = parse_example(pushcheck::api::docs::example("get-response").expect("example"));
    value
        .as_object_mut()
        .expect("object")
        .remove("applicationId");
    let v = check("push-registration", Mode::Lenient, &value);
    assert_eq!(paths(&v), vec!["/applicationId"]);
    assert!(v[0].message.contains("missing"), "{}", v[0].message);
}

fn attribute_violations(name: &str, value: Value) -> Vec<String> {
    let body = json!({ "additionalData": { name: value } });
    check("patch-request", Mode::Lenient, &body)
        .iter()
        .map(|v| v.instance_path.clone())
        .collect()
}

#[test]
fn custom_attribute_limits_at_and_past_each_bound() {
    let ok: Vec<String> = Vec::new();
    let name_256 = "n".repeat(256);
    let name_257 = "n".repeat(257);
    assert_eq!(attribute_violations(&name_256, json!(true)), ok);
    assert_eq!(
        attribute_violations(&name_257, json!(true)),
        vec![format!("/additionalData/{name_257}")]
    );
    let long = check(
        "patch-request",
        Mode::Lenient,
        &json!({"additionalData": {"a": "s".repeat(4097)}}),
    );
    assert!(
        long[0].message.contains("longer than 4096"),
        "{}",
        long[0].message
    );

    let at = "/additionalData/a";
    assert_eq!(attribute_violations("a", json!("s".repeat(4096))), ok);
    assert_eq!(attribute_violations("a", json!("s".repeat(4097))), vec![at]);
    assert_eq!(
        attribute_violations("a", json!(9_223_372_036_854_775_807_i64)),
        ok
    );
    assert_eq!(
        attribute_violations("a", json!(9_223_372_036_854_775_808_u64)),
        vec![at]
    );
    assert_eq!(attribute_violations("a", json!(-3.5)), ok);
    assert_eq!(attribute_violations("a", json!(false)), ok);
    // Dates: a YYYY-MM-DD string must be a real date; other strings are plain strings.
    assert_eq!(attribute_violations("a", json!("2024-02-29")), ok);
    assert_eq!(attribute_violations("a", json!("2024-02-30")), vec![at]);
    assert_eq!(attribute_violations("a", json!("2023-02-29")), vec![at]);
    assert_eq!(attribute_violations("a", json!("2024-13-01")), vec![at]);
    assert_eq!(attribute_violations("a", json!("2024-2-3")), ok);
    assert_eq!(attribute_violations("a", json!("12.05.2024")), ok);
    // The spec's object values contradict the doc; pushcheck follows the doc.
    assert_eq!(attribute_violations("a", json!({"value": 1})), vec![at]);
    // null deletes an attribute in a PATCH body (the SDKs' way), but is no value in a response.
    assert_eq!(attribute_violations("a", json!(null)), ok);
    assert_eq!(
        check("custom-attributes", Mode::Lenient, &json!({"a": null}))
            .iter()
            .map(|v| v.instance_path.clone())
            .collect::<Vec<_>>(),
        vec!["/a"]
    );
}

#[test]
fn birthday_accepts_the_docs_date_and_the_specs_date_time() {
    for (birthday, valid) in [
        ("1985-07-12", true),
        ("1985-07-12T00:00:00Z", true),
        ("1985-02-30", false),
        ("yesterday", false),
    ] {
        let v = check(
            "personalize-response",
            Mode::Lenient,
            &json!({ "birthday": birthday, "contactInformation": {} }),
        );
        assert_eq!(v.is_empty(), valid, "{birthday}: {v:?}");
    }
}

#[test]
fn personalize_identity_needs_one_identifier() {
    let bad = [
        json!({"attributes": {}}),
        json!({"identity": {}}),
        json!({"identity": {"phoneNumber": "+38598"}}),
        json!({"identity": {"email": "a@b.c"}, "attributes": {"gender": "OTHER"}}),
        json!({"identity": {"externalId": "x"}, "attributes": {"tags": ["a", "a"]}}),
    ];
    for body in bad {
        assert!(
            !check("personalize-request", Mode::Lenient, &body).is_empty(),
            "{body}"
        );
    }
    for body in [
        json!({"identity": {"externalId": "NULL"}}),
        json!({"identity": {"email": "a@b.c"}, "attributes": {"customAttributes": {"vip": true}}}),
    ] {
        assert_eq!(
            check("personalize-request", Mode::Strict, &body),
            vec![],
            "{body}"
        );
    }
}

#[test]
fn the_three_error_shapes() {
    let cases = [
        (
            "error-push",
            json!({"errorCode": 48013, "errorMessage": "Push registration not found"}),
            true,
        ),
        (
            "error-push",
            json!({"errorCode": "48013", "errorMessage": "x"}),
            false,
        ),
        (
            "error-legacy",
            json!({"requestError": {"serviceException": {"messageId": "BAD_REQUEST", "text": "Bad request",
                "validationErrors": {"additionalData": ["too long"]}}}}),
            true,
        ),
        // The published OpenAPI guarantees neither messageId nor text (docs/openapi-triage.md):
        // a body without messageId is a legacy error; one without serviceException is not.
        (
            "error-legacy",
            json!({"requestError": {"serviceException": {"text": "x"}}}),
            true,
        ),
        (
            "error-legacy",
            json!({"requestError": {"text": "x"}}),
            false,
        ),
        (
            "error-api",
            json!({"errorCode": "E429", "description": "Too many requests", "action": "Slow down",
                "violations": [], "resources": []}),
            true,
        ),
        (
            "error-api",
            json!({"errorCode": "429", "description": "x"}),
            false,
        ),
    ];
    for (schema, body, valid) in cases {
        let v = check(schema, Mode::Strict, &body);
        assert_eq!(v.is_empty(), valid, "{schema} {body}: {v:?}");
    }
}

#[test]
fn pinned_shapes_of_the_doc_examples() {
    for example in EXAMPLES {
        let skeleton = Skeleton::of(&parse_example(example));
        insta::assert_snapshot!(format!("shape__{}", example.name), skeleton.to_string());
    }
}

/// Every `$ref` in the document that points inside it resolves.
fn assert_local_refs_resolve(root: &Value, node: &Value) {
    match node {
        Value::Object(map) => {
            for (key, child) in map {
                if key == "$ref" {
                    let target = child.as_str().expect("$ref is a string");
                    let pointer = target.strip_prefix('#').expect("local $ref");
                    assert!(root.pointer(pointer).is_some(), "dangling {target}");
                } else {
                    assert_local_refs_resolve(root, child);
                }
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|i| assert_local_refs_resolve(root, i)),
        _ => {}
    }
}

#[test]
fn openapi_export_is_a_valid_openapi_3_1_document() {
    let run = run_cli(&["schemas", "openapi"]);
    assert_eq!(run.exit, Exit::Passed, "{}", run.stderr);
    let doc: Value = serde_json::from_str(&run.stdout).expect("JSON output");

    let published: Value = serde_json::from_str(
        &std::fs::read_to_string(project_path("tests/fixtures/openapi-3.1-schema.json"))
            .expect("published schema"),
    )
    .expect("published schema is JSON");
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&published)
        .expect("OpenAPI 3.1 schema compiles");
    let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "not valid OpenAPI 3.1: {errors:#?}");
    // The published schema must reject a broken document, or the check above proves nothing.
    let mut broken = doc.clone();
    broken["paths"]["/people/2/contactInformation/push/{pushRegId}"]["get"]["responses"] =
        json!("none");
    assert!(!validator.is_valid(&broken));

    assert!(
        doc["openapi"]
            .as_str()
            .expect("openapi")
            .starts_with("3.1.")
    );
    assert_eq!(doc["paths"].as_object().expect("paths").len(), 3);
    assert_local_refs_resolve(&doc, &doc);
    for (name, schema) in doc["components"]["schemas"].as_object().expect("schemas") {
        assert!(
            jsonschema::meta::is_valid(schema),
            "component {name} is a valid schema"
        );
    }
    let ops: Vec<&str> = ["get", "patch"]
        .iter()
        .map(|m| &doc["paths"]["/people/2/contactInformation/push/{pushRegId}"][m])
        .chain(["personalize", "depersonalize"].iter().map(|p| {
            &doc["paths"][format!("/people/2/contactInformation/push/{{pushRegId}}/{p}")]["post"]
        }))
        .map(|op| op["operationId"].as_str().expect("operationId"))
        .collect();
    assert_eq!(
        ops,
        [
            "get-push-device-registration",
            "update-push-device-registration",
            "personalize-push-instance",
            "depersonalize-push-instance"
        ]
    );
    let flags: Vec<&str> = doc["paths"]["/people/2/contactInformation/push/{pushRegId}/personalize"]
        ["post"]["parameters"]
        .as_array()
        .expect("personalize parameters")
        .iter()
        .map(|p| p["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        flags,
        [
            "forceDepersonalize",
            "keepAsLead",
            "returnPush",
            "setDeviceAsPrimary"
        ]
    );
    let schemes = doc["components"]["securitySchemes"]
        .as_object()
        .expect("securitySchemes");
    assert_eq!(schemes.len(), 4);
}

#[test]
fn cli_list_validate_and_lint() {
    let list = run_cli(&["schemas", "list"]);
    assert_eq!(list.exit, Exit::Passed);
    for (name, _) in SCHEMA_FILES {
        assert!(list.stdout.contains(name), "{name} listed");
    }

    let get = project_path("tests/fixtures/docs/get-response.json");
    let ok = run_cli(&["schemas", "validate", "push-registration", &get]);
    assert_eq!(ok.exit, Exit::Passed, "{ok:?}");
    assert!(ok.stdout.contains("valid push-registration"));

    let patch = project_path("tests/fixtures/docs/patch-request.json");
    assert_eq!(
        run_cli(&["schemas", "validate", "patch-request", &patch]).exit,
        Exit::Passed
    );
    let strict = run_cli(&["schemas", "validate", "patch-request", &patch, "--strict"]);
    assert_eq!(strict.exit, Exit::CheckFailed);
    assert!(strict.stdout.contains("/isPrmary"), "{}", strict.stdout);

    let lint = run_cli(&["schemas", "lint-docs"]);
    assert_eq!(lint.exit, Exit::Passed, "{}", lint.stdout);
    assert!(
        lint.stdout.contains("birthday \"1985-07-12\""),
        "{}",
        lint.stdout
    );
    // The computed verdict, not the hard-coded disagreement list: the doc's birthday example
    // follows the doc's date format, not the spec's date-time.
    let report = pushcheck::schema::lint::lint_docs(registry(), Mode::Lenient).expect("lint");
    let birthday = report
        .birthdays
        .iter()
        .find(|b| b.value == "1985-07-12")
        .expect("the doc's birthday example");
    assert_eq!(birthday.follows, "date");
    assert!(
        lint.stdout.contains(&format!(
            "note birthday \"1985-07-12\" in {} follows the doc (date), not the spec (date-time)",
            birthday.example
        )),
        "{}",
        lint.stdout
    );
    assert!(report.passed());
    let strict_report = pushcheck::schema::lint::lint_docs(registry(), Mode::Strict).expect("lint");
    let failing: Vec<&str> = strict_report
        .examples
        .iter()
        .filter(|e| !e.violations.is_empty())
        .map(|e| e.example)
        .collect();
    assert_eq!(
        failing,
        vec!["patch-request"],
        "only the isPrmary typo fails strictly"
    );
    let lint_strict = run_cli(&["schemas", "lint-docs", "--strict"]);
    assert_eq!(lint_strict.exit, Exit::CheckFailed);
    assert!(lint_strict.stdout.contains("/isPrmary"));
    assert_eq!(
        lint_strict.stdout.matches("  FAILED ").count(),
        1,
        "{}",
        lint_strict.stdout
    );
}

#[test]
fn cli_bad_input_gets_a_clear_error_and_exit_2() {
    let dir = TempDir::new("schemas-bad-input");
    let not_json = dir.write("bad.json", "{\n  \"registrationId\": \"x\",\n  oops\n}");
    let empty = dir.write("empty.json", "");
    let binary = dir.write("binary.bin", [0xffu8, 0xd8, 0xff, 0x00, 0x10]);
    let huge = dir.path().join("huge.json");
    std::fs::File::create(&huge)
        .and_then(|f| f.set_len(100 * 1024 * 1024))
        .expect("sparse 100 MB file");
    let huge = huge.to_string_lossy().into_owned();
    let missing = dir
        .path()
        .join("missing.json")
        .to_string_lossy()
        .into_owned();
    let directory = dir.path().to_string_lossy().into_owned();

    let cases: [(&[&str], &str); 7] = [
        (
            &["schemas", "validate", "push-registraton", &not_json],
            "unknown schema \"push-registraton\"; known schemas: push-registration",
        ),
        (
            &["schemas", "validate", "push-registration", &not_json],
            "is not valid JSON at line 3, column 3",
        ),
        (
            &["schemas", "validate", "push-registration", &empty],
            "is empty",
        ),
        (
            &["schemas", "validate", "push-registration", &binary],
            "is not text",
        ),
        (
            &["schemas", "validate", "push-registration", &huge],
            "larger than the",
        ),
        (
            &["schemas", "validate", "push-registration", &missing],
            "cannot read",
        ),
        (
            &["schemas", "validate", "push-registration", &directory],
            "is a directory",
        ),
    ];
    for (args, expected) in cases {
        let run = run_cli(args);
        assert_eq!(run.exit, Exit::Usage, "{args:?}: {run:?}");
        assert!(
            run.stderr.contains(expected),
            "{args:?}: stderr was {:?}",
            run.stderr
        );
        assert!(run.stdout.is_empty(), "{args:?}: nothing on stdout");
    }

    let typo = run_cli(&["schemas", "lint-doc"]);
    assert_eq!(typo.exit, Exit::Usage);
    assert!(
        typo.stderr.contains("lint-docs"),
        "suggests the right subcommand: {}",
        typo.stderr
    );

    let unwritable = run_cli(&["schemas", "openapi", "--output", &directory]);
    assert_eq!(unwritable.exit, Exit::Runtime);
    assert!(
        unwritable.stderr.contains("cannot write"),
        "{}",
        unwritable.stderr
    );

    let out = dir.path().join("openapi.json");
    let written = run_cli(&["schemas", "openapi", "--output", &out.to_string_lossy()]);
    assert_eq!(written.exit, Exit::Passed);
    let text = std::fs::read_to_string(&out).expect("written");
    assert!(text.contains("\"openapi\": \"3.1.0\""));
}

#[test]
fn every_shipped_scenario_follows_the_scenario_schema() {
    let mut seen = 0;
    for entry in std::fs::read_dir(project_path("scenarios")).expect("scenarios/") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read");
        let value: Value = toml::from_str(&text).expect("TOML");
        let violations = check("load-scenario", Mode::Lenient, &value);
        assert!(violations.is_empty(), "{}: {violations:#?}", path.display());
        seen += 1;
    }
    assert!(
        seen >= 4,
        "smoke, read-heavy, write-heavy, personalize-storm"
    );
    let bad = json!({"users": 0, "run_time": "5 seconds", "iterations": 3, "mix": {"gett": 1}});
    assert_eq!(
        paths(&check("load-scenario", Mode::Lenient, &bad)),
        vec!["", "/mix", "/mix/gett", "/run_time", "/users"]
    );
    // Weights that send nothing (issue 21, item 5), as pushcheck refuses them.
    let nothing = json!({"mix": {"get": 0, "patch": 0}});
    assert_eq!(
        paths(&check("load-scenario", Mode::Lenient, &nothing)),
        vec!["/mix"]
    );
    let huge = json!({"mix": {"get": 4_294_967_295_u64, "patch": 1}});
    assert!(check("load-scenario", Mode::Lenient, &huge).is_empty());
}
