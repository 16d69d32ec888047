//! The one grammar for a length of time, in every flag and scenario file: a number with a unit
//! — `us`, `ms`, `s`, `m`, `h` — components combined (`1m30s`), a decimal fraction allowed
//! (`1.5s`, `0.25ms`). No spaces, no sign, no bare number.
//!
//! What a consumer accepts beyond the grammar is its own rule, said where it applies: the times
//! handed to goose (run time, ramp) refuse fractions of a second and zero, since goose takes
//! whole seconds and reads 0 as "forever" (`load::scenario`); a request timeout refuses zero.
//! Threshold values follow goose's own rule grammar instead (a bare number means milliseconds),
//! since goose parses them.

use std::time::Duration;

/// Why a text is not a time in the grammar above.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("{0:?} is negative: a time is a positive number with a unit, e.g. 20ms or 1.5s")]
    Negative(String),
    #[error("{0:?} needs a unit: us, ms, s, m or h (e.g. 20ms)")]
    NoUnit(String),
    #[error(
        "{0:?} is not a time; write a number with us, ms, s, m or h, such as 500ms, 1.5s or 1m30s"
    )]
    NotATime(String),
    #[error("{text:?}: {source}")]
    TooLong {
        text: String,
        source: std::time::TryFromFloatSecsError,
    },
}

/// Parses `text` in the grammar above.
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let text = text.trim();
    if text.starts_with('-') {
        return Err(DurationError::Negative(text.to_owned()));
    }
    if !text.is_empty() && text.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(DurationError::NoUnit(text.to_owned()));
    }
    let bad = || DurationError::NotATime(text.to_owned());
    let mut rest = text;
    if rest.is_empty() {
        return Err(bad());
    }
    let mut seconds = 0.0f64;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let (scale, len) = [
            ("us", 1e-6),
            ("ms", 1e-3),
            ("s", 1.0),
            ("m", 60.0),
            ("h", 3600.0),
        ]
        .iter()
        .find(|(unit, _)| rest.starts_with(unit))
        .map(|(unit, scale)| (*scale, unit.len()))
        .ok_or_else(bad)?;
        seconds += number * scale;
        rest = &rest[len..];
    }
    Duration::try_from_secs_f64(seconds).map_err(|source| DurationError::TooLong {
        text: text.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_grammar_for_every_time() {
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("20ms"), Ok(Duration::from_millis(20)));
        assert_eq!(parse("100us"), Ok(Duration::from_micros(100)));
        assert_eq!(parse("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("0s"), Ok(Duration::ZERO));
        assert!(parse("5").unwrap_err().to_string().contains("needs a unit"));
        assert!(parse("-5s").unwrap_err().to_string().contains("negative"));
        for bad in ["", "5 s", "5d", "s", "1..2s", "ms5"] {
            let err = parse(bad).unwrap_err().to_string();
            assert!(err.contains("is not a time"), "{bad}");
        }
    }
}
