//! The arrival rate a run asked for against the rate it achieved, and why any shortfall
//! happened: the per-operation rate cap lowered goose's throttle before the run (known in
//! advance, lifted with `--max-rps`), or the users were too few for the target's latency to
//! send that many (what k6 calls dropped iterations: goose's throttle is a ceiling, and a
//! closed model cannot start more users than it was given).
//!
//! goose's throttle lets a number of requests through every tick (10 ms or more) and sleeps
//! between ticks with tokio's millisecond timer, which wakes late: measured here, a 10 ms tick
//! took about 11.3 ms, so asking goose for 100/s sent 88/s. Before a run with an arrival rate,
//! [`calibrate`] times goose's own sleep (`goose::util::sleep_minus_drift`) on this runtime and
//! asks goose for the throttle that sends the rate asked; a rate cap is never compensated (it is
//! a ceiling: undershooting it is the safe side).
//!
//! The achieved rate is measured on the timeline over the held window: from the end of the
//! start-up (the ramp, or a staged plan's first step; at least the first second, which is
//! partial) to the end of the planned length (or the last whole second recorded, when the run
//! ended sooner or is counted in iterations). Pure: it reads the plan and the timeline.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::figures::OperationStats;
use super::scenario::LoadPlan;
use super::timeline::TimelineSummary;
use crate::api::Operation;

/// Achieved below this share of the rate goose was asked for is a shortfall worth explaining
/// (the `arrival-rate` rule decides the verdict).
const SHORTFALL_BELOW: f64 = 0.95;

/// goose's throttle ticks at least this often (goose's `throttle.rs`).
const GOOSE_MIN_TICK: Duration = Duration::from_millis(10);
/// How long [`calibrate`] times goose's tick, about.
const CALIBRATION: Duration = Duration::from_millis(300);

/// The throttle the run gives goose for an arrival rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pacing {
    /// Requests/s asked for.
    pub asked: u32,
    /// Requests/s the run aims at: the asked rate, or the cap's total when that is lower.
    pub target: usize,
    /// goose's `--throttle-requests`: the target corrected for goose's late ticks (never above
    /// the cap's total).
    pub goose_throttle: usize,
    /// How much later than asked goose's tick woke here, measured before the run.
    pub tick_overshoot: Duration,
}

/// goose's throttle for `rate`: (requests let through per tick, the tick), as goose computes it.
fn goose_tick(rate: usize) -> (u32, Duration) {
    let sleep = Duration::from_micros(1_000_000 / rate.max(1) as u64);
    if sleep < GOOSE_MIN_TICK {
        let tokens = (GOOSE_MIN_TICK.as_nanos() / sleep.as_nanos().max(1)) as u32;
        (tokens, sleep * tokens)
    } else {
        (1, sleep)
    }
}

/// Requests/s goose sends with throttle `rate` when each tick wakes `overshoot` late.
fn goose_sends(rate: usize, overshoot: Duration) -> f64 {
    let (tokens, tick) = goose_tick(rate);
    f64::from(tokens) / (tick + overshoot).as_secs_f64()
}

/// The smallest goose throttle (within a thousandth of the target, up to twice it) that sends
/// at least `target` requests/s given `overshoot`; twice the target when none does.
fn compensated(target: usize, overshoot: Duration) -> usize {
    let step = (target / 1000).max(1);
    (target..=target.saturating_mul(2))
        .step_by(step)
        .find(|t| goose_sends(*t, overshoot) >= target as f64)
        .unwrap_or(target.saturating_mul(2))
}

/// Times goose's own throttle sleep on this runtime and decides goose's throttle for an arrival
/// rate of `asked` requests/s, never above `cap_total` (the rate cap, all operations).
pub async fn calibrate(asked: u32, cap_total: Option<usize>) -> Pacing {
    let target = cap_total.map_or(asked as usize, |c| c.min(asked as usize));
    if cap_total == Some(target) {
        return Pacing {
            asked,
            target,
            goose_throttle: target,
            tick_overshoot: Duration::ZERO,
        };
    }
    let (_, tick) = goose_tick(target);
    let rounds = (CALIBRATION.as_nanos() / tick.as_nanos().max(1)).clamp(5, 50) as u32;
    let started = Instant::now();
    let mut drift = tokio::time::Instant::now();
    for _ in 0..rounds {
        drift = goose::util::sleep_minus_drift(tick, drift).await;
    }
    let overshoot = (started.elapsed() / rounds).saturating_sub(tick);
    let goose_throttle = compensated(target, overshoot);
    Pacing {
        asked,
        target,
        goose_throttle: cap_total.map_or(goose_throttle, |c| goose_throttle.min(c)),
        tick_overshoot: overshoot,
    }
}

/// The arrival rate of a run, asked and achieved.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ArrivalSummary {
    /// Requests/s the scenario asked for, all operations together.
    pub asked_rps: u32,
    /// Requests/s the run aimed at: the asked rate, or the rate cap's total when lower.
    pub target_rps: usize,
    /// goose's `--throttle-requests`: the target corrected for goose's late ticks.
    pub goose_throttle_rps: usize,
    /// How late goose's throttle tick woke on this machine, measured before the run.
    pub tick_overshoot_ms: f64,
    /// Seconds of the timeline the achieved rate is measured over, `[from, to)`.
    pub window_secs: [u64; 2],
    /// Requests/s achieved in the window, all operations together.
    pub achieved_rps: f64,
    /// Achieved as a percentage of the target: what `arrival-rate` judges.
    pub achieved_percent: f64,
    /// Per operation of the mix: its share of the target, and what it got.
    pub operations: Vec<ArrivalByOperation>,
    /// Why fewer requests were sent than asked; empty when none were missing.
    pub shortfall: Vec<Shortfall>,
}

/// One operation's share of the rate.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ArrivalByOperation {
    pub operation: &'static str,
    pub target_rps: f64,
    pub achieved_rps: f64,
    pub achieved_percent: f64,
}

/// One reason the run sent fewer requests than asked.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Shortfall {
    pub cause: ShortfallCause,
    /// Requests/s missing for this reason.
    pub missing_rps: f64,
    /// The reason in a sentence, with the figures and what to change.
    pub detail: String,
}

/// Where a shortfall came from.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ShortfallCause {
    /// The per-operation rate cap is below the asked rate.
    RateCap,
    /// The users could not send the target rate at the latency and think time measured.
    TooFewUsers,
}

impl ShortfallCause {
    /// The cause in a few words, for a rule's observed value.
    pub fn words(self) -> &'static str {
        match self {
            ShortfallCause::RateCap => "the rate cap lowered the throttle",
            ShortfallCause::TooFewUsers => "too few users",
        }
    }
}

/// What the arrival summary needs from the run.
#[derive(Debug, Clone, Copy)]
pub struct Observed<'a> {
    pub timeline: &'a TimelineSummary,
    /// All operations together, for the mean latency.
    pub total: &'a OperationStats,
    /// The throttle the run gave goose for its arrival rate; `None` without one.
    pub pacing: Option<Pacing>,
    /// The per-operation cap, when there was one.
    pub per_op_cap: Option<u32>,
}

/// The arrival summary of a run with an arrival rate; `None` without one.
pub fn summary(plan: &LoadPlan, seen: Observed<'_>) -> Option<ArrivalSummary> {
    let pacing = seen.pacing?;
    let target = pacing.target.max(1);
    let window = window(plan, seen.timeline);
    let secs = (window[1] - window[0]).max(1) as f64;
    let in_window = |op: Option<&str>| -> f64 {
        let requests: u64 = seen
            .timeline
            .points
            .iter()
            .filter(|p| (window[0]..window[1]).contains(&p.t_secs))
            .filter(|p| op.is_none_or(|o| p.operation == o))
            .map(|p| p.requests)
            .sum();
        requests as f64 / secs
    };
    let achieved = in_window(None);
    let operations = Operation::ALL
        .iter()
        .filter(|op| plan.mix.weight(**op) > 0)
        .map(|op| {
            let target = target as f64 * plan.mix.share(*op);
            let got = in_window(Some(op.label()));
            ArrivalByOperation {
                operation: op.label(),
                target_rps: target,
                achieved_rps: got,
                achieved_percent: percent(got, target),
            }
        })
        .collect();
    Some(ArrivalSummary {
        asked_rps: pacing.asked,
        target_rps: target,
        goose_throttle_rps: pacing.goose_throttle,
        tick_overshoot_ms: pacing.tick_overshoot.as_secs_f64() * 1000.0,
        window_secs: window,
        achieved_rps: achieved,
        achieved_percent: percent(achieved, target as f64),
        operations,
        shortfall: shortfall(plan, &seen, pacing, achieved),
    })
}

fn percent(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        part / whole * 100.0
    } else {
        0.0
    }
}

/// The held window, in whole seconds of the timeline.
fn window(plan: &LoadPlan, timeline: &TimelineSummary) -> [u64; 2] {
    let step = timeline.step_secs.max(1);
    // The last point is a partial step: the run ended inside it.
    let recorded_end = timeline.points.iter().map(|p| p.t_secs).max().unwrap_or(0);
    let end = plan
        .shape
        .planned()
        .map_or(recorded_end, |d| d.as_secs().min(recorded_end));
    let start = plan.shape.start_up().as_secs_f64().ceil().max(1.0) as u64;
    let start = start.div_ceil(step) * step;
    if start < end {
        [start, end]
    } else {
        // Too short to have a held part: everything but the partial last step.
        [0, recorded_end.max(step)]
    }
}

/// The reasons for a shortfall: the cap (before the run) and too few users (during it).
fn shortfall(
    plan: &LoadPlan,
    seen: &Observed<'_>,
    pacing: Pacing,
    achieved: f64,
) -> Vec<Shortfall> {
    let mut out = Vec::new();
    let Pacing { asked, target, .. } = pacing;
    let throttle = target as f64;
    if throttle < f64::from(asked) {
        let cap = seen.per_op_cap.unwrap_or_default();
        out.push(Shortfall {
            cause: ShortfallCause::RateCap,
            missing_rps: f64::from(asked) - throttle,
            detail: format!(
                "the rate cap of {cap} requests/s per operation lowered the target from {asked}/s \
                 to {target}/s for this mix (lift it with --max-rps)"
            ),
        });
    }
    if achieved < throttle * SHORTFALL_BELOW {
        let users = plan.shape.peak_users();
        let think = (plan.think_time.min + plan.think_time.max).as_secs_f64() / 2.0;
        let per_request = seen.total.latency_ms.avg / 1000.0 + think;
        let reach = if per_request > 0.0 {
            format!(
                "{users} users at {:.1}ms a request{} can send about {:.0}/s",
                seen.total.latency_ms.avg,
                if think > 0.0 {
                    format!(" plus {:.0}ms think time", think * 1000.0)
                } else {
                    String::new()
                },
                users as f64 / per_request
            )
        } else {
            format!("{users} users could not keep up")
        };
        let needed = (throttle * per_request * 1.2)
            .ceil()
            .max(users as f64 + 1.0);
        out.push(Shortfall {
            cause: ShortfallCause::TooFewUsers,
            missing_rps: throttle - achieved,
            detail: format!(
                "too few users: {achieved:.1}/s achieved of {target}/s; {reach} (k6 calls the \
                 missing requests dropped iterations); give about {needed:.0} users"
            ),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::scenario::Scenario;
    use crate::load::timeline::TimelinePoint;
    use std::path::Path;

    fn plan(toml: &str) -> LoadPlan {
        Scenario::from_toml(toml, Path::new("x.toml"))
            .unwrap()
            .resolve()
            .unwrap()
    }

    fn timeline(per_second: &[u64]) -> TimelineSummary {
        TimelineSummary {
            step_secs: 1,
            points: per_second
                .iter()
                .enumerate()
                .map(|(t, n)| TimelinePoint {
                    t_secs: t as u64,
                    operation: "GET registration",
                    requests: *n,
                    ..TimelinePoint::default()
                })
                .collect(),
            histogram: Vec::new(),
            elapsed_secs: 0.0,
        }
    }

    fn pacing(asked: u32, target: usize) -> Pacing {
        Pacing {
            asked,
            target,
            goose_throttle: target,
            tick_overshoot: Duration::ZERO,
        }
    }

    #[test]
    fn goose_is_asked_for_more_when_its_ticks_wake_late() {
        assert_eq!(goose_tick(100), (1, Duration::from_millis(10)));
        assert_eq!(goose_tick(250), (2, Duration::from_millis(8)));
        assert_eq!(goose_tick(50), (1, Duration::from_millis(20)));
        // A 10 ms tick that takes 11.3 ms sends 88/s; 114/s (8.77 ms) sends 100/s.
        assert!((goose_sends(100, Duration::from_micros(1300)) - 88.5).abs() < 0.1);
        let t = compensated(100, Duration::from_micros(1300));
        assert!(goose_sends(t, Duration::from_micros(1300)) >= 100.0);
        assert!(goose_sends(t - 1, Duration::from_micros(1300)) < 100.0);
        assert_eq!(compensated(100, Duration::ZERO), 100);
    }

    #[tokio::test]
    async fn a_cap_below_the_rate_is_the_throttle_uncorrected() {
        let p = calibrate(200, Some(50)).await;
        assert_eq!((p.target, p.goose_throttle), (50, 50));
        let p = calibrate(40, Some(50)).await;
        assert_eq!(p.target, 40);
        assert!((40..=50).contains(&p.goose_throttle), "{p:?}");
    }

    fn total(avg_ms: f64) -> OperationStats {
        let mut t = OperationStats::default();
        t.latency_ms.avg = avg_ms;
        t
    }

    #[test]
    fn the_held_window_skips_the_start_up_and_the_partial_end() {
        let p = plan("users = 4\nrun_time = \"5s\"\narrival_rate = 40\n");
        // Second 0 is the start-up, second 5 the tail after the planned end.
        let t = timeline(&[7, 40, 40, 39, 41, 3]);
        let s = summary(
            &p,
            Observed {
                timeline: &t,
                total: &total(5.0),
                pacing: Some(pacing(40, 40)),
                per_op_cap: None,
            },
        )
        .unwrap();
        assert_eq!(s.window_secs, [1, 5]);
        assert!((s.achieved_rps - 40.0).abs() < 1e-9, "{}", s.achieved_rps);
        assert!(s.shortfall.is_empty(), "{:?}", s.shortfall);
    }

    #[test]
    fn a_cap_and_too_few_users_are_told_apart() {
        let p = plan("users = 2\nrun_time = \"4s\"\narrival_rate = 100\n");
        let t = timeline(&[5, 20, 20, 20, 20]);
        let s = summary(
            &p,
            Observed {
                timeline: &t,
                total: &total(100.0),
                pacing: Some(pacing(100, 50)),
                per_op_cap: Some(50),
            },
        )
        .unwrap();
        let causes: Vec<_> = s.shortfall.iter().map(|f| f.cause).collect();
        assert_eq!(
            causes,
            [ShortfallCause::RateCap, ShortfallCause::TooFewUsers]
        );
        assert!(
            s.shortfall[0]
                .detail
                .contains("50 requests/s per operation")
        );
        assert!(
            s.shortfall[1]
                .detail
                .contains("2 users at 100.0ms a request can send about 20/s"),
            "{}",
            s.shortfall[1].detail
        );
        assert!((s.achieved_percent - 40.0).abs() < 1e-9);
    }

    #[test]
    fn rates_per_operation_split_the_target() {
        let p = plan("run_time = \"3s\"\n[arrival_rate]\nget = 30\npatch = 10\n");
        assert_eq!(p.arrival_rate, Some(40));
        assert_eq!((p.mix.get, p.mix.patch), (30, 10));
        let t = timeline(&[0, 30, 30, 0]);
        let s = summary(
            &p,
            Observed {
                timeline: &t,
                total: &total(1.0),
                pacing: Some(pacing(40, 40)),
                per_op_cap: None,
            },
        )
        .unwrap();
        let get = &s.operations[0];
        assert_eq!((get.operation, get.target_rps), ("GET registration", 30.0));
        assert!((get.achieved_percent - 100.0).abs() < 1e-9);
        assert_eq!(s.operations[1].achieved_rps, 0.0);
    }
}
