//! What the target answered compared with what the model answered: status, error code, and
//! bodies brought to a comparable form first (registration IDs replaced by their index `r0`…,
//! and on a live target only the writable part of a registration kept, since its read-only
//! systemData comes from a real phone the model never saw). The first difference is a
//! [`Divergence`] naming the step, the JSON pointer, what the model expected and what came.
//!
//! Against a live target a divergence on a step that relies on a documented simulator choice
//! (`mock::CHOICES`) is said to be one, not a failure: the docs leave that behaviour open.
//! This module is pure.

use serde::Serialize;
use serde_json::{Map, Value};

use super::step::Step;
use crate::api::{Operation, field};

/// What differed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Where {
    /// The step's HTTP status.
    Status,
    /// The error code (`errorCode`, or the legacy `messageId`).
    ErrorCode,
    /// The step's own answer body.
    Answer,
    /// A registration read back (GET) after the step.
    ReadBack { reg: u8 },
    /// The target's answer breaks the contract by itself (`schema::judge`).
    Contract,
}

/// One difference between the target and the model, after step `step` (0-based).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Divergence {
    pub step: usize,
    #[serde(rename = "where")]
    pub at: Where,
    /// JSON pointer in the compared body (empty for status and error code).
    pub pointer: String,
    /// What the model (the simulator's rules) says.
    pub expected: String,
    /// What the target said.
    pub got: String,
    /// The simulator choice the step relies on, when the divergence may be that choice (live
    /// targets only): reported, not failed.
    pub choice: Option<&'static str>,
}

impl Divergence {
    /// One line: `step 3, read back r1 at /isPrimary: expected true, got false`.
    pub fn describe(&self) -> String {
        let at = match &self.at {
            Where::Status => "status".to_owned(),
            Where::ErrorCode => "error code".to_owned(),
            Where::Answer => format!("answer at {}", pointer_or_root(&self.pointer)),
            Where::ReadBack { reg } => {
                format!("r{reg} read back at {}", pointer_or_root(&self.pointer))
            }
            Where::Contract => "contract".to_owned(),
        };
        format!(
            "step {}, {at}: expected {}, got {}",
            self.step + 1,
            self.expected,
            self.got
        )
    }
}

fn pointer_or_root(pointer: &str) -> &str {
    if pointer.is_empty() { "/" } else { pointer }
}

pub use crate::api::client::error_code;

/// A body in comparable form: `ids[i]` becomes `r{i}`; with `live`, registrations keep only
/// their writable fields; an empty `additionalData` is the same as none.
pub fn normalize(value: &Value, ids: &[String], live: bool) -> Value {
    match value {
        Value::String(s) => match ids.iter().position(|id| id == s) {
            Some(i) => Value::String(format!("r{i}")),
            None => value.clone(),
        },
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| normalize(v, ids, live)).collect())
        }
        Value::Object(map) => {
            let registration = map.contains_key(field::REGISTRATION_ID);
            let mut out = Map::new();
            for (k, v) in map {
                // A live target may store null instead of deleting (a choice the docs leave
                // open): an attribute holding null is one the model deleted.
                let stored_null = |v: &Value| live && v.is_null();
                if registration
                    && k == field::ADDITIONAL_DATA
                    && v.as_object().is_some_and(|m| m.values().all(&stored_null))
                {
                    continue;
                }
                if registration
                    && k == field::ADDITIONAL_DATA
                    && let Some(m) = v.as_object()
                {
                    let kept: Map<String, Value> = m
                        .iter()
                        .filter(|(_, v)| !stored_null(v))
                        .map(|(k, v)| (k.clone(), normalize(v, ids, live)))
                        .collect();
                    out.insert(k.clone(), Value::Object(kept));
                    continue;
                }
                if registration && live && !writable(k) {
                    continue;
                }
                let v = if registration && live && k == field::SYSTEM_DATA {
                    v.get(field::REGISTRATION_ENABLED).map_or(
                        Value::Null,
                        |e| serde_json::json!({ field::REGISTRATION_ENABLED: e }),
                    )
                } else {
                    normalize(v, ids, live)
                };
                out.insert(k.clone(), v);
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

fn writable(key: &str) -> bool {
    [
        field::REGISTRATION_ID,
        field::IS_PRIMARY,
        field::SYSTEM_DATA,
        field::ADDITIONAL_DATA,
    ]
    .contains(&key)
}

/// A PATCH body's `systemData` names a field other than the one writable, `registrationEnabled`.
fn system_data_read_only(body: &Map<String, Value>) -> bool {
    body.get(field::SYSTEM_DATA)
        .and_then(Value::as_object)
        .is_some_and(|s| s.keys().any(|k| k != field::REGISTRATION_ENABLED))
}

/// The first difference between `expected` and `got`: `(pointer, expected, got)`.
pub fn first_difference(expected: &Value, got: &Value) -> Option<(String, String, String)> {
    diff(expected, got, String::new())
}

fn diff(expected: &Value, got: &Value, at: String) -> Option<(String, String, String)> {
    match (expected, got) {
        (Value::Object(a), Value::Object(b)) => {
            let keys = a.keys().chain(b.keys().filter(|k| !a.contains_key(*k)));
            for k in keys {
                let here = format!("{at}/{}", crate::schema::registry::pointer_token(k));
                match (a.get(k), b.get(k)) {
                    (Some(x), Some(y)) => {
                        if let Some(d) = diff(x, y, here) {
                            return Some(d);
                        }
                    }
                    (x, y) => return Some((here, shown(x), shown(y))),
                }
            }
            None
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(i, (x, y))| diff(x, y, format!("{at}/{i}"))),
        _ if expected == got => None,
        _ => Some((at, shown(Some(expected)), shown(Some(got)))),
    }
}

/// A value as a report shows it (long ones cut).
fn shown(value: Option<&Value>) -> String {
    let Some(value) = value else {
        return "nothing".to_owned();
    };
    let text = value.to_string();
    if text.chars().count() > 120 {
        let head: String = text.chars().take(120).collect();
        format!("{head}…")
    } else {
        text
    }
}

/// The simulator choice a divergence `d` on `step` is about, if the step exercises one where
/// the docs are silent and the divergence is in what that choice decides (the model's answer
/// had status `model_status`). Anything else stays a failure. `lead_shown`: the step keeps as
/// LEAD (`keepAsLead=true`) a person the target itself answered as LEAD earlier in the
/// sequence, so a promotion is the documented rule broken, not the choice of a starting type.
pub fn choice_for(
    step: &Step,
    d: &Divergence,
    model_status: u16,
    lead_shown: bool,
) -> Option<&'static str> {
    let body = step.body().and_then(|b| match b {
        super::step::Body::Json(v) => Some(v),
        super::step::Body::Raw(_) => None,
    });
    let has = |key: &str| body.is_some_and(|b| b.get(key).is_some());
    let under = |prefix: &str| d.pointer.starts_with(prefix);
    // A choice about a device's primary flag covers that device, not the others read back.
    let own_primary = match d.at {
        Where::ReadBack { reg } => reg == step.reg() && under("/isPrimary"),
        _ => under("/isPrimary"),
    };
    let status = matches!(d.at, Where::Status);
    let nulls = body
        .and_then(|b| b.get(field::ADDITIONAL_DATA))
        .and_then(Value::as_object)
        .is_some_and(|a| a.values().any(Value::is_null));
    let identifiers = body
        .and_then(|b| b.get(field::IDENTITY))
        .and_then(Value::as_object)
        .map_or(0, Map::len);
    match step.operation() {
        // Which error shape (and key) a refused body gets is open: the spec implies one shape.
        _ if model_status == 400 && matches!(d.at, Where::ErrorCode) => {
            Some("errors.validation_errors_json_pointer")
        }
        Operation::Patch
            if body.is_some_and(|b| {
                b.as_object()
                    .is_some_and(|o| o.keys().any(|k| !writable(k)) || system_data_read_only(o))
            }) =>
        {
            Some("patch.read_only_fields_ignored")
        }
        Operation::Patch if has(field::IS_PRIMARY) && (status || own_primary) => {
            Some("primary.unpersonalized_device")
        }
        Operation::Patch if has(field::ADDITIONAL_DATA) && under("/additionalData") => {
            Some("patch.additional_data_merged")
        }
        // null in additionalData refused (or its error code) by a target that does not delete
        // on null: as correct by the docs as the simulator's delete.
        Operation::Patch
            if model_status == 200 && (status || matches!(d.at, Where::ErrorCode)) && nulls =>
        {
            Some("patch.additional_data_merged")
        }
        Operation::Personalize if model_status == 400 && status => {
            Some("personalize.conflict_status_400")
        }
        Operation::Personalize if under("/type") && !lead_shown => {
            Some("personalize.type_lead_promoted")
        }
        Operation::Personalize if under("/contactInformation/push") => {
            Some("personalize.return_push_same_application")
        }
        Operation::Personalize if identifiers > 1 && under("/contactInformation") => {
            Some("personalize.identity_added_to_match")
        }
        Operation::Personalize if has(field::ATTRIBUTES) && matches!(d.at, Where::Answer) => {
            Some("personalize.attributes_replace_fields_merge_custom")
        }
        Operation::Personalize if own_primary => Some("primary.cleared_on_detach"),
        Operation::Depersonalize if status => Some("depersonalize.unpersonalized_ok"),
        Operation::Depersonalize if own_primary => Some("primary.cleared_on_detach"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_become_indexes_and_live_registrations_keep_their_writable_part() {
        let ids = vec!["A".to_owned(), "B".to_owned()];
        let reg = json!({"registrationId": "B", "applicationId": "X", "isPrimary": true,
            "systemData": {"registrationEnabled": true, "os": "iOS"}, "additionalData": {}});
        assert_eq!(
            normalize(&reg, &ids, true),
            json!({"registrationId": "r1", "isPrimary": true,
                "systemData": {"registrationEnabled": true}})
        );
        assert_eq!(normalize(&reg, &ids, false)["applicationId"], "X");
    }

    #[test]
    fn the_first_difference_names_its_pointer() {
        let a = json!({"isPrimary": true, "additionalData": {"a/b": 1}});
        let b = json!({"isPrimary": true, "additionalData": {"a/b": 2}});
        assert_eq!(
            first_difference(&a, &b),
            Some(("/additionalData/a~1b".into(), "1".into(), "2".into()))
        );
        assert_eq!(first_difference(&a, &a), None);
        let missing = first_difference(&json!({"type": "LEAD"}), &json!({}));
        assert_eq!(
            missing,
            Some(("/type".into(), "\"LEAD\"".into(), "nothing".into()))
        );
    }

    #[test]
    fn error_codes_of_each_shape() {
        assert_eq!(
            error_code(br#"{"errorCode":48013,"errorMessage":"x"}"#),
            Some("48013".into())
        );
        let legacy =
            br#"{"requestError":{"serviceException":{"messageId":"BAD_REQUEST","text":"t"}}}"#;
        assert_eq!(error_code(legacy), Some("BAD_REQUEST".into()));
        assert_eq!(error_code(b""), None);
    }

    #[test]
    fn only_a_divergence_in_what_a_choice_decides_is_excused() {
        use super::super::step::{Body, Flags};
        let d = |at: Where, pointer: &str| Divergence {
            step: 0,
            at,
            pointer: pointer.into(),
            expected: String::new(),
            got: String::new(),
            choice: None,
        };
        let personalize = |identity: Value| Step::Personalize {
            reg: 0,
            flags: Flags::default(),
            body: Body::Json(json!({ "identity": identity })),
        };
        let one = personalize(json!({"phoneNumber": "{{phone:0}}"}));
        let two = personalize(json!({"phoneNumber": "{{phone:0}}", "email": "{{email:0}}"}));
        // A merge refused where the model merges: a failure, not a choice.
        assert_eq!(choice_for(&one, &d(Where::Status, ""), 200, false), None);
        assert_eq!(
            choice_for(&one, &d(Where::Answer, "/externalId"), 200, false),
            None
        );
        let cases = [
            (&one, d(Where::Status, ""), 400),
            (&one, d(Where::Answer, "/type"), 200),
            (&two, d(Where::Answer, "/contactInformation/emails/0"), 200),
            (&one, d(Where::ErrorCode, ""), 400),
        ];
        for (step, d, status) in cases {
            let id = choice_for(step, &d, status, false).expect("a choice");
            assert!(crate::mock::CHOICES.iter().any(|c| c.id == id), "{id}");
        }
        // Another device's primary flag changed by a personalize: no choice covers that.
        let other = d(Where::ReadBack { reg: 1 }, "/isPrimary");
        assert_eq!(choice_for(&one, &other, 200, false), None);
        // A promotion after the target itself showed the person as LEAD, with keepAsLead=true:
        // the documented rule broken, whatever type a new person starts with.
        assert_eq!(
            choice_for(&one, &d(Where::Answer, "/type"), 200, true),
            None
        );
        let own = d(Where::ReadBack { reg: 0 }, "/isPrimary");
        assert_eq!(
            choice_for(&one, &own, 200, false),
            Some("primary.cleared_on_detach")
        );
        let patch = Step::Patch {
            reg: 0,
            body: Body::Json(json!({"isPrmary": true})),
        };
        let id = choice_for(&patch, &d(Where::Status, ""), 200, false);
        assert_eq!(id, Some("patch.read_only_fields_ignored"));
    }
}
