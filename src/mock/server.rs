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
use std::sync::{Arc, PoisonError, RwLock};

use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, Request, State as Extract};
use axum::http::header::{ALLOW, AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde_json::{Map, Value};

use super::body::json_body;
use super::defects::{Defect, Defects};
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
use crate::schema::registry;

/// Default page size of the admin registration listing.
pub const ADMIN_DEFAULT_LIMIT: usize = 100;
/// Largest page of the admin registration listing.
pub const ADMIN_MAX_LIMIT: usize = 100_000;

/// What a request may cost: body size and the time to send it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub body: usize,
    pub body_read_timeout: std::time::Duration,
}

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
    pub limits: Limits,
    /// Planted defects (see `mock::defects`); the state holds the same set.
    pub defects: Defects,
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
        limits: Limits,
        defects: Defects,
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
            limits,
            defects,
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

pub(super) fn legacy(status: StatusCode, message_id: &str, text: &str) -> Response {
    legacy_with(status, message_id, text, BTreeMap::new())
}

pub(super) fn legacy_with(
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

pub(super) fn bad_request(text: &str) -> Response {
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

/// The documented answer to a refused operation.
pub(super) fn op_error(op: Operation, error: OpError) -> Response {
    let conflict = |id: &str, text: &str| legacy(StatusCode::BAD_REQUEST, id, text);
    match error {
        // Choice `limits.custom_attribute_count`: the shape of every other body rule.
        OpError::TooManyAttributes { limit } => {
            let field = op
                .request_schema()
                .and_then(|s| registry().map_paths(s).first().cloned())
                .unwrap_or_default();
            let message =
                format!("at most {limit} custom attributes (choice limits.custom_attribute_count)");
            legacy_with(
                StatusCode::BAD_REQUEST,
                message_id::BAD_REQUEST,
                "Too many custom attributes",
                BTreeMap::from([(field, vec![message])]),
            )
        }
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
    let response = super::edge::distort(shared.defects, op, response).await;
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
                Err(e) => op_error(op, e),
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
                Err(e) => op_error(op, e),
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
            let (identity, attributes) = match personalize_input(shared.defects, &value) {
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
                Err(e) => op_error(op, e),
            }
        }
        Operation::Depersonalize => {
            let store = !shared.faults.drop_write();
            let result = shared.write().depersonalize(app, id, store);
            match result {
                Ok(()) => StatusCode::OK.into_response(),
                Err(e) => op_error(op, e),
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
        Err(_) => op_error(Operation::Get, OpError::RegistrationNotFound),
    }
}

/// Any configured credential, any scheme; the scheme word is case-insensitive.
fn authorized(shared: &Shared, headers: &HeaderMap) -> bool {
    let defects = shared.defects;
    if defects.has(Defect::AuthNotChecked) {
        return true;
    }
    // Planted defects that refuse one scheme, by the scheme word of `Credentials::scheme`.
    let refused = |scheme: &str| {
        let defect = match scheme {
            "Basic" => Defect::AuthBasicRefused,
            "App" => Defect::AuthAppRefused,
            "IBSSO" => Defect::AuthIbssoRefused,
            "Bearer" => Defect::AuthBearerRefused,
            _ => return false,
        };
        defects.has(defect)
    };
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
        .any(|(s, t)| s.eq_ignore_ascii_case(scheme) && t == token && !refused(s))
}

/// The application named by `AppCode`: 48001 when missing, 48012 when unknown.
#[allow(clippy::result_large_err)]
fn application(shared: &Shared, headers: &HeaderMap) -> Result<u16, Response> {
    let code = headers.get(&shared.app_code_header);
    if shared.defects.has(Defect::AppCodeNotChecked) {
        let known = code.and_then(|c| {
            shared
                .apps
                .iter()
                .position(|a| a.app_code.as_bytes() == c.as_bytes())
        });
        return Ok(known.unwrap_or(0) as u16);
    }
    let Some(code) = code else {
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
        read_only_system_data: value
            .get("systemData")
            .and_then(Value::as_object)
            .is_some_and(|fields| fields.keys().any(|k| k != "registrationEnabled")),
        removed: super::state::null_keys(value.get("additionalData")),
    }
}

/// The identity and attributes of a (schema-valid) personalize body.
#[allow(clippy::result_large_err)]
fn personalize_input(
    defects: Defects,
    value: &Value,
) -> Result<(Identity, PersonAttributes), Response> {
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
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
        Ok(Ok(mut state)) => {
            let seeded = state.len();
            state.plant(shared.defects);
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
    let state = shared.read();
    let violations = state.invariants();
    // What was checked, so a caller can say so instead of assuming.
    json(
        StatusCode::OK,
        &serde_json::json!({ "registrations": state.len(), "violations": violations }),
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
