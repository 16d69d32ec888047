//! Cases on `PATCH /people/2/contactInformation/push/{pushRegId}`: the writable fields, read back
//! through GET, and the custom-attribute limits at and just past each bound. The bounds are read
//! from `schemas/custom-attributes.json`, not spelled here.

use serde_json::{Value, json};

use super::{BoxFuture, CaseSpec, personalize_phone};
use crate::api::client::Call;
use crate::api::footprint::{self, name};
use crate::api::{Operation, docs, field};
use crate::contract::ctx::Ctx;
use crate::contract::expect::{ErrorExpect, check_value};
use crate::contract::result::Failure;
use crate::schema::lint::parse_example;
use crate::schema::registry;

pub(super) const CASES: &[CaseSpec] = &[
    CaseSpec::write("patch.registration_enabled", "patch", "systemData.registrationEnabled is written and read back by GET", 1, patch_registration_enabled),
    CaseSpec::write("patch.additional_data", "patch", "additionalData is written and read back by GET", 1, patch_additional_data),
    CaseSpec::write("patch.is_primary", "patch", "isPrimary is written and read back by GET", 1, patch_is_primary)
        .relies_on(&["primary.unpersonalized_device"]),
    CaseSpec::write("patch.custom_attribute.name_256_chars", "patch", "an attribute name of exactly the maximum length is accepted", 1, name_at_limit),
    CaseSpec::write("patch.custom_attribute.name_257_chars", "patch", "an attribute name one character too long: 400", 1, name_past_limit),
    CaseSpec::write("patch.custom_attribute.string_4096_chars", "patch", "a string value of exactly the maximum length is accepted", 1, string_at_limit),
    CaseSpec::write("patch.custom_attribute.string_4097_chars", "patch", "a string value one character too long: 400", 1, string_past_limit),
    CaseSpec::write("patch.custom_attribute.number_max", "patch", "the largest number, 9223372036854775807, is accepted", 1, number_at_limit),
    CaseSpec::write("patch.custom_attribute.number_max_plus_one", "patch", "9223372036854775808: 400", 1, number_past_limit),
    CaseSpec::write("patch.custom_attribute.date_valid", "patch", "a real YYYY-MM-DD date (2024-02-29) is accepted", 1, date_valid),
    CaseSpec::write("patch.custom_attribute.date_invalid", "patch", "a date that does not exist (2024-02-30): 400", 1, date_invalid),
    CaseSpec::write("patch.doc_example", "patch", "the doc's own PATCH body (with its isPrmary typo) is accepted and the typo'd field ignored", 1, doc_example)
        .relies_on(&["patch.read_only_fields_ignored"]),
    CaseSpec::write("patch.doc_typo_ignored", "patch", "the doc's own PATCH body, its attribute renamed to pushcheck's: answered 200 with isPrmary ignored, as the doc shows (live-safe)", 1, doc_typo_ignored),
    CaseSpec::write("patch.read_only_ignored", "patch", "a read-only systemData field in the body is ignored", 1, read_only_ignored)
        .relies_on(&["patch.read_only_fields_ignored"]),
    CaseSpec::write("patch.read_only_not_stored", "patch", "read-only fields in a PATCH body (systemData but registrationEnabled, registrationId, applicationId) are refused or ignored, never stored (live-safe)", 1, read_only_not_stored),
    CaseSpec::write("patch.malformed_json", "patch", "a body that is not JSON: 400 with a documented error body", 1, malformed_json),
    CaseSpec::write("patch.wrong_content_type", "patch", "a text/plain body: 400", 1, wrong_content_type)
        .relies_on(&["request.content_type_json"]),
    CaseSpec::write("patch.text_plain_refused_or_applied", "patch", "a JSON body sent as text/plain is refused (4xx) or, if answered 200, stored as answered (live-safe)", 1, text_plain_refused_or_applied),
    CaseSpec::read("patch.unknown_id", "patch", "PATCH of an unknown ID: 400, errorCode 48013", unknown_id),
    CaseSpec::write("patch.is_primary_stored", "patch", "on a device of a person, isPrimary true then false is stored: GET reads back what PATCH set (live-safe)", 1, is_primary_stored),
];

/// A limit of the custom-attribute schema, as a u64.
fn limit(pointer: &str) -> u64 {
    registry()
        .number_at("custom-attributes", pointer)
        .and_then(serde_json::Number::as_u64)
        .unwrap_or(0)
}

fn name_limit() -> usize {
    limit("/propertyNames/maxLength") as usize
}

fn string_limit() -> usize {
    limit("/$defs/value/maxLength") as usize
}

fn number_limit() -> u64 {
    limit("/$defs/value/maximum")
}

/// PATCH `body`, then GET: both must show `expected` at `pointer`.
async fn write_and_read_back(
    ctx: &mut Ctx,
    body: Value,
    pointer: &str,
    expected: Value,
) -> Result<(), Failure> {
    let id = ctx.reg(0);
    let patched = ctx
        .ok(Call::new(Operation::Patch, id.clone()).json(body))
        .await?;
    check_value("the PATCH response", &patched, pointer, &expected)?;
    let read = ctx.ok(Call::new(Operation::Get, id)).await?;
    check_value("the GET after the PATCH", &read, pointer, &expected)
}

/// PATCH custom attribute `name` = `value`, then GET: both must show it.
async fn write_attribute(ctx: &mut Ctx, name: &str, value: Value) -> Result<(), Failure> {
    let pointer = field::pointer(&[field::ADDITIONAL_DATA, name]);
    write_and_read_back(ctx, attribute(name, value.clone()), &pointer, value).await
}

/// PATCH the top-level boolean `name` to each of `values` in turn; the PATCH answer and GET
/// must show each.
async fn write_both_ways(ctx: &mut Ctx, name: &str, values: [bool; 2]) -> Result<(), Failure> {
    for value in values {
        let body = json!({ name: value });
        write_and_read_back(ctx, body, &field::pointer(&[name]), Value::Bool(value)).await?;
    }
    Ok(())
}

/// PATCH `body` must be refused with 400 and a documented error body.
async fn refused(ctx: &mut Ctx, body: Value) -> Result<(), Failure> {
    let call = Call::new(Operation::Patch, ctx.reg(0)).json(body);
    ctx.error(call, 400, ErrorExpect::AnyShape).await.map(drop)
}

fn patch_registration_enabled(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move {
        let pointer = field::pointer(&[field::SYSTEM_DATA, field::REGISTRATION_ENABLED]);
        for enabled in [false, true] {
            let body = json!({ field::SYSTEM_DATA: { field::REGISTRATION_ENABLED: enabled } });
            write_and_read_back(ctx, body, &pointer, Value::Bool(enabled)).await?;
        }
        Ok(())
    })
}

fn patch_additional_data(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move {
        let note = format!("run {}", ctx.env().run_tag);
        write_and_read_back(
            ctx,
            json!({ field::ADDITIONAL_DATA: {(name::OTP): true, (name::NOTE): note} }),
            &field::pointer(&[field::ADDITIONAL_DATA, name::NOTE]),
            Value::from(note.clone()),
        )
        .await
    })
}

fn patch_is_primary(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move { write_both_ways(ctx, field::IS_PRIMARY, [true, false]).await })
}

fn attribute(name: &str, value: Value) -> Value {
    json!({ field::ADDITIONAL_DATA: { name: value } })
}

/// An attribute name of `length` characters. Every attribute the suite writes is named
/// pushcheck_…, so leftovers on a live registration are recognisable.
fn attribute_name(length: usize) -> String {
    footprint::name_of_length(length)
}

fn name_at_limit(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move { write_attribute(ctx, &attribute_name(name_limit()), json!(true)).await })
}

fn name_past_limit(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move {
        let name = attribute_name(name_limit() + 1);
        refused(ctx, attribute(&name, json!(true))).await
    })
}

fn string_at_limit(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move {
        let value = json!("s".repeat(string_limit()));
        write_attribute(ctx, name::LONG, value).await
    })
}

fn string_past_limit(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move {
        let value = json!("s".repeat(string_limit() + 1));
        refused(ctx, attribute(name::LONG, value)).await
    })
}

fn number_at_limit(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move { write_attribute(ctx, name::BIG, json!(number_limit())).await })
}

fn number_past_limit(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move { refused(ctx, attribute(name::BIG, json!(number_limit() + 1))).await })
}

fn date_valid(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move { write_attribute(ctx, name::DATE, json!("2024-02-29")).await })
}

fn date_invalid(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move { refused(ctx, attribute(name::DATE, json!("2024-02-30"))).await })
}

/// The doc's PATCH example misspells isPrimary; the field must be ignored, not applied.
fn doc_example(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move { doc_body_answered(ctx, None).await })
}

/// Live-safe: the doc's own PATCH example, its custom attribute renamed to one of pushcheck's
/// fixed names (`api::footprint`). The doc shows that request (with its misspelled `isPrmary`)
/// answered 200, `isPrimary` unchanged and the attribute set: that answer is documented by
/// example, not a simulator choice, so a target that refuses the body contradicts the doc.
fn doc_typo_ignored(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move { doc_body_answered(ctx, Some(name::OTP)).await })
}

/// PATCH the doc's body (its attributes renamed to `rename`, if given): 200, `isPrimary` as
/// before, every attribute of the body in the answer.
async fn doc_body_answered(ctx: &mut Ctx, rename: Option<&str>) -> Result<(), Failure> {
    let id = ctx.reg(0);
    let before = ctx.ok(Call::new(Operation::Get, id.clone())).await?;
    let mut body = docs::example("patch-request")
        .map(parse_example)
        .unwrap_or(Value::Null);
    if let (Some(name), Some(data)) = (
        rename,
        body.get_mut(field::ADDITIONAL_DATA)
            .and_then(Value::as_object_mut),
    ) {
        let values: Vec<Value> = std::mem::take(data).into_values().collect();
        for value in values.into_iter().take(1) {
            data.insert(name.to_owned(), value);
        }
    }
    let attributes = body
        .get(field::ADDITIONAL_DATA)
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let patched = ctx.ok(Call::new(Operation::Patch, id).json(body)).await?;
    let was = before
        .get(field::IS_PRIMARY)
        .cloned()
        .unwrap_or(Value::Bool(false));
    let what = "the PATCH response to the doc's body";
    check_value(what, &patched, &field::pointer(&[field::IS_PRIMARY]), &was)?;
    for (name, value) in &attributes {
        let pointer = field::pointer(&[field::ADDITIONAL_DATA, name]);
        check_value(what, &patched, &pointer, value)?;
    }
    Ok(())
}

fn read_only_ignored(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move {
        let id = ctx.reg(0);
        let pointer = field::pointer(&[field::SYSTEM_DATA, field::OS_VERSION]);
        let before = ctx.ok(Call::new(Operation::Get, id.clone())).await?;
        let os_version = before.pointer(&pointer).cloned().unwrap_or(Value::Null);
        let body = json!({ field::SYSTEM_DATA: { field::OS_VERSION: "0.0-pushcheck" } });
        ctx.ok(Call::new(Operation::Patch, id.clone()).json(body))
            .await?;
        let after = ctx.ok(Call::new(Operation::Get, id)).await?;
        let what = "the GET after patching a read-only field";
        check_value(what, &after, &pointer, &os_version)
    })
}

/// A PATCH of registration 0 with a raw body: 400 with a documented error body.
async fn raw_refused(ctx: &mut Ctx, content_type: &'static str, body: &str) -> Result<(), Failure> {
    let call = Call::new(Operation::Patch, ctx.reg(0)).raw(content_type, body);
    ctx.error(call, 400, ErrorExpect::AnyShape).await.map(drop)
}

fn malformed_json(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move { raw_refused(ctx, "application/json", "{\"isPrimary\": tru").await })
}

fn wrong_content_type(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move { raw_refused(ctx, "text/plain", "{\"isPrimary\": true}").await })
}

fn unknown_id(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move {
        let body = json!({ field::IS_PRIMARY: true });
        let call = Call::new(Operation::Patch, ctx.unknown_id()).json(body);
        ctx.not_found(call).await
    })
}

/// Live-safe: the device is first personalized to a new person (documented), so isPrimary
/// means "this person's primary device" without relying on what a target does with a device of
/// nobody. Each value PATCHed must be what GET reads back. The runner restores the device.
fn is_primary_stored(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move {
        let phone = ctx.phone();
        ctx.ok(personalize_phone(ctx.reg(0), &phone)).await?;
        write_both_ways(ctx, field::IS_PRIMARY, [true, false]).await
    })
}

/// A value of a read-only `systemData` field other than `current`, of the type its schema
/// (`schemas/system-data.json`) gives: another enum member, the other boolean, another string.
fn another_value(schema: &Value, current: &Value) -> Value {
    if let Some(members) = schema.get("enum").and_then(Value::as_array) {
        return members
            .iter()
            .find(|m| *m != current)
            .cloned()
            .unwrap_or(Value::Null);
    }
    match current {
        Value::Bool(b) => Value::Bool(!b),
        _ if schema.get("type") == Some(&json!("boolean")) => Value::Bool(true),
        _ => json!("pushcheck-read-only"),
    }
}

/// The read-only `systemData` fields the device has (every field of the schema but the one
/// writable, `registrationEnabled`), each with another value; `osVersion` if it has none.
fn read_only_writes(before: &Value) -> serde_json::Map<String, Value> {
    let properties = registry()
        .document("system-data")
        .ok()
        .and_then(|d| d.get("properties"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let current = before.get(field::SYSTEM_DATA);
    let mut out = serde_json::Map::new();
    for (name, schema) in &properties {
        if name == field::REGISTRATION_ENABLED {
            continue;
        }
        if let Some(value) = current.and_then(|s| s.get(name)) {
            out.insert(name.clone(), another_value(schema, value));
        }
    }
    if out.is_empty() {
        out.insert(field::OS_VERSION.to_owned(), json!("pushcheck-read-only"));
    }
    out
}

/// Live-safe [doc]: only `systemData.registrationEnabled` is writable; `registrationId`,
/// `applicationId` and the rest of `systemData` are read-only. What a target does with them in
/// a PATCH body is not documented, so both answers are accepted: a refusal (4xx with a
/// documented error body) or a 200 that ignores them. Either way GET must read back the old
/// values: a read-only field stored is a failure (then the case writes the old values back, so a
/// target that stores them is put back too; the runner restores the writable fields).
fn read_only_not_stored(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move {
        let id = ctx.reg(0);
        let before = ctx.ok(Call::new(Operation::Get, id.clone())).await?;
        let writes = read_only_writes(&before);
        let body = json!({
            field::SYSTEM_DATA: writes,
            field::REGISTRATION_ID: format!("{id}-pushcheck"),
            field::APPLICATION_ID: "pushcheck-read-only",
        });
        ctx.ok_or_refused(Call::new(Operation::Patch, id.clone()).json(body))
            .await?;
        let after = ctx.ok(Call::new(Operation::Get, id.clone())).await.map_err(|f| Failure {
            message: format!(
                "after a PATCH whose body sent another registrationId, the registration must still be found under its ID: {}",
                f.message
            ),
            ..f
        })?;
        let mut changed = Vec::new();
        let mut put_back = serde_json::Map::new();
        for name in writes.keys() {
            let pointer = field::pointer(&[field::SYSTEM_DATA, name]);
            let (was, now) = (before.pointer(&pointer), after.pointer(&pointer));
            if was != now {
                changed.push(pointer);
                if let Some(was) = was {
                    put_back.insert(name.clone(), was.clone());
                }
            }
        }
        for name in [field::REGISTRATION_ID, field::APPLICATION_ID] {
            if before.get(name) != after.get(name) {
                changed.push(field::pointer(&[name]));
            }
        }
        let Some(first) = changed.first().cloned() else {
            return Ok(());
        };
        if !put_back.is_empty() {
            let body = json!({ field::SYSTEM_DATA: put_back });
            // Best effort: a target that stores read-only fields stores their old values too.
            let _ = ctx.send(Call::new(Operation::Patch, id).json(body)).await;
        }
        Err(Failure {
            message: format!(
                "a read-only field sent in a PATCH body was stored: GET reads back another value at {}",
                changed.join(", ")
            ),
            expected: before.pointer(&first).map(ToString::to_string),
            got: Some(
                after
                    .pointer(&first)
                    .map_or_else(|| "nothing (missing)".to_owned(), ToString::to_string),
            ),
            pointer: Some(first),
            ..Failure::default()
        })
    })
}

/// Live-safe: the docs send request bodies as `application/json` and say nothing of other
/// content types, so a target may refuse a JSON body labelled `text/plain` (the simulator's
/// choice `request.content_type_json`, checked by `patch.wrong_content_type`) or read it anyway.
/// What the docs do promise is that a PATCH answered 200 answers the updated registration: so a
/// refusal (4xx, documented error body) passes, and a 200 must be stored as answered — the
/// custom attribute the body sets is in the GET afterwards exactly as in the PATCH's answer
/// (both with it, or both without). A target that reads such a body as JSON cannot be told from
/// a correct one here (see the README's live kill matrix).
fn text_plain_refused_or_applied(ctx: &mut Ctx) -> BoxFuture<'_> {
    Box::pin(async move {
        let id = ctx.reg(0);
        let note = format!("run {} text/plain", ctx.env().run_tag);
        let body = json!({ field::ADDITIONAL_DATA: { (name::NOTE): note } }).to_string();
        let call = Call::new(Operation::Patch, id.clone()).raw("text/plain", body);
        let Some(answer) = ctx.ok_or_refused(call).await? else {
            return Ok(());
        };
        let pointer = field::pointer(&[field::ADDITIONAL_DATA, name::NOTE]);
        let read = ctx.ok(Call::new(Operation::Get, id)).await?;
        let (answered, stored) = (answer.pointer(&pointer), read.pointer(&pointer));
        if answered == stored {
            return Ok(());
        }
        let show = |v: Option<&Value>| {
            v.map_or_else(|| "nothing (missing)".to_owned(), ToString::to_string)
        };
        Err(Failure {
            message: "a text/plain PATCH answered 200 is not stored as answered: the GET afterwards differs from the PATCH's answer".into(),
            expected: Some(show(answered)),
            got: Some(show(stored)),
            pointer: Some(pointer),
            ..Failure::default()
        })
    })
}
