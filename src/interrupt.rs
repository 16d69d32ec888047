//! Ctrl-C, owned by pushcheck for the whole process.
//!
//! goose installs a Ctrl-C handler at the start of every run (through the `ctrlc` crate) that
//! triggers its killswitch on the first Ctrl-C and exits the process on the second, before
//! pushcheck could write a report or restore a device. `ctrlc` allows one handler per process,
//! so [`install`] puts pushcheck's there first; goose's attempt then fails, which goose tolerates
//! by design. The handler only counts: the runners watch the count ([`count`], [`at_least`]) and
//! decide what a Ctrl-C means where they are — the load stops goose and cancels in-flight
//! requests, the contract suite stops after restoring, `check` skips its later stages, and a
//! second Ctrl-C skips the restore. A third one exits at once with code 3, as a way out of
//! anything that still hangs.
//!
//! This module imports nothing of the crate and prints only that last word.

use std::sync::OnceLock;

use tokio::sync::watch;

/// Exit code of the third Ctrl-C (the runtime-error code).
const EXIT_NOW: i32 = 3;

fn counter() -> &'static watch::Sender<u32> {
    static COUNT: OnceLock<watch::Sender<u32>> = OnceLock::new();
    COUNT.get_or_init(|| watch::channel(0).0)
}

/// Installs the process-wide Ctrl-C handler, once; true when pushcheck's handler is the one in
/// place (false when something else in the process installed one first).
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
                eprintln!("\npushcheck: Ctrl-C three times: exiting now");
                std::process::exit(EXIT_NOW);
            }
        })
        .is_ok()
    })
}

/// How many times Ctrl-C was pressed so far.
pub fn count() -> u32 {
    *counter().borrow()
}

/// Whether Ctrl-C was pressed at least once.
pub fn interrupted() -> bool {
    count() > 0
}

/// Resolves once Ctrl-C has been pressed at least `n` times (at once if it already was).
pub async fn at_least(n: u32) {
    let mut rx = counter().subscribe();
    // The sender lives for the whole process, so waiting cannot fail.
    let _ = rx.wait_for(|c| *c >= n).await;
}
