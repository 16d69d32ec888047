//! The scenario's keys: reading, merging, resolving, and the published schema.

use std::path::Path;
use std::time::Duration;

use super::*;

fn parse(text: &str) -> Result<Scenario, ScenarioError> {
    Scenario::from_toml(text, Path::new("x.toml"))
}

#[test]
fn spans_parse() {
    assert_eq!("1m30s".parse::<Span>().unwrap().0, Duration::from_secs(90));
    assert_eq!(
        "250ms".parse::<Span>().unwrap().0,
        Duration::from_millis(250)
    );
    assert!("5 s".parse::<Span>().is_err());
    assert!("-5s".parse::<Span>().is_err());
    assert_eq!(Span(Duration::from_millis(1500)).whole_seconds(), 2);
}

#[test]
fn a_bad_value_names_file_line_and_field() {
    let err = parse("users = 4\n[validation]\nsample_rate = 1.5\n").unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("x.toml:3:"), "{text}");
    assert!(text.contains("field `sample_rate`"), "{text}");
    assert!(text.contains("between 0 and 1"), "{text}");
}

#[test]
fn a_rule_goose_refuses_is_refused_with_its_reason() {
    let err = parse("thresholds = [\"p95<0\"]\n").unwrap_err().to_string();
    assert!(err.contains("x.toml:1:"), "{err}");
    assert!(err.contains("it can never pass"), "{err}");
}

#[test]
fn times_goose_cannot_take_are_refused_not_rounded() {
    let resolve = |text: &str| parse(text).unwrap().resolve().map_err(|e| e.to_string());
    assert!(
        resolve("run_time = \"0s\"")
            .unwrap_err()
            .contains("at least 1s")
    );
    assert!(
        resolve("run_time = \"1500ms\"")
            .unwrap_err()
            .contains("whole number of seconds")
    );
    assert!(
        resolve("users = 2\nincrease_time = \"0s\"")
            .unwrap_err()
            .contains("at least 1s")
    );
    assert!(resolve("run_time = \"2s\"").is_ok());
    assert!(parse("iterations = 0").is_err());
}

#[test]
fn a_rule_on_a_request_the_mix_never_sends_is_refused() {
    let err = parse("thresholds = [\"p95<1s for POST personalize\"]\n[mix]\nget = 1\n")
        .unwrap()
        .resolve()
        .unwrap_err()
        .to_string();
    assert!(err.contains("never sends"), "{err}");
}

#[test]
fn exclusive_keys_are_reported_at_the_second_one() {
    let err = parse("run_time = \"5s\"\niterations = 3\n")
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("x.toml:2:1: field `iterations`"), "{err}");
}

#[test]
fn flags_win_clear_the_exclusive_key_and_keep_their_rules_apart() {
    let file = parse(
        "users = 4\nrun_time = \"5s\"\nthresholds = [\"p95<1s\"]\n[validation]\nsample_rate = 0.5\n",
    )
    .unwrap();
    let flags = Scenario {
        iterations: Some(2),
        thresholds: Some(vec!["p95<2s".parse().unwrap()]),
        validation: Some(Validation {
            sample_rate: None,
            mode: Some(Mode::Strict),
        }),
        ..Scenario::default()
    };
    let merged = file.merge(flags);
    assert_eq!(
        (merged.users, merged.run_time, merged.iterations),
        (Some(4), None, Some(2))
    );
    let validation = merged.validation.unwrap();
    assert_eq!(validation.sample_rate, Some(SampleRate(0.5)));
    assert_eq!(validation.mode, Some(Mode::Strict));
    let plan = merged.resolve().unwrap();
    let p95: Vec<_> = plan
        .thresholds
        .iter()
        .filter(|t| t.rule.text().starts_with("p95"))
        .map(|t| t.rule.text())
        .collect();
    assert_eq!(p95, ["p95<2s"], "the flag's rule replaces the file's");
}

#[test]
fn largest_share_caps_the_busiest_operation() {
    let mix = Mix {
        get: 3,
        patch: 1,
        personalize: 0,
        depersonalize: 0,
    };
    assert!((mix.largest_share() - 0.75).abs() < 1e-9);
}

/// The keys serde's derive reads for `T`, as it names them to the deserializer.
fn serde_keys<T: serde::de::DeserializeOwned>() -> Vec<&'static str> {
    use serde::de::value::Error;
    use std::cell::Cell;

    struct Capture<'a>(&'a Cell<&'static [&'static str]>);
    impl<'de> serde::Deserializer<'de> for Capture<'_> {
        type Error = Error;
        fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Error> {
            Err(serde::de::Error::custom("not a struct"))
        }
        fn deserialize_struct<V: serde::de::Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Error> {
            self.0.set(fields);
            Err(serde::de::Error::custom("captured"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }
    let fields = Cell::new(&[][..]);
    let _ = T::deserialize(Capture(&fields));
    fields.get().to_vec()
}

/// The kinds of TOML value a schema node admits (whatever else it says about the value).
fn schema_kinds(node: &serde_json::Value, root: &serde_json::Value) -> Vec<&'static str> {
    let kind = |t: &str| match t {
        "integer" => vec!["integer"],
        "number" => vec!["integer", "float"],
        "string" => vec!["string"],
        "boolean" => vec!["boolean"],
        "array" => vec!["array"],
        "object" => vec!["table"],
        other => panic!("schema type {other}"),
    };
    let mut kinds: Vec<&'static str> = if let Some(t) = node["type"].as_str() {
        kind(t)
    } else if let Some(values) = node["enum"].as_array() {
        values
            .iter()
            .flat_map(|v| match v {
                serde_json::Value::String(_) => kind("string"),
                serde_json::Value::Number(_) => kind("number"),
                serde_json::Value::Bool(_) => kind("boolean"),
                _ => panic!("enum value {v}"),
            })
            .collect()
    } else if let Some(reference) = node["$ref"].as_str() {
        let pointer = reference.trim_start_matches('#');
        schema_kinds(root.pointer(pointer).expect("$ref resolves"), root)
    } else if let Some(branches) = node["oneOf"].as_array() {
        branches
            .iter()
            .flat_map(|b| schema_kinds(b, root))
            .collect()
    } else {
        panic!("no type in {node}")
    };
    kinds.sort_unstable();
    kinds.dedup();
    kinds
}

/// The kinds of TOML value pushcheck reads at `place` (a TOML text with `{}` where the value
/// goes): a value of another kind is refused as "invalid type" (serde's words; toml's for an
/// enum: "wanted string or table", "wanted exactly 1 element"), whatever else is refused.
fn rust_kinds(place: &str) -> Vec<&'static str> {
    let mut kinds: Vec<&'static str> = [
        ("integer", "1"),
        ("float", "0.5"),
        ("string", "\"x\""),
        ("boolean", "true"),
        ("array", "[]"),
        ("table", "{}"),
    ]
    .into_iter()
    .filter(|(_, probe)| {
        parse(&place.replace("{}", probe)).err().is_none_or(|e| {
            let e = e.to_string();
            !e.contains("invalid type") && !e.contains(": wanted ")
        })
    })
    .map(|(kind, _)| kind)
    .collect();
    kinds.sort_unstable();
    kinds
}

/// Where a key's value goes in a scenario file, `{}` standing for the value.
type Place = fn(&str) -> String;

#[test]
fn the_published_schema_has_every_key_of_the_scenario_and_no_other() {
    let root = crate::schema::registry()
        .document("load-scenario")
        .expect("schemas/load-scenario.json");
    let keys = |node: &serde_json::Value| -> Vec<String> {
        let mut keys: Vec<String> = node["properties"]
            .as_object()
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        keys.sort();
        keys
    };
    let sorted = |mut names: Vec<&str>| -> Vec<String> {
        names.sort_unstable();
        names.into_iter().map(String::from).collect()
    };
    let top = &root["properties"];
    let stage = &top["stages"]["items"];
    let rates = &top["arrival_rate"]["oneOf"][1];
    // Every table of a scenario: its schema node, its Rust keys, where a value of a key goes.
    let tables: [(&serde_json::Value, Vec<&str>, Place); 5] = [
        (root, serde_keys::<Scenario>(), |k| format!("{k} = {{}}")),
        (&top["validation"], serde_keys::<Validation>(), |k| {
            format!("[validation]\n{k} = {{}}")
        }),
        (&top["mix"], serde_keys::<Mix>(), |k| {
            format!("[mix]\n{k} = {{}}")
        }),
        (rates, serde_keys::<Mix>(), |k| {
            format!("[arrival_rate]\n{k} = {{}}")
        }),
        (stage, serde_keys::<Stage>(), |k| {
            let other = if k == "users" {
                "duration = \"1s\""
            } else {
                "users = 1"
            };
            format!("stages = [{{ {k} = {{}}, {other} }}]")
        }),
    ];
    assert_eq!(
        serde_keys::<Scenario>(),
        Key::ALL.iter().map(|k| k.name()).collect::<Vec<_>>(),
        "the file's keys are the flags' keys"
    );
    for (node, rust, place) in tables {
        assert_eq!(keys(node), sorted(rust.clone()), "{node}");
        assert_eq!(node["additionalProperties"], false, "{node}");
        for key in rust {
            let in_file = place(key);
            let schema = schema_kinds(&node["properties"][key], root);
            let mut rust = rust_kinds(&in_file);
            if schema == ["table"] {
                // serde's derive also reads a struct from an array, its fields by position
                // (`mix = [1, 0, 0, 0]`); the schema does not say so, and need not.
                rust.retain(|kind| *kind != "array");
            }
            assert_eq!(rust, schema, "{in_file}");
        }
        // An unknown key is refused by both.
        let unknown = place("bogus").replace("{}", "1");
        assert!(parse(&unknown).is_err(), "{unknown}");
        let as_json: serde_json::Value = toml::from_str(&unknown).expect("TOML");
        let valid = crate::schema::registry()
            .is_valid("load-scenario", Mode::Lenient, &as_json)
            .expect("known schema");
        assert!(!valid, "the schema refuses {unknown}");
    }
    // The names both accept: always-on rules, mitigation modes, validation modes.
    let names = |node: &serde_json::Value| -> Vec<String> {
        let mut names: Vec<String> = node["enum"]
            .as_array()
            .expect("enum")
            .iter()
            .map(|v| v.as_str().expect("a name").to_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        names(&top["without_rules"]["items"]),
        sorted(AlwaysOn::ALL.map(AlwaysOn::name).to_vec())
    );
    let modes = [
        CoMitigation::Disabled,
        CoMitigation::Average,
        CoMitigation::Minimum,
        CoMitigation::Maximum,
    ];
    assert_eq!(
        names(&top["co_mitigation"]),
        sorted(modes.map(CoMitigation::as_str).to_vec())
    );
    for name in names(&top["co_mitigation"]) {
        parse(&format!("co_mitigation = {name:?}")).expect("pushcheck reads it");
    }
    assert_eq!(
        names(&top["validation"]["properties"]["mode"]),
        ["lenient", "strict"]
    );
    for name in names(&top["validation"]["properties"]["mode"]) {
        parse(&format!("[validation]\nmode = {name:?}")).expect("pushcheck reads it");
    }
}

#[test]
fn a_top_level_key_after_a_table_says_where_it_belongs() {
    let err = Scenario::from_toml("[mix]\nget = 1\nrun_time = \"2s\"\n", Path::new("s.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("s.toml:3:1: field `run_time`: unknown field `run_time`"),
        "{err}"
    );
    assert!(
        err.contains("put `run_time` above the first [table]"),
        "{err}"
    );
    // A key that is nowhere a scenario key gets no such hint.
    let err = Scenario::from_toml("[mix]\nget = 1\nnope = 2\n", Path::new("s.toml"))
        .unwrap_err()
        .to_string();
    assert!(!err.contains("top-level key"), "{err}");
}
