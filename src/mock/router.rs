//! The simulator's router: its admin routes (`admin`), and every other path through the API
//! edge (`http::api`). Its own file so that `admin` and `http` never import each other.

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use super::http::{self, Edge};
use super::{ADMIN_INVARIANTS, ADMIN_REGISTRATIONS, ADMIN_RESET, admin};

/// The simulator's router: admin routes, and every other path through [`api`].
pub(crate) fn router(edge: Arc<Edge>) -> Router {
    Router::new()
        .route(ADMIN_REGISTRATIONS, get(admin::registrations))
        .route(ADMIN_RESET, post(admin::reset))
        .route(ADMIN_INVARIANTS, get(admin::invariants))
        .method_not_allowed_fallback(admin::method_not_allowed)
        .fallback(http::api)
        .with_state(edge)
}
