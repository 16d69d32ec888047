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
use crate::schema::shape::Skeleton;
use crate::schema::{Violation, registry};

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
        self.ok_body(operation, &response)
    }

    /// Sends a call the docs allow a target to refuse or to apply: a refusal (any 4xx with a
    /// documented error body) is `None`, a 200 is judged as [`Ctx::ok`] judges it and its body
    /// returned; any other answer is a failure.
    pub async fn ok_or_refused(&mut self, call: Call) -> Result<Option<Value>, Failure> {
        let operation = call.operation;
        let response = self.send(call).await?;
        if (400..500).contains(&response.status) {
            return self
                .error_body(operation, &response, ErrorExpect::AnyShape)
                .map(|_| None);
        }
        if response.status != 200 {
            return Err(Failure {
                message: format!(
                    "expected HTTP 200 or a refusal (HTTP 4xx), got {}",
                    response.status
                ),
                expected: Some("HTTP 200, or HTTP 4xx with a documented error body".into()),
                got: Some(format!(
                    "HTTP {}: {}",
                    response.status,
                    excerpt(&response.body)
                )),
                ..at(&response)
            });
        }
        self.ok_body(operation, &response).map(Some)
    }

    /// The body of a 200 answer: the operation's response schema, judged (undocumented fields
    /// noted, the skeleton kept for drift).
    fn ok_body(&mut self, operation: Operation, response: &Response) -> Result<Value, Failure> {
        let expect = Expect {
            undocumented: true,
            application_id: self.env().application_id.as_deref(),
            ..Expect::default()
        };
        let judged = self.judge(operation, response, &expect);
        let Some(schema) = operation.response_schema() else {
            return judged
                .problem
                .map_or(Ok(Value::Null), |p| Err(other(response, p)));
        };
        let value = match json_body(response, judged)? {
            Body::Valid(valid) => valid,
            Body::Broken(broken) => return Err(schema_failure(response, schema, &broken)),
        };
        self.note_undocumented(response, schema, &value.undocumented);
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
        let value = match json_body(response, judged)? {
            Body::Valid(valid) => valid.body,
            Body::Broken(broken) => return Err(error_shape_failure(response, wanted, &broken)),
        };
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
    fn note_undocumented(&mut self, response: &Response, schema: &str, undocumented: &[Violation]) {
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

/// A body that had to be JSON, as the judge found it (other breaks are failures already).
enum Body {
    Valid(Valid),
    /// JSON in none of the schemas it may follow: the caller words it.
    Broken(SchemaBreak),
}

/// A valid JSON body, with the undocumented properties the judge listed.
struct Valid {
    body: Value,
    undocumented: Vec<Violation>,
}

/// The schema a broken body came closest to, its violations, and the body.
struct SchemaBreak {
    closest: &'static str,
    violations: Vec<Violation>,
    body: Option<Value>,
}

/// The body of a judged response that had to be JSON: valid, broken against its schemas, or a
/// failure (empty, not JSON, not sent as JSON).
fn json_body(response: &Response, judged: Judged) -> Result<Body, Failure> {
    let Some(problem) = judged.problem else {
        return Ok(Body::Valid(Valid {
            body: judged.body.unwrap_or(Value::Null),
            undocumented: judged.undocumented,
        }));
    };
    let blank = response.body.iter().all(u8::is_ascii_whitespace);
    Err(match problem.detail {
        Detail::ContentType(_) | Detail::NotJson { .. } if blank => Failure {
            message: "the body is empty where JSON was expected".into(),
            expected: Some("a JSON body".into()),
            got: Some("an empty body".into()),
            ..at(response)
        },
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
        } => {
            return Ok(Body::Broken(SchemaBreak {
                closest,
                violations,
                body: judged.body,
            }));
        }
        Detail::Status | Detail::NotEmpty | Detail::Meaning => other(response, problem),
    })
}

/// A 200 answer that breaks the operation's schema.
fn schema_failure(response: &Response, schema: &str, broken: &SchemaBreak) -> Failure {
    let violations = &broken.violations;
    let Some(first) = violations.first() else {
        return Failure::new(format!("the response does not follow schema {schema}"));
    };
    let more = if violations.len() > 1 {
        format!(" (and {} more)", violations.len() - 1)
    } else {
        String::new()
    };
    let got = broken
        .body
        .as_ref()
        .and_then(|b| b.pointer(&first.instance_path));
    Failure {
        message: format!("the response does not follow schema {schema}{more}"),
        pointer: Some(first.instance_path.clone()),
        expected: Some(format!("{} (schema {})", first.message, first.schema_path)),
        got: Some(got.map_or_else(
            || "nothing".to_owned(),
            |v| excerpt(v.to_string().as_bytes()),
        )),
        ..at(response)
    }
}

/// An error answer in none of the `wanted` shapes.
fn error_shape_failure(response: &Response, wanted: &[&str], broken: &SchemaBreak) -> Failure {
    let closest = broken.closest;
    let first = broken.violations.first();
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn response(status: u16, content_type: Option<&str>, body: &str) -> Response {
        Response {
            request: "GET /r1".to_owned(),
            status,
            content_type: content_type.map(str::to_owned),
            body: body.as_bytes().to_vec(),
            elapsed: Duration::ZERO,
        }
    }

    /// The failure a 200 answer to a GET gets, as `Ctx::ok` words it.
    fn ok_failure(r: &Response) -> Failure {
        let judged = judge::judge(
            Operation::Get,
            r.status,
            r.content_type.as_deref(),
            &r.body,
            true,
            crate::schema::Mode::Lenient,
            &Expect::default(),
        );
        match json_body(r, judged) {
            Err(f) => f,
            Ok(Body::Broken(b)) => schema_failure(r, "push-registration", &b),
            Ok(Body::Valid(_)) => Failure::new("valid"),
        }
    }

    #[test]
    fn an_empty_body_is_named_empty_whatever_its_content_type() {
        for ct in [Some("application/json"), Some("text/plain"), None] {
            let f = ok_failure(&response(200, ct, " \n"));
            assert_eq!(f.message, "the body is empty where JSON was expected");
            assert_eq!(f.got.as_deref(), Some("an empty body"));
        }
    }

    #[test]
    fn content_type_json_and_schema_breaks_are_worded_as_before() {
        let f = ok_failure(&response(200, Some("text/plain"), "{}"));
        assert_eq!(f.message, "the content type is not JSON");
        assert_eq!(f.got.as_deref(), Some("Content-Type: text/plain"));
        let f = ok_failure(&response(200, Some("application/json"), "<html>"));
        assert_eq!(f.message, "the body is not valid JSON (line 1, column 1)");
        let f = ok_failure(&response(
            200,
            Some("application/json"),
            r#"{"registrationId": 5}"#,
        ));
        assert_eq!(
            f.message,
            "the response does not follow schema push-registration (and 1 more)"
        );
        assert_eq!(f.pointer.as_deref(), Some("/applicationId"));
        assert_eq!(f.got.as_deref(), Some("nothing"));
        assert_eq!(f.status, Some(200));
    }

    /// One violation against each shape: the first of equals is the closest.
    #[test]
    fn an_error_body_names_the_closest_documented_shape() {
        let r = response(400, Some("application/json"), r#"{"errorCode": 48013}"#);
        let wanted = ErrorExpect::AnyShape.schemas(Operation::Get, 400);
        let expect = Expect {
            error_schemas: Some(wanted),
            ..Expect::default()
        };
        let judged = judge::judge(
            Operation::Get,
            400,
            r.content_type.as_deref(),
            &r.body,
            true,
            crate::schema::Mode::Lenient,
            &expect,
        );
        let Ok(Body::Broken(broken)) = json_body(&r, judged) else {
            panic!("a schema break")
        };
        let f = error_shape_failure(&r, wanted, &broken);
        assert_eq!(
            f.message,
            "the 400 error body is not a documented error shape (error-push or error-legacy); closest: error-push"
        );
        assert!(f.expected.is_some_and(|e| e.starts_with("error-push: ")));
    }
}
