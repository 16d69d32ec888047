//! The operation mix as users send it, and as the run sent it.
//!
//! goose runs a user's transactions in one fixed order its weights expand into, so a user that
//! sends only a few requests (under a rate cap, in a short run) sends the first operations of
//! that order far more often than their weights say: `read-heavy` (95/3/1/1) went out as
//! 80/12/4/4 under a 52/s cap, and 37/27/18/18 with fewer requests per user. pushcheck gives
//! goose one transaction instead ([`super::transactions::mix_transaction`]): each call sends the
//! user's next operation of [`Sequence`], one period of a smooth weighted round-robin (nginx's
//! algorithm), so every stretch of a user's requests is within about a request of the weights.
//! Each user starts at its own phase of the period ([`Sequence::phase`]: a stride near the golden
//! ratio, coprime with the period), so the users together are smooth as well, however many there
//! are, however many have started, and however few requests each sends.
//!
//! A write needs a registration of the user's own (one writer per registration, see
//! [`super::feed`]); a user without one sends a GET instead. [`Mixer`] counts those picks, so
//! [`MixShares`] (asked and sent shares per operation, in every report) can say why sent shares
//! drifted. The always-on rule `mix-drift` judges them (see [`DRIFT_LIMIT_POINTS`]).
//!
//! Pure bookkeeping: nothing here sends or prints.

use std::sync::{Mutex, MutexGuard};

use serde::Serialize;

use crate::api::{Operation, PerOp};
use crate::load::tally::Collected;
use crate::load::values::Mix;

/// `mix-drift`'s limit: an operation's share of the requests sent may be at most this many
/// percentage points away from its share of the weights.
///
/// Why 3: a run that sends its mix stays inside it with room to spare, and the bending this
/// rule exists for is far outside it (80/12/4/4 for 95/3/1/1 is 15 points). The unit tests below
/// measure the sequences over mixes, user counts and lengths of at least 200 requests: at most
/// about 0.8 points when the users send as many requests each, about 2.2 in the worst case found
/// when the counts fall steeply from the first user to the last (a ramp, at 200 requests). On
/// top of that a real run ends each user somewhere in its sequence, which the same bound covers.
/// Points, not a share of the share, so a 1% operation is not judged on a request or two.
pub const DRIFT_LIMIT_POINTS: f64 = 3.0;

/// `mix-drift` judges a run that sent at least this many requests: at 200, one request is half a
/// point, so the limit is six requests of slack for any operation.
pub const JUDGED_FROM_REQUESTS: u64 = 200;

/// At most this many requests in one goose iteration (one pass through the mix): the weights'
/// sum after dividing them by their greatest common divisor, capped so that goose's per-user
/// list of transactions stays small whatever the weights (goose expands a weight into that many
/// entries, per user).
pub const MAX_PASS: u64 = 1000;

/// At most this many steps in one period of [`Sequence`]: larger weights are scaled down to it
/// (every weight above 0 keeps at least 1), which moves a share by at most a few thousandths of
/// a point.
pub const MAX_PERIOD: u64 = 1 << 16;

/// The golden ratio's fractional part: users step through the period by about this share of it.
const PHI: f64 = 0.618_033_988_749_894_9;

/// The mix's weights divided by their greatest common divisor (and scaled down to
/// [`MAX_PERIOD`] when their sum is larger), and their sum: one period of a user's sequence.
/// Every sum is a `u64`: four `u32` weights cannot overflow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Weights {
    reduced: PerOp<u64>,
    period: u64,
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

impl Weights {
    /// `mix`'s weights, reduced.
    pub fn of(mix: &Mix) -> Weights {
        Weights::reduce(PerOp::from_fn(|op| u64::from(mix.weight(op))))
    }

    fn reduce(raw: PerOp<u64>) -> Weights {
        let divided = |raw: PerOp<u64>| {
            let divisor = raw.values().fold(0, |g, w| gcd(g, *w)).max(1);
            raw.map(|w| w / divisor)
        };
        let mut reduced = divided(raw);
        let period: u64 = reduced.values().sum();
        if period > MAX_PERIOD {
            // Rounding adds at most 1 per operation: the sum stays within MAX_PERIOD.
            let scale = (MAX_PERIOD - 4) as f64 / period as f64;
            reduced = divided(reduced.map(|w| match w {
                0 => 0,
                w => ((w as f64 * scale).round() as u64).max(1),
            }));
        }
        Weights {
            reduced,
            period: reduced.values().sum(),
        }
    }

    /// The length of one period of a user's sequence (0 for an empty mix).
    pub fn period(&self) -> u64 {
        self.period
    }

    /// Requests in one goose iteration: the period, at most [`MAX_PASS`], at least 1.
    pub fn pass(&self) -> usize {
        self.period.clamp(1, MAX_PASS) as usize
    }
}

/// One period of nginx's smooth weighted round-robin over the weights: every step adds each
/// weight to its operation's credit, picks the operation with the most credit (the first one on
/// a tie) and takes the period off it. Each operation comes exactly its weight's number of times
/// per period, spread as evenly as the algorithm can: any stretch of the (cyclic) period is
/// within about a request of the weights. Users read it from their own phase, round and round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sequence {
    /// The operation of each step.
    steps: Box<[Operation]>,
    /// How far apart consecutive users start: near `φ × period`, coprime with the period, so
    /// the first users are spread over it and every `period` users start once at every step.
    stride: u64,
}

impl Sequence {
    /// The period of `weights`.
    pub fn of(weights: &Weights) -> Sequence {
        let period = weights.period;
        let mut credit: PerOp<i64> = PerOp::default();
        let steps = (0..period)
            .map(|_| {
                let mut best: Option<Operation> = None;
                for (op, w) in &weights.reduced {
                    if *w == 0 {
                        continue;
                    }
                    // Weights and credits stay within one period (≤ MAX_PERIOD) of 0.
                    credit[op] += *w as i64;
                    if best.is_none_or(|b| credit[op] > credit[b]) {
                        best = Some(op);
                    }
                }
                let best = best.unwrap_or(Operation::Get);
                credit[best] -= period as i64;
                best
            })
            .collect();
        Sequence {
            steps,
            stride: coprime_stride(period),
        }
    }

    /// Where user `user` (goose's `weighted_users_index`) starts: `user × stride`, modulo the
    /// period.
    pub fn phase(&self, user: usize) -> u64 {
        match self.steps.len() as u64 {
            0 => 0,
            period => (user as u64 % period) * self.stride % period,
        }
    }

    /// The operation at step `at` (modulo the period); GET for an empty mix.
    pub fn at(&self, at: u64) -> Operation {
        match self.steps.len() as u64 {
            0 => Operation::Get,
            period => self.steps[(at % period) as usize],
        }
    }
}

/// The stride nearest `φ × period` that is coprime with the period (1 for a period of 1 or 0).
fn coprime_stride(period: u64) -> u64 {
    if period < 2 {
        return 1;
    }
    let near = ((period as f64 * PHI).round() as u64).clamp(1, period - 1);
    (0..period)
        .flat_map(|d| [near + d, near.saturating_sub(d)])
        .find(|s| (1..period).contains(s) && gcd(*s, period) == 1)
        .unwrap_or(1)
}

/// One pick of a user's mix: the operation its sequence asked for, and the one it sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pick {
    pub asked: Operation,
    /// `asked`, or GET when the user has no registration of its own to write (or none it may
    /// personalize).
    pub send: Operation,
}

/// One user's place in the sequence and what it could not send as asked.
#[derive(Debug, Default)]
struct UserMix {
    /// The next step of [`Sequence`] this user sends; its phase before its first.
    next: Option<u64>,
    /// Per operation, whether this user can send it (a write needs a registration of its own).
    sendable: Option<PerOp<bool>>,
    /// Per operation, picks sent as a GET instead.
    sent_as_get: PerOp<u64>,
}

/// One user's slot, padded to its own cache lines.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Slot(Mutex<UserMix>);

/// Every user's sequence of one run.
#[derive(Debug)]
pub struct Mixer {
    weights: Weights,
    sequence: Sequence,
    slots: Box<[Slot]>,
}

/// What the users' sequences asked for and could not send, summed after the run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Picked {
    /// Per operation, picks sent as a GET instead.
    pub sent_as_get: PerOp<u64>,
    /// Users that sent a GET for at least one of their writes.
    pub users_without_writes: usize,
}

impl Mixer {
    /// Sequences of `mix` for `users` users (goose's `weighted_users_index`, modulo).
    pub fn new(mix: &Mix, users: usize) -> Mixer {
        let weights = Weights::of(mix);
        Mixer {
            weights,
            sequence: Sequence::of(&weights),
            slots: (0..users.max(1)).map(|_| Slot::default()).collect(),
        }
    }

    /// The weights, reduced.
    pub fn weights(&self) -> &Weights {
        &self.weights
    }

    fn slot(&self, user: usize) -> MutexGuard<'_, UserMix> {
        self.slots[user % self.slots.len()]
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Puts `user` at its phase of the sequence ([`Sequence::phase`]); its first pick does it
    /// otherwise.
    pub fn start(&self, user: usize) {
        self.slot(user).next = Some(self.sequence.phase(user));
    }

    /// `user`'s next pick; `sendable` says, once per user, which operations it can send.
    pub fn next(&self, user: usize, sendable: impl FnOnce() -> PerOp<bool>) -> Pick {
        let mut slot = self.slot(user);
        let at = slot.next.unwrap_or_else(|| self.sequence.phase(user));
        slot.next = Some(at.wrapping_add(1));
        let asked = self.sequence.at(at);
        let can = *slot.sendable.get_or_insert_with(sendable);
        if can[asked] {
            return Pick { asked, send: asked };
        }
        slot.sent_as_get[asked] += 1;
        Pick {
            asked,
            send: Operation::Get,
        }
    }

    /// Every user's counts, summed.
    pub fn collect(&self) -> Picked {
        let mut out = Picked::default();
        for slot in self.slots.iter() {
            let data = slot.0.lock().unwrap_or_else(|p| p.into_inner());
            for (sum, n) in out.sent_as_get.values_mut().zip(data.sent_as_get.values()) {
                *sum += n;
            }
            out.users_without_writes += usize::from(data.sent_as_get.values().any(|n| *n > 0));
        }
        out
    }
}

/// The requests of each operation that went out, answered or not.
pub fn sent(collected: &Collected) -> PerOp<u64> {
    collected
        .tallies
        .each_ref()
        .map(|t| t.answered + t.transport_errors.values().sum::<u64>())
}

/// The mix asked and the mix sent, per operation: in every report, judged by `mix-drift`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MixShares {
    /// Requests sent, all operations (answered or not).
    pub requests: u64,
    /// `mix-drift` judges a run from this many requests on.
    pub judged_from_requests: u64,
    /// Each operation the mix asks for or the run sent, in the API's order.
    pub operations: Vec<OperationShare>,
    /// Users that sent a GET for a write of their mix: they had no registration of their own
    /// to write (more users than registrations), or none they may personalize.
    pub users_without_writes: usize,
}

/// One operation's share of the weights and of the requests sent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OperationShare {
    pub operation: String,
    pub weight: u32,
    /// Its weight's share of all weights, percent.
    pub asked_percent: f64,
    /// Requests of this operation that went out.
    pub sent: u64,
    /// Their share of all requests sent, percent (0 when nothing was sent).
    pub sent_percent: f64,
    /// `sent_percent − asked_percent`, percentage points.
    pub drift_points: f64,
    /// Picks of this operation sent as GET registration instead (a write without a registration
    /// of the user's own); they count in GET's `sent`.
    pub sent_as_get: u64,
}

/// Two decimals: the shares as the reports show them (and no `-0`).
fn round2(v: f64) -> f64 {
    let r = (v * 100.0).round() / 100.0;
    if r == 0.0 { 0.0 } else { r }
}

/// `+1.2`, `-0.4`, `0.0`: a drift with one decimal, no `-0.0` (every report shows it so).
pub fn points(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r == 0.0 {
        "0.0".to_owned()
    } else {
        format!("{r:+.1}")
    }
}

impl MixShares {
    /// `mix` against `sent` requests per operation and what the users could not send as asked.
    pub fn of(mix: &Mix, sent: PerOp<u64>, picked: &Picked) -> MixShares {
        let requests: u64 = sent.values().sum();
        let operations = Operation::ALL
            .iter()
            .filter(|op| mix.weight(**op) > 0 || sent[**op] > 0)
            .map(|op| {
                let asked = mix.share(*op) * 100.0;
                let n = sent[*op];
                let got = if requests == 0 {
                    0.0
                } else {
                    n as f64 * 100.0 / requests as f64
                };
                OperationShare {
                    operation: op.label().to_owned(),
                    weight: mix.weight(*op),
                    asked_percent: round2(asked),
                    sent: n,
                    sent_percent: round2(got),
                    drift_points: round2(got - asked),
                    sent_as_get: picked.sent_as_get[*op],
                }
            })
            .collect();
        MixShares {
            requests,
            judged_from_requests: JUDGED_FROM_REQUESTS,
            operations,
            users_without_writes: picked.users_without_writes,
        }
    }

    /// Whether the run sent enough requests for `mix-drift` to judge it.
    pub fn judged(&self) -> bool {
        self.requests >= self.judged_from_requests
    }

    /// The operation that drifted most (of `request` only, when given).
    pub fn largest_drift(&self, request: Option<&str>) -> Option<&OperationShare> {
        self.operations
            .iter()
            .filter(|o| request.is_none_or(|r| r == o.operation))
            .max_by(|a, b| a.drift_points.abs().total_cmp(&b.drift_points.abs()))
    }

    /// Writes that went out as GETs, and why, in a sentence; `None` when every pick went out as
    /// asked.
    pub fn fallback(&self) -> Option<String> {
        let writes: u64 = self.operations.iter().map(|o| o.sent_as_get).sum();
        if writes == 0 {
            return None;
        }
        let person = self
            .operations
            .iter()
            .any(|o| o.sent_as_get > 0 && o.operation != Operation::Patch.label());
        Some(format!(
            "{writes} write(s) of the mix went out as {}: {} user(s) had no registration of their \
             own to write{} (one writer per registration; give fewer users or more registrations)",
            Operation::Get.label(),
            self.users_without_writes,
            if person {
                ", or none they may personalize"
            } else {
                ""
            },
        ))
    }

    /// A table, one line per operation after a header: weight, asked share, sent share, requests
    /// sent, drift in points, and picks sent as a GET (terminal and JUnit).
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec![format!(
            "{:<20} {:>6} {:>7} {:>7} {:>9} {:>7}",
            "operation", "weight", "asked", "sent", "requests", "points"
        )];
        lines.extend(self.operations.iter().map(|o| {
            let mut line = format!(
                "{:<20} {:>6} {:>6.1}% {:>6.1}% {:>9} {:>7}",
                o.operation,
                o.weight,
                o.asked_percent,
                o.sent_percent,
                o.sent,
                points(o.drift_points)
            );
            if o.sent_as_get > 0 {
                line.push_str(&format!(
                    "   {} asked as this, sent as {}",
                    o.sent_as_get,
                    Operation::Get.label()
                ));
            }
            line
        }));
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mix(get: u32, patch: u32, personalize: u32, depersonalize: u32) -> Mix {
        Mix {
            get,
            patch,
            personalize,
            depersonalize,
        }
    }

    const READ_HEAVY: Mix = Mix {
        get: 95,
        patch: 3,
        personalize: 1,
        depersonalize: 1,
    };

    fn mixes() -> [Mix; 9] {
        [
            READ_HEAVY,
            mix(60, 25, 10, 5),
            mix(3, 1, 0, 0),
            mix(1, 1, 1, 1),
            mix(50, 30, 15, 5),
            mix(97, 1, 1, 1),
            mix(70, 20, 7, 3),
            mix(33, 33, 33, 1),
            mix(0, 7, 2, 1),
        ]
    }

    #[test]
    fn a_period_holds_each_operation_exactly_its_weight() {
        for m in mixes() {
            let w = Weights::of(&m);
            let seq = Sequence::of(&w);
            let mut counts: PerOp<u64> = PerOp::default();
            for at in 0..w.period() {
                counts[seq.at(at)] += 1;
            }
            assert_eq!(counts, w.reduced, "{m:?}");
        }
    }

    #[test]
    fn every_stretch_of_a_users_sequence_is_within_two_requests_of_the_weights() {
        for m in mixes() {
            let w = Weights::of(&m);
            let seq = Sequence::of(&w);
            let mut worst: f64 = 0.0;
            for start in 0..w.period() {
                let mut counts: PerOp<u64> = PerOp::default();
                for n in 1..=3 * w.period() {
                    counts[seq.at(start + n - 1)] += 1;
                    for (count, weight) in counts.values().zip(w.reduced.values()) {
                        let ideal = n as f64 * *weight as f64 / w.period() as f64;
                        worst = worst.max((*count as f64 - ideal).abs());
                    }
                }
            }
            assert!(worst < 2.0, "{m:?}: {worst} requests off");
        }
    }

    /// Shares, percent, of `users` users sending `each(u)` requests from their phases.
    fn run_shares(m: &Mix, users: usize, each: impl Fn(usize) -> usize) -> (PerOp<f64>, u64) {
        let mixer = Mixer::new(m, users);
        let mut counts: PerOp<u64> = PerOp::default();
        for u in 0..users {
            mixer.start(u);
            for _ in 0..each(u) {
                counts[mixer.next(u, || PerOp::from_fn(|_| true)).send] += 1;
            }
        }
        let total: u64 = counts.values().sum();
        (counts.map(|c| c as f64 * 100.0 / total as f64), total)
    }

    fn worst_drift(m: &Mix, shares: PerOp<f64>) -> f64 {
        shares
            .iter()
            .map(|(op, share)| (share - m.share(op) * 100.0).abs())
            .fold(0.0, f64::max)
    }

    /// The figures [`DRIFT_LIMIT_POINTS`] cites: over mixes, user counts and lengths of at least
    /// 200 requests, users sending as many requests each, and users whose counts fall steeply
    /// from the first to the last (a ramp).
    #[test]
    fn users_together_send_the_mix_however_few_requests_each_sends() {
        let (mut same, mut ramp): (f64, f64) = (0.0, 0.0);
        for m in mixes() {
            for users in [1, 2, 3, 5, 8, 13, 20, 64, 100, 333, 1000] {
                for each in [1, 2, 3, 5, 7, 25, 101, 400, 1000] {
                    let (shares, total) = run_shares(&m, users, |_| each);
                    if total >= JUDGED_FROM_REQUESTS {
                        same = same.max(worst_drift(&m, shares));
                    }
                    let (shares, total) = run_shares(&m, users, |u| 1 + each * (users - u) / users);
                    if total >= JUDGED_FROM_REQUESTS {
                        ramp = ramp.max(worst_drift(&m, shares));
                    }
                }
            }
        }
        assert!(
            same < 1.0,
            "{same:.2} points with as many requests per user"
        );
        assert!(ramp < 2.5, "{ramp:.2} points in a ramp");
        assert!(ramp < DRIFT_LIMIT_POINTS);
    }

    /// goose's round-robin expansion of the weights, the same for every user: the old way.
    fn goose_order(m: &Mix) -> Vec<usize> {
        let mut left: Vec<u64> = Operation::ALL.map(|op| u64::from(m.weight(op))).to_vec();
        let mut out = Vec::new();
        while left.iter().any(|n| *n > 0) {
            for (i, n) in left.iter_mut().enumerate() {
                if *n > 0 {
                    *n -= 1;
                    out.push(i);
                }
            }
        }
        out
    }

    #[test]
    fn the_fixed_order_goose_ran_bends_the_mix_and_the_sequence_does_not() {
        // 64 users × 25 requests under a cap, each from the start of goose's order: the run
        // of issue 21 (80/12/4/4 for 95/3/1/1).
        let order = goose_order(&READ_HEAVY);
        let mut sent: PerOp<u64> = PerOp::default();
        for _ in 0..64 {
            for i in order.iter().take(25) {
                sent[Operation::ALL[*i]] += 1;
            }
        }
        let bent = MixShares::of(&READ_HEAVY, sent, &Picked::default());
        let get = &bent.operations[0];
        assert_eq!((get.sent_percent, get.drift_points), (80.0, -15.0));
        assert_eq!(
            bent.largest_drift(None).map(|o| o.drift_points),
            Some(-15.0)
        );
        let (shares, _) = run_shares(&READ_HEAVY, 64, |_| 25);
        assert!(worst_drift(&READ_HEAVY, shares) < 1.0, "{shares:?}");
    }

    #[test]
    fn huge_weights_neither_overflow_nor_blow_up_the_period() {
        let m = mix(u32::MAX, u32::MAX, u32::MAX, u32::MAX);
        let w = Weights::of(&m);
        assert_eq!((w.period(), w.pass()), (4, 4), "reduced by their divisor");
        assert_eq!(m.total(), 4 * u64::from(u32::MAX));
        let m = mix(u32::MAX, u32::MAX - 1, 1, 0);
        let w = Weights::of(&m);
        assert!(w.period() <= MAX_PERIOD, "{w:?}");
        assert_eq!(w.pass(), MAX_PASS as usize);
        assert!(
            w.reduced[Operation::Personalize] >= 1,
            "an operation with a weight keeps one"
        );
        let (shares, _) = run_shares(&m, 10, |_| 10_000);
        assert!(worst_drift(&m, shares) < 0.1, "{shares:?}");
        assert!((m.share(Operation::Get) - 0.5).abs() < 1e-9);
        assert!(m.writes() && !mix(u32::MAX, 0, 0, 0).writes());
        let writes_only = mix(0, u32::MAX, u32::MAX, u32::MAX);
        assert!(writes_only.writes() && writes_only.person_writes());
        assert!((writes_only.largest_share() - 1.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn a_write_without_a_registration_goes_out_as_a_get_and_says_why() {
        let m = mix(1, 1, 0, 0);
        let mixer = Mixer::new(&m, 4);
        let mut sent: PerOp<u64> = PerOp::default();
        for u in 0..4 {
            // Users 2 and 3 own nothing.
            let can = PerOp::from_fn(|op| op != Operation::Patch || u < 2);
            for _ in 0..100 {
                let pick = mixer.next(u, || can);
                assert!(pick.send == pick.asked || pick.send == Operation::Get);
                sent[pick.send] += 1;
            }
        }
        let picked = mixer.collect();
        assert_eq!(picked.users_without_writes, 2);
        assert_eq!(picked.sent_as_get[Operation::Patch], 100);
        let shares = MixShares::of(&m, sent, &picked);
        let get = &shares.operations[0];
        assert_eq!((get.sent_percent, get.drift_points), (75.0, 25.0));
        let why = shares.fallback().unwrap();
        assert!(
            why.starts_with("100 write(s) of the mix went out as GET registration: 2 user(s)"),
            "{why}"
        );
        assert!(
            shares.lines()[2].contains("100 asked as this, sent as GET registration"),
            "{:?}",
            shares.lines()
        );
    }

    #[test]
    fn the_first_users_are_spread_over_the_period_and_every_period_users_cover_it() {
        let seq = Sequence::of(&Weights::of(&READ_HEAVY));
        let mut first: Vec<u64> = (0..10).map(|u| seq.phase(u)).collect();
        first.sort_unstable();
        // The three-distance theorem: 4, 11 or 15 steps apart, never bunched.
        assert!(
            first.windows(2).all(|w| (4..=20).contains(&(w[1] - w[0]))),
            "10 users, 100 steps: {first:?}"
        );
        let mut all: Vec<u64> = (0..100).map(|u| seq.phase(u)).collect();
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<u64>>());
        let single = Sequence::of(&Weights::of(&mix(0, 5, 0, 0)));
        assert_eq!((single.phase(7), single.at(3)), (0, Operation::Patch));
    }
}
