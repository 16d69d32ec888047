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

use clap::builder::TypedValueParser as _;
use serde::Deserialize;

pub use crate::load::shape::{ArrivalRate, Length, MAX_RATE, Ramp, Shape, Stage, Stages};
use crate::load::threshold::{AlwaysOn, Rule};
pub use crate::load::values::{CoMitigation, Mix, PositiveNumber, SampleRate, Span, ThinkTime};
use crate::schema::Mode;

pub mod builtin;
mod file;
mod plan;
#[cfg(test)]
mod tests;

pub use file::ScenarioError;
pub use plan::{DEFAULT_RUN_TIME, DEFAULT_SAMPLE_RATE, DEFAULT_USERS, LoadPlan, PlanError};

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

impl Scenario {
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
    /// [`crate::load::threshold::plan_rules`]).
    pub fn merge(mut self, mut flags: Scenario) -> Scenario {
        let gives = |keys: &[Key]| keys.iter().any(|k| flags.gives(*k));
        for pair in &EXCLUSIVE {
            for (given, cleared) in [(pair.one, pair.other), (pair.other, pair.one)] {
                if gives(given) {
                    cleared.iter().for_each(|k| self.clear(*k));
                }
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
