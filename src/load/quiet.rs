//! Keeps goose's stray stdout lines out of pushcheck's output while a run goes on.
//!
//! goose prints "N users launched." (iterations mode) or "All N users launched." (with
//! `--no-reset-metrics`) to stdout with `println!`, whatever `--quiet` says. pushcheck's stdout
//! is a verdict or a JSON document that CI parses, and pushcheck itself writes nothing to stdout
//! while the load runs (its progress line goes to stderr), so for the run's length file
//! descriptor 1 points at /dev/null and is put back afterwards. Safe wrappers of `dup`/`dup2`
//! (nix) do the work; on other platforms this does nothing.

/// Holds stdout silenced; dropping it puts stdout back.
#[derive(Debug)]
pub struct QuietStdout {
    #[cfg(unix)]
    saved: Option<std::os::fd::OwnedFd>,
}

impl QuietStdout {
    /// Silences stdout; when that fails (no /dev/null, no free descriptor), stdout is left as it
    /// is: goose's line is noise, not a reason to stop.
    pub fn new() -> QuietStdout {
        #[cfg(unix)]
        {
            use std::io::Write;
            let _ = std::io::stdout().flush();
            let saved = (|| {
                let null = std::fs::OpenOptions::new()
                    .write(true)
                    .open("/dev/null")
                    .ok()?;
                let saved = nix::unistd::dup(std::io::stdout()).ok()?;
                nix::unistd::dup2_stdout(&null).ok()?;
                Some(saved)
            })();
            QuietStdout { saved }
        }
        #[cfg(not(unix))]
        QuietStdout {}
    }
}

impl Default for QuietStdout {
    fn default() -> QuietStdout {
        QuietStdout::new()
    }
}

impl Drop for QuietStdout {
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Some(saved) = self.saved.take() {
            use std::io::Write;
            let _ = std::io::stdout().flush();
            let _ = nix::unistd::dup2_stdout(&saved);
        }
    }
}
