//! One judge for one response: status, Content-Type, body schema and meaning, the same way for
//! every runner.
//!
//! The load judges every response it gets with [`judge`]; status and Content-Type are checked on
//! every response (they cost nothing), the body's schema and meaning only when the caller asks
//! (`validate`, its sampled share), with one JSON parse. What a response *means* is checked
//! against what was asked ([`Meaning`]): a GET returns the registration asked for, a PATCH's
//! answer carries the write, a personalize returns the person of the identity sent, a
//! depersonalize answers with an empty body.
//!
//! The judge returns data ([`Judged`]); it never prints and knows nothing of goose or the
//! contract runner. The API's facts come from [`crate::api`] (statuses, schemas by operation) and
//! `schemas/` (payload rules); field names of the meaning checks are spelled in [`field`].

use serde_json::Value;

use crate::api::{Operation, is_json_media_type};
use crate::schema::{Mode, registry};

/// Field names the meaning checks read, as the docs spell them.
pub mod field {
    /// A registration's ID, in GET and PATCH answers \[doc\]\[spec\].
    pub const REGISTRATION_ID: &str = "registrationId";
    /// Custom attributes of a registration \[doc\].
    pub const ADDITIONAL_DATA: &str = "additionalData";
    /// The person's external ID \[doc\].
    pub const EXTERNAL_ID: &str = "externalId";
    /// Contact information of a person: `phones[].number`, `emails[].address` \[doc\].
    pub const CONTACT_INFORMATION: &str = "contactInformation";
    pub const PHONES: &str = "phones";
    pub const PHONE_NUMBER: &str = "number";
    pub const EMAILS: &str = "emails";
    pub const EMAIL_ADDRESS: &str = "address";
}

/// What the request asked for, so the answer can be checked for its meaning.
#[derive(Debug, Clone, Copy, Default)]
pub enum Meaning<'a> {
    /// Nothing beyond the schema.
    #[default]
    Nothing,
    /// A GET: the registration with this ID.
    Registration { id: &'a str },
    /// A PATCH: that registration, carrying custom attribute `name` = `value`.
    Wrote {
        id: &'a str,
        name: &'a str,
        value: &'a Value,
    },
    /// A personalize: a person carrying every identity value that was sent.
    Person {
        external_id: Option<&'a str>,
        phone: Option<&'a str>,
        email: Option<&'a str>,
    },
}

/// What kind of contract break a response showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A status the operation does not document (a 2xx other than 200, or an unknown code).
    Status,
    /// A JSON body without a JSON Content-Type, or an error body that is not JSON.
    ContentType,
    /// A body that should be JSON and is not, or a body where none is documented.
    Body,
    /// The body breaks its schema.
    Schema,
    /// The body fits its schema but says something other than what was asked.
    Meaning,
}

impl Kind {
    /// The kind as reports name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Status => "status",
            Kind::ContentType => "content-type",
            Kind::Body => "body",
            Kind::Schema => "schema",
            Kind::Meaning => "meaning",
        }
    }
}

/// One contract break, with a message that names the rule and the place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub kind: Kind,
    pub message: String,
}

/// The judge's answer for one response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judged {
    /// The body was validated (schema and meaning), not only the status and Content-Type.
    pub validated: bool,
    /// The first break found, if any.
    pub problem: Option<Problem>,
}

/// The documented success status of every operation \[doc\]\[spec\].
const SUCCESS: u16 = 200;

/// Judges one response of `op`. `validate` asks for the body's schema and meaning too.
pub fn judge(
    op: Operation,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
    validate: bool,
    mode: Mode,
    meaning: &Meaning<'_>,
) -> Judged {
    let problem = |kind, message: String| Judged {
        validated: validate,
        problem: Some(Problem { kind, message }),
    };
    let success = (200..300).contains(&status);
    if success && status != SUCCESS {
        return problem(
            Kind::Status,
            format!("HTTP {status}: the documented success status is {SUCCESS}"),
        );
    }
    let one: [&str; 1];
    let schemas: &[&str] = match (success, op.response_schema()) {
        (true, None) => {
            // depersonalize: 200 with an empty body [spec].
            return if body.is_empty() {
                Judged {
                    validated: validate,
                    problem: None,
                }
            } else {
                problem(
                    Kind::Body,
                    format!(
                        "HTTP {status} to {} has a {}-byte body; the documented answer is empty",
                        op.label(),
                        body.len()
                    ),
                )
            };
        }
        (true, Some(schema)) => {
            one = [schema];
            &one
        }
        (false, _) => match op.error_answers().iter().find(|a| a.status == status) {
            Some(answer) => answer.schemas,
            None => {
                return problem(
                    Kind::Status,
                    format!("HTTP {status} is not a documented answer of {}", op.label()),
                );
            }
        },
    };
    let expects = schemas.join(" or ");
    if !content_type.is_some_and(is_json_media_type) {
        return problem(
            Kind::ContentType,
            format!(
                "HTTP {status} body (expected {expects}) has Content-Type {}, not application/json",
                content_type.map_or_else(|| "(none)".to_owned(), |c| format!("{c:?}"))
            ),
        );
    }
    if !validate {
        return Judged {
            validated: false,
            problem: None,
        };
    }
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            return problem(
                Kind::Body,
                format!(
                    "HTTP {status} body is not JSON ({:?}), expected {expects}",
                    e.classify()
                ),
            );
        }
    };
    let registry = registry();
    if !schemas
        .iter()
        .any(|s| registry.is_valid(s, mode, &value).unwrap_or(false))
    {
        let first = registry
            .validate(schemas[0], mode, &value)
            .ok()
            .and_then(|v| v.into_iter().next())
            .map_or_else(|| "invalid".to_owned(), |v| v.to_string());
        return problem(
            Kind::Schema,
            format!(
                "schema violation: HTTP {status} body breaks {}: {first}",
                schemas.join(" / ")
            ),
        );
    }
    match success.then(|| meaning_problem(meaning, &value)).flatten() {
        Some(message) => problem(Kind::Meaning, message),
        None => Judged {
            validated: true,
            problem: None,
        },
    }
}

/// What a schema-valid 2xx body says that contradicts what was asked, if anything.
fn meaning_problem(meaning: &Meaning<'_>, body: &Value) -> Option<String> {
    let text = |pointer: &str| body.pointer(pointer).and_then(Value::as_str);
    match *meaning {
        Meaning::Nothing => None,
        Meaning::Registration { id } => registration_is(body, id),
        Meaning::Wrote { id, name, value } => registration_is(body, id).or_else(|| {
            let got = body.get(field::ADDITIONAL_DATA).and_then(|d| d.get(name));
            (got != Some(value)).then(|| {
                format!(
                    "the PATCH answer does not carry the write: {}.{name} = {value} was sent, \
                     the answer has {}",
                    field::ADDITIONAL_DATA,
                    got.map_or_else(|| "nothing".to_owned(), Value::to_string)
                )
            })
        }),
        Meaning::Person {
            external_id,
            phone,
            email,
        } => {
            if let Some(sent) = external_id {
                let got = text(&format!("/{}", field::EXTERNAL_ID));
                if got != Some(sent) {
                    return Some(format!(
                        "personalize answered another person: {} {sent:?} was sent, the answer has {}",
                        field::EXTERNAL_ID,
                        got.map_or_else(|| "none".to_owned(), |g| format!("{g:?}"))
                    ));
                }
            }
            let listed = |list: &str, key: &str, sent: &str| {
                body.get(field::CONTACT_INFORMATION)
                    .and_then(|c| c.get(list))
                    .and_then(Value::as_array)
                    .is_some_and(|items| {
                        items
                            .iter()
                            .any(|i| i.get(key).and_then(Value::as_str) == Some(sent))
                    })
            };
            if let Some(sent) = phone
                && !listed(field::PHONES, field::PHONE_NUMBER, sent)
            {
                return Some(format!(
                    "personalize answered a person without the phone number {sent:?} that was sent"
                ));
            }
            if let Some(sent) = email
                && !listed(field::EMAILS, field::EMAIL_ADDRESS, sent)
            {
                return Some(format!(
                    "personalize answered a person without the email {sent:?} that was sent"
                ));
            }
            None
        }
    }
}

fn registration_is(body: &Value, id: &str) -> Option<String> {
    let got = body.get(field::REGISTRATION_ID).and_then(Value::as_str);
    (got != Some(id)).then(|| {
        format!(
            "asked for registration {id:?}, the answer is registration {}",
            got.map_or_else(|| "(none)".to_owned(), |g| format!("{g:?}"))
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const JSON: Option<&str> = Some("application/json; charset=utf-8");

    fn reg(id: &str) -> Vec<u8> {
        json!({"registrationId": id, "applicationId": "app"})
            .to_string()
            .into_bytes()
    }

    fn kind(j: &Judged) -> Option<Kind> {
        j.problem.as_ref().map(|p| p.kind)
    }

    #[test]
    fn a_right_answer_passes_and_counts_as_validated() {
        let j = judge(
            Operation::Get,
            200,
            JSON,
            &reg("r1"),
            true,
            Mode::Lenient,
            &Meaning::Registration { id: "r1" },
        );
        assert_eq!(
            j,
            Judged {
                validated: true,
                problem: None
            }
        );
    }

    #[test]
    fn each_kind_of_break_is_named() {
        let get = |status, ct, body: &[u8], m: Meaning<'_>| {
            kind(&judge(
                Operation::Get,
                status,
                ct,
                body,
                true,
                Mode::Lenient,
                &m,
            ))
        };
        let r1 = Meaning::Registration { id: "r1" };
        assert_eq!(get(204, JSON, b"", r1), Some(Kind::Status));
        assert_eq!(get(418, JSON, b"{}", r1), Some(Kind::Status));
        assert_eq!(
            get(200, Some("text/plain"), &reg("r1"), r1),
            Some(Kind::ContentType)
        );
        assert_eq!(get(200, None, &reg("r1"), r1), Some(Kind::ContentType));
        assert_eq!(get(200, JSON, b"not json", r1), Some(Kind::Body));
        assert_eq!(get(200, JSON, b"{}", r1), Some(Kind::Schema));
        assert_eq!(get(200, JSON, &reg("r2"), r1), Some(Kind::Meaning));
        assert_eq!(get(200, JSON, &reg("r1"), r1), None);
    }

    #[test]
    fn unsampled_responses_get_status_and_content_type_only() {
        let j = judge(
            Operation::Get,
            200,
            JSON,
            b"{}",
            false,
            Mode::Lenient,
            &Meaning::Nothing,
        );
        assert_eq!(
            j,
            Judged {
                validated: false,
                problem: None
            }
        );
        let j = judge(
            Operation::Get,
            200,
            Some("text/html"),
            b"{}",
            false,
            Mode::Lenient,
            &Meaning::Nothing,
        );
        assert_eq!(kind(&j), Some(Kind::ContentType));
    }

    #[test]
    fn depersonalize_must_answer_an_empty_body() {
        let d = |body: &[u8]| {
            kind(&judge(
                Operation::Depersonalize,
                200,
                None,
                body,
                true,
                Mode::Lenient,
                &Meaning::Nothing,
            ))
        };
        assert_eq!(d(b""), None);
        assert_eq!(d(b"{}"), Some(Kind::Body));
    }

    #[test]
    fn a_patch_answer_must_carry_the_write() {
        let value = json!(7);
        let m = Meaning::Wrote {
            id: "r1",
            name: "seq",
            value: &value,
        };
        let body = |v: Value| {
            json!({"registrationId": "r1", "applicationId": "a", "additionalData": {"seq": v}})
                .to_string()
                .into_bytes()
        };
        let p = |b: &[u8]| {
            kind(&judge(
                Operation::Patch,
                200,
                JSON,
                b,
                true,
                Mode::Lenient,
                &m,
            ))
        };
        assert_eq!(p(&body(json!(7))), None);
        assert_eq!(p(&body(json!(6))), Some(Kind::Meaning));
    }

    #[test]
    fn personalize_must_answer_the_person_of_the_identity_sent() {
        let m = Meaning::Person {
            external_id: Some("alice"),
            phone: Some("41793026727"),
            email: None,
        };
        let p = |v: Value| {
            kind(&judge(
                Operation::Personalize,
                200,
                JSON,
                v.to_string().as_bytes(),
                true,
                Mode::Lenient,
                &m,
            ))
        };
        let person = |id: &str, phone: &str| json!({"externalId": id, "contactInformation": {"phones": [{"number": phone}]}});
        assert_eq!(p(person("alice", "41793026727")), None);
        assert_eq!(p(person("bob", "41793026727")), Some(Kind::Meaning));
        assert_eq!(p(person("alice", "1")), Some(Kind::Meaning));
        assert_eq!(
            p(json!({})),
            Some(Kind::Schema),
            "contactInformation is required"
        );
    }

    #[test]
    fn error_bodies_must_be_json_in_a_documented_shape() {
        let e = |ct, body: &str| {
            kind(&judge(
                Operation::Get,
                400,
                ct,
                body.as_bytes(),
                true,
                Mode::Lenient,
                &Meaning::Nothing,
            ))
        };
        assert_eq!(e(JSON, r#"{"errorCode":48013,"errorMessage":"x"}"#), None);
        assert_eq!(e(Some("text/html"), "<html>"), Some(Kind::ContentType));
        assert_eq!(e(JSON, r#"{"oops":1}"#), Some(Kind::Schema));
    }
}
