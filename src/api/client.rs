//! The typed HTTP client of the API (reqwest): base URL, AppCode, one of the four auth schemes,
//! per-request timeout, user agent. Paths and header names come from [`crate::api`]; nothing here
//! re-spells them.
//!
//! A [`Call`] can deliberately deviate from the configured client (omit the credentials, send a
//! wrong AppCode, send a malformed body), because contract cases test exactly those requests.
//! The client reports what came back as data ([`Response`]); judging it is the caller's job.
//! Errors never contain a credential: reqwest's messages name the URL, and URLs carry none.

use std::time::{Duration, Instant};

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde_json::Value;

use super::auth::Credentials;
use super::transport::{self, Route};
use super::{APP_CODE_HEADER, Operation};

/// The longest a connection may take to open: an unreachable target is reported in seconds.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// How a client is set up.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `http://127.0.0.1:8080` or `https://xxxxx.api.infobip.com`, without the API path.
    pub base_url: String,
    pub app_code: Option<String>,
    pub credentials: Option<Credentials>,
    pub timeout: Duration,
    pub user_agent: String,
    /// Through the environment's proxy, or direct (the simulator pushcheck started).
    pub route: Route,
}

impl ClientConfig {
    /// A config with the default timeout (5 s) and user agent.
    pub fn new(base_url: impl Into<String>) -> ClientConfig {
        ClientConfig {
            base_url: base_url.into(),
            app_code: None,
            credentials: None,
            timeout: Duration::from_secs(5),
            user_agent: format!("pushcheck/{}", env!("CARGO_PKG_VERSION")),
            route: Route::Environment,
        }
    }
}

/// Which `Authorization` a call sends.
#[derive(Debug, Clone, Default)]
pub enum Auth {
    /// The client's configured credentials.
    #[default]
    Configured,
    /// None at all.
    Omitted,
    /// These credentials instead.
    With(Credentials),
}

/// Which `AppCode` a call sends.
#[derive(Debug, Clone, Default)]
pub enum AppCode {
    /// The client's configured code.
    #[default]
    Configured,
    /// No header.
    Omitted,
    /// This code instead.
    With(String),
}

/// A request body.
#[derive(Debug, Clone)]
pub enum Body {
    Json(Value),
    /// Bytes as given, with this content type: for malformed-input cases.
    Raw {
        content_type: &'static str,
        bytes: Vec<u8>,
    },
}

/// One request to one operation.
#[derive(Debug, Clone)]
pub struct Call {
    pub operation: Operation,
    pub registration_id: String,
    pub body: Option<Body>,
    pub flags: Vec<(&'static str, bool)>,
    pub auth: Auth,
    pub app_code: AppCode,
}

impl Call {
    /// A call with the client's credentials and AppCode, no body and no flags.
    pub fn new(operation: Operation, registration_id: impl Into<String>) -> Call {
        Call {
            operation,
            registration_id: registration_id.into(),
            body: None,
            flags: Vec::new(),
            auth: Auth::Configured,
            app_code: AppCode::Configured,
        }
    }

    pub fn json(mut self, body: Value) -> Call {
        self.body = Some(Body::Json(body));
        self
    }

    pub fn raw(mut self, content_type: &'static str, bytes: impl Into<Vec<u8>>) -> Call {
        self.body = Some(Body::Raw {
            content_type,
            bytes: bytes.into(),
        });
        self
    }

    /// Adds a boolean query flag (`forceDepersonalize=true`…).
    pub fn flag(mut self, name: &'static str, value: bool) -> Call {
        self.flags.push((name, value));
        self
    }

    pub fn auth(mut self, auth: Auth) -> Call {
        self.auth = auth;
        self
    }

    pub fn app_code(mut self, app_code: AppCode) -> Call {
        self.app_code = app_code;
        self
    }

    /// `PATCH /people/2/…/ID?flag=true`: how the request is named in messages.
    pub fn describe(&self) -> String {
        let mut line = format!(
            "{} {}",
            self.operation.method(),
            self.operation.path(&self.registration_id)
        );
        for (i, (name, value)) in self.flags.iter().enumerate() {
            line.push(if i == 0 { '?' } else { '&' });
            line.push_str(&format!("{name}={value}"));
        }
        line
    }
}

/// What came back.
#[derive(Debug, Clone)]
pub struct Response {
    /// The request, as [`Call::describe`] names it.
    pub request: String,
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    pub elapsed: Duration,
}

/// The error code an error body carries: the push shape's `errorCode` (48001, …) or the legacy
/// shape's `requestError.serviceException.messageId` (`BAD_REQUEST`, …); `None` for another body.
pub fn error_code(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    match value.get(super::field::ERROR_CODE) {
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::String(s)) => Some(s.clone()),
        _ => value
            .pointer(super::field::MESSAGE_ID_POINTER)
            .and_then(Value::as_str)
            .map(str::to_owned),
    }
}

impl Response {
    /// The error code the body carries (see [`error_code`]).
    pub fn error_code(&self) -> Option<String> {
        error_code(&self.body)
    }

    /// Whether the content type is JSON (`application/json`, with or without parameters, or a
    /// `+json` suffix type).
    pub fn is_json_content_type(&self) -> bool {
        self.content_type
            .as_deref()
            .is_some_and(super::is_json_media_type)
    }
}

/// Why no response came back.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{request}: no response within {after:?} (timeout)")]
    Timeout { request: String, after: Duration },
    #[error("{request}: cannot connect to {base_url}: {message}")]
    Connect {
        request: String,
        base_url: String,
        message: String,
    },
    #[error("{request}: {}", transport::untrusted_message(base_url, reason))]
    Untrusted {
        request: String,
        base_url: String,
        reason: String,
    },
    #[error("{request}: {message}")]
    Transport { request: String, message: String },
    #[error("invalid client setup: {0}")]
    Setup(String),
}

impl ClientError {
    /// True when the target could not be reached at all (refused, no route, DNS).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, ClientError::Connect { .. })
    }

    /// Why the target's TLS certificate was not trusted, when that is what failed.
    pub fn untrusted(&self) -> Option<&str> {
        match self {
            ClientError::Untrusted { reason, .. } => Some(reason),
            _ => None,
        }
    }
}

/// The API client.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    config: ClientConfig,
    base: String,
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Client, ClientError> {
        // The one URL check (scheme, host, no userinfo); its messages never show a credential.
        let base = super::target::parse(&config.base_url)
            .map_err(|e| ClientError::Setup(e.to_string()))?
            .base_url;
        let http = transport::builder(config.route)
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(CONNECT_TIMEOUT))
            .user_agent(config.user_agent.clone())
            .build()
            .map_err(|e| ClientError::Setup(e.to_string()))?;
        Ok(Client { http, config, base })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Sends one call and reads the whole body.
    pub async fn send(&self, call: &Call) -> Result<Response, ClientError> {
        let request_name = call.describe();
        let method = call.operation.http_method();
        // Flag names are fixed ASCII words and values true/false: nothing to percent-encode.
        let mut url = format!(
            "{}{}",
            self.base,
            call.operation.path(&call.registration_id)
        );
        for (i, (name, value)) in call.flags.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(&format!("{name}={value}"));
        }
        let mut builder = self.http.request(method, url);
        let credentials = match &call.auth {
            Auth::Configured => self.config.credentials.as_ref(),
            Auth::Omitted => None,
            Auth::With(c) => Some(c),
        };
        if let Some(credentials) = credentials {
            let mut value =
                HeaderValue::from_str(credentials.header_value().expose()).map_err(|_| {
                    ClientError::Setup("credentials are not a valid header value".into())
                })?;
            value.set_sensitive(true);
            builder = builder.header(AUTHORIZATION, value);
        }
        let app_code = match &call.app_code {
            AppCode::Configured => self.config.app_code.as_deref(),
            AppCode::Omitted => None,
            AppCode::With(code) => Some(code.as_str()),
        };
        if let Some(code) = app_code {
            builder = builder.header(APP_CODE_HEADER, code);
        }
        builder = builder.header(reqwest::header::ACCEPT, "application/json");
        match &call.body {
            Some(Body::Json(value)) => {
                let bytes = serde_json::to_vec(value)
                    .map_err(|e| ClientError::Setup(format!("body is not serializable: {e}")))?;
                builder = builder.header(CONTENT_TYPE, "application/json").body(bytes);
            }
            Some(Body::Raw {
                content_type,
                bytes,
            }) => {
                builder = builder
                    .header(CONTENT_TYPE, *content_type)
                    .body(bytes.clone());
            }
            None => {}
        }

        let started = Instant::now();
        let response = builder
            .send()
            .await
            .map_err(|e| self.classify(e, &request_name))?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response
            .bytes()
            .await
            .map_err(|e| self.classify(e, &request_name))?
            .to_vec();
        Ok(Response {
            request: request_name,
            status,
            content_type,
            body,
            elapsed: started.elapsed(),
        })
    }

    fn classify(&self, error: reqwest::Error, request: &str) -> ClientError {
        if let Some(reason) = transport::untrusted_certificate(&error) {
            ClientError::Untrusted {
                request: request.to_owned(),
                base_url: self.base.clone(),
                reason,
            }
        } else if error.is_timeout() {
            ClientError::Timeout {
                request: request.to_owned(),
                after: self.config.timeout,
            }
        } else if error.is_connect() {
            ClientError::Connect {
                request: request.to_owned(),
                base_url: self.base.clone(),
                message: root_cause(&error),
            }
        } else {
            ClientError::Transport {
                request: request.to_owned(),
                message: root_cause(&error),
            }
        }
    }
}

/// The innermost cause's message ("Connection refused (os error 111)"), without the URL chain.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_describe_themselves_with_flags() {
        let call = Call::new(Operation::Personalize, "r1")
            .flag("forceDepersonalize", true)
            .flag("returnPush", false);
        assert_eq!(
            call.describe(),
            "POST /people/2/contactInformation/push/r1/personalize?forceDepersonalize=true&returnPush=false"
        );
    }

    #[test]
    fn bad_targets_are_setup_errors() {
        assert!(Client::new(ClientConfig::new("not a url")).is_err());
        assert!(Client::new(ClientConfig::new("ftp://127.0.0.1")).is_err());
        assert!(Client::new(ClientConfig::new("http://127.0.0.1:1/")).is_ok());
    }
}
