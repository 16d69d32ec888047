//! The simulator's HTTP edge: routing, the faults, and the conversion of each request into the
//! simulator's own [`SimRequest`] for the [`Rules`] (as wiremock-rs's `Request::from_hyper`
//! does), then of their [`SimResponse`] into bytes on the wire (`response`), through the
//! planted edge defects (`edge`).
//!
//! All API paths go through one fallback handler that parses the path against
//! [`Operation::path_template`], so no axum rejection (plain text) can ever reach a client:
//! every answer is one of the documented JSON shapes. The order of the checks is choice
//! `request.check_order`: route, method, faults, then the rules' head checks, the body read
//! (`body`), the rules' body checks and the state.
//!
//! This module must not print, must not decide any rule of the API, must not panic on any
//! input, and must not answer 500 except for the injected error-rate fault.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State as Extract};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderName, Method};
use axum::response::Response;

use super::MockError;
use super::body::{self, Limits};
use super::config::ErrorShapes;
use super::config::SimulatorConfig;
use super::faults::FaultInjector;
use super::request::{SimRequest, personalize_flags};
use super::response::{Refusal, Renderer, refusal_response};
use super::rules::Rules;
use crate::api::{APP_CODE_HEADER, Operation, PerOp};

/// One operation's path template split around `{pushRegId}`.
#[derive(Debug)]
struct Template {
    op: Operation,
    method: Method,
    prefix: String,
    suffix: String,
}

/// What the handlers share: the rules, and what the edge adds around them.
#[derive(Debug)]
pub(crate) struct Edge {
    pub rules: Rules,
    faults: FaultInjector,
    limits: Limits,
    templates: Vec<Template>,
    app_code_header: HeaderName,
    /// What the admin reset seeds: the seed and how many registrations.
    pub seeding: (u64, usize),
    /// The shapes of error bodies (`pushcheck mock --errors`).
    errors: ErrorShapes,
}

impl Edge {
    /// The edge around `rules`, with the faults, limits and seeding of `config`; fault
    /// windows count from `started`.
    pub fn new(
        rules: Rules,
        config: &SimulatorConfig,
        started: Instant,
    ) -> Result<Edge, MockError> {
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
        let app_code_header = HeaderName::from_bytes(APP_CODE_HEADER.as_bytes())
            .map_err(|e| MockError::Config(format!("{APP_CODE_HEADER}: {e}")))?;
        Ok(Edge {
            rules,
            faults: FaultInjector::new(config.faults.clone(), config.seed, started),
            limits: Limits {
                body: config.body_limit,
                body_read_timeout: config.body_read_timeout,
            },
            templates,
            app_code_header,
            seeding: (config.seed, config.seed_registrations),
            errors: config.errors,
        })
    }

    /// The operation and the raw registration ID of `path`: 404 for no API path, 405 for an
    /// API path with another method.
    fn route<'p>(&self, method: &Method, path: &'p str) -> Result<(Operation, &'p str), Refusal> {
        let mut allowed: PerOp<Option<&Template>> = PerOp::default();
        let mut id = "";
        for t in &self.templates {
            if let Some(middle) = path
                .strip_prefix(t.prefix.as_str())
                .and_then(|rest| rest.strip_suffix(t.suffix.as_str()))
                && !middle.is_empty()
                && !middle.contains('/')
            {
                allowed[t.op] = Some(t);
                id = middle;
            }
        }
        let mut matching = allowed.values().flatten();
        if allowed.values().all(Option::is_none) {
            return Err(Refusal::NoRoute);
        }
        match matching.find(|t| t.method == *method) {
            Some(t) => Ok((t.op, id)),
            None => {
                let allow: Vec<&str> = allowed
                    .values()
                    .flatten()
                    .map(|t| t.method.as_str())
                    .collect();
                Err(Refusal::MethodNotAllowed {
                    allow: allow.join(", "),
                })
            }
        }
    }

    /// The request's head as the rules read it (its body comes later, if at all).
    fn head<'r>(&self, op: Operation, id: &'r str, parts: &'r Parts) -> SimRequest<'r> {
        let header = |name: &HeaderName| parts.headers.get(name).map(|v| v.as_bytes());
        SimRequest {
            operation: op,
            registration_id: id,
            flags: match op {
                Operation::Personalize => personalize_flags(parts.uri.query()),
                _ => Ok(Default::default()),
            },
            authorization: header(&AUTHORIZATION),
            app_code: header(&self.app_code_header),
            content_type: header(&CONTENT_TYPE),
            body: &[],
        }
    }

    /// The faults decided before anything else: 429 over the rate limit, the injected 500.
    fn fault(&self, op: Operation) -> Option<Refusal> {
        if self.faults.rate_limited(op) {
            return Some(Refusal::TooManyRequests);
        }
        if self.faults.injected_error() {
            return Some(Refusal::GeneralError {
                text: "Injected error (pushcheck mock --error-rate)".into(),
            });
        }
        None
    }

    /// Faults, the rules' head checks, the body read, then the rules.
    async fn operation(&self, op: Operation, parts: &Parts, id: &str, body: Body) -> Response {
        if let Some(refusal) = self.fault(op) {
            return refusal_response(&refusal, self.errors);
        }
        let head = self.head(op, id, parts);
        let app = match self.rules.admit(&head) {
            Ok(app) => app,
            Err(refusal) => return refusal_response(&refusal, self.errors),
        };
        let bytes = match op.request_schema() {
            Some(_) => match self.read_body(parts, body, head.content_type).await {
                Ok(bytes) => bytes,
                Err(refusal) => return refusal_response(&refusal, self.errors),
            },
            None => Bytes::new(),
        };
        let request = SimRequest {
            body: &bytes,
            ..head
        };
        let answer = self
            .rules
            .apply(app, &request, || !self.faults.drop_write());
        let with_application_id = !(answer.has_registrations() && self.faults.break_response());
        let renderer = Renderer {
            errors: self.errors,
            ..self.rules.renderer()
        };
        renderer.response(&answer, with_application_id)
    }

    /// The body, within the limits; not read at all when its content type is refused anyway.
    async fn read_body(
        &self,
        parts: &Parts,
        body: Body,
        content_type: Option<&[u8]>,
    ) -> Result<Bytes, Refusal> {
        let body = body::refuse_declared(self.limits, &parts.headers, body).await?;
        if !self.rules.reads_body(content_type) {
            return Ok(Bytes::new());
        }
        body::read(self.limits, body).await
    }
}

/// Every non-admin request: route, method, then the operation, its edge defects and delay.
pub(crate) async fn api(Extract(edge): Extract<Arc<Edge>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let (op, id) = match edge.route(&parts.method, parts.uri.path()) {
        Ok(routed) => routed,
        Err(refusal) => return refusal_response(&refusal, edge.errors),
    };
    // An ID that is not UTF-8 once decoded cannot name a registration.
    let id = percent_decode(id).unwrap_or_default();
    let response = edge.operation(op, &parts, &id, body).await;
    let response = super::edge::distort(edge.rules.defects(), op, response).await;
    edge.faults.delay().await;
    response
}

/// Decodes `%XX` escapes; `None` when the result is not UTF-8. A `%` not followed by two hex
/// digits stays as it is.
fn percent_decode(segment: &str) -> Option<Cow<'_, str>> {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .ok()
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
}
