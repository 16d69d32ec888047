//! Where a load goes, and with which credentials: a URL (checked: loopback unless
//! `--allow-remote`), or the embedded simulator started for the run (seeded, its listing as the
//! data feed, its invariant check after the load) and stopped after it. Shared by `pushcheck
//! load` and `pushcheck check` through [`super::LoadConfig::destination`], so neither re-spells
//! the set-up.
//!
//! One credential policy for both commands ([`credentials_for`]): the credentials given; none
//! for a remote URL is a usage error; otherwise the simulator's local API key. The embedded
//! simulator accepts the credentials the run sends besides its local ones, so
//! `PUSHCHECK_API_KEY=… pushcheck check` without a target is not a run of 401s.

use super::{FeedSource, LoadError};
use crate::api::RATE_LIMIT_PER_SECOND;
use crate::api::auth::Credentials;
use crate::api::target::TargetUrl;
use crate::mock::{MockError, RunningSimulator, Simulator, SimulatorConfig, local_credentials};

/// A target URL a load may go to: [`crate::api::target::parse`]'s checks (the one URL parser),
/// and a non-loopback host only with `allow_remote`.
pub fn load_target(url: &str, allow_remote: bool) -> Result<TargetUrl, LoadError> {
    let parsed = crate::api::target::parse(url).map_err(|e| LoadError::Config(e.to_string()))?;
    if !parsed.loopback && !allow_remote {
        return Err(LoadError::Config(format!(
            "target {} is not a loopback address; load against a remote API needs \
             --allow-remote (the rate is then capped at {RATE_LIMIT_PER_SECOND} requests/s per \
             operation unless --max-rps raises it)",
            parsed.host
        )));
    }
    Ok(parsed)
}

/// The destination of a load run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// Start the embedded simulator with this many registrations; its listing feeds the load.
    Simulator { seed_registrations: usize },
    /// The API (or a running `pushcheck mock`) at this URL, fed from `feed` (the simulator's
    /// admin listing, or a file of registration IDs).
    Url { target: TargetUrl, feed: FeedSource },
}

impl Destination {
    /// A URL if one is given (checked), the embedded simulator otherwise.
    pub fn of(
        url: Option<&str>,
        allow_remote: bool,
        feed: FeedSource,
        seed_registrations: usize,
    ) -> Result<Destination, LoadError> {
        Ok(match url {
            Some(url) => Destination::Url {
                target: load_target(url, allow_remote)?,
                feed,
            },
            None => Destination::Simulator { seed_registrations },
        })
    }

    /// True for a URL that is not a loopback address.
    pub fn remote(&self) -> bool {
        matches!(self, Destination::Url { target, .. } if !target.loopback)
    }
}

/// The credentials a load sends: the first given; a remote target without any is refused
/// (the local key would only earn 401s there); otherwise the simulator's local API key.
pub fn credentials_for(
    destination: &Destination,
    given: &[Credentials],
) -> Result<Credentials, LoadError> {
    if let Some(first) = given.first() {
        return Ok(first.clone());
    }
    if destination.remote() {
        return Err(LoadError::Config(
            "a remote target needs credentials: --api-key, --basic, --ibsso or --bearer (or PUSHCHECK_API_KEY …)"
                .into(),
        ));
    }
    local_credentials()
        .into_iter()
        .next()
        .ok_or_else(|| LoadError::Config("the simulator has no local credentials".into()))
}

/// A destination reached: the URL every stage sends to, and the feed the run reads.
#[derive(Debug, Clone)]
pub struct Reached {
    pub target: TargetUrl,
    pub feed: FeedSource,
    /// pushcheck started the simulator there for this run.
    pub embedded: bool,
}

impl Reached {
    /// The target is a simulator whose listing and invariant check pushcheck may use.
    pub fn simulator_invariants(&self) -> bool {
        self.feed == FeedSource::Admin
    }
}

/// A reached destination, and the simulator to stop after the run when pushcheck started one.
pub async fn reach(
    destination: &Destination,
    credentials: &Credentials,
) -> Result<(Reached, Option<RunningSimulator>), MockError> {
    match destination {
        Destination::Url { target, feed } => Ok((
            Reached {
                target: target.clone(),
                feed: feed.clone(),
                embedded: false,
            },
            None,
        )),
        Destination::Simulator { seed_registrations } => {
            let simulator = Simulator::start(SimulatorConfig {
                seed_registrations: *seed_registrations,
                credentials: accepting(credentials),
                ..SimulatorConfig::default()
            })
            .await?;
            let reached = Reached {
                target: TargetUrl {
                    base_url: simulator.base_url().to_owned(),
                    host: simulator.addr().ip().to_string(),
                    loopback: true,
                },
                feed: FeedSource::Admin,
                embedded: true,
            };
            Ok((reached, Some(simulator)))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_targets_need_the_opt_in() {
        for local in [
            "http://127.0.0.1:8080/",
            "http://localhost:1",
            "http://[::1]:1",
        ] {
            assert!(load_target(local, false).unwrap().loopback, "{local}");
        }
        let err = load_target("https://api.infobip.com", false).unwrap_err();
        assert!(err.to_string().contains("--allow-remote"), "{err}");
        assert!(
            !load_target("https://api.infobip.com", true)
                .unwrap()
                .loopback
        );
    }

    #[test]
    fn a_remote_target_needs_credentials_and_a_local_one_gets_the_local_key() {
        let remote =
            Destination::of(Some("https://api.infobip.com"), true, FeedSource::Admin, 1).unwrap();
        let err = credentials_for(&remote, &[]).unwrap_err();
        assert!(err.to_string().contains("needs credentials"), "{err}");
        let local = Destination::of(None, false, FeedSource::Admin, 1).unwrap();
        assert_eq!(
            credentials_for(&local, &[]).unwrap(),
            local_credentials()[0]
        );
    }
}
