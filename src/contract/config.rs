//! What a contract run is given ([`SuiteConfig`], its [`Target`]) and why it could not run
//! ([`ContractError`]). Its own file so that `runner` (the case loop) and `prepare` (the target
//! set up before it) both import it and never each other's.

use std::time::Duration;

use crate::api::auth::Credentials;
use crate::api::client::ClientError;
use crate::api::preflight::PreflightError;
use crate::mock;
use crate::schema::Mode;

/// Where to run.
#[derive(Debug, Clone)]
pub enum Target {
    /// Start the embedded simulator in-process, seeded.
    Simulator,
    /// The embedded simulator with planted defects (`mock::defects`): the kill matrix.
    DefectiveSimulator(mock::Defects),
    /// A live account.
    Live {
        base_url: String,
        /// Registrations the suite may use (`--registration-id`).
        registration_ids: Vec<String>,
        /// Cases that write may run on them (`--allow-writes`).
        allow_writes: bool,
    },
}

/// How to run the suite.
#[derive(Debug, Clone)]
pub struct SuiteConfig {
    pub target: Target,
    /// Credentials to send; the first is used for every request. Empty: the simulator's local
    /// defaults (a live target then gets none, and the 401 cases are all that can pass).
    pub credentials: Vec<Credentials>,
    pub app_code: Option<String>,
    /// The `applicationId` of the application `app_code` names (`--application-id`): every
    /// registration answered must carry it. `None`: the simulator's own, or on a live target
    /// the one the run's first read answered.
    pub application_id: Option<String>,
    pub timeout: Duration,
    pub mode: Mode,
    /// Run only cases whose name contains one of these (or matches it, with `*` wildcards);
    /// empty: every case.
    pub filters: Vec<String>,
    /// A leftover that is the target's choice fails the run too (`--fail-on-residue`).
    pub fail_on_residue: bool,
}

impl Default for SuiteConfig {
    fn default() -> SuiteConfig {
        SuiteConfig {
            target: Target::Simulator,
            credentials: Vec::new(),
            app_code: None,
            application_id: None,
            timeout: Duration::from_secs(5),
            mode: Mode::Lenient,
            filters: Vec::new(),
            fail_on_residue: false,
        }
    }
}

/// Why the suite could not run (as opposed to a case failing).
#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    #[error("the embedded simulator did not start")]
    Simulator(#[from] mock::MockError),
    #[error("{0}")]
    Client(ClientError),
    #[error(transparent)]
    Preflight(#[from] PreflightError),
    #[error("target {base_url} is unreachable: {message}")]
    Unreachable { base_url: String, message: String },
    #[error("{}", crate::api::transport::untrusted_message(base_url, reason))]
    Untrusted { base_url: String, reason: String },
    #[error(
        "registration {id} cannot be read before writing to it ({message}); --registration-id must name existing registrations of the application"
    )]
    Unreadable { id: String, message: String },
    #[error("no case matches the filter {0:?}")]
    NoCase(String),
}

impl ContractError {
    /// A configuration mistake (exit 2), as opposed to a broken run (exit 3).
    pub fn is_configuration(&self) -> bool {
        match self {
            ContractError::NoCase(_)
            | ContractError::Unreadable { .. }
            | ContractError::Client(_)
            | ContractError::Untrusted { .. } => true,
            ContractError::Preflight(e) => !e.is_runtime(),
            ContractError::Simulator(_) | ContractError::Unreachable { .. } => false,
        }
    }
}
