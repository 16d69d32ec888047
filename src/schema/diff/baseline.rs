//! Findings accepted earlier (`--write-baseline FILE`, then `--baseline FILE`): a finding
//! whose [`Identity`] is in the baseline does not fail the diff; a new one does.
//!
//! An identity is what makes a finding the same finding in the next version of the published
//! file: the operation, the place (`response 200`), the kind, the payload field, the limit
//! keyword, and what the published file says there. The JSON pointers are left out on
//! purpose: a vendor renaming its components does not make an accepted finding new; a field
//! that changes again (`integer`, then `boolean`) does.
//! The file's format is `schemas/schemas-diff-baseline.json`.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::{DiffReport, Kind};
use crate::schema::input::{self, InputError, Source};
use crate::schema::{Mode, Registry};

/// The schema a baseline file follows.
pub const SCHEMA: &str = "schemas-diff-baseline";

/// What identifies a finding across versions of the published file.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// The `operationId` pushcheck gives the operation.
    pub operation: String,
    pub place: String,
    pub kind: Kind,
    pub field: String,
    pub keyword: Option<String>,
    /// What the published file says there.
    pub published: String,
}

/// A set of accepted findings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Baseline {
    pub accepted: BTreeSet<Identity>,
}

/// Why a baseline could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("baseline: {0}")]
    Input(#[from] InputError),
    #[error("{source_name} is not a schemas diff baseline (schemas/{SCHEMA}.json): {why}")]
    Invalid { source_name: String, why: String },
}

impl Baseline {
    /// Every finding of `report`, accepted.
    pub fn of(report: &DiffReport) -> Baseline {
        Baseline {
            accepted: report.findings.iter().map(|f| f.identity()).collect(),
        }
    }

    pub fn accepts(&self, identity: &Identity) -> bool {
        self.accepted.contains(identity)
    }

    /// Reads a baseline file, checked against its schema.
    pub fn read(source: &Source, registry: &Registry) -> Result<Baseline, BaselineError> {
        let value = input::read_json(source)?;
        let invalid = |why: String| BaselineError::Invalid {
            source_name: source.to_string(),
            why,
        };
        let violations = registry
            .validate(SCHEMA, Mode::Strict, &value)
            .map_err(|e| invalid(e.to_string()))?;
        if let Some(first) = violations.first() {
            return Err(invalid(first.to_string()));
        }
        serde_json::from_value(value).map_err(|e| invalid(e.to_string()))
    }

    /// The file's text: pretty JSON, one identity per entry, sorted.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        let mut text = serde_json::to_string_pretty(self)?;
        text.push('\n');
        Ok(text)
    }
}
