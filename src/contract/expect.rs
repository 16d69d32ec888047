//! What a case expects of a response — HTTP 200 and the operation's schema, an empty 200, an
//! error status with a documented error body, any refusal — judged by the one judge of every
//! runner ([`crate::schema::judge`]) and worded as a contract [`Failure`]: the request, the
//! status, the JSON pointer, expected vs got.
//!
//! The exact status is the case's own expectation and is checked here first; everything the
//! body must be (Content-Type, JSON, schema) is the judge's. Undocumented properties of a valid
//! answer become findings in lenient mode (the judge lists them without a second validation);
//! 200 answers feed the run's shape drift.

use serde_json::Value;

use super::ctx::Ctx;
use super::result::{Failure, Finding, FindingKind};
use crate::api::client::{Call, Response};
use crate::api::{Operation, field};
use crate::schema::judge::{self, Detail, Expect, Judged, Problem};
use crate::schema::registry;
use crate::schema::shape::Skeleton;

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

impl ErrorExpect {
    /// The schemas the error body must follow: the expected shape, or every shape the operation
    /// documents for `status` (none documented: any JSON).
    fn schemas(self, operation: Operation, status: u16) -> &'static [&'static str] {
        match self {
            ErrorExpect::Push(_) => &["error-push"],
            ErrorExpect::Legacy(_) => &["error-legacy"],
            ErrorExpect::AnyShape => operation.error_schemas(status).unwrap_or(&[]),
        }
    }
}

impl Ctx {
    /// Sends a call that must answer "registration not found": HTTP 400, errorCode 48013.
    pub async fn not_found(&mut self, call: Call) -> Result<(), Failure> {
        let expect = ErrorExpect::Push(crate::api::error_code::REGISTRATION_NOT_FOUND);
        self.error(call, 400, expect).await.map(drop)
    }

    /// Sends a call that must answer 200 with the operation's response schema; returns the body.
    pub async fn ok(&mut self, call: Call) -> Result<Value, Failure> {
        let operation = call.operation;
        let response = self.send(call).await?;
        expect_status(&response, 200)?;
        let expect = Expect {
            undocumented: true,
            ..Expect::default()
        };
        let judged = self.judge(operation, &response, &expect);
        let Some(schema) = operation.response_schema() else {
            return judged
                .problem
                .map_or(Ok(Value::Null), |p| Err(other(&response, p)));
        };
        let value = body_of(&response, judged, |violations, value| {
            schema_failure(&response, schema, violations, value)
        })?;
        self.note_undocumented(&response, schema, &value.undocumented);
        self.observed
            .entry(schema)
            .or_default()
            .merge(&Skeleton::of_shaped(
                &value.body,
                registry().map_paths(schema),
            ));
        Ok(value.body)
    }

    /// Sends a call that must answer 200 with an empty body (depersonalize).
    pub async fn ok_empty(&mut self, call: Call) -> Result<(), Failure> {
        let operation = call.operation;
        let response = self.send(call).await?;
        expect_status(&response, 200)?;
        match self.judge(operation, &response, &Expect::default()).problem {
            None => Ok(()),
            Some(Problem {
                detail: Detail::NotEmpty,
                ..
            }) => Err(Failure {
                message: "a 200 with an empty body was expected".into(),
                expected: Some("an empty body".into()),
                got: Some(excerpt(&response.body)),
                ..at(&response)
            }),
            Some(problem) => Err(other(&response, problem)),
        }
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
        self.error_body(operation, &response, expect)
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
        self.error_body(operation, &response, ErrorExpect::AnyShape)
    }

    /// The body of an error answer must follow a documented error shape matching `expect`.
    fn error_body(
        &mut self,
        operation: Operation,
        response: &Response,
        expect: ErrorExpect,
    ) -> Result<Value, Failure> {
        let wanted = expect.schemas(operation, response.status);
        let judge_expect = Expect {
            error_schemas: Some(wanted),
            ..Expect::default()
        };
        let judged = self.judge(operation, response, &judge_expect);
        let value = body_of(response, judged, |violations, closest| {
            error_shape_failure(response, wanted, closest, violations)
        })?
        .body;
        match expect {
            ErrorExpect::Push(code) => expect_value(
                response,
                &value,
                &field::pointer(&[field::ERROR_CODE]),
                &Value::from(code),
            )?,
            ErrorExpect::Legacy(id) => expect_value(
                response,
                &value,
                field::MESSAGE_ID_POINTER,
                &Value::from(id),
            )?,
            ErrorExpect::AnyShape => {}
        }
        Ok(value)
    }

    /// The judge's verdict on a response whose status the case has already checked.
    fn judge(&self, operation: Operation, response: &Response, expect: &Expect<'_>) -> Judged {
        judge::judge(
            operation,
            response.status,
            response.content_type.as_deref(),
            &response.body,
            true,
            self.mode,
            expect,
        )
    }

    /// Undocumented properties of a valid answer, as findings (once each per case).
    fn note_undocumented(
        &mut self,
        response: &Response,
        schema: &str,
        undocumented: &[crate::schema::Violation],
    ) {
        for v in undocumented {
            let finding = Finding {
                kind: FindingKind::Undocumented,
                schema: schema.to_owned(),
                path: v.instance_path.clone(),
                detail: format!("in the answer to {}", response.request),
                cases: Vec::new(),
            };
            if !self.findings.contains(&finding) {
                self.findings.push(finding);
            }
        }
    }
}

/// A body the judge found to be JSON and valid, with its undocumented properties.
struct Valid {
    body: Value,
    undocumented: Vec<crate::schema::Violation>,
}

/// The valid JSON body of a judged response, or the failure that words its break; a schema break
/// is worded by `schema`, given the violations and the closest schema (and the parsed body).
fn body_of(
    response: &Response,
    judged: Judged,
    schema: impl FnOnce(&[crate::schema::Violation], SchemaBreak<'_>) -> Failure,
) -> Result<Valid, Failure> {
    let blank = response.body.iter().all(u8::is_ascii_whitespace);
    match (judged.problem, judged.body) {
        (None, body) => Ok(Valid {
            body: body.unwrap_or(Value::Null),
            undocumented: judged.undocumented,
        }),
        (Some(p), _)
            if blank && matches!(p.detail, Detail::ContentType(_) | Detail::NotJson { .. }) =>
        {
            Err(Failure {
                message: "the body is empty where JSON was expected".into(),
                expected: Some("a JSON body".into()),
                got: Some("an empty body".into()),
                ..at(response)
            })
        }
        (Some(p), body) => Err(match p.detail {
            Detail::ContentType(content_type) => Failure {
                message: "the content type is not JSON".into(),
                expected: Some("Content-Type: application/json".into()),
                got: Some(format!(
                    "Content-Type: {}",
                    content_type.as_deref().unwrap_or("(none)")
                )),
                ..at(response)
            },
            Detail::NotJson { line, column } => Failure {
                message: format!("the body is not valid JSON (line {line}, column {column})"),
                expected: Some("a JSON body".into()),
                got: Some(excerpt(&response.body)),
                ..at(response)
            },
            Detail::Schema {
                closest,
                violations,
            } => schema(
                &violations,
                SchemaBreak {
                    closest,
                    body: body.as_ref(),
                },
            ),
            _ => other(response, p),
        }),
    }
}

/// The schema a broken body came closest to, and the body.
struct SchemaBreak<'a> {
    closest: &'static str,
    body: Option<&'a Value>,
}

/// A 200 answer that breaks the operation's schema.
fn schema_failure(
    response: &Response,
    schema: &str,
    violations: &[crate::schema::Violation],
    broken: SchemaBreak<'_>,
) -> Failure {
    let Some(first) = violations.first() else {
        return Failure::new(format!("the response does not follow schema {schema}"));
    };
    let more = if violations.len() > 1 {
        format!(" (and {} more)", violations.len() - 1)
    } else {
        String::new()
    };
    Failure {
        message: format!("the response does not follow schema {schema}{more}"),
        pointer: Some(first.instance_path.clone()),
        expected: Some(format!("{} (schema {})", first.message, first.schema_path)),
        got: Some(
            broken
                .body
                .and_then(|b| b.pointer(&first.instance_path))
                .map_or_else(
                    || "nothing".to_owned(),
                    |v| excerpt(v.to_string().as_bytes()),
                ),
        ),
        ..at(response)
    }
}

/// An error answer in none of the `wanted` shapes.
fn error_shape_failure(
    response: &Response,
    wanted: &[&str],
    broken: SchemaBreak<'_>,
    violations: &[crate::schema::Violation],
) -> Failure {
    let SchemaBreak { closest, .. } = broken;
    let first = violations.first();
    Failure {
        message: format!(
            "the {} error body is not a documented error shape ({}); closest: {closest}",
            response.status,
            wanted.join(" or ")
        ),
        pointer: first.map(|v| v.instance_path.clone()),
        expected: first.map(|v| format!("{closest}: {}", v.message)),
        got: Some(excerpt(&response.body)),
        ..at(response)
    }
}

/// A break the case's own status check rules out; worded as the judge words it.
fn other(response: &Response, problem: Problem) -> Failure {
    Failure {
        message: problem.message,
        got: Some(excerpt(&response.body)),
        ..at(response)
    }
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
