//! Negative cases generated from the request schemas: for every field of a personalize or PATCH
//! body whose schema states a rule (a type, a pattern, a length, a format, an enum, unique
//! items, a custom attribute's limits), one case sends a few values that rule refuses — a wrong
//! type, an empty string, `null`, one character over the maximum length, a bad format — and
//! expects each to be refused: any 4xx with a documented error body. The values are derived
//! from the schema's own keywords (limits read from `schemas/`, never spelled here), and only a
//! body the request schema refuses is ever sent, so a correct server cannot fail these cases and
//! a server that validates less than its schema (what a schema-driven fuzzer looks for) does.
//!
//! Live-safe: a refused request changes nothing. Each bad value goes out with a valid fresh
//! identity of the run (a personalize) beside it, so a server that drops the bad value instead
//! of refusing the body personalizes the device to a person of the run's own namespace; the
//! runner depersonalizes it and puts the device back after the case, as after every writing case.

use serde_json::{Map, Value, json};

use super::{BoxFuture, CaseSpec};
use crate::api::client::Call;
use crate::api::footprint::{name, name_of_length};
use crate::api::{Operation, field};
use crate::contract::ctx::Ctx;
use crate::contract::expect::excerpt;
use crate::contract::result::Failure;
use crate::schema::{Mode, registry};

/// At most this many bad values per field.
const MAX_VALUES: usize = 10;

/// One field of a request body and the schema that states its rules.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FieldRule {
    /// The case's name.
    pub(crate) case: &'static str,
    pub(crate) operation: Operation,
    /// Where the field sits in the body (empty: the body itself).
    pub(crate) path: &'static [&'static str],
    /// The schema file and the JSON pointer in it to the field's schema (`$ref`s followed).
    pub(crate) schema: (&'static str, &'static str),
}

/// A bad value, with what makes it bad.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BadValue {
    pub(crate) why: &'static str,
    pub(crate) value: Value,
}

macro_rules! negative_cases {
    ($($run:ident: $case:literal, $group:literal, $op:ident, [$($path:expr),*], $schema:literal, $pointer:literal, $summary:literal;)*) => {
        /// Every field rule, in case order.
        pub(crate) const RULES: &[FieldRule] = &[
            $(FieldRule {
                case: $case,
                operation: Operation::$op,
                path: &[$($path),*],
                schema: ($schema, $pointer),
            }),*
        ];

        $(
            fn $run(ctx: &mut Ctx) -> BoxFuture<'_> {
                Box::pin(async move { refuses_each(ctx, rule($case)).await })
            }
        )*

        /// The negative cases of one group (`personalize` or `patch`).
        pub(super) fn cases(group: &str) -> Vec<&'static CaseSpec> {
            const ALL: &[CaseSpec] = &[
                $(CaseSpec::write($case, $group, $summary, 1, $run)),*
            ];
            ALL.iter().filter(|c| c.group == group).collect()
        }
    };
}

negative_cases! {
    personalize_body: "personalize.invalid.body", "personalize", Personalize, [],
        "personalize-request", "",
        "a body that is not an object: refused (4xx, documented error body; live-safe)";
    personalize_identity: "personalize.invalid.identity", "personalize", Personalize, [field::IDENTITY],
        "personalize-request", "/properties/identity",
        "an identity that is not an object or holds no identifier: refused (live-safe)";
    personalize_external_id: "personalize.invalid.external_id", "personalize", Personalize, [field::IDENTITY, field::EXTERNAL_ID],
        "personalize-request", "/properties/identity/properties/externalId",
        "identity.externalId of a wrong type or over its maximum length: refused (live-safe)";
    personalize_phone_number: "personalize.invalid.phone_number", "personalize", Personalize, [field::IDENTITY, field::PHONE_NUMBER],
        "personalize-request", "/properties/identity/properties/phoneNumber",
        "identity.phoneNumber of a wrong type, empty, null or not digits: refused (live-safe)";
    personalize_email: "personalize.invalid.email", "personalize", Personalize, [field::IDENTITY, field::EMAIL],
        "personalize-request", "/properties/identity/properties/email",
        "identity.email of a wrong type, empty, null, too long or malformed: refused (live-safe)";
    personalize_attributes: "personalize.invalid.attributes", "personalize", Personalize, [field::ATTRIBUTES],
        "personalize-request", "/properties/attributes",
        "attributes that are not an object: refused (live-safe)";
    personalize_first_name: "personalize.invalid.first_name", "personalize", Personalize, [field::ATTRIBUTES, field::FIRST_NAME],
        "person-attributes", "/properties/firstName",
        "attributes.firstName of a wrong type, null or too long: refused (live-safe)";
    personalize_last_name: "personalize.invalid.last_name", "personalize", Personalize, [field::ATTRIBUTES, field::LAST_NAME],
        "person-attributes", "/properties/lastName",
        "attributes.lastName of a wrong type, null or too long: refused (live-safe)";
    personalize_middle_name: "personalize.invalid.middle_name", "personalize", Personalize, [field::ATTRIBUTES, field::MIDDLE_NAME],
        "person-attributes", "/properties/middleName",
        "attributes.middleName of a wrong type, null or too long: refused (live-safe)";
    personalize_birthday: "personalize.invalid.birthday", "personalize", Personalize, [field::ATTRIBUTES, field::BIRTHDAY],
        "person-attributes", "/properties/birthday",
        "attributes.birthday of a wrong type, empty, null, impossible or not a date: refused (live-safe)";
    personalize_gender: "personalize.invalid.gender", "personalize", Personalize, [field::ATTRIBUTES, field::GENDER],
        "person-attributes", "/properties/gender",
        "attributes.gender outside MALE and FEMALE: refused (live-safe)";
    personalize_tags: "personalize.invalid.tags", "personalize", Personalize, [field::ATTRIBUTES, field::TAGS],
        "person-attributes", "/properties/tags",
        "attributes.tags not a list of unique strings: refused (live-safe)";
    personalize_custom_attributes: "personalize.invalid.custom_attributes", "personalize", Personalize, [field::ATTRIBUTES, field::CUSTOM_ATTRIBUTES],
        "person-attributes", "/properties/customAttributes",
        "attributes.customAttributes breaking a custom attribute's type, name or value limits: refused (live-safe)";
    patch_body: "patch.invalid.body", "patch", Patch, [],
        "patch-request", "",
        "a PATCH body that is not an object: refused (live-safe)";
    patch_is_primary: "patch.invalid.is_primary", "patch", Patch, [field::IS_PRIMARY],
        "patch-request", "/properties/isPrimary",
        "isPrimary that is not a boolean: refused (live-safe)";
    patch_system_data: "patch.invalid.system_data", "patch", Patch, [field::SYSTEM_DATA],
        "patch-request", "/properties/systemData",
        "systemData that is not an object: refused (live-safe)";
    patch_registration_enabled: "patch.invalid.registration_enabled", "patch", Patch, [field::SYSTEM_DATA, field::REGISTRATION_ENABLED],
        "patch-request", "/properties/systemData/properties/registrationEnabled",
        "systemData.registrationEnabled that is not a boolean: refused (live-safe)";
    patch_additional_data: "patch.invalid.additional_data", "patch", Patch, [field::ADDITIONAL_DATA],
        "patch-request", "/properties/additionalData",
        "additionalData that is not a map of valid custom attributes: refused (live-safe)";
}

fn rule(case: &str) -> &'static FieldRule {
    RULES
        .iter()
        .find(|r| r.case == case)
        .expect("every negative case has its rule")
}

/// The schema at `pointer` of schema file `name`, `$ref`s followed (to another file, or within
/// one), and the file it was found in (its own `$ref`s are relative to it); `Null` where there
/// is none.
fn resolve(name: &str, pointer: &str) -> (String, Value) {
    let mut at = (name.to_owned(), pointer.to_owned());
    for _ in 0..8 {
        let Some(schema) = registry()
            .document(&at.0)
            .ok()
            .and_then(|d| d.pointer(&at.1))
        else {
            break;
        };
        let Some(reference) = schema.get("$ref").and_then(Value::as_str) else {
            return (at.0, schema.clone());
        };
        let (file, inner) = reference.split_once('#').unwrap_or((reference, ""));
        if !file.is_empty() {
            at.0 = file.trim_end_matches(".json").to_owned();
        }
        at.1 = inner.to_owned();
    }
    (at.0, Value::Null)
}

/// A schema's own `$ref` followed, relative to schema file `file`.
fn follow(file: &str, schema: &Value) -> Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let (f, inner) = reference.split_once('#').unwrap_or((reference, ""));
            let f = if f.is_empty() {
                file.to_owned()
            } else {
                f.trim_end_matches(".json").to_owned()
            };
            resolve(&f, inner).1
        }
        None => schema.clone(),
    }
}

/// The JSON types a schema allows (`type`, or those of its `enum` values).
fn types(schema: &Value) -> Vec<&'static str> {
    let named = |t: &str| {
        [
            "string", "number", "integer", "boolean", "object", "array", "null",
        ]
        .into_iter()
        .find(|k| *k == t)
    };
    match schema.get("type") {
        Some(Value::String(t)) => named(t).into_iter().collect(),
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .filter_map(named)
            .collect(),
        _ => schema
            .get("enum")
            .and_then(Value::as_array)
            .map(|values| {
                let mut out: Vec<&'static str> = values
                    .iter()
                    .map(|v| match v {
                        Value::String(_) => "string",
                        Value::Number(_) => "number",
                        Value::Bool(_) => "boolean",
                        Value::Null => "null",
                        Value::Array(_) => "array",
                        Value::Object(_) => "object",
                    })
                    .collect();
                out.dedup();
                out
            })
            .unwrap_or_default(),
    }
}

/// Whether `schema` or one of its `anyOf`/`allOf` members asserts `keyword`.
fn asserts(schema: &Value, keyword: &str) -> bool {
    schema.get(keyword).is_some()
        || ["anyOf", "allOf", "oneOf"].iter().any(|k| {
            schema
                .get(*k)
                .and_then(Value::as_array)
                .is_some_and(|members| members.iter().any(|m| asserts(m, keyword)))
        })
}

fn max_length(schema: &Value) -> Option<usize> {
    schema
        .get("maxLength")
        .and_then(Value::as_u64)
        .map(|n| n as usize)
}

/// `valid` padded at its front with `x` to `length` characters (a string valid but for its
/// length, when `valid` follows the field's pattern and format).
fn padded(valid: &str, length: usize) -> String {
    let fill = length.saturating_sub(valid.chars().count());
    format!("{}{valid}", "x".repeat(fill))
}

/// Candidate bad values of a field whose schema is `schema` (in file `file`), around a valid
/// value `valid` of it; the caller keeps those the request schema refuses.
pub(crate) fn candidates(file: &str, schema: &Value, valid: &Value) -> Vec<BadValue> {
    let kinds = types(schema);
    let has = |t: &str| kinds.contains(&t);
    let bad = |why, value| BadValue { why, value };
    let mut out = Vec::new();
    // A wrong type.
    if has("object") {
        out.push(bad("wrong type (a string)", json!("pushcheck")));
        out.push(bad("wrong type (a list)", json!([])));
    } else if has("array") {
        out.push(bad("wrong type (a string)", json!("pushcheck")));
    } else if has("boolean") {
        out.push(bad("wrong type (the string \"true\")", json!("true")));
        out.push(bad("wrong type (a number)", json!(1)));
    } else {
        out.push(bad("wrong type (an object)", json!({})));
        out.push(bad("wrong type (a number)", json!(42)));
    }
    if !has("null") {
        out.push(bad("null", Value::Null));
    }
    if has("string") {
        out.push(bad("an empty string", json!("")));
        let text = valid.as_str().unwrap_or("pushcheck");
        if let Some(max) = max_length(schema) {
            out.push(bad(
                "one character over maxLength",
                json!(padded(text, max + 1)),
            ));
        }
        if asserts(schema, "pattern") {
            let middle = text.chars().count() / 2;
            let spaced: String = text
                .chars()
                .take(middle)
                .chain(std::iter::once(' '))
                .chain(text.chars().skip(middle))
                .collect();
            out.push(bad("a character its pattern refuses", json!(spaced)));
            out.push(bad("a leading +", json!(format!("+{text}"))));
        }
        if asserts(schema, "format") {
            out.push(bad("an impossible date", json!("1985-02-30")));
            out.push(bad("not a date", json!("12/07/1985")));
        }
        if let Some(first) = schema
            .get("enum")
            .and_then(Value::as_array)
            .and_then(|e| e.first())
            .and_then(Value::as_str)
        {
            let lower = first.to_lowercase();
            let other = if lower == first {
                format!("{first}_OTHER")
            } else {
                lower
            };
            out.push(bad("not one of its values", json!(other)));
        }
    }
    if has("array") {
        out.push(bad("an item of a wrong type", json!([42])));
        if schema.get("uniqueItems") == Some(&Value::Bool(true)) {
            out.push(bad("a repeated item", json!(["pushcheck", "pushcheck"])));
        }
    }
    if has("object") {
        if asserts(schema, "required") {
            out.push(bad("no required property", json!({})));
        }
        out.extend(map_candidates(file, schema));
    }
    out
}

/// Bad entries of a map of custom attributes (`propertyNames`, `additionalProperties`): a name
/// over its maximum length, values of a wrong type, over the string and number limits, and an
/// impossible date. Names are pushcheck's fixed ones (`api::footprint`).
fn map_candidates(file: &str, schema: &Value) -> Vec<BadValue> {
    let mut out = Vec::new();
    let bad = |why, value| BadValue { why, value };
    if let Some(names) = schema.get("propertyNames") {
        let names = follow(file, names);
        if let Some(max) = max_length(&names) {
            out.push(bad(
                "an attribute name over maxLength",
                json!({ name_of_length(max + 1): true }),
            ));
        }
    }
    let Some(values) = schema.get("additionalProperties").filter(|v| v.is_object()) else {
        return out;
    };
    // PATCH: `null` deletes, anything else is a custom attribute value (`else`).
    let value = follow(file, values.get("else").unwrap_or(values));
    if value.is_null() || value == json!(true) {
        return out;
    }
    let attribute = |v: Value| json!({ (name::TIER): v });
    out.push(bad(
        "an attribute value of a wrong type (an object)",
        attribute(json!({})),
    ));
    out.push(bad(
        "an attribute value of a wrong type (a list)",
        attribute(json!([1])),
    ));
    if let Some(max) = max_length(&value) {
        out.push(bad(
            "an attribute string over maxLength",
            json!({ (name::LONG): "s".repeat(max + 1) }),
        ));
    }
    if let Some(max) = value.get("maximum").and_then(Value::as_u64) {
        out.push(bad(
            "an attribute number over maximum",
            json!({ (name::BIG): max.saturating_add(1) }),
        ));
    }
    if asserts(value.get("then").unwrap_or(&Value::Null), "format") {
        out.push(bad(
            "an impossible attribute date",
            json!({ (name::DATE): "2024-02-30" }),
        ));
    }
    out
}

/// `body` with `value` at `path` (the body itself for an empty path).
fn with_value(mut body: Value, path: &[&str], value: Value) -> Value {
    let Some((last, parents)) = path.split_last() else {
        return value;
    };
    let mut at = &mut body;
    for key in parents {
        if !at.get(*key).is_some_and(Value::is_object) {
            at[*key] = Value::Object(Map::new());
        }
        at = &mut at[*key];
    }
    at[*last] = value;
    body
}

/// The valid body the bad values are put into, and a valid value of the field itself. A
/// personalize carries a fresh identity of the run (an externalId; a phone number beside a bad
/// externalId), so that the bad value is the only reason to refuse it.
fn base(ctx: &mut Ctx, rule: &FieldRule) -> (Value, Value) {
    match rule.operation {
        Operation::Personalize => {
            let companion = if rule.path.last() == Some(&field::EXTERNAL_ID) {
                json!({ field::PHONE_NUMBER: ctx.phone() })
            } else {
                json!({ field::EXTERNAL_ID: ctx.external_id() })
            };
            let valid = match rule.path.last().copied() {
                Some(field::EMAIL) => json!(ctx.email()),
                Some(field::PHONE_NUMBER) => json!(ctx.phone()),
                Some(field::EXTERNAL_ID) => json!(ctx.external_id()),
                _ => json!("pushcheck"),
            };
            (json!({ field::IDENTITY: companion }), valid)
        }
        _ => (json!({}), json!("pushcheck")),
    }
}

/// The bad bodies of `rule` around `base` and `valid`: each candidate put at the field's place,
/// kept only if the operation's request schema refuses that body; at most [`MAX_VALUES`].
pub(crate) fn bad_bodies(rule: &FieldRule, base: &Value, valid: &Value) -> Vec<(BadValue, Value)> {
    let schema_name = rule.operation.request_schema().unwrap_or_default();
    let (file, schema) = resolve(rule.schema.0, rule.schema.1);
    let mut out: Vec<(BadValue, Value)> = Vec::new();
    for bad in candidates(&file, &schema, valid) {
        if out.iter().any(|(b, _)| b.value == bad.value) {
            continue;
        }
        let body = with_value(base.clone(), rule.path, bad.value.clone());
        if registry()
            .is_valid(schema_name, Mode::Lenient, &body)
            .is_ok_and(|valid| !valid)
        {
            out.push((bad, body));
        }
        if out.len() == MAX_VALUES {
            break;
        }
    }
    out
}

/// Sends each bad body of `rule`; each must be refused: HTTP 4xx with a documented error body.
/// The first one accepted fails the case (naming the value).
async fn refuses_each(ctx: &mut Ctx, rule: &FieldRule) -> Result<(), Failure> {
    let (base_body, valid) = base(ctx, rule);
    let bodies = bad_bodies(rule, &base_body, &valid);
    let at = if rule.path.is_empty() {
        "the body".to_owned()
    } else {
        rule.path.join(".")
    };
    if bodies.is_empty() {
        return Err(Failure::new(format!(
            "no value the schema refuses could be made for {at} (schema {} {})",
            rule.schema.0, rule.schema.1
        )));
    }
    for (bad, body) in bodies {
        let call = Call::new(rule.operation, ctx.reg(0)).json(body);
        ctx.refused(call).await.map_err(|f| Failure {
            message: format!(
                "{at} = {} ({}), which its schema refuses, must be refused: {}",
                excerpt(bad.value.to_string().as_bytes()),
                bad.why,
                f.message
            ),
            ..f
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bodies(rule: &FieldRule) -> Vec<(BadValue, Value)> {
        let base = match rule.operation {
            Operation::Personalize if rule.path.last() == Some(&field::EXTERNAL_ID) => {
                json!({ field::IDENTITY: { field::PHONE_NUMBER: "99123" } })
            }
            Operation::Personalize => json!({ field::IDENTITY: { field::EXTERNAL_ID: "p-1" } }),
            _ => json!({}),
        };
        let valid = match rule.path.last().copied() {
            Some(field::EMAIL) => json!("pushcheck.1@example.com"),
            Some(field::PHONE_NUMBER) => json!("99123"),
            _ => json!("pushcheck"),
        };
        bad_bodies(rule, &base, &valid)
    }

    /// Every rule makes bad values, and the valid body they are put into is valid.
    #[test]
    fn every_field_gets_values_its_schema_refuses() {
        for rule in RULES {
            let made = bodies(rule);
            assert!(made.len() >= 2, "{}: {made:?}", rule.case);
            let schema = rule.operation.request_schema().unwrap_or_default();
            for (bad, body) in &made {
                let valid = registry()
                    .is_valid(schema, Mode::Lenient, body)
                    .unwrap_or(true);
                assert!(!valid, "{}: {} is not refused: {body}", rule.case, bad.why);
            }
        }
        let whys = |case: &str| -> Vec<&'static str> {
            bodies(rule(case)).iter().map(|(b, _)| b.why).collect()
        };
        let phone = whys("personalize.invalid.phone_number");
        for why in [
            "wrong type (an object)",
            "null",
            "an empty string",
            "a leading +",
        ] {
            assert!(phone.contains(&why), "{phone:?}");
        }
        let email = whys("personalize.invalid.email");
        assert!(email.contains(&"one character over maxLength"), "{email:?}");
        let birthday = whys("personalize.invalid.birthday");
        assert!(birthday.contains(&"an impossible date"), "{birthday:?}");
        let custom = whys("personalize.invalid.custom_attributes");
        assert!(
            custom.contains(&"an attribute string over maxLength"),
            "{custom:?}"
        );
        assert!(
            custom.contains(&"an impossible attribute date"),
            "{custom:?}"
        );
        let data = whys("patch.invalid.additional_data");
        assert!(
            data.contains(&"an attribute name over maxLength"),
            "{data:?}"
        );
    }

    /// Each property the request schemas list has a negative case (a new field in `schemas/`
    /// makes this fail until its case is added).
    #[test]
    fn every_request_field_has_a_case() {
        let mut fields: Vec<String> = Vec::new();
        let listed = |file: &str, pointer: &str| -> Vec<String> {
            resolve(file, pointer)
                .1
                .get("properties")
                .and_then(Value::as_object)
                .map(|p| p.keys().cloned().collect())
                .unwrap_or_default()
        };
        for (prefix, file, pointer) in [
            ("personalize", "personalize-request", ""),
            (
                "personalize/identity",
                "personalize-request",
                "/properties/identity",
            ),
            ("personalize/attributes", "person-attributes", ""),
            ("patch", "patch-request", ""),
            (
                "patch/systemData",
                "patch-request",
                "/properties/systemData",
            ),
        ] {
            for name in listed(file, pointer) {
                fields.push(format!("{prefix}/{name}"));
            }
        }
        let covered: Vec<String> = RULES
            .iter()
            .map(|r| {
                let op = if r.operation == Operation::Patch {
                    "patch"
                } else {
                    "personalize"
                };
                std::iter::once(op)
                    .chain(r.path.iter().copied())
                    .collect::<Vec<_>>()
                    .join("/")
            })
            .collect();
        for f in &fields {
            assert!(covered.contains(f), "no negative case for {f}");
        }
        assert!(fields.len() >= 15, "{fields:?}");
    }
}
