//! The simulator's own routes, under [`ADMIN_PREFIX`](super::ADMIN_PREFIX), never affected by
//! faults or planted defects: the paged registration listing (the load scenarios' data feed),
//! the reset to the seeded state, the invariant check. Each asks for one of the simulator's
//! configured credentials, as the API does (401 in the API's shape otherwise): a simulator on a
//! shared address must not be reset or listed by anyone who can reach it.
//!
//! This module must not touch the API's routes or rules; it reads the state through [`Rules`].

use std::sync::Arc;

use axum::extract::{RawQuery, Request, State as Extract};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::ADMIN_RESET;
use super::config::ErrorShapes;
use super::http::Edge;
use super::request::read_query;
use super::response::{Refusal, json_response, refusal_response};
use super::rules::Rules;
use super::seed::seeded_state;
use super::state::InvariantViolation;

/// Default page size of the admin registration listing.
pub const ADMIN_DEFAULT_LIMIT: usize = 100;
/// Largest page of the admin registration listing.
pub const ADMIN_MAX_LIMIT: usize = 100_000;

/// A page of `GET /__pushcheck/registrations`: the wire type of the server and its client.
#[derive(Debug, Serialize, Deserialize)]
pub struct Listing {
    /// Registrations in the state (all pages).
    pub total: usize,
    pub registrations: Vec<Listed>,
}

/// One listed registration.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Listed {
    pub registration_id: String,
    pub app_code: String,
}

/// The answer of `POST /__pushcheck/reset`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Reseeded {
    /// Registrations in the seeded state.
    pub seeded: usize,
}

/// The answer of `GET /__pushcheck/invariants`: how many registrations were checked, and every
/// broken rule (served as [`InvariantViolation`], read back as [`Violation`]).
#[derive(Debug, Serialize, Deserialize)]
pub struct Invariants<V> {
    pub registrations: usize,
    pub violations: Vec<V>,
}

/// A broken rule as the client reads it.
#[derive(Debug, Serialize, Deserialize)]
pub struct Violation {
    /// Which rule, e.g. `person.one_primary_device`.
    pub rule: String,
    /// What was found.
    pub detail: String,
}

/// The caller's credentials, as the API's: `None` when admitted, the 401 otherwise.
fn refused(edge: &Edge, headers: &HeaderMap) -> Option<Response> {
    let given = headers.get(AUTHORIZATION).map(|v| v.as_bytes());
    (!edge.rules.admits(given))
        .then(|| refusal_response(&Refusal::Unauthorized, ErrorShapes::Documented))
}

/// `GET /__pushcheck/registrations?limit=N&offset=M`.
pub(super) async fn registrations(
    Extract(edge): Extract<Arc<Edge>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if let Some(refusal) = refused(&edge, &headers) {
        return refusal;
    }
    let (mut limit, mut offset) = (ADMIN_DEFAULT_LIMIT, 0usize);
    let mut errors = read_query(
        query.as_deref(),
        &mut [("limit", &mut limit), ("offset", &mut offset)],
        |value| {
            value
                .parse::<usize>()
                .map_err(|_| "must be a whole number".to_owned())
        },
    );
    if limit > ADMIN_MAX_LIMIT {
        errors
            .entry("limit".to_owned())
            .or_default()
            .push(format!("must be at most {ADMIN_MAX_LIMIT}"));
    }
    if !errors.is_empty() {
        return refusal_response(
            &Refusal::BadRequest {
                text: "Invalid query parameter".into(),
                fields: errors,
            },
            ErrorShapes::Documented,
        );
    }
    json_response(StatusCode::OK, &listing(&edge.rules, offset, limit))
}

fn listing(rules: &Rules, offset: usize, limit: usize) -> Listing {
    let (total, page) = rules.page(offset, limit);
    let registrations = page
        .into_iter()
        .map(|(id, app)| Listed {
            registration_id: id.to_string(),
            app_code: rules.tables().app_code(app).to_owned(),
        })
        .collect();
    Listing {
        total,
        registrations,
    }
}

/// `POST /__pushcheck/reset`: back to the seeded state. The new state is built outside the lock.
pub(super) async fn reset(Extract(edge): Extract<Arc<Edge>>, headers: HeaderMap) -> Response {
    if let Some(refusal) = refused(&edge, &headers) {
        return refusal;
    }
    let tables = edge.rules.tables().clone();
    let (seed, count) = edge.seeding;
    let built = tokio::task::spawn_blocking(move || {
        seeded_state(tables.apps, tables.profiles, seed, count)
    })
    .await;
    let failed = |text: String| {
        refusal_response(
            &Refusal::GeneralError { text: text.into() },
            ErrorShapes::Documented,
        )
    };
    match built {
        Ok(Ok(state)) => {
            let seeded = state.len();
            edge.rules.reset(state);
            json_response(StatusCode::OK, &Reseeded { seeded })
        }
        Ok(Err(e)) => failed(e.to_string()),
        Err(_) => failed("reseeding failed".to_owned()),
    }
}

/// `GET /__pushcheck/invariants`: what was checked, so a caller can say so instead of
/// assuming, and what is broken.
pub(super) async fn invariants(Extract(edge): Extract<Arc<Edge>>, headers: HeaderMap) -> Response {
    if let Some(refusal) = refused(&edge, &headers) {
        return refusal;
    }
    let (registrations, violations) = edge.rules.invariants();
    json_response(
        StatusCode::OK,
        &Invariants::<InvariantViolation> {
            registrations,
            violations,
        },
    )
}

/// A wrong method on an admin path (choice `errors.method_not_allowed_405`).
pub(super) async fn method_not_allowed(request: Request) -> Response {
    let allow = match request.uri().path() {
        ADMIN_RESET => "POST",
        _ => "GET",
    };
    refusal_response(
        &Refusal::MethodNotAllowed {
            allow: allow.to_owned(),
        },
        ErrorShapes::Documented,
    )
}
