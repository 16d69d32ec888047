//! The schemas of `schemas/` compiled into [`Node`]s the fast path reads while it streams a
//! body, and a scalar judged against a node with three answers (valid, invalid, not sure).
//!
//! Only keywords whose meaning is simple and certain are understood; a node with any other
//! keyword, a `$ref` it cannot resolve, or a pattern outside a plain character set compiles
//! to [`Node::Unsure`], which sends every value it meets to the full judge. Nothing here may
//! guess: a node answers "valid" only where `jsonschema` would too.

use std::cmp::Ordering;

use serde_json::{Map, Number, Value};

use crate::schema::registry::BASE_URI;

/// Deeper `$ref` chains than this are not followed (the schemas nest far less; it stops cycles).
const MAX_DEPTH: usize = 32;

/// The assertions and applicators the fast path understands (`format` only to say "not sure"
/// of a string); a schema using any other keyword is not sure of every value.
pub(super) const UNDERSTOOD: &[&str] = &[
    "$ref",
    "type",
    "enum",
    "const",
    "maxLength",
    "minLength",
    "maxItems",
    "minItems",
    "pattern",
    "format",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "properties",
    "required",
    "additionalProperties",
    "propertyNames",
    "items",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "if",
    "then",
    "else",
];

/// Keywords that never decide validity (annotations), so the fast path may pass over them.
pub(super) const ANNOTATIONS: &[&str] = &[
    "$schema",
    "$id",
    "$comment",
    "$defs",
    "title",
    "description",
    "examples",
    "default",
    "deprecated",
    "readOnly",
    "writeOnly",
];

/// JSON types, as bits of a set.
pub(super) const NULL: u8 = 1;
pub(super) const BOOLEAN: u8 = 2;
pub(super) const INTEGER: u8 = 4;
pub(super) const NUMBER: u8 = 8;
pub(super) const STRING: u8 = 16;
pub(super) const ARRAY: u8 = 32;
pub(super) const OBJECT: u8 = 64;

/// The fast path's answer for one value against one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tri {
    Valid,
    Invalid,
    Unsure,
}

impl Tri {
    /// Both must hold.
    fn and(self, other: impl FnOnce() -> Tri) -> Tri {
        match self {
            Tri::Invalid => Tri::Invalid,
            Tri::Valid => other(),
            Tri::Unsure => match other() {
                Tri::Invalid => Tri::Invalid,
                _ => Tri::Unsure,
            },
        }
    }

    fn of(holds: bool) -> Tri {
        if holds { Tri::Valid } else { Tri::Invalid }
    }

    fn not(self) -> Tri {
        match self {
            Tri::Valid => Tri::Invalid,
            Tri::Invalid => Tri::Valid,
            Tri::Unsure => Tri::Unsure,
        }
    }
}

/// One JSON scalar as the parser hands it over, borrowed.
#[derive(Debug, Clone, Copy)]
pub(super) enum Scalar<'a> {
    Null,
    Bool(bool),
    Unsigned(u64),
    Signed(i64),
    Float(f64),
    Str(&'a str),
}

/// A compiled schema.
#[derive(Debug)]
pub(super) enum Node {
    /// `true` or a schema without assertions: any value.
    Any,
    /// `false` (strict mode's `additionalProperties`): no value.
    Never,
    /// Something the fast path does not understand: the full judge decides.
    Unsure,
    Check(Box<Check>),
}

/// A numeric bound: an integer, compared exactly, or anything else (not sure).
#[derive(Debug, Clone, Copy)]
enum Bound {
    Int(i128),
    Other,
}

/// The assertions of one schema object the fast path understands.
#[derive(Debug, Default)]
pub(super) struct Check {
    types: Option<u8>,
    enumeration: Option<Vec<Value>>,
    max_length: Option<u64>,
    min_length: Option<u64>,
    pattern: Option<regex::Regex>,
    format: bool,
    minimum: Option<Bound>,
    maximum: Option<Bound>,
    exclusive_minimum: Option<Bound>,
    exclusive_maximum: Option<Bound>,
    pub(super) properties: Vec<(String, Node)>,
    /// The properties that are required, as bits of `properties`' indices.
    pub(super) required: u64,
    /// `additionalProperties`; `None`: any.
    pub(super) additional: Option<Node>,
    pub(super) names: Option<Node>,
    pub(super) items: Option<Node>,
    pub(super) min_items: Option<u64>,
    pub(super) max_items: Option<u64>,
    all: Vec<Node>,
    any: Vec<Node>,
    one: Vec<Node>,
    not: Option<Node>,
    condition: Option<(Node, Option<Node>, Option<Node>)>,
    /// A required name no property lists: objects are not sure.
    required_elsewhere: bool,
}

impl Check {
    /// Whether an object or array may be streamed through this node: no applicator, enum or
    /// `required` that would need the value whole.
    pub(super) fn streams(&self, ty: u8) -> bool {
        self.all.is_empty()
            && self.any.is_empty()
            && self.one.is_empty()
            && self.not.is_none()
            && self.condition.is_none()
            && self.enumeration.is_none()
            && !self.required_elsewhere
            && self.types.is_none_or(|t| t & ty != 0)
    }
}

/// Compiles every schema document of `docs` (`(name, document)`), resolving `$ref`s between
/// them by file name.
pub(super) struct Compiler<'d> {
    pub(super) docs: &'d [(&'static str, Value)],
}

impl Compiler<'_> {
    pub(super) fn compile(&self, file: &str, schema: &Value, depth: usize) -> Node {
        match schema {
            Value::Bool(true) => Node::Any,
            Value::Bool(false) => Node::Never,
            Value::Object(map) if depth <= MAX_DEPTH => {
                self.object(file, map, depth).unwrap_or(Node::Unsure)
            }
            _ => Node::Unsure,
        }
    }

    fn object(&self, file: &str, map: &Map<String, Value>, depth: usize) -> Option<Node> {
        let mut check = Check::default();
        let mut required: Vec<&str> = Vec::new();
        let sub = |v: &Value| self.compile(file, v, depth + 1);
        let subs =
            |v: &Value| -> Option<Vec<Node>> { Some(v.as_array()?.iter().map(sub).collect()) };
        let mut asserts = false;
        for (keyword, v) in map {
            // Another `$id` than the file's own would move where its `$ref`s point.
            if keyword == "$id" && v.as_str() != Some(&format!("{BASE_URI}{file}.json")) {
                return None;
            }
            if ANNOTATIONS.contains(&keyword.as_str()) {
                continue;
            }
            if !UNDERSTOOD.contains(&keyword.as_str()) {
                return None;
            }
            asserts = true;
            match keyword.as_str() {
                "$ref" => {
                    let (target_file, target) = self.resolve(file, v.as_str()?)?;
                    check.all.push(self.compile(target_file, target, depth + 1));
                }
                "type" => check.types = Some(types(v)?),
                "enum" => check.enumeration = Some(v.as_array()?.clone()),
                "const" => check.enumeration = Some(vec![v.clone()]),
                "maxLength" => check.max_length = Some(v.as_u64()?),
                "minLength" => check.min_length = Some(v.as_u64()?),
                "maxItems" => check.max_items = Some(v.as_u64()?),
                "minItems" => check.min_items = Some(v.as_u64()?),
                "pattern" => check.pattern = Some(pattern(v.as_str()?)?),
                "format" => check.format = true,
                "minimum" => check.minimum = Some(bound(v.as_number()?)),
                "maximum" => check.maximum = Some(bound(v.as_number()?)),
                "exclusiveMinimum" => check.exclusive_minimum = Some(bound(v.as_number()?)),
                "exclusiveMaximum" => check.exclusive_maximum = Some(bound(v.as_number()?)),
                "properties" => {
                    let props = v.as_object()?;
                    (props.len() <= 64).then_some(())?;
                    check.properties = props.iter().map(|(k, s)| (k.clone(), sub(s))).collect();
                }
                "required" => {
                    for name in v.as_array()? {
                        required.push(name.as_str()?);
                    }
                }
                "additionalProperties" => check.additional = Some(sub(v)),
                "propertyNames" => check.names = Some(sub(v)),
                "items" => check.items = Some(sub(v)),
                "allOf" => check.all.extend(subs(v)?),
                "anyOf" => check.any = subs(v)?,
                "oneOf" => check.one = subs(v)?,
                "not" => check.not = Some(sub(v)),
                "if" => {
                    let then = map.get("then").map(sub);
                    let otherwise = map.get("else").map(sub);
                    check.condition = Some((sub(v), then, otherwise));
                }
                "then" | "else" => {}
                _ => return None,
            }
        }
        for name in required {
            match check.properties.iter().position(|(k, _)| k == name) {
                Some(i) => check.required |= 1 << i,
                None => check.required_elsewhere = true,
            }
        }
        // A lone `$ref` is its target.
        if check.all.len() == 1 && map.keys().filter(|k| !is_annotation(k)).count() == 1 {
            return check.all.pop();
        }
        Some(if asserts {
            Node::Check(Box::new(check))
        } else {
            Node::Any
        })
    }

    /// The file and schema a `$ref` written in `file` points at (`other.json#/pointer`,
    /// `#/pointer`, or the full `$id`).
    fn resolve(&self, file: &str, reference: &str) -> Option<(&'static str, &Value)> {
        let reference = reference.strip_prefix(BASE_URI).unwrap_or(reference);
        let (target, fragment) = reference.split_once('#').unwrap_or((reference, ""));
        let target = if target.is_empty() {
            file
        } else {
            target.strip_suffix(".json")?
        };
        let (name, doc) = self.docs.iter().find(|(n, _)| *n == target)?;
        Some((*name, doc.pointer(fragment)?))
    }
}

fn is_annotation(keyword: &str) -> bool {
    ANNOTATIONS.contains(&keyword) || keyword == "then" || keyword == "else"
}

fn types(v: &Value) -> Option<u8> {
    let one = |name: &str| match name {
        "null" => Some(NULL),
        "boolean" => Some(BOOLEAN),
        "integer" => Some(INTEGER),
        "number" => Some(NUMBER),
        "string" => Some(STRING),
        "array" => Some(ARRAY),
        "object" => Some(OBJECT),
        _ => None,
    };
    match v {
        Value::String(name) => one(name),
        Value::Array(names) => names
            .iter()
            .try_fold(0, |set, n| Some(set | one(n.as_str()?)?)),
        _ => None,
    }
}

/// A pattern the fast path trusts: made only of characters whose meaning is the same in
/// ECMA-262 and in the `regex` crate (no escapes, no `.`, no classes by name, no group flags).
fn pattern(source: &str) -> Option<regex::Regex> {
    let plain = source
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "^$[]{}(),|?*+-_ ".contains(c));
    if !plain || ["[[", "[^", "(?"].iter().any(|s| source.contains(s)) {
        return None;
    }
    regex::Regex::new(source).ok()
}

fn bound(n: &Number) -> Bound {
    n.as_i64()
        .map(i128::from)
        .or_else(|| n.as_u64().map(i128::from))
        .map_or(Bound::Other, Bound::Int)
}

/// 2^53: every integer up to it is exact as an `f64`.
const EXACT: f64 = 9_007_199_254_740_992.0;

/// How a number compares with a bound; `None`: not sure.
fn compare(s: Scalar<'_>, bound: Bound) -> Option<Ordering> {
    let Bound::Int(b) = bound else { return None };
    match s {
        Scalar::Unsigned(u) => Some(i128::from(u).cmp(&b)),
        Scalar::Signed(i) => Some(i128::from(i).cmp(&b)),
        Scalar::Float(f) if f.is_finite() && f.abs() < EXACT => {
            if b.unsigned_abs() <= EXACT as u128 {
                f.partial_cmp(&(b as f64))
            } else if b > 0 {
                Some(Ordering::Less)
            } else {
                Some(Ordering::Greater)
            }
        }
        _ => None,
    }
}

/// `value` against `node`, for a scalar.
pub(super) fn scalar(node: &Node, value: Scalar<'_>) -> Tri {
    match node {
        Node::Any => Tri::Valid,
        Node::Never => Tri::Invalid,
        Node::Unsure => Tri::Unsure,
        Node::Check(check) => check_scalar(check, value),
    }
}

fn check_scalar(c: &Check, value: Scalar<'_>) -> Tri {
    let each = |nodes: &[Node], f: &dyn Fn(Tri, Tri) -> Tri, start: Tri| {
        nodes.iter().fold(start, |acc, n| f(acc, scalar(n, value)))
    };
    type_of(c.types, value)
        .and(|| {
            c.enumeration
                .as_deref()
                .map_or(Tri::Valid, |e| member(e, value))
        })
        .and(|| string(c, value))
        .and(|| number(c, value))
        .and(|| each(&c.all, &|a, b| a.and(|| b), Tri::Valid))
        .and(|| {
            if c.any.is_empty() {
                return Tri::Valid;
            }
            each(&c.any, &|a, b| any(a, b), Tri::Invalid)
        })
        .and(|| one_of(&c.one, value))
        .and(|| {
            c.not
                .as_ref()
                .map_or(Tri::Valid, |n| scalar(n, value).not())
        })
        .and(|| match &c.condition {
            None => Tri::Valid,
            Some((test, then, otherwise)) => match scalar(test, value) {
                Tri::Valid => then.as_ref().map_or(Tri::Valid, |n| scalar(n, value)),
                Tri::Invalid => otherwise.as_ref().map_or(Tri::Valid, |n| scalar(n, value)),
                Tri::Unsure => Tri::Unsure,
            },
        })
}

fn any(a: Tri, b: Tri) -> Tri {
    match (a, b) {
        (Tri::Valid, _) | (_, Tri::Valid) => Tri::Valid,
        (Tri::Unsure, _) | (_, Tri::Unsure) => Tri::Unsure,
        _ => Tri::Invalid,
    }
}

fn one_of(nodes: &[Node], value: Scalar<'_>) -> Tri {
    if nodes.is_empty() {
        return Tri::Valid;
    }
    let answers: Vec<Tri> = nodes.iter().map(|n| scalar(n, value)).collect();
    if answers.contains(&Tri::Unsure) {
        return Tri::Unsure;
    }
    Tri::of(answers.iter().filter(|a| **a == Tri::Valid).count() == 1)
}

fn type_of(types: Option<u8>, value: Scalar<'_>) -> Tri {
    let Some(set) = types else { return Tri::Valid };
    match value {
        Scalar::Null => Tri::of(set & NULL != 0),
        Scalar::Bool(_) => Tri::of(set & BOOLEAN != 0),
        Scalar::Unsigned(_) | Scalar::Signed(_) => Tri::of(set & (INTEGER | NUMBER) != 0),
        // 1.0 is an integer to JSON Schema: not decided here.
        Scalar::Float(_) if set & NUMBER != 0 => Tri::Valid,
        Scalar::Float(_) if set & INTEGER != 0 => Tri::Unsure,
        Scalar::Float(_) => Tri::Invalid,
        Scalar::Str(_) => Tri::of(set & STRING != 0),
    }
}

/// `enum`/`const`: strings, booleans and null compare exactly; numbers are not decided.
fn member(values: &[Value], value: Scalar<'_>) -> Tri {
    let mut unsure = false;
    for v in values {
        let equal = match (v, value) {
            (Value::String(a), Scalar::Str(b)) => a == b,
            (Value::Bool(a), Scalar::Bool(b)) => *a == b,
            (Value::Null, Scalar::Null) => true,
            (Value::Number(_), Scalar::Unsigned(_) | Scalar::Signed(_) | Scalar::Float(_)) => {
                unsure = true;
                false
            }
            _ => false,
        };
        if equal {
            return Tri::Valid;
        }
    }
    if unsure { Tri::Unsure } else { Tri::Invalid }
}

fn string(c: &Check, value: Scalar<'_>) -> Tri {
    let Scalar::Str(s) = value else {
        return Tri::Valid;
    };
    if c.max_length.is_none() && c.min_length.is_none() && c.pattern.is_none() && !c.format {
        return Tri::Valid;
    }
    // Lengths count characters (code points), as JSON Schema does.
    let length = s.chars().count() as u64;
    Tri::of(c.max_length.is_none_or(|m| length <= m))
        .and(|| Tri::of(c.min_length.is_none_or(|m| length >= m)))
        .and(|| Tri::of(c.pattern.as_ref().is_none_or(|p| p.is_match(s))))
        .and(|| if c.format { Tri::Unsure } else { Tri::Valid })
}

fn number(c: &Check, value: Scalar<'_>) -> Tri {
    if !matches!(
        value,
        Scalar::Unsigned(_) | Scalar::Signed(_) | Scalar::Float(_)
    ) {
        return Tri::Valid;
    }
    let holds = |b: Option<Bound>, ok: fn(Ordering) -> bool| match b {
        None => Tri::Valid,
        Some(b) => compare(value, b).map_or(Tri::Unsure, |o| Tri::of(ok(o))),
    };
    holds(c.minimum, |o| o != Ordering::Less)
        .and(|| holds(c.maximum, |o| o != Ordering::Greater))
        .and(|| holds(c.exclusive_minimum, |o| o == Ordering::Greater))
        .and(|| holds(c.exclusive_maximum, |o| o == Ordering::Less))
}
