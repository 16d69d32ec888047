//! pushcheck's own response-time histograms: every exchange from the moment it was sent to its
//! whole answer (status and body), its failure (a timeout at the time it took) or the end of the
//! run (a request still waiting, at its age); and, in a paced run, the same exchange measured
//! from the moment it was due (see [`super::schedule`]).
//!
//! The buckets are goose's (log-linear: 64 per power of two, none wider than 1/64 of its lowest
//! time), and percentiles are read through goose's own [`GooseRequestMetricTimingData`], so a
//! figure of pushcheck's and one of goose's agree to the bucket. Sparse: only buckets holding a
//! time are kept.

use std::collections::BTreeMap;

use goose::metrics::{GooseRequestMetricTimingData, TimeBuckets};

use super::figures::Latency;

/// Each power of two is split into `1 << SUB_BITS` buckets (goose's scheme).
const SUB_BITS: u32 = 6;
/// Every time below this has a bucket of its own.
const EXACT: u64 = 1 << (SUB_BITS + 1);

/// The lowest time of the bucket that holds `us` (goose's `bucket_floor`).
fn bucket_floor(us: u64) -> u64 {
    if us < EXACT {
        return us;
    }
    let bits = 63 - us.leading_zeros() - SUB_BITS;
    (us >> bits) << bits
}

/// Times in microseconds, counted in goose's buckets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Histogram {
    buckets: BTreeMap<u64, u64>,
    min: u64,
    max: u64,
    total: u64,
    count: u64,
}

impl Histogram {
    /// Counts one time.
    pub fn record(&mut self, us: u64) {
        self.record_n(us, 1);
    }

    /// Counts `n` times of `us` each.
    pub fn record_n(&mut self, us: u64, n: u64) {
        if n == 0 {
            return;
        }
        if self.count == 0 || us < self.min {
            self.min = us;
        }
        self.max = self.max.max(us);
        self.total = self.total.saturating_add(us.saturating_mul(n));
        self.count += n;
        *self.buckets.entry(bucket_floor(us)).or_default() += n;
    }

    /// Adds `other`'s times.
    pub fn add(&mut self, other: &Histogram) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 || other.min < self.min {
            self.min = other.min;
        }
        self.max = self.max.max(other.max);
        self.total = self.total.saturating_add(other.total);
        self.count += other.count;
        for (b, c) in &other.buckets {
            *self.buckets.entry(*b).or_default() += c;
        }
    }

    /// How many times are counted.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// How many times are at or under `us`, to within a bucket (1/64 of the time): a bucket
    /// counts when its lowest time is.
    pub fn count_at_most(&self, us: u64) -> u64 {
        self.buckets.range(..=us).map(|(_, c)| c).sum()
    }

    /// The sum of the times, in microseconds.
    pub fn total_us(&self) -> u64 {
        self.total
    }

    /// The slowest time, in microseconds (0 without times).
    pub fn max_us(&self) -> u64 {
        self.max
    }

    /// The same times as goose keeps them, for goose's percentiles.
    pub fn timing(&self) -> GooseRequestMetricTimingData {
        let mut times = TimeBuckets::new();
        for (b, c) in &self.buckets {
            times.insert(*b, *c as usize);
        }
        GooseRequestMetricTimingData {
            times_us: times,
            minimum_time_us: self.min,
            maximum_time_us: self.max,
            total_time_us: self.total,
            counter: self.count as usize,
        }
    }

    /// The `q` quantile (0.95), in milliseconds; 0 without times.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        self.timing().percentile_us(q as f32) as f64 / 1000.0
    }

    /// p50, p95, p99, max and mean, in milliseconds.
    pub fn latency(&self) -> Latency {
        if self.count == 0 {
            return Latency::default();
        }
        let timing = self.timing();
        let ms = |us: u64| us as f64 / 1000.0;
        Latency {
            p50: ms(timing.percentile_us(0.50)),
            p95: ms(timing.percentile_us(0.95)),
            p99: ms(timing.percentile_us(0.99)),
            max: ms(self.max),
            avg: self.total as f64 / self.count as f64 / 1000.0,
        }
    }

    /// The times goose's coordinated-omission mitigation added to one of its rows: its adjusted
    /// data less its measured data, bucket by bucket (goose keeps the measured times in both).
    pub fn synthetic(
        adjusted: &GooseRequestMetricTimingData,
        measured: &GooseRequestMetricTimingData,
    ) -> Histogram {
        let mut out = Histogram::default();
        for (b, c) in adjusted.times_us.iter() {
            let extra = c.saturating_sub(measured.times_us.get(b).copied().unwrap_or(0)) as u64;
            if extra > 0 {
                out.min = if out.count == 0 { *b } else { out.min.min(*b) };
                out.count += extra;
                *out.buckets.entry(*b).or_default() += extra;
            }
        }
        if out.count > 0 {
            out.max = adjusted.maximum_time_us.max(out.min);
            out.total = adjusted
                .total_time_us
                .saturating_sub(measured.total_time_us);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_out_as_gooses() {
        let mut h = Histogram::default();
        for us in 1..=1000u64 {
            h.record(us * 10);
        }
        let l = h.latency();
        assert!((l.p50 - 5.0).abs() < 0.05, "{l:?}");
        assert!((l.p99 - 9.9).abs() < 0.1, "{l:?}");
        assert_eq!(l.max, 10.0);
        assert!((l.avg - 5.005).abs() < 1e-9);
        let mut twice = h.clone();
        twice.add(&h);
        assert_eq!(twice.count(), 2000);
        assert!((twice.quantile_ms(0.5) - 5.0).abs() < 0.05);
    }

    #[test]
    fn gooses_synthetic_times_are_its_adjusted_less_its_measured() {
        let mut measured = Histogram::default();
        measured.record_n(2_000, 10);
        let mut adjusted = measured.clone();
        adjusted.record_n(900_000, 3);
        let s = Histogram::synthetic(&adjusted.timing(), &measured.timing());
        assert_eq!(s.count(), 3);
        assert!((s.quantile_ms(0.5) - 900.0).abs() < 10.0);
    }
}
