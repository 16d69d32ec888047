//! `lint-docs`: every JSON example of the documentation page validated against its schema, plus
//! the doc-vs-spec disagreements, as data for a reporter to print.

use serde::Serialize;
use serde_json::Value;

use super::registry::{Mode, Registry, SchemaError, Violation};
use crate::api::docs::{self, DISAGREEMENTS, Disagreement, DocExample};

/// The outcome for one doc example.
#[derive(Debug, Clone, Serialize)]
pub struct ExampleResult {
    pub example: &'static str,
    pub title: &'static str,
    pub schema: &'static str,
    pub violations: Vec<Violation>,
}

/// Which format a birthday value follows (the doc/spec disagreement made concrete).
#[derive(Debug, Clone, Serialize)]
pub struct BirthdayFinding {
    pub example: &'static str,
    pub value: String,
    /// `"date"` (as the doc shows), `"date-time"` (as the spec says), or `"neither"`.
    pub follows: &'static str,
}

/// Everything `lint-docs` found.
#[derive(Debug, Clone, Serialize)]
pub struct LintReport {
    pub mode: Mode,
    pub examples: Vec<ExampleResult>,
    pub birthdays: Vec<BirthdayFinding>,
    #[serde(skip)]
    pub disagreements: &'static [Disagreement],
}

impl LintReport {
    /// True when no example has a violation.
    pub fn passed(&self) -> bool {
        self.examples.iter().all(|e| e.violations.is_empty())
    }
}

/// Validates every doc example in `mode`.
pub fn lint_docs(registry: &Registry, mode: Mode) -> Result<LintReport, SchemaError> {
    let mut examples = Vec::new();
    let mut birthdays = Vec::new();
    for example in docs::EXAMPLES {
        let value = parse_example(example);
        examples.push(ExampleResult {
            example: example.name,
            title: example.title,
            schema: example.schema,
            violations: registry.validate(example.schema, mode, &value)?,
        });
        if let Some(Value::String(birthday)) = value.get("birthday") {
            birthdays.push(BirthdayFinding {
                example: example.name,
                value: birthday.clone(),
                follows: birthday_format(birthday),
            });
        }
    }
    Ok(LintReport {
        mode,
        examples,
        birthdays,
        disagreements: DISAGREEMENTS,
    })
}

/// Parses an embedded example. They are committed files checked by tests, so a parse failure
/// is reported as a JSON `null` document (which then fails validation visibly) rather than a panic.
pub fn parse_example(example: &DocExample) -> Value {
    serde_json::from_str(example.json).unwrap_or(Value::Null)
}

fn birthday_format(value: &str) -> &'static str {
    let check = |format: &str| {
        let schema = serde_json::json!({"format": format});
        jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .is_ok_and(|v| v.is_valid(&Value::String(value.to_owned())))
    };
    if check("date") {
        "date"
    } else if check("date-time") {
        "date-time"
    } else {
        "neither"
    }
}
