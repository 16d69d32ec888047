//! Fault injection at run time: latency and jitter, error rate, per-operation rate limit,
//! scheduled stall, dropped writes and broken responses.
//!
//! Draws come from a lock-free counter hashed with SplitMix64, so they are cheap, thread-safe
//! and reproducible in distribution for a seed. When no fault is configured every check is a
//! single branch. This module must not build responses: it only answers "should this request
//! fail, wait, or lose its write".

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::config::Faults;
use crate::api::{Operation, PerOp};
use crate::seeded::{GOLDEN, mix, unit};

/// The runtime side of [`Faults`].
#[derive(Debug)]
pub(crate) struct FaultInjector {
    faults: Faults,
    off: bool,
    started: Instant,
    draws: AtomicU64,
    /// Per operation: (second since start, requests counted in it).
    windows: PerOp<Mutex<(u64, u32)>>,
}

impl FaultInjector {
    pub fn new(faults: Faults, seed: u64, started: Instant) -> FaultInjector {
        FaultInjector {
            off: faults.is_off(),
            faults,
            started,
            draws: AtomicU64::new(mix(seed ^ 0xFA17)),
            windows: Default::default(),
        }
    }

    fn draw(&self) -> f64 {
        let n = self.draws.fetch_add(GOLDEN, Ordering::Relaxed);
        unit(mix(n))
    }

    fn happens(&self, rate: f64) -> bool {
        !self.off && rate > 0.0 && self.draw() < rate
    }

    /// True when `op` is over its per-second budget.
    pub fn rate_limited(&self, op: Operation) -> bool {
        self.rate_limited_at(op, self.started.elapsed().as_secs())
    }

    /// [`Self::rate_limited`] in the `second`-th second since start.
    fn rate_limited_at(&self, op: Operation, second: u64) -> bool {
        let Some(limit) = self.faults.rate_limit.filter(|_| !self.off) else {
            return false;
        };
        let mut window = self.windows[op]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if window.0 != second {
            *window = (second, 0);
        }
        window.1 = window.1.saturating_add(1);
        window.1 > limit
    }

    /// True when this request should be answered 500 GENERAL_ERROR.
    pub fn injected_error(&self) -> bool {
        self.happens(self.faults.error_rate)
    }

    /// True when this write should be acknowledged but not stored.
    pub fn drop_write(&self) -> bool {
        self.happens(self.faults.drop_writes)
    }

    /// True when this response should lose its `applicationId`.
    pub fn break_response(&self) -> bool {
        self.happens(self.faults.break_responses)
    }

    /// Waits as the faults say before a response goes out: latency plus jitter, then, inside a
    /// stall window, until the window ends.
    pub async fn delay(&self) {
        if self.off {
            return;
        }
        let mut wait = self.faults.latency;
        if !self.faults.jitter.is_zero() {
            wait += self.faults.jitter.mul_f64(self.draw());
        }
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        if let Some(stall) = self.faults.stall {
            let now = self.started.elapsed();
            if now >= stall.from && now < stall.until {
                tokio::time::sleep(stall.until.saturating_sub(now)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_means_nothing_happens() {
        let f = FaultInjector::new(Faults::default(), 1, Instant::now());
        assert!(!f.injected_error() && !f.drop_write() && !f.rate_limited(Operation::Get));
    }

    #[test]
    fn rates_and_limits_apply() {
        let faults = Faults {
            error_rate: 0.5,
            rate_limit: Some(3),
            ..Faults::default()
        };
        let f = FaultInjector::new(faults, 1, Instant::now());
        let errors = (0..10_000).filter(|_| f.injected_error()).count();
        assert!((4_000..6_000).contains(&errors), "{errors}");
        // Ten calls in one second with a budget of 3: exactly the last 7 are limited.
        let limited: Vec<bool> = (0..10)
            .map(|_| f.rate_limited_at(Operation::Patch, 0))
            .collect();
        assert_eq!(limited, [[false; 3].as_slice(), &[true; 7]].concat());
        // The budget is per operation and per second.
        assert!(!f.rate_limited_at(Operation::Get, 0));
        assert_eq!(
            (0..5)
                .filter(|_| f.rate_limited_at(Operation::Patch, 1))
                .count(),
            2
        );
    }
}
