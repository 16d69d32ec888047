//! The model side of an attempt: the simulator's rules in process ([`Rules::answer`]), asked
//! the same steps as the target, and put in the same known start state a live target's devices
//! get. Also the identity a step sends, for the judge's meaning check.

use serde_json::{Map, Value, json};

use super::step::{Body, Namespace, Step};
use crate::api::{Operation, field};
use crate::mock::{PersonalizeFlags, Rules, SimRequest};

/// One answer, whichever side gave it.
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) body: Vec<u8>,
}

/// The model of one attempt: fresh rules and their registration IDs.
pub(super) struct Model {
    pub(super) rules: Rules,
    pub(super) ids: Vec<String>,
    pub(super) auth: String,
    pub(super) app_code: String,
}

impl Model {
    pub(super) fn answer(&self, step: &Step, ns: &Namespace) -> Answer {
        let id = self
            .ids
            .get(usize::from(step.reg()))
            .map_or("", String::as_str);
        let bytes = step.body().map(|b| ns.bytes(b)).unwrap_or_default();
        let f = step.flags();
        let mut request = SimRequest::new(step.operation(), id)
            .authorization(&self.auth)
            .app_code(&self.app_code)
            .flags(PersonalizeFlags {
                force_depersonalize: f.force_depersonalize,
                keep_as_lead: f.keep_as_lead,
                return_push: f.return_push,
                set_device_as_primary: f.set_device_as_primary,
            });
        if step.body().is_some() {
            request = request.json(&bytes);
        }
        let answer = self.rules.answer(&request);
        Answer {
            status: answer.status(),
            body: self.rules.body(&answer),
        }
    }
}

impl Model {
    /// The model's side of a live target's known state: the same requests on its devices,
    /// then the custom attributes the target kept (`adopted`, an object or null) written in, so
    /// both sides start alike.
    pub(super) fn known_state(&self, reg: u8, adopted: &Value) {
        let ns = Namespace::new(0, 0);
        self.answer(&Step::Depersonalize { reg }, &ns);
        let current = self.answer(&Step::Get { reg }, &ns);
        let current: Value = serde_json::from_slice(&current.body).unwrap_or(Value::Null);
        let body = Body::Json(known_state_patch(&current));
        self.answer(&Step::Patch { reg, body }, &ns);
        if adopted.as_object().is_some_and(|a| !a.is_empty()) {
            let body = Body::Json(json!({ field::ADDITIONAL_DATA: adopted }));
            self.answer(&Step::Patch { reg, body }, &ns);
        }
    }
}

/// The identity a personalize step sends, resolved (`Null` when none, or not an object).
pub(super) fn identity_sent(step: &Step, ns: &Namespace) -> Value {
    match (step.operation(), step.body()) {
        (Operation::Personalize, Some(Body::Json(body))) => body
            .get(field::IDENTITY)
            .filter(|i| i.is_object())
            .map_or(Value::Null, |i| ns.resolve(i)),
        _ => Value::Null,
    }
}

/// The PATCH that puts a registration (as read) into the known state a live sequence starts
/// from: not primary, enabled, every custom attribute deleted (`null`).
pub(super) fn known_state_patch(current: &Value) -> Value {
    let deleted: Map<String, Value> = current
        .get(field::ADDITIONAL_DATA)
        .and_then(Value::as_object)
        .map(|m| m.keys().map(|k| (k.clone(), Value::Null)).collect())
        .unwrap_or_default();
    let mut body = json!({
        field::IS_PRIMARY: false,
        field::SYSTEM_DATA: { field::REGISTRATION_ENABLED: true },
    });
    // Nothing to delete: no additionalData at all (an empty one would leave `{}` on a device
    // that had none).
    if !deleted.is_empty() {
        body[field::ADDITIONAL_DATA] = Value::Object(deleted);
    }
    body
}
