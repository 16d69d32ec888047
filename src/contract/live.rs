//! Live-target safety: counting stop signals, and putting a device back as the run found it.
//!
//! **Restore.** After every writing case, each of its devices is depersonalized if the case
//! personalized it, then its writable fields are written back: `isPrimary`,
//! `systemData.registrationEnabled`, the original custom attributes, and every custom attribute
//! the run added sent as `null` — the vendor's mobile SDKs delete an attribute that way, but no
//! delete is documented for People v2, so `null` is sent only where the target's own answer
//! showed that it deletes ([`TargetChoices::null_attribute`], learned by `api::learn`). If the
//! whole PATCH is refused, each field goes back in a request of its own, so one refused field
//! keeps no other from going back. The device is then read back and compared with its original
//! *by meaning* (absent and `{}` alike): what still differs is a [`Leftover`] whose cause says
//! whose doing it is — a target's choice (it refused `null` or `isPrimary` with a 4xx, or stores
//! `null`: reported beside the verdict) or a server fault (a 5xx, a write answered 200 and not
//! applied: a failure). Where `null` deletes, attributes of earlier pushcheck runs found on the
//! device (all named `pushcheck_…`) are removed too. A device's person binding cannot be read
//! through this API and is not re-established: `api::learn` proves each device belongs to nobody
//! before any write.
//!
//! **Stop signals** (Ctrl-C, SIGTERM, SIGHUP, counted alike by [`crate::interrupt`]). The first
//! one stops the running case; its restore runs. A second one skips what is left of the
//! restore, and the devices not restored are listed.

use serde_json::{Map, Value, json};

use crate::api::client::{Call, Client};
use crate::api::footprint::{self, Cause, Leftover, NullAnswer};
use crate::api::learn::TargetChoices;
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
/// The writable state that matters for a restore, taken from a registration's JSON: `isPrimary`,
/// `systemData.registrationEnabled`, and the custom attributes (absent and `{}` alike: empty).
fn writable(registration: &Value) -> (Value, Value, Map<String, Value>) {
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
            .cloned()
            .unwrap_or_default(),
    )
}

/// What the restore aims at: the original, less attributes of earlier pushcheck runs when the
/// target deletes on `null` (the run then leaves the device cleaner than it found it).
fn aim(original: &Value, choices: &TargetChoices) -> Value {
    let mut aim = original.clone();
    let deletes = choices
        .null_attribute
        .is_none_or(|n| n == NullAnswer::Deletes);
    if deletes
        && let Some(data) = aim
            .get_mut(field::ADDITIONAL_DATA)
            .and_then(Value::as_object_mut)
    {
        data.retain(|k, _| !footprint::is_ours(k));
    }
    aim
}

/// How each PATCH of a restore was answered, for telling a target's choice from a fault.
#[derive(Default)]
struct Answers {
    /// The status of the PATCH that sent attributes as `null` (`None`: none sent, or no answer).
    nulls: Option<u16>,
    /// The status of the PATCH that set `isPrimary` back.
    primary: Option<u16>,
    /// Problems the server caused on the way (5xx, no answer).
    faults: Vec<String>,
}

/// Puts one device back as `original` shows it; `None` when it is back (by meaning: absent and
/// `{}` are alike), else what is left and whose doing it is.
pub(crate) async fn restore_device(
    client: &Client,
    redactor: &Redactor,
    id: &str,
    original: &Value,
    personalized: bool,
    choices: &TargetChoices,
) -> Option<Leftover> {
    let mut answers = Answers::default();
    if personalized {
        let call = Call::new(Operation::Depersonalize, id.to_owned());
        match client.send(&call).await {
            Ok(r) if r.status == 200 => {}
            Ok(r) => answers
                .faults
                .push(format!("depersonalize answered HTTP {}", r.status)),
            Err(e) => answers.faults.push(e.to_string()),
        }
    }
    let aim = aim(original, choices);
    let current = read(client, id).await;
    patch_back(client, id, &aim, current.as_ref(), choices, &mut answers).await;
    let leftover = match read(client, id).await {
        Some(after) => judge(&aim, &after, &answers, choices),
        None => Some((
            vec!["its state (not readable)".to_owned()],
            Cause::ServerFault,
            "the device could not be read back after the restore".to_owned(),
        )),
    };
    leftover.map(|(items, cause, reason)| Leftover {
        registration_id: id.to_owned(),
        items,
        cause,
        reason: redactor.scrub(&reason),
    })
}

/// Sends `body` as a PATCH of `id`: the status, or why there was none (a fault).
async fn patch(client: &Client, id: &str, body: Value, answers: &mut Answers) -> Option<u16> {
    let call = Call::new(Operation::Patch, id.to_owned()).json(body);
    match client.send(&call).await {
        Ok(r) => {
            if r.status >= 500 {
                answers
                    .faults
                    .push(format!("PATCH back answered HTTP {}", r.status));
            }
            Some(r.status)
        }
        Err(e) => {
            answers.faults.push(e.to_string());
            None
        }
    }
}

/// PATCHes the writable fields back: first all in one request; if that is refused, the custom
/// attributes, `isPrimary` and `registrationEnabled` one request each, so that one refused
/// field (a target that refuses `null`, or `isPrimary: true` on a device of nobody) does not
/// keep the others from going back. Attributes the run added go as `null` only where the target
/// deletes on `null` (or that is not known).
async fn patch_back(
    client: &Client,
    id: &str,
    aim: &Value,
    current: Option<&Value>,
    choices: &TargetChoices,
    answers: &mut Answers,
) {
    let (is_primary, enabled, mut data) = writable(aim);
    let send_nulls = choices
        .null_attribute
        .is_none_or(|n| n == NullAnswer::Deletes);
    let added: Vec<String> = current
        .map(|c| writable(c).2)
        .unwrap_or_default()
        .keys()
        .filter(|k| !data.contains_key(*k))
        .cloned()
        .collect();
    if send_nulls {
        data.extend(added.iter().map(|k| (k.clone(), Value::Null)));
    }
    let attributes = (!data.is_empty()).then(|| json!({ field::ADDITIONAL_DATA: data }));
    let mut whole = json!({
        field::IS_PRIMARY: is_primary,
        field::SYSTEM_DATA: { field::REGISTRATION_ENABLED: enabled },
    });
    if let Some(a) = &attributes {
        whole[field::ADDITIONAL_DATA] = a[field::ADDITIONAL_DATA].clone();
    }
    let nulls_sent = send_nulls && !added.is_empty();
    let status = patch(client, id, whole, answers).await;
    if status.is_some_and(|s| (200..300).contains(&s)) {
        answers.primary = status;
        answers.nulls = nulls_sent.then_some(status).flatten();
        return;
    }
    if let Some(body) = attributes {
        let status = patch(client, id, body, answers).await;
        if nulls_sent {
            answers.nulls = status;
        }
        if nulls_sent && status.is_some_and(|s| (400..500).contains(&s)) {
            // Refused with the nulls: the original values alone still go back.
            let (_, _, original) = writable(aim);
            if !original.is_empty() {
                let body = json!({ field::ADDITIONAL_DATA: original });
                patch(client, id, body, answers).await;
            }
        }
    }
    answers.primary = patch(
        client,
        id,
        json!({ field::IS_PRIMARY: is_primary }),
        answers,
    )
    .await;
    let body = json!({ field::SYSTEM_DATA: { field::REGISTRATION_ENABLED: enabled } });
    patch(client, id, body, answers).await;
}

/// What differs between the aim and the state read back, and whose doing it is: a field the
/// target refused (4xx) to set back is its choice; one it answered 200 to and did not apply, or
/// a 5xx on the way, is a server fault. `None` when the device is back.
fn judge(
    aim: &Value,
    after: &Value,
    answers: &Answers,
    choices: &TargetChoices,
) -> Option<(Vec<String>, Cause, String)> {
    let (p0, e0, a0) = writable(aim);
    let (p1, e1, a1) = writable(after);
    let mut items = Vec::new();
    let mut faults = answers.faults.clone();
    let mut reasons = Vec::new();
    if p0 != p1 {
        items.push(format!("isPrimary {p1} (was {p0})"));
        if answers.primary.is_some_and(|s| (400..500).contains(&s)) {
            reasons.push(format!("the target refuses isPrimary={p0} here (HTTP 4xx)"));
        } else {
            faults.push(format!("isPrimary={p0} was answered 200 and not applied"));
        }
    }
    if e0 != e1 {
        items.push(format!("systemData.registrationEnabled {e1} (was {e0})"));
        faults.push(format!("registrationEnabled={e0} was not applied"));
    }
    let kept: Vec<&String> = a1.keys().filter(|k| !a0.contains_key(*k)).collect();
    if !kept.is_empty() {
        items.extend(kept.iter().map(|k| k.to_string()));
        let answer = match answers.nulls {
            None => choices.null_attribute,
            status => Some(NullAnswer::classify(
                status,
                kept.first().and_then(|k| a1.get(*k)),
            )),
        };
        match answer {
            Some(n) if n.cause() == Cause::TargetChoice => reasons.push(n.describe().to_owned()),
            Some(n) => faults.push(n.describe().to_owned()),
            None => faults.push("custom attributes the run added are still there".to_owned()),
        }
    }
    // pushcheck's own attributes kept in the aim (the target cannot delete them: left by an
    // earlier run) are named again, so a residue is never taken for the device's own state.
    let earlier: Vec<&String> = a0
        .keys()
        .filter(|k| footprint::is_ours(k) && a1.contains_key(*k))
        .collect();
    if !earlier.is_empty() {
        items.extend(earlier.iter().map(|k| k.to_string()));
        let why = choices
            .null_attribute
            .map_or("the target keeps them", NullAnswer::describe);
        reasons.push(format!("left by an earlier pushcheck run: {why}"));
    }
    let changed: Vec<&String> = a0.keys().filter(|k| a1.get(*k) != a0.get(*k)).collect();
    if !changed.is_empty() {
        items.extend(changed.iter().map(|k| format!("{k} (changed)")));
        faults.push("custom attributes not back to their original value".to_owned());
    }
    if items.is_empty() && faults.is_empty() {
        return None;
    }
    let cause = if faults.is_empty() {
        Cause::TargetChoice
    } else {
        Cause::ServerFault
    };
    reasons.extend(faults);
    Some((items, cause, reasons.join("; ")))
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
    fn the_restore_judges_by_meaning_and_names_whose_doing() {
        let choices = TargetChoices::default();
        let answers = Answers::default();
        let original = json!({"isPrimary": true, "systemData": {"registrationEnabled": false}});
        assert!(judge(&original, &original, &answers, &choices).is_none());
        let after = json!({"isPrimary": true, "systemData": {"registrationEnabled": false},
            "additionalData": {}});
        assert!(
            judge(&original, &after, &answers, &choices).is_none(),
            "absent and {{}} are alike"
        );
        let after = json!({"isPrimary": true, "systemData": {"registrationEnabled": false},
            "additionalData": {"pushcheck_x": 1}});
        let refused = Answers {
            nulls: Some(400),
            ..Answers::default()
        };
        let (items, cause, _) = judge(&original, &after, &refused, &choices).unwrap();
        assert_eq!(items, vec!["pushcheck_x"]);
        assert_eq!(cause, Cause::TargetChoice);
        let ignored = Answers {
            nulls: Some(200),
            ..Answers::default()
        };
        let (_, cause, _) = judge(&original, &after, &ignored, &choices).unwrap();
        assert_eq!(cause, Cause::ServerFault, "200 and not applied");
    }

    #[test]
    fn earlier_runs_attributes_are_removed_only_where_null_deletes() {
        let original = json!({"additionalData": {"pushcheck_otp": true, "theirs": 1}});
        let mut choices = TargetChoices {
            null_attribute: Some(NullAnswer::Deletes),
            ..TargetChoices::default()
        };
        assert_eq!(
            aim(&original, &choices)["additionalData"],
            json!({"theirs": 1})
        );
        choices.null_attribute = Some(NullAnswer::Refused);
        assert_eq!(aim(&original, &choices), original);
    }
}
