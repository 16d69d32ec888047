//! What a finished run amounts to, and the one exit code CI reads from it.
//!
//! Every command maps its result the same way ([`Exit::of`]), in one order of precedence: a
//! configuration mistake found while running (exit 2) before a run that broke (interrupted, or
//! a target that never answered: exit 3) before the verdict itself (0 or 1). Errors before any
//! result exists (a bad flag, an unreadable file) are mapped where they are raised, by their
//! type (`is_usage`, `is_configuration`).
//!
//! This module depends on no runner: each result type knows its own mistakes and maps itself
//! through [`Outcome::of`], so the arrows run runner → outcome, never back.

/// Exit codes. "A check failed" and "the run broke" are different things for CI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything checked passed.
    Passed = 0,
    /// A check, case, threshold or invariant failed.
    CheckFailed = 1,
    /// Wrong flag, unknown name, unreadable or malformed input: fix the command line or file.
    Usage = 2,
    /// The run itself broke: target unreachable, I/O error, interrupted.
    Runtime = 3,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The exit code of an outcome.
    pub fn of(outcome: &Outcome) -> Exit {
        match outcome {
            Outcome::Mistake(_) => Exit::Usage,
            Outcome::Broke => Exit::Runtime,
            Outcome::Passed => Exit::Passed,
            Outcome::Failed => Exit::CheckFailed,
        }
    }
}

/// What a finished run amounts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    Failed,
    /// The run found a mistake in its own configuration (a device it must not use, nothing
    /// checked): the user must fix the command, whatever the verdict says.
    Mistake(String),
    /// Interrupted, or a target that never answered: no verdict to gate on.
    Broke,
}

impl Outcome {
    /// The one order of precedence: a mistake, then a broken run, then the verdict. Each
    /// result type maps itself through this (`LoadResult::outcome`, `SuiteResult::outcome`,
    /// `CheckResult::outcome`, `GenerateResult::outcome`), so this module knows no runner.
    pub fn of(mistake: Option<&str>, broke: bool, passed: bool) -> Outcome {
        match mistake {
            Some(m) => Outcome::Mistake(m.to_owned()),
            None if broke => Outcome::Broke,
            None if passed => Outcome::Passed,
            None => Outcome::Failed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mistake_outranks_a_broken_run_which_outranks_the_verdict() {
        assert_eq!(Exit::of(&Outcome::of(Some("x"), true, true)), Exit::Usage);
        assert_eq!(Exit::of(&Outcome::of(None, true, true)), Exit::Runtime);
        assert_eq!(Exit::of(&Outcome::of(None, false, true)), Exit::Passed);
        assert_eq!(
            Exit::of(&Outcome::of(None, false, false)),
            Exit::CheckFailed
        );
    }
}
