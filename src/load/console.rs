//! goose's log, reconciled with pushcheck's output rules.
//!
//! goose logs through the `log` crate and, unless a logger is already installed, installs
//! simplelog's `SimpleLogger`, which writes info messages (one per failed request among them) to
//! **stdout**. pushcheck promises no stray stdout, so before the first run it installs its own
//! process-wide logger: goose's warnings and errors (a second Ctrl-C, a threshold naming an
//! unknown request) go to stderr with a `goose:` prefix; info and below only with `verbose`.
//! goose then fails to install its own logger, which it tolerates by design.
//!
//! This is the only place in `load` that writes to a terminal.

use std::io::Write;
use std::sync::OnceLock;

use log::{LevelFilter, Log, Metadata, Record};

#[derive(Debug)]
struct StderrLogger;

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record) {
        if self.enabled(record.metadata()) {
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
    static INSTALLED: OnceLock<bool> = OnceLock::new();
    let ours = *INSTALLED.get_or_init(|| log::set_logger(&StderrLogger).is_ok());
    if ours {
        log::set_max_level(if verbose {
            LevelFilter::Info
        } else {
            LevelFilter::Warn
        });
    }
}
