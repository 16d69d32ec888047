//! The embedded simulator of the People v2 push contact-information API: a real HTTP server
//! (axum on tokio), stateful and in memory, that `pushcheck check`, the contract suite and the
//! load scenarios run against by default.
//!
//! It implements the semantics of `shared/api-facts.md`: the four auth schemes, `AppCode`
//! (48001, 48012), registrations per application (48013), PATCH of the writable fields with the
//! custom-attribute limits of `schemas/`, personalize with identity matching by phone, email and
//! externalId, `forceDepersonalize`, `keepAsLead`, `returnPush`, `setDeviceAsPrimary`, and
//! depersonalize. Every body it sends follows `schemas/` (the integration tests check it, lenient
//! and strict); bad input never panics it and never yields a 500.
//!
//! ```no_run
//! # async fn demo() -> Result<(), pushcheck::mock::MockError> {
//! use pushcheck::mock::{Simulator, SimulatorConfig};
//! let sim = Simulator::start(SimulatorConfig::default()).await?;
//! println!("listening on {}", sim.base_url());
//! sim.shutdown().await?;
//! # Ok(()) }
//! ```
//!
//! Modules: [`config`] (what it is started with), `seed` (deterministic SDK-like data),
//! `catalog` (applications and system-data profiles), `state` (the documented data rules,
//! atomically, with unkept writes), `rules` ([`Rules`]: a [`SimRequest`] in, a [`SimResponse`]
//! out, no HTTP; `validate` and `decode` for bodies), `http` (the edge: routing, faults, the
//! request taken out of HTTP, `body` reading), `response` (every answer rendered in one place),
//! `admin` (the simulator's own routes), `faults` (injection), `edge` (planted defects on the
//! wire), `wire` (bodies), [`choices`] (undocumented behaviour, as data).
//!
//! # In-process rules
//!
//! [`Rules::answer`] answers a [`SimRequest`] as the server would, without a socket:
//!
//! ```
//! use pushcheck::api::Operation;
//! use pushcheck::mock::{Rules, SimRequest, SimulatorConfig};
//! use pushcheck::mock::config::{DOC_APP_CODE, LOCAL_API_KEY};
//! let rules = Rules::new(&SimulatorConfig::default()).unwrap();
//! let auth = format!("App {LOCAL_API_KEY}");
//! let get = SimRequest::new(Operation::Get, "8621824C-86B2-41F7-BF6F-20D3B1426005")
//!     .authorization(&auth)
//!     .app_code(DOC_APP_CODE);
//! let answer = rules.answer(&get);
//! assert_eq!(answer.status(), 200);
//! assert!(rules.body(&answer).starts_with(b"{\"registrationId\""));
//! ```
//!
//! # Admin surface
//!
//! Under [`ADMIN_PREFIX`], never under `/people/`, without API credentials:
//! - `GET /__pushcheck/registrations?limit=N&offset=M` →
//!   `{"total": T, "registrations": [{"registrationId": …, "appCode": …}]}` (limit default 100,
//!   at most 100 000), in creation order: the load scenarios' data feed.
//! - `POST /__pushcheck/reset` → back to the seeded state, `{"seeded": N}`.
//! - `GET /__pushcheck/invariants` → `{"registrations": N, "violations": [{"rule", "detail"}]}`
//!   (N: registrations checked; violations empty when every
//!   documented rule holds over the whole state).
//!
//! # Faults
//!
//! All off by default, see [`Faults`]: latency plus jitter, an error rate (500 GENERAL_ERROR), a
//! per-operation rate limit (429), a stall window, dropped writes (200 but not stored) and broken
//! responses (registration bodies without `applicationId`). Faults apply to API routes only.
//!
//! # Planted defects
//!
//! Off by default: [`Defects`] in [`SimulatorConfig::defects`] (`pushcheck mock --defect NAME`)
//! breaks one documented behaviour each, so the contract suite can be shown to catch it; the
//! catalogue is [`DEFECTS`] (see [`defects`]).
//!
//! # Choices where the docs are silent
//!
//! Listed as data in [`CHOICES`]; the contract suite marks cases relying on an id and skips
//! them against a live target. A unit test checks this table names every id.
//!
//! | id | behaviour |
//! |---|---|
//! | `request.check_order` | route 404, method 405, faults, 401, AppCode 48001/48012, body 413/408/400, registration 48013 |
//! | `auth.no_scopes` | every accepted credential has every scope; 403 is never sent |
//! | `request.content_type_json` | PATCH and personalize need `Content-Type: application/json`, else 400 |
//! | `request.body_limit_413` | bodies over the limit (default 1 MiB) get 413, legacy body |
//! | `request.read_timeouts` | request head within 10 s or the connection closes; body within 10 s or 408 |
//! | `errors.method_not_allowed_405` | wrong method on a known path: 405, `Allow`, legacy body BAD_REQUEST |
//! | `errors.validation_errors_json_pointer` | `validationErrors` keyed by JSON pointer (`/additionalData/x`; `""` = whole body) |
//! | `errors.uri_and_header_limits` | request line over 65 534 bytes: 414; oversized headers: 431 (HTTP layer, empty body) |
//! | `limits.custom_attribute_count` | at most 100 custom attributes per registration or person, else 400 |
//! | `limits.custom_attribute_number_range` | numbers in the signed 64-bit range, exactly (no float rounding) |
//! | `personalize.email_rule` | emails checked by the schema's pattern; refused ones are EMAIL_INVALID |
//! | `patch.read_only_fields_ignored` | read-only and unknown PATCH fields (e.g. `isPrmary`) are ignored |
//! | `patch.additional_data_merged` | PATCH `additionalData` is merged key by key |
//! | `primary.unpersonalized_device` | isPrimary may be set on a person-less device; reset to `setDeviceAsPrimary` on attach |
//! | `primary.cleared_on_detach` | a detached (or moved) device is no longer primary |
//! | `personalize.conflict_status_400` | personalize conflicts are HTTP 400, legacy body |
//! | `personalize.new_identity_is_another_person` | a bound device + an identity matching nobody = another person |
//! | `personalize.identity_added_to_match` | phone and email added to the matched person; a different externalId is USER_MERGE_INTERRUPTED |
//! | `personalize.attributes_replace_fields_merge_custom` | fields and tags replaced, customAttributes merged |
//! | `personalize.type_lead_promoted` | new persons start LEAD, promoted to CUSTOMER unless `keepAsLead` |
//! | `personalize.return_push_same_application` | `returnPush` lists the person's devices of the AppCode's application |
//! | `personalize.flags_strict_booleans` | flags must be true/false (any case), else 400 |
//! | `depersonalize.person_kept` | a person left with no device is kept with its identities |
//! | `depersonalize.unpersonalized_ok` | depersonalizing a person-less device is 200 |
//! | `rate_limit.api_error_shape` | 429 uses the newer error shape, `E429` |
//! | `seed.unpersonalized_devices` | seeded devices have no person; the first is the doc's GET example |
//!
//! This module must not print (the CLI renders [`Facts`]), must not import any runner or the
//! CLI, and must not spell API paths, headers or codes: those come from [`crate::api`].

mod admin;
mod admin_client;
mod body;
mod catalog;
pub mod choices;
pub mod config;
mod decode;
pub mod defects;
mod edge;
mod faults;
mod http;
mod request;
mod response;
mod router;
mod rules;
mod seed;
mod serve;
mod state;
mod validate;
mod wire;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use admin::{ADMIN_DEFAULT_LIMIT, ADMIN_MAX_LIMIT};
pub use admin::{Invariants, Listed, Listing, Reseeded, Violation};
pub use admin_client::{AdminClient, AdminError};
pub use choices::{CHOICES, Choice, choice};
pub use config::{Application, ErrorShapes, Faults, SimulatorConfig, Stall, local_credentials};
pub use defects::{DEFECTS, Defect, DefectInfo, Defects, UnknownDefect};
pub use request::{FieldErrors, SimRequest, personalize_flags};
pub use response::{Refusal, SimResponse};
pub use rules::Rules;
pub use state::{InvariantViolation, PersonView, PersonalizeFlags, RegistrationView};

use crate::api::auth::Credentials;

/// Prefix of the simulator's own routes (not the API's).
pub const ADMIN_PREFIX: &str = "/__pushcheck";
/// Paged list of seeded and known registrations.
pub const ADMIN_REGISTRATIONS: &str = "/__pushcheck/registrations";
/// Back to the seeded state.
pub const ADMIN_RESET: &str = "/__pushcheck/reset";
/// Invariant check of the whole state.
pub const ADMIN_INVARIANTS: &str = "/__pushcheck/invariants";

/// How long [`RunningSimulator::shutdown`] waits for open connections before closing them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Errors of the simulator library.
#[derive(Debug, thiserror::Error)]
pub enum MockError {
    #[error("invalid simulator configuration: {0}")]
    Config(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    #[error("the simulator's server stopped with an error: {0}")]
    Serve(#[source] io::Error),
    #[error("cannot wait for SIGINT/SIGTERM: {0}")]
    Signal(#[source] io::Error),
    #[error("the doc example {name} cannot seed the simulator: {message}")]
    Fixture { name: &'static str, message: String },
}

/// What a user needs to talk to a running simulator.
#[derive(Debug, Clone)]
pub struct Facts {
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub base_url: String,
    pub addr: SocketAddr,
    pub applications: Vec<Application>,
    /// Accepted credentials; their secrets redact themselves when printed.
    pub credentials: Vec<Credentials>,
    /// Registrations seeded at start.
    pub seeded: usize,
    pub seed: u64,
    pub faults: Faults,
    /// Planted defects (none unless asked for).
    pub defects: Defects,
    /// A seeded registration ID of the first application, for a first request.
    pub sample_registration: Option<String>,
}

impl Facts {
    /// URL of the admin registration listing.
    pub fn admin_url(&self) -> String {
        format!("{}{ADMIN_REGISTRATIONS}", self.base_url)
    }
}

/// Summary of a seeding run without a server (for `--exit-after-seed` and benchmarks).
#[derive(Debug, Clone, Copy)]
pub struct SeedSummary {
    pub seeded: usize,
    pub elapsed: Duration,
}

/// Entry point: starts simulators.
#[derive(Debug)]
pub struct Simulator;

impl Simulator {
    /// Seeds the state, binds `config.addr` and serves in the background on the current tokio
    /// runtime until [`RunningSimulator::shutdown`] (or drop).
    pub async fn start(config: SimulatorConfig) -> Result<RunningSimulator, MockError> {
        config.check().map_err(MockError::Config)?;
        let started = Instant::now();
        let seeding = config.clone();
        let rules = tokio::task::spawn_blocking(move || Rules::new(&seeding))
            .await
            .map_err(|e| MockError::Config(format!("seeding did not finish: {e}")))??;
        let (seeded, first) = rules.registrations(0, 1);
        let sample_registration = first.into_iter().next().map(|(id, _)| id);
        let listener = TcpListener::bind(config.addr)
            .await
            .map_err(|source| MockError::Bind {
                addr: config.addr,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| MockError::Bind {
            addr: config.addr,
            source,
        })?;
        let edge = Arc::new(http::Edge::new(rules, &config, started)?);
        let app = router::router(Arc::clone(&edge));
        let (stop, stopped) = oneshot::channel::<()>();
        let header_read_timeout = config.header_read_timeout;
        let task = tokio::spawn(serve::serve(listener, app, header_read_timeout, stopped));
        let facts = Facts {
            base_url: format!("http://{addr}"),
            addr,
            applications: config.applications.clone(),
            credentials: config.credentials.clone(),
            seeded,
            seed: config.seed,
            faults: config.faults.clone(),
            defects: config.defects,
            sample_registration,
        };
        Ok(RunningSimulator {
            facts,
            edge,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// Builds the seeded state as [`Simulator::start`] would, without serving: measures seeding.
    pub fn seed_only(config: &SimulatorConfig) -> Result<SeedSummary, MockError> {
        config.check().map_err(MockError::Config)?;
        let started = Instant::now();
        let tables = rules::tables(config)?;
        let state = seed::seeded_state(
            tables.apps,
            tables.profiles,
            config.seed,
            config.seed_registrations,
        )?;
        Ok(SeedSummary {
            seeded: state.len(),
            elapsed: started.elapsed(),
        })
    }
}

/// A simulator serving in the background. Dropping it stops the server too (without waiting).
#[derive(Debug)]
pub struct RunningSimulator {
    facts: Facts,
    edge: Arc<http::Edge>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl RunningSimulator {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.facts.addr
    }

    /// `http://ADDR`, no trailing slash.
    pub fn base_url(&self) -> &str {
        &self.facts.base_url
    }

    /// Everything a user needs to talk to it.
    pub fn facts(&self) -> &Facts {
        &self.facts
    }

    /// The invariant check of the whole state, in-process (as `GET /__pushcheck/invariants`).
    pub fn invariants(&self) -> Vec<InvariantViolation> {
        self.edge.rules.invariants().1
    }

    /// A page of registration IDs with their application codes, in creation order, and the
    /// total (as `GET /__pushcheck/registrations`).
    pub fn registrations(&self, offset: usize, limit: usize) -> (usize, Vec<(String, String)>) {
        self.edge.rules.registrations(offset, limit)
    }

    /// Stops accepting, lets in-flight requests finish (up to a few seconds), and returns.
    pub async fn shutdown(mut self) -> Result<(), MockError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let Some(mut task) = self.task.take() else {
            return Ok(());
        };
        match tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await {
            Ok(Ok(result)) => result.map_err(MockError::Serve),
            Ok(Err(join)) => Err(MockError::Serve(io::Error::other(join.to_string()))),
            Err(_) => {
                task.abort();
                Ok(())
            }
        }
    }

    /// Serves until one of `signals` arrives (listened to since before the caller said the
    /// simulator is up), then shuts down gracefully.
    pub async fn run_until(self, signals: StopSignals) -> Result<(), MockError> {
        signals.recv().await?;
        self.shutdown().await
    }
}

impl Drop for RunningSimulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// SIGINT (Ctrl-C) and, on Unix, SIGTERM, listened to from [`StopSignals::listen`] on: a
/// signal sent as soon as the simulator says it is up (a supervisor, a test) is a graceful stop,
/// never the default action that kills the process.
#[derive(Debug)]
pub struct StopSignals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl StopSignals {
    /// Starts listening (inside a tokio runtime).
    pub fn listen() -> Result<StopSignals, MockError> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(StopSignals {
                interrupt: signal(SignalKind::interrupt()).map_err(MockError::Signal)?,
                terminate: signal(SignalKind::terminate()).map_err(MockError::Signal)?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(StopSignals {})
        }
    }

    /// Resolves on the first of them.
    async fn recv(mut self) -> Result<(), MockError> {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => Ok(()),
                _ = self.terminate.recv() => Ok(()),
            }
        }
        #[cfg(not(unix))]
        {
            tokio::signal::ctrl_c().await.map_err(MockError::Signal)
        }
    }
}
