//! Learning a live target's choices, with few requests, before a run writes to it.
//!
//! The documentation is silent on things a writing run depends on: does `null` delete a custom
//! attribute, may a device that belongs to nobody be primary, what does depersonalize answer and
//! does it clear `isPrimary`. The simulator picked answers (`mock::CHOICES`); a live account may
//! have picked others, and is as correct by the docs. [`probe`] asks the target itself, on the
//! devices the user named, and returns:
//! - each device's **ownership** before any other write: a personalize to a fresh identity of the
//!   run, without `forceDepersonalize`, succeeds on a device of nobody and is refused
//!   (`PERSONALIZATION_IMPOSSIBLE`) on a device of someone else — a refused personalize changes
//!   nothing, so a device bound before the run is proven so and left untouched;
//! - the [`TargetChoices`] it learned (on the first device of nobody);
//! - [`ServerFinding`]s: answers no correct server gives (a depersonalize that answers 200 and
//!   leaves the device bound, a write refused with a 5xx, a garbled answer) — the server's fault,
//!   never the user's;
//! - what it could not put back ([`Leftover`]s).
//!
//! Every probe puts back what it changed (the device is depersonalized again, `isPrimary` and the
//! probe attribute set back) and reads the device back. The probe never reads or moves a
//! person from before the run. Its identities are `pushcheck-probe-<run>-<n>` external IDs.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use super::client::{Call, Client, Response};
use super::footprint::{Cause, Leftover, NullAnswer, PROBE_ATTRIBUTE};
use super::personalize_flag::SET_DEVICE_AS_PRIMARY;
use super::redact::Redactor;
use super::{Operation, field, message_id};

/// How a target answered `isPrimary: true` on a device that belongs to nobody.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PrimaryAnswer {
    /// 200, and GET reads it back true.
    Accepted,
    /// 200, and GET reads back false: silently not applied.
    Ignored,
    /// A 4xx.
    Refused,
}

/// What the target chose where the docs are silent, as its own answers showed. `None`: not
/// learned (no device of nobody to learn it on, or the probe did not get that far).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TargetChoices {
    /// A custom attribute sent as `null` in a PATCH.
    pub null_attribute: Option<NullAnswer>,
    /// `isPrimary: true` on a device of nobody.
    pub primary_on_unowned: Option<PrimaryAnswer>,
    /// A depersonalize of a device the probe had personalized: the HTTP status.
    pub depersonalize_status: Option<u16>,
    /// A depersonalize of a primary device clears `isPrimary`.
    pub primary_cleared_on_detach: Option<bool>,
    /// A depersonalize of a device that belongs to nobody: the HTTP status.
    pub depersonalize_unowned_status: Option<u16>,
}

impl TargetChoices {
    /// Whether the target's own answers agree with the simulator's choice `id`
    /// (`mock::CHOICES`); `None` when that choice is not learned by the probe.
    pub fn agrees_with(&self, id: &str) -> Option<bool> {
        match id {
            "patch.additional_data_merged" => self.null_attribute.map(|n| n == NullAnswer::Deletes),
            "primary.unpersonalized_device" => self
                .primary_on_unowned
                .map(|p| p == PrimaryAnswer::Accepted),
            "primary.cleared_on_detach" => self.primary_cleared_on_detach,
            "depersonalize.unpersonalized_ok" => {
                self.depersonalize_unowned_status.map(|s| s == 200)
            }
            _ => None,
        }
    }

    /// What each learned choice is, one line each: `(simulator choice id, what the target does)`.
    pub fn lines(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(n) = self.null_attribute {
            out.push(("patch.additional_data_merged", n.describe().to_owned()));
        }
        if let Some(p) = self.primary_on_unowned {
            let text = match p {
                PrimaryAnswer::Accepted => "isPrimary=true is accepted on a device of nobody",
                PrimaryAnswer::Ignored => {
                    "isPrimary=true on a device of nobody answers 200 and is not stored"
                }
                PrimaryAnswer::Refused => "isPrimary=true on a device of nobody is refused (4xx)",
            };
            out.push(("primary.unpersonalized_device", text.to_owned()));
        }
        if let Some(cleared) = self.primary_cleared_on_detach {
            let text = if cleared {
                "depersonalize clears isPrimary"
            } else {
                "depersonalize keeps isPrimary"
            };
            out.push(("primary.cleared_on_detach", text.to_owned()));
        }
        if let Some(status) = self.depersonalize_unowned_status {
            out.push((
                "depersonalize.unpersonalized_ok",
                format!("depersonalize of a device of nobody answers HTTP {status}"),
            ));
        }
        out
    }
}

/// Whom a device belonged to before the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "detail")]
pub enum Ownership {
    /// Nobody: writing cases may use it.
    Nobody,
    /// A person from before the run (a configuration problem: name test devices of nobody).
    BoundBefore,
    /// The probe could not tell: the target misbehaved (see the findings).
    Unknown,
}

/// An answer no correct server gives, seen by a probe: a server finding (the run fails).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerFinding {
    /// What was being probed (`ownership`, `depersonalize`, `null attribute`, …).
    pub probe: &'static str,
    pub registration_id: String,
    pub message: String,
}

/// What the probe learned.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Probed {
    pub choices: TargetChoices,
    pub ownership: BTreeMap<String, Ownership>,
    pub findings: Vec<ServerFinding>,
    pub leftovers: Vec<Leftover>,
    /// Requests the probe sent.
    pub requests: usize,
    /// Devices the probe wrote to (to be put back, also when it was interrupted).
    pub touched: Vec<String>,
    /// A stop signal (Ctrl-C, SIGTERM, SIGHUP) ended the probe early: what it learned is
    /// partial, and the touched devices must be put back.
    pub interrupted: bool,
}

/// One probe run: the client, the run tag for fresh identities, what was learned so far.
struct Prober<'a> {
    client: &'a Client,
    redactor: &'a Redactor,
    run_tag: u64,
    identities: u32,
    out: Probed,
}

/// Probes `originals` (each device as read before the run, by registration ID); see the module
/// documentation. Learns the choices on the first device of nobody.
pub async fn probe(
    client: &Client,
    redactor: &Redactor,
    originals: &BTreeMap<String, Value>,
    run_tag: u64,
) -> Probed {
    let mut p = Prober {
        client,
        redactor,
        run_tag,
        identities: 0,
        out: Probed::default(),
    };
    let mut learned = false;
    for (id, original) in originals {
        if p.out.interrupted {
            break;
        }
        let owner = p.ownership(id, !learned).await;
        if owner == Ownership::Nobody && !learned {
            learned = true;
            p.learn_on(id, original).await;
        }
        p.out.ownership.insert(id.clone(), owner);
    }
    p.out
}

impl Prober<'_> {
    /// Sends `call`, raced against a stop signal (after one, nothing more is sent).
    async fn send(&mut self, call: Call) -> Result<Response, String> {
        if self.out.interrupted || crate::interrupt::interrupted() {
            self.out.interrupted = true;
            return Err("interrupted by a stop signal".to_owned());
        }
        if call.operation != Operation::Get && !self.out.touched.contains(&call.registration_id) {
            self.out.touched.push(call.registration_id.clone());
        }
        self.out.requests += 1;
        tokio::select! {
            sent = self.client.send(&call) => sent.map_err(|e| self.redactor.scrub(&e.to_string())),
            () = crate::interrupt::at_least(1) => {
                self.out.interrupted = true;
                Err("interrupted by a stop signal".to_owned())
            }
        }
    }

    /// Records a server finding (none once a stop signal cut the probe short: its failures
    /// are the interruption's, not the server's).
    fn finding(&mut self, probe: &'static str, id: &str, message: String) {
        if self.out.interrupted {
            return;
        }
        let message = self.redactor.scrub(&message);
        self.out.findings.push(ServerFinding {
            probe,
            registration_id: id.to_owned(),
            message,
        });
    }

    /// A personalize of `id` to a fresh identity of the run, without `forceDepersonalize`.
    fn fresh_personalize(&mut self, id: &str) -> Call {
        self.identities += 1;
        let external_id = format!("pushcheck-probe-{}-{}", self.run_tag, self.identities);
        let body = json!({ field::IDENTITY: { field::EXTERNAL_ID: external_id } });
        Call::new(Operation::Personalize, id.to_owned()).json(body)
    }

    async fn read(&mut self, id: &str) -> Option<Value> {
        let r = self
            .send(Call::new(Operation::Get, id.to_owned()))
            .await
            .ok()?;
        (r.status == 200)
            .then(|| serde_json::from_slice(&r.body).ok())
            .flatten()
    }

    /// Whom `id` belonged to; a device of nobody is left depersonalized, and that the
    /// depersonalize took effect is proven (a second fresh identity is accepted without force,
    /// then undone). With `first`, the personalize also asks for `setDeviceAsPrimary`, and what
    /// depersonalize does to `isPrimary` is learned.
    async fn ownership(&mut self, id: &str, first: bool) -> Ownership {
        let mut call = self.fresh_personalize(id);
        if first {
            call = call.flag(SET_DEVICE_AS_PRIMARY, true);
        }
        let described = call.describe();
        let response = match self.send(call).await {
            Ok(r) => r,
            Err(e) => {
                self.finding("ownership", id, format!("no answer to {described}: {e}"));
                return Ownership::Unknown;
            }
        };
        if response.error_code().as_deref() == Some(message_id::PERSONALIZATION_IMPOSSIBLE) {
            return Ownership::BoundBefore;
        }
        if response.status != 200 {
            let message = format!(
                "{described} (a fresh identity, a device expected to belong to nobody) answered HTTP {}",
                response.status
            );
            self.finding("ownership", id, message);
            return Ownership::Unknown;
        }
        // The device was nobody's and is now the probe person's: unbind it, and find out
        // whether the unbinding is real.
        let cleared = if first {
            self.read(id).await.and_then(|v| {
                let primary = v.get(field::IS_PRIMARY).and_then(Value::as_bool)?;
                Some(primary)
            })
        } else {
            None
        };
        if !self.depersonalize(id, first).await {
            return Ownership::Unknown;
        }
        if first && cleared == Some(true) {
            self.out.choices.primary_cleared_on_detach = self
                .read(id)
                .await
                .and_then(|v| v.get(field::IS_PRIMARY).and_then(Value::as_bool))
                .map(|primary| !primary);
        }
        if !self.depersonalize_took_effect(id).await {
            return Ownership::Unknown;
        }
        Ownership::Nobody
    }

    /// Depersonalizes `id` (the probe bound it); false, with a finding, when that failed.
    async fn depersonalize(&mut self, id: &str, learn: bool) -> bool {
        let call = Call::new(Operation::Depersonalize, id.to_owned());
        let described = call.describe();
        match self.send(call).await {
            Ok(r) if r.status == 200 => {
                if learn {
                    self.out.choices.depersonalize_status = Some(200);
                }
                true
            }
            Ok(r) => {
                if learn {
                    self.out.choices.depersonalize_status = Some(r.status);
                }
                self.finding(
                    "depersonalize",
                    id,
                    format!(
                        "{described} of a device the probe had just personalized answered HTTP {}",
                        r.status
                    ),
                );
                self.left_bound(id);
                false
            }
            Err(e) => {
                self.no_answer(id, &described, &e);
                self.left_bound(id);
                false
            }
        }
    }

    /// After a depersonalize answered 200: a second fresh identity must be accepted without
    /// `forceDepersonalize` (the device belongs to nobody again); then unbind it again.
    async fn depersonalize_took_effect(&mut self, id: &str) -> bool {
        let call = self.fresh_personalize(id);
        let described = call.describe();
        match self.send(call).await {
            Ok(r) if r.status == 200 => self.depersonalize(id, false).await,
            Ok(r) if r.error_code().as_deref() == Some(message_id::PERSONALIZATION_IMPOSSIBLE) => {
                self.finding(
                    "depersonalize",
                    id,
                    format!(
                        "depersonalize answered 200 but did not unbind the device: {described} (another fresh identity) was then refused with {}",
                        message_id::PERSONALIZATION_IMPOSSIBLE
                    ),
                );
                self.left_bound(id);
                false
            }
            Ok(r) => {
                self.finding(
                    "depersonalize",
                    id,
                    format!(
                        "{described} after a depersonalize answered HTTP {}",
                        r.status
                    ),
                );
                false
            }
            Err(e) => {
                self.no_answer(id, &described, &e);
                false
            }
        }
    }

    /// A depersonalize probe that got no answer.
    fn no_answer(&mut self, id: &str, described: &str, error: &str) {
        self.finding(
            "depersonalize",
            id,
            format!("no answer to {described}: {error}"),
        );
    }

    fn left_bound(&mut self, id: &str) {
        if self.out.interrupted {
            return;
        }
        self.out.leftovers.push(Leftover {
            registration_id: id.to_owned(),
            items: vec!["bound to a pushcheck-probe person".to_owned()],
            cause: Cause::ServerFault,
            reason: "the target did not depersonalize the device the probe had personalized"
                .to_owned(),
        });
    }

    /// On a device of nobody (just depersonalized by the probe): null in additionalData,
    /// isPrimary on a device of nobody, depersonalize of a device of nobody. Puts back what it
    /// changed and reads the device back.
    async fn learn_on(&mut self, id: &str, original: &Value) {
        let status = self
            .send(Call::new(Operation::Depersonalize, id.to_owned()))
            .await
            .map(|r| r.status)
            .ok();
        self.out.choices.depersonalize_unowned_status = status;
        self.learn_null(id, original).await;
        self.learn_primary(id, original).await;
    }

    async fn patch(&mut self, id: &str, body: Value) -> Result<Response, String> {
        self.send(Call::new(Operation::Patch, id.to_owned()).json(body))
            .await
    }

    async fn learn_null(&mut self, id: &str, original: &Value) {
        let data = |v: Value| json!({ field::ADDITIONAL_DATA: { PROBE_ATTRIBUTE: v } });
        match self.patch(id, data(json!(true))).await {
            Ok(r) if r.status == 200 => {}
            Ok(r) => {
                let message = format!(
                    "PATCH of one custom attribute ({PROBE_ATTRIBUTE}: true) answered HTTP {}",
                    r.status
                );
                self.finding("null attribute", id, message);
                return;
            }
            Err(e) => {
                self.finding("null attribute", id, e);
                return;
            }
        }
        let status = self
            .patch(id, data(Value::Null))
            .await
            .ok()
            .map(|r| r.status);
        let after = self.read(id).await;
        let kept = after
            .as_ref()
            .and_then(|v| v.get(field::ADDITIONAL_DATA))
            .and_then(|d| d.get(PROBE_ATTRIBUTE))
            .cloned();
        let answer = if after.is_none() {
            NullAnswer::Broken
        } else {
            NullAnswer::classify(status, kept.as_ref())
        };
        self.out.choices.null_attribute = Some(answer);
        let had = original
            .get(field::ADDITIONAL_DATA)
            .and_then(|d| d.get(PROBE_ATTRIBUTE))
            .is_some();
        if answer != NullAnswer::Deletes && !had {
            self.out.leftovers.push(Leftover {
                registration_id: id.to_owned(),
                items: vec![PROBE_ATTRIBUTE.to_owned()],
                cause: answer.cause(),
                reason: answer.describe().to_owned(),
            });
        }
        if answer.cause() == Cause::ServerFault {
            let message = format!("a custom attribute sent as null: {}", answer.describe());
            self.finding("null attribute", id, message);
        }
    }

    async fn learn_primary(&mut self, id: &str, original: &Value) {
        let was = original
            .get(field::IS_PRIMARY)
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let answer = match self.patch(id, json!({ field::IS_PRIMARY: true })).await {
            Ok(r) if (400..500).contains(&r.status) => PrimaryAnswer::Refused,
            Ok(r) if r.status == 200 => {
                let now = self.read(id).await;
                match now.as_ref().and_then(|v| v.get(field::IS_PRIMARY)) {
                    Some(Value::Bool(true)) => PrimaryAnswer::Accepted,
                    Some(Value::Bool(false)) => PrimaryAnswer::Ignored,
                    _ => return,
                }
            }
            Ok(r) => {
                let message = format!("PATCH isPrimary=true answered HTTP {}", r.status);
                self.finding("isPrimary", id, message);
                return;
            }
            Err(e) => {
                self.finding("isPrimary", id, e);
                return;
            }
        };
        self.out.choices.primary_on_unowned = Some(answer);
        let now = self
            .read(id)
            .await
            .and_then(|v| v.get(field::IS_PRIMARY).and_then(Value::as_bool));
        if now != Some(was) {
            let _ = self.patch(id, json!({ field::IS_PRIMARY: was })).await;
            let back = self
                .read(id)
                .await
                .and_then(|v| v.get(field::IS_PRIMARY).and_then(Value::as_bool));
            if back != Some(was) {
                let cause = if answer == PrimaryAnswer::Refused {
                    Cause::TargetChoice
                } else {
                    Cause::ServerFault
                };
                self.out.leftovers.push(Leftover {
                    registration_id: id.to_owned(),
                    items: vec![format!("isPrimary {}", !was)],
                    cause,
                    reason: format!("isPrimary could not be set back to {was}"),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agreement_is_read_from_what_was_learned() {
        let mut c = TargetChoices::default();
        assert_eq!(c.agrees_with("patch.additional_data_merged"), None);
        c.null_attribute = Some(NullAnswer::Refused);
        c.primary_on_unowned = Some(PrimaryAnswer::Accepted);
        assert_eq!(c.agrees_with("patch.additional_data_merged"), Some(false));
        assert_eq!(c.agrees_with("primary.unpersonalized_device"), Some(true));
        assert_eq!(c.agrees_with("request.check_order"), None);
        assert_eq!(c.lines().len(), 2);
    }
}
