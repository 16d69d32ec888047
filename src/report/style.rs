//! How every human report looks and speaks: ANSI colour (only on a terminal) and one verdict
//! vocabulary. A run's verdict is `PASSED` or `FAILED`; an item in it (a case, a rule, a check
//! after the load, a doc lint) is `ok`, `FAILED`, `skipped`, `could not check` or `not run` —
//! the words `cargo test` readers know, the failure in capitals so it catches the eye.

/// ANSI styling, on only when writing to a terminal.
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    pub color: bool,
}

impl Style {
    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
    pub fn green(self, t: &str) -> String {
        self.paint("32", t)
    }
    pub fn red(self, t: &str) -> String {
        self.paint("31", t)
    }
    pub fn yellow(self, t: &str) -> String {
        self.paint("33", t)
    }

    /// A run's verdict word, coloured.
    pub fn verdict(self, passed: bool) -> String {
        if passed {
            self.green(verdict(true))
        } else {
            self.red(verdict(false))
        }
    }

    /// An item's word, coloured.
    pub fn mark(self, mark: Mark) -> String {
        match mark {
            Mark::Ok => self.green(mark.word()),
            Mark::Failed | Mark::CouldNotCheck => self.red(mark.word()),
            Mark::Skipped | Mark::NotRun => self.yellow(mark.word()),
        }
    }
}

/// The last lines of every human report: `PASSED in 1.2s`, or `FAILED:` and one line per reason.
pub fn verdict_lines(
    out: &mut dyn std::io::Write,
    passed: bool,
    duration: std::time::Duration,
    reasons: &[String],
    style: Style,
) -> std::io::Result<()> {
    if passed {
        writeln!(
            out,
            "{} in {:.1}s",
            style.verdict(true),
            duration.as_secs_f64()
        )
    } else {
        writeln!(out, "{}:", style.verdict(false))?;
        for reason in reasons {
            writeln!(out, "  - {reason}")?;
        }
        Ok(())
    }
}

/// A run's verdict word.
pub fn verdict(passed: bool) -> &'static str {
    if passed { "PASSED" } else { "FAILED" }
}

/// What became of one item of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Ok,
    Failed,
    Skipped,
    CouldNotCheck,
    NotRun,
}

impl Mark {
    /// Passed or failed.
    pub fn of(passed: bool) -> Mark {
        if passed { Mark::Ok } else { Mark::Failed }
    }

    /// The word.
    pub fn word(self) -> &'static str {
        match self {
            Mark::Ok => "ok",
            Mark::Failed => "FAILED",
            Mark::Skipped => "skipped",
            Mark::CouldNotCheck => "could not check",
            Mark::NotRun => "not run",
        }
    }
}
