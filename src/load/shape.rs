//! How many users a run has over time, and the rate it asks for: the two load models a
//! scenario can have, and the open-model arrival rate on top of either.
//!
//! - [`Shape::Hold`]: start `users` (at a rate or over a time), then hold them for a run time or
//!   a number of iterations — goose's `--users`/`--increase-*`/`--run-time`/`--iterations`.
//! - [`Shape::Stages`]: `users` over `duration`, step after step — goose's `--test-plan` (ramp
//!   up, hold, spike, ramp down). goose refuses the flags of the first model beside a plan, so a
//!   scenario has one or the other.
//! - An arrival rate ([`ArrivalRate`]): requests per second for all operations together,
//!   through goose's request throttle, split across operations by the mix weights; or one rate
//!   per operation, which sets those weights. goose's throttle is a ceiling: users who are too
//!   few (or a target too slow) send fewer, which the run reports as a shortfall (k6's dropped
//!   iterations, see [`super::arrival`]).
//!
//! goose numbers users in one rising sequence across a plan: `10 → 5 → 10` starts users 0–9,
//! stops five, then starts users 10–14. Writes are partitioned by [`Shape::numbered_users`],
//! so two writers never share a registration.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::values::{Mix, Span};
use crate::duration::DurationError;

/// The highest rate a scenario may ask of goose's throttle (`throttle`, `arrival_rate`): goose
/// divides a second by it in microseconds, so above a million it would divide by zero, and two
/// cores send about ten thousand a second.
pub const MAX_RATE: u32 = 100_000;

/// One step of a staged run: move to `users` over `duration` (linearly, as goose does), or hold
/// when the users do not change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    pub users: usize,
    #[serde(serialize_with = "span_text")]
    pub duration: Span,
}

fn span_text<S: serde::Serializer>(span: &Span, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(span)
}

/// The steps of a staged run, checked: whole seconds (goose's plan takes seconds), at least one
/// user started.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "Vec<Stage>")]
pub struct Stages(pub Vec<Stage>);

/// Why a staged run was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StagesError {
    #[error("stages needs at least one step, such as {{ users = 10, duration = \"30s\" }}")]
    Empty,
    #[error(
        "stage {number}: {duration} is not a whole number of seconds (goose's test plan takes seconds)"
    )]
    Fraction { number: usize, duration: Span },
    #[error("stages never start a user; give a step at least 1 user")]
    NoUser,
    #[error("{0:?} is not a step; write USERS,TIME such as 10,30s")]
    NotAStep(String),
    #[error("{step:?}: {users:?} is not a number of users")]
    NotUsers { step: String, users: String },
    #[error(transparent)]
    Duration(#[from] DurationError),
}

impl TryFrom<Vec<Stage>> for Stages {
    type Error = StagesError;
    /// Checks steps read from a file or a flag.
    fn try_from(steps: Vec<Stage>) -> Result<Stages, StagesError> {
        if steps.is_empty() {
            return Err(StagesError::Empty);
        }
        if let Some((i, s)) = steps
            .iter()
            .enumerate()
            .find(|(_, s)| s.duration.0.subsec_nanos() != 0)
        {
            return Err(StagesError::Fraction {
                number: i + 1,
                duration: s.duration,
            });
        }
        if steps.iter().all(|s| s.users == 0) {
            return Err(StagesError::NoUser);
        }
        Ok(Stages(steps))
    }
}

impl Stages {
    /// goose's `--test-plan` value: `users,secondss;…`.
    pub fn goose_plan(&self) -> String {
        self.0
            .iter()
            .map(|s| format!("{},{}s", s.users, s.duration.whole_seconds()))
            .collect::<Vec<_>>()
            .join(";")
    }

    /// Users started over the whole plan: every rise counts (goose's `total_users`).
    pub fn started_users(&self) -> usize {
        let mut previous = 0;
        self.0.iter().fold(0, |total, s| {
            let rise = s.users.saturating_sub(previous);
            previous = s.users;
            total + rise
        })
    }

    /// The most users running at once.
    pub fn peak_users(&self) -> usize {
        self.0.iter().map(|s| s.users).max().unwrap_or(0)
    }

    /// The plan's length: every step's duration.
    pub fn length(&self) -> Duration {
        self.0.iter().map(|s| s.duration.0).sum()
    }
}

/// `users,duration;users,duration` (goose's `--test-plan` notation, with pushcheck's times).
impl FromStr for Stages {
    type Err = StagesError;
    fn from_str(text: &str) -> Result<Stages, StagesError> {
        let steps = text
            .split(';')
            .map(|step| {
                let (users, duration) = step
                    .split_once(',')
                    .ok_or_else(|| StagesError::NotAStep(step.to_owned()))?;
                let users = users.trim().parse().map_err(|_| StagesError::NotUsers {
                    step: step.to_owned(),
                    users: users.trim().to_owned(),
                })?;
                let duration = duration.trim().parse::<Span>()?;
                Ok(Stage { users, duration })
            })
            .collect::<Result<Vec<_>, StagesError>>()?;
        Stages::try_from(steps)
    }
}

impl fmt::Display for Stages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let steps: Vec<String> = self
            .0
            .iter()
            .map(|s| {
                let plural = if s.users == 1 { "" } else { "s" };
                format!("{} user{plural} over {}", s.users, s.duration)
            })
            .collect();
        f.write_str(&steps.join(", then "))
    }
}

/// How users are started in a [`Shape::Hold`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Ramp {
    /// Users started per second.
    Rate(f64),
    /// Time to start them all.
    Time(Span),
}

/// How long a [`Shape::Hold`] lasts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Length {
    RunTime(Span),
    Iterations(usize),
}

/// Users over time.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// Start `users`, then hold them.
    Hold {
        users: usize,
        ramp: Ramp,
        length: Length,
    },
    /// goose's test plan.
    Stages(Stages),
}

impl Shape {
    /// The most users running at once.
    pub fn peak_users(&self) -> usize {
        match self {
            Shape::Hold { users, .. } => *users,
            Shape::Stages(s) => s.peak_users(),
        }
    }

    /// How many distinct user numbers goose hands out: what writes are partitioned by.
    pub fn numbered_users(&self) -> usize {
        match self {
            Shape::Hold { users, .. } => *users,
            Shape::Stages(s) => s.started_users(),
        }
    }

    /// The time until every user of the first phase runs: the ramp, or the first stage.
    pub fn start_up(&self) -> Duration {
        match self {
            Shape::Hold { users, ramp, .. } => ramp_time(*users, *ramp),
            Shape::Stages(s) => s.0.first().map_or(Duration::ZERO, |s| s.duration.0),
        }
    }

    /// The planned length, start-up included; `None` when it is counted in iterations.
    pub fn planned(&self) -> Option<Duration> {
        match self {
            Shape::Hold {
                users,
                ramp,
                length: Length::RunTime(t),
            } => Some(ramp_time(*users, *ramp) + t.0),
            Shape::Hold { .. } => None,
            Shape::Stages(s) => Some(s.length()),
        }
    }
}

impl Shape {
    /// The users the plan asks for over time, as the corners of a line from `(0 s, 0 users)`:
    /// a ramp then a hold (open-ended when the run counts iterations: the last corner holds to
    /// the end), or each stage moving linearly to its users. For the report's users chart.
    pub fn users_plan(&self) -> Vec<[f64; 2]> {
        let mut corners = vec![[0.0, 0.0]];
        match self {
            Shape::Hold {
                users,
                ramp,
                length,
            } => {
                let up = ramp_time(*users, *ramp).as_secs_f64();
                corners.push([up, *users as f64]);
                if let Length::RunTime(t) = length {
                    corners.push([up + t.0.as_secs_f64(), *users as f64]);
                }
            }
            Shape::Stages(s) => {
                let mut at = 0.0;
                for stage in &s.0 {
                    at += stage.duration.0.as_secs_f64();
                    corners.push([at, stage.users as f64]);
                }
            }
        }
        corners
    }
}

/// The time goose takes to start `users` at `ramp`.
fn ramp_time(users: usize, ramp: Ramp) -> Duration {
    match ramp {
        Ramp::Rate(rate) => Duration::from_secs_f64(users as f64 / rate.max(0.001)),
        Ramp::Time(t) => t.0,
    }
}

/// The rate a scenario asks for: one for all operations, or one per operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArrivalRate {
    /// Requests per second, all operations together, split by the mix weights.
    Total(u32),
    /// Requests per second per operation; they are the mix weights too.
    PerOperation(Mix),
}

impl ArrivalRate {
    /// Requests per second, all operations together (saturating: rates per operation that add
    /// up past `u32::MAX` are refused as more than [`MAX_RATE`] anyway).
    pub fn total(&self) -> u32 {
        match self {
            ArrivalRate::Total(n) => *n,
            ArrivalRate::PerOperation(m) => u32::try_from(m.total()).unwrap_or(u32::MAX),
        }
    }
}

impl<'de> Deserialize<'de> for ArrivalRate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Either;
        impl<'de> Visitor<'de> for Either {
            type Value = ArrivalRate;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "requests per second (a whole number above 0), or a table of rates per \
                     operation: get, patch, personalize, depersonalize",
                )
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ArrivalRate, E> {
                match u32::try_from(v) {
                    Ok(n) if (1..=MAX_RATE).contains(&n) => Ok(ArrivalRate::Total(n)),
                    _ => Err(E::custom(format!(
                        "{v} is not a rate; give requests per second from 1 to {MAX_RATE}"
                    ))),
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ArrivalRate, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(-1))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ArrivalRate, A::Error> {
                let mix = Mix::deserialize(de::value::MapAccessDeserializer::new(map))?;
                if mix == Mix::default() {
                    return Err(de::Error::custom(
                        "every rate is 0; give at least one operation a rate",
                    ));
                }
                if ArrivalRate::PerOperation(mix).total() > MAX_RATE {
                    return Err(de::Error::custom(format!(
                        "the rates add up to more than {MAX_RATE} requests per second"
                    )));
                }
                Ok(ArrivalRate::PerOperation(mix))
            }
        }
        d.deserialize_any(Either)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_that_falls_and_rises_numbers_every_started_user() {
        let s: Stages = "10,5s;5,5s;10,5s;0,2s".parse().unwrap();
        assert_eq!(s.started_users(), 15, "10, then 5 more after the dip");
        assert_eq!(s.peak_users(), 10);
        assert_eq!(s.length(), Duration::from_secs(17));
        assert_eq!(s.goose_plan(), "10,5s;5,5s;10,5s;0,2s");
        assert_eq!(
            s.to_string(),
            "10 users over 5s, then 5 users over 5s, then 10 users over 5s, then 0 users over 2s"
        );
    }

    #[test]
    fn stages_goose_cannot_run_are_refused() {
        let refused = |t: &str| t.parse::<Stages>().unwrap_err().to_string();
        assert!(refused("10,1500ms").contains("whole number of seconds"));
        assert!(refused("0,5s;0,5s").contains("never start a user"));
        assert!(refused("10").contains("USERS,TIME"));
        assert!(refused("ten,5s").contains("not a number of users"));
        assert!(
            "1,0s;1,3s".parse::<Stages>().is_ok(),
            "a jump takes no time"
        );
    }

    #[test]
    fn shapes_know_their_users_and_length() {
        let hold = Shape::Hold {
            users: 4,
            ramp: Ramp::Rate(2.0),
            length: Length::RunTime(Span(Duration::from_secs(10))),
        };
        assert_eq!(hold.start_up(), Duration::from_secs(2));
        assert_eq!(hold.planned(), Some(Duration::from_secs(12)));
        let staged = Shape::Stages("3,2s;1,2s;3,2s".parse().unwrap());
        assert_eq!((staged.peak_users(), staged.numbered_users()), (3, 5));
        assert_eq!(staged.start_up(), Duration::from_secs(2));
        assert_eq!(staged.planned(), Some(Duration::from_secs(6)));
    }

    fn scenario(text: &str) -> Result<crate::load::Scenario, String> {
        crate::load::Scenario::from_toml(text, std::path::Path::new("x.toml"))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_scenario_has_stages_or_the_hold_keys_never_both() {
        let err = scenario("stages = [{ users = 2, duration = \"1s\" }]\nrun_time = \"5s\"\n")
            .unwrap_err();
        assert!(err.starts_with("x.toml:2:1: field `run_time`"), "{err}");
        assert!(err.contains("give stages or run_time"), "{err}");
        let err = scenario("stages = [{ users = 2, duration = \"1.5s\" }]\n").unwrap_err();
        assert!(err.contains("whole number of seconds"), "{err}");
        let err = scenario("stages = []\n").unwrap_err();
        assert!(err.contains("at least one step"), "{err}");
        let err = scenario("stages = [{ users = 2, time = \"1s\" }]\n").unwrap_err();
        assert!(err.contains("unknown field `time`"), "{err}");
        let plan = scenario(
            "stages = [{ users = 3, duration = \"2s\" }, { users = 0, duration = \"1s\" }]\n",
        )
        .unwrap()
        .resolve()
        .unwrap();
        assert_eq!(plan.shape.planned(), Some(Duration::from_secs(3)));
    }

    #[test]
    fn an_arrival_rate_excludes_a_throttle_and_its_rates_exclude_a_mix() {
        let err = scenario("arrival_rate = 10\nthrottle = 5\n").unwrap_err();
        assert!(
            err.contains("field `throttle`: give arrival_rate or throttle"),
            "{err}"
        );
        let err = scenario("[arrival_rate]\nget = 5\n[mix]\nget = 1\n").unwrap_err();
        assert!(err.contains("field `mix`"), "{err}");
        for bad in [
            "arrival_rate = 0\n",
            "arrival_rate = -3\n",
            "arrival_rate = \"fast\"\n",
            "arrival_rate = 5000000\n",
            "[arrival_rate]\nget = 4000000000\npatch = 4000000000\n",
        ] {
            let err = scenario(bad).unwrap_err();
            assert!(err.contains("field `arrival_rate`"), "{bad}: {err}");
        }
        let err = scenario("throttle = 2000000\n").unwrap_err();
        assert!(err.contains("at most 100000"), "{err}");
        let err = scenario("[arrival_rate]\nget = 0\n").unwrap_err();
        assert!(err.contains("every rate is 0"), "{err}");
        let err = scenario("thresholds = [\"arrival-rate>=90%\"]\n")
            .unwrap()
            .resolve()
            .unwrap_err()
            .to_string();
        assert!(err.contains("asks for none"), "{err}");
    }

    #[test]
    fn flags_for_one_model_clear_the_files_other_model() {
        let file = scenario("users = 4\nrun_time = \"5s\"\nthrottle = 9\n").unwrap();
        let merged = file.merge(crate::load::Scenario {
            stages: Some("2,1s".parse().unwrap()),
            arrival_rate: Some(ArrivalRate::Total(20)),
            ..Default::default()
        });
        let plan = merged.resolve().unwrap();
        assert!(matches!(plan.shape, Shape::Stages(_)));
        assert_eq!((plan.arrival_rate, plan.throttle), (Some(20), None));
        let file =
            scenario("stages = [{ users = 2, duration = \"1s\" }]\narrival_rate = 7\n").unwrap();
        let plan = file
            .merge(crate::load::Scenario {
                users: Some(3),
                throttle: Some(5),
                ..Default::default()
            })
            .resolve()
            .unwrap();
        assert_eq!(plan.shape.peak_users(), 3);
        assert_eq!((plan.arrival_rate, plan.throttle), (None, Some(5)));
    }
}
