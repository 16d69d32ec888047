//! The schema registry: every file of `schemas/`, compiled once per mode.
//!
//! **Lenient** (the default) is the documented contract: unknown properties are allowed, since
//! real APIs add fields. **Strict** closes every object schema that lists `properties`
//! (`additionalProperties: false` is added where the file says nothing), so any property no
//! schema names is a violation. Both modes come from the same files; the strict variant is
//! derived in memory, never committed as a second copy.
//!
//! Formats (`date`, `date-time`) are validated as assertions, not annotations: a custom
//! attribute `2024-02-30` is a violation.

use std::sync::LazyLock;

use jsonschema::error::ValidationErrorKind;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Base URI of every schema's `$id`. The `.invalid` top-level domain never resolves, so no
/// reference can ever be fetched from the network.
pub const BASE_URI: &str = "https://pushcheck.invalid/schemas/";

macro_rules! schema_files {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../schemas/", $name, ".json")))),*]
    };
}

/// `(name, file contents)` of every schema file, embedded at build time.
pub const SCHEMA_FILES: &[(&str, &str)] = schema_files![
    "push-registration",
    "system-data",
    "custom-attributes",
    "patch-request",
    "person-attributes",
    "personalize-request",
    "personalize-response",
    "error-push",
    "error-legacy",
    "error-api",
    "contract-report",
    "check-report",
    "load-summary",
    "load-scenario",
    "schemas-diff",
    "schemas-diff-baseline",
];

/// Which contract to validate against. Its one spelling (`lenient`, `strict`) serves reports
/// ([`Mode::as_str`], `Display`, `Serialize`), scenario files (`Deserialize`) and flags
/// (`clap::ValueEnum`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
#[value(rename_all = "lowercase")]
pub enum Mode {
    /// Unknown properties are allowed (the documented contract).
    #[default]
    Lenient,
    /// Any property not named by a schema is a violation.
    Strict,
}

impl Mode {
    /// The mode as reports, flags and scenario files spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Lenient => "lenient",
            Mode::Strict => "strict",
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Errors from the registry itself (not from the validated document).
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("unknown schema {name:?}; known schemas: {}", known.join(", "))]
    Unknown { name: String, known: Vec<String> },
    #[error("schema file {name}.json is not valid JSON: {message}")]
    NotJson { name: String, message: String },
    #[error("schema {name} does not compile: {message}")]
    Compile { name: String, message: String },
}

/// One way a document breaks a schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// JSON pointer into the validated document. For a missing required property or an
    /// undocumented one, it points at that property (`/applicationId`, `/isPrmary`).
    pub instance_path: String,
    /// JSON pointer into the schema, to the keyword that failed.
    pub schema_path: String,
    /// A plain sentence.
    pub message: String,
    /// True when the violation is only an undocumented property (strict mode).
    pub undocumented: bool,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = if self.instance_path.is_empty() {
            "(root)"
        } else {
            &self.instance_path
        };
        write!(f, "{at}: {} (schema {})", self.message, self.schema_path)
    }
}

/// A schema file, parsed, with its compiled validators.
#[derive(Debug)]
struct Entry {
    name: &'static str,
    title: String,
    description: String,
    document: Value,
    /// Skeleton paths at which this schema describes a map (see [`Registry::map_paths`]).
    maps: Vec<String>,
    lenient: jsonschema::Validator,
    strict: jsonschema::Validator,
}

/// Every schema, compiled in both modes.
#[derive(Debug)]
pub struct Registry {
    entries: Vec<Entry>,
}

/// The process-wide registry, compiled on first use.
///
/// # Panics
/// Panics if an embedded schema file does not compile. The files are compiled into the binary
/// and a test compiles every one of them, so this cannot happen in a released build.
pub fn registry() -> &'static Registry {
    static REGISTRY: LazyLock<Registry> = LazyLock::new(|| {
        Registry::from_files(SCHEMA_FILES)
            .unwrap_or_else(|e| panic!("embedded schemas do not compile: {e}"))
    });
    &REGISTRY
}

impl Registry {
    /// Parses and compiles a set of schema files (`(name, JSON text)`), in both modes.
    pub fn from_files(files: &[(&'static str, &str)]) -> Result<Registry, SchemaError> {
        let mut documents = Vec::with_capacity(files.len());
        for (name, text) in files {
            let document: Value = serde_json::from_str(text).map_err(|e| SchemaError::NotJson {
                name: (*name).to_owned(),
                message: e.to_string(),
            })?;
            documents.push((*name, document));
        }
        let strict_documents: Vec<(&str, Value)> = documents
            .iter()
            .map(|(name, doc)| {
                let mut doc = doc.clone();
                close_objects(&mut doc);
                (*name, doc)
            })
            .collect();
        let lenient = compile_all(&documents)?;
        let strict = compile_all(&strict_documents)?;
        let maps: Vec<Vec<String>> = documents
            .iter()
            .map(|(name, doc)| {
                let mut out = Vec::new();
                find_maps(&documents, name, doc, String::new(), &mut out, 0);
                out
            })
            .collect();
        let entries = documents
            .into_iter()
            .zip(maps)
            .zip(lenient.into_iter().zip(strict))
            .map(|(((name, document), maps), (lenient, strict))| Entry {
                name,
                title: text_field(&document, "title"),
                description: text_field(&document, "description"),
                document,
                maps,
                lenient,
                strict,
            })
            .collect();
        Ok(Registry { entries })
    }

    /// `(name, title)` of every schema, in file order.
    pub fn list(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|e| (e.name, e.title.as_str()))
    }

    /// Names of every schema.
    pub fn names(&self) -> Vec<String> {
        self.entries.iter().map(|e| e.name.to_owned()).collect()
    }

    /// The parsed schema document (lenient form, as committed).
    pub fn document(&self, name: &str) -> Result<&Value, SchemaError> {
        self.entry(name).map(|e| &e.document)
    }

    /// Instance paths, in skeleton syntax (`/contactInformation/push[]/additionalData`), at which
    /// schema `name` describes a map: an object with free keys (no `properties`, and
    /// `additionalProperties` a schema). Empty for an unknown name.
    pub fn map_paths(&self, name: &str) -> &[String] {
        self.entry(name).map_or(&[], |e| e.maps.as_slice())
    }

    /// The schema's description.
    pub fn description(&self, name: &str) -> Result<&str, SchemaError> {
        self.entry(name).map(|e| e.description.as_str())
    }

    fn entry(&self, name: &str) -> Result<&Entry, SchemaError> {
        self.entries
            .iter()
            .find(|e| e.name == name)
            .ok_or_else(|| SchemaError::Unknown {
                name: name.to_owned(),
                known: self.names(),
            })
    }

    /// Whether `instance` is valid; the fast path, without collecting errors.
    pub fn is_valid(&self, name: &str, mode: Mode, instance: &Value) -> Result<bool, SchemaError> {
        let entry = self.entry(name)?;
        Ok(validator(entry, mode).is_valid(instance))
    }

    /// Every violation of `instance` against schema `name`; empty when valid.
    pub fn validate(
        &self,
        name: &str,
        mode: Mode,
        instance: &Value,
    ) -> Result<Vec<Violation>, SchemaError> {
        let entry = self.entry(name)?;
        let validator = validator(entry, mode);
        if validator.is_valid(instance) {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for error in validator.iter_errors(instance) {
            push_violations(&mut out, &error);
        }
        out.sort_by(|a, b| a.instance_path.cmp(&b.instance_path));
        Ok(out)
    }

    /// Reads a number from a schema by JSON pointer, e.g. a documented limit
    /// (`custom-attributes`, `/propertyNames/maxLength`), so that code needing a limit reads it
    /// from the schema instead of spelling it again.
    pub fn number_at(&self, name: &str, pointer: &str) -> Option<&serde_json::Number> {
        match self.entry(name).ok()?.document.pointer(pointer)? {
            Value::Number(n) => Some(n),
            _ => None,
        }
    }
}

fn validator(entry: &Entry, mode: Mode) -> &jsonschema::Validator {
    match mode {
        Mode::Lenient => &entry.lenient,
        Mode::Strict => &entry.strict,
    }
}

fn text_field(document: &Value, field: &str) -> String {
    document
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn compile_all(documents: &[(&str, Value)]) -> Result<Vec<jsonschema::Validator>, SchemaError> {
    let resources = documents
        .iter()
        .map(|(name, doc)| (format!("{BASE_URI}{name}.json"), doc.clone()));
    let compile_error = |name: &str, message: String| SchemaError::Compile {
        name: name.to_owned(),
        message,
    };
    let registry = jsonschema::Registry::new()
        .extend(resources)
        .and_then(|b| b.prepare())
        .map_err(|e| compile_error("schemas/", e.to_string()))?;
    documents
        .iter()
        .map(|(name, doc)| {
            jsonschema::options()
                .with_registry(&registry)
                .should_validate_formats(true)
                .build(doc)
                .map_err(|e| compile_error(name, e.to_string()))
        })
        .collect()
}

/// How deep [`find_maps`] follows `$ref`s; the schemas nest far less, and it stops cycles.
const MAX_MAP_DEPTH: usize = 16;

/// Collects the instance paths where `schema` (inside file `file`) describes a map.
fn find_maps(
    documents: &[(&str, Value)],
    file: &str,
    schema: &Value,
    path: String,
    out: &mut Vec<String>,
    depth: usize,
) {
    let Value::Object(map) = schema else { return };
    if depth > MAX_MAP_DEPTH {
        return;
    }
    if let Some(Value::String(reference)) = map.get("$ref") {
        let (target_file, fragment) = reference.split_once('#').unwrap_or((reference, ""));
        let target_file = if target_file.is_empty() {
            file
        } else {
            target_file.trim_end_matches(".json")
        };
        if let Some((name, doc)) = documents.iter().find(|(n, _)| *n == target_file)
            && let Some(target) = doc.pointer(fragment)
        {
            find_maps(documents, name, target, path.clone(), out, depth + 1);
        }
    }
    if !map.contains_key("properties")
        && map
            .get("additionalProperties")
            .is_some_and(Value::is_object)
    {
        if !out.contains(&path) {
            out.push(path);
        }
        return;
    }
    if let Some(Value::Object(properties)) = map.get("properties") {
        for (key, sub) in properties {
            let child = format!("{path}/{}", pointer_token(key));
            find_maps(documents, file, sub, child, out, depth + 1);
        }
    }
    if let Some(items) = map.get("items") {
        find_maps(documents, file, items, format!("{path}[]"), out, depth + 1);
    }
    for keyword in ["allOf", "anyOf", "oneOf"] {
        if let Some(Value::Array(subs)) = map.get(keyword) {
            for sub in subs {
                find_maps(documents, file, sub, path.clone(), out, depth + 1);
            }
        }
    }
}

/// Adds `additionalProperties: false` to every object schema that lists `properties` and says
/// nothing about additional ones. Walks schema keywords only, so a property that happens to be
/// named like a keyword is never mistaken for one.
pub(super) fn close_objects(schema: &mut Value) {
    let Value::Object(map) = schema else { return };
    if map.contains_key("properties")
        && !map.contains_key("additionalProperties")
        && !map.contains_key("unevaluatedProperties")
    {
        map.insert("additionalProperties".to_owned(), Value::Bool(false));
    }
    for (keyword, sub) in map.iter_mut() {
        match keyword.as_str() {
            "properties" | "$defs" | "patternProperties" | "dependentSchemas" => {
                if let Value::Object(children) = sub {
                    children.values_mut().for_each(close_objects);
                }
            }
            "allOf" | "anyOf" | "oneOf" | "prefixItems" => {
                if let Value::Array(children) = sub {
                    children.iter_mut().for_each(close_objects);
                }
            }
            "items"
            | "additionalProperties"
            | "unevaluatedProperties"
            | "not"
            | "if"
            | "then"
            | "else"
            | "contains"
            | "propertyNames"
            | "unevaluatedItems" => close_objects(sub),
            _ => {}
        }
    }
}

/// Escapes one JSON pointer token (RFC 6901).
pub fn pointer_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

const MAX_MESSAGE: usize = 200;

fn push_violations(out: &mut Vec<Violation>, error: &jsonschema::ValidationError<'_>) {
    let at = error.instance_path().as_str();
    let schema_path = error.schema_path().as_str().to_owned();
    match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected }
        | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
            for property in unexpected {
                out.push(Violation {
                    instance_path: format!("{at}/{}", pointer_token(property)),
                    schema_path: schema_path.clone(),
                    message: format!("property {property:?} is in no schema (undocumented)"),
                    undocumented: true,
                });
            }
        }
        ValidationErrorKind::Required { property } => {
            let property = property
                .as_str()
                .map_or_else(|| property.to_string(), str::to_owned);
            out.push(Violation {
                instance_path: format!("{at}/{}", pointer_token(&property)),
                schema_path,
                message: format!("required property {property:?} is missing"),
                undocumented: false,
            });
        }
        ValidationErrorKind::PropertyNames { error: inner } => {
            // The instance of the inner error is the offending property name itself.
            let name = inner
                .instance()
                .as_str()
                .map_or_else(String::new, str::to_owned);
            out.push(Violation {
                instance_path: format!("{at}/{}", pointer_token(&name)),
                schema_path,
                message: format!("property name: {}", message(inner, "the name")),
                undocumented: false,
            });
        }
        _ => out.push(Violation {
            instance_path: at.to_owned(),
            schema_path,
            message: message(error, "the value"),
            undocumented: false,
        }),
    }
}

/// The error's message with the offending value in it when that stays short; otherwise with
/// the value masked, so the rule ("is longer than 4096 characters") is never cut off.
fn message(error: &jsonschema::ValidationError<'_>, placeholder: &str) -> String {
    let full = error.to_string();
    if full.chars().count() <= MAX_MESSAGE {
        full
    } else {
        truncate(error.masked_with(placeholder).to_string(), MAX_MESSAGE)
    }
}

fn truncate(mut text: String, max: usize) -> String {
    if text.chars().count() > max {
        let cut = text.char_indices().nth(max).map_or(text.len(), |(i, _)| i);
        text.truncate(cut);
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn a_mode_is_spelled_one_way_everywhere() {
        for mode in Mode::value_variants() {
            let name = mode.as_str();
            assert_eq!(mode.to_string(), name);
            assert_eq!(serde_json::to_value(mode).ok(), Some(Value::from(name)));
            let read: Mode = serde_json::from_value(Value::from(name)).expect("deserialize");
            assert_eq!(read, *mode);
            let flag = mode.to_possible_value().expect("a flag value");
            assert_eq!(flag.get_name(), name);
        }
    }
}
