//! The simulator's own answer, [`SimResponse`], and the one place where any answer becomes
//! bytes on the wire: status, `Content-Type`, the body in one of the documented shapes (`wire`),
//! and the two headers some refusals carry (`Allow`, `Connection: close`).
//!
//! The rules return a `SimResponse`; the edge (and the admin routes) render it here. This module
//! must not decide anything: which answer a request gets is the rules' (or the edge's) business.

use std::borrow::Cow;
use std::time::Duration;

use axum::http::header::{ALLOW, CONNECTION, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::config::ErrorShapes;
use super::request::FieldErrors;
use super::state::{PersonView, RegistrationView};
use super::wire::{ApiError, Catalog, LegacyError, PersonBody, Prerendered, PushError};
use crate::api::{error_code, message_id};

/// What the simulator answers one request.
#[derive(Debug)]
pub enum SimResponse {
    /// 200 with a registration (GET, PATCH).
    Registration(RegistrationView),
    /// 200 with a person (personalize).
    Person(Box<PersonView>),
    /// 200 with an empty body (depersonalize).
    Empty,
    /// An error answer.
    Refused(Refusal),
}

/// Why a request was refused, one variant per documented answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// 404: not a path of the API.
    NoRoute,
    /// 405: a path of the API, another method (choice `errors.method_not_allowed_405`).
    MethodNotAllowed { allow: String },
    /// 429, the newer error shape (the rate-limit fault; choice `rate_limit.api_error_shape`).
    TooManyRequests,
    /// 500 GENERAL_ERROR: the error-rate fault, or an admin action that failed.
    GeneralError { text: Cow<'static, str> },
    /// 401: missing or wrong credentials.
    Unauthorized,
    /// 400, errorCode 48001.
    AppCodeMissing,
    /// 400, errorCode 48012.
    ApplicationNotFound,
    /// 400, errorCode 48013.
    RegistrationNotFound,
    /// 400 BAD_REQUEST, with messages per field (`validationErrors`).
    BadRequest {
        text: Cow<'static, str>,
        fields: FieldErrors,
    },
    /// 400 with another messageId: personalize conflicts, EMAIL_INVALID.
    Conflict {
        message_id: &'static str,
        text: &'static str,
    },
    /// 413 (choice `request.body_limit_413`).
    TooLarge { limit: usize },
    /// 408, and the connection is closed (choice `request.read_timeouts`).
    TooSlow { timeout: Duration },
}

impl Refusal {
    /// A 400 BAD_REQUEST without field messages.
    pub(crate) fn bad_request(text: impl Into<Cow<'static, str>>) -> Refusal {
        Refusal::BadRequest {
            text: text.into(),
            fields: FieldErrors::new(),
        }
    }

    /// Its HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::NoRoute => 404,
            Refusal::MethodNotAllowed { .. } => 405,
            Refusal::TooManyRequests => 429,
            Refusal::GeneralError { .. } => 500,
            Refusal::Unauthorized => 401,
            Refusal::TooLarge { .. } => 413,
            Refusal::TooSlow { .. } => 408,
            Refusal::AppCodeMissing
            | Refusal::ApplicationNotFound
            | Refusal::RegistrationNotFound
            | Refusal::BadRequest { .. }
            | Refusal::Conflict { .. } => 400,
        }
    }

    /// Its body, in the documented shape, or as the published OpenAPI file declares it.
    fn body(&self, shapes: ErrorShapes) -> Result<Vec<u8>, serde_json::Error> {
        if shapes == ErrorShapes::Published
            && let Some(body) = self.published_body()
        {
            return body;
        }
        fn legacy(message_id: &str, text: &str) -> Result<Vec<u8>, serde_json::Error> {
            to_json(&LegacyError {
                message_id,
                text,
                validation_errors: FieldErrors::new(),
            })
        }
        let push = |code: i64, text: &str| {
            to_json(&PushError {
                error_code: code,
                error_message: text,
            })
        };
        match self {
            Refusal::NoRoute => legacy(
                message_id::NOT_FOUND,
                "No such resource. The API's paths start with /people/2/contactInformation/push/.",
            ),
            Refusal::MethodNotAllowed { allow } => legacy(
                message_id::BAD_REQUEST,
                &format!("Method not allowed on this path; allowed: {allow}"),
            ),
            Refusal::TooManyRequests => to_json(&ApiError {
                error_code: "E429",
                description: "Too many requests",
                action: "Slow down: the limit is per operation and per second",
                violations: [],
                resources: [],
            }),
            Refusal::GeneralError { text } => legacy(message_id::GENERAL_ERROR, text),
            Refusal::Unauthorized => legacy(message_id::UNAUTHORIZED, "Invalid login details"),
            Refusal::AppCodeMissing => push(
                error_code::APP_CODE_MISSING,
                "Application code is missing: send it in the AppCode header",
            ),
            Refusal::ApplicationNotFound => push(
                error_code::APPLICATION_NOT_FOUND,
                "Push application not found",
            ),
            Refusal::RegistrationNotFound => push(
                error_code::REGISTRATION_NOT_FOUND,
                "Push registration not found",
            ),
            Refusal::BadRequest { text, fields } => to_json(&LegacyError {
                message_id: message_id::BAD_REQUEST,
                text,
                validation_errors: fields.clone(),
            }),
            Refusal::Conflict { message_id, text } => legacy(message_id, text),
            Refusal::TooLarge { limit } => legacy(
                message_id::BAD_REQUEST,
                &format!("The request body is larger than {limit} bytes"),
            ),
            Refusal::TooSlow { timeout } => legacy(
                message_id::BAD_REQUEST,
                &format!(
                    "The request body did not arrive within {} ms",
                    timeout.as_millis()
                ),
            ),
        }
    }
}

/// The errorCode of a 400 the published file's `{errorCode, errorMessage}` carries for what the
/// doc answers with a legacy body (a validation error, a personalize conflict): the file lists
/// no code for those, so the HTTP status stands in.
pub const PUBLISHED_BAD_REQUEST_CODE: i64 = 400;

impl Refusal {
    /// The body the published OpenAPI file declares where it differs from the doc's: every
    /// 400 `{errorCode, errorMessage}`, every 429 the legacy body. `None`: the same body.
    fn published_body(&self) -> Option<Result<Vec<u8>, serde_json::Error>> {
        let push = |message: String| {
            to_json(&PushError {
                error_code: PUBLISHED_BAD_REQUEST_CODE,
                error_message: &message,
            })
        };
        match self {
            Refusal::BadRequest { text, fields } => {
                let mut message = format!("{}: {text}", message_id::BAD_REQUEST);
                for (field, problems) in fields {
                    message.push_str(&format!("; {field}: {}", problems.join(", ")));
                }
                Some(push(message))
            }
            Refusal::Conflict { message_id, text } => Some(push(format!("{message_id}: {text}"))),
            Refusal::TooManyRequests => Some(to_json(&LegacyError {
                message_id: message_id::TOO_MANY_REQUESTS,
                text: "Too many requests",
                validation_errors: FieldErrors::new(),
            })),
            _ => None,
        }
    }
}

impl From<Refusal> for SimResponse {
    fn from(refusal: Refusal) -> SimResponse {
        SimResponse::Refused(refusal)
    }
}

impl SimResponse {
    /// Its HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            SimResponse::Refused(refusal) => refusal.status(),
            _ => 200,
        }
    }

    /// Whether its body holds registrations (what the break-responses fault breaks).
    pub(crate) fn has_registrations(&self) -> bool {
        matches!(self, SimResponse::Registration(_) | SimResponse::Person(_))
    }
}

/// Renders answers with the tables registration views point into.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Renderer<'a> {
    pub catalog: Catalog<'a>,
    pub prerendered: &'a Prerendered,
    /// The shapes of error bodies.
    pub errors: ErrorShapes,
}

impl Renderer<'_> {
    /// The status and body of `answer`; `with_application_id: false` drops the registrations'
    /// `applicationId` (the break-responses fault).
    pub fn encode(&self, answer: &SimResponse, with_application_id: bool) -> (u16, Vec<u8>) {
        let encoded = match answer {
            SimResponse::Registration(view) => {
                let mut bytes = Vec::with_capacity(768);
                match self
                    .prerendered
                    .write_registration(&mut bytes, view, with_application_id)
                {
                    Ok(()) => Ok(bytes),
                    // Unreachable: the state checked the indexes when it made the view.
                    Err(_) => return self.encode(&Refusal::RegistrationNotFound.into(), true),
                }
            }
            SimResponse::Person(view) => to_json(&PersonBody {
                view,
                catalog: self.catalog,
                with_application_id,
            }),
            SimResponse::Empty => Ok(Vec::new()),
            SimResponse::Refused(refusal) => refusal.body(self.errors),
        };
        match encoded {
            Ok(bytes) => (answer.status(), bytes),
            // Unreachable with the bodies of `wire` (string keys only), kept total anyway.
            Err(_) => (500, Vec::new()),
        }
    }

    /// `answer` as an HTTP response.
    pub fn response(&self, answer: &SimResponse, with_application_id: bool) -> Response {
        let (status, bytes) = self.encode(answer, with_application_id);
        let mut response = bytes_response(status, bytes);
        if let SimResponse::Refused(refusal) = answer {
            add_refusal_headers(&mut response, refusal);
        }
        response
    }
}

/// A refusal as an HTTP response (no registration in it, so no tables needed).
pub(crate) fn refusal_response(refusal: &Refusal, shapes: ErrorShapes) -> Response {
    let (status, bytes) = match refusal.body(shapes) {
        Ok(bytes) => (refusal.status(), bytes),
        Err(_) => (500, Vec::new()),
    };
    let mut response = bytes_response(status, bytes);
    add_refusal_headers(&mut response, refusal);
    response
}

/// A 200 (or any status) with a JSON body, for the admin routes.
pub(crate) fn json_response(status: StatusCode, body: &impl Serialize) -> Response {
    match to_json(body) {
        Ok(bytes) => bytes_response(status.as_u16(), bytes),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn to_json(body: &impl Serialize) -> Result<Vec<u8>, serde_json::Error> {
    let mut bytes = Vec::with_capacity(1024);
    serde_json::to_writer(&mut bytes, body)?;
    Ok(bytes)
}

/// A JSON body with its status; an empty body is sent without a `Content-Type`.
fn bytes_response(status: u16, bytes: Vec<u8>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if bytes.is_empty() {
        return status.into_response();
    }
    (
        status,
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        bytes,
    )
        .into_response()
}

fn add_refusal_headers(response: &mut Response, refusal: &Refusal) {
    match refusal {
        Refusal::MethodNotAllowed { allow } => {
            if let Ok(value) = HeaderValue::from_str(allow) {
                response.headers_mut().insert(ALLOW, value);
            }
        }
        Refusal::TooSlow { .. } => {
            response
                .headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn body(refusal: &Refusal, shapes: ErrorShapes) -> Value {
        serde_json::from_slice(&refusal.body(shapes).expect("renders")).expect("JSON")
    }

    #[test]
    fn published_error_shapes_differ_only_where_the_file_does() {
        let mut fields = FieldErrors::new();
        fields.insert("identity".to_owned(), vec!["required".to_owned()]);
        let bad = Refusal::BadRequest {
            text: "invalid".into(),
            fields,
        };
        assert!(body(&bad, ErrorShapes::Documented)["requestError"].is_object());
        assert_eq!(
            body(&bad, ErrorShapes::Published),
            json!({"errorCode": 400, "errorMessage": "BAD_REQUEST: invalid; identity: required"})
        );
        let conflict = Refusal::Conflict {
            message_id: "PERSONALIZATION_IMPOSSIBLE",
            text: "bound to another person",
        };
        assert_eq!(
            body(&conflict, ErrorShapes::Published)["errorMessage"],
            "PERSONALIZATION_IMPOSSIBLE: bound to another person"
        );
        assert_eq!(
            body(&Refusal::TooManyRequests, ErrorShapes::Published),
            json!({"requestError": {"serviceException": {"messageId": "TOO_MANY_REQUESTS", "text": "Too many requests"}}})
        );
        assert_eq!(
            body(&Refusal::TooManyRequests, ErrorShapes::Documented)["errorCode"],
            "E429"
        );
        // The same elsewhere: 48013, 401.
        for refusal in [Refusal::RegistrationNotFound, Refusal::Unauthorized] {
            assert_eq!(
                body(&refusal, ErrorShapes::Published),
                body(&refusal, ErrorShapes::Documented)
            );
        }
    }
}
