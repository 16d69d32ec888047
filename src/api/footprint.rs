//! What a run may leave on a live account's devices, and whose doing a leftover is.
//!
//! Every command that writes (contract, contract --generate, load, check) puts each device back
//! as it found it, and reads it back. Where that is not possible, the difference is a
//! [`Leftover`] with a [`Cause`]:
//! - [`Cause::TargetChoice`]: a correct server chose, where the documentation is silent, in a way
//!   that keeps something (it refuses `null` as "delete this custom attribute", or stores it).
//!   Reported beside the verdict ("left on the devices"); it fails a run only when the user asks
//!   for that (`--fail-on-residue`).
//! - [`Cause::ServerFault`]: the server misbehaved while being put back (a 5xx, no answer, a
//!   write answered 200 and not applied). A server finding: it fails the run.
//! - [`Cause::NotRestored`]: the restore did not run (a second stop signal skipped it).
//!
//! **A bounded footprint.** Every custom attribute pushcheck writes on a device is named
//! [`ATTRIBUTE_PREFIX`]`…`, from a small fixed set of names reused by every run ([`names`]):
//! never a new name per case or per run. A target that cannot delete an attribute therefore
//! keeps at most that set, however many runs go by. A run's own values (its sequence numbers,
//! its run tag) go into attribute *values*, never names.
//!
//! This module holds data and a pure classification; it sends nothing.

use serde::Serialize;
use serde_json::Value;

/// The prefix of every custom attribute pushcheck writes on a device.
pub const ATTRIBUTE_PREFIX: &str = "pushcheck_";

/// The load's attribute: each PATCH of a load writes `"<run id>:<sequence number>"` there.
pub const LOAD_ATTRIBUTE: &str = "pushcheck_load_seq";

/// The attribute the target-choice probe writes and deletes.
pub const PROBE_ATTRIBUTE: &str = "pushcheck_probe";

/// The short, fixed attribute names of the contract suite and of generated sequences: the one
/// place they are spelled.
pub mod name {
    pub const OTP: &str = "pushcheck_otp";
    pub const NOTE: &str = "pushcheck_note";
    /// A string value (the string-length cases).
    pub const LONG: &str = "pushcheck_long";
    /// A number value (the number-range cases).
    pub const BIG: &str = "pushcheck_big";
    /// A date value (the date cases).
    pub const DATE: &str = "pushcheck_date";
    pub const TIER: &str = "pushcheck_tier";
    pub const SCORE: &str = "pushcheck_score";
    pub const VIP: &str = "pushcheck_vip";
    pub const SINCE: &str = "pushcheck_since";
}

/// Attributes of the contract suite (and of generated sequences) with a short, fixed name.
pub const CONTRACT_ATTRIBUTES: &[&str] = &[
    name::OTP,
    name::NOTE,
    name::LONG,
    name::BIG,
    name::DATE,
    name::TIER,
    name::SCORE,
    name::VIP,
    name::SINCE,
];

/// A name under [`ATTRIBUTE_PREFIX`] of exactly `length` characters (the suite's name-length
/// cases): one fixed name per length, the same in every run.
pub fn name_of_length(length: usize) -> String {
    let fill = length.saturating_sub(ATTRIBUTE_PREFIX.len());
    format!("{ATTRIBUTE_PREFIX}{}", "n".repeat(fill))
}

/// Every attribute name a run may leave on a device; `name_limit` is the longest name the
/// schemas allow (the suite writes one name of exactly that length).
pub fn names(name_limit: usize) -> Vec<String> {
    let mut out: Vec<String> = CONTRACT_ATTRIBUTES
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    out.push(LOAD_ATTRIBUTE.to_owned());
    out.push(PROBE_ATTRIBUTE.to_owned());
    out.push(name_of_length(name_limit));
    out
}

/// True for a name pushcheck writes (one of [`names`] or another name under the prefix, such as
/// an earlier version's).
pub fn is_ours(name: &str) -> bool {
    name.starts_with(ATTRIBUTE_PREFIX) || name.starts_with("pushcheckLoadSeq_")
}

/// Whose doing a leftover is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// A correct server's choice where the docs are silent: reported, not failed (unless the
    /// user asks for it).
    TargetChoice,
    /// The server misbehaved while being put back: a server finding.
    ServerFault,
    /// The restore did not run (a second stop signal).
    NotRestored,
}

impl Cause {
    /// The words reports use.
    pub fn label(self) -> &'static str {
        match self {
            Cause::TargetChoice => "target choice",
            Cause::ServerFault => "server fault",
            Cause::NotRestored => "not restored",
        }
    }
}

/// What is left on one device after its restore, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Leftover {
    pub registration_id: String,
    /// What differs from the state the run found: attribute names, `isPrimary`, …
    pub items: Vec<String>,
    pub cause: Cause,
    /// One sentence: why it is left (scrubbed of the run's secrets).
    pub reason: String,
}

/// How a target answered a custom attribute sent as `null` in a PATCH.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NullAnswer {
    /// 200 and the attribute is gone: `null` deletes (the vendor SDKs' way, the simulator's).
    Deletes,
    /// 200 and the attribute reads back as `null`: the target stores it.
    Stored,
    /// A 4xx: the target refuses `null` in `additionalData`.
    Refused,
    /// 200 and the attribute still holds its old value: a write acknowledged and not applied.
    Ignored,
    /// No answer, a 5xx, or a read-back that failed.
    Broken,
}

impl NullAnswer {
    /// From the PATCH's status and the attribute read back afterwards (`None`: absent).
    pub fn classify(status: Option<u16>, after: Option<&Value>) -> NullAnswer {
        match (status, after) {
            (Some(200..=299), None) => NullAnswer::Deletes,
            (Some(200..=299), Some(Value::Null)) => NullAnswer::Stored,
            (Some(200..=299), Some(_)) => NullAnswer::Ignored,
            (Some(400..=499), _) => NullAnswer::Refused,
            _ => NullAnswer::Broken,
        }
    }

    /// Whose doing an attribute left behind after this answer is.
    pub fn cause(self) -> Cause {
        match self {
            NullAnswer::Deletes | NullAnswer::Stored | NullAnswer::Refused => Cause::TargetChoice,
            NullAnswer::Ignored | NullAnswer::Broken => Cause::ServerFault,
        }
    }

    /// One phrase for reports.
    pub fn describe(self) -> &'static str {
        match self {
            NullAnswer::Deletes => "null deletes the attribute",
            NullAnswer::Stored => {
                "the target stores null instead of deleting (a choice the docs leave open)"
            }
            NullAnswer::Refused => {
                "the target refuses null in additionalData (a choice the docs leave open)"
            }
            NullAnswer::Ignored => {
                "the target answered 200 to null and kept the old value (a write acknowledged and not applied)"
            }
            NullAnswer::Broken => {
                "the target did not answer the delete properly (no answer or 5xx)"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn null_answers_are_classified() {
        assert_eq!(NullAnswer::classify(Some(200), None), NullAnswer::Deletes);
        let null = Value::Null;
        assert_eq!(
            NullAnswer::classify(Some(200), Some(&null)),
            NullAnswer::Stored
        );
        assert_eq!(
            NullAnswer::classify(Some(200), Some(&json!(true))),
            NullAnswer::Ignored
        );
        assert_eq!(NullAnswer::classify(Some(400), None), NullAnswer::Refused);
        assert_eq!(NullAnswer::classify(Some(503), None), NullAnswer::Broken);
        assert_eq!(NullAnswer::classify(None, None), NullAnswer::Broken);
        assert_eq!(NullAnswer::Refused.cause(), Cause::TargetChoice);
        assert_eq!(NullAnswer::Ignored.cause(), Cause::ServerFault);
    }

    #[test]
    fn the_footprint_is_a_fixed_set_under_one_prefix() {
        let names = names(256);
        assert!(names.iter().all(|n| n.starts_with(ATTRIBUTE_PREFIX)));
        assert_eq!(name_of_length(256).chars().count(), 256);
        assert_eq!(names, super::names(256), "the same names in every run");
        assert!(is_ours(LOAD_ATTRIBUTE) && !is_ours("receiveOTP"));
    }
}
