//! One step of a generated sequence, as data: what it asks of which registration, how it is
//! saved (the replay file, serde), and how it is shown (a numbered list, curl commands with the
//! credentials redacted).
//!
//! A step names registrations by index (`r0`, `r1`, …) and identities by placeholder
//! (`{{phone:1}}`, `{{email:0}}`, `{{ext:2}}`): each side of a run (the target, the model) maps
//! the index to its own registration ID, and every attempt resolves the placeholders in a fresh
//! [`Namespace`], so a saved sequence replays on any target without reusing a person. The
//! namespace is the live-safety rule for identities: external IDs `pushcheck-gen-<run>-…`,
//! emails `@example.invalid`, phone numbers from the fictional 555-01XX range of the North
//! American plan.
//!
//! This module must not send anything.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::api::auth::{Credentials, REDACTED};
use crate::api::{APP_CODE_HEADER, Operation, personalize_flag};

/// The format number of a saved sequence.
pub const REPLAY_FORMAT: u32 = 1;

/// The personalize query flags a step sends (only those set are sent, as `=true`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Flags {
    pub force_depersonalize: bool,
    pub keep_as_lead: bool,
    pub return_push: bool,
    pub set_device_as_primary: bool,
}

impl Flags {
    /// `(name, true)` for each flag set, in the API's order.
    pub fn query(self) -> Vec<(&'static str, bool)> {
        let set = [
            self.force_depersonalize,
            self.keep_as_lead,
            self.return_push,
            self.set_device_as_primary,
        ];
        personalize_flag::ALL
            .iter()
            .zip(set)
            .filter(|(_, on)| *on)
            .map(|(name, _)| (*name, true))
            .collect()
    }

    /// The same flags with the `i`-th (API order) turned off; `None` if it was off.
    pub fn without(self, i: usize) -> Option<Flags> {
        let mut f = self;
        let slot = match i {
            0 => &mut f.force_depersonalize,
            1 => &mut f.keep_as_lead,
            2 => &mut f.return_push,
            3 => &mut f.set_device_as_primary,
            _ => return None,
        };
        std::mem::replace(slot, false).then_some(f)
    }
}

/// A request body: JSON (with identity placeholders), or text sent as JSON that is not JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Body {
    Json(Value),
    Raw(String),
}

/// One request of a sequence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Step {
    Get {
        reg: u8,
    },
    Patch {
        reg: u8,
        body: Body,
    },
    Personalize {
        reg: u8,
        #[serde(default)]
        flags: Flags,
        body: Body,
    },
    Depersonalize {
        reg: u8,
    },
}

impl Step {
    pub fn operation(&self) -> Operation {
        match self {
            Step::Get { .. } => Operation::Get,
            Step::Patch { .. } => Operation::Patch,
            Step::Personalize { .. } => Operation::Personalize,
            Step::Depersonalize { .. } => Operation::Depersonalize,
        }
    }

    /// The registration index it addresses.
    pub fn reg(&self) -> u8 {
        match self {
            Step::Get { reg }
            | Step::Patch { reg, .. }
            | Step::Personalize { reg, .. }
            | Step::Depersonalize { reg } => *reg,
        }
    }

    pub fn body(&self) -> Option<&Body> {
        match self {
            Step::Patch { body, .. } | Step::Personalize { body, .. } => Some(body),
            _ => None,
        }
    }

    pub fn flags(&self) -> Flags {
        match self {
            Step::Personalize { flags, .. } => *flags,
            _ => Flags::default(),
        }
    }

    /// Whether it may change what a registration reads back.
    pub fn writes(&self) -> bool {
        !matches!(self, Step::Get { .. })
    }
}

/// A sequence saved for `--replay`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Replay {
    pub format: u32,
    /// The seed that generated the sequence this one was shrunk from (for the record).
    #[serde(default)]
    pub seed: Option<u64>,
    /// How many registrations the steps address (`r0` … `r{n-1}`).
    pub registrations: usize,
    pub steps: Vec<Step>,
}

impl Replay {
    pub fn new(seed: Option<u64>, registrations: usize, steps: Vec<Step>) -> Replay {
        Replay {
            format: REPLAY_FORMAT,
            seed,
            registrations,
            steps,
        }
    }
}

/// Most registrations a sequence may address.
pub const MAX_REGISTRATIONS: usize = 8;

impl Replay {
    /// Why this sequence cannot run, if it cannot: a registration count out of range, or a step
    /// addressing a registration past it.
    pub fn check(&self) -> Result<(), String> {
        if !(1..=MAX_REGISTRATIONS).contains(&self.registrations) {
            return Err(format!(
                "registrations is {}; a sequence addresses 1 to {MAX_REGISTRATIONS}",
                self.registrations
            ));
        }
        match self
            .steps
            .iter()
            .position(|s| usize::from(s.reg()) >= self.registrations)
        {
            Some(i) => Err(format!(
                "step {} addresses r{}, but the sequence has {} registrations",
                i + 1,
                self.steps[i].reg(),
                self.registrations
            )),
            None if self.steps.is_empty() => Err("the sequence has no step".to_owned()),
            None => Ok(()),
        }
    }
}

/// The identities of one attempt: every placeholder resolves to a value no earlier attempt
/// (and no real person) uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    /// `<run>-<attempt>`.
    pub tag: String,
    /// Area code of this attempt's phone numbers (200–999).
    area: u32,
}

/// The prefix of every generated external ID and email local part.
pub const NAMESPACE_PREFIX: &str = "pushcheck-gen-";
/// The domain of every generated email (reserved by RFC 2606: it never delivers).
pub const EMAIL_DOMAIN: &str = "example.invalid";

impl Namespace {
    pub fn new(run: u64, attempt: u32) -> Namespace {
        Namespace {
            tag: format!("{run}-{attempt}"),
            area: 200 + ((run.wrapping_mul(31).wrapping_add(u64::from(attempt))) % 800) as u32,
        }
    }

    /// The value of a placeholder (`{{phone:1}}`), or `None` if `text` is none.
    pub fn value(&self, text: &str) -> Option<String> {
        let inner = text.strip_prefix("{{")?.strip_suffix("}}")?;
        let (kind, n) = inner.split_once(':')?;
        let n: u32 = n.parse().ok().filter(|n| *n < 100)?;
        let tag = &self.tag;
        match kind {
            "ext" => Some(format!("{NAMESPACE_PREFIX}{tag}-{n}")),
            "email" => Some(format!("{NAMESPACE_PREFIX}{tag}-{n}@{EMAIL_DOMAIN}")),
            // 1-AAA-555-01NN: the fictional range of the North American numbering plan.
            "phone" => Some(format!("1{}55501{n:02}", self.area)),
            _ => None,
        }
    }

    /// `value` with every placeholder string replaced.
    pub fn resolve(&self, value: &Value) -> Value {
        match value {
            Value::String(s) => self.value(s).map_or_else(|| value.clone(), Value::String),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.resolve(v)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), self.resolve(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// The bytes a body is sent as.
    pub fn bytes(&self, body: &Body) -> Vec<u8> {
        match body {
            Body::Json(v) => serde_json::to_vec(&self.resolve(v)).unwrap_or_default(),
            Body::Raw(text) => text.clone().into_bytes(),
        }
    }
}

/// Placeholder text for identity `kind` (`ext`, `email`, `phone`) number `n`.
pub fn placeholder(kind: &str, n: u8) -> String {
    format!("{{{{{kind}:{n}}}}}")
}

/// How a rendered sequence names its registrations and identities.
#[derive(Debug)]
pub struct Names<'a> {
    pub registrations: &'a [String],
    pub namespace: &'a Namespace,
}

impl Names<'_> {
    fn id(&self, reg: u8) -> &str {
        self.registrations
            .get(usize::from(reg))
            .map_or("?", String::as_str)
    }

    fn request_line(&self, step: &Step) -> String {
        let op = step.operation();
        let mut line = format!("{} {}", op.method(), op.path(self.id(step.reg())));
        for (i, (name, value)) in step.flags().query().iter().enumerate() {
            line.push(if i == 0 { '?' } else { '&' });
            let _ = write!(line, "{name}={value}");
        }
        line
    }
}

/// The steps as a numbered list: `3. POST …/personalize?setDeviceAsPrimary=true {json}`.
pub fn render_list(steps: &[Step], names: &Names<'_>) -> String {
    let mut out = String::new();
    for (i, step) in steps.iter().enumerate() {
        let _ = write!(
            out,
            "{:>3}. r{} {}",
            i + 1,
            step.reg(),
            names.request_line(step)
        );
        if let Some(body) = step.body() {
            let bytes = names.namespace.bytes(body);
            let _ = write!(out, "  {}", truncate(&String::from_utf8_lossy(&bytes), 300));
        }
        out.push('\n');
    }
    out
}

/// The steps as curl commands against `base_url`; the credential is `[redacted]` (its scheme
/// word kept) so the commands can be pasted into a ticket.
pub fn render_curl(
    steps: &[Step],
    names: &Names<'_>,
    base_url: &str,
    credentials: Option<&Credentials>,
    app_code: Option<&str>,
) -> String {
    let mut out = String::new();
    for step in steps {
        let op = step.operation();
        let line = names.request_line(step);
        let url = line.split_once(' ').map_or("", |(_, path)| path);
        let _ = write!(out, "curl -sS -X {} '{base_url}{url}'", op.method());
        if let Some(c) = credentials {
            let _ = write!(out, " -H 'Authorization: {} {REDACTED}'", c.scheme());
        }
        if let Some(code) = app_code {
            let _ = write!(out, " -H '{APP_CODE_HEADER}: {}'", shell_quote_inner(code));
        }
        if let Some(body) = step.body() {
            let bytes = names.namespace.bytes(body);
            let text = String::from_utf8_lossy(&bytes);
            let _ = write!(
                out,
                " -H 'Content-Type: application/json' --data-raw '{}'",
                shell_quote_inner(&text)
            );
        }
        out.push('\n');
    }
    out
}

/// Text safe inside single quotes.
fn shell_quote_inner(text: &str) -> String {
    text.replace('\'', r"'\''")
}

/// At most `max` characters, with the length said when cut.
fn truncate(text: &str, max: usize) -> String {
    let count = text.chars().count();
    if count <= max {
        return text.to_owned();
    }
    let head: String = text.chars().take(max).collect();
    format!("{head}… ({count} characters)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::auth::Secret;
    use serde_json::json;

    fn steps() -> Vec<Step> {
        vec![
            Step::Patch {
                reg: 1,
                body: Body::Json(json!({"isPrimary": true})),
            },
            Step::Personalize {
                reg: 0,
                flags: Flags {
                    set_device_as_primary: true,
                    ..Flags::default()
                },
                body: Body::Json(json!({"identity": {"phoneNumber": placeholder("phone", 1),
                    "externalId": placeholder("ext", 0), "email": placeholder("email", 2)}})),
            },
            Step::Get { reg: 1 },
        ]
    }

    #[test]
    fn a_replay_file_round_trips() {
        let replay = Replay::new(Some(7), 2, steps());
        let text = serde_json::to_string_pretty(&replay).unwrap();
        assert!(text.contains("\"op\": \"personalize\""), "{text}");
        let back: Replay = serde_json::from_str(&text).unwrap();
        assert_eq!(back, replay);
    }

    #[test]
    fn a_replay_addressing_a_missing_registration_is_refused() {
        assert!(Replay::new(None, 2, steps()).check().is_ok());
        let err = Replay::new(None, 1, steps()).check().unwrap_err();
        assert!(err.contains("step 1 addresses r1"), "{err}");
        assert!(Replay::new(None, 0, steps()).check().is_err());
        assert!(Replay::new(None, 2, Vec::new()).check().is_err());
    }

    #[test]
    fn placeholders_resolve_into_the_reserved_namespace() {
        let ns = Namespace::new(42, 3);
        let ext = ns.value("{{ext:0}}").unwrap();
        assert!(ext.starts_with("pushcheck-gen-42-3-"), "{ext}");
        assert!(
            ns.value("{{email:2}}")
                .unwrap()
                .ends_with("@example.invalid")
        );
        let phone = ns.value("{{phone:1}}").unwrap();
        assert_eq!(phone.len(), 11);
        assert_eq!(&phone[4..9], "55501", "{phone}");
        assert_eq!(ns.value("{{card:1}}"), None);
        assert_eq!(ns.value("plain"), None);
        assert_ne!(Namespace::new(42, 4).value("{{ext:0}}"), Some(ext));
    }

    #[test]
    fn curl_commands_redact_the_credential() {
        let ns = Namespace::new(1, 1);
        let ids = vec!["REG-A".to_owned(), "REG B".to_owned()];
        let names = Names {
            registrations: &ids,
            namespace: &ns,
        };
        let key = Credentials::ApiKey(Secret::new("very-secret-key"));
        let curl = render_curl(&steps(), &names, "http://h", Some(&key), Some("APP"));
        assert!(!curl.contains("very-secret-key"), "{curl}");
        assert!(curl.contains("Authorization: App [redacted]"), "{curl}");
        assert!(curl.contains("/REG%20B'"), "{curl}");
        assert!(
            curl.contains("personalize?setDeviceAsPrimary=true'"),
            "{curl}"
        );
        let list = render_list(&steps(), &names);
        assert!(list.contains("  2. r0 POST"), "{list}");
        assert!(list.contains("pushcheck-gen-1-1-0"), "{list}");
    }
}
