//! Where a command goes and what it sends: `--target` and the credential and application-code
//! flags, shared by `contract`, `load` and `check` ([`TargetArgs`]); `mock` takes the credential
//! flags alone ([`AuthArgs`]).
//!
//! Each flag can also come from an environment variable, so CI passes secrets through its
//! secret store instead of the command line. Values are wrapped in [`Secret`] at once.
//! `--ca-cert` sets up the process's trust ([`crate::api::transport::trust`]) before any client
//! is built.

use std::path::PathBuf;

use clap::Args;

/// The "TLS and proxies" paragraph of the `--help` of every command that takes `--target`.
macro_rules! tls_and_proxies {
    () => {
        "TLS and proxies: an https:// target's certificate is checked against the system's root
certificates (rustls); a private CA's certificates go in --ca-cert FILE (PEM, one or more).
A certificate that is not trusted stops the run with exit 2, saying so. HTTPS_PROXY,
HTTP_PROXY, ALL_PROXY and NO_PROXY are honoured as curl does, a loopback --target included
(list 127.0.0.1 in NO_PROXY to keep it direct); the simulator pushcheck starts itself is
always reached directly.
"
    };
}
pub(super) use tls_and_proxies;

use crate::api::auth::{Credentials, Secret, env};

/// `--target` and the credentials.
#[derive(Debug, Clone, Args)]
pub struct TargetArgs {
    /// Base URL of the API under test (a live account, or a running `pushcheck mock`); without
    /// it, the embedded simulator, started for the run.
    #[arg(
        long,
        env = env::TARGET,
        hide_env_values = true,
        value_name = "URL",
        help_heading = "Target"
    )]
    pub target: Option<String>,
    /// Fail the run (exit 1) when a live device could not be put back fully because of a
    /// choice of the target's (for example it refuses or stores `null` as "delete this custom
    /// attribute"). Without it such a leftover is reported beside the verdict, not failed.
    #[arg(long, help_heading = "Target")]
    pub fail_on_residue: bool,
    /// The `applicationId` of the application the AppCode names (shown with the application
    /// in the portal): every registration answered must carry it. Without it, the contract
    /// suite takes the one the run's first read answers, so an answer of another application
    /// is caught when the answers disagree; with it, also when they all carry the wrong one.
    /// (The load does not judge it yet.)
    #[arg(
        long,
        env = env::APPLICATION_ID,
        hide_env_values = true,
        value_name = "ID",
        help_heading = "Target"
    )]
    pub application_id: Option<String>,
    /// PEM file of the CA certificate(s) to trust besides the system's roots, for a target
    /// whose certificate a private CA signed.
    #[arg(
        long,
        env = env::CA_CERT,
        value_name = "FILE",
        help_heading = "Target"
    )]
    pub ca_cert: Option<PathBuf>,
    #[command(flatten)]
    pub auth: AuthArgs,
}

impl TargetArgs {
    /// Trusts the `--ca-cert` roots in every client built from now on.
    fn trust(&self) -> Result<(), super::Failure> {
        let roots = match &self.ca_cert {
            Some(path) => crate::api::transport::read_ca_file(path)
                .map_err(|e| super::Failure::usage(anyhow::anyhow!(e)))?,
            None => Vec::new(),
        };
        crate::api::transport::trust(roots);
        Ok(())
    }

    /// The credentials given, in the order API key, Basic, IBSSO, Bearer (usage error on a
    /// malformed one). Every command that talks to its target reads them first, so the
    /// `--ca-cert` roots are trusted here too (usage error, naming the file, on one that
    /// cannot be read or holds no PEM certificate).
    pub(super) fn credentials(&self) -> Result<Vec<Credentials>, super::Failure> {
        self.trust()?;
        self.auth
            .credentials()
            .map_err(|e| super::Failure::usage(anyhow::anyhow!(e)))
    }
}

/// `--api-key`, `--basic`, `--ibsso`, `--bearer`, `--app-code`.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Credentials")]
pub struct AuthArgs {
    /// API key, sent as `Authorization: App <key>`.
    #[arg(
        long,
        env = env::API_KEY,
        hide_env_values = true,
        value_name = "KEY"
    )]
    pub api_key: Option<String>,
    /// Basic credentials, `USER:PASS`.
    #[arg(
        long,
        env = env::BASIC,
        hide_env_values = true,
        value_name = "USER:PASS"
    )]
    pub basic: Option<String>,
    /// IBSSO session token, sent as `Authorization: IBSSO <token>`.
    #[arg(
        long,
        env = env::IBSSO,
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub ibsso: Option<String>,
    /// OAuth2 access token, sent as `Authorization: Bearer <token>`.
    #[arg(
        long,
        env = env::BEARER,
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub bearer: Option<String>,
    /// Application code, sent in the `AppCode` header.
    #[arg(
        long,
        env = env::APP_CODE,
        hide_env_values = true,
        value_name = "CODE"
    )]
    pub app_code: Option<String>,
}

impl AuthArgs {
    /// Every credential given, in the order API key, Basic, IBSSO, Bearer.
    pub fn credentials(&self) -> Result<Vec<Credentials>, String> {
        let mut out = Vec::new();
        if let Some(key) = &self.api_key {
            out.push(Credentials::ApiKey(Secret::new(key.clone())));
        }
        if let Some(pair) = &self.basic {
            out.push(Credentials::basic_from_pair(pair).map_err(|e| format!("--basic: {e}"))?);
        }
        if let Some(token) = &self.ibsso {
            out.push(Credentials::Ibsso(Secret::new(token.clone())));
        }
        if let Some(token) = &self.bearer {
            out.push(Credentials::Bearer(Secret::new(token.clone())));
        }
        Ok(out)
    }
}
