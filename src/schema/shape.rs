//! Shape skeletons: the types of a JSON value, path by path, and how two skeletons differ.
//!
//! A skeleton maps each path of a value to the set of JSON kinds seen there. Paths are JSON
//! pointers into objects, with `[]` standing for "any element" of an array, so the skeleton of
//! an array is the union of its elements' skeletons:
//!
//! ```text
//! (root): object
//! /contactInformation/phones: array
//! /contactInformation/phones[]: object
//! /contactInformation/phones[]/number: string
//! ```
//!
//! Numbers are split into `integer` and `float` (as serde_json parsed them: `1.0` is a float).
//! The skeletons of the doc examples are pinned by insta snapshots; live responses are compared
//! with them by [`Skeleton::diff`], which classifies each change:
//! - **additive**: a field the pinned shape does not have (a new optional field);
//! - **breaking**: a pinned field that is missing although its schema requires it, or a field
//!   whose kind is not one the pinned shape allows (a changed type; a narrower set of kinds is
//!   not a change);
//! - **not seen**: a pinned field its schema makes optional that no response carried (a live
//!   device without `additionalData`, or a run whose cases never wrote one). Not a change: an
//!   optional field may be absent, so nothing can be said about it.
//!
//! Which paths are required is read from the schema ([`required_in`]), not spelled here.
//!
//! Objects the schema declares as maps (free keys, like `additionalData`) fold their entries
//! into one `{}` path, so attribute names, which are data, never count as shape; the diff leaves
//! map entries (`…{}…`) to schema validation, since which value types appear is data too.
//!
//! Missing fields are reported at the topmost missing path only, and element paths of an array
//! that is empty in the compared value are not reported (there is nothing to compare).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;
use serde_json::Value;

use super::registry::pointer_token;

/// A JSON kind, with numbers split into integer and float.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Null,
    Boolean,
    Integer,
    Float,
    String,
    Array,
    Object,
}

impl Kind {
    /// The kind of one value (not looking inside it).
    pub fn of(value: &Value) -> Kind {
        match value {
            Value::Null => Kind::Null,
            Value::Bool(_) => Kind::Boolean,
            Value::Number(n) if n.is_f64() => Kind::Float,
            Value::Number(_) => Kind::Integer,
            Value::String(_) => Kind::String,
            Value::Array(_) => Kind::Array,
            Value::Object(_) => Kind::Object,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Boolean => "boolean",
            Kind::Integer => "integer",
            Kind::Float => "float",
            Kind::String => "string",
            Kind::Array => "array",
            Kind::Object => "object",
        }
    }
}

/// The set of kinds seen at one path.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Kinds(BTreeSet<Kind>);

impl Kinds {
    fn is_subset(&self, other: &Kinds) -> bool {
        self.0.is_subset(&other.0)
    }

    /// Whether `kind` is among them.
    pub fn contains(&self, kind: Kind) -> bool {
        self.0.contains(&kind)
    }
}

impl fmt::Display for Kinds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.0.iter().map(|k| k.name()).collect();
        f.write_str(&names.join("|"))
    }
}

/// Path → kinds seen there. The root path is the empty string.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Skeleton(BTreeMap<String, Kinds>);

impl Skeleton {
    /// The skeleton of one value.
    pub fn of(value: &Value) -> Skeleton {
        Skeleton::of_shaped(value, &[])
    }

    /// The skeleton of a value whose schema has maps (objects with free keys, like
    /// `additionalData`) at `maps`: their keys are data, not shape, so every entry of a map is
    /// folded into one `{}` path (`/additionalData{}: boolean|string`).
    pub fn of_shaped(value: &Value, maps: &[String]) -> Skeleton {
        let mut skeleton = Skeleton::default();
        skeleton.add(String::new(), value, maps);
        skeleton
    }

    /// Adds `value`'s skeleton to this one (the union), e.g. to learn a shape from many samples.
    pub fn merge(&mut self, other: &Skeleton) {
        for (path, kinds) in &other.0 {
            self.0
                .entry(path.clone())
                .or_default()
                .0
                .extend(kinds.0.iter());
        }
    }

    fn add(&mut self, path: String, value: &Value, maps: &[String]) {
        match value {
            Value::Object(map) if maps.contains(&path) => {
                for child in map.values() {
                    self.add(format!("{path}{{}}"), child, maps);
                }
            }
            Value::Object(map) => {
                for (key, child) in map {
                    self.add(format!("{path}/{}", pointer_token(key)), child, maps);
                }
            }
            Value::Array(items) => {
                for item in items {
                    self.add(format!("{path}[]"), item, maps);
                }
            }
            _ => {}
        }
        self.0.entry(path).or_default().0.insert(Kind::of(value));
    }

    /// The kinds seen at `path`, if any.
    pub fn get(&self, path: &str) -> Option<&Kinds> {
        self.0.get(path)
    }

    /// Every path with its kinds.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Kinds)> {
        self.0.iter().map(|(p, k)| (p.as_str(), k))
    }

    /// How `actual` differs from `self` (the pinned shape), in path order, every pinned path
    /// taken as required.
    pub fn diff(&self, actual: &Skeleton) -> Vec<ShapeChange> {
        self.diff_with(actual, &|_| true)
    }

    /// How `actual` differs from `self`; a missing path for which `required` is false is
    /// [`ChangeKind::NotSeen`], not removed.
    pub fn diff_with(
        &self,
        actual: &Skeleton,
        required: &dyn Fn(&str) -> bool,
    ) -> Vec<ShapeChange> {
        let mut changes = Vec::new();
        // Paths under which nothing more is reported (already reported as a whole).
        let mut reported: Vec<String> = Vec::new();
        let covered =
            |reported: &[String], path: &str| reported.iter().any(|r| is_descendant(path, r));
        for (path, pinned) in &self.0 {
            if covered(&reported, path) || path.contains("{}") {
                continue;
            }
            match actual.0.get(path) {
                None => {
                    if element_of_empty_array(path, actual) {
                        continue;
                    }
                    changes.push(ShapeChange {
                        path: path.clone(),
                        change: if required(path) {
                            ChangeKind::Removed
                        } else {
                            ChangeKind::NotSeen
                        },
                        pinned: Some(pinned.clone()),
                        actual: None,
                    });
                    reported.push(path.clone());
                }
                Some(kinds) if !kinds.is_subset(pinned) => {
                    changes.push(ShapeChange {
                        path: path.clone(),
                        change: ChangeKind::Retyped,
                        pinned: Some(pinned.clone()),
                        actual: Some(kinds.clone()),
                    });
                    reported.push(path.clone());
                }
                Some(_) => {}
            }
        }
        for (path, kinds) in &actual.0 {
            if self.0.contains_key(path) || covered(&reported, path) || path.contains("{}") {
                continue;
            }
            changes.push(ShapeChange {
                path: path.clone(),
                change: ChangeKind::Added,
                pinned: None,
                actual: Some(kinds.clone()),
            });
            reported.push(path.clone());
        }
        changes.sort_by(|a, b| a.path.cmp(&b.path));
        changes
    }
}

impl fmt::Display for Skeleton {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (path, kinds) in &self.0 {
            let shown = if path.is_empty() { "(root)" } else { path };
            writeln!(f, "{shown}: {kinds}")?;
        }
        Ok(())
    }
}

/// The pinned shape of a response schema: the union of the skeletons of the doc's response
/// examples that follow it (`push-registration` ← the GET and PATCH responses), if any.
pub fn pinned(schema: &str) -> Option<Skeleton> {
    let maps = super::registry().map_paths(schema);
    let mut examples = crate::api::docs::EXAMPLES
        .iter()
        .filter(|e| e.schema == schema && e.name.ends_with("-response"))
        .map(|e| Skeleton::of_shaped(&super::lint::parse_example(e), maps))
        .peekable();
    examples.peek()?;
    Some(examples.fold(Skeleton::default(), |mut acc, s| {
        acc.merge(&s);
        acc
    }))
}

/// Whether the last key of `path` (a skeleton path) is in its parent's `required` list in schema
/// `schema`. [`Skeleton::diff_with`] reports only the topmost missing path, whose parent was
/// seen, so this is the question that matters. A path ending in an array (`[]`) or map (`{}`)
/// step, or one the schema does not describe, counts as required.
pub fn required_in(schema: &str, path: &str) -> bool {
    let registry = super::registry();
    let Ok(mut node) = registry.document(schema) else {
        return true;
    };
    let mut file = schema.to_owned();
    let mut rest = path;
    while !rest.is_empty() {
        let Some((resolved_file, resolved)) = resolve_refs(&file, node) else {
            return true;
        };
        (file, node) = (resolved_file, resolved);
        if let Some(after) = rest.strip_prefix("[]") {
            match node.get("items") {
                Some(items) => node = items,
                None => return true,
            }
            rest = after;
            continue;
        }
        if rest.starts_with("{}") {
            return true;
        }
        let Some(after_slash) = rest.strip_prefix('/') else {
            return true;
        };
        let end = after_slash
            .find(['/', '[', '{'])
            .unwrap_or(after_slash.len());
        let key = after_slash[..end].replace("~1", "/").replace("~0", "~");
        if end == after_slash.len() {
            return node
                .get("required")
                .and_then(Value::as_array)
                .is_some_and(|r| r.iter().any(|k| k.as_str() == Some(key.as_str())));
        }
        match node.get("properties").and_then(|p| p.get(&key)) {
            Some(child) => node = child,
            None => return true,
        }
        rest = &after_slash[end..];
    }
    true
}

/// Follows `$ref`s (`file.json#/pointer`, or `#/pointer` inside `file`) to a schema node.
fn resolve_refs<'a>(file: &str, mut node: &'a Value) -> Option<(String, &'a Value)> {
    let mut file = file.to_owned();
    for _ in 0..16 {
        let Some(reference) = node.get("$ref").and_then(Value::as_str) else {
            return Some((file, node));
        };
        let (target, fragment) = reference.split_once('#').unwrap_or((reference, ""));
        if !target.is_empty() {
            file = target.trim_end_matches(".json").to_owned();
        }
        node = super::registry().document(&file).ok()?.pointer(fragment)?;
    }
    None
}

/// `path` is strictly below `ancestor` (through an object key or an array element).
fn is_descendant(path: &str, ancestor: &str) -> bool {
    path.len() > ancestor.len()
        && path.starts_with(ancestor)
        && matches!(path.as_bytes()[ancestor.len()], b'/' | b'[' | b'{')
}

/// `path` lies under an array element (`…[]…`) whose array is present but empty in `actual`.
fn element_of_empty_array(path: &str, actual: &Skeleton) -> bool {
    path.match_indices("[]").any(|(i, _)| {
        let array = &path[..i];
        let elements = &path[..i + 2];
        actual.get(array).is_some_and(|k| k.contains(Kind::Array)) && actual.get(elements).is_none()
    })
}

/// What happened at one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// A path the pinned shape does not have.
    Added,
    /// A pinned path that is missing.
    Removed,
    /// A path whose kind the pinned shape does not allow.
    Retyped,
    /// An optional pinned path no response carried.
    NotSeen,
}

/// How a change affects a client written against the pinned shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A new optional field: old clients keep working.
    Additive,
    /// A removed field or a changed type: old clients may break.
    Breaking,
    /// Nothing to judge: an optional field was not in any response.
    NotSeen,
}

/// One difference between a pinned skeleton and an actual one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShapeChange {
    pub path: String,
    pub change: ChangeKind,
    pub pinned: Option<Kinds>,
    pub actual: Option<Kinds>,
}

impl ShapeChange {
    /// Additive for an added field, not seen for a missing optional one; breaking otherwise.
    pub fn severity(&self) -> Severity {
        match self.change {
            ChangeKind::Added => Severity::Additive,
            ChangeKind::NotSeen => Severity::NotSeen,
            ChangeKind::Removed | ChangeKind::Retyped => Severity::Breaking,
        }
    }
}

impl fmt::Display for ShapeChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() {
            "(root)"
        } else {
            &self.path
        };
        let show = |k: &Option<Kinds>| k.as_ref().map(ToString::to_string).unwrap_or_default();
        match self.change {
            ChangeKind::Added => write!(f, "{path}: added ({}), additive", show(&self.actual)),
            ChangeKind::Removed => {
                write!(f, "{path}: removed (was {}), breaking", show(&self.pinned))
            }
            ChangeKind::NotSeen => write!(
                f,
                "{path}: not seen (optional, {} in the pinned shape); no response carried it",
                show(&self.pinned)
            ),
            ChangeKind::Retyped => write!(
                f,
                "{path}: retyped from {} to {}, breaking",
                show(&self.pinned),
                show(&self.actual)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn diff(pinned: Value, actual: Value) -> Vec<String> {
        Skeleton::of(&pinned)
            .diff(&Skeleton::of(&actual))
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn numbers_split_and_arrays_union() {
        let s = Skeleton::of(&json!({"a": [1, 2.5, "x"], "b": null}));
        assert_eq!(
            s.to_string(),
            "(root): object\n/a: array\n/a[]: integer|float|string\n/b: null\n"
        );
    }

    #[test]
    fn classifies_changes() {
        let pinned = json!({"id": "x", "n": 1, "o": {"p": true, "q": "s"}, "t": ["a"]});
        let actual = json!({"n": "1", "o": {"p": true, "r": 2}, "t": [], "new": {"x": 1}});
        assert_eq!(
            diff(pinned, actual),
            vec![
                "/id: removed (was string), breaking",
                "/n: retyped from integer to string, breaking",
                "/new: added (object), additive",
                "/o/q: removed (was string), breaking",
                "/o/r: added (integer), additive",
            ]
        );
    }

    #[test]
    fn narrower_kinds_and_identical_values_are_no_change() {
        let mut pinned = Skeleton::of(&json!({"v": 1}));
        pinned.merge(&Skeleton::of(&json!({"v": 1.5})));
        assert!(pinned.diff(&Skeleton::of(&json!({"v": 7}))).is_empty());
        let v = json!({"a": [{"b": [1]}]});
        assert!(Skeleton::of(&v).diff(&Skeleton::of(&v)).is_empty());
    }

    #[test]
    fn map_keys_are_data_not_shape() {
        let maps = vec!["/m".to_owned()];
        let a = Skeleton::of_shaped(&json!({"m": {"x": 1, "y": "s"}}), &maps);
        let b = Skeleton::of_shaped(&json!({"m": {"z": 2}}), &maps);
        assert_eq!(
            a.to_string(),
            "(root): object\n/m: object\n/m{}: integer|string\n"
        );
        assert!(a.diff(&b).is_empty());
        assert!(b.diff(&a).is_empty(), "entry kinds are data");
        assert!(
            a.diff(&Skeleton::of_shaped(&json!({"m": {}}), &maps))
                .is_empty()
        );
    }

    #[test]
    fn a_missing_optional_field_is_not_seen_and_a_missing_required_one_is_removed() {
        let pinned = pinned("push-registration").expect("pinned");
        let mut value = json!({"registrationId": "r", "applicationId": "a", "isPrimary": false,
            "systemData": {"registrationEnabled": true}});
        let maps = crate::schema::registry().map_paths("push-registration");
        let changes = pinned.diff_with(&Skeleton::of_shaped(&value, maps), &|p| {
            required_in("push-registration", p)
        });
        let additional = changes
            .iter()
            .find(|c| c.path == "/additionalData")
            .expect("listed");
        assert_eq!(additional.severity(), Severity::NotSeen, "{additional}");
        assert!(additional.to_string().contains("not seen"), "{additional}");
        assert!(
            changes.iter().all(|c| c.severity() != Severity::Breaking),
            "{changes:?}"
        );
        value.as_object_mut().map(|o| o.remove("applicationId"));
        let changes = pinned.diff_with(&Skeleton::of_shaped(&value, maps), &|p| {
            required_in("push-registration", p)
        });
        let removed = changes
            .iter()
            .find(|c| c.path == "/applicationId")
            .expect("listed");
        assert_eq!(removed.severity(), Severity::Breaking);
        assert!(required_in(
            "personalize-response",
            "/contactInformation/phones[]/number"
        ));
        assert!(required_in("personalize-response", "/contactInformation"));
        assert!(!required_in("personalize-response", "/externalId"));
        assert!(!required_in("push-registration", "/systemData/os"));
        assert!(required_in("push-registration", "/registrationId"));
    }

    #[test]
    fn a_removed_object_is_reported_once() {
        let changes = diff(json!({"o": {"a": 1, "b": {"c": 2}}}), json!({}));
        assert_eq!(changes, vec!["/o: removed (was object), breaking"]);
    }
}
