//! The simulator's immutable tables: the applications it serves and the SDK-filled system-data
//! profiles registrations point at. Built once at start (`seed` fills the profiles), shared by
//! the state, the rules and the renderers, never mutated.
//!
//! They live apart from `state` and `seed` so that neither imports the other for them. This
//! module must not hold behaviour.

use std::sync::Arc;

use serde::Deserialize;

/// One application as the simulator knows it.
#[derive(Debug, Clone)]
pub(crate) struct AppEntry {
    pub app_code: String,
    pub application_id: Arc<str>,
}

/// The read-only, SDK-filled part of `systemData` (everything but `registrationEnabled`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SystemProfile {
    pub cloud_type: String,
    pub notifications_enabled: bool,
    pub geofencing_sdk: bool,
    pub sdk_version: String,
    pub app_version: String,
    pub os: String,
    pub os_version: String,
    pub device_manufacturer: String,
    pub device_model: String,
    pub device_secure: bool,
    pub os_language: String,
    pub device_timezone_offset: String,
    pub device_name: String,
}

/// Both tables, shared.
#[derive(Debug, Clone)]
pub(crate) struct Tables {
    pub apps: Arc<[AppEntry]>,
    pub profiles: Arc<[SystemProfile]>,
}

impl Tables {
    /// The index of the application whose code is `code`, compared as bytes.
    pub fn app_index(&self, code: &[u8]) -> Option<u16> {
        self.apps
            .iter()
            .position(|a| a.app_code.as_bytes() == code)
            .map(|i| i as u16)
    }

    /// The code of application `app` (empty for an unknown index).
    pub fn app_code(&self, app: u16) -> &str {
        self.apps
            .get(usize::from(app))
            .map_or("", |a| a.app_code.as_str())
    }
}
