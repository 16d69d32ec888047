//! How every HTTP client that talks to the target is built, and how a TLS failure is told apart
//! from an unreachable target.
//!
//! TLS is rustls with the system's root certificates, plus the roots `--ca-cert` gave
//! ([`trust`], once per process, before the first client is built). Proxies: reqwest reads
//! `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` for every client built with
//! [`Route::Environment`], a loopback target included (as curl does: list `127.0.0.1` in
//! `NO_PROXY` to keep it direct); the simulator pushcheck starts for a run is always reached
//! directly ([`Route::Direct`]).
//!
//! This module must not know operations, credentials or reports.

use std::path::Path;
use std::sync::RwLock;

use reqwest::{Certificate, ClientBuilder};

/// The extra roots of this process (`--ca-cert`), added to the system's.
static EXTRA_ROOTS: RwLock<Vec<Certificate>> = RwLock::new(Vec::new());

/// Why `--ca-cert` cannot be used. Both are usage errors; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum CaCertError {
    #[error("--ca-cert {path}: cannot read it: {message}")]
    Unreadable { path: String, message: String },
    #[error(
        "--ca-cert {path}: no PEM certificate in it (expected one or more \"-----BEGIN CERTIFICATE-----\" blocks)"
    )]
    NotPem { path: String },
}

/// The certificates of a PEM file (one or more).
pub fn read_ca_file(path: &Path) -> Result<Vec<Certificate>, CaCertError> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| CaCertError::Unreadable {
        path: shown.clone(),
        message: e.to_string(),
    })?;
    if !bytes
        .windows(b"-----BEGIN CERTIFICATE-----".len())
        .any(|w| w == b"-----BEGIN CERTIFICATE-----")
    {
        return Err(CaCertError::NotPem { path: shown });
    }
    match Certificate::from_pem_bundle(&bytes) {
        Ok(certs) if !certs.is_empty() => Ok(certs),
        _ => Err(CaCertError::NotPem { path: shown }),
    }
}

/// Trusts `certs` besides the system's roots in every client built after this call.
pub fn trust(certs: Vec<Certificate>) {
    let mut roots = EXTRA_ROOTS
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    *roots = certs;
}

/// Whether a client may go through the proxy the environment names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` as set (reqwest's default).
    Environment,
    /// Never through a proxy: the simulator pushcheck started itself, on loopback.
    Direct,
}

/// A client builder with this process's trust and `route`; the caller adds timeouts and the
/// user agent.
pub fn builder(route: Route) -> ClientBuilder {
    let mut builder = reqwest::Client::builder();
    let roots = EXTRA_ROOTS
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    if !roots.is_empty() {
        builder = builder.tls_certs_merge(roots);
    }
    if route == Route::Direct {
        builder = builder.no_proxy();
    }
    builder
}

/// rustls' words for a certificate it refused ("invalid peer certificate: UnknownIssuer").
const INVALID_CERTIFICATE: &str = "invalid peer certificate: ";

/// Why the target's certificate was refused ("UnknownIssuer", "NotValidForName", …), when
/// `error` (or one of its causes) is that; `None` for any other failure.
pub fn untrusted_certificate(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cause = Some(error);
    while let Some(e) = cause {
        let text = e.to_string();
        if let Some(at) = text.find(INVALID_CERTIFICATE) {
            return Some(text[at + INVALID_CERTIFICATE.len()..].trim().to_owned());
        }
        cause = e.source();
    }
    None
}

/// The message of a target whose certificate is not trusted: what it is and what to do.
pub fn untrusted_message(base_url: &str, reason: &str) -> String {
    format!(
        "target {base_url}: its TLS certificate is not trusted ({reason}); give its CA with --ca-cert FILE"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("client error (Connect)")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn a_refused_certificate_is_found_in_the_causes() {
        let inner = std::io::Error::other("invalid peer certificate: UnknownIssuer");
        assert_eq!(
            untrusted_certificate(&Outer(inner)).as_deref(),
            Some("UnknownIssuer")
        );
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(untrusted_certificate(&Outer(refused)), None);
    }

    #[test]
    fn a_ca_file_must_hold_a_pem_certificate() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate").expect("write");
        let err = read_ca_file(&path).expect_err("not PEM");
        assert!(err.to_string().contains("ca.pem"), "{err}");
        let missing = dir.path().join("missing.pem");
        let err = read_ca_file(&missing).expect_err("missing");
        assert!(err.to_string().contains("missing.pem"), "{err}");
    }
}
