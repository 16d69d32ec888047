//! Live-target safety: counting stop signals, and putting a device back as the run found it.
//!
//! **Restore.** After every writing case, each of its devices is depersonalized if the case
//! personalized it, then its writable fields are written back in one PATCH: `isPrimary`,
//! `systemData.registrationEnabled`, the original custom attributes, and every custom attribute
//! the run added sent as `null` — the vendor's mobile SDKs delete an attribute that way (no delete
//! is documented for People v2). The device is then read back and compared with its original:
//! whatever still differs (attributes the target kept, `additionalData: {}` on a device that had
//! none, a flag that did not go back) becomes a [`RestoreProblem`] naming it. If the target
//! refuses `null`, the PATCH is repeated without the deletions and the leftovers are reported.
//! A device's person binding cannot be read through this API and is not re-established: devices
//! must belong to nobody before the run (see `Ctx::bound_before`).
//!
//! **Stop signals** (Ctrl-C, SIGTERM, SIGHUP, counted alike by [`crate::interrupt`]). The first
//! one stops the running case; its restore runs. A second one skips what is left of the
//! restore, and the devices not restored are listed.

use serde_json::{Map, Value, json};

use super::result::RestoreProblem;
use crate::api::client::{Call, Client};
use crate::api::redact::Redactor;
use crate::api::{Operation, field};

/// The stop signals (Ctrl-C, SIGTERM, SIGHUP) a suite run obeys: a view of the process-wide
/// count of [`crate::interrupt`]. It counts from the handler's installation, not from the run's
/// start: the CLI installs the handler before anything else, so a signal that comes while the
/// command is still setting up stops the run too (one process runs one command; tests that run
/// several in process never signal themselves).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Interrupts;

impl Interrupts {
    pub(crate) fn new() -> Interrupts {
        Interrupts
    }

    /// How many stop signals so far.
    pub(crate) fn count(&self) -> u32 {
        crate::interrupt::count()
    }

    /// Resolves once `n` stop signals have come (at once if they already have).
    pub(crate) async fn reached(&self, n: u32) {
        crate::interrupt::at_least(n).await;
    }
}

/// The writable state that matters for a restore, taken from a registration's JSON.
fn writable(registration: &Value) -> (Value, Value, Option<Map<String, Value>>) {
    let enabled = field::pointer(&[field::SYSTEM_DATA, field::REGISTRATION_ENABLED]);
    (
        registration
            .get(field::IS_PRIMARY)
            .cloned()
            .unwrap_or(Value::Bool(false)),
        registration
            .pointer(&enabled)
            .cloned()
            .unwrap_or(Value::Bool(true)),
        registration
            .get(field::ADDITIONAL_DATA)
            .and_then(Value::as_object)
            .cloned(),
    )
}

/// Puts one device back as `original` shows it; `None` when it is back exactly.
pub(crate) async fn restore_device(
    client: &Client,
    redactor: &Redactor,
    id: &str,
    original: &Value,
    personalized: bool,
) -> Option<RestoreProblem> {
    let mut problems = Vec::new();
    if personalized {
        let call = Call::new(Operation::Depersonalize, id.to_owned());
        expect_200(client, &call, "depersonalize", &mut problems).await;
    }
    let current = read(client, id).await;
    patch_back(client, id, original, current.as_ref(), &mut problems).await;
    let mut left_behind = Vec::new();
    match read(client, id).await {
        Some(after) => {
            problems.extend(differences(original, &after, &mut left_behind));
        }
        None => problems.push("the device could not be read back after the restore".to_owned()),
    }
    (!problems.is_empty()).then(|| RestoreProblem {
        registration_id: id.to_owned(),
        message: redactor.scrub(&problems.join("; ")),
        left_behind,
    })
}

/// Sends `call`; anything but a 200 is a problem (`what` answered HTTP n).
async fn expect_200(client: &Client, call: &Call, what: &str, problems: &mut Vec<String>) {
    match client.send(call).await {
        Ok(r) if r.status == 200 => {}
        Ok(r) => problems.push(format!("{what} answered HTTP {}", r.status)),
        Err(e) => problems.push(e.to_string()),
    }
}

/// PATCHes the original's writable fields back, with every attribute `current` has and the
/// original had not sent as `null`; if the target refuses `null`, once more without them.
async fn patch_back(
    client: &Client,
    id: &str,
    original: &Value,
    current: Option<&Value>,
    problems: &mut Vec<String>,
) {
    let (is_primary, enabled, additional) = writable(original);
    let added: Vec<String> = current
        .and_then(|c| c.get(field::ADDITIONAL_DATA).and_then(Value::as_object))
        .map(|now| {
            now.keys()
                .filter(|k| additional.as_ref().is_none_or(|o| !o.contains_key(*k)))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let mut body = json!({
        field::IS_PRIMARY: is_primary,
        field::SYSTEM_DATA: { field::REGISTRATION_ENABLED: enabled },
    });
    let mut data = additional.clone().unwrap_or_default();
    data.extend(added.iter().map(|k| (k.clone(), Value::Null)));
    if !data.is_empty() {
        body[field::ADDITIONAL_DATA] = Value::Object(data);
    }
    let patch = |body: Value| Call::new(Operation::Patch, id.to_owned()).json(body);
    match client.send(&patch(body.clone())).await {
        Ok(r) if r.status == 200 => {}
        Ok(r) if !added.is_empty() && r.status == 400 => {
            problems.push("the target refused null as delete (HTTP 400)".to_owned());
            match additional {
                Some(o) => body[field::ADDITIONAL_DATA] = Value::Object(o),
                None => {
                    body.as_object_mut()
                        .map(|b| b.remove(field::ADDITIONAL_DATA));
                }
            }
            expect_200(client, &patch(body), "PATCH back", problems).await;
        }
        Ok(r) => problems.push(format!("PATCH back answered HTTP {}", r.status)),
        Err(e) => problems.push(e.to_string()),
    }
}

/// What differs between the original and the state read back; attributes the run added and
/// the target kept go to `left_behind`.
fn differences(original: &Value, after: &Value, left_behind: &mut Vec<String>) -> Vec<String> {
    let (p0, e0, a0) = writable(original);
    let (p1, e1, a1) = writable(after);
    let mut out = Vec::new();
    if p0 != p1 {
        out.push(format!("isPrimary is {p1}, was {p0}"));
    }
    if e0 != e1 {
        out.push(format!("systemData.registrationEnabled is {e1}, was {e0}"));
    }
    match (&a0, &a1) {
        (None, Some(now)) if now.is_empty() => {
            out.push("additionalData is {} on a device that had none".to_owned());
        }
        _ => {
            let before = a0.unwrap_or_default();
            let now = a1.unwrap_or_default();
            left_behind.extend(now.keys().filter(|k| !before.contains_key(*k)).cloned());
            if !left_behind.is_empty() {
                out.push(format!(
                    "custom attributes left behind (the target did not delete them when sent as null): {}",
                    left_behind.join(", ")
                ));
            }
            let changed: Vec<&String> = before
                .keys()
                .filter(|k| now.get(*k) != before.get(*k))
                .collect();
            if !changed.is_empty() {
                out.push(format!(
                    "custom attributes not back to their original value: {}",
                    changed
                        .iter()
                        .map(|k| k.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
    }
    out
}

async fn read(client: &Client, id: &str) -> Option<Value> {
    let response = client
        .send(&Call::new(Operation::Get, id.to_owned()))
        .await
        .ok()?;
    (response.status == 200)
        .then(|| serde_json::from_slice(&response.body).ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_name_what_is_left() {
        let original = json!({"isPrimary": true, "systemData": {"registrationEnabled": false}});
        let mut left = Vec::new();
        assert!(differences(&original, &original, &mut left).is_empty());
        let after = json!({"isPrimary": true, "systemData": {"registrationEnabled": false},
            "additionalData": {}});
        let d = differences(&original, &after, &mut left);
        assert_eq!(d, vec!["additionalData is {} on a device that had none"]);
        let after = json!({"isPrimary": false, "systemData": {"registrationEnabled": false},
            "additionalData": {"pushcheck_x": 1}});
        let d = differences(&original, &after, &mut left);
        assert_eq!(left, vec!["pushcheck_x"]);
        assert_eq!(d.len(), 2, "{d:?}");
    }
}
