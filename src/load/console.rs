//! goose's log, reconciled with pushcheck's output rules.
//!
//! goose logs through the `log` crate and, unless a logger is already installed, installs
//! simplelog's `SimpleLogger`, which writes info messages (one per failed request among them) to
//! **stdout**. pushcheck promises no stray stdout, so before the first run it installs its own
//! process-wide logger: goose's warnings and errors (a second Ctrl-C, a threshold naming an
//! unknown request) go to stderr with a `goose:` prefix; info and below only with `verbose`.
//! goose then fails to install its own logger, which it tolerates by design.
//!
//! goose also warns once per request that got no answer; against a target that is down that is
//! thousands of lines a second. pushcheck counts those errors by kind in its result instead, so
//! that warning is shown only with `verbose`. So are the TLS verifier's errors (one per refused
//! handshake): pushcheck names a certificate it does not trust itself ([`crate::api::transport`]).
//!
//! This is the only place in `load` that writes to a terminal.

use std::io::Write;
use std::sync::OnceLock;

use log::{Level, LevelFilter, Log, Metadata, Record};

/// The log target of goose's per-request warning (a request without an answer).
const PER_REQUEST_TARGET: &str = "goose::goose";
/// The log target of the TLS verifier's error on each certificate it refuses.
const TLS_VERIFIER_TARGET: &str = "rustls_platform_verifier";

#[derive(Debug)]
struct StderrLogger;

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record) {
        let per_request = (record.target() == PER_REQUEST_TARGET && record.level() == Level::Warn)
            || record.target().starts_with(TLS_VERIFIER_TARGET);
        if self.enabled(record.metadata()) && (!per_request || log::max_level() >= Level::Info) {
            let target = record.target().split("::").next().unwrap_or("");
            let _ = writeln!(
                std::io::stderr().lock(),
                "{target}: {}: {}",
                record.level().as_str().to_ascii_lowercase(),
                record.args()
            );
        }
    }

    fn flush(&self) {
        let _ = std::io::stderr().flush();
    }
}

/// Installs the stderr logger once per process (before goose can install its stdout one) and
/// sets its level: warnings, or everything down to info with `verbose`.
pub fn install_logger(verbose: bool) {
    if installed() {
        log::set_max_level(if verbose {
            LevelFilter::Info
        } else {
            LevelFilter::Warn
        });
    }
}

/// Installs the stderr logger if nothing has yet, leaving the level as the caller set it
/// (warnings by default).
pub fn install_logger_once() {
    static LEVEL_SET: OnceLock<()> = OnceLock::new();
    if installed() {
        LEVEL_SET.get_or_init(|| {
            if log::max_level() == LevelFilter::Off {
                log::set_max_level(LevelFilter::Warn);
            }
        });
    }
}

/// Whether pushcheck's logger is the process's (installing it on the first call).
fn installed() -> bool {
    static INSTALLED: OnceLock<bool> = OnceLock::new();
    *INSTALLED.get_or_init(|| log::set_logger(&StderrLogger).is_ok())
}
