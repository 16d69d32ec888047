//! A request body against the operation's request schema, so that payload rules stay spelled
//! only in `schemas/`: its content type, JSON, the schema (lenient; strict for the
//! `patch.read_only_refused` defect), and two rules the schema cannot state exactly: custom
//! attribute numbers beyond the signed 64-bit range that JSON parsing rounds into it (choice
//! `limits.custom_attribute_number_range`), and the email rule's own answer, EMAIL_INVALID.
//!
//! The body-level planted defects (`request.*`, `limit.*`, `patch.read_only_refused`,
//! `personalize.identity_not_required`, `personalize.accepts_any_identity`) are consulted here, at [`tolerated`] and in
//! [`json_body`]. Reading the bytes off the connection is the edge's (`body`). This module must
//! not panic on any input and must not know the state.

use serde_json::{Number, Value};

use super::defects::{Defect, Defects};
use super::request::{FieldErrors, SimRequest};
use super::response::Refusal;
use super::state::OpError;
use crate::api::{Operation, message_id};
use crate::schema::registry::pointer_token;
use crate::schema::{Mode, Violation, registry};

/// Validation messages are cut to this many characters (they may quote the offending value).
const MAX_MESSAGE_CHARS: usize = 300;
/// 2^63 as a float: floats at or beyond it (either sign) are outside the signed 64-bit range
/// once the rounding of parsing is accounted for.
const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;

/// Whether the body is declared JSON (choice `request.content_type_json`, parameters such as
/// charset allowed), or any content type is taken under the `request.content_type_not_checked`
/// defect. The edge reads a body only when this holds.
pub(super) fn content_type_accepted(defects: Defects, content_type: Option<&[u8]>) -> bool {
    defects.has(Defect::ContentTypeNotChecked)
        || content_type
            // As `HeaderValue::to_str`: visible ASCII (and tabs) only.
            .filter(|v| v.iter().all(|&b| b == b'\t' || (32..127).contains(&b)))
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// Parses and validates the request's JSON body against the operation's request schema.
pub(super) fn json_body(defects: Defects, request: &SimRequest<'_>) -> Result<Value, Refusal> {
    let op = request.operation;
    if !content_type_accepted(defects, request.content_type) {
        return Err(Refusal::bad_request(
            "Content-Type must be application/json (choice request.content_type_json)",
        ));
    }
    if request.body.is_empty() {
        return Err(Refusal::bad_request("A JSON body is required"));
    }
    let value: Value = match serde_json::from_slice(request.body) {
        Ok(v) => v,
        Err(_) if defects.has(Defect::MalformedJsonAccepted) => Value::Object(Default::default()),
        Err(e) => return Err(Refusal::bad_request(format!("Malformed JSON body: {e}"))),
    };
    let violations = violations(defects, op, &value)?;
    if violations.is_empty() {
        return Ok(value);
    }
    if op == Operation::Personalize && violations.iter().all(|v| v.instance_path == EMAIL) {
        return Err(refusal(op, OpError::EmailInvalid));
    }
    // Choice `errors.validation_errors_json_pointer`.
    let mut fields = FieldErrors::new();
    for v in violations {
        fields
            .entry(v.instance_path.clone())
            .or_default()
            .push(describe(&v));
    }
    Err(Refusal::BadRequest {
        text: "The request body does not follow the documented format".into(),
        fields,
    })
}

/// The documented answer to an operation the state refused; the personalize conflicts are
/// HTTP 400 with a legacy body (choice `personalize.conflict_status_400`).
pub(super) fn refusal(op: Operation, error: OpError) -> Refusal {
    let (message_id, text) = match error {
        OpError::RegistrationNotFound => return Refusal::RegistrationNotFound,
        // Choice `limits.custom_attribute_count`: the shape of every other body rule.
        OpError::TooManyAttributes { limit } => {
            let field = op
                .request_schema()
                .and_then(|s| registry().map_paths(s).first().cloned())
                .unwrap_or_default();
            let message =
                format!("at most {limit} custom attributes (choice limits.custom_attribute_count)");
            return Refusal::BadRequest {
                text: "Too many custom attributes".into(),
                fields: FieldErrors::from([(field, vec![message])]),
            };
        }
        OpError::IdentityInvalid => (
            message_id::USER_IDENTITY_INVALID,
            "The identity must hold a non-empty externalId, phoneNumber or email",
        ),
        OpError::EmailInvalid => (message_id::EMAIL_INVALID, "The email is not valid"),
        OpError::Ambiguous => (
            message_id::AMBIGUOUS_PERSONALIZE_CANDIDATES,
            "The identity matches several people",
        ),
        OpError::Impossible => (
            message_id::PERSONALIZATION_IMPOSSIBLE,
            "The device is personalized with another person; use forceDepersonalize=true to move it",
        ),
        OpError::MergeInterrupted => (
            message_id::USER_MERGE_INTERRUPTED,
            "The person found already has another externalId",
        ),
    };
    Refusal::Conflict { message_id, text }
}

/// Pointer of the personalize identity's email, whose violations answer EMAIL_INVALID.
const EMAIL: &str = "/identity/email";

/// Every rule the body breaks: its schema (strict for `patch.read_only_refused`), minus what a
/// planted defect tolerates, plus the exact number range.
fn violations(defects: Defects, op: Operation, value: &Value) -> Result<Vec<Violation>, Refusal> {
    let Some(schema) = op.request_schema() else {
        return Ok(Vec::new());
    };
    if op == Operation::Personalize && defects.has(Defect::PersonalizeAcceptsAny) {
        return Ok(Vec::new());
    }
    let mode = if op == Operation::Patch && defects.has(Defect::ReadOnlyRefused) {
        Mode::Strict
    } else {
        Mode::Lenient
    };
    let maps = registry().map_paths(schema);
    let mut found =
        registry()
            .validate(schema, mode, value)
            .map_err(|e| Refusal::GeneralError {
                text: e.to_string().into(),
            })?;
    if !defects.has(Defect::NumberRange) {
        found.extend(numbers_beyond_i64(maps, value));
    }
    found.retain(|v| !tolerated(defects, maps, v));
    Ok(found)
}

/// Custom attribute numbers that parsing turned into floats at or beyond ±2^63: written as
/// integers they were outside the range (`-9223372036854775809` parses as
/// `-9223372036854775808.0`), so they are refused, never stored as a float.
fn numbers_beyond_i64(maps: &[String], value: &Value) -> Vec<Violation> {
    let mut out = Vec::new();
    for map in maps {
        let Some(Value::Object(attributes)) = value.pointer(map) else {
            continue;
        };
        for (name, v) in attributes {
            if let Value::Number(n) = v
                && beyond_i64(n)
            {
                out.push(Violation {
                    instance_path: format!("{map}/{}", pointer_token(name)),
                    schema_path: "/$defs/value/minimum".to_owned(),
                    message: format!(
                        "{n} is outside -9223372036854775808..9223372036854775807 \
                         (choice limits.custom_attribute_number_range)"
                    ),
                    undocumented: false,
                });
            }
        }
    }
    out
}

/// True for a number held as a float at or beyond ±2^63.
fn beyond_i64(n: &Number) -> bool {
    n.as_i64().is_none()
        && n.as_u64().is_none()
        && n.as_f64()
            .is_some_and(|f| !(f > -TWO_POW_63 && f < TWO_POW_63))
}

/// Whether a planted defect lets this violation through (the named point of the `limit.*` and
/// `personalize.identity_not_required` defects).
fn tolerated(defects: Defects, maps: &[String], v: &Violation) -> bool {
    if defects.is_empty() {
        return false;
    }
    let keyword = v.schema_path.rsplit('/').next().unwrap_or_default();
    let in_attributes = maps
        .iter()
        .any(|m| v.instance_path.starts_with(&format!("{m}/")));
    let name = v.schema_path.contains("propertyNames");
    (defects.has(Defect::AttributeNameLength) && name)
        || (in_attributes && !name && {
            (defects.has(Defect::StringValueLength) && keyword == "maxLength")
                || (defects.has(Defect::NumberRange) && matches!(keyword, "maximum" | "minimum"))
                || (defects.has(Defect::DateCalendar) && keyword == "format")
        })
        || (defects.has(Defect::IdentityNotRequired) && v.instance_path == "/identity")
}

/// A violation's message with the schema keyword that failed (`maxLength`, `type`...).
fn describe(v: &Violation) -> String {
    let keyword = v.schema_path.rsplit('/').next().unwrap_or_default();
    if keyword.is_empty() {
        truncate(&v.message)
    } else {
        format!("{} (schema keyword {keyword})", truncate(&v.message))
    }
}

/// Shortens a long message in its middle, where a quoted value sits, keeping the rule at its end.
fn truncate(message: &str) -> String {
    let chars = message.chars().count();
    if chars <= MAX_MESSAGE_CHARS {
        return message.to_owned();
    }
    let head: String = message.chars().take(MAX_MESSAGE_CHARS / 2).collect();
    let tail: String = message
        .chars()
        .skip(chars - MAX_MESSAGE_CHARS / 2)
        .collect();
    format!("{head}…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_rounded_into_range_are_seen() {
        let parsed = |text: &str| serde_json::from_str::<Number>(text).unwrap();
        for outside in [
            "-9223372036854775809",
            "-9223372036854775808.0",
            "9223372036854775808.0",
            "1e19",
            "-1e300",
        ] {
            assert!(beyond_i64(&parsed(outside)), "{outside}");
        }
        for inside in [
            "-9223372036854775808",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854774784.0",
            "1.5",
            "0",
        ] {
            // 9223372036854775808 stays a u64 and is the schema's `maximum` to refuse.
            assert!(!beyond_i64(&parsed(inside)), "{inside}");
        }
    }
}
