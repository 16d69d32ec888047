//! A load run's words and columns that the terminal report (`load`) and `pushcheck.html`
//! (`html`) both show, spelled once. Its own file so that those two never import each other.

use crate::load::arrival::ArrivalSummary;
use crate::load::result::ScenarioSummary;

/// The columns of the per-operation table, in the terminal and the HTML report.
pub(super) const OPERATION_COLUMNS: [&str; 9] = [
    "operation",
    "requests",
    "req/s",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "max ms",
    "failed",
    "violations",
];

/// The users over time in words: `8 users, 10s` or `stages: 4 users over 2s, then …`
/// (terminal and HTML).
pub(super) fn users_over_time(s: &ScenarioSummary) -> String {
    match s.stages {
        Some(_) => format!("stages: {}", s.length),
        None => format!("{} users, {}", s.users, s.length),
    }
}

/// The arrival rate in a sentence: asked, target, goose's throttle, achieved (terminal and HTML).
pub(super) fn arrival_headline(a: &ArrivalSummary) -> String {
    format!(
        "asked {}/s, target {}/s (goose throttle {}/s, its tick woke {:.1}ms late), achieved \
         {:.1}/s ({:.1}%) in seconds {}–{}",
        a.asked_rps,
        a.target_rps,
        a.goose_throttle_rps,
        a.tick_overshoot_ms,
        a.achieved_rps,
        a.achieved_percent,
        a.window_secs[0],
        a.window_secs[1]
    )
}
