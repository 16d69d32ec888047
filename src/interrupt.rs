//! Stop signals (Ctrl-C's SIGINT, SIGTERM, SIGHUP), owned by pushcheck for the whole process.
//!
//! CI timeouts, `timeout(1)` and `docker stop` send SIGTERM, a closing terminal sends SIGHUP, a
//! user at the terminal presses Ctrl-C: all three mean "stop now, but cleanly", and are counted
//! as one kind of event. goose installs a Ctrl-C handler at the start of every run (through the
//! `ctrlc` crate) that triggers its killswitch on the first Ctrl-C and exits the process on the
//! second, before pushcheck could write a report or restore a device. `ctrlc` allows one handler
//! per process, so [`install`] puts pushcheck's there first (with `ctrlc`'s `termination`
//! feature it catches SIGTERM and SIGHUP too); goose's attempt then fails, which goose tolerates
//! by design. The handler only counts — `ctrlc` does not say which signal came, so messages name
//! all three ([`SIGNALS`]). The runners watch the count ([`count`], [`at_least`]) and decide what
//! a stop signal means where they are — the load stops goose and cancels in-flight requests, the
//! contract suite stops after restoring, `check` skips its later stages, and a second signal
//! skips the restore. A third one exits at once with code 3, as a way out of anything that
//! still hangs.
//!
//! [`install`] must run before anything that can take long starts (the CLI calls it for `check`,
//! `contract` and `load` before any work); a signal before it has its default effect.
//!
//! This module imports nothing of the crate and prints only that last word.

use std::io::Write;
use std::sync::OnceLock;

use tokio::sync::watch;

/// Exit code of the third stop signal (the runtime-error code).
const EXIT_NOW: i32 = 3;

/// The signals that stop a run, for messages (the handler cannot tell them apart).
pub const SIGNALS: &str = "Ctrl-C, SIGTERM or SIGHUP";

fn counter() -> &'static watch::Sender<u32> {
    static COUNT: OnceLock<watch::Sender<u32>> = OnceLock::new();
    COUNT.get_or_init(|| watch::channel(0).0)
}

/// Installs the process-wide handler of SIGINT, SIGTERM and SIGHUP, once; true when
/// pushcheck's handler is the one in place (false when something else in the process installed
/// one first).
pub fn install() -> bool {
    static INSTALLED: OnceLock<bool> = OnceLock::new();
    *INSTALLED.get_or_init(|| {
        ctrlc::set_handler(|| {
            let mut now = 0;
            counter().send_modify(|n| {
                *n += 1;
                now = *n;
            });
            if now >= 3 {
                // Not eprintln!: it panics when stderr is gone (a closed terminal), and this
                // thread must reach the exit.
                let _ = writeln!(
                    std::io::stderr(),
                    "\npushcheck: a third stop signal ({SIGNALS}): exiting now"
                );
                std::process::exit(EXIT_NOW);
            }
        })
        .is_ok()
    })
}

/// How many stop signals came so far.
pub fn count() -> u32 {
    *counter().borrow()
}

/// Whether a stop signal came at least once.
pub fn interrupted() -> bool {
    count() > 0
}

/// Resolves once at least `n` stop signals have come (at once if they already have).
pub async fn at_least(n: u32) {
    let mut rx = counter().subscribe();
    // The sender lives for the whole process, so waiting cannot fail.
    let _ = rx.wait_for(|c| *c >= n).await;
}
