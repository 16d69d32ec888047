//! Threshold rules: goose's own, passed through to goose untouched, and pushcheck's, which
//! goose cannot know about: `schema-violation-rate`, `arrival-rate` and `adjusted-pNN`.
//!
//! goose parses and judges its rules (`p95<500ms`, `error-rate<1%`, `rps>=100`,
//! `… for GET registration`) on the times it measured; pushcheck parses them early with goose's
//! parser so a rule goose refuses is reported before anything starts, with goose's reason.
//! pushcheck's rules follow the same grammar and are judged after the run (they cannot stop it
//! early):
//! - `schema-violation-rate<OP><PERCENT>[ for <request>]`: the share of judged responses that
//!   broke their contract (status, Content-Type, schema or meaning; see [`crate::schema::judge`]);
//! - `arrival-rate<OP><PERCENT>[ for <request>]`: the share of the scenario's `arrival_rate`
//!   achieved (see [`crate::load::arrival`]), only in a run that asks for one;
//! - `adjusted-pNN<OP><TIME>[ for <request>]`: a percentile of the adjusted times. In an open
//!   model (an arrival rate, a throttle or a rate cap) each request's latency from the moment it
//!   was due in the arrival schedule ([`crate::load::schedule`]); in a closed model goose's
//!   coordinated-omission backfill (the measured times plus the requests a stalled server kept
//!   users from sending), and where goose backfilled nothing, the measured times;
//! - `answer-gap<OP><TIME>`: the longest stretch without an answer while requests waited (a
//!   server that stopped answering), for the whole run.
//! - `mix-drift<OP><POINTS>[ for <request>]`: the largest distance, in percentage points, between
//!   an operation's share of the requests sent and its share of the mix's weights (see
//!   [`crate::load::mix`]), judged on runs of at least 200 requests.
//!
//! A request name must be one the load sends (`GET registration`, …): a typo is refused here,
//! not after a run that then fails with "no samples". How the rules of a run are put together
//! (file, flags, the always-on rules) is [`plan_rules`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::api::Operation;
pub use crate::load::baseline::RegressionRule;

/// The metric name of pushcheck's violation rule.
pub const SCHEMA_VIOLATION_RATE: &str = "schema-violation-rate";
/// The metric name of pushcheck's arrival-rate rule.
pub const ARRIVAL_RATE: &str = "arrival-rate";
/// The metric name of pushcheck's rule on the mix sent against the mix asked.
pub const MIX_DRIFT: &str = "mix-drift";
/// The prefix of pushcheck's coordinated-omission adjusted percentile rules.
pub const ADJUSTED: &str = "adjusted-";
/// goose's metric name of the error rule.
pub const ERROR_RATE: &str = "error-rate";
/// The metric name of the rule on stretches without an answer.
pub const ANSWER_GAP: &str = "answer-gap";
/// The word of a regression gate: `p95 regression>10%`.
pub const REGRESSION: &str = " regression";

/// One pass/fail rule.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "String")]
pub enum Rule {
    /// A goose rule, kept as text; goose judges it.
    Goose(GooseRule),
    /// `schema-violation-rate…`, judged by pushcheck.
    SchemaViolationRate(PercentRule),
    /// `arrival-rate…`: the share of the asked arrival rate achieved, judged by pushcheck (see
    /// [`crate::load::arrival`]).
    ArrivalRate(PercentRule),
    /// `mix-drift…`: how far the shares of the requests sent are from the mix's weights, in
    /// percentage points, judged by pushcheck (see [`crate::load::mix`]).
    MixDrift(PercentRule),
    /// `adjusted-pNN…`, judged by pushcheck on the adjusted times (from due in an open model,
    /// goose's coordinated-omission data in a closed one).
    Adjusted(AdjustedRule),
    /// `answer-gap<2s`: the longest stretch without an answer while requests waited.
    AnswerGap(GapRule),
    /// `p95 regression>10%`, judged by pushcheck against `--baseline` (see
    /// [`crate::load::baseline`]).
    Regression(RegressionRule),
}

/// A rule goose judges, with what it measures and on which request.
#[derive(Debug, Clone, PartialEq)]
pub struct GooseRule {
    pub rule: String,
    /// `p95`, `avg`, `max`, `error-rate`, `rps`.
    pub metric: String,
    pub request: Option<Operation>,
}

/// Why a rule was refused: by goose's parser (with goose's reason) or by pushcheck's.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RuleError {
    #[error("threshold {0:?}: \"for\" needs a request name, such as GET registration")]
    NoRequest(String),
    #[error(
        "threshold {rule:?} names the request {request:?}, which the load never sends; \
         requests are: {}",
        Operation::ALL.map(Operation::label).join(", ")
    )]
    UnknownRequest { rule: String, request: String },
    /// goose's parser refused the rule, for this reason.
    #[error(
        "{0} (pushcheck also accepts {SCHEMA_VIOLATION_RATE}<PERCENT, {ARRIVAL_RATE}>=PERCENT, \
         {MIX_DRIFT}<=POINTS, {ADJUSTED}pNN<TIME and {ANSWER_GAP}<TIME)"
    )]
    Goose(String),
    /// goose's parser refused what follows `adjusted-`.
    #[error("{rule:?}: {detail}")]
    GooseAdjusted { rule: String, detail: String },
    /// goose failed otherwise.
    #[error("{0}")]
    GooseOther(String),
    /// pushcheck's own grammar refused the rule.
    #[error("threshold {rule:?}: {why}")]
    Invalid { rule: String, why: String },
    #[error(
        "{name:?} is not an always-on rule; they are: {}",
        AlwaysOn::ALL.map(AlwaysOn::name).join(", ")
    )]
    NotAlwaysOn { name: String },
}

impl RuleError {
    /// pushcheck's grammar refusing `rule`, for `why`.
    pub(super) fn invalid(rule: &str, why: impl Into<String>) -> RuleError {
        RuleError::Invalid {
            rule: rule.to_owned(),
            why: why.into(),
        }
    }

    /// goose's refusal of a rule, kept with its reason.
    fn goose(error: goose::GooseError, adjusted: Option<&str>) -> RuleError {
        match (error, adjusted) {
            (goose::GooseError::InvalidOption { detail, .. }, None) => RuleError::Goose(detail),
            (goose::GooseError::InvalidOption { detail, .. }, Some(rule)) => {
                RuleError::GooseAdjusted {
                    rule: rule.to_owned(),
                    detail,
                }
            }
            (other, _) => RuleError::GooseOther(other.to_string()),
        }
    }
}

impl Rule {
    /// The rule as written.
    pub fn text(&self) -> &str {
        match self {
            Rule::Goose(r) => &r.rule,
            Rule::SchemaViolationRate(r) | Rule::ArrivalRate(r) | Rule::MixDrift(r) => &r.rule,
            Rule::Adjusted(r) => &r.rule,
            Rule::AnswerGap(r) => &r.rule,
            Rule::Regression(r) => &r.rule,
        }
    }

    /// What the rule measures (`p95`, `error-rate`, `adjusted-p99`, `schema-violation-rate`).
    pub fn metric(&self) -> &str {
        match self {
            Rule::Goose(r) => &r.metric,
            Rule::SchemaViolationRate(r) | Rule::ArrivalRate(r) | Rule::MixDrift(r) => r.metric,
            Rule::Adjusted(r) => &r.metric,
            Rule::AnswerGap(_) => ANSWER_GAP,
            Rule::Regression(r) => &r.metric,
        }
    }

    /// The request the rule judges, or `None` for all requests together.
    pub fn request(&self) -> Option<Operation> {
        match self {
            Rule::Goose(r) => r.request,
            Rule::SchemaViolationRate(r) | Rule::ArrivalRate(r) | Rule::MixDrift(r) => r.request,
            Rule::Adjusted(r) => r.request,
            Rule::AnswerGap(_) => None,
            Rule::Regression(r) => r.request,
        }
    }

    /// Two rules on the same metric and request: one replaces the other.
    pub fn same_target(&self, other: &Rule) -> bool {
        self.metric() == other.metric() && self.request() == other.request()
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

/// Splits `… for <request>` off a rule and checks the request is one the load sends.
pub(super) fn split_request(rule: &str) -> Result<(&str, Option<Operation>), RuleError> {
    match rule.split_once(" for ") {
        None => Ok((rule, None)),
        Some((_, r)) if r.trim().is_empty() => Err(RuleError::NoRequest(rule.to_owned())),
        Some((head, r)) => {
            let r = r.trim();
            match Operation::ALL.into_iter().find(|op| op.label() == r) {
                Some(op) => Ok((head.trim_end(), Some(op))),
                None => Err(RuleError::UnknownRequest {
                    rule: rule.to_owned(),
                    request: r.to_owned(),
                }),
            }
        }
    }
}

/// The metric of a rule: the text before its operator.
fn metric_of(head: &str) -> String {
    head.split(['<', '>'])
        .next()
        .unwrap_or("")
        .trim()
        .to_owned()
}

impl FromStr for Rule {
    type Err = RuleError;

    /// Parses a rule; a goose rule is checked with goose's parser and refused with its reason.
    fn from_str(text: &str) -> Result<Rule, RuleError> {
        let rule = text.trim();
        if rule.starts_with(SCHEMA_VIOLATION_RATE) {
            return PercentRule::parse(rule, SCHEMA_VIOLATION_RATE).map(Rule::SchemaViolationRate);
        }
        if rule.starts_with(ARRIVAL_RATE) {
            return PercentRule::parse(rule, ARRIVAL_RATE).map(Rule::ArrivalRate);
        }
        if rule.starts_with(MIX_DRIFT) {
            return PercentRule::parse(rule, MIX_DRIFT).map(Rule::MixDrift);
        }
        if rule.starts_with(ADJUSTED) {
            return rule.parse().map(Rule::Adjusted);
        }
        if rule.starts_with(ANSWER_GAP) {
            return rule.parse().map(Rule::AnswerGap);
        }
        if rule.contains(REGRESSION) {
            return rule.parse().map(Rule::Regression);
        }
        let (head, request) = split_request(rule)?;
        rule.parse::<goose::threshold::Threshold>()
            .map_err(|e| RuleError::goose(e, None))?;
        Ok(Rule::Goose(GooseRule {
            rule: rule.to_owned(),
            metric: metric_of(head),
            request,
        }))
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
    pub(super) fn passes(self, observed: f64, limit: f64) -> bool {
        match self {
            Op::Less => observed < limit,
            Op::LessOrEqual => observed <= limit,
            Op::Greater => observed > limit,
            Op::GreaterOrEqual => observed >= limit,
        }
    }

    /// The operator at the start of `rest`, and what follows it.
    pub(super) fn split(rest: &str) -> Option<(Op, &str)> {
        if let Some(r) = rest.strip_prefix("<=") {
            Some((Op::LessOrEqual, r))
        } else if let Some(r) = rest.strip_prefix(">=") {
            Some((Op::GreaterOrEqual, r))
        } else if let Some(r) = rest.strip_prefix('<') {
            Some((Op::Less, r))
        } else {
            rest.strip_prefix('>').map(|r| (Op::Greater, r))
        }
    }
}

/// A plain decimal number (no sign, no exponent).
pub(super) fn plain_number(text: &str) -> Option<f64> {
    let plain = !text.is_empty()
        && text.chars().all(|c| c.is_ascii_digit() || c == '.')
        && text.matches('.').count() <= 1;
    plain.then(|| text.parse().ok()).flatten()
}

/// A rule on a share, in percent: `schema-violation-rate<OP><PERCENT>[ for <request>]`,
/// `arrival-rate<OP><PERCENT>[ for <request>]` or `mix-drift<OP><POINTS>[ for <request>]`
/// (percentage points; a `%` after them is allowed).
#[derive(Debug, Clone, PartialEq)]
pub struct PercentRule {
    pub rule: String,
    /// [`SCHEMA_VIOLATION_RATE`], [`ARRIVAL_RATE`] or [`MIX_DRIFT`].
    pub metric: &'static str,
    pub op: Op,
    /// Percent: 0 to 100 for a violation rate; an arrival rate may be met more than fully.
    pub limit: f64,
    /// The request judged (named as goose's reports show it: `GET registration`), or all
    /// requests.
    pub request: Option<Operation>,
}

impl PercentRule {
    /// Parses `text`, a rule on `metric`.
    pub fn parse(text: &str, metric: &'static str) -> Result<PercentRule, RuleError> {
        let rule = text.trim();
        let bad = |why: &str| RuleError::invalid(rule, why);
        let (head, request) = split_request(rule)?;
        let rest = head
            .strip_prefix(metric)
            .ok_or_else(|| bad(&format!("it does not start with {metric}")))?
            .trim_start();
        let (op, value) =
            Op::split(rest).ok_or_else(|| bad("the operator must be <, <=, > or >="))?;
        let value = value.trim();
        let limit = plain_number(value.strip_suffix('%').unwrap_or(value))
            .ok_or_else(|| bad(&format!("{value:?} is not a percent, such as 0.1%")))?;
        let ceiling = metric == SCHEMA_VIOLATION_RATE;
        if ceiling && limit > 100.0 {
            return Err(bad("a violation rate can not be more than 100%"));
        }
        if metric == MIX_DRIFT && matches!(op, Op::Greater | Op::GreaterOrEqual) {
            return Err(bad(
                "a drift is a ceiling: use < or <= (percentage points, such as mix-drift<=3%)",
            ));
        }
        if (op == Op::Less && limit == 0.0) || (ceiling && op == Op::Greater && limit == 100.0) {
            return Err(bad("it can never pass"));
        }
        Ok(PercentRule {
            rule: rule.to_owned(),
            metric,
            op,
            limit,
            request,
        })
    }

    /// Whether `observed` (percent) passes.
    pub fn passes(&self, observed: f64) -> bool {
        self.op.passes(observed, self.limit)
    }
}

/// `adjusted-pNN<OP><TIME>[ for <request>]`: a percentile of the coordinated-omission adjusted
/// response times.
#[derive(Debug, Clone, PartialEq)]
pub struct AdjustedRule {
    pub rule: String,
    /// `adjusted-p95`.
    pub metric: String,
    /// The percentile as a fraction (0.95).
    pub quantile: f64,
    pub op: Op,
    /// Milliseconds.
    pub limit_ms: f64,
    pub request: Option<Operation>,
}

impl FromStr for AdjustedRule {
    type Err = RuleError;
    fn from_str(text: &str) -> Result<AdjustedRule, RuleError> {
        let rule = text.trim();
        let bad = |why: &str| RuleError::invalid(rule, why);
        let (head, request) = split_request(rule)?;
        let rest = head
            .strip_prefix(ADJUSTED)
            .ok_or_else(|| bad("it does not start with adjusted-"))?;
        // goose checks the grammar of the rest (percentile, operator, time unit).
        let bare = rest.trim();
        bare.parse::<goose::threshold::Threshold>()
            .map_err(|e| RuleError::goose(e, Some(rule)))?;
        let metric = metric_of(bare);
        let quantile = metric
            .strip_prefix('p')
            .and_then(plain_number)
            .filter(|p| *p > 0.0 && *p < 100.0)
            .ok_or_else(|| {
                bad("only percentiles can be adjusted: adjusted-p50 … adjusted-p99.9")
            })?
            / 100.0;
        let (op, value) = Op::split(&bare[metric.len()..])
            .ok_or_else(|| bad("the operator must be <, <=, > or >="))?;
        let value = value.trim();
        let limit_ms = parse_time_ms(value)
            .ok_or_else(|| bad(&format!("{value:?} is not a time, such as 250ms or 1s")))?;
        Ok(AdjustedRule {
            rule: rule.to_owned(),
            metric: format!("{ADJUSTED}{metric}"),
            quantile,
            op,
            limit_ms,
            request,
        })
    }
}

impl AdjustedRule {
    /// Whether `observed` (milliseconds) passes.
    pub fn passes(&self, observed_ms: f64) -> bool {
        self.op.passes(observed_ms, self.limit_ms)
    }
}

/// `answer-gap<OP><TIME>`: the longest stretch without an answer while requests waited, for
/// the whole run (stretches under 200 ms are not kept).
#[derive(Debug, Clone, PartialEq)]
pub struct GapRule {
    pub rule: String,
    pub op: Op,
    /// Milliseconds.
    pub limit_ms: f64,
}

impl FromStr for GapRule {
    type Err = RuleError;
    fn from_str(text: &str) -> Result<GapRule, RuleError> {
        let rule = text.trim();
        let bad = |why: &str| RuleError::invalid(rule, why);
        if rule.contains(" for ") {
            return Err(bad(
                "an answer gap is the whole run's: no request name (drop \"for …\")",
            ));
        }
        let rest = rule
            .strip_prefix(ANSWER_GAP)
            .ok_or_else(|| bad("it does not start with answer-gap"))?
            .trim_start();
        let (op, value) =
            Op::split(rest).ok_or_else(|| bad("the operator must be <, <=, > or >="))?;
        let value = value.trim();
        let limit_ms = parse_time_ms(value)
            .ok_or_else(|| bad(&format!("{value:?} is not a time, such as 2s")))?;
        if op == Op::Less && limit_ms == 0.0 {
            return Err(bad("it can never pass"));
        }
        Ok(GapRule {
            rule: rule.to_owned(),
            op,
            limit_ms,
        })
    }
}

impl GapRule {
    /// Whether `observed` (milliseconds) passes.
    pub fn passes(&self, observed_ms: f64) -> bool {
        self.op.passes(observed_ms, self.limit_ms)
    }
}

/// A time as goose writes it in rules: a number with `us`, `ms` or `s`; a bare number is ms.
fn parse_time_ms(text: &str) -> Option<f64> {
    let (number, scale) = if let Some(n) = text.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else {
        (text, 1.0)
    };
    plain_number(number.trim()).map(|n| n * scale)
}

/// Rules every run has unless the user turns one off by name (`--without-rule NAME`, or
/// `without_rules` in a scenario), so a scenario with no rules still fails at 100% errors or
/// with broken bodies. A rule on the same metric for all requests, from the file or a flag,
/// takes the always-on rule's place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", try_from = "String")]
pub enum AlwaysOn {
    /// `error-rate<1%`: transport errors, error statuses and contract breaks (goose counts a
    /// broken response as a failed request).
    ErrorRate,
    /// `schema-violation-rate<=0%`.
    SchemaViolationRate,
    /// `arrival-rate>=95%`, only in a run that asks for an arrival rate.
    ArrivalRate,
    /// `mix-drift<=3%`: no operation's share of the requests sent more than 3 percentage points
    /// from its share of the weights, in a run of at least 200 requests (see
    /// [`crate::load::mix::DRIFT_LIMIT_POINTS`] for why 3).
    MixDrift,
    /// `answer-gap<2s`: answers stopped for 2 s while requests waited.
    AnswerGap,
}

impl AlwaysOn {
    pub const ALL: [AlwaysOn; 5] = [
        AlwaysOn::ErrorRate,
        AlwaysOn::SchemaViolationRate,
        AlwaysOn::ArrivalRate,
        AlwaysOn::MixDrift,
        AlwaysOn::AnswerGap,
    ];

    /// The name a user turns it off by.
    pub fn name(self) -> &'static str {
        match self {
            AlwaysOn::ErrorRate => ERROR_RATE,
            AlwaysOn::SchemaViolationRate => SCHEMA_VIOLATION_RATE,
            AlwaysOn::ArrivalRate => ARRIVAL_RATE,
            AlwaysOn::MixDrift => MIX_DRIFT,
            AlwaysOn::AnswerGap => ANSWER_GAP,
        }
    }

    /// The rule it adds.
    pub fn rule_text(self) -> &'static str {
        match self {
            AlwaysOn::ErrorRate => "error-rate<1%",
            AlwaysOn::SchemaViolationRate => "schema-violation-rate<=0%",
            AlwaysOn::ArrivalRate => "arrival-rate>=95%",
            AlwaysOn::MixDrift => "mix-drift<=3%",
            AlwaysOn::AnswerGap => "answer-gap<2s",
        }
    }

    /// The rule it adds, parsed.
    pub fn rule(self) -> Rule {
        // The texts above are valid rules (a unit test parses both).
        self.rule_text().parse().unwrap_or_else(|_| {
            Rule::Goose(GooseRule {
                rule: self.rule_text().to_owned(),
                metric: self.name().to_owned(),
                request: None,
            })
        })
    }
}

impl FromStr for AlwaysOn {
    type Err = RuleError;
    fn from_str(s: &str) -> Result<AlwaysOn, RuleError> {
        AlwaysOn::ALL
            .into_iter()
            .find(|a| a.name() == s.trim())
            .ok_or_else(|| RuleError::NotAlwaysOn { name: s.to_owned() })
    }
}

crate::load::values::try_from_string!(Rule, AlwaysOn);

/// Where a rule of a run came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// The scenario file.
    Scenario,
    /// `--threshold` on the command line.
    Flag,
    /// An always-on rule.
    AlwaysOn,
    /// A regression gate `--baseline` brings when the run gives none.
    BaselineDefault,
}

/// A rule of a run, with where it came from and the rule it replaced.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedRule {
    pub rule: Rule,
    pub source: Source,
    /// The scenario's rule on the same metric and request that this flag rule replaced.
    pub replaces: Option<String>,
}

/// The rules of a run: the scenario's, then the flags' (a flag rule on the same metric and
/// request replaces the scenario's, and says so), then the always-on rules that neither gave
/// nor `without` turned off (`arrival-rate` only when the run has an `arrival` rate).
pub fn plan_rules(
    scenario: &[Rule],
    flags: &[Rule],
    without: &[AlwaysOn],
    arrival: bool,
) -> Vec<PlannedRule> {
    let mut out: Vec<PlannedRule> = scenario
        .iter()
        .map(|r| PlannedRule {
            rule: r.clone(),
            source: Source::Scenario,
            replaces: None,
        })
        .collect();
    for flag in flags {
        let replaced = out
            .iter()
            .position(|p| p.source == Source::Scenario && p.rule.same_target(flag))
            .map(|i| out.remove(i).rule.text().to_owned());
        out.push(PlannedRule {
            rule: flag.clone(),
            source: Source::Flag,
            replaces: replaced,
        });
    }
    for always in AlwaysOn::ALL {
        let rule = always.rule();
        let given = out.iter().any(|p| p.rule.same_target(&rule));
        let applies = arrival || always != AlwaysOn::ArrivalRate;
        if applies && !given && !without.contains(&always) {
            out.push(PlannedRule {
                rule,
                source: Source::AlwaysOn,
                replaces: None,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(s: &str) -> Rule {
        s.parse().unwrap()
    }

    #[test]
    fn goose_rules_pass_through_and_ours_are_parsed() {
        let Rule::Goose(g) = rule("p95<500ms for GET registration") else {
            panic!("not goose's")
        };
        assert_eq!(
            (g.metric.as_str(), g.request),
            ("p95", Some(Operation::Get))
        );
        let Rule::SchemaViolationRate(r) = rule("schema-violation-rate<=0.5% for GET registration")
        else {
            panic!("not ours")
        };
        assert_eq!(r.op, Op::LessOrEqual);
        assert_eq!(r.request, Some(Operation::Get));
        assert!(r.passes(0.5) && !r.passes(0.6));
        let Rule::Adjusted(a) = rule("adjusted-p99.9<1s for POST personalize") else {
            panic!("not adjusted")
        };
        assert_eq!(a.metric, "adjusted-p99.9");
        assert!((a.quantile - 0.999).abs() < 1e-9);
        assert_eq!(a.limit_ms, 1000.0);
        assert!(a.passes(999.0) && !a.passes(1000.0));
        assert_eq!(
            match rule("adjusted-p95<=250") {
                Rule::Adjusted(a) => a.limit_ms,
                _ => 0.0,
            },
            250.0
        );
    }

    #[test]
    fn impossible_and_unknown_rules_are_refused() {
        assert!(
            "p95<0"
                .parse::<Rule>()
                .unwrap_err()
                .to_string()
                .contains("it can never pass")
        );
        assert!("schema-violation-rate<0".parse::<Rule>().is_err());
        assert!("schema-violation-rate<101%".parse::<Rule>().is_err());
        assert!("schema-violation-rate=1%".parse::<Rule>().is_err());
        assert!("adjusted-avg<1s".parse::<Rule>().is_err());
        assert!("adjusted-p95<fast".parse::<Rule>().is_err());
        assert!("answer-gap<0s".parse::<Rule>().is_err());
        assert!(
            "answer-gap<2s for GET registration"
                .parse::<Rule>()
                .is_err()
        );
        let Rule::AnswerGap(g) = rule("answer-gap<=1.5s") else {
            panic!("not a gap rule")
        };
        assert!(g.passes(1500.0) && !g.passes(1501.0));
        let typo = "p95<100ms for GET registratoin"
            .parse::<Rule>()
            .unwrap_err()
            .to_string();
        assert!(
            typo.contains("GET registratoin") && typo.contains("GET registration,"),
            "{typo}"
        );
        assert!(
            "schema-violation-rate<1% for GET /x"
                .parse::<Rule>()
                .is_err()
        );
    }

    #[test]
    fn flags_add_replace_by_target_and_always_on_rules_fill_in() {
        let file = [rule("p95<250ms"), rule("error-rate<5%")];
        let flags = [rule("p95<100ms"), rule("p99<1s for GET registration")];
        let planned = plan_rules(&file, &flags, &[], false);
        let texts: Vec<(&str, Source, Option<&str>)> = planned
            .iter()
            .map(|p| (p.rule.text(), p.source, p.replaces.as_deref()))
            .collect();
        assert_eq!(
            texts,
            [
                ("error-rate<5%", Source::Scenario, None),
                ("p95<100ms", Source::Flag, Some("p95<250ms")),
                ("p99<1s for GET registration", Source::Flag, None),
                ("schema-violation-rate<=0%", Source::AlwaysOn, None),
                ("mix-drift<=3%", Source::AlwaysOn, None),
                ("answer-gap<2s", Source::AlwaysOn, None),
            ]
        );
        let none = plan_rules(
            &[],
            &[],
            &[
                AlwaysOn::SchemaViolationRate,
                AlwaysOn::MixDrift,
                AlwaysOn::AnswerGap,
            ],
            false,
        );
        assert_eq!(none.len(), 1);
        assert_eq!(none[0].rule.text(), "error-rate<1%");
        assert!(plan_rules(&[], &[], &AlwaysOn::ALL, true).is_empty());
        let arrival = plan_rules(&[], &[], &[], true);
        assert!(arrival.iter().any(|p| p.rule.text() == "arrival-rate>=95%"));
    }

    #[test]
    fn always_on_rules_parse_and_are_named() {
        for a in AlwaysOn::ALL {
            assert_eq!(a.rule_text().parse::<Rule>().unwrap().metric(), a.name());
            assert_eq!(a.name().parse::<AlwaysOn>().unwrap(), a);
        }
        assert!("p95".parse::<AlwaysOn>().is_err());
        let Rule::MixDrift(drift) = AlwaysOn::MixDrift.rule() else {
            panic!("not a drift rule")
        };
        assert_eq!(drift.limit, crate::load::mix::DRIFT_LIMIT_POINTS);
    }

    #[test]
    fn a_drift_rule_is_a_ceiling_in_points() {
        let Rule::MixDrift(r) = rule("mix-drift<=5 for PATCH registration") else {
            panic!("not a drift rule")
        };
        assert_eq!((r.limit, r.request), (5.0, Some(Operation::Patch)));
        assert!(r.passes(5.0) && !r.passes(5.1));
        assert!(
            "mix-drift>=3%"
                .parse::<Rule>()
                .unwrap_err()
                .to_string()
                .contains("ceiling")
        );
        assert!("mix-drift<0".parse::<Rule>().is_err());
    }
}
