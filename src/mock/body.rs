//! Request bodies: reading them (size limit, read timeout), parsing them, and checking them
//! against the operation's request schema, so that payload rules stay spelled only in
//! `schemas/`. Two rules the schema cannot state exactly are added here: custom attribute numbers
//! beyond the signed 64-bit range that JSON parsing rounds into it (choice
//! `limits.custom_attribute_number_range`), and the email rule's own answer, EMAIL_INVALID.
//!
//! The body-level planted defects (`request.*`, `limit.*`, `patch.read_only_refused`,
//! `personalize.identity_not_required`) are consulted here, at [`tolerated`] and in
//! [`json_body`]. This module must not panic on any input and must not know the state.

use std::collections::BTreeMap;
use std::pin::Pin;

use axum::body::{Body, Bytes, HttpBody};
use axum::http::header::{CONNECTION, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{Number, Value};

use super::defects::{Defect, Defects};
use super::server::{Shared, bad_request, legacy, legacy_with, op_error};
use super::state::OpError;
use crate::api::{Operation, message_id};
use crate::schema::registry::pointer_token;
use crate::schema::{Mode, Violation, registry};

/// Validation messages are cut to this many characters (they may quote the offending value).
const MAX_MESSAGE_CHARS: usize = 300;
/// An over-limit body up to this size is read and discarded before the 413 goes out, so the
/// client, still sending, sees the answer instead of a reset connection.
const DRAIN_LIMIT: usize = 16 * 1024 * 1024;
/// Longest time spent draining an over-limit body.
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(2);
/// 2^63 as a float: floats at or beyond it (either sign) are outside the signed 64-bit range
/// once the rounding of parsing is accounted for.
const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;

/// Reads, parses and validates a JSON body against the operation's request schema.
#[allow(clippy::result_large_err)]
pub(super) async fn json_body(
    shared: &Shared,
    parts: &Parts,
    body: Body,
    op: Operation,
) -> Result<Value, Response> {
    let defects = shared.defects;
    let content_type_ok = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"));
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let limit = shared.limits.body;
    if declared.is_some_and(|n| n > limit as u64) {
        if declared.is_some_and(|n| n <= DRAIN_LIMIT as u64) {
            drain(body).await;
        }
        return Err(too_large(limit));
    }
    if !content_type_ok && !defects.has(Defect::ContentTypeNotChecked) {
        return Err(bad_request(
            "Content-Type must be application/json (choice request.content_type_json)",
        ));
    }
    let timeout = shared.limits.body_read_timeout;
    let bytes = match tokio::time::timeout(timeout, read_limited(body, limit)).await {
        Ok(Ok(b)) => b,
        Ok(Err(BodyError::TooLarge(rest))) => {
            drain(rest).await;
            return Err(too_large(limit));
        }
        Ok(Err(BodyError::Broken)) => {
            return Err(bad_request("The request body could not be read"));
        }
        Err(_) => return Err(too_slow(timeout)),
    };
    if bytes.is_empty() {
        return Err(bad_request("A JSON body is required"));
    }
    let value: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(_) if defects.has(Defect::MalformedJsonAccepted) => Value::Object(Default::default()),
        Err(e) => return Err(bad_request(&format!("Malformed JSON body: {e}"))),
    };
    let violations = violations(defects, op, &value)?;
    if violations.is_empty() {
        return Ok(value);
    }
    if op == Operation::Personalize && violations.iter().all(|v| v.instance_path == EMAIL) {
        return Err(op_error(op, OpError::EmailInvalid));
    }
    // Choice `errors.validation_errors_json_pointer`.
    let mut fields: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for v in violations {
        fields
            .entry(v.instance_path.clone())
            .or_default()
            .push(describe(&v));
    }
    Err(legacy_with(
        StatusCode::BAD_REQUEST,
        message_id::BAD_REQUEST,
        "The request body does not follow the documented format",
        fields,
    ))
}

/// Pointer of the personalize identity's email, whose violations answer EMAIL_INVALID.
const EMAIL: &str = "/identity/email";

/// Every rule the body breaks: its schema (strict for `patch.read_only_refused`), minus what a
/// planted defect tolerates, plus the exact number range.
#[allow(clippy::result_large_err)]
fn violations(defects: Defects, op: Operation, value: &Value) -> Result<Vec<Violation>, Response> {
    let Some(schema) = op.request_schema() else {
        return Ok(Vec::new());
    };
    let mode = if op == Operation::Patch && defects.has(Defect::ReadOnlyRefused) {
        Mode::Strict
    } else {
        Mode::Lenient
    };
    let maps = registry().map_paths(schema);
    let mut found = registry().validate(schema, mode, value).map_err(|e| {
        legacy(
            StatusCode::INTERNAL_SERVER_ERROR,
            message_id::GENERAL_ERROR,
            &e.to_string(),
        )
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

/// Choice `request.body_limit_413`.
fn too_large(limit: usize) -> Response {
    legacy(
        StatusCode::PAYLOAD_TOO_LARGE,
        message_id::BAD_REQUEST,
        &format!("The request body is larger than {limit} bytes"),
    )
}

/// Choice `request.read_timeouts`: the body did not arrive in time; the connection is closed.
fn too_slow(timeout: std::time::Duration) -> Response {
    let mut response = legacy(
        StatusCode::REQUEST_TIMEOUT,
        message_id::BAD_REQUEST,
        &format!(
            "The request body did not arrive within {} ms",
            timeout.as_millis()
        ),
    );
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
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

enum BodyError {
    /// Over the limit; the rest of the body, unread.
    TooLarge(Body),
    Broken,
}

/// Collects a body, stopping as soon as it exceeds `limit` bytes.
async fn read_limited(mut body: Body, limit: usize) -> Result<Bytes, BodyError> {
    let mut buffer: Vec<u8> = Vec::new();
    loop {
        let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        match frame {
            None => return Ok(Bytes::from(buffer)),
            Some(Err(_)) => return Err(BodyError::Broken),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    if buffer.len() + data.len() > limit {
                        return Err(BodyError::TooLarge(body));
                    }
                    buffer.extend_from_slice(&data);
                }
            }
        }
    }
}

/// Reads and discards up to [`DRAIN_LIMIT`] bytes of `body`, for at most [`DRAIN_TIME`].
async fn drain(mut body: Body) {
    let discard = async {
        let mut seen = 0usize;
        while seen <= DRAIN_LIMIT {
            let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
            match frame {
                Some(Ok(frame)) => seen += frame.data_ref().map_or(0, |d| d.len()),
                _ => break,
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIME, discard).await;
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
