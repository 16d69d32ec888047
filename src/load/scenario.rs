//! Scenario files: load profiles as TOML data in `scenarios/`, read at run time.
//!
//! A file names the operation mix, users, ramp, length, throttle, think time, validation sample
//! rate, coordinated-omission mitigation and thresholds; `scenarios/README.md` documents every
//! key. Every value is checked while the file is read (unknown keys are refused), so a bad value is reported with the file, line, column and field, never later in the
//! middle of a run. Threshold rules are parsed by goose's own parser (and pushcheck's for
//! `schema-violation-rate`), so a rule goose would refuse is refused here, with goose's reason.
//!
//! This module only reads and resolves settings; it must not start anything.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::api::Operation;
pub use crate::load::shape::{ArrivalRate, Length, MAX_RATE, Ramp, Shape, Stage, Stages};
use crate::load::threshold::{AlwaysOn, PlannedRule, Rule, plan_rules};
pub use crate::load::values::{CoMitigation, Mix, PositiveNumber, SampleRate, Span, ThinkTime};
use crate::schema::Mode;

/// A scenario file as written; every field is optional so that flags can fill or override it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Shown in reports; defaults to the file stem.
    pub name: Option<String>,
    /// One sentence on what the profile is for.
    pub description: Option<String>,
    /// Concurrent goose users.
    pub users: Option<usize>,
    /// Users started per second (goose `--increase-rate`).
    pub increase_rate: Option<PositiveNumber>,
    /// Time to start all users (goose `--increase-time`), instead of `increase_rate`.
    pub increase_time: Option<Span>,
    /// How long to hold all users once started (goose `--run-time`).
    pub run_time: Option<Span>,
    /// Each user runs its mix this many times (goose `--iterations`), instead of `run_time`.
    pub iterations: Option<usize>,
    /// Users over time as goose's test plan, instead of `users`, `increase_*`, `run_time` and
    /// `iterations`: `[{ users = 10, duration = "30s" }, …]`.
    pub stages: Option<Stages>,
    /// Requests per second, all users together; 0 means none.
    pub throttle: Option<usize>,
    /// The rate to hold, instead of `throttle`: requests/s for all operations (split by the mix)
    /// or a table of rates per operation (which sets the mix). Judged by `arrival-rate`.
    pub arrival_rate: Option<ArrivalRate>,
    /// Pause after each request: `"20ms"` or a uniform range `"10ms..50ms"`.
    pub think_time: Option<ThinkTime>,
    /// Coordinated-omission mitigation: `disabled`, `average`, `minimum` or `maximum`.
    pub co_mitigation: Option<CoMitigation>,
    /// Operation weights.
    pub mix: Option<Mix>,
    pub validation: Option<Validation>,
    /// Pass/fail rules: goose's (`p95<500ms`, `error-rate<1%`, `rps>=100`, `… for GET registration`)
    /// and pushcheck's `schema-violation-rate<0.1%`.
    pub thresholds: Option<Vec<Rule>>,
    /// Always-on rules turned off by name (`error-rate`, `schema-violation-rate`,
    /// `arrival-rate`, `mix-drift`).
    pub without_rules: Option<Vec<AlwaysOn>>,
    /// Judge goose's figures on the steady state only: goose resets its metrics once every user
    /// has started. By default they cover every request sent, the ramp included.
    pub steady_state_only: Option<bool>,
    /// Rules from the command line, added on top of the file's (not a file key; set by
    /// [`Scenario::merge`]).
    #[serde(skip)]
    pub flag_thresholds: Vec<Rule>,
}

/// `[validation]`: how much of the traffic is validated against `schemas/`, and how strictly.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Validation {
    /// Share of responses validated, 0 to 1 (default [`DEFAULT_SAMPLE_RATE`]).
    pub sample_rate: Option<SampleRate>,
    /// `lenient` (default) or `strict`.
    pub mode: Option<Mode>,
}

/// A scenario with every value decided: what a run is started with.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    pub name: String,
    pub description: String,
    /// Users over time.
    pub shape: Shape,
    /// Requests per second, all users together: a ceiling.
    pub throttle: Option<usize>,
    /// Requests per second, all users together: a rate to hold (goose's throttle too); the run
    /// reports and judges how much of it was achieved.
    pub arrival_rate: Option<u32>,
    pub think_time: ThinkTime,
    pub co_mitigation: CoMitigation,
    pub mix: Mix,
    pub sample_rate: f64,
    pub mode: Mode,
    /// The rules of the run: the file's, the flags', the always-on ones.
    pub thresholds: Vec<PlannedRule>,
    /// goose resets its metrics after the ramp (see [`Scenario::steady_state_only`]).
    pub steady_state_only: bool,
}

/// Defaults for what a scenario file leaves out.
pub const DEFAULT_USERS: usize = 8;
/// Run time when neither `run_time` nor `iterations` is given.
pub const DEFAULT_RUN_TIME: Duration = Duration::from_secs(10);
/// Share of responses validated when `[validation] sample_rate` is not given: one in ten.
///
/// Issue 5's rule: validate everything by default if that costs at most 5% of throughput,
/// otherwise the highest round share that does. Measured with `bench/load.sh`'s setup (2 CPUs
/// shared by the minimal axum target and the load, 32 users, GET only, medians of 6 alternating
/// 4 s rounds): against no validation, 100% cost 17% of req/s, 50% cost 12%, 25% cost 7% and
/// 10% cost 2%. Nearly all of it is parsing the body into a `serde_json::Value` (the schema check
/// itself is a tenth of it). The shipped scenarios ask for 1.0 themselves: they gate correctness.
pub const DEFAULT_SAMPLE_RATE: f64 = 0.1;

/// A scenario file that could not be read or is not valid.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read scenario file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{line}:{column}: {}{message}", path.display(), field.as_deref().map(|f| format!("field `{f}`: ")).unwrap_or_default())]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        /// The key on that line, when there is one.
        field: Option<String>,
        message: String,
    },
    #[error("{}: {message}", path.display())]
    Settings { path: PathBuf, message: String },
}

impl Scenario {
    /// Reads and checks a scenario file.
    pub fn from_file(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut scenario = Scenario::from_toml(&text, path)?;
        if scenario.name.is_none() {
            scenario.name = path.file_stem().map(|s| s.to_string_lossy().into_owned());
        }
        Ok(scenario)
    }

    /// Parses scenario TOML; `path` is only used in error messages.
    pub fn from_toml(text: &str, path: &Path) -> Result<Scenario, ScenarioError> {
        let scenario: Scenario = toml::from_str(text).map_err(|e| {
            let (line, column, field) = match e.span() {
                Some(span) => locate(text, span.start),
                None => (1, 1, None),
            };
            ScenarioError::Invalid {
                path: path.to_owned(),
                line,
                column,
                field,
                message: e.message().trim().to_owned(),
            }
        })?;
        scenario.check_combinations(text, path)?;
        Ok(scenario)
    }

    /// Rules that involve two keys, reported at the second one's line.
    fn check_combinations(&self, text: &str, path: &Path) -> Result<(), ScenarioError> {
        match self.conflict() {
            None => Ok(()),
            Some((key, message)) => {
                let (line, column) = key_position(text, key).unwrap_or((1, 1));
                Err(ScenarioError::Invalid {
                    path: path.to_owned(),
                    line,
                    column,
                    field: Some(key.to_owned()),
                    message,
                })
            }
        }
    }

    /// The first rule on two keys (or on a value no single key's type refuses) this scenario
    /// breaks: the key to report it at, and why. Both a file ([`Scenario::from_toml`]) and a
    /// merged scenario ([`Scenario::resolve`]) are checked with it.
    fn conflict(&self) -> Option<(&'static str, String)> {
        if self.run_time.is_some() && self.iterations.is_some() {
            return Some(("iterations", "give run_time or iterations, not both".into()));
        }
        if self.increase_rate.is_some() && self.increase_time.is_some() {
            return Some((
                "increase_time",
                "give increase_rate or increase_time, not both".into(),
            ));
        }
        if let Some(key) = self.stages.as_ref().and(self.hold_key()) {
            return Some((
                key,
                format!("give stages or {key}, not both (stages decide the users and the length)"),
            ));
        }
        if self.arrival_rate.is_some() && self.throttle.is_some() {
            return Some((
                "throttle",
                "give arrival_rate or throttle, not both (an arrival rate is goose's throttle too)"
                    .into(),
            ));
        }
        if matches!(self.arrival_rate, Some(ArrivalRate::PerOperation(_))) && self.mix.is_some() {
            return Some((
                "mix",
                "give [mix] or a rate per operation in [arrival_rate], not both (the rates are the weights)"
                    .into(),
            ));
        }
        if self.throttle.is_some_and(|t| t > MAX_RATE as usize) {
            return Some((
                "throttle",
                format!("at most {MAX_RATE} requests per second (0 for none)"),
            ));
        }
        if self.users == Some(0) {
            return Some(("users", "at least 1 user is needed".into()));
        }
        if self.iterations == Some(0) {
            return Some(("iterations", "at least 1 iteration is needed".into()));
        }
        if let Some(mix) = self.mix
            && mix == Mix::default()
        {
            return Some((
                "mix",
                "every weight is 0; give at least one of get, patch, personalize, depersonalize a weight".into(),
            ));
        }
        None
    }

    /// The first key of the hold model this scenario sets, which `stages` replaces.
    fn hold_key(&self) -> Option<&'static str> {
        [
            ("users", self.users.is_some()),
            ("increase_rate", self.increase_rate.is_some()),
            ("increase_time", self.increase_time.is_some()),
            ("run_time", self.run_time.is_some()),
            ("iterations", self.iterations.is_some()),
            ("steady_state_only", self.steady_state_only.is_some()),
        ]
        .into_iter()
        .find_map(|(key, set)| set.then_some(key))
    }

    /// This file's values with the command line's on top: every value `flags` gives wins; a
    /// flag for one of two exclusive keys clears the other (`run_time`/`iterations`,
    /// `increase_rate`/`increase_time`, `arrival_rate`/`throttle`; `stages` and the keys of
    /// the hold model: `--stages` clears `users`, … and `--users` clears `stages`); `[validation]` is merged key by key; `without_rules`
    /// add up; the flags' `thresholds` stay apart from the file's, which they extend (a flag
    /// rule on the same metric and request replaces the file's, see [`plan_rules`]).
    pub fn merge(mut self, flags: Scenario) -> Scenario {
        fn take<T>(mine: &mut Option<T>, theirs: Option<T>) {
            if theirs.is_some() {
                *mine = theirs;
            }
        }
        if flags.increase_rate.is_some() || flags.increase_time.is_some() {
            self.increase_rate = flags.increase_rate;
            self.increase_time = flags.increase_time;
        }
        if flags.run_time.is_some() || flags.iterations.is_some() {
            self.run_time = flags.run_time;
            self.iterations = flags.iterations;
        }
        if flags.stages.is_some() {
            (self.users, self.increase_rate, self.increase_time) = (None, None, None);
            (self.run_time, self.iterations, self.steady_state_only) = (None, None, None);
        } else if flags.hold_key().is_some() {
            self.stages = None;
        }
        if flags.arrival_rate.is_some() || flags.throttle.is_some() {
            self.arrival_rate = flags.arrival_rate;
            self.throttle = flags.throttle;
        }
        take(&mut self.stages, flags.stages);
        take(&mut self.name, flags.name);
        take(&mut self.description, flags.description);
        take(&mut self.users, flags.users);
        take(&mut self.think_time, flags.think_time);
        take(&mut self.co_mitigation, flags.co_mitigation);
        if flags.mix.is_some()
            && let Some(ArrivalRate::PerOperation(_)) = self.arrival_rate
        {
            // The flag's mix wins; the rates per operation keep their sum.
            self.arrival_rate = self.arrival_rate.map(|a| ArrivalRate::Total(a.total()));
        }
        take(&mut self.mix, flags.mix);
        take(&mut self.steady_state_only, flags.steady_state_only);
        if let Some(theirs) = flags.validation {
            let mut mine = self.validation.unwrap_or_default();
            take(&mut mine.sample_rate, theirs.sample_rate);
            take(&mut mine.mode, theirs.mode);
            self.validation = Some(mine);
        }
        if let Some(more) = flags.without_rules {
            self.without_rules.get_or_insert_with(Vec::new).extend(more);
        }
        self.flag_thresholds
            .extend(flags.thresholds.unwrap_or_default());
        self
    }

    /// Decides every value, filling what is missing with defaults.
    pub fn resolve(&self) -> Result<LoadPlan, String> {
        if let Some((key, message)) = self.conflict() {
            return Err(format!("{key}: {message}"));
        }
        let shape = match &self.stages {
            Some(stages) => Shape::Stages(stages.clone()),
            None => self.hold()?,
        };
        let mix = match (self.arrival_rate, self.mix) {
            (Some(ArrivalRate::PerOperation(rates)), _) => rates,
            (_, mix) => mix.unwrap_or(Mix {
                get: 1,
                ..Mix::default()
            }),
        };
        if mix == Mix::default() {
            return Err("every operation weight is 0".into());
        }
        let validation = self.validation.unwrap_or_default();
        let thresholds = plan_rules(
            self.thresholds.as_deref().unwrap_or_default(),
            &self.flag_thresholds,
            self.without_rules.as_deref().unwrap_or_default(),
            self.arrival_rate.is_some(),
        );
        if self.arrival_rate.is_none()
            && let Some(p) = thresholds
                .iter()
                .find(|p| matches!(p.rule, Rule::ArrivalRate(_)))
        {
            return Err(format!(
                "threshold {:?} judges an arrival rate, and this run asks for none (set \
                 arrival_rate, or --arrival-rate)",
                p.rule.text()
            ));
        }
        for planned in &thresholds {
            if let Some(request) = planned.rule.request()
                && !Operation::ALL
                    .iter()
                    .any(|op| op.label() == request && mix.weight(*op) > 0)
            {
                return Err(format!(
                    "threshold {:?} judges {request}, which this scenario's mix never sends",
                    planned.rule.text()
                ));
            }
        }
        Ok(LoadPlan {
            name: self.name.clone().unwrap_or_else(|| "unnamed".into()),
            description: self.description.clone().unwrap_or_default(),
            shape,
            throttle: self.throttle.filter(|t| *t > 0),
            arrival_rate: self.arrival_rate.map(|a| a.total()),
            think_time: self.think_time.unwrap_or_default(),
            co_mitigation: self.co_mitigation.unwrap_or_default(),
            mix,
            sample_rate: validation.sample_rate.map_or(DEFAULT_SAMPLE_RATE, |r| r.0),
            mode: validation.mode.unwrap_or(Mode::Lenient),
            thresholds,
            steady_state_only: self.steady_state_only.unwrap_or(false),
        })
    }
}

impl Scenario {
    /// The hold model's users, ramp and length, with their defaults.
    fn hold(&self) -> Result<Shape, String> {
        // [`Scenario::conflict`] has refused exclusive keys given together and zero counts.
        let users = self.users.unwrap_or(DEFAULT_USERS);
        let ramp = match (self.increase_rate, self.increase_time) {
            (_, Some(t)) => Ramp::Time(whole_seconds("increase_time", t)?),
            (Some(r), None) => Ramp::Rate(r.0),
            (None, None) => Ramp::Rate(users as f64),
        };
        if matches!(ramp, Ramp::Time(_)) && users < 2 {
            return Err("increase_time needs at least 2 users (goose)".into());
        }
        let length = match (self.run_time, self.iterations) {
            (Some(t), _) => Length::RunTime(whole_seconds("run_time", t)?),
            (None, Some(n)) => Length::Iterations(n),
            (None, None) => Length::RunTime(Span(DEFAULT_RUN_TIME)),
        };
        Ok(Shape::Hold {
            users,
            ramp,
            length,
        })
    }
}

/// A time handed to goose, which takes whole seconds and reads 0 as "no limit": a fraction or
/// zero is refused rather than rounded.
fn whole_seconds(key: &str, t: Span) -> Result<Span, String> {
    if t.0.is_zero() {
        return Err(format!(
            "{key} must be at least 1s (goose takes whole seconds, and 0 would run forever)"
        ));
    }
    if t.0.subsec_nanos() != 0 {
        return Err(format!(
            "{key} {t} is not a whole number of seconds (goose takes whole seconds)"
        ));
    }
    Ok(t)
}

/// Line and column (1-based) of byte `offset`, and the key written on that line, if any.
fn locate(text: &str, offset: usize) -> (usize, usize, Option<String>) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = text[line_start..offset].chars().count() + 1;
    let line_text = text[line_start..].lines().next().unwrap_or("");
    let table = line_text
        .trim()
        .strip_prefix('[')
        .and_then(|t| t.split_once(']'))
        .map(|(name, _)| name.trim().to_owned());
    let field = line_text
        .split_once('=')
        .map(|(k, _)| k.trim().trim_matches('"').to_owned())
        .filter(|k| !k.is_empty() && !k.starts_with('#') && !k.starts_with('['))
        .or(table);
    (line, column, field)
}

/// Line and column of the first line that sets `key` (`key = …` or `[key]`).
fn key_position(text: &str, key: &str) -> Option<(usize, usize)> {
    text.lines().enumerate().find_map(|(i, line)| {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let sets = trimmed
            .split_once('=')
            .is_some_and(|(k, _)| k.trim() == key)
            || trimmed.trim_end() == format!("[{key}]");
        sets.then_some((i + 1, indent + 1))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        Scenario::from_toml(text, Path::new("x.toml"))
    }

    #[test]
    fn spans_parse() {
        assert_eq!("1m30s".parse::<Span>().unwrap().0, Duration::from_secs(90));
        assert_eq!(
            "250ms".parse::<Span>().unwrap().0,
            Duration::from_millis(250)
        );
        assert!("5 s".parse::<Span>().is_err());
        assert!("-5s".parse::<Span>().is_err());
        assert_eq!(Span(Duration::from_millis(1500)).whole_seconds(), 2);
    }

    #[test]
    fn a_bad_value_names_file_line_and_field() {
        let err = parse("users = 4\n[validation]\nsample_rate = 1.5\n").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("x.toml:3:"), "{text}");
        assert!(text.contains("field `sample_rate`"), "{text}");
        assert!(text.contains("between 0 and 1"), "{text}");
    }

    #[test]
    fn a_rule_goose_refuses_is_refused_with_its_reason() {
        let err = parse("thresholds = [\"p95<0\"]\n").unwrap_err().to_string();
        assert!(err.contains("x.toml:1:"), "{err}");
        assert!(err.contains("it can never pass"), "{err}");
    }

    #[test]
    fn times_goose_cannot_take_are_refused_not_rounded() {
        let resolve = |text: &str| parse(text).unwrap().resolve();
        assert!(
            resolve("run_time = \"0s\"")
                .unwrap_err()
                .contains("at least 1s")
        );
        assert!(
            resolve("run_time = \"1500ms\"")
                .unwrap_err()
                .contains("whole number of seconds")
        );
        assert!(
            resolve("users = 2\nincrease_time = \"0s\"")
                .unwrap_err()
                .contains("at least 1s")
        );
        assert!(resolve("run_time = \"2s\"").is_ok());
        assert!(parse("iterations = 0").is_err());
    }

    #[test]
    fn a_rule_on_a_request_the_mix_never_sends_is_refused() {
        let err = parse("thresholds = [\"p95<1s for POST personalize\"]\n[mix]\nget = 1\n")
            .unwrap()
            .resolve()
            .unwrap_err();
        assert!(err.contains("never sends"), "{err}");
    }

    #[test]
    fn exclusive_keys_are_reported_at_the_second_one() {
        let err = parse("run_time = \"5s\"\niterations = 3\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("x.toml:2:1: field `iterations`"), "{err}");
    }

    #[test]
    fn flags_win_clear_the_exclusive_key_and_keep_their_rules_apart() {
        let file = parse(
            "users = 4\nrun_time = \"5s\"\nthresholds = [\"p95<1s\"]\n[validation]\nsample_rate = 0.5\n",
        )
        .unwrap();
        let flags = Scenario {
            iterations: Some(2),
            thresholds: Some(vec!["p95<2s".parse().unwrap()]),
            validation: Some(Validation {
                sample_rate: None,
                mode: Some(Mode::Strict),
            }),
            ..Scenario::default()
        };
        let merged = file.merge(flags);
        assert_eq!(
            (merged.users, merged.run_time, merged.iterations),
            (Some(4), None, Some(2))
        );
        let validation = merged.validation.unwrap();
        assert_eq!(validation.sample_rate, Some(SampleRate(0.5)));
        assert_eq!(validation.mode, Some(Mode::Strict));
        let plan = merged.resolve().unwrap();
        let p95: Vec<_> = plan
            .thresholds
            .iter()
            .filter(|t| t.rule.text().starts_with("p95"))
            .map(|t| t.rule.text())
            .collect();
        assert_eq!(p95, ["p95<2s"], "the flag's rule replaces the file's");
    }

    #[test]
    fn largest_share_caps_the_busiest_operation() {
        let mix = Mix {
            get: 3,
            patch: 1,
            personalize: 0,
            depersonalize: 0,
        };
        assert!((mix.largest_share() - 0.75).abs() < 1e-9);
    }
}
