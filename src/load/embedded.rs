//! Where a load goes: a URL, or the embedded simulator started for the run (seeded, its listing
//! as the data feed, its invariant check after the load) and stopped after it. Shared by
//! `pushcheck load` and `pushcheck check`, so neither re-spells the set-up.
//!
//! The embedded simulator accepts the credentials the run sends besides its local ones, so
//! `PUSHCHECK_API_KEY=… pushcheck check` without a target is not a run of 401s.

use super::{FeedSource, LoadConfig, LoadError, LoadResult, Target, run};
use crate::api::auth::Credentials;
use crate::mock::{Simulator, SimulatorConfig, local_credentials};

/// The destination of a load run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// Start the embedded simulator with this many registrations.
    Simulator { seed_registrations: usize },
    /// The API (or a simulator) at this URL.
    Url(Target),
}

/// Runs the load `build` describes against `destination`. `build` gets the resolved target and
/// whether it is the embedded simulator; for the simulator, the feed is its admin listing and its
/// invariant check runs after the load whatever `build` says.
pub async fn run_at(
    destination: Destination,
    build: impl FnOnce(Target) -> LoadConfig,
) -> Result<LoadResult, LoadError> {
    match destination {
        Destination::Url(target) => run(build(target)).await,
        Destination::Simulator { seed_registrations } => {
            let mut config = build(Target {
                base_url: String::new(),
                remote: false,
            });
            let simulator = Simulator::start(SimulatorConfig {
                seed_registrations,
                credentials: accepting(&config.credentials),
                ..SimulatorConfig::default()
            })
            .await?;
            config.target.base_url = simulator.base_url().to_owned();
            config.feed = FeedSource::Admin;
            config.simulator_invariants = true;
            config.embedded_simulator = true;
            let result = run(config).await;
            // A shutdown error after the run does not change its result.
            let _ = simulator.shutdown().await;
            result
        }
    }
}

/// The simulator's local credentials, and `given` if it is not one of them.
fn accepting(given: &Credentials) -> Vec<Credentials> {
    let mut all = local_credentials();
    if !all.contains(given) {
        all.push(given.clone());
    }
    all
}
