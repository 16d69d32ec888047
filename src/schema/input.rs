//! Reading one JSON document to validate, from a file or standard input, with errors that name
//! the input and the problem (line and column for bad JSON). Nothing here panics on hostile input:
//! directories, empty files, binary files and oversized files all get their own error.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// The largest document accepted: far above any payload of this API, low enough that a stray
/// huge file is refused before it is read into memory.
pub const MAX_DOCUMENT_BYTES: u64 = 16 * 1024 * 1024;

/// Where a document comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Stdin,
    File(PathBuf),
}

impl Source {
    /// `-` means standard input; anything else is a path.
    pub fn parse(arg: &str) -> Source {
        if arg == "-" {
            Source::Stdin
        } else {
            Source::File(PathBuf::from(arg))
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Stdin => f.write_str("<stdin>"),
            Source::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// Why a document could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot read {source_name}: {error}")]
    Io {
        source_name: String,
        error: std::io::Error,
    },
    #[error("{source_name} is a directory, not a JSON file")]
    Directory { source_name: String },
    #[error("{source_name} is empty: expected a JSON document")]
    Empty { source_name: String },
    #[error("{source_name} is larger than the {limit}-byte limit for one document")]
    TooLarge { source_name: String, limit: u64 },
    #[error("{source_name} is not text (invalid UTF-8 at byte {offset}): expected a JSON document")]
    NotText { source_name: String, offset: usize },
    #[error("{source_name} is not valid JSON at line {line}, column {column}: {message}")]
    NotJson {
        source_name: String,
        line: usize,
        column: usize,
        message: String,
    },
}

/// Reads and parses one JSON document.
pub fn read_json(source: &Source) -> Result<Value, InputError> {
    parse_json(&read_bytes(source)?, &source.to_string())
}

/// Reads a source's bytes, at most [`MAX_DOCUMENT_BYTES`] (a directory, a missing file and an
/// oversized one are errors naming the source).
pub fn read_bytes(source: &Source) -> Result<Vec<u8>, InputError> {
    let name = source.to_string();
    match source {
        Source::Stdin => read_limited(std::io::stdin().lock(), &name),
        Source::File(path) => read_file(path, &name),
    }
}

fn read_file(path: &Path, name: &str) -> Result<Vec<u8>, InputError> {
    let io = |error| InputError::Io {
        source_name: name.to_owned(),
        error,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.is_dir() {
        return Err(InputError::Directory {
            source_name: name.to_owned(),
        });
    }
    if meta.len() > MAX_DOCUMENT_BYTES {
        return Err(InputError::TooLarge {
            source_name: name.to_owned(),
            limit: MAX_DOCUMENT_BYTES,
        });
    }
    let file = std::fs::File::open(path).map_err(io)?;
    read_limited(file, name)
}

fn read_limited(reader: impl Read, name: &str) -> Result<Vec<u8>, InputError> {
    let mut bytes = Vec::new();
    reader
        .take(MAX_DOCUMENT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| InputError::Io {
            source_name: name.to_owned(),
            error,
        })?;
    if bytes.len() as u64 > MAX_DOCUMENT_BYTES {
        return Err(InputError::TooLarge {
            source_name: name.to_owned(),
            limit: MAX_DOCUMENT_BYTES,
        });
    }
    Ok(bytes)
}

/// Parses bytes as one JSON document, naming `source_name` in any error.
pub fn parse_json(bytes: &[u8], source_name: &str) -> Result<Value, InputError> {
    let text = std::str::from_utf8(bytes).map_err(|e| InputError::NotText {
        source_name: source_name.to_owned(),
        offset: e.valid_up_to(),
    })?;
    if text.trim().is_empty() {
        return Err(InputError::Empty {
            source_name: source_name.to_owned(),
        });
    }
    serde_json::from_str(text).map_err(|e| InputError::NotJson {
        source_name: source_name.to_owned(),
        line: e.line(),
        column: e.column(),
        message: strip_position(&e.to_string()),
    })
}

/// serde_json appends " at line L column C" to its messages; the position is reported apart.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_json_names_line_and_column() {
        let err = parse_json(b"{\n  \"a\": ,\n}", "x.json").unwrap_err();
        assert_eq!(
            err.to_string(),
            "x.json is not valid JSON at line 2, column 8: expected value"
        );
    }

    #[test]
    fn binary_and_empty_are_refused() {
        assert!(matches!(
            parse_json(&[0xff, 0xfe, 0], "b"),
            Err(InputError::NotText { offset: 0, .. })
        ));
        assert!(matches!(
            parse_json(b"  \n", "e"),
            Err(InputError::Empty { .. })
        ));
    }
}
