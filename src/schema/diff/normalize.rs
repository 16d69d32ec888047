//! A schema brought to one canonical form, so that two descriptions of the same payload compare
//! equal however they are written: `$ref`s (and chains of them) followed, `allOf` merged,
//! 3.0's `nullable: true` and 3.1's `type: [..., "null"]` (or a `oneOf` with a null branch, or
//! `if {type: null} then true else X`) all become `null` in [`Node::types`], `const` an enum of
//! one, a missing `type` inferred from `enum`, `properties` or `items`, and an `anyOf` of formats
//! (`date` or `date-time`) a set of formats.
//!
//! Descriptions, examples, titles, `deprecated` and other annotations are not part of a
//! [`Node`]; `readOnly`/`writeOnly` are kept only to leave a property out where it does not
//! travel ([`hide`]: a read-only property is not part of a request body, as OpenAPI says, even
//! when `required` lists it). Neither are `not`, `prefixItems`, boolean `additionalProperties`
//! (whether an object is closed) nor any other `if`/`then`/`else`: a diff never reports them.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::load::Version;
use super::resolve::{Doc, ResolveError, child};

/// Deepest schema nesting followed (a recursive schema stops at its first repeat anyway).
const MAX_DEPTH: usize = 64;

/// Most schema nodes one side may expand to: a component used in many places is expanded at
/// each, so a document built to blow up (each schema referring to the next one twice) is
/// refused instead of exhausting memory. pushcheck's own export expands to a few hundred.
pub const MAX_NODES: usize = 200_000;

/// Limits compared between the two sides: the keyword, whether a larger value allows more (a
/// maximum), and the JSON type it constrains.
pub const LIMITS: [(&str, bool, &str); 12] = [
    ("maxLength", true, "string"),
    ("minLength", false, "string"),
    ("maximum", true, "number"),
    ("minimum", false, "number"),
    ("exclusiveMaximum", true, "number"),
    ("exclusiveMinimum", false, "number"),
    ("maxItems", true, "array"),
    ("minItems", false, "array"),
    ("uniqueItems", false, "array"),
    ("maxProperties", true, "object"),
    ("minProperties", false, "object"),
    ("propertyNames.maxLength", true, "object"),
];

/// One schema in canonical form.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Node {
    /// JSON pointer of the schema in its document (the target of a `$ref`, not the ref).
    pub at: String,
    /// JSON types allowed (`null` for nullable); empty: any type.
    pub types: BTreeSet<String>,
    pub formats: BTreeSet<String>,
    /// Allowed values (without `null`, which is in `types`), when the schema lists them.
    pub enum_values: Option<Vec<Value>>,
    pub properties: BTreeMap<String, Node>,
    pub required: BTreeSet<String>,
    /// The schema of a map's values (`additionalProperties: {...}`).
    pub additional: Option<Box<Node>>,
    pub items: Option<Box<Node>>,
    /// Numeric limits by keyword (see [`LIMITS`]); `uniqueItems` as `true`.
    pub limits: BTreeMap<String, Value>,
    pub pattern: Option<String>,
    /// Alternatives of a `oneOf`/`anyOf` that are not a null branch or a format.
    pub variants: Vec<Node>,
    /// The schema refers back to one of its ancestors here; not followed further.
    pub recursive: bool,
    /// `readOnly: true`: sent by the server only (not compared in request bodies).
    pub read_only: bool,
    /// `writeOnly: true`: sent by the client only (not compared in response bodies).
    pub write_only: bool,
}

impl Node {
    /// A schema that constrains nothing, at `at`.
    pub fn any_at(at: &str) -> Node {
        Node {
            at: at.to_owned(),
            ..Node::default()
        }
    }

    /// True when the schema constrains nothing.
    pub fn is_any(&self) -> bool {
        let Node {
            at: _, recursive, ..
        } = self;
        !recursive
            && self.types.is_empty()
            && self.formats.is_empty()
            && self.enum_values.is_none()
            && self.properties.is_empty()
            && self.required.is_empty()
            && self.additional.is_none()
            && self.items.is_none()
            && self.limits.is_empty()
            && self.pattern.is_none()
            && self.variants.is_empty()
    }

    /// The types without `null`.
    pub fn value_types(&self) -> BTreeSet<String> {
        self.types
            .iter()
            .filter(|t| *t != "null")
            .cloned()
            .collect()
    }

    pub fn nullable(&self) -> bool {
        self.types.contains("null")
    }
}

/// Normalizes schemas of one document.
#[derive(Debug)]
pub struct Normalizer<'a> {
    doc: Doc<'a>,
    version: Version,
    /// Pointers of the `$ref` targets being expanded (cycle guard).
    stack: Vec<String>,
    /// Schema nodes expanded so far (see [`MAX_NODES`]).
    expanded: usize,
}

impl<'a> Normalizer<'a> {
    pub fn new(doc: Doc<'a>, version: Version) -> Normalizer<'a> {
        Normalizer {
            doc,
            version,
            stack: Vec::new(),
            expanded: 0,
        }
    }

    /// The canonical form of the schema `value`, found at pointer `at`.
    pub fn node(&mut self, value: &Value, at: &str) -> Result<Node, ResolveError> {
        if self.stack.len() > MAX_DEPTH {
            return Ok(recursive(at));
        }
        self.expanded += 1;
        if self.expanded > MAX_NODES {
            return Err(ResolveError::TooLarge {
                at: at.to_owned(),
                limit: MAX_NODES,
            });
        }
        let Value::Object(map) = value else {
            return Ok(Node::any_at(at));
        };
        if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
            return self.reference(map, reference, at);
        }
        self.object(map, at)
    }

    fn reference(
        &mut self,
        map: &Map<String, Value>,
        reference: &str,
        at: &str,
    ) -> Result<Node, ResolveError> {
        let (target, pointer) = self.doc.target(reference, at)?;
        // A chain of bare references must end somewhere (a loop of them is a broken document;
        // a schema that contains itself further down is merely recursive).
        self.doc.follow(target, &pointer)?;
        if self.stack.contains(&pointer) {
            return Ok(recursive(&pointer));
        }
        self.stack.push(pointer.clone());
        let node = self.node(target, &pointer);
        self.stack.pop();
        let mut node = node?;
        // An annotation next to a $ref says where the referenced schema travels.
        node.read_only |= map.get("readOnly") == Some(&Value::Bool(true));
        node.write_only |= map.get("writeOnly") == Some(&Value::Bool(true));
        // 3.0 ignores a $ref's siblings; 3.1 applies them as if in an allOf.
        if self.version == Version::V3_1 && map.keys().any(|k| k != "$ref" && !is_annotation(k)) {
            let mut rest = map.clone();
            rest.remove("$ref");
            let extra = self.object(&rest, at)?;
            merge(&mut node, extra);
        }
        Ok(node)
    }

    fn object(&mut self, map: &Map<String, Value>, at: &str) -> Result<Node, ResolveError> {
        let mut node = keywords(map, at, self.version);
        if let Some(Value::Object(props)) = map.get("properties") {
            let props_at = child(at, "properties");
            for (name, schema) in props {
                let prop = self.node(schema, &child(&props_at, name))?;
                node.properties.insert(name.clone(), prop);
            }
        }
        if let Some(names) = map.get("propertyNames") {
            let names = self.node(names, &child(at, "propertyNames"))?;
            if let Some(max) = names.limits.get("maxLength") {
                node.limits
                    .insert("propertyNames.maxLength".to_owned(), max.clone());
            }
        }
        if let Some(extra @ Value::Object(_)) = map.get("additionalProperties") {
            let value = self.node(extra, &child(at, "additionalProperties"))?;
            node.additional = Some(Box::new(value));
        }
        if let Some(items @ Value::Object(_)) = map.get("items") {
            node.items = Some(Box::new(self.node(items, &child(at, "items"))?));
        }
        if let Some(Value::Array(all)) = map.get("allOf") {
            for (i, part) in all.iter().enumerate() {
                let part = self.node(part, &child(&child(at, "allOf"), &i.to_string()))?;
                merge(&mut node, part);
            }
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(Value::Array(branches)) = map.get(key) {
                self.alternatives(&mut node, branches, &child(at, key))?;
            }
        }
        self.null_or_else(&mut node, map, at)?;
        finish(&mut node);
        Ok(node)
    }

    /// `oneOf`/`anyOf`: a null branch makes the node nullable, format-only branches add formats,
    /// a single remaining branch is merged, several stay variants.
    fn alternatives(
        &mut self,
        node: &mut Node,
        branches: &[Value],
        at: &str,
    ) -> Result<(), ResolveError> {
        let mut rest = Vec::new();
        let mut null = false;
        for (i, branch) in branches.iter().enumerate() {
            if is_required_only(branch) {
                // "at least one of these fields" (anyOf of required lists): not compared.
                continue;
            }
            let branch = self.node(branch, &child(at, &i.to_string()))?;
            if branch.types.len() == 1 && branch.nullable() && branch.properties.is_empty() {
                null = true;
            } else if is_format_only(&branch) {
                node.formats.extend(branch.formats);
            } else {
                rest.push(branch);
            }
        }
        match rest.len() {
            0 => {}
            1 => {
                if let Some(only) = rest.pop() {
                    merge(node, only);
                }
            }
            _ => node.variants.extend(rest),
        }
        if null {
            node.types.insert("null".to_owned());
        }
        Ok(())
    }

    /// `if: {type: null}, then: true, else: X` is "null, or X".
    fn null_or_else(
        &mut self,
        node: &mut Node,
        map: &Map<String, Value>,
        at: &str,
    ) -> Result<(), ResolveError> {
        let if_null = map
            .get("if")
            .is_some_and(|c| c == &serde_json::json!({"type": "null"}));
        let then_any = map
            .get("then")
            .is_some_and(|t| t == &Value::Bool(true) || t == &serde_json::json!({}));
        if let (true, true, Some(other)) = (if_null, then_any, map.get("else")) {
            let other = self.node(other, &child(at, "else"))?;
            merge(node, other);
            node.types.insert("null".to_owned());
        }
        Ok(())
    }
}

fn recursive(at: &str) -> Node {
    Node {
        recursive: true,
        ..Node::any_at(at)
    }
}

fn is_annotation(key: &str) -> bool {
    matches!(
        key,
        "description"
            | "summary"
            | "title"
            | "example"
            | "examples"
            | "$comment"
            | "deprecated"
            | "readOnly"
            | "writeOnly"
            | "externalDocs"
            | "xml"
            | "default"
    ) || key.starts_with("x-")
}

fn is_required_only(branch: &Value) -> bool {
    branch.as_object().is_some_and(|m| {
        m.contains_key("required") && m.keys().all(|k| k == "required" || is_annotation(k))
    })
}

fn is_format_only(node: &Node) -> bool {
    !node.formats.is_empty() && {
        let mut bare = node.clone();
        bare.formats.clear();
        bare.types.remove("string");
        bare.is_any()
    }
}

/// The keywords of one schema object that need no recursion.
fn keywords(map: &Map<String, Value>, at: &str, version: Version) -> Node {
    let mut node = Node::any_at(at);
    match map.get("type") {
        Some(Value::String(t)) => {
            node.types.insert(t.clone());
        }
        Some(Value::Array(ts)) => node
            .types
            .extend(ts.iter().filter_map(Value::as_str).map(str::to_owned)),
        _ => {}
    }
    if version == Version::V3_0 && map.get("nullable") == Some(&Value::Bool(true)) {
        node.types.insert("null".to_owned());
    }
    match map.get("format").and_then(Value::as_str) {
        // An integer format is a range: compared as one, so `format: int32` and the same
        // minimum and maximum agree.
        Some("int32") => integer_range(&mut node, i64::from(i32::MIN), i64::from(i32::MAX)),
        Some("int64") => integer_range(&mut node, i64::MIN, i64::MAX),
        Some(f) => {
            node.formats.insert(f.to_owned());
        }
        None => {}
    }
    let values = match (map.get("enum"), map.get("const")) {
        (Some(Value::Array(values)), _) => Some(values.clone()),
        (_, Some(one)) => Some(vec![one.clone()]),
        _ => None,
    };
    if let Some(values) = values {
        if values.iter().any(Value::is_null) && !node.types.is_empty() {
            node.types.insert("null".to_owned());
        }
        node.enum_values = Some(values.into_iter().filter(|v| !v.is_null()).collect());
    }
    if let Some(Value::Array(required)) = map.get("required") {
        node.required
            .extend(required.iter().filter_map(Value::as_str).map(str::to_owned));
    }
    for (limit, _, _) in LIMITS {
        if let Some(value @ Value::Number(_)) = map.get(limit) {
            node.limits.insert(limit.to_owned(), value.clone());
        }
    }
    // 3.0: `exclusiveMaximum: true` makes `maximum` exclusive.
    for (flag, bound) in [
        ("exclusiveMaximum", "maximum"),
        ("exclusiveMinimum", "minimum"),
    ] {
        if map.get(flag) == Some(&Value::Bool(true)) {
            if let Some(value) = node.limits.remove(bound) {
                node.limits.insert(flag.to_owned(), value);
            }
        }
    }
    if map.get("uniqueItems") == Some(&Value::Bool(true)) {
        node.limits
            .insert("uniqueItems".to_owned(), Value::Bool(true));
    }
    if let Some(Value::String(p)) = map.get("pattern") {
        node.pattern = Some(p.clone());
    }
    node.read_only = map.get("readOnly") == Some(&Value::Bool(true));
    node.write_only = map.get("writeOnly") == Some(&Value::Bool(true));
    node
}

/// Which way a body travels, for [`hide`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Travel {
    /// Client to server: read-only properties are not sent.
    Request,
    /// Server to client: write-only properties are not sent.
    Response,
}

/// Leaves out the properties that do not travel `way` (and takes them off `required`), at
/// every depth: OpenAPI's "a read-only property is not part of a request, and `required`
/// applies to the response only" (3.0; 3.1's JSON Schema `readOnly` means the same).
pub fn hide(node: &mut Node, way: Travel) {
    let hidden = |n: &Node| match way {
        Travel::Request => n.read_only,
        Travel::Response => n.write_only,
    };
    let gone: Vec<String> = node
        .properties
        .iter()
        .filter(|(_, p)| hidden(p))
        .map(|(name, _)| name.clone())
        .collect();
    for name in gone {
        node.properties.remove(&name);
        node.required.remove(&name);
    }
    for child in node
        .properties
        .values_mut()
        .chain(node.additional.as_deref_mut())
        .chain(node.items.as_deref_mut())
        .chain(node.variants.iter_mut())
    {
        hide(child, way);
    }
}

/// The range an integer format implies, where the schema states none itself.
fn integer_range(node: &mut Node, min: i64, max: i64) {
    node.limits
        .entry("minimum".to_owned())
        .or_insert_with(|| Value::from(min));
    node.limits
        .entry("maximum".to_owned())
        .or_insert_with(|| Value::from(max));
}

/// Fills in a missing `type` from what the schema says: enum values, properties, items.
fn finish(node: &mut Node) {
    if !node.value_types().is_empty() {
        return;
    }
    if let Some(values) = &node.enum_values {
        for value in values {
            node.types.insert(json_type(value).to_owned());
        }
    } else if !node.properties.is_empty() || node.additional.is_some() || !node.required.is_empty()
    {
        node.types.insert("object".to_owned());
    } else if node.items.is_some() {
        node.types.insert("array".to_owned());
    }
}

/// The JSON type of a value (`integer` for whole numbers).
pub fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// `allOf` semantics, as far as a diff needs them: both sets of constraints apply.
pub fn merge(into: &mut Node, other: Node) {
    let (a, b) = (into.value_types(), other.value_types());
    let null =
        (into.types.is_empty() || into.nullable()) && (other.types.is_empty() || other.nullable());
    if a.is_empty() {
        into.types = b;
    } else if !b.is_empty() {
        let both: BTreeSet<String> = a.intersection(&b).cloned().collect();
        let integer = (a.contains("integer") && b.contains("number"))
            || (b.contains("integer") && a.contains("number"));
        into.types = both;
        if integer {
            into.types.insert("integer".to_owned());
        }
    }
    if null && !into.types.is_empty() {
        into.types.insert("null".to_owned());
    }
    into.formats.extend(other.formats);
    into.enum_values = match (into.enum_values.take(), other.enum_values) {
        (Some(a), Some(b)) => Some(a.into_iter().filter(|v| b.contains(v)).collect()),
        (a, b) => a.or(b),
    };
    for (name, prop) in other.properties {
        match into.properties.get_mut(&name) {
            Some(existing) => merge(existing, prop),
            None => {
                into.properties.insert(name, prop);
            }
        }
    }
    into.required.extend(other.required);
    into.additional = merge_boxed(into.additional.take(), other.additional);
    into.items = merge_boxed(into.items.take(), other.items);
    for (limit, value) in other.limits {
        let looser_when_larger = LIMITS
            .iter()
            .find(|(l, _, _)| *l == limit)
            .is_none_or(|(_, l, _)| *l);
        let keep = match into.limits.get(&limit) {
            Some(old) => {
                let (o, n) = (old.as_f64(), value.as_f64());
                matches!((o, n), (Some(o), Some(n)) if (n < o) == looser_when_larger)
            }
            None => true,
        };
        if keep {
            into.limits.insert(limit, value);
        }
    }
    into.pattern = into.pattern.take().or(other.pattern);
    into.variants.extend(other.variants);
    into.recursive |= other.recursive;
    into.read_only |= other.read_only;
    into.write_only |= other.write_only;
}

fn merge_boxed(a: Option<Box<Node>>, b: Option<Box<Node>>) -> Option<Box<Node>> {
    match (a, b) {
        (Some(mut a), Some(b)) => {
            merge(&mut a, *b);
            Some(a)
        }
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn norm(doc: &Value, version: Version) -> Node {
        let doc_ref = Doc::new(doc);
        let mut n = Normalizer::new(doc_ref, version);
        n.node(&doc["s"], "/s").expect("normalizes")
    }

    #[test]
    fn nullable_30_type_array_31_and_one_of_null_agree() {
        let v30 = norm(
            &json!({"s": {"type": "string", "nullable": true, "maxLength": 3}}),
            Version::V3_0,
        );
        let v31 = norm(
            &json!({"s": {"type": ["string", "null"], "maxLength": 3}}),
            Version::V3_1,
        );
        let one_of = norm(
            &json!({"s": {"oneOf": [{"type": "string", "maxLength": 3}, {"type": "null"}]}}),
            Version::V3_1,
        );
        assert_eq!(v30.types, v31.types);
        assert_eq!(v31.types, one_of.types);
        assert_eq!(v31.limits, one_of.limits);
        // 3.1 has no `nullable`: it is an unknown keyword there.
        let ignored = norm(
            &json!({"s": {"type": "string", "nullable": true}}),
            Version::V3_1,
        );
        assert!(!ignored.nullable());
    }

    #[test]
    fn all_of_merges_and_refs_cycle_safely() {
        let doc = json!({
            "s": {"allOf": [{"$ref": "#/c/A"}, {"required": ["b"], "properties": {"b": {"type": "integer"}}}]},
            "c": {"A": {"type": "object", "properties": {"a": {"type": "string"}, "self": {"$ref": "#/c/A"}}}}
        });
        let node = norm(&doc, Version::V3_1);
        assert_eq!(
            node.properties.keys().collect::<Vec<_>>(),
            ["a", "b", "self"]
        );
        assert!(node.properties["self"].recursive);
        assert_eq!(node.properties["a"].at, "/c/A/properties/a");
        assert_eq!(node.required.iter().collect::<Vec<_>>(), ["b"]);
    }

    #[test]
    fn a_reference_bomb_is_refused() {
        let mut schemas = Map::new();
        for i in 0..40 {
            let next = format!("#/c/S{}", i + 1);
            schemas.insert(
                format!("S{i}"),
                json!({"properties": {"a": {"$ref": next}, "b": {"$ref": next}}}),
            );
        }
        schemas.insert("S40".to_owned(), json!({"type": "string"}));
        let doc = json!({"s": {"$ref": "#/c/S0"}, "c": schemas});
        let mut n = Normalizer::new(Doc::new(&doc), Version::V3_1);
        assert!(matches!(
            n.node(&doc["s"], "/s"),
            Err(ResolveError::TooLarge { .. })
        ));
    }

    #[test]
    fn enum_without_type_and_formats_in_any_of() {
        let node = norm(&json!({"s": {"enum": ["A", "B", null]}}), Version::V3_1);
        assert_eq!(node.types.iter().collect::<Vec<_>>(), ["string"]);
        let birthday = norm(
            &json!({"s": {"type": "string", "anyOf": [{"format": "date"}, {"format": "date-time"}]}}),
            Version::V3_1,
        );
        assert_eq!(
            birthday.formats.iter().collect::<Vec<_>>(),
            ["date", "date-time"]
        );
        assert!(birthday.variants.is_empty());
    }
}
