//! The HTTP side of the simulator: routing, authentication, `AppCode`, body handling, error
//! answers, the admin surface, and the glue to `state` and `faults`.
//!
//! All API paths go through one fallback handler that parses the path against
//! [`Operation::path_template`], so no axum rejection (plain text) can ever reach a client:
//! every answer is one of the documented JSON shapes. Bodies are validated with the schema
//! registry (lenient), so payload limits stay spelled only in `schemas/`. The state lock is held
//! only for the operation itself; JSON is serialized after it is released.
//!
//! This module must not print, must not panic on any input, and must not answer 500 except for
//! the injected error-rate fault.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::{Arc, PoisonError, RwLock};

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{RawQuery, Request, State as Extract};
use axum::http::header::{ALLOW, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde_json::{Map, Value};

use super::faults::FaultInjector;
use super::seed::{SystemProfile, seeded_state};
use super::state::{
    AppEntry, AttrValue, Attrs, Gender, Identity, OpError, PatchInput, PersonAttributes,
    PersonalizeFlags, State,
};
use super::wire::{ApiError, Catalog, LegacyError, PersonBody, Prerendered, PushError};
use super::{ADMIN_INVARIANTS, ADMIN_REGISTRATIONS, ADMIN_RESET};
use crate::api::auth::Credentials;
use crate::api::{APP_CODE_HEADER, Operation, error_code, message_id, personalize_flag};
use crate::schema::{Mode, registry};

/// Default page size of the admin registration listing.
pub const ADMIN_DEFAULT_LIMIT: usize = 100;
/// Largest page of the admin registration listing.
pub const ADMIN_MAX_LIMIT: usize = 100_000;
/// Validation messages are cut to this many characters (they may quote the offending value).
const MAX_MESSAGE_CHARS: usize = 300;
/// An over-limit body up to this size is read and discarded before the 413 goes out, so the
/// client, still sending, sees the answer instead of a reset connection.
const DRAIN_LIMIT: usize = 16 * 1024 * 1024;
/// Longest time spent draining an over-limit body.
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(2);

/// One operation's path template split around `{pushRegId}`.
#[derive(Debug)]
struct Template {
    op: Operation,
    method: Method,
    prefix: String,
    suffix: String,
}

/// Everything the handlers share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub state: RwLock<State>,
    pub apps: Arc<[AppEntry]>,
    pub profiles: Arc<[SystemProfile]>,
    prerendered: Prerendered,
    app_code_header: HeaderName,
    /// `(scheme, token)` of every accepted credential, as sent after the scheme word.
    accepted: Vec<(&'static str, String)>,
    pub faults: FaultInjector,
    body_limit: usize,
    templates: Vec<Template>,
    seed: u64,
    seed_registrations: usize,
}

impl Shared {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        state: State,
        apps: Arc<[AppEntry]>,
        profiles: Arc<[SystemProfile]>,
        credentials: &[Credentials],
        faults: FaultInjector,
        body_limit: usize,
        seed: u64,
        seed_registrations: usize,
    ) -> Result<Shared, serde_json::Error> {
        let accepted = credentials
            .iter()
            .map(|c| {
                let header = c.header_value();
                let token = header
                    .expose()
                    .split_once(' ')
                    .map(|(_, t)| t.to_owned())
                    .unwrap_or_default();
                (c.scheme(), token)
            })
            .collect();
        let templates = Operation::ALL
            .iter()
            .filter_map(|&op| {
                let template = op.path_template();
                let (prefix, suffix) = template.split_once("{pushRegId}")?;
                Some(Template {
                    op,
                    method: Method::from_bytes(op.method().as_bytes()).ok()?,
                    prefix: prefix.to_owned(),
                    suffix: suffix.to_owned(),
                })
            })
            .collect();
        Ok(Shared {
            prerendered: Prerendered::new(&apps, &profiles)?,
            app_code_header: HeaderName::from_bytes(APP_CODE_HEADER.as_bytes())
                .map_err(serde::ser::Error::custom)?,
            state: RwLock::new(state),
            apps,
            profiles,
            accepted,
            faults,
            body_limit,
            templates,
            seed,
            seed_registrations,
        })
    }

    pub fn invariants(&self) -> Vec<super::InvariantViolation> {
        self.read().invariants()
    }

    pub fn registrations(&self, offset: usize, limit: usize) -> (usize, Vec<(String, String)>) {
        let (total, page) = self.read().list(offset, limit);
        let page = page
            .into_iter()
            .map(|(id, app)| {
                let code = self.apps.get(usize::from(app)).map(|a| a.app_code.clone());
                (id.to_string(), code.unwrap_or_default())
            })
            .collect();
        (total, page)
    }

    fn catalog(&self) -> Catalog<'_> {
        Catalog {
            apps: &self.apps,
            profiles: &self.profiles,
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The simulator's router: admin routes, and every other path through [`api`].
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(ADMIN_REGISTRATIONS, get(admin_registrations))
        .route(ADMIN_RESET, post(admin_reset))
        .route(ADMIN_INVARIANTS, get(admin_invariants))
        .method_not_allowed_fallback(admin_method_not_allowed)
        .fallback(api)
        .with_state(shared)
}

// ---------------------------------------------------------------------------------------------
// Answers

fn json(status: StatusCode, body: &impl Serialize) -> Response {
    let mut bytes = Vec::with_capacity(1024);
    match serde_json::to_writer(&mut bytes, body) {
        Ok(()) => (
            status,
            [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
            bytes,
        )
            .into_response(),
        // Unreachable with the bodies of `wire` (string keys only), kept total anyway.
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn legacy(status: StatusCode, message_id: &str, text: &str) -> Response {
    legacy_with(status, message_id, text, BTreeMap::new())
}

fn legacy_with(
    status: StatusCode,
    message_id: &str,
    text: &str,
    validation_errors: BTreeMap<String, Vec<String>>,
) -> Response {
    json(
        status,
        &LegacyError {
            message_id,
            text,
            validation_errors,
        },
    )
}

fn bad_request(text: &str) -> Response {
    legacy(StatusCode::BAD_REQUEST, message_id::BAD_REQUEST, text)
}

fn push_error(code: i64, message: &str) -> Response {
    json(
        StatusCode::BAD_REQUEST,
        &PushError {
            error_code: code,
            error_message: message,
        },
    )
}

fn not_found() -> Response {
    legacy(
        StatusCode::NOT_FOUND,
        message_id::NOT_FOUND,
        "No such resource. The API's paths start with /people/2/contactInformation/push/.",
    )
}

/// Choice `errors.method_not_allowed_405`.
fn method_not_allowed(allow: &str) -> Response {
    let mut response = legacy(
        StatusCode::METHOD_NOT_ALLOWED,
        message_id::BAD_REQUEST,
        &format!("Method not allowed on this path; allowed: {allow}"),
    );
    if let Ok(value) = HeaderValue::from_str(allow) {
        response.headers_mut().insert(ALLOW, value);
    }
    response
}

fn op_error(error: OpError) -> Response {
    let conflict = |id: &str, text: &str| legacy(StatusCode::BAD_REQUEST, id, text);
    match error {
        OpError::RegistrationNotFound => push_error(
            error_code::REGISTRATION_NOT_FOUND,
            "Push registration not found",
        ),
        OpError::IdentityInvalid => conflict(
            message_id::USER_IDENTITY_INVALID,
            "The identity must hold a non-empty externalId, phoneNumber or email",
        ),
        OpError::EmailInvalid => conflict(message_id::EMAIL_INVALID, "The email is not valid"),
        OpError::Ambiguous => conflict(
            message_id::AMBIGUOUS_PERSONALIZE_CANDIDATES,
            "The identity matches several people",
        ),
        OpError::Impossible => conflict(
            message_id::PERSONALIZATION_IMPOSSIBLE,
            "The device is personalized with another person; use forceDepersonalize=true to move it",
        ),
        OpError::MergeInterrupted => conflict(
            message_id::USER_MERGE_INTERRUPTED,
            "The person found already has another externalId",
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// The API

/// Every non-admin request: route, method, faults, then the operation.
async fn api(Extract(shared): Extract<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path();
    let mut allowed: [Option<&Template>; 4] = [None; 4];
    let mut id = "";
    for (slot, t) in allowed.iter_mut().zip(&shared.templates) {
        if let Some(middle) = path
            .strip_prefix(t.prefix.as_str())
            .and_then(|rest| rest.strip_suffix(t.suffix.as_str()))
            && !middle.is_empty()
            && !middle.contains('/')
        {
            *slot = Some(t);
            id = middle;
        }
    }
    let mut matching = allowed.iter().flatten();
    if allowed.iter().all(Option::is_none) {
        return not_found();
    }
    let Some(op) = matching.find(|t| t.method == parts.method).map(|t| t.op) else {
        let allow: Vec<&str> = allowed
            .iter()
            .flatten()
            .map(|t| t.method.as_str())
            .collect();
        return method_not_allowed(&allow.join(", "));
    };
    let id = percent_decode(id);
    let response = operation(&shared, op, &parts, id, body).await;
    shared.faults.delay().await;
    response
}

/// Faults, auth, AppCode, body, then the state (choice `request.check_order`).
async fn operation(
    shared: &Shared,
    op: Operation,
    parts: &Parts,
    id: Option<Cow<'_, str>>,
    body: Body,
) -> Response {
    if shared.faults.rate_limited(op) {
        return json(
            StatusCode::TOO_MANY_REQUESTS,
            &ApiError {
                error_code: "E429",
                description: "Too many requests",
                action: "Slow down: the limit is per operation and per second",
                violations: [],
                resources: [],
            },
        );
    }
    if shared.faults.injected_error() {
        return legacy(
            StatusCode::INTERNAL_SERVER_ERROR,
            message_id::GENERAL_ERROR,
            "Injected error (pushcheck mock --error-rate)",
        );
    }
    if !authorized(shared, &parts.headers) {
        return legacy(
            StatusCode::UNAUTHORIZED,
            message_id::UNAUTHORIZED,
            "Invalid login details",
        );
    }
    let app = match application(shared, &parts.headers) {
        Ok(app) => app,
        Err(response) => return response,
    };
    // An ID that is not UTF-8 once decoded cannot name a registration.
    let id = id.unwrap_or_default();
    let id: &str = &id;
    match op {
        Operation::Get => {
            let view = shared.read().get(app, id);
            match view {
                Ok(view) => registration_answer(shared, &view),
                Err(e) => op_error(e),
            }
        }
        Operation::Patch => {
            let value = match json_body(shared, parts, body, op).await {
                Ok(v) => v,
                Err(response) => return response,
            };
            let input = patch_input(&value);
            let store = !shared.faults.drop_write();
            let result = shared.write().patch(app, id, input, store);
            match result {
                Ok(view) => registration_answer(shared, &view),
                Err(e) => op_error(e),
            }
        }
        Operation::Personalize => {
            let flags = match personalize_flags(parts.uri.query()) {
                Ok(f) => f,
                Err(response) => return response,
            };
            let value = match json_body(shared, parts, body, op).await {
                Ok(v) => v,
                Err(response) => return response,
            };
            let (identity, attributes) = match personalize_input(&value) {
                Ok(input) => input,
                Err(response) => return response,
            };
            let store = !shared.faults.drop_write();
            let result = shared
                .write()
                .personalize(app, id, identity, attributes, flags, store);
            match result {
                Ok(view) => json(
                    StatusCode::OK,
                    &PersonBody {
                        view: &view,
                        catalog: shared.catalog(),
                        with_application_id: !shared.faults.break_response(),
                    },
                ),
                Err(e) => op_error(e),
            }
        }
        Operation::Depersonalize => {
            let store = !shared.faults.drop_write();
            let result = shared.write().depersonalize(app, id, store);
            match result {
                Ok(()) => StatusCode::OK.into_response(),
                Err(e) => op_error(e),
            }
        }
    }
}

fn registration_answer(shared: &Shared, view: &super::state::RegistrationView) -> Response {
    let mut bytes = Vec::with_capacity(768);
    let with_application_id = !shared.faults.break_response();
    match shared
        .prerendered
        .write_registration(&mut bytes, view, with_application_id)
    {
        Ok(()) => (
            StatusCode::OK,
            [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
            bytes,
        )
            .into_response(),
        // Unreachable: the state checked the indexes when it made the view.
        Err(_) => op_error(OpError::RegistrationNotFound),
    }
}

/// Any configured credential, any scheme; the scheme word is case-insensitive.
fn authorized(shared: &Shared, headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return false;
    };
    let Some((scheme, token)) = std::str::from_utf8(value.as_bytes())
        .ok()
        .and_then(|v| v.split_once(' '))
    else {
        return false;
    };
    shared
        .accepted
        .iter()
        .any(|(s, t)| s.eq_ignore_ascii_case(scheme) && t == token)
}

/// The application named by `AppCode`: 48001 when missing, 48012 when unknown.
#[allow(clippy::result_large_err)]
fn application(shared: &Shared, headers: &HeaderMap) -> Result<u16, Response> {
    let Some(code) = headers.get(&shared.app_code_header) else {
        return Err(push_error(
            error_code::APP_CODE_MISSING,
            "Application code is missing: send it in the AppCode header",
        ));
    };
    shared
        .apps
        .iter()
        .position(|a| a.app_code.as_bytes() == code.as_bytes())
        .map(|i| i as u16)
        .ok_or_else(|| {
            push_error(
                error_code::APPLICATION_NOT_FOUND,
                "Push application not found",
            )
        })
}

/// Reads, parses and validates a JSON body against the operation's request schema.
#[allow(clippy::result_large_err)]
async fn json_body(
    shared: &Shared,
    parts: &Parts,
    body: Body,
    op: Operation,
) -> Result<Value, Response> {
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
    if declared.is_some_and(|n| n > shared.body_limit as u64) {
        if declared.is_some_and(|n| n <= DRAIN_LIMIT as u64) {
            drain(body).await;
        }
        return Err(too_large(shared.body_limit));
    }
    if !content_type_ok {
        return Err(bad_request(
            "Content-Type must be application/json (choice request.content_type_json)",
        ));
    }
    let bytes = match read_limited(body, shared.body_limit).await {
        Ok(b) => b,
        Err(BodyError::TooLarge(rest)) => {
            drain(rest).await;
            return Err(too_large(shared.body_limit));
        }
        Err(BodyError::Broken) => return Err(bad_request("The request body could not be read")),
    };
    if bytes.is_empty() {
        return Err(bad_request("A JSON body is required"));
    }
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|e| bad_request(&format!("Malformed JSON body: {e}")))?;
    let Some(schema) = op.request_schema() else {
        return Ok(value);
    };
    let violations = match registry().validate(schema, Mode::Lenient, &value) {
        Ok(v) => v,
        Err(e) => {
            return Err(legacy(
                StatusCode::INTERNAL_SERVER_ERROR,
                message_id::GENERAL_ERROR,
                &e.to_string(),
            ));
        }
    };
    if violations.is_empty() {
        return Ok(value);
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

/// Choice `request.body_limit_413`.
fn too_large(limit: usize) -> Response {
    legacy(
        StatusCode::PAYLOAD_TOO_LARGE,
        message_id::BAD_REQUEST,
        &format!("The request body is larger than {limit} bytes"),
    )
}

/// A violation's message with the schema keyword that failed (`maxLength`, `type`...).
fn describe(v: &crate::schema::Violation) -> String {
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

/// Decodes `%XX` escapes; `None` when the result is not UTF-8. A `%` not followed by two hex
/// digits stays as it is.
fn percent_decode(segment: &str) -> Option<Cow<'_, str>> {
    if !segment.contains('%') {
        return Some(Cow::Borrowed(segment));
    }
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                let value = hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0);
                out.push(value as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok().map(Cow::Owned)
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

/// The writable fields of a (schema-valid) PATCH body; everything else is ignored
/// (choice `patch.read_only_fields_ignored`).
fn patch_input(value: &Value) -> PatchInput {
    PatchInput {
        is_primary: value.get("isPrimary").and_then(Value::as_bool),
        registration_enabled: value
            .pointer("/systemData/registrationEnabled")
            .and_then(Value::as_bool),
        additional: value
            .get("additionalData")
            .and_then(Value::as_object)
            .map(to_attrs),
        removed: super::state::null_keys(value.get("additionalData")),
    }
}

/// The identity and attributes of a (schema-valid) personalize body.
#[allow(clippy::result_large_err)]
fn personalize_input(value: &Value) -> Result<(Identity, PersonAttributes), Response> {
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
    let identity = value.get("identity").unwrap_or(&Value::Null);
    let external_id =
        text(identity, "externalId").filter(|e| !matches!(e.as_str(), "null" | "Null" | "NULL"));
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
        Some(_) => return Err(bad_request("gender must be MALE or FEMALE")),
    };
    let tags = a.get("tags").and_then(Value::as_array).map(|list| {
        list.iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect()
    });
    let attributes = PersonAttributes {
        first_name: text(a, "firstName"),
        last_name: text(a, "lastName"),
        middle_name: text(a, "middleName"),
        birthday: text(a, "birthday"),
        gender,
        tags,
        custom: a
            .get("customAttributes")
            .and_then(Value::as_object)
            .map(to_attrs),
    };
    Ok((identity, attributes))
}

/// The personalize query flags (choice `personalize.flags_strict_booleans`).
#[allow(clippy::result_large_err)]
fn personalize_flags(query: Option<&str>) -> Result<PersonalizeFlags, Response> {
    let mut flags = PersonalizeFlags::default();
    let mut errors: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match key {
            personalize_flag::FORCE_DEPERSONALIZE => &mut flags.force_depersonalize,
            personalize_flag::KEEP_AS_LEAD => &mut flags.keep_as_lead,
            personalize_flag::RETURN_PUSH => &mut flags.return_push,
            personalize_flag::SET_DEVICE_AS_PRIMARY => &mut flags.set_device_as_primary,
            _ => continue,
        };
        if value.eq_ignore_ascii_case("true") {
            *slot = true;
        } else if value.eq_ignore_ascii_case("false") {
            *slot = false;
        } else {
            errors
                .entry(key.to_owned())
                .or_default()
                .push("must be true or false".to_owned());
        }
    }
    if errors.is_empty() {
        Ok(flags)
    } else {
        Err(legacy_with(
            StatusCode::BAD_REQUEST,
            message_id::BAD_REQUEST,
            "Invalid query parameter",
            errors,
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// The admin surface

#[derive(Serialize)]
struct Listing {
    total: usize,
    registrations: Vec<ListedRegistration>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ListedRegistration {
    #[serde(serialize_with = "as_str")]
    registration_id: Arc<str>,
    app_code: String,
}

fn as_str<S: serde::Serializer>(value: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(value)
}

/// `GET /__pushcheck/registrations?limit=N&offset=M`.
async fn admin_registrations(
    Extract(shared): Extract<Arc<Shared>>,
    RawQuery(query): RawQuery,
) -> Response {
    let mut limit = ADMIN_DEFAULT_LIMIT;
    let mut offset = 0usize;
    let mut errors: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for pair in query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match key {
            "limit" => &mut limit,
            "offset" => &mut offset,
            _ => continue,
        };
        match value.parse::<usize>() {
            Ok(n) => *slot = n,
            Err(_) => errors
                .entry(key.to_owned())
                .or_default()
                .push("must be a whole number".to_owned()),
        }
    }
    if limit > ADMIN_MAX_LIMIT {
        errors
            .entry("limit".to_owned())
            .or_default()
            .push(format!("must be at most {ADMIN_MAX_LIMIT}"));
    }
    if !errors.is_empty() {
        return legacy_with(
            StatusCode::BAD_REQUEST,
            message_id::BAD_REQUEST,
            "Invalid query parameter",
            errors,
        );
    }
    let (total, page) = shared.read().list(offset, limit);
    let registrations = page
        .into_iter()
        .map(|(id, app)| ListedRegistration {
            registration_id: id,
            app_code: shared
                .apps
                .get(usize::from(app))
                .map(|a| a.app_code.clone())
                .unwrap_or_default(),
        })
        .collect();
    json(
        StatusCode::OK,
        &Listing {
            total,
            registrations,
        },
    )
}

/// `POST /__pushcheck/reset`: back to the seeded state. The new state is built outside the lock.
async fn admin_reset(Extract(shared): Extract<Arc<Shared>>) -> Response {
    let apps = Arc::clone(&shared.apps);
    let profiles = Arc::clone(&shared.profiles);
    let (seed, count) = (shared.seed, shared.seed_registrations);
    let built =
        tokio::task::spawn_blocking(move || seeded_state(apps, profiles, seed, count)).await;
    match built {
        Ok(Ok(state)) => {
            let seeded = state.len();
            *shared.write() = state;
            json(StatusCode::OK, &serde_json::json!({ "seeded": seeded }))
        }
        Ok(Err(e)) => legacy(
            StatusCode::INTERNAL_SERVER_ERROR,
            message_id::GENERAL_ERROR,
            &e.to_string(),
        ),
        Err(_) => legacy(
            StatusCode::INTERNAL_SERVER_ERROR,
            message_id::GENERAL_ERROR,
            "reseeding failed",
        ),
    }
}

/// `GET /__pushcheck/invariants`.
async fn admin_invariants(Extract(shared): Extract<Arc<Shared>>) -> Response {
    let violations = shared.read().invariants();
    json(
        StatusCode::OK,
        &serde_json::json!({ "violations": violations }),
    )
}

async fn admin_method_not_allowed(request: Request) -> Response {
    let allow = match request.uri().path() {
        ADMIN_RESET => "POST",
        _ => "GET",
    };
    method_not_allowed(allow)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_is_total() {
        assert_eq!(percent_decode("a%20b").as_deref(), Some("a b"));
        assert_eq!(percent_decode("a%2").as_deref(), Some("a%2"));
        assert_eq!(percent_decode("%zz%").as_deref(), Some("%zz%"));
        assert_eq!(percent_decode("%FF"), None);
    }

    #[test]
    fn flags_parse_strictly() {
        let f = personalize_flags(Some("forceDepersonalize=TRUE&other=x")).unwrap();
        assert!(f.force_depersonalize && !f.return_push);
        assert!(personalize_flags(Some("returnPush=yes")).is_err());
    }
}
