//! The HTTP edge of the planted defects: what goes on the wire after the rules have answered.
//!
//! [`distort`] takes the answer the simulator built and, for each planted edge defect (see
//! `mock::defects`, layer `edge`), rewrites it: the Content-Type of 2xx bodies, the error shapes,
//! a missing or mistyped field, another person's identity, an empty person, a body on
//! depersonalize. Without an edge defect the answer passes through untouched, without being
//! read. This module must not change the state and must not be consulted by the rules.

use axum::body::Body;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::config::Application;
use super::defects::{Defect, Defects};
use crate::api::{Operation, error_code, message_id};

/// The application whose `applicationId` the `response.application_id_other` defect sends.
const OTHER_APPLICATION: &str = "pushcheck-defect-other-application";

/// Largest body the edge reads back (the simulator's own answers are far smaller).
const MAX_ANSWER: usize = 64 * 1024 * 1024;

/// The answer as the planted edge defects send it.
pub(super) async fn distort(defects: Defects, op: Operation, response: Response) -> Response {
    if defects.is_empty() || !defects.any_edge() {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_ANSWER).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let mut json: Option<Value> = serde_json::from_slice(&bytes).ok();
    if parts.status.is_success() {
        if op == Operation::Depersonalize && defects.has(Defect::DepersonalizeBody) {
            json = Some(json!({}));
        }
        if let Some(value) = &mut json {
            success_body(defects, op, value);
        }
    } else if let Some(value) = &mut json {
        parts.status = error_body(defects, parts.status, value);
    }
    let Some(value) = json else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    let content_type = if parts.status.is_success() && defects.has(Defect::ContentTypeNotJson) {
        "text/plain"
    } else {
        "application/json"
    };
    parts
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    let bytes = serde_json::to_vec(&value).unwrap_or_default();
    Response::from_parts(parts, Body::from(bytes))
}

/// The 2xx body defects.
fn success_body(defects: Defects, op: Operation, value: &mut Value) {
    if op == Operation::Personalize && defects.has(Defect::AnswersEmptyPerson) {
        *value = json!({});
        return;
    }
    let registrations: Vec<&mut Value> = match op {
        Operation::Get | Operation::Patch => vec![&mut *value],
        Operation::Personalize => value
            .pointer_mut("/contactInformation/push")
            .and_then(Value::as_array_mut)
            .map(|list| list.iter_mut().collect())
            .unwrap_or_default(),
        Operation::Depersonalize => Vec::new(),
    };
    for registration in registrations {
        let Some(fields) = registration.as_object_mut() else {
            continue;
        };
        if defects.has(Defect::ApplicationIdMissing) {
            fields.remove("applicationId");
        }
        if defects.has(Defect::ApplicationIdOther) {
            let other = Application::from_code(OTHER_APPLICATION).application_id;
            fields.insert("applicationId".to_owned(), Value::String(other));
        }
        if op == Operation::Get
            && defects.has(Defect::WrongRegistrationId)
            && let Some(Value::String(id)) = fields.get_mut("registrationId")
        {
            id.push_str("-other");
        }
    }
    if op != Operation::Personalize {
        return;
    }
    if defects.has(Defect::AnswersOtherPerson) {
        value["externalId"] = json!("pushcheck-defect-other-person");
        if let Some(contact) = value.get_mut("contactInformation") {
            contact["phones"] = json!([{ "number": "10000000000" }]);
            contact["emails"] = json!([{ "address": "other.person@example.com" }]);
        }
    }
    if defects.has(Defect::PhoneNumberNotString)
        && let Some(phones) = value
            .pointer_mut("/contactInformation/phones")
            .and_then(Value::as_array_mut)
    {
        for phone in phones {
            if let Some(Value::String(number)) = phone.get("number") {
                let as_number: Value = serde_json::from_str(number).unwrap_or(json!(0));
                phone["number"] = as_number;
            }
        }
    }
}

/// The error body defects; returns the status to send.
fn error_body(defects: Defects, status: StatusCode, value: &mut Value) -> StatusCode {
    let mut status = status;
    let code = value.get("errorCode").and_then(Value::as_i64);
    if defects.has(Defect::UnknownId404) && code == Some(error_code::REGISTRATION_NOT_FOUND) {
        status = StatusCode::NOT_FOUND;
        *value = json!({ "requestError": { "serviceException": {
            "messageId": message_id::NOT_FOUND,
            "text": "Push registration not found",
        } } });
    }
    if defects.has(Defect::PushErrorShape)
        && let (Some(code), Some(message)) = (
            value.get("errorCode").and_then(Value::as_i64),
            value.get("errorMessage").cloned(),
        )
    {
        *value = json!({ "error": { "code": code, "message": message } });
    }
    if defects.has(Defect::LegacyErrorShape)
        && let Some(exception) = value.pointer("/requestError/serviceException").cloned()
    {
        *value = exception;
    }
    status
}
