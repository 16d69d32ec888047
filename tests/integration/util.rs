//! Helpers shared by the integration tests.

use pushcheck::cli::{self, Exit};

/// The outcome of one in-process CLI run.
#[derive(Debug)]
pub struct CliRun {
    pub exit: Exit,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `pushcheck ARGS…` in-process through the same entry point as the binary.
pub fn run_cli(args: &[&str]) -> CliRun {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let exit = cli::run(
        std::iter::once("pushcheck").chain(args.iter().copied()),
        &mut out,
        &mut err,
    );
    CliRun {
        exit,
        stdout: String::from_utf8_lossy(&out).into_owned(),
        stderr: String::from_utf8_lossy(&err).into_owned(),
    }
}

/// Path of a file under the crate root.
pub fn project_path(relative: &str) -> String {
    format!("{}/{relative}", env!("CARGO_MANIFEST_DIR"))
}

/// A fresh directory under the system temp dir, removed on drop.
#[derive(Debug)]
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("pushcheck-test-{label}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }

    /// Writes `contents` to `name` inside the directory and returns its path as a string.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, contents).expect("write temp file");
        path.to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
