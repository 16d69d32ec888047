//! Two normalized schemas walked side by side: pushcheck's ("ours", what a client built from the
//! docs relies on) and the published file's ("theirs"). Every difference becomes a [`Raw`]
//! finding with the payload field it is about and a JSON pointer on both sides; whether it
//! breaks a client depends on the direction (request or response) and is decided in
//! [`super::classify`], not here.

use std::collections::BTreeSet;

use serde_json::Value;

use super::Kind;
use super::normalize::{LIMITS, Node};
use super::resolve::child;

/// Which way a difference goes, for the kinds whose class depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The published file allows more than pushcheck's schema.
    Wider,
    /// The published file allows less.
    Narrower,
    /// Neither contains the other.
    Other,
}

/// One difference, before it is classified.
#[derive(Debug, Clone, PartialEq)]
pub struct Raw {
    pub kind: Kind,
    pub change: Change,
    /// Payload pointer of the field (`/systemData/os`; `*` for map values and array items).
    pub field: String,
    /// The limit keyword, for limit findings (`maxLength`).
    pub keyword: Option<String>,
    pub pushcheck_at: String,
    pub published_at: String,
    pub pushcheck_says: String,
    pub published_says: String,
}

/// Appends every difference between `ours` and `theirs` (at payload `field`) to `out`.
pub fn compare(ours: &Node, theirs: &Node, field: &str, out: &mut Vec<Raw>) {
    if ours.recursive || theirs.recursive {
        return;
    }
    let raw = |kind, change, ours_says: String, theirs_says: String| Raw {
        kind,
        change,
        field: field.to_owned(),
        keyword: None,
        pushcheck_at: ours.at.clone(),
        published_at: theirs.at.clone(),
        pushcheck_says: ours_says,
        published_says: theirs_says,
    };
    if ours.is_any() != theirs.is_any() {
        let change = if theirs.is_any() {
            Change::Wider
        } else {
            Change::Narrower
        };
        out.push(raw(
            Kind::TypeChanged,
            change,
            describe(ours),
            describe(theirs),
        ));
        return;
    }
    if !ours.variants.is_empty() || !theirs.variants.is_empty() {
        if let Some(unpaired) = compare_variants(ours, theirs, field, out) {
            out.push(raw(
                Kind::TypeChanged,
                unpaired,
                describe(ours),
                describe(theirs),
            ));
        }
        return;
    }
    compare_values(ours, theirs, &raw, out);
    compare_enum(ours, theirs, &raw, out);
    compare_limits(ours, theirs, &raw, out);
    // Structure only where both sides agree it may be there.
    let (o, t) = (ours.value_types(), theirs.value_types());
    if o.contains("object") && t.contains("object") || o.is_empty() || t.is_empty() {
        compare_properties(ours, theirs, field, out);
    }
    if let (Some(a), Some(b)) = (&ours.additional, &theirs.additional) {
        compare(a, b, &child(field, "*"), out);
    }
    if let (Some(a), Some(b)) = (&ours.items, &theirs.items) {
        compare(a, b, &child(field, "*"), out);
    }
}

type MakeRaw<'a> = dyn Fn(Kind, Change, String, String) -> Raw + 'a;

/// Types, nullability, formats and patterns.
fn compare_values(ours: &Node, theirs: &Node, raw: &MakeRaw<'_>, out: &mut Vec<Raw>) {
    let (o, t) = (ours.value_types(), theirs.value_types());
    if o != t {
        out.push(raw(
            Kind::TypeChanged,
            type_change(&o, &t),
            join(&o),
            join(&t),
        ));
    }
    match (ours.nullable(), theirs.nullable()) {
        (false, true) => out.push(raw(
            Kind::NullableAdded,
            Change::Wider,
            "not null".into(),
            "nullable".into(),
        )),
        (true, false) => out.push(raw(
            Kind::NullableRemoved,
            Change::Narrower,
            "nullable".into(),
            "not null".into(),
        )),
        _ => {}
    }
    if ours.formats != theirs.formats && applies("string", ours, theirs) {
        out.push(raw(
            Kind::FormatChanged,
            Change::Other,
            formats(ours),
            formats(theirs),
        ));
    }
    if ours.pattern != theirs.pattern && applies("string", ours, theirs) {
        let show = |p: &Option<String>| p.clone().unwrap_or_else(|| "no pattern".to_owned());
        let change = match (&ours.pattern, &theirs.pattern) {
            (Some(_), None) => Change::Wider,
            (None, Some(_)) => Change::Narrower,
            _ => Change::Other,
        };
        out.push(raw(
            Kind::PatternChanged,
            change,
            show(&ours.pattern),
            show(&theirs.pattern),
        ));
    }
}

fn compare_enum(ours: &Node, theirs: &Node, raw: &MakeRaw<'_>, out: &mut Vec<Raw>) {
    let values = |n: &Node| n.enum_values.clone();
    match (values(ours), values(theirs)) {
        (Some(o), None) => out.push(raw(
            Kind::EnumWidened,
            Change::Wider,
            list(&o),
            "any value".into(),
        )),
        (None, Some(t)) => out.push(raw(
            Kind::EnumNarrowed,
            Change::Narrower,
            "any value".into(),
            list(&t),
        )),
        (Some(o), Some(t)) => {
            let added: Vec<Value> = t.iter().filter(|v| !o.contains(v)).cloned().collect();
            let removed: Vec<Value> = o.iter().filter(|v| !t.contains(v)).cloned().collect();
            if !added.is_empty() {
                out.push(raw(
                    Kind::EnumWidened,
                    Change::Wider,
                    list(&o),
                    format!("adds {}", list(&added)),
                ));
            }
            if !removed.is_empty() {
                out.push(raw(
                    Kind::EnumNarrowed,
                    Change::Narrower,
                    list(&o),
                    format!("drops {}", list(&removed)),
                ));
            }
        }
        (None, None) => {}
    }
}

fn compare_limits(ours: &Node, theirs: &Node, raw: &MakeRaw<'_>, out: &mut Vec<Raw>) {
    let mut keys: BTreeSet<&String> = ours.limits.keys().collect();
    keys.extend(theirs.limits.keys());
    for key in keys {
        let (o, t) = (ours.limits.get(key), theirs.limits.get(key));
        if o == t {
            continue;
        }
        let Some(&(_, larger_is_looser, ty)) = LIMITS.iter().find(|(name, _, _)| name == key)
        else {
            continue;
        };
        if !applies(ty, ours, theirs) {
            continue;
        }
        let looser = match (o.and_then(Value::as_f64), t.and_then(Value::as_f64)) {
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(a), Some(b)) => (b > a) == larger_is_looser,
            // uniqueItems: true on one side only.
            (None, None) => o.is_some(),
        };
        let show =
            |v: Option<&Value>| v.map_or_else(|| "none".to_owned(), |v| format!("{key} {v}"));
        let (kind, change) = if looser {
            (Kind::LimitLoosened, Change::Wider)
        } else {
            (Kind::LimitTightened, Change::Narrower)
        };
        let mut finding = raw(kind, change, show(o), show(t));
        finding.keyword = Some(key.clone());
        out.push(finding);
    }
}

fn compare_properties(ours: &Node, theirs: &Node, field: &str, out: &mut Vec<Raw>) {
    let mut names: BTreeSet<&String> = ours.properties.keys().collect();
    names.extend(theirs.properties.keys());
    for name in names {
        let at = child(field, name);
        let make = |kind, change, ours_at: &str, theirs_at: &str, o: String, t: String| Raw {
            kind,
            change,
            field: at.clone(),
            keyword: None,
            pushcheck_at: ours_at.to_owned(),
            published_at: theirs_at.to_owned(),
            pushcheck_says: o,
            published_says: t,
        };
        match (ours.properties.get(name), theirs.properties.get(name)) {
            (Some(o), Some(t)) => {
                compare(o, t, &at, out);
                match (ours.required.contains(name), theirs.required.contains(name)) {
                    (false, true) => out.push(make(
                        Kind::RequiredAdded,
                        Change::Narrower,
                        &ours.at,
                        &theirs.at,
                        "optional".into(),
                        "required".into(),
                    )),
                    (true, false) => out.push(make(
                        Kind::RequiredRemoved,
                        Change::Wider,
                        &ours.at,
                        &theirs.at,
                        "required".into(),
                        "optional".into(),
                    )),
                    _ => {}
                }
            }
            (Some(o), None) => out.push(make(
                Kind::FieldRemoved,
                Change::Other,
                &o.at,
                &child(&theirs.at, "properties"),
                describe(o),
                "absent".into(),
            )),
            (None, Some(t)) => {
                let kind = if theirs.required.contains(name) {
                    Kind::RequiredAdded
                } else {
                    Kind::FieldAdded
                };
                out.push(make(
                    kind,
                    Change::Wider,
                    &child(&ours.at, "properties"),
                    &t.at,
                    "absent".into(),
                    describe(t),
                ));
            }
            (None, None) => {}
        }
    }
}

/// Pairs each of pushcheck's alternatives with the published one most like it, compares the
/// pairs, and says which way the unpaired ones go (`None`: all paired).
pub fn compare_variants(
    ours: &Node,
    theirs: &Node,
    field: &str,
    out: &mut Vec<Raw>,
) -> Option<Change> {
    let (a, b) = (alternatives(ours), alternatives(theirs));
    let (pairs, left_ours, left_theirs) = pair(&a, &b);
    for (i, j) in pairs {
        compare(a[i], b[j], field, out);
    }
    match (left_ours, left_theirs) {
        (0, 0) => None,
        (_, 0) => Some(Change::Narrower),
        (0, _) => Some(Change::Wider),
        _ => Some(Change::Other),
    }
}

/// A node's alternatives: its variants, or itself.
pub fn alternatives(node: &Node) -> Vec<&Node> {
    if node.variants.is_empty() {
        vec![node]
    } else {
        node.variants.iter().collect()
    }
}

/// Greedy pairing by likeness; returns the pairs and how many of each side are left.
pub fn pair(a: &[&Node], b: &[&Node]) -> (Vec<(usize, usize)>, usize, usize) {
    let mut scores = Vec::new();
    for (i, x) in a.iter().enumerate() {
        for (j, y) in b.iter().enumerate() {
            let shared = x
                .properties
                .keys()
                .filter(|k| y.properties.contains_key(*k))
                .count();
            let same_types = usize::from(x.value_types() == y.value_types());
            let both_bare = x.properties.is_empty() && y.properties.is_empty();
            let score = if both_bare {
                same_types
            } else {
                shared * 2 + same_types * usize::from(shared > 0)
            };
            if score > 0 {
                scores.push((score, i, j));
            }
        }
    }
    scores.sort_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)));
    let (mut used_a, mut used_b, mut pairs) =
        (vec![false; a.len()], vec![false; b.len()], Vec::new());
    for (_, i, j) in scores {
        if !used_a[i] && !used_b[j] {
            used_a[i] = true;
            used_b[j] = true;
            pairs.push((i, j));
        }
    }
    pairs.sort_unstable();
    let left = |used: &[bool]| used.iter().filter(|u| !**u).count();
    (pairs, left(&used_a), left(&used_b))
}

/// Whether a keyword about values of type `ty` means something on both sides (after a type
/// change, the old type's limits are not findings of their own).
fn applies(ty: &str, ours: &Node, theirs: &Node) -> bool {
    let allows = |n: &Node| {
        let types = n.value_types();
        types.is_empty() || types.contains(ty) || (ty == "number" && types.contains("integer"))
    };
    allows(ours) && allows(theirs)
}

fn type_change(o: &BTreeSet<String>, t: &BTreeSet<String>) -> Change {
    let covers = |big: &BTreeSet<String>, small: &BTreeSet<String>| {
        big.is_empty()
            || small
                .iter()
                .all(|s| big.contains(s) || (s == "integer" && big.contains("number")))
    };
    match (covers(t, o), covers(o, t)) {
        (true, false) => Change::Wider,
        (false, true) => Change::Narrower,
        _ => Change::Other,
    }
}

/// A schema in a few words: `string or null`, `object {a, b}`, `one of: … | …`.
pub fn describe(node: &Node) -> String {
    if node.recursive {
        return "(recursive)".to_owned();
    }
    if node.is_any() {
        return "any value".to_owned();
    }
    if !node.variants.is_empty() {
        let parts: Vec<String> = node.variants.iter().map(describe).collect();
        return format!("one of: {}", parts.join(" | "));
    }
    let mut text = join(&node.types);
    if node.value_types().contains("object") && !node.properties.is_empty() {
        let names: Vec<&str> = node.properties.keys().map(String::as_str).collect();
        text.push_str(&format!(" {{{}}}", names.join(", ")));
    }
    if let Some(values) = &node.enum_values {
        text.push_str(&format!(" {}", list(values)));
    }
    text
}

fn join(types: &BTreeSet<String>) -> String {
    if types.is_empty() {
        "any type".to_owned()
    } else {
        types
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(" or ")
    }
}

fn formats(node: &Node) -> String {
    if node.formats.is_empty() {
        "no format".to_owned()
    } else {
        format!(
            "format {}",
            node.formats
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(" or ")
        )
    }
}

fn list(values: &[Value]) -> String {
    values
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
