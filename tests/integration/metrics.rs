//! `pushcheck load --metrics-addr`: the live endpoint, scraped while the binary runs, parsed as
//! OpenMetrics text, and its request counter held against summary.json's.

use std::collections::BTreeMap;
use std::io::{BufRead, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pushcheck::load::metrics_endpoint::names;

use crate::util::{TempDir, read_load_summary, wait_within};

/// How long the run may take to print its metrics address.
const ADDR_WITHIN: Duration = Duration::from_secs(60);
/// How long the whole run may take.
const RUN_WITHIN: Duration = Duration::from_secs(120);

/// One scrape: samples by `name{labels}`.
type Samples = BTreeMap<String, f64>;

/// `GET /metrics` over a plain socket; `None` once nobody answers (the run ended).
fn scrape(addr: SocketAddr) -> Option<String> {
    let mut tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    tcp.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        tcp,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    tcp.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/openmetrics-text"),
        "{head}"
    );
    Some(body.to_owned())
}

/// Parses the exposition strictly enough: every sample is `name{labels} value` or `name value`,
/// belongs to the family of the last `# TYPE` line, no family twice, `# EOF` last.
fn parse(text: &str) -> Samples {
    let mut samples = Samples::new();
    let mut families = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.last(), Some(&"# EOF"), "{text}");
    for line in &lines[..lines.len() - 1] {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            assert!(!families.iter().any(|(n, _)| n == name), "{name} twice");
            families.push((name.to_owned(), kind.to_owned()));
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        assert!(!line.starts_with('#'), "unexpected comment: {line}");
        let (series, value) = line.rsplit_once(' ').expect("sample: series value");
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("value of {line}"));
        let name = series.split('{').next().expect("name");
        assert!(name.starts_with("pushcheck_"), "{line}");
        if let Some(labels) = series.strip_prefix(name) {
            if !labels.is_empty() {
                assert!(labels.starts_with('{') && labels.ends_with('}'), "{line}");
            }
        }
        let (family, kind) = families.last().expect("a TYPE line before the samples");
        let suffixes: &[&str] = match kind.as_str() {
            "counter" => &["_total"],
            "histogram" => &["_bucket", "_count", "_sum"],
            _ => &[""],
        };
        assert!(
            suffixes.iter().any(|s| name == format!("{family}{s}")),
            "{line} is not of family {family}"
        );
        samples.insert(series.to_owned(), value);
    }
    samples
}

/// Sum of a counter's samples over its labels.
fn total(samples: &Samples, counter: &str) -> f64 {
    let prefix = format!("{counter}_total");
    samples
        .iter()
        .filter(|(k, _)| k.split('{').next() == Some(prefix.as_str()))
        .map(|(_, v)| v)
        .sum()
}

#[test]
fn a_load_serves_live_metrics_that_agree_with_its_summary() {
    let dir = TempDir::new("metrics");
    let reports = dir.path().join("reports");
    let mut child = Command::new(env!("CARGO_BIN_EXE_pushcheck"))
        .args([
            "load",
            "--scenario",
            "read-heavy",
            "--run-time",
            "3s",
            "--progress",
            "never",
            "--metrics-addr",
            "127.0.0.1:0",
            "--report-dir",
            reports.to_str().expect("utf-8 path"),
        ])
        .env_remove("PUSHCHECK_TARGET")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start pushcheck");
    let stderr = child.stderr.take().expect("stderr");
    let (told, addr_rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Some(url) = line.strip_prefix("metrics: http://") {
                let _ = told.send(url.trim_end_matches("/metrics").to_owned());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let Ok(addr) = addr_rx.recv_timeout(ADDR_WITHIN) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "no metrics address on stderr: {}",
            reader.join().unwrap_or_default()
        );
    };
    let addr: SocketAddr = addr.parse().expect("a socket address");
    assert!(addr.ip().is_loopback() && addr.port() != 0, "{addr}");

    // Scrape until the run ends; keep the last scrape and check the counters never fall.
    let deadline = Instant::now() + RUN_WITHIN;
    let mut last: Option<Samples> = None;
    let mut scrapes = 0;
    while Instant::now() < deadline {
        let Some(text) = scrape(addr) else { break };
        let samples = parse(&text);
        if let Some(before) = &last {
            for (series, v) in before {
                let now = samples.get(series).copied().unwrap_or(0.0);
                let is_counter = series.contains("_total") || series.contains("_seconds_");
                assert!(!is_counter || now >= *v, "{series} fell from {v} to {now}");
            }
        }
        last = Some(samples);
        scrapes += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    let code = wait_within(&mut child, RUN_WITHIN);
    let stderr = reader.join().expect("stderr reader");
    assert!(matches!(code, Some(0 | 1)), "exit {code:?}: {stderr}");
    let last = last.expect("at least one scrape");
    assert!(scrapes >= 2, "{scrapes} scrapes");

    let summary = read_load_summary(&reports.join("summary.json"));
    let requests = summary["total"]["requests"].as_u64().expect("requests") as f64;
    let scraped = total(&last, names::REQUESTS);
    assert!(scraped > 0.0, "{last:?}");
    assert!(
        scraped <= requests,
        "scraped {scraped} > summary {requests}"
    );
    // The last scrape came at most a scrape's interval (and its own time) before the end: the
    // requests after it are at most what the run sent in its fastest stretch of that length,
    // well under a third of a 3-second run.
    assert!(
        scraped >= requests * 0.6,
        "the last scrape ({scraped}) is far below the summary's {requests}"
    );
    let users = last
        .get(names::USERS_ACTIVE)
        .copied()
        .expect("users active");
    assert!(users >= 1.0, "{last:?}");
    let get_count = last
        .get(&format!(
            "{}_count{{operation=\"GET registration\"}}",
            names::LATENCY
        ))
        .copied()
        .expect("GET latency count");
    assert!(get_count > 0.0);
    let text = format!("{last:?}");
    assert!(!text.contains("pushcheck-local-key"), "a credential leaked");
}
