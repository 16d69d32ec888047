//! The arrival schedule of a paced run (an arrival rate, a throttle or a rate cap: the open
//! model), and how late each request was against it.
//!
//! A paced run sends one request per slot: slot `k` is due at `k / rate` after the load began,
//! at the rate the run holds (constant over stages: the users change, the rate does not). Each
//! request claims the next slot *before* it waits for goose's throttle, and its latency from due
//! is its measured time plus how long its slot waited for a user. goose's throttle paces the
//! sends; the schedule only measures:
//!
//! - **On time**: when a user is ready before the next slot, or another user already waits at
//!   the throttle (the pacer holds the requests, none is omitted), the request's slot is when the
//!   pacer lets it through: it is not late, and its latency from due is its measured time. A
//!   throttle that ticks a little slower or faster than the schedule never shows as latency: each
//!   request that passes the throttle pulls the next slot to at least one interval after it.
//! - **Late**: when slots went by while no user was ready (every user was waiting on the
//!   server), the first user ready again takes the oldest of them: its latency from due counts
//!   the wait. The other missed slots are not sent late in a burst (a rate stays a ceiling); each
//!   is counted in the latency from due as the request that would have waited for the server
//!   (what k6 drops and wrk2 sends late), never as a request.
//! - **Whose wait**: only the time the ready user itself spent in its previous request counts (a
//!   user just started by the ramp, or back from think time, blames no server), so a ramp, a
//!   stage down to few users or a think time does not look like a stall.
//!
//! Times are microseconds since the load began. Pure: the caller passes the clock.

use std::sync::{Mutex, MutexGuard};

/// A missed backlog longer than this is counted as this many slots (a stall of minutes at
/// tens of thousands a second).
const MAX_MISSED: u64 = 10_000_000;

/// The schedule of a paced run.
#[derive(Debug)]
pub struct Schedule {
    /// Microseconds between slots.
    interval_us: u64,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// When the next slot is due.
    next_us: u64,
    /// Requests that claimed a slot and wait for the throttle.
    waiting: usize,
}

/// A user's previous request: when it was sent and when it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy {
    pub from_us: u64,
    pub until_us: u64,
}

/// The slot a request claimed: how late it was, and the slots missed before it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Claim {
    /// How long the request's slot waited for a user (0: on time).
    pub late_us: u64,
    /// The missed slots besides the request's own: the first's due time, how many, the interval
    /// between them and the user's previous request, which bounds how late each one counts.
    pub missed: Option<Missed>,
}

/// Slots that went by with no user ready, beside the one the late request took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Missed {
    pub first_due_us: u64,
    pub count: u64,
    pub interval_us: u64,
    pub busy: Busy,
}

impl Missed {
    /// How late each missed slot was by the time its user was free again (those not late are
    /// left out), with the number of slots of that lateness: at most `count` entries.
    pub fn lateness(&self) -> impl Iterator<Item = u64> + '_ {
        (0..self.count).filter_map(move |i| {
            let due = self.first_due_us + i * self.interval_us;
            let late = self
                .busy
                .until_us
                .saturating_sub(due.max(self.busy.from_us));
            (late > 0).then_some(late)
        })
    }
}

impl Schedule {
    /// A schedule of `rate` requests per second; `None` for a rate of 0.
    pub fn new(rate: f64) -> Option<Schedule> {
        (rate > 0.0).then(|| Schedule {
            interval_us: ((1_000_000.0 / rate).round() as u64).max(1),
            state: Mutex::default(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A request is ready at `now_us`; `busy` is its user's previous request, if it had one.
    /// The request then waits for the throttle: [`Schedule::passed`] when it got through,
    /// [`Schedule::left`] when it did not.
    pub fn claim(&self, now_us: u64, busy: Option<Busy>) -> Claim {
        let mut s = self.lock();
        let waiting = s.waiting;
        s.waiting += 1;
        if waiting > 0 || s.next_us >= now_us {
            s.next_us = s.next_us.max(now_us) + self.interval_us;
            return Claim::default();
        }
        // Slots went by with no user ready: this request takes the oldest.
        let behind = now_us - s.next_us;
        let due_before_now = behind.div_ceil(self.interval_us);
        let slots = due_before_now.min(MAX_MISSED);
        let oldest = s.next_us;
        s.next_us += due_before_now * self.interval_us;
        let Some(busy) = busy else {
            return Claim::default();
        };
        let late_us = busy.until_us.saturating_sub(oldest.max(busy.from_us));
        Claim {
            late_us,
            missed: (slots > 1).then_some(Missed {
                first_due_us: oldest + self.interval_us,
                count: slots - 1,
                interval_us: self.interval_us,
                busy,
            }),
        }
    }

    /// The request that claimed a slot got through the throttle at `now_us`.
    pub fn passed(&self, now_us: u64) {
        let mut s = self.lock();
        s.waiting = s.waiting.saturating_sub(1);
        s.next_us = s.next_us.max(now_us + self.interval_us);
    }

    /// The request that claimed a slot never got through the throttle (the run ended).
    pub fn left(&self) {
        let mut s = self.lock();
        s.waiting = s.waiting.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1000;

    fn busy(from_ms: u64, until_ms: u64) -> Option<Busy> {
        Some(Busy {
            from_us: from_ms * MS,
            until_us: until_ms * MS,
        })
    }

    /// One user at 100/s on a 5 ms server, behind a throttle that ticks 10–11.3 ms.
    #[test]
    fn a_healthy_server_is_never_late_whatever_the_throttle_does() {
        let s = Schedule::new(100.0).unwrap();
        let (mut claimed, mut previous) = (0, None);
        let mut tick = 0;
        for i in 0..1000u64 {
            assert_eq!(s.claim(claimed, previous), Claim::default(), "request {i}");
            // The throttle's next tick lets it through; the answer takes 5 ms.
            tick += 10 * MS + (i % 4) * 433;
            s.passed(tick);
            previous = Some(Busy {
                from_us: tick,
                until_us: tick + 5 * MS,
            });
            claimed = tick + 5 * MS;
        }
    }

    /// Eight users queue at the throttle: no request is ever late, whatever its pace.
    #[test]
    fn users_queued_at_the_throttle_are_on_time() {
        let s = Schedule::new(100.0).unwrap();
        for u in 0..8 {
            assert_eq!(s.claim(u, None), Claim::default());
        }
        // The throttle lets one through every 12 ms (slower than the schedule); each comes
        // back 5 ms later and queues again.
        for k in 0..2000u64 {
            let t = k * 12 * MS;
            s.passed(t);
            assert_eq!(
                s.claim(t + 5 * MS, busy(t / MS, t / MS + 5)),
                Claim::default()
            );
        }
    }

    /// A 1 s stall at 100/s with two users: the first user free again takes the oldest slot,
    /// and the slots nobody could send are each as late as they waited.
    #[test]
    fn a_stall_is_late_by_what_each_slot_waited() {
        let s = Schedule::new(100.0).unwrap();
        assert_eq!(s.claim(0, None), Claim::default());
        s.passed(0);
        assert_eq!(s.claim(0, None), Claim::default());
        s.passed(10 * MS);
        // Both requests are held until 1010 ms.
        let c = s.claim(1010 * MS, busy(0, 1010));
        assert_eq!(c.late_us, 990 * MS, "slot 20 ms waited until 1010 ms");
        let missed = c.missed.unwrap();
        let late: Vec<u64> = missed.lateness().collect();
        // Slots 30 ms … 1000 ms.
        assert_eq!(late.len(), 98);
        assert_eq!(late[0], 980 * MS);
        assert_eq!(*late.last().unwrap(), 10 * MS);
        s.passed(1010 * MS);
        // The second user, free at the same time, finds the schedule caught up.
        assert_eq!(s.claim(1011 * MS, busy(10, 1011)), Claim::default());
    }

    /// A user that was not in a request (just started, or back from think time) is not late,
    /// though slots went by.
    #[test]
    fn only_a_users_own_wait_on_the_server_counts() {
        let s = Schedule::new(100.0).unwrap();
        assert_eq!(s.claim(0, None), Claim::default());
        s.passed(0);
        // Nobody sent anything for 2 s: a new user blames nobody.
        assert_eq!(s.claim(2000 * MS, None), Claim::default());
        s.passed(2000 * MS);
        // A user back from a 500 ms think time after a 5 ms request: only slots due during
        // its request could have been late, and none was.
        let c = s.claim(2600 * MS, busy(2000, 2005));
        assert_eq!(c.late_us, 0);
        assert_eq!(c.missed.map_or(0, |m| m.lateness().count()), 0);
    }
}
