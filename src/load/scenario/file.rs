//! Reading a scenario file: TOML into a [`Scenario`], every error at its file, line, column and
//! key, from the TOML parser's spans ([`toml::Spanned`]).

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::de::{DeTable, DeValue};

use super::Scenario;

/// A scenario file that could not be read or is not valid.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read scenario file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "cannot read scenario file {}: there is no such file, and no built-in scenario of that name (built in: {built_in}; `pushcheck scenarios list` shows them)",
        path.display()
    )]
    Missing { path: PathBuf, built_in: String },
    #[error("{}:{line}:{column}: {}{message}", path.display(), field.as_deref().map(|f| format!("field `{f}`: ")).unwrap_or_default())]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        /// The key on that line, when there is one.
        field: Option<String>,
        message: String,
    },
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
        let mut message = error.message().trim().to_owned();
        // A top-level key written after a `[table]` header belongs to that table in TOML.
        if let Some(key) = message
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.split('`').next())
            && super::Key::ALL.iter().any(|k| k.name() == key)
        {
            message.push_str(&format!(
                "; `{key}` is a top-level key: in TOML every key after a [table] header belongs to that table, so put `{key}` above the first [table]"
            ));
        }
        ScenarioError::Invalid {
            path: path.to_owned(),
            line,
            column,
            field,
            message,
        }
    }
}
