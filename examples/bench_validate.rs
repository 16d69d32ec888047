//! Benchmark: microseconds per parse + validate of the doc's GET registration payload.
//!
//! Run with `cargo run --release --example bench_validate` (or `bench/validate.sh`, which also
//! measures Python's jsonschema on the same payload). Prints the median of several rounds, for
//! lenient and strict mode, and the parse cost alone, so the validation share is visible.

use std::time::Instant;

use pushcheck::api::docs;
use pushcheck::schema::{Mode, registry};

const ROUNDS: usize = 9;
const ITERATIONS: usize = 100_000;

fn median_micros(mut f: impl FnMut() -> bool) -> f64 {
    let mut rounds = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let start = Instant::now();
        let mut valid = 0usize;
        for _ in 0..ITERATIONS {
            valid += usize::from(f());
        }
        let elapsed = start.elapsed();
        assert_eq!(valid, ITERATIONS, "every iteration must validate");
        rounds.push(elapsed.as_secs_f64() * 1e6 / ITERATIONS as f64);
    }
    rounds.sort_by(f64::total_cmp);
    rounds[ROUNDS / 2]
}

fn main() {
    let payload = docs::example("get-response")
        .expect("the GET example is embedded")
        .json
        .as_bytes();
    let registry = registry();
    let parse_only = median_micros(|| {
        serde_json::from_slice::<serde_json::Value>(std::hint::black_box(payload)).is_ok()
    });
    let mut results = vec![("parse only", parse_only)];
    for (label, mode) in [
        ("parse+validate lenient", Mode::Lenient),
        ("parse+validate strict", Mode::Strict),
    ] {
        let micros = median_micros(|| {
            let value: serde_json::Value =
                serde_json::from_slice(std::hint::black_box(payload)).expect("payload parses");
            registry
                .is_valid("push-registration", mode, &value)
                .expect("schema exists")
        });
        results.push((label, micros));
    }
    println!(
        "payload: doc GET registration ({} bytes); median of {ROUNDS} rounds x {ITERATIONS} iterations",
        payload.len()
    );
    for (label, micros) in results {
        println!("{label:<24} {micros:>7.3} us");
    }
}
