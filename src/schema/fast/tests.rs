//! The fast path against `jsonschema`: bodies generated from the schemas themselves (each
//! field's type, enum members, length and numeric boundaries, required and unknown properties,
//! map keys at their limit), plus text-level oddities (duplicate keys, escapes, bad UTF-8,
//! trailing bytes). The fast path must never say yes where `jsonschema` says no, and must say
//! yes on every plain valid body, so a schema change can neither slip past it nor switch it off
//! silently.

use serde_json::{Map, Value, json};

use super::*;
use crate::api::{Operation, docs, field};
use crate::schema::judge::{Expect, Meaning, judge};
use crate::schema::registry;

/// The schemas the load's answers are judged by: the 2xx bodies and every error body.
fn answer_schemas() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Operation::ALL
        .iter()
        .flat_map(|op| op.response_schemas().iter().copied())
        .collect();
    for answer in Operation::Get.error_answers() {
        names.extend(answer.schemas);
    }
    names.sort_unstable();
    names.dedup();
    names
}

/// A generated value, and whether it is plain (nothing the fast path may leave to the full
/// judge: no float, no date-shaped string, no value the generator could not make valid).
#[derive(Debug, Clone)]
struct Sample {
    value: Value,
    plain: bool,
}

fn plain(value: Value) -> Sample {
    Sample { value, plain: true }
}

fn odd(value: Value) -> Sample {
    Sample {
        value,
        plain: false,
    }
}

/// Generates values from the schema documents (resolving `$ref`s by file name).
struct Generator {
    docs: Vec<(&'static str, Value)>,
}

impl Generator {
    fn new() -> Generator {
        let docs = SCHEMA_FILES
            .iter()
            .map(|(n, t)| (*n, serde_json::from_str(t).expect("schema parses")))
            .collect();
        Generator { docs }
    }

    fn resolve(&self, file: &'static str, reference: &str) -> (&'static str, &Value) {
        let (target, fragment) = reference.split_once('#').unwrap_or((reference, ""));
        let target = if target.is_empty() {
            file
        } else {
            target.trim_end_matches(".json")
        };
        let (name, doc) = self
            .docs
            .iter()
            .find(|(n, _)| *n == target)
            .expect("known file");
        (name, doc.pointer(fragment).expect("known pointer"))
    }

    /// A value `schema` accepts (as far as the generator knows how to make one); plain when
    /// every schema it was made from is one the fast path understands.
    fn good(&self, file: &'static str, schema: &Value, depth: usize) -> Sample {
        let Value::Object(map) = schema else {
            return plain(json!("s"));
        };
        let mut sample = self.good_of(file, map, depth);
        sample.plain &= self.understood_here(file, map, depth);
        sample
    }

    fn good_of(&self, file: &'static str, map: &Map<String, Value>, depth: usize) -> Sample {
        if let Some(Value::String(r)) = map.get("$ref") {
            let (f, target) = self.resolve(file, r);
            return self.good(f, target, depth + 1);
        }
        if let Some(Value::Array(members)) = map.get("enum") {
            return plain(members[0].clone());
        }
        if let Some(Value::Array(branches)) = map.get("anyOf").filter(|_| !map.contains_key("type"))
        {
            return self.good(file, &branches[0], depth + 1);
        }
        let ty = match map.get("type") {
            Some(Value::String(t)) => t.as_str(),
            Some(Value::Array(ts)) => ts[0].as_str().unwrap_or("string"),
            _ if map.contains_key("properties") => "object",
            _ => "string",
        };
        match ty {
            "object" => {
                let mut out = Map::new();
                let mut all_plain = true;
                let props = map.get("properties").and_then(Value::as_object);
                for name in map
                    .get("required")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let name = name.as_str().expect("a name");
                    let sub = props
                        .and_then(|p| p.get(name))
                        .unwrap_or(&Value::Bool(true));
                    let good = self.good(file, sub, depth + 1);
                    all_plain &= good.plain;
                    out.insert(name.to_owned(), good.value);
                }
                Sample {
                    value: Value::Object(out),
                    plain: all_plain,
                }
            }
            "array" => plain(json!([])),
            "integer" | "number" => plain(json!(7)),
            "boolean" => plain(json!(true)),
            "null" => plain(Value::Null),
            _ if map.get("pattern").is_some() => plain(json!("E400")),
            _ => plain(json!("s")),
        }
    }

    /// Whether the fast path understands what this schema says of a value itself: its own
    /// keywords and those of the schemas applied to the same value (`$ref`, `allOf`, `anyOf`,
    /// `oneOf`, `not`, `if`; a `then` applies only to the date-shaped strings, never plain).
    fn understood_here(&self, file: &'static str, map: &Map<String, Value>, depth: usize) -> bool {
        if depth > 12 || !understood(map) {
            return false;
        }
        let sub = |v: &Value| match v {
            Value::Object(m) => self.understood_here(file, m, depth + 1),
            _ => true,
        };
        if let Some(Value::String(r)) = map.get("$ref") {
            let (f, target) = self.resolve(file, r);
            if let Value::Object(m) = target
                && !self.understood_here(f, m, depth + 1)
            {
                return false;
            }
        }
        ["allOf", "anyOf", "oneOf"]
            .iter()
            .flat_map(|k| map.get(*k).and_then(Value::as_array).into_iter().flatten())
            .chain(["not", "if"].iter().filter_map(|k| map.get(*k)))
            .all(sub)
    }

    /// Values for `schema`: valid ones, and each way to break it, at every boundary it states.
    fn samples(&self, file: &'static str, schema: &Value, depth: usize) -> Vec<Sample> {
        let mut out: Vec<Sample> = [
            json!(null),
            json!(true),
            json!(false),
            json!(0),
            json!(-3),
            json!("s"),
            json!(""),
            json!([]),
            json!({}),
        ]
        .into_iter()
        .map(plain)
        .collect();
        out.extend([json!(2.5), json!(1.0), json!(-0.0)].map(odd));
        let Value::Object(map) = schema else {
            return out;
        };
        if depth > 6 {
            return out;
        }
        let good = self.good(file, schema, depth);
        out.push(good.clone());
        if let Some(Value::String(r)) = map.get("$ref") {
            let (f, target) = self.resolve(file, r);
            out.extend(self.samples(f, target, depth + 1));
        }
        for keyword in ["anyOf", "allOf", "oneOf"] {
            for branch in map
                .get(keyword)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                out.extend(self.samples(file, branch, depth + 1));
            }
        }
        for keyword in ["if", "then", "else", "not"] {
            if let Some(sub) = map.get(keyword) {
                out.extend(self.samples(file, sub, depth + 1));
            }
        }
        if let Some(Value::Array(members)) = map.get("enum") {
            for m in members {
                out.push(plain(m.clone()));
                if let Some(s) = m.as_str() {
                    out.push(plain(json!(s.to_lowercase())));
                    out.push(plain(json!(format!("{s} "))));
                }
            }
        }
        for keyword in ["maxLength", "minLength"] {
            if let Some(n) = map.get(keyword).and_then(Value::as_u64) {
                for len in [n.saturating_sub(1), n, n + 1] {
                    let len = len as usize;
                    out.push(plain(json!("a".repeat(len))));
                    out.push(plain(json!("é".repeat(len))));
                    out.push(plain(json!("😀".repeat(len))));
                }
            }
        }
        for keyword in ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"] {
            if let Some(n) = map.get(keyword).and_then(Value::as_number) {
                let b = n.as_i64().map(i128::from).or(n.as_u64().map(i128::from));
                for d in [-1i128, 0, 1] {
                    let at = b.map(|b| b + d);
                    if let Some(x) = at.and_then(|x| i64::try_from(x).ok()) {
                        out.push(plain(json!(x)));
                    } else if let Some(x) = at.and_then(|x| u64::try_from(x).ok()) {
                        out.push(plain(json!(x)));
                    }
                }
                let f = n.as_f64().unwrap_or_default();
                out.extend([json!(f), json!(f * 2.0), json!(f / 2.0 + 0.5)].map(odd));
                out.push(plain(json!(u64::MAX)));
                out.push(plain(json!(i64::MIN)));
            }
        }
        if map.contains_key("pattern") || map.contains_key("format") || map.contains_key("if") {
            for s in [
                "2024-02-29",
                "2024-02-30",
                "2023-02-29",
                "0000-00-00",
                "2024-1-01",
                "2024-01-01\n",
                " 2024-01-01",
                "2024-01-01T10:00:00Z",
            ] {
                out.push(odd(json!(s)));
            }
            for s in [
                "E400", "E599", "E600", "E40", "e400", "E4000", "E400\n", "xE400",
            ] {
                out.push(plain(json!(s)));
            }
        }
        if let Some(items) = map.get("items") {
            let item = self.good(file, items, depth + 1);
            out.push(Sample {
                value: json!([item.value, item.value]),
                plain: item.plain,
            });
            for s in self.samples(file, items, depth + 1) {
                out.push(Sample {
                    value: json!([item.value, s.value]),
                    plain: s.plain && item.plain,
                });
            }
        }
        if let Value::Object(good_map) = &good.value {
            for mut s in self.object_samples(file, map, good_map, depth) {
                s.plain &= good.plain;
                out.push(s);
            }
        }
        if !self.understood_here(file, map, depth) {
            out.iter_mut().for_each(|s| s.plain = false);
        }
        out
    }

    /// An object at its good value, with each property set to each of its samples, each
    /// required one left out, an unknown one added, and map keys at their limits.
    fn object_samples(
        &self,
        file: &'static str,
        map: &Map<String, Value>,
        good: &Map<String, Value>,
        depth: usize,
    ) -> Vec<Sample> {
        let mut out = Vec::new();
        let with = |k: &str, v: Value| {
            let mut o = good.clone();
            o.insert(k.to_owned(), v);
            Value::Object(o)
        };
        if let Some(Value::Object(props)) = map.get("properties") {
            let mut all = good.clone();
            let mut all_plain = true;
            for (k, sub) in props {
                let good = self.good(file, sub, depth + 1);
                all_plain &= good.plain;
                all.insert(k.clone(), good.value);
                for s in self.samples(file, sub, depth + 1) {
                    out.push(Sample {
                        value: with(k, s.value),
                        plain: s.plain,
                    });
                }
            }
            out.push(Sample {
                value: Value::Object(all),
                plain: all_plain,
            });
        }
        for name in good.keys() {
            let mut o = good.clone();
            o.remove(name);
            out.push(plain(Value::Object(o)));
        }
        out.push(plain(with(
            "undocumentedField",
            json!({"deep": [1, {"x": null}]}),
        )));
        if let Some(additional) = map.get("additionalProperties") {
            let mut keys = vec!["k".to_owned(), "pushcheck_load_seq".to_owned()];
            let limit = map
                .get("propertyNames")
                .and_then(|p| match p.get("$ref") {
                    Some(Value::String(r)) => self.resolve(file, r).1.get("maxLength"),
                    _ => p.get("maxLength"),
                })
                .and_then(Value::as_u64);
            if let Some(n) = limit {
                for len in [n, n + 1] {
                    keys.push("k".repeat(len as usize));
                    keys.push(
                        "ключ"
                            .repeat(len as usize / 4 + 1)
                            .chars()
                            .take(len as usize)
                            .collect(),
                    );
                }
            }
            for key in &keys {
                out.push(plain(with(key, json!("v"))));
            }
            for s in self.samples(file, additional, depth + 1) {
                out.push(Sample {
                    value: with("k", s.value),
                    plain: s.plain,
                });
            }
        }
        out
    }
}

/// Whether the fast path understands every keyword of this schema object itself (not its
/// subschemas), and none that only ever makes it unsure (`format`).
fn understood(map: &Map<String, Value>) -> bool {
    map.keys().all(|k| {
        k != "format"
            && (compile::UNDERSTOOD.contains(&k.as_str())
                || compile::ANNOTATIONS.contains(&k.as_str()))
    })
}

/// Bodies for schema `name`: the generated values as text, and text-level oddities.
fn bodies(g: &Generator, name: &'static str) -> Vec<(Vec<u8>, bool)> {
    let doc = &g.docs.iter().find(|(n, _)| *n == name).expect("known").1;
    let mut out: Vec<(Vec<u8>, bool)> = g
        .samples(name, doc, 0)
        .into_iter()
        .map(|s| (s.value.to_string().into_bytes(), s.plain))
        .collect();
    let good = g.good(name, doc, 0).value.to_string();
    let inner = good
        .trim_start_matches('{')
        .trim_end_matches('}')
        .to_owned();
    let sep = if inner.is_empty() { "" } else { "," };
    let texts = [
        format!(" \n{good}\t "),
        format!("{good}x"),
        format!("{good}{good}"),
        good[..good.len().saturating_sub(1)].to_owned(),
        String::new(),
        "{".to_owned(),
        format!("{{{inner}{sep}{inner}}}"),
        format!("{{{inner}{sep}\"undocumented\":\"a\\u00e9\\n\\\"b\"}}"),
        format!("{{{inner}{sep}\"undocumented\":[[[[[[[[1]]]]]]]]}}"),
        format!("{{{inner}{sep}\"undocumented\":1e400}}"),
        format!("{{{inner}{sep}\"undocumented\":100000000000000000000000}}"),
        format!("{{{inner}{sep}\"undocumented\":-0}}"),
        format!("{{{inner}{sep}\"undocumented\":01}}"),
        format!("{{{inner}{sep}\"undocumented\":'a'}}"),
        format!("\u{feff}{good}"),
    ];
    out.extend(texts.into_iter().map(|t| (t.into_bytes(), false)));
    // Escaped keys and values, and bytes that are not UTF-8 where nothing reads them.
    let escaped = good.replace("\"registrationId\"", "\"registr\\u0061tionId\"");
    out.push((escaped.into_bytes(), false));
    let mut bad_utf8 = format!("{{{inner}{sep}\"undocumented\":\"").into_bytes();
    bad_utf8.extend([0xff, 0xfe]);
    bad_utf8.extend(b"\"}");
    out.push((bad_utf8, false));
    let mut bad_key = format!("{{{inner}{sep}\"").into_bytes();
    bad_key.extend([0xc3]);
    bad_key.extend(b"\":1}");
    out.push((bad_key, false));
    out
}

fn full(name: &str, mode: Mode, body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body)
        .is_ok_and(|v| registry().is_valid(name, mode, &v).expect("known schema"))
}

#[test]
fn the_fast_path_agrees_with_jsonschema_on_generated_bodies() {
    let g = Generator::new();
    for name in answer_schemas() {
        let cases = bodies(&g, name);
        assert!(cases.len() > 40, "{name}: {} bodies", cases.len());
        for mode in [Mode::Lenient, Mode::Strict] {
            let (mut valid, mut fast_yes) = (0, 0);
            for (body, plain) in &cases {
                let text = String::from_utf8_lossy(body);
                let full = full(name, mode, body);
                let fast = accepts(name, mode, body, &[]);
                assert!(
                    !fast || full,
                    "{name} {mode}: fast yes, jsonschema no: {text}"
                );
                assert!(
                    fast || !full || !plain,
                    "{name} {mode}: a plain valid body left to the full judge: {text}"
                );
                valid += usize::from(full);
                fast_yes += usize::from(fast);
            }
            assert!(
                valid > 5 && fast_yes > 5,
                "{name} {mode}: {valid} valid, {fast_yes} fast"
            );
        }
    }
}

#[test]
fn the_schemas_the_load_reads_are_understood() {
    for name in answer_schemas() {
        for mode in [Mode::Lenient, Mode::Strict] {
            assert!(understands(name, mode), "{name} {mode}");
        }
    }
    let get = docs::example("get-response")
        .expect("embedded")
        .json
        .as_bytes();
    let id: Value = serde_json::from_slice(get).expect("JSON");
    let want = |path, key: &str| Want {
        path,
        value: id[key].as_str().expect("a string"),
    };
    let wants = [
        want(&[field::REGISTRATION_ID], field::REGISTRATION_ID),
        want(&[field::APPLICATION_ID], field::APPLICATION_ID),
    ];
    for mode in [Mode::Lenient, Mode::Strict] {
        assert!(accepts("push-registration", mode, get, &wants), "{mode}");
    }
    let other = [Want {
        path: &[field::REGISTRATION_ID],
        value: "another",
    }];
    assert!(!accepts("push-registration", Mode::Lenient, get, &other));
    assert!(!accepts("no-such-schema", Mode::Lenient, get, &[]));
}

/// The judge gives the same answer with the fast path as without it, on every generated body,
/// for the meanings the load asks (right and wrong ID, applicationId, the PATCH's write).
#[test]
fn the_judge_answers_the_same_with_and_without_the_fast_path() {
    let g = Generator::new();
    let written = json!("run:7");
    let meanings = [
        Meaning::Nothing,
        Meaning::Registration { id: "s" },
        Meaning::Registration { id: "other" },
        Meaning::Wrote {
            id: "s",
            name: "k",
            value: &written,
        },
        Meaning::Person {
            external_id: Some("s"),
            phone: None,
            email: None,
        },
        Meaning::Person {
            external_id: Some("s"),
            phone: Some("s"),
            email: None,
        },
    ];
    let mut cases: Vec<(Operation, u16, Vec<u8>)> = Vec::new();
    for (op, name) in [
        (Operation::Get, "push-registration"),
        (Operation::Patch, "push-registration"),
        (Operation::Personalize, "personalize-response"),
    ] {
        cases.extend(bodies(&g, name).into_iter().map(|(b, _)| (op, 200, b)));
    }
    cases.push((
        Operation::Patch,
        200,
        json!({"registrationId": "s", "applicationId": "s", "additionalData": {"k": "run:7"}})
            .to_string()
            .into_bytes(),
    ));
    for answer in Operation::Get.error_answers() {
        for name in answer.schemas {
            cases.extend(
                bodies(&g, name)
                    .into_iter()
                    .map(|(b, _)| (Operation::Get, answer.status, b)),
            );
        }
    }
    let mut fast_taken = 0;
    for (op, status, body) in &cases {
        for meaning in meanings {
            for application_id in [None, Some("s"), Some("x")] {
                for (mode, undocumented) in [
                    (Mode::Lenient, false),
                    (Mode::Lenient, true),
                    (Mode::Strict, false),
                ] {
                    let expect = Expect {
                        meaning,
                        application_id,
                        undocumented,
                        ..Expect::default()
                    };
                    let fast_expect = Expect {
                        discard_body: true,
                        ..expect
                    };
                    let ct = Some("application/json");
                    let slow = judge(*op, *status, ct, body, true, mode, &expect);
                    let fast = judge(*op, *status, ct, body, true, mode, &fast_expect);
                    let text = String::from_utf8_lossy(body);
                    assert_eq!(
                        (&slow.problem, &slow.undocumented, slow.validated),
                        (&fast.problem, &fast.undocumented, fast.validated),
                        "{op:?} {status} {mode} {meaning:?} {application_id:?}: {text}"
                    );
                    fast_taken += usize::from(fast.body.is_none());
                }
            }
        }
    }
    assert!(
        fast_taken > 100,
        "the fast path was taken {fast_taken} times"
    );
}

/// Each thing the fast path does not understand sends the value to the full judge.
#[test]
fn what_it_does_not_understand_is_not_sure() {
    let docs = vec![(
        "t",
        json!({"$id": "https://pushcheck.invalid/schemas/t.json", "type": "object", "properties": {
            "unknown": {"type": "array", "uniqueItems": true},
            "escape": {"type": "string", "pattern": "^\\d+$"},
            "flags": {"type": "string", "pattern": "(?i)^a$"},
            "moved": {"$id": "other.json", "type": "string"},
            "date": {"type": "string", "format": "date"},
            "whole": {"type": "integer"},
            "numbers": {"enum": [1, 2]},
            "bounded": {"type": "number", "maximum": 1.5},
            "plain": {"type": "string", "pattern": "^a+$", "maxLength": 3}
        }}),
    )];
    let node = Compiler { docs: &docs }.compile("t", &docs[0].1, 0);
    let sure = |body: &str| walk(&node, body.as_bytes(), &[]);
    for body in [
        r#"{"unknown": []}"#,
        r#"{"escape": "1"}"#,
        r#"{"flags": "a"}"#,
        r#"{"moved": "x"}"#,
        r#"{"date": "2024-01-01"}"#,
        r#"{"whole": 1.0}"#,
        r#"{"numbers": 1}"#,
        r#"{"bounded": 1}"#,
        r#"{"plain": "aaaa"}"#,
        r#"{"plain": "b"}"#,
    ] {
        assert!(!sure(body), "{body}");
    }
    for body in [
        r#"{}"#,
        r#"{"whole": 1}"#,
        r#"{"plain": "aaa"}"#,
        r#"{"other": 1}"#,
    ] {
        assert!(sure(body), "{body}");
    }
}
