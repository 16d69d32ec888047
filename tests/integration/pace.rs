//! Load shapes and rates: an arrival rate held near its target for ten seconds, a shortfall
//! from too few users told apart from one the rate cap causes, and stages that fall and rise
//! with one writer per registration. The precise figure (within 5%) is `bench/arrival.sh`'s;
//! these runs share two CPUs with the other tests, so they allow 10%: the achieved share is
//! asserted within 90–110%, and the run's own rule is set to `arrival-rate>=90%` to match (the
//! always-on `arrival-rate>=95%` would fail a run this test accepts).
//!
//! Every load goes through the CLI in-process (`load::run` serializes goose runs process-wide).

use std::time::Duration;

use pushcheck::cli::Exit;
use pushcheck::mock::{Faults, SimulatorConfig};
use serde_json::Value;

use crate::util::{TempDir, read_load_summary, run_cli, server_runtime, start_simulator};

/// `pushcheck load --scenario <toml> --target <simulator> ARGS` against a simulator with
/// `faults`; the exit, the terminal text and summary.json.
fn load(toml: &str, faults: Faults, args: &[&str]) -> (Exit, String, Value) {
    let (exit, out, summary, _) = load_with_html(toml, faults, args);
    (exit, out, summary)
}

/// [`load`], and the run's `pushcheck.html`.
fn load_with_html(toml: &str, faults: Faults, args: &[&str]) -> (Exit, String, Value, String) {
    let runtime = server_runtime();
    let sim = runtime.block_on(start_simulator(SimulatorConfig {
        faults,
        seed_registrations: 20,
        ..SimulatorConfig::default()
    }));
    let dir = TempDir::new("pace");
    let scenario = dir.write("scenario.toml", toml);
    let reports = dir.path().join("reports");
    let reports = reports.to_str().expect("utf-8");
    let mut all = vec![
        "load",
        "--scenario",
        &scenario,
        "--target",
        sim.base_url(),
        "--report-dir",
        reports,
    ];
    all.extend_from_slice(args);
    let run = run_cli(&all);
    runtime.block_on(async { sim.shutdown().await.expect("shutdown") });
    let summary = read_load_summary(&dir.path().join("reports/summary.json"));
    let html = std::fs::read_to_string(dir.path().join("reports/pushcheck.html")).expect("html");
    (
        run.exit,
        format!("{}{}", run.stdout, run.stderr),
        summary,
        html,
    )
}

fn arrival_rule(summary: &Value) -> &Value {
    summary["thresholds"]
        .as_array()
        .and_then(|t| {
            t.iter().find(|t| {
                t["rule"]
                    .as_str()
                    .is_some_and(|r| r.starts_with("arrival-rate>="))
            })
        })
        .unwrap_or_else(|| panic!("no arrival-rate rule in {:#}", summary["thresholds"]))
}

#[test]
fn an_arrival_rate_is_held_near_its_target_for_ten_seconds() {
    let (exit, out, summary, html) = load_with_html(
        "users = 8\nrun_time = \"10s\"\narrival_rate = 80\n[mix]\nget = 3\npatch = 1\n",
        Faults::default(),
        &["--threshold", "arrival-rate>=90%"],
    );
    let a = &summary["arrival"];
    let achieved = a["achieved_percent"].as_f64().expect("a percent");
    assert!(
        (90.0..=110.0).contains(&achieved),
        "80/s asked, {achieved}% achieved: {a:#}\n{out}"
    );
    let window = &a["window_secs"];
    assert!(
        window[1].as_u64().unwrap() - window[0].as_u64().unwrap() >= 10,
        "held at least 10 s: {window}"
    );
    // The mix splits the rate: 60/s GET, 20/s PATCH.
    assert_eq!(a["operations"][0]["target_rps"], 60.0, "{a:#}");
    assert_eq!(a["operations"][1]["target_rps"], 20.0, "{a:#}");
    assert_eq!(a["shortfall"], serde_json::json!([]), "{a:#}");
    assert_eq!(arrival_rule(&summary)["rule"], "arrival-rate>=90%");
    assert_eq!(arrival_rule(&summary)["passed"], true);
    assert_eq!(exit, Exit::Passed, "{out}");
    assert!(
        out.contains("Arrival rate: asked 80/s, target 80/s"),
        "{out}"
    );
    let section = html
        .split("<h2 id=\"arrival\">")
        .nth(1)
        .expect("the report has an arrival section");
    assert!(section.contains("asked 80/s"), "{section}");
    assert!(
        section.contains("<td>PATCH registration</td><td>20.0</td>"),
        "{section}"
    );
}

#[test]
fn too_few_users_for_the_rate_is_the_shortfall_and_fails() {
    // Two users at 100 ms a request can send about 20/s of the 60/s asked.
    let (exit, out, summary) = load(
        "users = 2\nrun_time = \"3s\"\narrival_rate = 60\n",
        Faults {
            latency: Duration::from_millis(100),
            ..Faults::default()
        },
        &[],
    );
    let shortfall = &summary["arrival"]["shortfall"];
    assert_eq!(shortfall.as_array().map(Vec::len), Some(1), "{shortfall:#}");
    assert_eq!(shortfall[0]["cause"], "too-few-users");
    assert_eq!(arrival_rule(&summary)["passed"], false);
    assert_eq!(exit, Exit::CheckFailed, "{out}");
    assert!(out.contains("shortfall: too few users"), "{out}");
    assert!(out.contains("dropped iterations"), "{out}");
    assert!(out.contains("2 users at 10"), "the latency measured: {out}");
}

#[test]
fn a_rate_cap_below_the_rate_is_the_shortfall_and_the_cap_is_held() {
    let (exit, out, summary) = load(
        "users = 4\nrun_time = \"3s\"\narrival_rate = 100\n",
        Faults::default(),
        &["--max-rps", "20"],
    );
    let a = &summary["arrival"];
    assert_eq!(
        (a["asked_rps"].as_u64(), a["target_rps"].as_u64()),
        (Some(100), Some(20))
    );
    assert_eq!(a["goose_throttle_rps"], 20, "a cap is never raised: {a:#}");
    let causes: Vec<&Value> = a["shortfall"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|s| &s["cause"])
        .collect();
    assert_eq!(causes, ["rate-cap"], "{a:#}");
    let achieved = a["achieved_rps"].as_f64().expect("a rate");
    assert!(achieved <= 20.5, "the cap is a ceiling: {achieved}/s");
    assert_eq!(exit, Exit::Passed, "the cap is the run's own choice: {out}");
    assert!(
        out.contains("rate cap of 20 requests/s per operation"),
        "{out}"
    );
}

#[test]
fn stages_that_fall_and_rise_keep_one_writer_per_registration() {
    // goose numbers the users of this plan 0–3, stops 1–3, then starts 4–6: writes are
    // partitioned over all seven, or users 4–6 would write users 0–2's registrations (the
    // lost-update check then says "two load users wrote it").
    let (exit, out, summary) = load(
        r#"
        stages = [
          { users = 4, duration = "2s" },
          { users = 1, duration = "2s" },
          { users = 4, duration = "2s" },
          { users = 0, duration = "1s" },
        ]
        [mix]
        get = 1
        patch = 2
        personalize = 1
        depersonalize = 1
        "#,
        Faults::default(),
        &[],
    );
    assert_eq!(exit, Exit::Passed, "{out}");
    let invariants = summary["invariants"].as_array().expect("a list");
    assert!(
        invariants.iter().all(|i| i["passed"] == true),
        "{invariants:#?}"
    );
    assert_eq!(summary["scenario"]["users"], 4);
    assert_eq!(summary["scenario"]["stages"][1]["users"], 1);
    assert!(
        out.contains("stages: 4 users over 2s, then 1 user over 2s"),
        "{out}"
    );
}

#[test]
fn stages_and_the_hold_flags_or_a_rate_and_a_throttle_are_usage_errors() {
    for args in [
        ["load", "--stages", "2,1s", "--users", "3"],
        ["load", "--arrival-rate", "5", "--throttle", "3"],
        ["load", "--stages", "2,1.5s", "--iterations", "1"],
    ] {
        let run = run_cli(&args);
        assert_eq!(run.exit, Exit::Usage, "{args:?}: {}", run.stderr);
    }
    let run = run_cli(&["load", "--stages", "2,1500ms"]);
    assert_eq!(run.exit, Exit::Usage);
    assert!(
        run.stderr.contains("whole number of seconds"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_capped_rate_never_trips_a_rate_limited_target_and_an_uncapped_one_does() {
    // The simulator answers 429 beyond 25 requests/s per operation, as the API does beyond 50;
    // a first second that burst (twice the cap, say) would trip it.
    let limited = || Faults {
        rate_limit: Some(25),
        ..Faults::default()
    };
    let toml = "users = 4\nrun_time = \"4s\"\narrival_rate = 60\n";
    let (exit, out, summary) = load(toml, limited(), &["--max-rps", "20"]);
    assert_eq!(exit, Exit::Passed, "{out}");
    let statuses = &summary["total"]["errors_by_status"];
    assert_eq!(
        statuses.get("429"),
        None,
        "no 429 under the cap: {statuses}"
    );
    // The control: the same rate without the cap runs into the limit.
    let (exit, out, summary) = load(toml, limited(), &[]);
    assert_eq!(exit, Exit::CheckFailed, "{out}");
    assert!(
        summary["total"]["errors_by_status"]["429"].as_u64() > Some(0),
        "{:#}",
        summary["total"]
    );
}

/// The share of the requests sent per operation, and its weight's share, from summary.json.
fn shares(summary: &Value) -> Vec<(String, f64, f64, u64)> {
    summary["mix"]["operations"]
        .as_array()
        .unwrap_or_else(|| panic!("no mix in {:#}", summary["mix"]))
        .iter()
        .map(|o| {
            (
                o["operation"].as_str().unwrap_or_default().to_owned(),
                o["asked_percent"].as_f64().unwrap_or(-1.0),
                o["sent_percent"].as_f64().unwrap_or(-1.0),
                o["sent"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

fn mix_rule(summary: &Value) -> &Value {
    summary["thresholds"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["rule"] == "mix-drift<=3%"))
        .unwrap_or_else(|| panic!("no mix-drift rule in {:#}", summary["thresholds"]))
}

/// Issue 21, item 1: `read-heavy` (95/3/1/1, 64 users) under a 52/s cap sent 80/12/4/4 (and
/// 37/27/18/18 with fewer requests per user): goose ran each user's operations in one fixed
/// order. Now every share is within 2 points of its weight, over at least 300 requests, in
/// every report. The embedded simulator (1000 registrations: every user has its own to write).
#[test]
fn read_heavy_under_a_52_per_second_cap_sends_its_mix() {
    let dir = TempDir::new("pace-mix");
    let reports = dir.path().join("reports");
    let run = run_cli(&[
        "load",
        "--scenario",
        &crate::util::project_path("scenarios/read-heavy.toml"),
        "--max-rps",
        "52",
        "--run-time",
        "8s",
        "--report-dir",
        reports.to_str().expect("utf-8"),
    ]);
    let out = format!("{}{}", run.stdout, run.stderr);
    let summary = read_load_summary(&reports.join("summary.json"));
    let sent = summary["mix"]["requests"].as_u64().expect("a count");
    assert!(sent >= 300, "{sent} requests: {out}");
    let rows = shares(&summary);
    assert_eq!(rows.len(), 4, "{rows:?}");
    for (op, asked, got, n) in &rows {
        assert!(
            (got - asked).abs() <= 2.0,
            "{op}: asked {asked}%, sent {got}% ({n} of {sent}): {out}"
        );
    }
    assert_eq!(mix_rule(&summary)["passed"], true, "{out}");
    assert_eq!(run.exit, Exit::Passed, "{out}");
    // Every report shows the shares asked and sent.
    assert!(out.contains("Mix: weights asked, requests sent"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.trim_start().starts_with("PATCH registration") && l.contains("3.0%")),
        "{out}"
    );
    let junit = std::fs::read_to_string(reports.join("junit.xml")).expect("junit.xml");
    assert!(
        junit.contains("mix-drift&lt;=3%") || junit.contains("mix-drift<=3%"),
        "{junit}"
    );
    assert!(junit.contains("POST depersonalize"), "{junit}");
    let html = std::fs::read_to_string(reports.join("pushcheck.html")).expect("html");
    let section = html
        .split("<h2 id=\"mix\">")
        .nth(1)
        .expect("the report has a mix section");
    assert!(
        section.contains("<td>GET registration</td><td>95</td><td>95.0%</td>"),
        "{section}"
    );
    println!("{out}");
}

/// The stand-in whose mix is bent, and its control: with 40 users and 20 registrations, 20
/// users have no registration of their own to write (one writer per registration) and send
/// GETs for their PATCHes, so a 50/50 mix goes out near 75/25 (an honest stand-in: a real run
/// whose mix is bent by the one-writer rule, not by the sequences): `mix-drift` fails and says why.
/// With 20 users every PATCH goes out as a PATCH and the same rule passes.
#[test]
fn writes_without_a_registration_bend_the_mix_and_mix_drift_says_why() {
    let toml =
        |users: u32| format!("users = {users}\nrun_time = \"2s\"\n[mix]\nget = 1\npatch = 1\n");
    let (exit, out, summary) = load(&toml(40), Faults::default(), &[]);
    let rule = mix_rule(&summary);
    assert_eq!(rule["passed"], false, "{out}");
    let observed = rule["observed"].as_str().unwrap_or_default();
    assert!(
        observed.contains(
            "went out as GET registration: 20 user(s) had no registration of their own to write"
        ),
        "{observed}"
    );
    let rows = shares(&summary);
    let patch = rows
        .iter()
        .find(|r| r.0 == "PATCH registration")
        .expect("PATCH");
    // Near 25% (users without writes may send more or fewer requests than the writers).
    assert!((15.0..=40.0).contains(&patch.2), "{rows:?}");
    assert_eq!(summary["mix"]["users_without_writes"], 20);
    assert_eq!(exit, Exit::CheckFailed, "{out}");
    assert!(out.contains("threshold mix-drift<=3% failed"), "{out}");

    let (exit, out, summary) = load(&toml(20), Faults::default(), &[]);
    assert_eq!(mix_rule(&summary)["passed"], true, "{out}");
    assert_eq!(summary["mix"]["users_without_writes"], 0);
    assert_eq!(exit, Exit::Passed, "{out}");
}
