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

/// A fresh directory under the system temp dir, removed on drop (`tempfile`'s, named after the
/// test so a leftover says whose it is).
#[derive(Debug)]
pub struct TempDir(tempfile::TempDir);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        let dir = tempfile::Builder::new()
            .prefix(&format!("pushcheck-test-{label}-"))
            .tempdir()
            .expect("create temp dir");
        TempDir(dir)
    }

    pub fn path(&self) -> &std::path::Path {
        self.0.path()
    }

    /// Writes `contents` to `name` inside the directory and returns its path as a string.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> String {
        let path = self.0.path().join(name);
        std::fs::write(&path, contents).expect("write temp file");
        path.to_string_lossy().into_owned()
    }
}

// ---------------------------------------------------------------------------------------------
// The embedded simulator

use pushcheck::mock::{RunningSimulator, Simulator, SimulatorConfig};

/// `Authorization` value of the simulator's default local API key.
pub const LOCAL_AUTH: &str = "App pushcheck-local-key";

/// Starts a simulator on 127.0.0.1 (a free port) with `config`, and returns it; its
/// `base_url()` is what a client needs. Dropping it stops the server.
/// A runtime for a server a test starts (a simulator, a stand-in), alive while the test runs
/// the load or the CLI on its own thread.
pub fn server_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

pub async fn start_simulator(config: SimulatorConfig) -> RunningSimulator {
    Simulator::start(config).await.expect("start the simulator")
}

/// A simulator with local defaults and `seeded` registrations.
pub async fn start_default_simulator(seeded: usize) -> RunningSimulator {
    start_simulator(SimulatorConfig {
        seed_registrations: seeded,
        ..SimulatorConfig::default()
    })
    .await
}

/// The first `limit` registration IDs of the simulator's admin data feed.
pub async fn seeded_registration_ids(base_url: &str, limit: usize) -> Vec<String> {
    pushcheck::mock::AdminClient::new(
        reqwest::Client::new(),
        base_url,
        reqwest::header::HeaderValue::from_static(LOCAL_AUTH),
    )
    .registrations(limit, 0)
    .await
    .expect("admin feed")
    .registrations
    .into_iter()
    .map(|r| r.registration_id)
    .collect()
}

/// The violations the simulator's own invariant check reports.
pub async fn simulator_invariants(base_url: &str) -> Vec<pushcheck::mock::Violation> {
    pushcheck::mock::AdminClient::new(
        reqwest::Client::new(),
        base_url,
        reqwest::header::HeaderValue::from_static(LOCAL_AUTH),
    )
    .invariants()
    .await
    .expect("invariants")
    .violations
}

/// Waits for `child` at most `limit`; kills it and fails the test when it does not end (a run
/// that hangs is a defect, never a reason for the test to hang too).
pub fn wait_within(child: &mut std::process::Child, limit: std::time::Duration) -> Option<i32> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status.code();
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the process did not end within {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The load summary JSON in `path`, checked against `schemas/load-summary.json`; `Null` when
/// the file was not written.
pub fn read_load_summary(path: &std::path::Path) -> serde_json::Value {
    let Some(summary) = std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
    else {
        return serde_json::Value::Null;
    };
    let violations = pushcheck::schema::registry()
        .validate("load-summary", pushcheck::schema::Mode::Strict, &summary)
        .expect("schema");
    assert!(
        violations.is_empty(),
        "{} breaks schemas/load-summary.json: {violations:#?}",
        path.display()
    );
    summary
}

/// Sends SIGINT (Ctrl-C) to `child`, as a user at its terminal would.
pub fn send_ctrl_c(child: &std::process::Child) {
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(sent.success(), "kill -INT {}", child.id());
}

/// Reads `pipe` on a thread until a line starts with `prefix` (then returns, the thread
/// draining the rest so the child never blocks on a full pipe) or `limit` passes: an event to
/// wait on instead of a fixed sleep. Returns whether the line came, and a handle that gives
/// the whole text once the pipe closes.
pub fn wait_for_line(
    pipe: impl std::io::Read + Send + 'static,
    prefix: &str,
    limit: std::time::Duration,
) -> (bool, std::thread::JoinHandle<String>) {
    use std::io::BufRead;
    let (seen, told) = std::sync::mpsc::channel();
    let prefix = prefix.to_owned();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in std::io::BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if line.starts_with(&prefix) {
                let _ = seen.send(());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    (told.recv_timeout(limit).is_ok(), reader)
}

/// Everything left to read on a child's pipe.
pub fn read_all(mut pipe: impl std::io::Read) -> String {
    let mut text = String::new();
    let _ = pipe.read_to_string(&mut text);
    text
}

/// The library's API client (`pushcheck::api::client::Client`) for a simulator: its base URL,
/// its first application's AppCode and the local API key.
pub fn simulator_client(sim: &RunningSimulator) -> pushcheck::api::client::Client {
    use pushcheck::api::auth::{Credentials, Secret};
    let mut config = pushcheck::api::client::ClientConfig::new(sim.base_url());
    config.app_code = sim.facts().applications.first().map(|a| a.app_code.clone());
    config.credentials = Some(Credentials::ApiKey(Secret::new(
        pushcheck::mock::config::LOCAL_API_KEY,
    )));
    pushcheck::api::client::Client::new(config).expect("a client for the simulator")
}
