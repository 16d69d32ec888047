//! The one client of the simulator's admin routes ([`ADMIN_PREFIX`](super::ADMIN_PREFIX)): the
//! paged registration listing (the load's feed), the reset to the seeded state (every attempt of
//! a generated run), the invariant check (after a load). Runners call these typed methods and
//! never build an admin URL or read an admin body themselves; the wire types are `admin`'s own,
//! so the server and its client share one spelling.
//!
//! This module must not decide what a caller does with an error: it says which URL answered
//! what ([`AdminError`]), and each caller words it for its own report.

use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderValue};

use super::admin::{Invariants, Listing, Reseeded, Violation};
use super::{ADMIN_INVARIANTS, ADMIN_REGISTRATIONS, ADMIN_RESET};

/// A client of one simulator's admin routes.
#[derive(Debug, Clone)]
pub struct AdminClient {
    http: reqwest::Client,
    base_url: String,
    authorization: HeaderValue,
    timeout: Option<Duration>,
}

/// Why an admin call did not give its answer.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// No HTTP answer (refused, reset, timed out).
    #[error("cannot call {url}: {message}")]
    Unreachable { url: String, message: String },
    /// The target's TLS certificate was not trusted (why: "UnknownIssuer", …).
    #[error("cannot call {url}: its TLS certificate is not trusted ({reason})")]
    Untrusted { url: String, reason: String },
    /// An answer other than 2xx: probably not a pushcheck simulator.
    #[error("{url} answered HTTP {status}")]
    Status {
        url: String,
        status: reqwest::StatusCode,
    },
    /// A 2xx answer whose body is not the admin route's.
    #[error("{url}: unexpected body: {message}")]
    Body { url: String, message: String },
}

impl AdminError {
    /// The URL called.
    pub fn url(&self) -> &str {
        match self {
            AdminError::Unreachable { url, .. }
            | AdminError::Untrusted { url, .. }
            | AdminError::Status { url, .. }
            | AdminError::Body { url, .. } => url,
        }
    }
}

impl AdminClient {
    /// The admin routes of the simulator at `base_url` (scheme, host and port, no path), called
    /// with `authorization`: one of the simulator's credentials, as its API takes them.
    pub fn new(http: reqwest::Client, base_url: &str, authorization: HeaderValue) -> AdminClient {
        let mut authorization = authorization;
        authorization.set_sensitive(true);
        AdminClient {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            authorization,
            timeout: None,
        }
    }

    /// Each call times out after `timeout`.
    pub fn with_timeout(mut self, timeout: Duration) -> AdminClient {
        self.timeout = Some(timeout);
        self
    }

    /// The full URL of an admin path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// One page of the registration listing: up to `limit` from position `offset`.
    pub async fn registrations(&self, limit: usize, offset: usize) -> Result<Listing, AdminError> {
        let url = self.url(ADMIN_REGISTRATIONS);
        let request = self
            .http
            .get(format!("{url}?limit={limit}&offset={offset}"));
        self.call(url, request).await
    }

    /// Back to the seeded state.
    pub async fn reset(&self) -> Result<Reseeded, AdminError> {
        let url = self.url(ADMIN_RESET);
        let request = self.http.post(&url);
        self.call(url, request).await
    }

    /// The invariant check of the whole state.
    pub async fn invariants(&self) -> Result<Invariants<Violation>, AdminError> {
        let url = self.url(ADMIN_INVARIANTS);
        let request = self.http.get(&url);
        self.call(url, request).await
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        url: String,
        request: reqwest::RequestBuilder,
    ) -> Result<T, AdminError> {
        let request = request.header(AUTHORIZATION, self.authorization.clone());
        let request = match self.timeout {
            Some(t) => request.timeout(t),
            None => request,
        };
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                return Err(match crate::api::transport::untrusted_certificate(&e) {
                    Some(reason) => AdminError::Untrusted { url, reason },
                    None => AdminError::Unreachable {
                        url,
                        message: e.to_string(),
                    },
                });
            }
        };
        if !response.status().is_success() {
            return Err(AdminError::Status {
                url,
                status: response.status(),
            });
        }
        response.json().await.map_err(|e| AdminError::Body {
            url,
            message: e.to_string(),
        })
    }
}
