//! Value parsers shared by the subcommands' flags (durations, shares).

use std::time::Duration;

use crate::duration::DurationError;

/// Why a flag's value was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValueError {
    #[error(transparent)]
    Duration(#[from] DurationError),
    #[error("{0:?}: a timeout must be more than 0")]
    ZeroTimeout(String),
    #[error("{0:?} is not a number between 0 and 1")]
    NotANumber(String),
    #[error("{0:?} is not between 0 and 1")]
    NotAShare(String),
}

/// A time in [`crate::duration`]'s grammar: `250ms`, `5s`, `1.5s`, `100us`, `2m`, `1m30s`.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    crate::duration::parse(text)
}

/// The longest wait for one response: a time, more than zero.
pub fn parse_timeout(text: &str) -> Result<Duration, ValueError> {
    match parse_duration(text)? {
        t if t.is_zero() => Err(ValueError::ZeroTimeout(text.to_owned())),
        t => Ok(t),
    }
}

/// A share between 0 and 1.
pub fn parse_rate(text: &str) -> Result<f64, ValueError> {
    let rate: f64 = text
        .parse()
        .map_err(|_| ValueError::NotANumber(text.to_owned()))?;
    if (0.0..=1.0).contains(&rate) {
        Ok(rate)
    } else {
        Err(ValueError::NotAShare(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_more_than_zero_and_rates_a_share() {
        assert_eq!(parse_timeout("1.5s"), Ok(Duration::from_millis(1500)));
        let zero = parse_timeout("0s").unwrap_err().to_string();
        assert!(zero.contains("more than 0"), "{zero}");
        assert!(parse_rate("1.5").is_err());
    }
}
