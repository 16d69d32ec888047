//! The one seeded generator: SplitMix64, for the simulator's seeded registrations, its fault
//! draws and the generated contract sequences.
//!
//! Hand-rolled on purpose: a seed printed by one pushcheck version (a `--seed`, a replay file, a
//! simulator seed in a bug report) must draw the same values in the next, which no random crate
//! promises across its versions. It is tiny, fast and good enough for test data; it is not for
//! anything secret. This module must not change a single draw without changing the replay
//! format's version.

/// SplitMix64's increment (the golden ratio in 64 bits); also the step of a lock-free counter
/// whose values are passed through [`mix`].
pub const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// A SplitMix64 stream.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// The stream of `seed`, as is.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        mix(self.0)
    }

    /// A number in `0..n` (0 when `n` is 0; the modulo bias is irrelevant here).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// An index in `0..len` (0 when `len` is 0).
    pub fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    /// True with `percent` % probability (drawn as `below(100) < percent`).
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// True with probability `p` (drawn as `unit(next) < p`).
    pub fn chance_of(&mut self, p: f64) -> bool {
        unit(self.next_u64()) < p
    }

    /// One of `items` (which must not be empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }
}

/// The SplitMix64 finaliser.
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Maps 64 random bits to `[0, 1)`.
pub fn unit(bits: u64) -> f64 {
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The draws are part of pushcheck's interface (seeds in replay files and bug reports):
    /// these values must never change.
    #[test]
    fn a_seed_draws_what_it_always_drew() {
        let mut rng = Rng::new(0);
        assert_eq!(rng.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(rng.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        let mut rng = Rng::new(42);
        let draws: Vec<u64> = (0..5).map(|_| rng.below(100)).collect();
        let again: Vec<u64> = {
            let mut r = Rng::new(42);
            (0..5).map(|_| r.below(100)).collect()
        };
        assert_eq!(draws, again);
        assert_eq!(Rng::new(7).below(0), 0);
    }
}
