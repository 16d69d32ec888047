//! Value parsers shared by the subcommands' flags (durations, shares).

use std::time::Duration;

/// A time in [`crate::duration`]'s grammar: `250ms`, `5s`, `1.5s`, `100us`, `2m`, `1m30s`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    crate::duration::parse(text)
}

/// The longest wait for one response: a time, more than zero.
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    match parse_duration(text)? {
        t if t.is_zero() => Err(format!("{text:?}: a timeout must be more than 0")),
        t => Ok(t),
    }
}

/// A share between 0 and 1.
pub fn parse_rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number between 0 and 1"))?;
    if (0.0..=1.0).contains(&rate) {
        Ok(rate)
    } else {
        Err(format!("{text:?} is not between 0 and 1"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_more_than_zero_and_rates_a_share() {
        assert_eq!(parse_timeout("1.5s"), Ok(Duration::from_millis(1500)));
        assert!(parse_timeout("0s").unwrap_err().contains("more than 0"));
        assert!(parse_rate("1.5").is_err());
    }
}
