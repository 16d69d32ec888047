//! Renderers: functions from result values to text. They read results; they never run checks.
//!
//! Every renderer of a file returns `Result<String, ReportError>` (never an error written into
//! the file); human renderers write to an `io::Write`. [`style`] owns the colours and the
//! verdict vocabulary; [`junit`] is the one JUnit builder (every command's suites and cases);
//! [`csv`] renders `timeline.csv`; [`names`] holds the report files' names and the list of the
//! files a run writes; [`write_files`] writes what a command renders, naming the path on error.

mod charts;
pub mod check;
pub mod contract;
pub mod csv;
pub mod diff;
pub mod generate;
pub mod html;
pub mod junit;
pub mod load;
mod load_words;
pub mod names;
pub mod not_judged;
pub mod schemas;
pub mod style;
mod svg;

use std::path::{Path, PathBuf};

pub use style::{Mark, Style};

/// A report that could not be rendered or written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot render the {what} report: {message}")]
    Render { what: &'static str, message: String },
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A value as pretty JSON.
pub fn to_json<T: serde::Serialize>(what: &'static str, value: &T) -> Result<String, ReportError> {
    serde_json::to_string_pretty(value).map_err(|e| ReportError::Render {
        what,
        message: e.to_string(),
    })
}

/// A report file to write: where, and its text.
pub type File = (PathBuf, Result<String, ReportError>);

/// Writes every file (all rendered first, so a render error writes nothing); returns the names
/// written, in order.
pub fn write_files(files: Vec<File>) -> Result<Vec<String>, ReportError> {
    let mut rendered = Vec::with_capacity(files.len());
    for (path, text) in files {
        rendered.push((path, text?));
    }
    let mut names = Vec::with_capacity(rendered.len());
    for (path, text) in rendered {
        std::fs::write(&path, text).map_err(|source| ReportError::Write {
            path: path.clone(),
            source,
        })?;
        names.push(name_of(&path));
    }
    Ok(names)
}

fn name_of(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}
