//! Preflight: before any case or load, read every given device once and tell a configuration
//! mistake from an API regression.
//!
//! A wrong key, an unknown application code or a registration that does not exist would
//! otherwise show up as failed cases (exit 1) that look like the API broke. [`preflight`] reads
//! each device with one GET and answers either every device's state or a typed
//! [`PreflightError`]: configuration errors (exit 2 at the CLI: [`PreflightError::is_runtime`] is
//! false) and an unreachable target (exit 3). Anything else a device answers (a 500, a body that
//! is not JSON, a timeout) is not a configuration error: it is returned as
//! [`Reading::Unreadable`], for the caller to judge (the contract suite lets its cases report it;
//! a run that writes refuses to write to a device whose original it could not read).
//!
//! Used by the contract suite and meant for the load stage: build a [`Client`] for the target,
//! list the [`Device`]s (registration ID and, when it differs from the client's, its app code),
//! call `preflight(&client, &devices).await`.

use serde_json::Value;

use super::client::{AppCode, Call, Client, ClientError, Response};
use super::redact::Redactor;
use super::{Operation, error_code};

/// A device to read: a registration ID and the application code to read it with (`None`: the
/// client's configured code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub registration_id: String,
    pub app_code: Option<String>,
}

impl Device {
    /// A device of the client's configured application.
    pub fn new(registration_id: impl Into<String>) -> Device {
        Device {
            registration_id: registration_id.into(),
            app_code: None,
        }
    }

    /// A device of another application (a feed line `ID,APPCODE`).
    pub fn with_app(registration_id: impl Into<String>, app_code: impl Into<String>) -> Device {
        Device {
            registration_id: registration_id.into(),
            app_code: Some(app_code.into()),
        }
    }
}

/// What the one read of a device showed.
#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    /// HTTP 200 with a JSON body: the registration as it was before the run.
    Registration(Value),
    /// A 200 whose body is not a registration (empty, not UTF-8, not a JSON object) or a 5xx:
    /// the server's fault. The message says what came back (scrubbed of the run's secrets).
    Garbled(String),
    /// Anything else that is not a configuration error (another 4xx, no answer in time); the
    /// message says what came back (scrubbed of the run's secrets).
    Unreadable(String),
}

/// A device and what its read showed.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceState {
    pub device: Device,
    pub reading: Reading,
}

impl DeviceState {
    /// The registration's JSON, if it could be read.
    pub fn registration(&self) -> Option<&Value> {
        match &self.reading {
            Reading::Registration(v) => Some(v),
            Reading::Garbled(_) | Reading::Unreadable(_) => None,
        }
    }
}

/// Why a run cannot start. Messages never contain a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PreflightError {
    #[error(
        "no registration to run on: give the target's test devices with --registration-id (repeatable)"
    )]
    NoRegistrations,
    #[error("target {base_url} is unreachable: {message}")]
    Unreachable { base_url: String, message: String },
    #[error("{}", super::transport::untrusted_message(base_url, reason))]
    Untrusted { base_url: String, reason: String },
    #[error(
        "the target refused the credentials (HTTP {status} reading registration {registration_id}){hint}"
    )]
    CredentialsRejected {
        status: u16,
        registration_id: String,
        hint: &'static str,
    },
    #[error("no AppCode was sent (errorCode 48001): give --app-code or PUSHCHECK_APP_CODE")]
    AppCodeMissing,
    #[error(
        "the target knows no application with code {app_code:?} (errorCode 48012): check --app-code"
    )]
    UnknownAppCode { app_code: String },
    #[error(
        "registration {registration_id} does not exist in application {app_code:?} (errorCode 48013): --registration-id must name existing test devices"
    )]
    RegistrationNotFound {
        registration_id: String,
        app_code: String,
    },
}

impl PreflightError {
    /// True for an unreachable target (exit 3); false for configuration errors (exit 2).
    pub fn is_runtime(&self) -> bool {
        matches!(self, PreflightError::Unreachable { .. })
    }
}

/// Reads every device once; see the module documentation.
pub async fn preflight(
    client: &Client,
    devices: &[Device],
) -> Result<Vec<DeviceState>, PreflightError> {
    if devices.is_empty() {
        return Err(PreflightError::NoRegistrations);
    }
    let redactor = Redactor::new(client.config().credentials.iter());
    let mut states = Vec::with_capacity(devices.len());
    for device in devices {
        let mut call = Call::new(Operation::Get, device.registration_id.clone());
        if let Some(code) = &device.app_code {
            call = call.app_code(AppCode::With(code.clone()));
        }
        let reading = match client.send(&call).await {
            Err(ClientError::Connect { message, .. }) => {
                return Err(PreflightError::Unreachable {
                    base_url: client.base_url().to_owned(),
                    message: redactor.scrub(&message),
                });
            }
            Err(ClientError::Untrusted { reason, .. }) => {
                return Err(PreflightError::Untrusted {
                    base_url: client.base_url().to_owned(),
                    reason,
                });
            }
            Err(e) => Reading::Unreadable(redactor.scrub(&e.to_string())),
            Ok(response) => judge(client, device, &response, &redactor)?,
        };
        states.push(DeviceState {
            device: device.clone(),
            reading,
        });
    }
    Ok(states)
}

/// A configuration error, the registration, or why it is unreadable.
fn judge(
    client: &Client,
    device: &Device,
    response: &Response,
    redactor: &Redactor,
) -> Result<Reading, PreflightError> {
    let body: Option<Value> = serde_json::from_slice(&response.body).ok();
    let app_code = || {
        device
            .app_code
            .clone()
            .or_else(|| client.config().app_code.clone())
            .unwrap_or_default()
    };
    match (response.status, body) {
        (200, Some(value)) if value.is_object() => Ok(Reading::Registration(value)),
        (401 | 403, _) => Err(PreflightError::CredentialsRejected {
            status: response.status,
            registration_id: device.registration_id.clone(),
            hint: if client.config().credentials.is_none() {
                ": none were given (--api-key, --basic, --ibsso, --bearer or PUSHCHECK_API_KEY…)"
            } else if response.status == 403 {
                ": the key lacks the scope (people:read or people:manage)"
            } else {
                ""
            },
        }),
        (400, Some(value)) => match value.get("errorCode").and_then(Value::as_i64) {
            Some(error_code::APP_CODE_MISSING) => Err(PreflightError::AppCodeMissing),
            Some(error_code::APPLICATION_NOT_FOUND) => Err(PreflightError::UnknownAppCode {
                app_code: app_code(),
            }),
            Some(error_code::REGISTRATION_NOT_FOUND) => Err(PreflightError::RegistrationNotFound {
                registration_id: device.registration_id.clone(),
                app_code: app_code(),
            }),
            _ => Ok(Reading::Unreadable(shown(response, redactor))),
        },
        (200, _) | (500..=599, _) => Ok(Reading::Garbled(shown(response, redactor))),
        _ => Ok(Reading::Unreadable(shown(response, redactor))),
    }
}

/// What came back, in one short line: `GET answered HTTP n: <body>`.
fn shown(response: &Response, redactor: &Redactor) -> String {
    if response.status == 200 && std::str::from_utf8(&response.body).is_err() {
        return format!(
            "GET answered HTTP 200 with a body that is not UTF-8 ({} bytes)",
            response.body.len()
        );
    }
    let text = String::from_utf8_lossy(&response.body);
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let short: String = flat.chars().take(160).collect();
    redactor.scrub(&format!(
        "GET answered HTTP {}: {}",
        response.status,
        if short.is_empty() {
            "an empty body"
        } else {
            &short
        }
    ))
}
