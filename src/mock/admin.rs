//! The simulator's own routes, under [`ADMIN_PREFIX`](super::ADMIN_PREFIX), without API
//! credentials and never affected by faults: the paged registration listing (the load
//! scenarios' data feed), the reset to the seeded state, the invariant check.
//!
//! This module must not touch the API's routes or rules; it reads the state through [`Rules`].

use std::sync::Arc;

use axum::extract::{RawQuery, Request, State as Extract};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;

use super::ADMIN_RESET;
use super::config::ErrorShapes;
use super::http::Edge;
use super::request::read_query;
use super::response::{Refusal, json_response, refusal_response};
use super::rules::Rules;
use super::seed::seeded_state;

/// Default page size of the admin registration listing.
pub const ADMIN_DEFAULT_LIMIT: usize = 100;
/// Largest page of the admin registration listing.
pub const ADMIN_MAX_LIMIT: usize = 100_000;

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
pub(super) async fn registrations(
    Extract(edge): Extract<Arc<Edge>>,
    RawQuery(query): RawQuery,
) -> Response {
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
        .map(|(id, app)| ListedRegistration {
            registration_id: id,
            app_code: rules.tables().app_code(app).to_owned(),
        })
        .collect();
    Listing {
        total,
        registrations,
    }
}

/// `POST /__pushcheck/reset`: back to the seeded state. The new state is built outside the lock.
pub(super) async fn reset(Extract(edge): Extract<Arc<Edge>>) -> Response {
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
            json_response(StatusCode::OK, &serde_json::json!({ "seeded": seeded }))
        }
        Ok(Err(e)) => failed(e.to_string()),
        Err(_) => failed("reseeding failed".to_owned()),
    }
}

/// `GET /__pushcheck/invariants`: what was checked, so a caller can say so instead of
/// assuming, and what is broken.
pub(super) async fn invariants(Extract(edge): Extract<Arc<Edge>>) -> Response {
    let (registrations, violations) = edge.rules.invariants();
    json_response(
        StatusCode::OK,
        &serde_json::json!({ "registrations": registrations, "violations": violations }),
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
