//! From a (schema-valid) JSON body to the inputs of the state: the writable fields of a PATCH,
//! the identity and attributes of a personalize. The schema has already refused wrong types, so
//! what does not fit is skipped, never unwrapped.
//!
//! This module must not validate (that is `validate`, with the schemas) and must not know the
//! state's rules. The planted defects read here are `personalize.null_external_id_stored` and
//! `personalize.accepts_any_identity` (unusable values dropped, not refused).

use serde_json::{Map, Value};

use super::defects::{Defect, Defects};
use super::response::Refusal;
use super::state::{
    AttrValue, Attrs, Gender, Identity, PatchInput, PersonAttributes, PersonFields,
};

/// The writable fields of a PATCH body; everything else is ignored
/// (choice `patch.read_only_fields_ignored`).
pub(super) fn patch_input(value: &Value) -> PatchInput {
    PatchInput {
        is_primary: value.get("isPrimary").and_then(Value::as_bool),
        registration_enabled: value
            .pointer("/systemData/registrationEnabled")
            .and_then(Value::as_bool),
        additional: value
            .get("additionalData")
            .and_then(Value::as_object)
            .map(to_attrs),
        read_only_system_data: value
            .get("systemData")
            .and_then(Value::as_object)
            .is_some_and(|fields| fields.keys().any(|k| k != "registrationEnabled")),
        removed: null_keys(value.get("additionalData")),
    }
}

/// The identity and attributes of a personalize body; an `externalId` of `"null"`, `"Null"`
/// or `"NULL"` is JSON null [doc].
pub(super) fn personalize_input(
    defects: Defects,
    value: &Value,
) -> Result<(Identity, PersonAttributes), Refusal> {
    // Under `personalize.accepts_any_identity` nothing was validated: unusable values (not a
    // string, empty) are dropped instead of refused.
    let any = defects.has(Defect::PersonalizeAcceptsAny);
    let text = |v: &Value, key: &str| {
        v.get(key)
            .and_then(Value::as_str)
            .filter(|s| !(any && s.is_empty()))
            .map(str::to_owned)
    };
    let identity = value.get("identity").unwrap_or(&Value::Null);
    let external_id = text(identity, "externalId").filter(|e| {
        !matches!(e.as_str(), "null" | "Null" | "NULL") || defects.has(Defect::NullExternalIdStored)
    });
    let identity = Identity {
        external_id,
        phone: text(identity, "phoneNumber"),
        email: text(identity, "email"),
    };
    let a = value.get("attributes").unwrap_or(&Value::Null);
    let gender = match a.get("gender").and_then(Value::as_str) {
        None => None,
        Some("MALE") => Some(Gender::Male),
        Some("FEMALE") => Some(Gender::Female),
        Some(_) if any => None,
        Some(_) => return Err(Refusal::bad_request("gender must be MALE or FEMALE")),
    };
    let tags = a.get("tags").and_then(Value::as_array).map(|list| {
        list.iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect()
    });
    let attributes = PersonAttributes {
        fields: PersonFields {
            first_name: text(a, "firstName"),
            last_name: text(a, "lastName"),
            middle_name: text(a, "middleName"),
            birthday: text(a, "birthday"),
            gender,
            tags,
        },
        custom: a
            .get("customAttributes")
            .and_then(Value::as_object)
            .map(to_attrs),
    };
    Ok((identity, attributes))
}

fn to_attrs(map: &Map<String, Value>) -> Attrs {
    map.iter()
        .filter_map(|(k, v)| {
            let value = match v {
                Value::String(s) => AttrValue::Str(s.as_str().into()),
                Value::Number(n) => AttrValue::Num(n.clone()),
                Value::Bool(b) => AttrValue::Bool(*b),
                // The schema has already refused anything else.
                _ => return None,
            };
            Some((k.as_str().into(), value))
        })
        .collect()
}

/// The attribute names a PATCH `additionalData` sends as `null`: deleted
/// (choice `patch.additional_data_merged`).
fn null_keys(additional: Option<&Value>) -> Vec<Box<str>> {
    additional
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter(|(_, v)| v.is_null())
                .map(|(k, _)| k.as_str().into())
                .collect()
        })
        .unwrap_or_default()
}
