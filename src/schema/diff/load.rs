//! Reading a published OpenAPI document: a file or standard input, JSON or YAML, into a
//! `serde_json::Value`, and telling OpenAPI 3.0 from 3.1.
//!
//! Every error names the input. Nothing here panics or exhausts memory on hostile input: the
//! size is capped by [`input::MAX_DOCUMENT_BYTES`], and YAML is scanned once (events only, no
//! tree) before it is loaded, refusing nesting deeper than [`MAX_DEPTH`] and aliases that would
//! expand past [`MAX_YAML_NODES`] nodes ("billion laughs").

use serde_json::{Map, Value};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;
use yaml_rust2::{Yaml, YamlLoader};

use crate::schema::input::{self, InputError, Source};

/// Deepest nesting accepted in a YAML document (serde_json's own limit for JSON is 128).
pub const MAX_DEPTH: usize = 128;

/// Most nodes a YAML document may expand to, aliases counted at their full size.
pub const MAX_YAML_NODES: u64 = 5_000_000;

/// Which OpenAPI the document says it is (`openapi: 3.0.x` or `3.1.x`). They differ in what
/// `diff` normalizes: 3.0's `nullable` and boolean `exclusiveMaximum`, and 3.0 ignores the
/// siblings of a `$ref` where 3.1 applies them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Version {
    #[serde(rename = "3.0")]
    V3_0,
    #[serde(rename = "3.1")]
    V3_1,
}

/// A parsed OpenAPI document.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The input's name (a path, or `<stdin>`).
    pub source: String,
    pub document: Value,
    pub version: Version,
    /// The `openapi` field as written (`3.1.0`).
    pub openapi: String,
}

/// Why a document could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Read(#[from] InputError),
    #[error("{source_name} is empty: expected an OpenAPI document (JSON or YAML)")]
    Empty { source_name: String },
    #[error(
        "{source_name} is not text (invalid UTF-8 at byte {offset}): expected an OpenAPI document"
    )]
    NotText { source_name: String, offset: usize },
    #[error("{source_name} is not valid YAML at line {line}, column {column}: {message}")]
    NotYaml {
        source_name: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "{source_name} is too deeply nested or expands too far (YAML aliases) to be an OpenAPI document"
    )]
    TooLarge { source_name: String },
    #[error("{source_name} is not an OpenAPI 3.0 or 3.1 document: {why}")]
    NotOpenApi { source_name: String, why: String },
}

/// Reads and parses the document at `source`.
pub fn load(source: &Source) -> Result<Loaded, LoadError> {
    let bytes = input::read_bytes(source)?;
    parse(&bytes, &source.to_string())
}

/// Parses `bytes` (JSON when it starts with `{`, YAML otherwise) and checks it is OpenAPI 3.0
/// or 3.1; `source_name` names it in errors.
pub fn parse(bytes: &[u8], source_name: &str) -> Result<Loaded, LoadError> {
    let name = || source_name.to_owned();
    let text = std::str::from_utf8(bytes).map_err(|e| LoadError::NotText {
        source_name: name(),
        offset: e.valid_up_to(),
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(LoadError::Empty {
            source_name: name(),
        });
    }
    let document = if text.trim_start().starts_with('{') {
        input::parse_json(text.as_bytes(), source_name)?
    } else {
        parse_yaml(text, source_name)?
    };
    let (version, openapi) = version_of(&document).map_err(|why| LoadError::NotOpenApi {
        source_name: name(),
        why,
    })?;
    Ok(Loaded {
        source: name(),
        document,
        version,
        openapi,
    })
}

/// The version an OpenAPI document declares, or why it is not one this command reads.
fn version_of(document: &Value) -> Result<(Version, String), String> {
    let Value::Object(map) = document else {
        return Err("the top level is not a mapping".to_owned());
    };
    if let Some(swagger) = map.get("swagger") {
        return Err(format!(
            "it is Swagger {} (OpenAPI 2); convert it to OpenAPI 3",
            scalar(swagger)
        ));
    }
    let Some(openapi) = map.get("openapi") else {
        return Err("it has no `openapi` field".to_owned());
    };
    let written = scalar(openapi);
    let version = if written.starts_with("3.0") {
        Version::V3_0
    } else if written.starts_with("3.1") {
        Version::V3_1
    } else {
        return Err(format!("`openapi: {written}` is not 3.0.x or 3.1.x"));
    };
    if !map.get("paths").is_some_and(Value::is_object) {
        return Err("it has no `paths` object".to_owned());
    }
    Ok((version, written))
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Parses YAML into JSON values: the first document of the stream; mapping keys that are not
/// strings are written as their YAML text.
fn parse_yaml(text: &str, source_name: &str) -> Result<Value, LoadError> {
    let not_yaml = |e: yaml_rust2::ScanError| LoadError::NotYaml {
        source_name: source_name.to_owned(),
        line: e.marker().line(),
        column: e.marker().col() + 1,
        message: e.info().to_owned(),
    };
    let mut guard = Guard::default();
    Parser::new_from_str(text)
        .load(&mut guard, false)
        .map_err(not_yaml)?;
    if guard.exceeded {
        return Err(LoadError::TooLarge {
            source_name: source_name.to_owned(),
        });
    }
    let docs = YamlLoader::load_from_str(text).map_err(not_yaml)?;
    Ok(docs.first().map_or(Value::Null, to_json))
}

/// Walks the YAML events once: depth and the expanded size (an alias counts as big as its
/// anchor's node), so that loading cannot overflow the stack or exhaust memory.
#[derive(Debug, Default)]
struct Guard {
    /// For each open collection: its anchor and the nodes inside so far.
    open: Vec<(usize, u64)>,
    /// Expanded size of each anchored node.
    anchored: std::collections::HashMap<usize, u64>,
    total: u64,
    exceeded: bool,
}

impl Guard {
    fn add(&mut self, nodes: u64) {
        self.total = self.total.saturating_add(nodes);
        if let Some((_, inside)) = self.open.last_mut() {
            *inside = inside.saturating_add(nodes);
        }
    }
}

impl MarkedEventReceiver for Guard {
    fn on_event(&mut self, event: Event, _mark: Marker) {
        match event {
            Event::Scalar(_, _, anchor, _) => {
                self.anchored.insert(anchor, 1);
                self.add(1);
            }
            Event::Alias(id) => {
                let size = self.anchored.get(&id).copied().unwrap_or(1);
                self.add(size);
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                self.open.push((anchor, 1));
                self.exceeded |= self.open.len() > MAX_DEPTH;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((anchor, size)) = self.open.pop() {
                    self.anchored.insert(anchor, size);
                    self.total = self.total.saturating_add(1);
                    if let Some((_, inside)) = self.open.last_mut() {
                        *inside = inside.saturating_add(size);
                    }
                }
            }
            _ => {}
        }
        self.exceeded |= self.total > MAX_YAML_NODES;
    }
}

fn to_json(yaml: &Yaml) -> Value {
    match yaml {
        Yaml::Real(text) => serde_json::from_str::<serde_json::Number>(text)
            .map(Value::Number)
            .or_else(|_| text.parse::<f64>().map(Value::from))
            .unwrap_or(Value::Null),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Array(items) => Value::Array(items.iter().map(to_json).collect()),
        Yaml::Hash(hash) => {
            let mut map = Map::new();
            for (key, value) in hash {
                map.insert(key_text(key), to_json(value));
            }
            Value::Object(map)
        }
        Yaml::Alias(_) | Yaml::Null | Yaml::BadValue => Value::Null,
    }
}

/// A mapping key as text: OpenAPI's status codes (`200:`) are YAML integers.
fn key_text(key: &Yaml) -> String {
    match key {
        Yaml::String(s) | Yaml::Real(s) => s.clone(),
        Yaml::Integer(i) => i.to_string(),
        Yaml::Boolean(b) => b.to_string(),
        Yaml::Null => "null".to_owned(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_becomes_json_with_status_keys_as_text() {
        let loaded = parse(
            b"openapi: 3.0.3\npaths:\n  /x:\n    get:\n      responses:\n        200: {description: ok}\n        big: 9223372036854775808\n",
            "a.yaml",
        )
        .expect("YAML");
        assert_eq!(loaded.version, Version::V3_0);
        let responses = &loaded.document["paths"]["/x"]["get"]["responses"];
        assert_eq!(responses["200"]["description"], "ok");
        assert_eq!(
            responses["big"],
            serde_json::json!(9_223_372_036_854_775_808_u64)
        );
    }

    #[test]
    fn not_openapi_names_the_input_and_why() {
        let err = parse(b"{\"swagger\": \"2.0\"}", "old.json").expect_err("swagger");
        assert_eq!(
            err.to_string(),
            "old.json is not an OpenAPI 3.0 or 3.1 document: it is Swagger 2.0 (OpenAPI 2); convert it to OpenAPI 3"
        );
        let err = parse(b"a: [1, 2\n", "bad.yaml").expect_err("bad YAML");
        assert!(
            err.to_string()
                .starts_with("bad.yaml is not valid YAML at line"),
            "{err}"
        );
        let err = parse(b"{\"openapi\": 3.1,", "cut.json").expect_err("bad JSON");
        assert!(
            err.to_string()
                .starts_with("cut.json is not valid JSON at line 1"),
            "{err}"
        );
    }

    #[test]
    fn deep_nesting_and_alias_bombs_are_refused() {
        let deep = format!("a: {}{}", "[".repeat(200), "]".repeat(200));
        assert!(matches!(
            parse(deep.as_bytes(), "deep.yaml"),
            Err(LoadError::TooLarge { .. })
        ));
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 0..9 {
            let prev = if i == 0 {
                "a".to_owned()
            } else {
                format!("b{}", i - 1)
            };
            bomb.push_str(&format!(
                "b{i}: &b{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
        }
        assert!(matches!(
            parse(bomb.as_bytes(), "bomb.yaml"),
            Err(LoadError::TooLarge { .. })
        ));
    }
}
