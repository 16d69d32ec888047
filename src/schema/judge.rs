//! One judge for one response: status, Content-Type, body schema and meaning, the same way for
//! every runner (the load on every response it gets, the contract on every response of a case).
//!
//! Status and Content-Type are checked on every response (they cost nothing), the body's schema
//! and meaning only when the caller asks (`validate`: the load's sampled share, always for the
//! contract), with one JSON parse and, for a valid body, one schema validation. What a response
//! *means* is checked against what was asked ([`Meaning`]): a GET returns the registration asked
//! for, a PATCH's answer carries the write, a personalize returns the person of the identity
//! sent, a depersonalize answers with an empty body; and every registration answered carries
//! the application's `applicationId` when the caller knows it ([`Expect::application_id`]). A caller that expects more than the
//! operation documents says so in [`Expect`]: a narrower set of error schemas, or undocumented
//! properties of a valid body reported as findings (lenient mode).
//!
//! A caller that does not read the body ([`Expect::discard_body`]: the load) gets the fast path
//! first: [`crate::schema::fast`] streams the bytes through the schemas compiled from
//! `schemas/` and checks the meaning's strings on the way, without a `serde_json::Value`; only
//! when it is not sure (a break, or anything it does not understand) is the body judged the full
//! way below, so every verdict and every message is the one the full judge gives.
//!
//! The judge returns data ([`Judged`], with a [`Detail`] of what broke so each runner words it
//! its own way); it never prints and knows nothing of goose or the contract runner. The API's
//! facts come from [`crate::api`] (statuses, schemas by operation, field names) and `schemas/`
//! (payload rules).

use serde_json::Value;

use crate::api::{Operation, field, is_json_media_type};
use crate::schema::fast::{self, Want};
use crate::schema::{Mode, Violation, registry};

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

/// What the caller expects of a response beyond what its operation documents. The load asks for
/// a meaning only (`Meaning::….into()`), which keeps its hot path at one validation.
#[derive(Debug, Clone, Copy, Default)]
pub struct Expect<'a> {
    /// What a 2xx answer must mean.
    pub meaning: Meaning<'a>,
    /// The schemas an error body must follow, when the caller expects fewer than the status
    /// documents (only `error-push`, say) or an error status the operation does not document
    /// (then the status is not judged; an empty list asks for JSON of any shape). `None`: the
    /// schemas the operation documents for the status.
    pub error_schemas: Option<&'a [&'static str]>,
    /// In lenient mode, list the properties of a valid body that no schema names (what strict
    /// mode would reject) in [`Judged::undocumented`]. Costs nothing on a body without any.
    pub undocumented: bool,
    /// The `applicationId` of the application the request was sent for (its AppCode): every
    /// registration in a 2xx answer (GET, PATCH, a personalize's `contactInformation.push`)
    /// must carry it \[doc\]. `None`: not judged. The contract suite sets it (given with
    /// `--application-id`, or learned from the run's first read); the load can set it the
    /// same way on its sampled answers.
    pub application_id: Option<&'a str>,
    /// The caller does not read [`Judged::body`] (the load): a body the fast path
    /// ([`crate::schema::fast`]) finds valid, meaning and `applicationId` included, is judged
    /// while it is parsed, never built as a `Value`. Anything the fast path is not sure of is
    /// judged the full way, so the verdicts and their words are the same either way.
    pub discard_body: bool,
}

impl<'a> From<Meaning<'a>> for Expect<'a> {
    fn from(meaning: Meaning<'a>) -> Expect<'a> {
        Expect {
            meaning,
            ..Expect::default()
        }
    }
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

/// What exactly broke, as data, for a runner that words breaks its own way (the contract).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detail {
    /// A 2xx other than the documented 200, or an error status the operation does not document.
    Status,
    /// A body where the documented answer is empty.
    NotEmpty,
    /// A JSON body was expected; the Content-Type sent (`None`: none).
    ContentType(Option<String>),
    /// The body is not JSON; where the parser stopped.
    NotJson { line: usize, column: usize },
    /// The body follows none of the schemas it may; the closest one (fewest violations, the
    /// first of equals) and its violations, sorted by instance path.
    Schema {
        closest: &'static str,
        violations: Vec<Violation>,
    },
    /// The body says something other than what was asked.
    Meaning,
}

impl Detail {
    fn kind(&self) -> Kind {
        match self {
            Detail::Status => Kind::Status,
            Detail::ContentType(_) => Kind::ContentType,
            Detail::NotEmpty | Detail::NotJson { .. } => Kind::Body,
            Detail::Schema { .. } => Kind::Schema,
            Detail::Meaning => Kind::Meaning,
        }
    }
}

/// One contract break, with a message that names the rule and the place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub kind: Kind,
    pub message: String,
    pub detail: Detail,
}

impl Problem {
    fn new(detail: Detail, message: String) -> Problem {
        Problem {
            kind: detail.kind(),
            message,
            detail,
        }
    }
}

/// The judge's answer for one response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Judged {
    /// The body was validated (schema and meaning), not only the status and Content-Type.
    pub validated: bool,
    /// The first break found, if any.
    pub problem: Option<Problem>,
    /// The body, parsed, once it was found to be JSON (`None` when [`Expect::discard_body`]
    /// let the fast path accept it).
    pub body: Option<Value>,
    /// Properties of a valid body no schema names, when [`Expect::undocumented`] asked (lenient
    /// mode).
    pub undocumented: Vec<Violation>,
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
    expect: &Expect<'_>,
) -> Judged {
    let mut judged = Judged {
        validated: validate,
        ..Judged::default()
    };
    if let Err(problem) = steps(&mut judged, op, status, content_type, body, mode, expect) {
        judged.problem = Some(problem);
    }
    judged
}

/// The checks in order, the first break ending them.
fn steps(
    judged: &mut Judged,
    op: Operation,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
    mode: Mode,
    expect: &Expect<'_>,
) -> Result<(), Problem> {
    let success = (200..300).contains(&status);
    let schemas = documented_schemas(op, status, success, expect)?;
    if success && schemas.is_empty() {
        return empty_body(op, status, body);
    }
    if !content_type.is_some_and(is_json_media_type) {
        let message = format!(
            "HTTP {status} body (expected {}) has Content-Type {}, not application/json",
            schemas.join(" or "),
            content_type.map_or_else(|| "(none)".to_owned(), |c| format!("{c:?}"))
        );
        return Err(Problem::new(
            Detail::ContentType(content_type.map(str::to_owned)),
            message,
        ));
    }
    if !judged.validated {
        return Ok(());
    }
    let scan = expect.undocumented && mode == Mode::Lenient;
    // A body strict mode accepts has no undocumented property (see `check_schemas`).
    let fast_mode = if scan { Mode::Strict } else { mode };
    if expect.discard_body && fast_accepts(op, success, schemas, fast_mode, body, expect) {
        return Ok(());
    }
    let value = judged.body.insert(parse(status, body, schemas)?);
    judged.undocumented = check_schemas(status, schemas, mode, value, scan)?;
    let problem = success
        .then(|| {
            meaning_problem(&expect.meaning, value)
                .or_else(|| application_problem(op, expect.application_id, value))
        })
        .flatten();
    match problem {
        Some(message) => Err(Problem::new(Detail::Meaning, message)),
        None => Ok(()),
    }
}

/// Whether the fast path is sure the body passes every check `steps` makes after the
/// Content-Type: JSON, one of `schemas` (none: any JSON), and, for a 2xx, the strings that
/// [`meaning_problem`] and [`application_problem`] compare, each found once where they read it.
/// `false`: not sure (a meaning it cannot express as wants, such as a personalize's phone, is
/// left to the full judge).
fn fast_accepts(
    op: Operation,
    success: bool,
    schemas: &[&str],
    mode: Mode,
    body: &[u8],
    expect: &Expect<'_>,
) -> bool {
    const REGISTRATION: &[&str] = &[field::REGISTRATION_ID];
    const APPLICATION: &[&str] = &[field::APPLICATION_ID];
    const PERSON: &[&str] = &[field::EXTERNAL_ID];
    let written;
    let mut wants = [Want {
        path: &[],
        value: "",
    }; 3];
    let mut n = 0;
    if success {
        let mut want = |path, value| {
            wants[n] = Want { path, value };
            n += 1;
        };
        match expect.meaning {
            Meaning::Nothing => {}
            Meaning::Registration { id } => want(REGISTRATION, id),
            Meaning::Wrote { id, name, value } => {
                let Some(value) = value.as_str() else {
                    return false;
                };
                written = [field::ADDITIONAL_DATA, name];
                want(REGISTRATION, id);
                want(&written, value);
            }
            Meaning::Person {
                external_id,
                phone: None,
                email: None,
            } => {
                if let Some(sent) = external_id {
                    want(PERSON, sent);
                }
            }
            Meaning::Person { .. } => return false,
        }
        if let Some(id) = expect.application_id {
            match op {
                Operation::Get | Operation::Patch => want(APPLICATION, id),
                Operation::Personalize => return false,
                Operation::Depersonalize => {}
            }
        }
    }
    if schemas.is_empty() {
        return n == 0 && fast::is_json(body);
    }
    schemas
        .iter()
        .any(|s| fast::accepts(s, mode, body, &wants[..n]))
}

/// A registration of a 2xx answer that carries another application's `applicationId` than
/// `expected`, if any (nothing to judge without an expected one).
fn application_problem(op: Operation, expected: Option<&str>, body: &Value) -> Option<String> {
    let expected = expected?;
    let registrations: Vec<&Value> = match op {
        Operation::Get | Operation::Patch => vec![body],
        Operation::Personalize => body
            .pointer(&field::pointer(&[field::CONTACT_INFORMATION, field::PUSH]))
            .and_then(Value::as_array)
            .map(|list| list.iter().collect())
            .unwrap_or_default(),
        Operation::Depersonalize => Vec::new(),
    };
    registrations.into_iter().find_map(|r| {
        let got = r.get(field::APPLICATION_ID).and_then(Value::as_str);
        (got != Some(expected)).then(|| {
            format!(
                "registration {} of application {expected:?} is answered with {} {}",
                r.get(field::REGISTRATION_ID)
                    .and_then(Value::as_str)
                    .map_or_else(|| "(no ID)".to_owned(), |id| format!("{id:?}")),
                field::APPLICATION_ID,
                got.map_or_else(|| "(none)".to_owned(), |g| format!("{g:?}"))
            )
        })
    })
}

/// The schemas a body with `status` must follow (empty for a 2xx: an empty body), or why the
/// status is not a documented answer.
fn documented_schemas<'a>(
    op: Operation,
    status: u16,
    success: bool,
    expect: &Expect<'a>,
) -> Result<&'a [&'static str], Problem> {
    if success && status != SUCCESS {
        let message = format!("HTTP {status}: the documented success status is {SUCCESS}");
        return Err(Problem::new(Detail::Status, message));
    }
    if success {
        return Ok(op.response_schemas());
    }
    expect
        .error_schemas
        .or_else(|| op.error_schemas(status))
        .ok_or_else(|| {
            let message = format!("HTTP {status} is not a documented answer of {}", op.label());
            Problem::new(Detail::Status, message)
        })
}

/// depersonalize: 200 with an empty body \[spec\] (whitespace alone counts as empty).
fn empty_body(op: Operation, status: u16, body: &[u8]) -> Result<(), Problem> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let message = format!(
        "HTTP {status} to {} has a {}-byte body; the documented answer is empty",
        op.label(),
        body.len()
    );
    Err(Problem::new(Detail::NotEmpty, message))
}

fn parse(status: u16, body: &[u8], schemas: &[&str]) -> Result<Value, Problem> {
    serde_json::from_slice(body).map_err(|e| {
        let message = format!(
            "HTTP {status} body is not JSON ({:?}), expected {}",
            e.classify(),
            schemas.join(" or ")
        );
        let (line, column) = (e.line(), e.column());
        Problem::new(Detail::NotJson { line, column }, message)
    })
}

/// Validates `value` against `schemas` (any one may match; none: any JSON) and returns the
/// undocumented properties when `scan` asks (lenient mode). A valid body costs one validation:
/// when scanning, in strict mode first, since a body strict mode accepts is valid leniently and
/// has no undocumented property (strict mode only closes objects; `tests::strict_only_closes`).
fn check_schemas(
    status: u16,
    schemas: &[&'static str],
    mode: Mode,
    value: &Value,
    scan: bool,
) -> Result<Vec<Violation>, Problem> {
    let registry = registry();
    let valid = |schema: &&str, mode| registry.is_valid(schema, mode, value).unwrap_or(false);
    let first = if scan { Mode::Strict } else { mode };
    if schemas.is_empty() || schemas.iter().any(|s| valid(s, first)) {
        return Ok(Vec::new());
    }
    if let Some(schema) = schemas.iter().find(|s| scan && valid(s, mode)) {
        let mut strict = registry
            .validate(schema, Mode::Strict, value)
            .unwrap_or_default();
        strict.retain(|v| v.undocumented);
        return Ok(strict);
    }
    Err(schema_problem(status, schemas, mode, value))
}

/// The break of a body that follows none of `schemas`: the message names the first violation
/// of the first schema, the detail the closest schema.
fn schema_problem(status: u16, schemas: &[&'static str], mode: Mode, value: &Value) -> Problem {
    let tried: Vec<(&'static str, Vec<Violation>)> = schemas
        .iter()
        .map(|s| (*s, registry().validate(s, mode, value).unwrap_or_default()))
        .collect();
    let first = tried
        .first()
        .and_then(|(_, v)| v.first())
        .map_or_else(|| "invalid".to_owned(), ToString::to_string);
    let message = format!(
        "schema violation: HTTP {status} body breaks {}: {first}",
        schemas.join(" / ")
    );
    let (closest, violations) = tried
        .into_iter()
        .min_by_key(|(_, v)| v.len())
        .unwrap_or_default();
    Problem::new(
        Detail::Schema {
            closest,
            violations,
        },
        message,
    )
}

/// What a schema-valid 2xx body says that contradicts what was asked, if anything.
fn meaning_problem(meaning: &Meaning<'_>, body: &Value) -> Option<String> {
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
        } => person_is(body, external_id, phone, email),
    }
}

fn person_is(
    body: &Value,
    external_id: Option<&str>,
    phone: Option<&str>,
    email: Option<&str>,
) -> Option<String> {
    if let Some(sent) = external_id {
        let got = body.get(field::EXTERNAL_ID).and_then(Value::as_str);
        if got != Some(sent) {
            return Some(format!(
                "personalize answered another person: {} {sent:?} was sent, the answer has {}",
                field::EXTERNAL_ID,
                got.map_or_else(|| "none".to_owned(), |g| format!("{g:?}"))
            ));
        }
    }
    if let Some(sent) = phone
        && !listed(body, field::PHONES, field::NUMBER, sent)
    {
        return Some(format!(
            "personalize answered a person without the phone number {sent:?} that was sent"
        ));
    }
    if let Some(sent) = email
        && !listed(body, field::EMAILS, field::ADDRESS, sent)
    {
        return Some(format!(
            "personalize answered a person without the email {sent:?} that was sent"
        ));
    }
    None
}

/// Whether the person's `contactInformation.<list>` has an element whose `key` is `sent`.
pub fn listed(person: &Value, list: &str, key: &str, sent: &str) -> bool {
    person
        .get(field::CONTACT_INFORMATION)
        .and_then(|c| c.get(list))
        .and_then(Value::as_array)
        .is_some_and(|items| {
            items
                .iter()
                .any(|i| i.get(key).and_then(Value::as_str) == Some(sent))
        })
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
            &Meaning::Registration { id: "r1" }.into(),
        );
        assert!(j.validated && j.problem.is_none(), "{j:?}");
        assert_eq!(
            j.body,
            Some(json!({"registrationId": "r1", "applicationId": "app"}))
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
                &m.into(),
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
            &Meaning::Nothing.into(),
        );
        assert!(
            !j.validated && j.problem.is_none() && j.body.is_none(),
            "{j:?}"
        );
        let j = judge(
            Operation::Get,
            200,
            Some("text/html"),
            b"{}",
            false,
            Mode::Lenient,
            &Meaning::Nothing.into(),
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
                &Meaning::Nothing.into(),
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
                &m.into(),
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
                &m.into(),
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
    fn every_registration_answered_must_carry_the_applications_id() {
        let expect = |id| Expect {
            application_id: id,
            ..Expect::default()
        };
        let get = |body: &[u8], id| {
            kind(&judge(
                Operation::Get,
                200,
                JSON,
                body,
                true,
                Mode::Lenient,
                &expect(id),
            ))
        };
        assert_eq!(get(&reg("r1"), Some("app")), None);
        assert_eq!(get(&reg("r1"), Some("other")), Some(Kind::Meaning));
        assert_eq!(get(&reg("r1"), None), None, "not judged without an ID");
        let person = json!({"contactInformation": {"push": [
            {"registrationId": "r1", "applicationId": "app"},
            {"registrationId": "r2", "applicationId": "other"}]}});
        let j = judge(
            Operation::Personalize,
            200,
            JSON,
            person.to_string().as_bytes(),
            true,
            Mode::Lenient,
            &expect(Some("app")),
        );
        let problem = j.problem.expect("r2 is another application's");
        assert!(problem.message.contains("\"r2\""), "{}", problem.message);
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
                &Meaning::Nothing.into(),
            ))
        };
        assert_eq!(e(JSON, r#"{"errorCode":48013,"errorMessage":"x"}"#), None);
        assert_eq!(e(Some("text/html"), "<html>"), Some(Kind::ContentType));
        assert_eq!(e(JSON, r#"{"oops":1}"#), Some(Kind::Schema));
    }

    /// `check_schemas` takes a body strict mode accepts as valid in lenient mode too. That holds
    /// while closing objects can only reject more: no `not`, `oneOf` or `if` whose outcome an
    /// added `additionalProperties: false` could flip, in any schema an answer is judged by.
    #[test]
    fn strict_only_closes() {
        fn walk(name: &str, v: &Value) {
            if let Value::Object(map) = v {
                for flip in ["not", "oneOf"] {
                    assert!(!map.contains_key(flip), "{name} uses {flip}");
                }
                if let Some(condition) = map.get("if") {
                    assert!(!condition.to_string().contains("properties"), "{name}: if");
                }
                map.values().for_each(|c| walk(name, c));
            } else if let Value::Array(items) = v {
                items.iter().for_each(|c| walk(name, c));
            }
        }
        let mut names: Vec<&str> = Operation::ALL
            .iter()
            .flat_map(|op| op.response_schemas().iter().copied())
            .chain(["system-data", "custom-attributes", "person-attributes"])
            .collect();
        for answer in Operation::Get.error_answers() {
            names.extend(answer.schemas);
        }
        for name in names {
            walk(name, registry().document(name).expect("known schema"));
        }
    }

    #[test]
    fn undocumented_properties_are_listed_in_lenient_mode_only_when_asked() {
        let body = json!({"registrationId": "r1", "applicationId": "a", "batteryLevel": 80});
        let get = |mode, undocumented| {
            let expect = Expect {
                undocumented,
                ..Expect::default()
            };
            let bytes = body.to_string().into_bytes();
            judge(Operation::Get, 200, JSON, &bytes, true, mode, &expect)
        };
        let scanned = get(Mode::Lenient, true);
        assert_eq!(scanned.problem, None);
        let paths: Vec<&str> = scanned
            .undocumented
            .iter()
            .map(|v| v.instance_path.as_str())
            .collect();
        assert_eq!(paths, ["/batteryLevel"]);
        assert!(get(Mode::Lenient, false).undocumented.is_empty());
        let strict = get(Mode::Strict, true);
        match strict.problem.map(|p| p.detail) {
            Some(Detail::Schema {
                closest,
                violations,
            }) => {
                assert_eq!(closest, "push-registration");
                assert!(violations[0].undocumented);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_caller_may_narrow_the_error_schemas_and_name_the_closest() {
        let legacy = json!({"requestError": {"serviceException": {"messageId": "X", "text": "x"}}});
        let bytes = legacy.to_string().into_bytes();
        let e = |schemas: &'static [&'static str]| {
            let expect = Expect {
                error_schemas: Some(schemas),
                ..Expect::default()
            };
            judge(
                Operation::Get,
                400,
                JSON,
                &bytes,
                true,
                Mode::Lenient,
                &expect,
            )
        };
        assert_eq!(e(&["error-legacy"]).problem, None);
        let push = e(&["error-push"])
            .problem
            .expect("a legacy body is no push body");
        assert!(matches!(
            push.detail,
            Detail::Schema {
                closest: "error-push",
                ..
            }
        ));
        // An undocumented status the caller expects, with any JSON body.
        let expect = Expect {
            error_schemas: Some(&[]),
            ..Expect::default()
        };
        let j = judge(
            Operation::Get,
            409,
            JSON,
            b"{}",
            true,
            Mode::Lenient,
            &expect,
        );
        assert_eq!(j.problem, None);
    }
}
