//! Threshold rules: goose's own, passed through to goose untouched, and pushcheck's
//! `schema-violation-rate`, which goose cannot know about.
//!
//! goose parses and judges its rules (`p95<500ms`, `error-rate<1%`, `rps>=100`,
//! `… for GET registration`); pushcheck only parses them early with goose's parser so a rule goose
//! refuses is reported before anything starts, with goose's reason. `schema-violation-rate` follows
//! the same grammar: `schema-violation-rate<OP><PERCENT>[ for <request>]`, judged on the share of
//! validated responses that broke their schema.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer};

/// The metric name of pushcheck's own rule.
pub const SCHEMA_VIOLATION_RATE: &str = "schema-violation-rate";

/// One pass/fail rule.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    /// A goose rule, kept as text; goose judges it.
    Goose(String),
    /// `schema-violation-rate…`, judged by pushcheck.
    SchemaViolationRate(ViolationRule),
}

impl Rule {
    /// The rule as written.
    pub fn text(&self) -> &str {
        match self {
            Rule::Goose(t) => t,
            Rule::SchemaViolationRate(r) => &r.rule,
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

impl FromStr for Rule {
    type Err = String;

    /// Parses a rule; a goose rule is checked with goose's parser and refused with its reason.
    fn from_str(text: &str) -> Result<Rule, String> {
        let rule = text.trim();
        if rule.starts_with(SCHEMA_VIOLATION_RATE) {
            return rule.parse().map(Rule::SchemaViolationRate);
        }
        match rule.parse::<goose::threshold::Threshold>() {
            Ok(_) => Ok(Rule::Goose(rule.to_owned())),
            Err(goose::GooseError::InvalidOption { detail, .. }) => Err(format!(
                "{detail} (pushcheck also accepts {SCHEMA_VIOLATION_RATE}<PERCENT)"
            )),
            Err(e) => Err(e.to_string()),
        }
    }
}

impl<'de> Deserialize<'de> for Rule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Comparison of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

impl Op {
    fn passes(self, observed: f64, limit: f64) -> bool {
        match self {
            Op::Less => observed < limit,
            Op::LessOrEqual => observed <= limit,
            Op::Greater => observed > limit,
            Op::GreaterOrEqual => observed >= limit,
        }
    }
}

/// `schema-violation-rate<OP><PERCENT>[ for <request>]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ViolationRule {
    pub rule: String,
    pub op: Op,
    /// Percent, 0 to 100.
    pub limit: f64,
    /// A request name as goose's reports show it (`GET registration`), or all requests.
    pub request: Option<String>,
}

impl FromStr for ViolationRule {
    type Err = String;
    fn from_str(text: &str) -> Result<ViolationRule, String> {
        let rule = text.trim();
        let bad = |why: &str| format!("threshold {rule:?}: {why}");
        let rest = rule
            .strip_prefix(SCHEMA_VIOLATION_RATE)
            .ok_or_else(|| bad("it does not start with schema-violation-rate"))?
            .trim_start();
        let (op, rest) = if let Some(r) = rest.strip_prefix("<=") {
            (Op::LessOrEqual, r)
        } else if let Some(r) = rest.strip_prefix(">=") {
            (Op::GreaterOrEqual, r)
        } else if let Some(r) = rest.strip_prefix('<') {
            (Op::Less, r)
        } else if let Some(r) = rest.strip_prefix('>') {
            (Op::Greater, r)
        } else {
            return Err(bad("the operator must be <, <=, > or >="));
        };
        let (value, request) = match rest.split_once(" for ") {
            Some((v, r)) if !r.trim().is_empty() => (v.trim(), Some(r.trim().to_owned())),
            Some(_) => {
                return Err(bad(
                    "\"for\" needs a request name, such as GET registration",
                ));
            }
            None => (rest.trim(), None),
        };
        let number = value.strip_suffix('%').unwrap_or(value);
        let plain = !number.is_empty()
            && number.chars().all(|c| c.is_ascii_digit() || c == '.')
            && number.matches('.').count() <= 1;
        let limit: f64 = plain
            .then(|| number.parse().ok())
            .flatten()
            .ok_or_else(|| bad(&format!("{value:?} is not a percent, such as 0.1%")))?;
        if limit > 100.0 {
            return Err(bad("a violation rate can not be more than 100%"));
        }
        if (op == Op::Less && limit == 0.0) || (op == Op::Greater && limit == 100.0) {
            return Err(bad("it can never pass"));
        }
        Ok(ViolationRule {
            rule: rule.to_owned(),
            op,
            limit,
            request,
        })
    }
}

impl ViolationRule {
    /// Whether `observed` (percent) passes.
    pub fn passes(&self, observed: f64) -> bool {
        self.op.passes(observed, self.limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goose_rules_pass_through_and_ours_are_parsed() {
        assert_eq!(
            "p95<500ms".parse::<Rule>().unwrap(),
            Rule::Goose("p95<500ms".into())
        );
        let Rule::SchemaViolationRate(r) = "schema-violation-rate<=0.5% for GET registration"
            .parse::<Rule>()
            .unwrap()
        else {
            panic!("not ours")
        };
        assert_eq!(r.op, Op::LessOrEqual);
        assert_eq!(r.request.as_deref(), Some("GET registration"));
        assert!(r.passes(0.5) && !r.passes(0.6));
    }

    #[test]
    fn impossible_rules_are_refused() {
        assert!(
            "p95<0"
                .parse::<Rule>()
                .unwrap_err()
                .contains("it can never pass")
        );
        assert!("schema-violation-rate<0".parse::<Rule>().is_err());
        assert!("schema-violation-rate<101%".parse::<Rule>().is_err());
        assert!("schema-violation-rate=1%".parse::<Rule>().is_err());
    }
}
