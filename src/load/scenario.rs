//! Scenario files: load profiles as TOML data in `scenarios/`, read at run time, and the
//! command line's overrides of them.
//!
//! A file names the operation mix, users, ramp, length, throttle, think time, validation sample
//! rate, coordinated-omission mitigation and thresholds; `scenarios/README.md` documents every
//! key. Each key is spelled once, in [`Scenario`]: its serde name is the file's key, its clap
//! flag the `load` command's override (`pushcheck load --users`), and `check`'s overrides are a
//! [`Scenario`] too; [`EXCLUSIVE`] says which keys exclude each other, for the file, the merge
//! and clap alike. Every value is checked while the file is read (unknown keys are refused), so
//! a bad value is reported with the file, line, column and field (from the TOML parser's spans),
//! never later in the middle of a run. Threshold rules are parsed by goose's own parser (and
//! pushcheck's for `schema-violation-rate`), so a rule goose would refuse is refused here, with
//! goose's reason.
//!
//! This module only reads and resolves settings; it must not start anything.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::builder::TypedValueParser as _;
use serde::Deserialize;
use toml::de::{DeTable, DeValue};

use crate::api::Operation;
pub use crate::load::shape::{ArrivalRate, Length, MAX_RATE, Ramp, Shape, Stage, Stages};
use crate::load::threshold::{AlwaysOn, PlannedRule, Rule, plan_rules};
pub use crate::load::values::{CoMitigation, Mix, PositiveNumber, SampleRate, Span, ThinkTime};
use crate::schema::Mode;

/// Defines [`Scenario`] from its keys, and what is done with every key alike: [`Key`] names
/// them, [`Scenario::gives`] and [`Scenario::clear`] reach one by name, and
/// [`Scenario::layer_each`] lays one scenario's keys over another's (see [`Layer`]).
macro_rules! scenario_keys {
    (
        $(#[$meta:meta])*
        pub struct Scenario {
            $( $(#[$key_meta:meta])* pub $key:ident: Option<$ty:ty>, )*
        }
    ) => {
        $(#[$meta])*
        pub struct Scenario {
            $( $(#[$key_meta])* pub $key: Option<$ty>, )*
            /// Rules from the command line, added on top of the file's (not a file key; set by
            /// [`Scenario::merge`]).
            #[serde(skip)]
            #[arg(skip)]
            pub flag_thresholds: Vec<Rule>,
        }

        /// A key of a scenario file, named as the file writes it (and as clap's argument id).
        #[allow(non_camel_case_types)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Key {
            $( $key, )*
        }

        impl Key {
            /// Every key, in the order of [`Scenario`].
            pub const ALL: &[Key] = &[$( Key::$key, )*];

            /// The key as a file writes it.
            pub fn name(self) -> &'static str {
                match self {
                    $( Key::$key => stringify!($key), )*
                }
            }
        }

        impl Scenario {
            /// Whether this scenario gives `key`.
            pub fn gives(&self, key: Key) -> bool {
                match key {
                    $( Key::$key => self.$key.is_some(), )*
                }
            }

            /// Forgets `key`.
            fn clear(&mut self, key: Key) {
                match key {
                    $( Key::$key => self.$key = None, )*
                }
            }

            /// Every key `flags` gives laid over this scenario's ([`Layer`]).
            fn layer_each(&mut self, flags: Scenario) {
                $( Layer::layer(&mut self.$key, flags.$key); )*
            }
        }
    };
}

scenario_keys! {
    /// A scenario file as written, or the command line's overrides of one (`pushcheck load`'s
    /// flags: the doc comments are their help): every key is optional so that flags can fill or
    /// override it. The file's keys are documented in `scenarios/README.md`.
    #[derive(Debug, Clone, Default, Deserialize, clap::Args)]
    #[serde(deny_unknown_fields)]
    #[command(next_help_heading = "Scenario overrides")]
    pub struct Scenario {
        // Shown in reports; defaults to the file stem. Not a flag.
        #[arg(skip)]
        pub name: Option<String>,
        // One sentence on what the profile is for. Not a flag.
        #[arg(skip)]
        pub description: Option<String>,
        /// Concurrent users.
        #[arg(long, short = 'u', value_name = "N")]
        pub users: Option<usize>,
        /// Users started per second.
        #[arg(long, value_name = "RATE")]
        pub increase_rate: Option<PositiveNumber>,
        /// Time to start all users, instead of --increase-rate (e.g. 10s).
        #[arg(long, value_name = "TIME")]
        pub increase_time: Option<Span>,
        /// How long to hold all users (e.g. 30s, 2m).
        #[arg(long, short = 't', value_name = "TIME")]
        pub run_time: Option<Span>,
        /// Each user runs its mix N times, instead of --run-time.
        #[arg(long, value_name = "N")]
        pub iterations: Option<usize>,
        /// Users over time instead of --users/--run-time: USERS,TIME steps separated by `;`
        /// (e.g. "10,30s;10,2m;50,10s;0,30s": ramp, hold, spike, ramp down; goose's test plan).
        // In a file: `[{ users = 10, duration = "30s" }, …]`.
        #[arg(long, value_name = "PLAN", conflicts_with_all = HOLD)]
        pub stages: Option<Stages>,
        /// Requests per second, all users together (0: none): a ceiling.
        #[arg(long, value_name = "N", value_parser = throttle_flag)]
        pub throttle: Option<usize>,
        /// Requests per second to hold, all operations together, split by the mix; the run
        /// reports the rate achieved and why any was missing (gated by arrival-rate>=95%).
        // In a file also a table of rates per operation, which sets the mix.
        #[arg(
            long,
            value_name = "N",
            value_parser = clap::value_parser!(u32)
                .range(1..=i64::from(MAX_RATE))
                .map(ArrivalRate::Total),
            conflicts_with = Key::throttle
        )]
        pub arrival_rate: Option<ArrivalRate>,
        /// Pause after each request: 20ms or a range 10ms..50ms.
        #[arg(long, value_name = "TIME")]
        pub think_time: Option<ThinkTime>,
        /// Coordinated-omission mitigation: disabled, average, minimum, maximum.
        #[arg(long, value_name = "MODE")]
        pub co_mitigation: Option<CoMitigation>,
        // Operation weights. Not a flag.
        #[arg(skip)]
        pub mix: Option<Mix>,
        // `[validation]`; its flags are `--sample-rate` and `--strict`.
        #[command(flatten)]
        pub validation: Option<Validation>,
        /// Pass/fail rule; repeatable; added to the file's (replacing its rule on the same metric
        /// and request).
        // goose's (`p95<500ms`, `error-rate<1%`, `rps>=100`, `… for GET registration`) and
        // pushcheck's (`schema-violation-rate<0.1%`, …).
        #[arg(long = "threshold", value_name = "RULE")]
        pub thresholds: Option<Vec<Rule>>,
        /// Turn off an always-on rule: error-rate, schema-violation-rate, arrival-rate or
        /// mix-drift, answer-gap; repeatable.
        #[arg(long = "without-rule", value_name = "NAME")]
        pub without_rules: Option<Vec<AlwaysOn>>,
        /// Judge goose's figures on the steady state only (goose resets them after the ramp).
        // By default they cover every request sent, the ramp included.
        #[arg(long, num_args = 0, default_missing_value = "true")]
        pub steady_state_only: Option<bool>,
    }
}

/// `[validation]`: how much of the traffic is validated against `schemas/`, and how strictly.
#[derive(Debug, Clone, Copy, Default, Deserialize, clap::Args)]
#[serde(deny_unknown_fields)]
#[command(next_help_heading = "Scenario overrides")]
pub struct Validation {
    /// Share of responses validated against schemas/, 0 to 1 (default 0.1, where validation
    /// costs about 2% of throughput; the shipped scenarios say 1.0).
    #[arg(long, value_name = "RATE")]
    pub sample_rate: Option<SampleRate>,
    /// Validate in strict mode (undocumented properties are violations).
    // In a file: `mode = "lenient"` (the default) or `"strict"`.
    #[arg(long = "strict", num_args = 0, default_missing_value = "strict")]
    pub mode: Option<Mode>,
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A key is its flag's clap id.
impl From<Key> for clap::Id {
    fn from(key: Key) -> clap::Id {
        clap::Id::from(key.name())
    }
}

/// The keys of the hold model, which `stages` replaces.
pub const HOLD: [Key; 6] = [
    Key::users,
    Key::increase_rate,
    Key::increase_time,
    Key::run_time,
    Key::iterations,
    Key::steady_state_only,
];

/// Keys that exclude each other: a scenario gives `one` or `other`, never both. A file giving
/// both is refused at the `other` key; a flag of one side clears the file's other side
/// ([`Scenario::merge`]).
#[derive(Debug)]
pub struct Exclusive {
    pub one: &'static [Key],
    pub other: &'static [Key],
    /// Why, for the message (with its leading space).
    pub why: &'static str,
}

/// Every pair of keys that exclude each other, in the order they are checked.
pub const EXCLUSIVE: [Exclusive; 4] = [
    Exclusive {
        one: &[Key::run_time],
        other: &[Key::iterations],
        why: "",
    },
    Exclusive {
        one: &[Key::increase_rate],
        other: &[Key::increase_time],
        why: "",
    },
    Exclusive {
        one: &[Key::stages],
        other: &HOLD,
        why: " (stages decide the users and the length)",
    },
    Exclusive {
        one: &[Key::arrival_rate],
        other: &[Key::throttle],
        why: " (an arrival rate is goose's throttle too)",
    },
];

/// `--throttle`: a rate from 0 to [`MAX_RATE`].
fn throttle_flag(s: &str) -> Result<usize, NotAThrottle> {
    s.parse::<usize>()
        .ok()
        .filter(|n| *n <= MAX_RATE as usize)
        .ok_or_else(|| NotAThrottle(s.to_owned()))
}

/// A `--throttle` value out of range.
#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not a rate from 0 (none) to {MAX_RATE} requests per second")]
pub struct NotAThrottle(String);

/// How a key's value from the command line is laid over the file's: by default the flag's
/// value, when it gives one, replaces the file's.
trait Layer: Sized {
    fn layer(mine: &mut Option<Self>, theirs: Option<Self>) {
        if theirs.is_some() {
            *mine = theirs;
        }
    }
}

impl Layer for String {}
impl Layer for usize {}
impl Layer for bool {}
impl Layer for PositiveNumber {}
impl Layer for Span {}
impl Layer for Stages {}
impl Layer for ArrivalRate {}
impl Layer for ThinkTime {}
impl Layer for CoMitigation {}
impl Layer for Mix {}
impl Layer for SampleRate {}
impl Layer for Mode {}
/// [`Scenario::merge`] keeps the flags' rules apart, in `flag_thresholds`.
impl Layer for Vec<Rule> {}

/// `[validation]` is laid over key by key.
impl Layer for Validation {
    fn layer(mine: &mut Option<Self>, theirs: Option<Self>) {
        if let Some(theirs) = theirs {
            let mine = mine.get_or_insert_default();
            Layer::layer(&mut mine.sample_rate, theirs.sample_rate);
            Layer::layer(&mut mine.mode, theirs.mode);
        }
    }
}

/// Rules turned off add up.
impl Layer for Vec<AlwaysOn> {
    fn layer(mine: &mut Option<Self>, theirs: Option<Self>) {
        if let Some(more) = theirs {
            mine.get_or_insert_with(Vec::new).extend(more);
        }
    }
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
        let (document, errors) = DeTable::parse_recoverable(text);
        let positions = Positions::of(text, document.get_ref());
        let invalid = |error: &toml::de::Error| positions.invalid(path, error);
        if let Some(error) = errors.first() {
            return Err(invalid(error));
        }
        let scenario = Scenario::deserialize(toml::de::Deserializer::from(document))
            .map_err(|e| invalid(&e))?;
        match scenario.conflict() {
            None => Ok(scenario),
            // Rules that involve two keys, reported at the second one's line.
            Some(conflict) => {
                let key = conflict.key();
                let (line, column) = positions.key(key.name()).unwrap_or((1, 1));
                Err(ScenarioError::Invalid {
                    path: path.to_owned(),
                    line,
                    column,
                    field: Some(key.name().to_owned()),
                    message: conflict.to_string(),
                })
            }
        }
    }

    /// The first rule on two keys (or on a value no single key's type refuses) this scenario
    /// breaks. Both a file ([`Scenario::from_toml`]) and a merged scenario
    /// ([`Scenario::resolve`]) are checked with it.
    fn conflict(&self) -> Option<Conflict> {
        let first = |keys: &[Key]| keys.iter().copied().find(|k| self.gives(*k));
        for pair in &EXCLUSIVE {
            if let (Some(one), Some(other)) = (first(pair.one), first(pair.other)) {
                return Some(Conflict::Exclusive {
                    one,
                    other,
                    why: pair.why,
                });
            }
        }
        if matches!(self.arrival_rate, Some(ArrivalRate::PerOperation(_))) && self.mix.is_some() {
            return Some(Conflict::MixAndRates);
        }
        if self.throttle.is_some_and(|t| t > MAX_RATE as usize) {
            return Some(Conflict::Throttle);
        }
        if self.users == Some(0) {
            return Some(Conflict::NoUser);
        }
        if self.iterations == Some(0) {
            return Some(Conflict::NoIteration);
        }
        if self.mix == Some(Mix::default()) {
            return Some(Conflict::NoWeight);
        }
        None
    }

    /// This file's values with the command line's on top: every value `flags` gives wins; a
    /// flag for one of two exclusive keys clears the other ([`EXCLUSIVE`]: `--stages` clears
    /// `users`, … and `--users` clears `stages`); `[validation]` is merged key by key;
    /// `without_rules` add up; the flags' `thresholds` stay apart from the file's, which they
    /// extend (a flag rule on the same metric and request replaces the file's, see
    /// [`plan_rules`]).
    pub fn merge(mut self, mut flags: Scenario) -> Scenario {
        for pair in &EXCLUSIVE {
            let gives = |keys: &[Key]| keys.iter().any(|k| flags.gives(*k));
            let clear = [(pair.one, pair.other), (pair.other, pair.one)]
                .into_iter()
                .filter(|(side, _)| gives(side))
                .flat_map(|(_, other)| other)
                .collect::<Vec<_>>();
            for key in clear {
                self.clear(*key);
            }
        }
        if flags.mix.is_some()
            && let Some(ArrivalRate::PerOperation(_)) = self.arrival_rate
        {
            // The flag's mix wins; the rates per operation keep their sum.
            self.arrival_rate = self.arrival_rate.map(|a| ArrivalRate::Total(a.total()));
        }
        self.flag_thresholds
            .extend(flags.thresholds.take().unwrap_or_default());
        self.layer_each(flags);
        self
    }

    /// Decides every value, filling what is missing with defaults.
    pub fn resolve(&self) -> Result<LoadPlan, PlanError> {
        if let Some(conflict) = self.conflict() {
            return Err(PlanError::Conflict { conflict });
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
            return Err(PlanError::NoWeight);
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
            return Err(PlanError::NoArrivalRate {
                rule: p.rule.text().to_owned(),
            });
        }
        for planned in &thresholds {
            if let Some(request) = planned.rule.request()
                && mix.weight(request) == 0
            {
                return Err(PlanError::NeverSent {
                    rule: planned.rule.text().to_owned(),
                    request,
                });
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

    /// The hold model's users, ramp and length, with their defaults.
    fn hold(&self) -> Result<Shape, PlanError> {
        // [`Scenario::conflict`] has refused exclusive keys given together and zero counts.
        let users = self.users.unwrap_or(DEFAULT_USERS);
        let ramp = match (self.increase_rate, self.increase_time) {
            (_, Some(t)) => Ramp::Time(whole_seconds(Key::increase_time, t)?),
            (Some(r), None) => Ramp::Rate(r.0),
            (None, None) => Ramp::Rate(users as f64),
        };
        if matches!(ramp, Ramp::Time(_)) && users < 2 {
            return Err(PlanError::RampOfOne);
        }
        let length = match (self.run_time, self.iterations) {
            (Some(t), _) => Length::RunTime(whole_seconds(Key::run_time, t)?),
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

/// A rule on two keys, or on a value no single key's type refuses, that a scenario breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Conflict {
    #[error("give {one} or {other}, not both{why}")]
    Exclusive {
        one: Key,
        other: Key,
        why: &'static str,
    },
    #[error(
        "give [mix] or a rate per operation in [arrival_rate], not both (the rates are the weights)"
    )]
    MixAndRates,
    #[error("at most {MAX_RATE} requests per second (0 for none)")]
    Throttle,
    #[error("at least 1 user is needed")]
    NoUser,
    #[error("at least 1 iteration is needed")]
    NoIteration,
    #[error(
        "every weight is 0; give at least one of get, patch, personalize, depersonalize a weight"
    )]
    NoWeight,
}

impl Conflict {
    /// The key the conflict is reported at.
    pub fn key(&self) -> Key {
        match self {
            Conflict::Exclusive { other, .. } => *other,
            Conflict::MixAndRates | Conflict::NoWeight => Key::mix,
            Conflict::Throttle => Key::throttle,
            Conflict::NoUser => Key::users,
            Conflict::NoIteration => Key::iterations,
        }
    }
}

/// Why a scenario (a file with the flags over it) cannot be run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    #[error("{key}: {conflict}", key = .conflict.key())]
    Conflict { conflict: Conflict },
    #[error("every operation weight is 0")]
    NoWeight,
    #[error("increase_time needs at least 2 users (goose)")]
    RampOfOne,
    /// A time handed to goose, which reads 0 as "no limit".
    #[error("{0} must be at least 1s (goose takes whole seconds, and 0 would run forever)")]
    Zero(Key),
    /// A time handed to goose, which takes whole seconds.
    #[error("{key} {time} is not a whole number of seconds (goose takes whole seconds)")]
    Fraction { key: Key, time: Span },
    #[error(
        "threshold {rule:?} judges an arrival rate, and this run asks for none (set arrival_rate, \
         or --arrival-rate)"
    )]
    NoArrivalRate { rule: String },
    #[error(
        "threshold {rule:?} judges {}, which this scenario's mix never sends",
        .request.label()
    )]
    NeverSent { rule: String, request: Operation },
}

/// A time handed to goose, which takes whole seconds and reads 0 as "no limit": a fraction or
/// zero is refused rather than rounded.
fn whole_seconds(key: Key, t: Span) -> Result<Span, PlanError> {
    if t.0.is_zero() {
        return Err(PlanError::Zero(key));
    }
    if t.0.subsec_nanos() != 0 {
        return Err(PlanError::Fraction { key, time: t });
    }
    Ok(t)
}

/// Where each key of a TOML document is written, from the parser's spans ([`toml::Spanned`]):
/// its name and its byte range, from the key (or a table header's `[`) to the end of its value.
struct Positions<'t> {
    text: &'t str,
    /// Nested keys after their table's key; `top` marks the document's own keys.
    keys: Vec<(String, Range<usize>, bool)>,
}

impl<'t> Positions<'t> {
    fn of(text: &'t str, document: &DeTable<'_>) -> Positions<'t> {
        fn walk(table: &DeTable<'_>, top: bool, out: &mut Vec<(String, Range<usize>, bool)>) {
            for (key, value) in table.iter() {
                let (k, v) = (key.span(), value.span());
                out.push((
                    key.get_ref().to_string(),
                    k.start.min(v.start)..k.end.max(v.end),
                    top,
                ));
                let tables: Vec<&DeTable<'_>> = match value.get_ref() {
                    DeValue::Table(t) => vec![t],
                    DeValue::Array(items) => items
                        .iter()
                        .filter_map(|i| match i.get_ref() {
                            DeValue::Table(t) => Some(t),
                            _ => None,
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                for t in tables {
                    walk(t, false, out);
                }
            }
        }
        let mut keys = Vec::new();
        walk(document, true, &mut keys);
        Positions { text, keys }
    }

    /// Line and column (1-based) of byte `offset`.
    fn line_column(&self, offset: usize) -> (usize, usize) {
        let before = self.text.get(..offset).unwrap_or(self.text);
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        (
            before.matches('\n').count() + 1,
            before[line_start..].chars().count() + 1,
        )
    }

    /// Where the document's own `key` is written (`key = …` or `[key]`).
    fn key(&self, key: &str) -> Option<(usize, usize)> {
        self.keys
            .iter()
            .find(|(name, _, top)| *top && name == key)
            .map(|(_, range, _)| self.line_column(range.start))
    }

    /// The key an error at byte `offset` is reported at: the outermost one written on its line
    /// around it (`stages = [{ …, time = "1s" }]`: `stages`), else the last one written on its
    /// line before it (a syntax error), else the innermost around it.
    fn field_at(&self, offset: usize) -> Option<String> {
        let line = self.line_column(offset).0;
        let on_line = || {
            self.keys.iter().filter(move |(_, range, _)| {
                range.start <= offset && self.line_column(range.start).0 == line
            })
        };
        let around = |(_, range, _): &&(String, Range<usize>, bool)| range.contains(&offset);
        on_line()
            .filter(around)
            .max_by_key(|(_, range, _)| range.len())
            .or_else(|| on_line().max_by_key(|(_, range, _)| range.start))
            .or_else(|| {
                self.keys
                    .iter()
                    .filter(around)
                    .min_by_key(|(_, range, _)| range.len())
            })
            .map(|(name, _, _)| name.clone())
    }

    /// A parser's error, at its line and column, with the key it is about.
    fn invalid(&self, path: &Path, error: &toml::de::Error) -> ScenarioError {
        let (line, column, field) = match error.span() {
            Some(span) => {
                let (line, column) = self.line_column(span.start);
                (line, column, self.field_at(span.start))
            }
            None => (1, 1, None),
        };
        ScenarioError::Invalid {
            path: path.to_owned(),
            line,
            column,
            field,
            message: error.message().trim().to_owned(),
        }
    }
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
        let resolve = |text: &str| parse(text).unwrap().resolve().map_err(|e| e.to_string());
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
            .unwrap_err()
            .to_string();
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
