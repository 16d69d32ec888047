//! Benchmark: one load judgment of the doc's GET registration body, the full way (parsed into a
//! `serde_json::Value`, then `jsonschema`) against the judge's fast path (`Expect::discard_body`:
//! judged while parsed, no `Value`), in one run.
//!
//! Run with `cargo run --release --example bench_judge`. Each round times 200,000 judgments
//! each way, interleaved; prints the median of 5 rounds per way and their ratio. Both ways must
//! find the body valid, with the same meaning (its registration ID) and `applicationId`.

use std::hint::black_box;
use std::time::Instant;

use pushcheck::api::{Operation, docs};
use pushcheck::schema::Mode;
use pushcheck::schema::judge::{Expect, Meaning, judge};

const ROUNDS: usize = 5;
const ITERATIONS: usize = 200_000;

/// Seconds for `ITERATIONS` judgments of `body` with `expect`.
fn round(body: &[u8], expect: &Expect<'_>) -> f64 {
    let start = Instant::now();
    for _ in 0..ITERATIONS {
        let judged = judge(
            Operation::Get,
            200,
            Some("application/json"),
            black_box(body),
            true,
            Mode::Lenient,
            black_box(expect),
        );
        assert!(judged.problem.is_none(), "{:?}", judged.problem);
    }
    start.elapsed().as_secs_f64()
}

/// Seconds for `ITERATIONS` parses of `body` that keep nothing: what reading the bytes costs.
fn parse_only(body: &[u8]) -> f64 {
    let start = Instant::now();
    for _ in 0..ITERATIONS {
        let parsed: Result<serde::de::IgnoredAny, _> = serde_json::from_slice(black_box(body));
        assert!(parsed.is_ok());
    }
    start.elapsed().as_secs_f64()
}

fn median(mut rounds: Vec<f64>) -> f64 {
    rounds.sort_by(f64::total_cmp);
    rounds[rounds.len() / 2]
}

fn main() {
    let body = docs::example("get-response")
        .expect("the GET example is embedded")
        .json
        .as_bytes();
    let value: serde_json::Value = serde_json::from_slice(body).expect("the example is JSON");
    let id = value["registrationId"].as_str().expect("an ID");
    let application_id = value["applicationId"].as_str().expect("an application ID");
    let full = Expect {
        meaning: Meaning::Registration { id },
        application_id: Some(application_id),
        ..Expect::default()
    };
    let fast = Expect {
        discard_body: true,
        ..full
    };
    let (mut slow_rounds, mut fast_rounds, mut floor_rounds) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        slow_rounds.push(round(body, &full));
        fast_rounds.push(round(body, &fast));
        floor_rounds.push(parse_only(body));
    }
    let per = |s: f64| s * 1e6 / ITERATIONS as f64;
    let (slow, quick) = (median(slow_rounds), median(fast_rounds));
    println!(
        "doc GET body ({} bytes), lenient, meaning + applicationId; median of {ROUNDS} rounds x {ITERATIONS}",
        body.len()
    );
    println!("full judge (Value + jsonschema) {:>8.3} us", per(slow));
    println!("fast path (no Value)            {:>8.3} us", per(quick));
    println!("ratio full / fast               {:>8.2}x", slow / quick);
    println!(
        "(floor: serde_json parse, nothing kept {:>6.3} us)",
        per(median(floor_rounds))
    );
}
