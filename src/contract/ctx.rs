//! The context a contract case runs in: the client, the registrations allocated to it, unique
//! identities, and the checks every response goes through (status, content type, JSON, schema,
//! undocumented fields, shape observation). Each check returns a [`Failure`] naming the request,
//! the status, the JSON pointer and expected vs got.

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::Value;

use super::cases::CaseSpec;
use super::result::{Exchange, Failure, Finding, FindingKind};
use crate::api::client::{Call, Client, Response};
use crate::api::personalize_flag::FORCE_DEPERSONALIZE;
use crate::api::{Operation, auth::Credentials, message_id};
use crate::schema::shape::Skeleton;
use crate::schema::{Mode, registry};

/// What a case may assume about where it runs.
#[derive(Debug, Clone)]
pub struct Environment {
    /// The embedded simulator (true) or a live account.
    pub simulator: bool,
    /// Every credential the target accepts that pushcheck knows (for the per-scheme cases).
    pub credentials: Vec<Credentials>,
    /// The configured application code.
    pub app_code: Option<String>,
    /// A registration of another application, if the target has one.
    pub other_app_registration: Option<String>,
    /// A number unique to this run, used to make identities no earlier run used.
    pub run_tag: u64,
}

/// The expected error of an error response.
#[derive(Debug, Clone, Copy)]
pub enum ErrorExpect {
    /// The push shape with this `errorCode`.
    Push(i64),
    /// The legacy shape with this `messageId`.
    Legacy(&'static str),
    /// Any documented error shape for the status.
    AnyShape,
}

/// A case's context. Created by the runner for each case.
#[derive(Debug)]
pub struct Ctx {
    client: Client,
    mode: Mode,
    registrations: Vec<String>,
    env: Environment,
    spec: &'static CaseSpec,
    counter: u32,
    pub(crate) exchanges: Vec<Exchange>,
    pub(crate) findings: Vec<Finding>,
    /// Skeletons of 200 responses by schema, for the run's drift report.
    pub(crate) observed: BTreeMap<&'static str, Skeleton>,
    /// Registrations this case personalized (to depersonalize when restoring a live target).
    pub(crate) personalized: Vec<String>,
    /// A personalize sent whose answer has not come back: when Ctrl-C drops the case there, the
    /// restore treats it as having succeeded.
    pub(crate) personalize_in_flight: Option<String>,
    /// Registrations that answered PERSONALIZATION_IMPOSSIBLE to a personalize without
    /// forceDepersonalize although this case had not personalized them: they belong to a person
    /// from before the run, so writing cases must leave them alone.
    pub(crate) bound_before: Vec<String>,
}

const EXCERPT: usize = 160;

/// A short, single-line excerpt of a body for messages.
pub fn excerpt(body: &[u8]) -> String {
    if body.is_empty() {
        return "an empty body".to_owned();
    }
    let text = String::from_utf8_lossy(body);
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > EXCERPT {
        format!("{}…", flat.chars().take(EXCERPT).collect::<String>())
    } else {
        flat
    }
}

impl Ctx {
    /// Registrations to depersonalize when restoring: those personalized, and one whose
    /// personalize was interrupted before its answer came.
    pub(crate) fn to_depersonalize(&self) -> Vec<String> {
        let mut out = self.personalized.clone();
        out.extend(self.personalize_in_flight.iter().cloned());
        out
    }

    pub(crate) fn new(
        client: Client,
        mode: Mode,
        registrations: Vec<String>,
        env: Environment,
        spec: &'static CaseSpec,
    ) -> Ctx {
        Ctx {
            client,
            mode,
            registrations,
            env,
            spec,
            counter: 0,
            exchanges: Vec::new(),
            findings: Vec::new(),
            observed: BTreeMap::new(),
            personalized: Vec::new(),
            personalize_in_flight: None,
            bound_before: Vec::new(),
        }
    }

    pub fn env(&self) -> &Environment {
        &self.env
    }

    /// The credentials of the scheme the case needs (all known ones if it needs none).
    pub fn scheme_credentials(&self) -> Vec<Credentials> {
        self.env
            .credentials
            .iter()
            .filter(|c| self.spec.needs_scheme.is_none_or(|s| s == c.scheme()))
            .cloned()
            .collect()
    }

    /// The `i`-th registration allocated to this case.
    pub fn reg(&self, i: usize) -> String {
        self.registrations.get(i).cloned().unwrap_or_default()
    }

    fn next(&mut self) -> u32 {
        self.counter += 1;
        self.counter
    }

    /// A phone number (digits only) no earlier run has used.
    pub fn phone(&mut self) -> String {
        let n = self.next();
        format!(
            "99{:010}{:02}{n:03}",
            self.env.run_tag % 10_000_000_000,
            self.spec.name.len() % 100
        )
    }

    /// An email address no earlier run has used.
    pub fn email(&mut self) -> String {
        let n = self.next();
        format!(
            "pushcheck.{}.{}.{n}@example.com",
            self.env.run_tag, self.spec.name
        )
    }

    /// An externalId no earlier run has used.
    pub fn external_id(&mut self) -> String {
        let n = self.next();
        format!("pushcheck-{}-{}-{n}", self.env.run_tag, self.spec.name)
    }

    /// A registration ID no target has (unique to this run).
    pub fn unknown_id(&self) -> String {
        format!("pushcheck-unknown-{}", self.env.run_tag)
    }

    /// Sends a call that must answer "registration not found": HTTP 400, errorCode 48013.
    pub async fn not_found(&mut self, call: Call) -> Result<(), Failure> {
        let expect = ErrorExpect::Push(crate::api::error_code::REGISTRATION_NOT_FOUND);
        self.error(call, 400, expect).await.map(drop)
    }

    /// Sends a call, recording it. No response at all is a failure.
    pub async fn send(&mut self, call: Call) -> Result<Response, Failure> {
        let started = Instant::now();
        if call.operation == Operation::Personalize {
            self.personalize_in_flight = Some(call.registration_id.clone());
        }
        let outcome = self.client.send(&call).await;
        self.personalize_in_flight = None;
        if call.operation == Operation::Personalize
            && let Ok(response) = &outcome
        {
            let id = &call.registration_id;
            if response.status == 200 {
                self.personalized.push(id.clone());
            } else if is_bound_elsewhere(&call, response)
                && !self.personalized.contains(id)
                && !self.bound_before.contains(id)
            {
                self.bound_before.push(id.clone());
            }
        }
        self.exchanges.push(Exchange {
            request: call.describe(),
            status: outcome.as_ref().ok().map(|r| r.status),
            duration: outcome
                .as_ref()
                .map_or_else(|_| started.elapsed(), |r| r.elapsed),
        });
        outcome.map_err(|e| Failure {
            message: format!("no response: {e}"),
            request: Some(call.describe()),
            unreachable: e.is_unreachable(),
            ..Failure::default()
        })
    }

    /// Sends a call that must answer 200 with the operation's response schema; returns the body.
    pub async fn ok(&mut self, call: Call) -> Result<Value, Failure> {
        let operation = call.operation;
        let response = self.send(call).await?;
        expect_status(&response, 200)?;
        let Some(schema) = operation.response_schema() else {
            return Ok(Value::Null);
        };
        let value = json_body(&response)?;
        self.check_schema(&response, schema, &value)?;
        self.observed
            .entry(schema)
            .or_default()
            .merge(&Skeleton::of_shaped(&value, registry().map_paths(schema)));
        Ok(value)
    }

    /// Sends a call that must answer 200 with an empty body (depersonalize).
    pub async fn ok_empty(&mut self, call: Call) -> Result<(), Failure> {
        let response = self.send(call).await?;
        expect_status(&response, 200)?;
        if !response.body.iter().all(u8::is_ascii_whitespace) {
            return Err(Failure {
                message: "a 200 with an empty body was expected".into(),
                expected: Some("an empty body".into()),
                got: Some(excerpt(&response.body)),
                ..at(&response)
            });
        }
        Ok(())
    }

    /// Sends a call that must answer `status` with a documented error body matching `expect`.
    pub async fn error(
        &mut self,
        call: Call,
        status: u16,
        expect: ErrorExpect,
    ) -> Result<Value, Failure> {
        let operation = call.operation;
        let response = self.send(call).await?;
        expect_status(&response, status)?;
        self.error_body(operation, &response, status, expect)
    }

    /// Sends a call that must be refused: any 4xx, with a documented error body for that status
    /// (what the docs promise where they name no status or messageId).
    pub async fn refused(&mut self, call: Call) -> Result<Value, Failure> {
        let operation = call.operation;
        let response = self.send(call).await?;
        if !(400..500).contains(&response.status) {
            return Err(Failure {
                message: format!("expected a refusal (HTTP 4xx), got {}", response.status),
                expected: Some("HTTP 4xx with a documented error body".into()),
                got: Some(format!(
                    "HTTP {}: {}",
                    response.status,
                    excerpt(&response.body)
                )),
                ..at(&response)
            });
        }
        self.error_body(operation, &response, response.status, ErrorExpect::AnyShape)
    }

    /// The body of an error answer must follow a documented error shape matching `expect`.
    fn error_body(
        &mut self,
        operation: Operation,
        response: &Response,
        status: u16,
        expect: ErrorExpect,
    ) -> Result<Value, Failure> {
        let value = json_body(response)?;
        let shapes: Vec<&str> = operation
            .error_answers()
            .iter()
            .find(|a| a.status == status)
            .map(|a| a.schemas.to_vec())
            .unwrap_or_default();
        let wanted: Vec<&str> = match expect {
            ErrorExpect::Push(_) => vec!["error-push"],
            ErrorExpect::Legacy(_) => vec!["error-legacy"],
            ErrorExpect::AnyShape => shapes,
        };
        let mut best: Option<(&str, Vec<crate::schema::Violation>)> = None;
        for schema in &wanted {
            let violations = registry()
                .validate(schema, self.mode, &value)
                .map_err(|e| Failure::new(e.to_string()))?;
            if violations.is_empty() {
                best = None;
                break;
            }
            if best
                .as_ref()
                .is_none_or(|(_, v)| violations.len() < v.len())
            {
                best = Some((schema, violations));
            }
        }
        if let Some((schema, violations)) = best {
            let first = &violations[0];
            return Err(Failure {
                message: format!(
                    "the {status} error body is not a documented error shape ({}); closest: {schema}",
                    wanted.join(" or ")
                ),
                pointer: Some(first.instance_path.clone()),
                expected: Some(format!("{schema}: {}", first.message)),
                got: Some(excerpt(&response.body)),
                ..at(response)
            });
        }
        match expect {
            ErrorExpect::Push(code) => {
                expect_value(response, &value, "/errorCode", &Value::from(code))?
            }
            ErrorExpect::Legacy(id) => expect_value(
                response,
                &value,
                "/requestError/serviceException/messageId",
                &Value::from(id),
            )?,
            ErrorExpect::AnyShape => {}
        }
        Ok(value)
    }

    fn check_schema(
        &mut self,
        response: &Response,
        schema: &'static str,
        value: &Value,
    ) -> Result<(), Failure> {
        let violations = registry()
            .validate(schema, self.mode, value)
            .map_err(|e| Failure::new(e.to_string()))?;
        if let Some(first) = violations.first() {
            let more = if violations.len() > 1 {
                format!(" (and {} more)", violations.len() - 1)
            } else {
                String::new()
            };
            return Err(Failure {
                message: format!("the response does not follow schema {schema}{more}"),
                pointer: Some(first.instance_path.clone()),
                expected: Some(format!("{} (schema {})", first.message, first.schema_path)),
                got: Some(value.pointer(&first.instance_path).map_or_else(
                    || "nothing".to_owned(),
                    |v| excerpt(v.to_string().as_bytes()),
                )),
                ..at(response)
            });
        }
        if self.mode == Mode::Lenient {
            let strict = registry()
                .validate(schema, Mode::Strict, value)
                .map_err(|e| Failure::new(e.to_string()))?;
            for v in strict.into_iter().filter(|v| v.undocumented) {
                let finding = Finding {
                    kind: FindingKind::Undocumented,
                    schema: schema.to_owned(),
                    path: v.instance_path,
                    detail: format!("in the answer to {}", response.request),
                    cases: Vec::new(),
                };
                if !self.findings.contains(&finding) {
                    self.findings.push(finding);
                }
            }
        }
        Ok(())
    }
}

/// A personalize without `forceDepersonalize=true` refused with PERSONALIZATION_IMPOSSIBLE.
fn is_bound_elsewhere(call: &Call, response: &Response) -> bool {
    let forced = call
        .flags
        .iter()
        .any(|(name, value)| *name == FORCE_DEPERSONALIZE && *value);
    !forced
        && (400..500).contains(&response.status)
        && serde_json::from_slice::<Value>(&response.body).is_ok_and(|v| {
            v.pointer("/requestError/serviceException/messageId")
                .and_then(Value::as_str)
                == Some(message_id::PERSONALIZATION_IMPOSSIBLE)
        })
}

/// A failure pre-filled with the response's request and status.
pub fn at(response: &Response) -> Failure {
    Failure {
        request: Some(response.request.clone()),
        status: Some(response.status),
        ..Failure::default()
    }
}

/// The status must be `status`.
pub fn expect_status(response: &Response, status: u16) -> Result<(), Failure> {
    if response.status == status {
        return Ok(());
    }
    Err(Failure {
        message: format!("expected HTTP {status}, got {}", response.status),
        expected: Some(format!("HTTP {status}")),
        got: Some(format!(
            "HTTP {}: {}",
            response.status,
            excerpt(&response.body)
        )),
        ..at(response)
    })
}

/// The body must be JSON, with a JSON content type.
pub fn json_body(response: &Response) -> Result<Value, Failure> {
    if response.body.iter().all(u8::is_ascii_whitespace) {
        return Err(Failure {
            message: "the body is empty where JSON was expected".into(),
            expected: Some("a JSON body".into()),
            got: Some("an empty body".into()),
            ..at(response)
        });
    }
    if !response.is_json_content_type() {
        return Err(Failure {
            message: "the content type is not JSON".into(),
            expected: Some("Content-Type: application/json".into()),
            got: Some(format!(
                "Content-Type: {}",
                response.content_type.as_deref().unwrap_or("(none)")
            )),
            ..at(response)
        });
    }
    serde_json::from_slice(&response.body).map_err(|e| Failure {
        message: format!(
            "the body is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        ),
        expected: Some("a JSON body".into()),
        got: Some(excerpt(&response.body)),
        ..at(response)
    })
}

/// The value at `pointer` must equal `expected`.
pub fn expect_value(
    response: &Response,
    value: &Value,
    pointer: &str,
    expected: &Value,
) -> Result<(), Failure> {
    check_value(
        &format!("the answer to {}", response.request),
        value,
        pointer,
        expected,
    )
    .map_err(|f| Failure {
        request: Some(response.request.clone()),
        status: Some(response.status),
        ..f
    })
}

/// A check on a value already read (no response at hand): `what` names the request it came from.
pub fn check_value(
    what: &str,
    value: &Value,
    pointer: &str,
    expected: &Value,
) -> Result<(), Failure> {
    let got = value.pointer(pointer);
    if got == Some(expected) {
        return Ok(());
    }
    Err(Failure {
        message: format!("unexpected value at {pointer} in {what}"),
        pointer: Some(pointer.to_owned()),
        expected: Some(expected.to_string()),
        got: Some(got.map_or_else(|| "nothing (missing)".to_owned(), ToString::to_string)),
        ..Failure::default()
    })
}
