//! After the load: re-read every registration written during the run and compare it with its
//! last acknowledged write (no lost updates), and, against a simulator, run its invariant check.
//!
//! Each registration had a single writer (see [`crate::load::feed`]), so its last acknowledged
//! write is known exactly and the state read back must show it. Findings are data; they go into
//! the verdict and the reports, never to the terminal from here.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderValue};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::Semaphore;

use crate::api::{APP_CODE_HEADER, Operation};
use crate::load::feed::{ADMIN_INVARIANTS, Feed};
use crate::load::result::InvariantOutcome;
use crate::load::transactions::{Expected, SEQ_ATTRIBUTE};

/// Name of the lost-update invariant in reports.
pub const NO_LOST_UPDATES: &str = "no acknowledged write lost";
/// Prefix of the simulator's invariants in reports.
pub const SIMULATOR_PREFIX: &str = "simulator invariants";
/// Findings kept per invariant.
const MAX_FINDINGS: usize = 25;
/// Re-reads in flight at once.
const CONCURRENCY: usize = 32;

/// Re-reads every registration of `ledger` and compares it with what was acknowledged.
/// `pace` spaces the re-reads out (for a rate-capped live target).
pub async fn lost_updates(
    client: &reqwest::Client,
    base_url: &str,
    authorization: &HeaderValue,
    feed: &Feed,
    ledger: &HashMap<usize, Expected>,
    pace: Option<Duration>,
) -> InvariantOutcome {
    let semaphore = Arc::new(Semaphore::new(CONCURRENCY));
    let mut tasks = tokio::task::JoinSet::new();
    let mut positions: Vec<usize> = ledger.keys().copied().collect();
    positions.sort_unstable();
    for at in &positions {
        let entry = feed.entries[*at].clone();
        let expected = ledger[at];
        let url = format!("{base_url}{}", entry.path(Operation::Get));
        let request = client
            .get(url)
            .header(AUTHORIZATION, authorization.clone())
            .header(APP_CODE_HEADER, entry.app_code.clone());
        let permit = Arc::clone(&semaphore).acquire_owned().await;
        if let Some(pace) = pace {
            tokio::time::sleep(pace).await;
        }
        tasks.spawn(async move {
            let _permit = permit;
            let finding = match request.send().await {
                Err(e) => Some(format!("cannot re-read: {e}")),
                Ok(r) if !r.status().is_success() => {
                    Some(format!("re-read answered HTTP {}", r.status()))
                }
                Ok(r) => match r.json::<Value>().await {
                    Err(e) => Some(format!("re-read body is not JSON: {e}")),
                    Ok(body) => compare(&expected, &body),
                },
            };
            finding.map(|f| format!("registration {}: {f}", entry.registration_id))
        });
    }
    let mut findings = Vec::new();
    let mut lost = 0;
    while let Some(done) = tasks.join_next().await {
        if let Ok(Some(f)) = done {
            lost += 1;
            if findings.len() < MAX_FINDINGS {
                findings.push(f);
            }
        }
    }
    findings.sort();
    if lost > findings.len() {
        findings.push(format!("… and {} more", lost - findings.len()));
    }
    InvariantOutcome {
        name: NO_LOST_UPDATES.to_owned(),
        passed: lost == 0,
        checked: positions.len(),
        findings,
        skipped: None,
    }
}

/// What differs between the expected state and a registration read back.
fn compare(expected: &Expected, body: &Value) -> Option<String> {
    let mut wrong = Vec::new();
    if let Some(seq) = expected.seq {
        let got = body.pointer(&format!("/additionalData/{SEQ_ATTRIBUTE}"));
        // Sequence numbers grow per writer: a newer value is a later write that was applied
        // without an answer, not a lost one.
        if got.and_then(Value::as_u64).is_none_or(|g| g < seq) {
            wrong.push(format!(
                "PATCH of additionalData.{SEQ_ATTRIBUTE} = {seq} was acknowledged, read back {}",
                got.map_or_else(|| "nothing".to_owned(), Value::to_string)
            ));
        }
    }
    if let Some(primary) = expected.primary.filter(|_| !expected.unsure) {
        let got = body.get("isPrimary").and_then(Value::as_bool);
        if got != Some(primary) {
            wrong.push(format!(
                "personalize with setDeviceAsPrimary was acknowledged last, isPrimary reads {}",
                got.map_or_else(|| "nothing".to_owned(), |b| b.to_string())
            ));
        }
    }
    (!wrong.is_empty()).then(|| wrong.join("; "))
}

/// Calls the simulator's invariant check; one outcome per broken rule, plus the overall one.
pub async fn simulator_invariants(
    client: &reqwest::Client,
    base_url: &str,
) -> Vec<InvariantOutcome> {
    #[derive(Deserialize)]
    struct Body {
        violations: Vec<Found>,
    }
    #[derive(Deserialize)]
    struct Found {
        rule: String,
        detail: String,
    }
    let url = format!("{base_url}{ADMIN_INVARIANTS}");
    let skipped = |why: String| {
        vec![InvariantOutcome {
            name: SIMULATOR_PREFIX.to_owned(),
            passed: false,
            checked: 0,
            findings: Vec::new(),
            skipped: Some(why),
        }]
    };
    let body: Body = match client.get(&url).send().await {
        Err(e) => return skipped(format!("cannot call {url}: {e}")),
        Ok(r) if !r.status().is_success() => {
            return skipped(format!("{url} answered HTTP {}", r.status()));
        }
        Ok(r) => match r.json().await {
            Ok(b) => b,
            Err(e) => return skipped(format!("{url}: unexpected body: {e}")),
        },
    };
    let mut by_rule: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for v in body.violations {
        by_rule.entry(v.rule).or_default().push(v.detail);
    }
    let mut out = vec![InvariantOutcome {
        name: SIMULATOR_PREFIX.to_owned(),
        passed: by_rule.is_empty(),
        checked: 1,
        findings: by_rule
            .iter()
            .map(|(rule, d)| format!("{rule}: {} violation(s)", d.len()))
            .collect(),
        skipped: None,
    }];
    for (rule, details) in by_rule {
        let n = details.len();
        let mut findings: Vec<String> = details.into_iter().take(MAX_FINDINGS).collect();
        if n > findings.len() {
            findings.push(format!("… and {} more", n - findings.len()));
        }
        out.push(InvariantOutcome {
            name: format!("{SIMULATOR_PREFIX}: {rule}"),
            passed: false,
            checked: 1,
            findings,
            skipped: None,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_stale_sequence_number_is_a_lost_update() {
        let e = Expected {
            seq: Some(7),
            primary: Some(true),
            last: Some(Operation::Patch),
            unsure: false,
        };
        assert_eq!(
            compare(
                &e,
                &json!({"isPrimary": true, "additionalData": {SEQ_ATTRIBUTE: 7}})
            ),
            None
        );
        let f = compare(
            &e,
            &json!({"isPrimary": false, "additionalData": {SEQ_ATTRIBUTE: 6}}),
        )
        .unwrap();
        assert!(f.contains("= 7 was acknowledged, read back 6"), "{f}");
        assert!(f.contains("isPrimary reads false"), "{f}");
    }
}
