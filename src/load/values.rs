//! The typed values a scenario file and the command line share: the operation mix, times
//! ([`Span`], in [`crate::duration`]'s grammar), think time, shares and rates, and goose's
//! coordinated-omission modes. Each checks itself when parsed, so a bad value is refused with
//! the file's line or the flag's name, never in the middle of a run.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;

use crate::api::Operation;
use crate::duration::DurationError;

/// Relative weights of the four operations; 0 leaves one out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mix {
    #[serde(default)]
    pub get: u32,
    #[serde(default)]
    pub patch: u32,
    #[serde(default)]
    pub personalize: u32,
    #[serde(default)]
    pub depersonalize: u32,
}

impl Mix {
    /// The weight of `op`.
    pub fn weight(&self, op: Operation) -> u32 {
        match op {
            Operation::Get => self.get,
            Operation::Patch => self.patch,
            Operation::Personalize => self.personalize,
            Operation::Depersonalize => self.depersonalize,
        }
    }

    /// Every weight together, as a `u64`: four `u32` weights, whatever a file gives, never
    /// overflow it (a `u32` sum would panic in a debug build and wrap in a release one).
    pub fn total(&self) -> u64 {
        Operation::ALL
            .iter()
            .map(|op| u64::from(self.weight(*op)))
            .sum()
    }

    /// `op`'s share of all requests, in `[0, 1]`; 0 for an empty mix.
    pub fn share(&self, op: Operation) -> f64 {
        match self.total() {
            0 => 0.0,
            total => f64::from(self.weight(op)) / total as f64,
        }
    }

    /// The largest share any one operation has of all requests, in `(0, 1]`.
    pub fn largest_share(&self) -> f64 {
        if self.total() == 0 {
            return 1.0;
        }
        Operation::ALL
            .iter()
            .map(|op| self.share(*op))
            .fold(0.0, f64::max)
    }

    /// True when some operation writes (no sum: large weights cannot wrap it to "no writes").
    pub fn writes(&self) -> bool {
        self.patch > 0 || self.person_writes()
    }

    /// True when the mix personalizes or depersonalizes.
    pub fn person_writes(&self) -> bool {
        self.personalize > 0 || self.depersonalize > 0
    }
}

/// goose's coordinated-omission mitigation modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CoMitigation {
    #[default]
    Disabled,
    Average,
    Minimum,
    Maximum,
}

impl CoMitigation {
    /// The value of goose's `--co-mitigation`.
    pub fn as_str(self) -> &'static str {
        match self {
            CoMitigation::Disabled => "disabled",
            CoMitigation::Average => "average",
            CoMitigation::Minimum => "minimum",
            CoMitigation::Maximum => "maximum",
        }
    }
}

impl FromStr for CoMitigation {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, ValueError> {
        match s.to_ascii_lowercase().as_str() {
            "disabled" => Ok(CoMitigation::Disabled),
            "average" => Ok(CoMitigation::Average),
            "minimum" => Ok(CoMitigation::Minimum),
            "maximum" => Ok(CoMitigation::Maximum),
            _ => Err(ValueError::Mitigation(s.to_owned())),
        }
    }
}

/// Why a scenario value (from a file or a flag) was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValueError {
    #[error("{0:?} is not a mitigation mode; use disabled, average, minimum or maximum")]
    Mitigation(String),
    /// A flag's share that is no number.
    #[error("{0:?} is not a number between 0 and 1")]
    ShareText(String),
    #[error("{0} is not between 0 and 1 (a share of responses: 1 validates all, 0.1 one in ten)")]
    Share(f64),
    /// A flag's value, as written.
    #[error("{0:?} is not a number greater than 0")]
    PositiveText(String),
    /// A file's value.
    #[error("{0} is not a number greater than 0")]
    Positive(f64),
    #[error(transparent)]
    Duration(#[from] DurationError),
    #[error("{0:?}: the range ends before it starts; write MIN..MAX")]
    Backwards(String),
}

/// A share between 0 and 1.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(try_from = "f64")]
pub struct SampleRate(pub f64);

impl FromStr for SampleRate {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, ValueError> {
        let v: f64 = s
            .trim()
            .parse()
            .map_err(|_| ValueError::ShareText(s.to_owned()))?;
        SampleRate::try_from(v)
    }
}

impl TryFrom<f64> for SampleRate {
    type Error = ValueError;
    fn try_from(v: f64) -> Result<SampleRate, ValueError> {
        if (0.0..=1.0).contains(&v) {
            Ok(SampleRate(v))
        } else {
            Err(ValueError::Share(v))
        }
    }
}

/// A number greater than 0 (users started per second).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(try_from = "f64")]
pub struct PositiveNumber(pub f64);

impl FromStr for PositiveNumber {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, ValueError> {
        s.parse::<f64>()
            .ok()
            .and_then(|v| PositiveNumber::try_from(v).ok())
            .ok_or_else(|| ValueError::PositiveText(s.to_owned()))
    }
}

impl TryFrom<f64> for PositiveNumber {
    type Error = ValueError;
    fn try_from(v: f64) -> Result<PositiveNumber, ValueError> {
        if v > 0.0 && v.is_finite() {
            Ok(PositiveNumber(v))
        } else {
            Err(ValueError::Positive(v))
        }
    }
}

/// A length of time in [`crate::duration`]'s grammar: `500ms`, `5s`, `1.5s`, `2m`, `1h`, `1m30s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Span(pub Duration);

impl Span {
    /// Whole seconds, rounding up; goose's time options take seconds.
    pub fn whole_seconds(self) -> u64 {
        self.0.as_secs() + u64::from(self.0.subsec_nanos() > 0)
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms % 1000 == 0 {
            write!(f, "{}s", ms / 1000)
        } else {
            write!(f, "{ms}ms")
        }
    }
}

impl FromStr for Span {
    type Err = DurationError;
    /// [`crate::duration`]'s grammar; whether a fraction or zero is allowed is decided where
    /// the time is used (see [`crate::load::LoadPlan`]'s checks).
    fn from_str(text: &str) -> Result<Self, DurationError> {
        crate::duration::parse(text).map(Span)
    }
}

/// Pause after each request: a fixed time or a uniform range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(try_from = "String")]
pub struct ThinkTime {
    pub min: Duration,
    pub max: Duration,
}

impl FromStr for ThinkTime {
    type Err = ValueError;
    fn from_str(text: &str) -> Result<Self, ValueError> {
        match text.split_once("..") {
            Some((a, b)) => {
                let (min, max) = (a.parse::<Span>()?.0, b.parse::<Span>()?.0);
                if max < min {
                    return Err(ValueError::Backwards(text.to_owned()));
                }
                Ok(ThinkTime { min, max })
            }
            None => {
                let t = text.parse::<Span>()?.0;
                Ok(ThinkTime { min: t, max: t })
            }
        }
    }
}

/// serde's way to a value parsed from a string (`#[serde(try_from = "String")]`): its
/// [`FromStr`], the same parser a flag goes through.
macro_rules! try_from_string {
    ($($ty:ty),*) => {$(
        impl TryFrom<String> for $ty {
            type Error = <$ty as FromStr>::Err;
            fn try_from(text: String) -> Result<Self, Self::Error> {
                text.parse()
            }
        }
    )*};
}
pub(crate) use try_from_string;

try_from_string!(Span, ThinkTime);
