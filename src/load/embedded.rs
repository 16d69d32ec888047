//! Where a load goes: a URL, or the embedded simulator started for the run (seeded, its listing
//! as the data feed, its invariant check after the load) and stopped after it. Shared by
//! `pushcheck load` and `pushcheck check`, so neither re-spells the set-up.

use super::{FeedSource, LoadConfig, LoadError, LoadResult, Target, run};
use crate::mock::{Simulator, SimulatorConfig};

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
            let simulator = Simulator::start(SimulatorConfig {
                seed_registrations,
                ..SimulatorConfig::default()
            })
            .await?;
            let mut config = build(Target {
                base_url: simulator.base_url().to_owned(),
                remote: false,
            });
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
