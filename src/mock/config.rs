//! What a simulator is started with: applications, accepted credentials, seeding, faults, limits.
//!
//! Plain data with local defaults, so a test or `pushcheck check` can start a simulator with
//! `SimulatorConfig::default()` and change one field. This module must not parse command lines
//! (that is `cli::mock`) and must not hold runtime state.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::defects::Defects;
use crate::api::auth::{Credentials, Secret};

/// The application code of the doc's example requests; the default application uses it, so the
/// doc's requests work against the simulator as written (with local credentials).
pub const DOC_APP_CODE: &str = "87dc5af9bb50ebe3df341c89d2463a09-1cf8-4e07-a063-041d4195d172";

/// Local API key accepted by default (`Authorization: App pushcheck-local-key`).
pub const LOCAL_API_KEY: &str = "pushcheck-local-key";
/// Local Basic user name accepted by default.
pub const LOCAL_BASIC_USER: &str = "pushcheck";
/// Local Basic password accepted by default.
pub const LOCAL_BASIC_PASSWORD: &str = "pushcheck";
/// Local IBSSO token accepted by default.
pub const LOCAL_IBSSO_TOKEN: &str = "pushcheck-local-ibsso";
/// Local OAuth2 bearer token accepted by default.
pub const LOCAL_BEARER_TOKEN: &str = "pushcheck-local-bearer";

/// Registrations seeded when nothing else is said.
pub const DEFAULT_SEED_REGISTRATIONS: usize = 100;
/// Largest request body accepted, in bytes (choice `request.body_limit_413`).
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;
/// Longest time a client may take to send a request's headers (choice `request.read_timeouts`).
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest time a client may take to send a request's body (choice `request.read_timeouts`).
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// One push application: the code sent in `AppCode` and its internal `applicationId`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    pub app_code: String,
    pub application_id: String,
}

impl Application {
    /// An application whose `applicationId` is derived from its code (32 upper-case hex digits,
    /// the doc's form), stable across runs.
    pub fn from_code(app_code: impl Into<String>) -> Application {
        let app_code = app_code.into();
        let a = fnv1a(app_code.as_bytes(), 0xcbf2_9ce4_8422_2325);
        let b = fnv1a(app_code.as_bytes(), 0x8422_2325_cbf2_9ce4);
        Application {
            application_id: format!("{a:016X}{b:016X}"),
            app_code,
        }
    }

    /// The doc's application: [`DOC_APP_CODE`] with the doc's `applicationId`.
    pub fn doc() -> Application {
        Application {
            app_code: DOC_APP_CODE.to_owned(),
            application_id: "753CBCDC1D587223934106E2A2AEDD44".to_owned(),
        }
    }
}

fn fnv1a(bytes: &[u8], basis: u64) -> u64 {
    bytes.iter().fold(basis, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

/// The four local credentials accepted by default, one per scheme.
pub fn local_credentials() -> Vec<Credentials> {
    vec![
        Credentials::ApiKey(Secret::new(LOCAL_API_KEY)),
        Credentials::Basic {
            username: LOCAL_BASIC_USER.to_owned(),
            password: Secret::new(LOCAL_BASIC_PASSWORD),
        },
        Credentials::Ibsso(Secret::new(LOCAL_IBSSO_TOKEN)),
        Credentials::Bearer(Secret::new(LOCAL_BEARER_TOKEN)),
    ]
}

/// A window, measured from the simulator's start, during which every API response is held
/// until the window ends (for coordinated-omission tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stall {
    pub from: Duration,
    pub until: Duration,
}

/// Fault injection. Everything is off by default; admin routes are never affected.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// Added to every API response.
    pub latency: Duration,
    /// A further uniform random delay in `[0, jitter]`.
    pub jitter: Duration,
    /// Share of API requests answered 500 GENERAL_ERROR, in `[0, 1]`.
    pub error_rate: f64,
    /// Requests per second per operation; beyond it, 429 (choice `rate_limit.api_error_shape`).
    pub rate_limit: Option<u32>,
    /// Hold every response during this window.
    pub stall: Option<Stall>,
    /// Share of writes (PATCH, personalize, depersonalize) answered 200 but not stored.
    pub drop_writes: f64,
    /// Share of registration bodies served without their required `applicationId`.
    pub break_responses: f64,
}

impl Faults {
    /// True when no fault is configured.
    pub fn is_off(&self) -> bool {
        *self == Faults::default()
    }

    pub(crate) fn check(&self) -> Result<(), String> {
        for (name, rate) in [
            ("error rate", self.error_rate),
            ("drop-writes rate", self.drop_writes),
            ("break-responses rate", self.break_responses),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("{name} {rate} is not between 0 and 1"));
            }
        }
        if self.rate_limit == Some(0) {
            return Err("a rate limit of 0 requests per second would refuse everything".into());
        }
        if let Some(stall) = self.stall
            && stall.until <= stall.from
        {
            return Err(format!(
                "stall window ends ({:?}) before it starts ({:?})",
                stall.until, stall.from
            ));
        }
        Ok(())
    }
}

/// Everything a simulator is started with.
#[derive(Debug, Clone)]
pub struct SimulatorConfig {
    /// Where to listen; port 0 picks a free port. Default `127.0.0.1:0`.
    pub addr: SocketAddr,
    /// Push applications; the first one receives the doc's example registration.
    pub applications: Vec<Application>,
    /// Credentials accepted in `Authorization`, any scheme.
    pub credentials: Vec<Credentials>,
    /// Seed of the deterministic generator used for seeding (and fault draws).
    pub seed: u64,
    /// How many registrations to create at start (and on reset).
    pub seed_registrations: usize,
    pub faults: Faults,
    /// Largest request body accepted, in bytes; larger ones get 413.
    pub body_limit: usize,
    /// A connection that has not sent a whole request head within this is closed (also when
    /// idle between requests).
    pub header_read_timeout: Duration,
    /// A request whose body has not arrived within this is answered 408 and closed.
    pub body_read_timeout: Duration,
    /// Planted defects (see [`super::defects`]); none by default.
    pub defects: Defects,
    /// The shapes error bodies are answered in; the doc's by default.
    pub errors: ErrorShapes,
}

/// Which shapes the simulator answers errors in, where the doc page and the published OpenAPI
/// file differ (`pushcheck mock --errors`; docs/openapi-triage.md).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ErrorShapes {
    /// As the doc and the mobile SDKs show them: a validation error or a personalize conflict
    /// is a legacy `requestError` 400, and a 429 the newer `{errorCode: "E429", ...}`.
    #[default]
    Documented,
    /// As the published OpenAPI file declares them: every 400 is `{errorCode, errorMessage}`
    /// (a validation error or conflict gets errorCode 400, its messageId and text in
    /// errorMessage), every 429 the legacy `requestError` body.
    Published,
}

impl Default for SimulatorConfig {
    fn default() -> SimulatorConfig {
        SimulatorConfig {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            applications: vec![Application::doc()],
            credentials: local_credentials(),
            seed: 0,
            seed_registrations: DEFAULT_SEED_REGISTRATIONS,
            faults: Faults::default(),
            body_limit: DEFAULT_BODY_LIMIT,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            defects: Defects::none(),
            errors: ErrorShapes::Documented,
        }
    }
}

impl SimulatorConfig {
    /// Checks the configuration before anything is started.
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.applications.is_empty() {
            return Err("at least one application is needed".into());
        }
        if self.applications.len() > usize::from(u16::MAX) {
            return Err("too many applications".into());
        }
        for (i, app) in self.applications.iter().enumerate() {
            if app.app_code.is_empty() || app.application_id.is_empty() {
                return Err(format!("application {i} has an empty code or id"));
            }
            if self.applications[..i]
                .iter()
                .any(|o| o.app_code == app.app_code)
            {
                return Err(format!(
                    "application code {:?} is listed twice",
                    app.app_code
                ));
            }
        }
        if self.header_read_timeout.is_zero() || self.body_read_timeout.is_zero() {
            return Err("read timeouts must be longer than zero".into());
        }
        if self.credentials.is_empty() {
            return Err("at least one accepted credential is needed".into());
        }
        if self.seed_registrations > u32::MAX as usize / 2 {
            return Err(format!(
                "cannot seed {} registrations",
                self.seed_registrations
            ));
        }
        self.faults.check()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_application_ids_are_stable_and_doc_shaped() {
        let a = Application::from_code("my-app");
        assert_eq!(a, Application::from_code("my-app"));
        assert_eq!(a.application_id.len(), 32);
        assert!(a.application_id.chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn faults_are_checked() {
        assert!(SimulatorConfig::default().check().is_ok());
        let bad = Faults {
            error_rate: 1.5,
            ..Faults::default()
        };
        assert!(bad.check().is_err());
        let stall = Faults {
            stall: Some(Stall {
                from: Duration::from_secs(6),
                until: Duration::from_secs(5),
            }),
            ..Faults::default()
        };
        assert!(stall.check().is_err());
    }
}
