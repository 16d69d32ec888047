//! `pushcheck schemas diff`: a published OpenAPI 3.0 or 3.1 document compared with pushcheck's
//! own schemas, before any request is sent.
//!
//! pushcheck's side is its own export ([`crate::schema::openapi::document`]), so both sides are
//! OpenAPI documents read by the same code:
//! - [`load`]: file or stdin, JSON or YAML, 3.0 or 3.1;
//! - `resolve`: `$ref`s inside the document, chains, cycles;
//! - `normalize`: each schema in one canonical form (nullable, `allOf`, inferred types), so
//!   schemas are compared by structure, never as text;
//! - `locate`: the four operations by method and path template, their parameters and bodies;
//! - `operation` and `compare`: the walk, producing differences with a JSON pointer on both sides;
//! - `classify`: breaking / additive / disagreement, and `known` for the disagreements
//!   `schemas lint-docs` lists;
//! - [`baseline`]: findings accepted earlier, by a stable identity.
//!
//! The result is data ([`DiffReport`], its findings grouped by [`Cause`]); `report::diff`
//! renders it. Nothing here prints.

pub mod baseline;
mod classify;
mod compare;
pub mod load;
mod locate;
mod normalize;
mod operation;
mod resolve;

use serde::{Deserialize, Serialize};

use super::registry::Registry;
use crate::api::Operation;
pub use baseline::{Baseline, BaselineError, Identity};
use classify::Direction;
pub use load::{LoadError, Loaded, Version};
use resolve::Doc;
pub use resolve::ResolveError;

/// What a finding is about. The names (`field-removed`) are stable: baselines and the
/// known-disagreement spots in `api::docs` use them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    OperationMissing,
    ParameterMissing,
    ParameterAdded,
    ParameterRenamed,
    BodyMissing,
    BodyAdded,
    StatusMissing,
    StatusAdded,
    FieldRemoved,
    FieldAdded,
    RequiredAdded,
    RequiredRemoved,
    TypeChanged,
    NullableAdded,
    NullableRemoved,
    FormatChanged,
    EnumWidened,
    EnumNarrowed,
    LimitLoosened,
    LimitTightened,
    PatternChanged,
    ErrorBodyChanged,
}

impl Kind {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::OperationMissing => "operation-missing",
            Kind::ParameterMissing => "parameter-missing",
            Kind::ParameterAdded => "parameter-added",
            Kind::ParameterRenamed => "parameter-renamed",
            Kind::BodyMissing => "body-missing",
            Kind::BodyAdded => "body-added",
            Kind::StatusMissing => "status-missing",
            Kind::StatusAdded => "status-added",
            Kind::FieldRemoved => "field-removed",
            Kind::FieldAdded => "field-added",
            Kind::RequiredAdded => "required-added",
            Kind::RequiredRemoved => "required-removed",
            Kind::TypeChanged => "type-changed",
            Kind::NullableAdded => "nullable-added",
            Kind::NullableRemoved => "nullable-removed",
            Kind::FormatChanged => "format-changed",
            Kind::EnumWidened => "enum-widened",
            Kind::EnumNarrowed => "enum-narrowed",
            Kind::LimitLoosened => "limit-loosened",
            Kind::LimitTightened => "limit-tightened",
            Kind::PatternChanged => "pattern-changed",
            Kind::ErrorBodyChanged => "error-body-changed",
        }
    }
}

/// What a finding means for a client of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    /// Breaks clients built to pushcheck's schemas (the docs): fails the diff.
    Breaking,
    /// The published file and the docs say different things: fails the diff.
    Disagreement,
    /// A disagreement pushcheck already lists (`schemas lint-docs`): fails only with --strict.
    Known,
    /// Compatible: never fails.
    Additive,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Breaking => "breaking",
            Class::Disagreement => "disagreement",
            Class::Known => "known",
            Class::Additive => "additive",
        }
    }
}

/// Where in an operation a finding is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Place {
    /// The operation as a whole (missing).
    Operation,
    Parameter {
        location: String,
        name: String,
    },
    /// The request body.
    Request,
    /// A response, by status as the documents write it (`200`, `default`).
    Response(String),
}

impl Place {
    /// The response status, if any.
    pub fn status(&self) -> Option<&str> {
        match self {
            Place::Response(s) => Some(s),
            _ => None,
        }
    }

    /// A 2xx response.
    pub fn is_success(&self) -> bool {
        self.status().is_some_and(|s| s.starts_with('2'))
    }

    /// A 4xx/5xx or `default` response.
    pub fn is_error(&self) -> bool {
        self.status()
            .is_some_and(|s| s.starts_with('4') || s.starts_with('5') || s == "default")
    }

    /// A response with one status code (not `default` or a range such as `4XX`).
    pub fn is_specific_status(&self) -> bool {
        self.status()
            .is_some_and(|s| s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()))
    }

    /// The JUnit test case a finding belongs to: `request` (parameters and body),
    /// `response 200`, or `operation`.
    pub fn group(&self) -> String {
        match self {
            Place::Operation => "operation".to_owned(),
            Place::Parameter { .. } | Place::Request => "request".to_owned(),
            Place::Response(s) => format!("response {s}"),
        }
    }
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Place::Operation => f.write_str("operation"),
            Place::Parameter { location, name } => write!(f, "parameter {location} {name}"),
            Place::Request => f.write_str("request body"),
            Place::Response(s) => write!(f, "response {s}"),
        }
    }
}

/// One side of a finding: a JSON pointer into that side's document and what it says there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Side {
    pub pointer: String,
    pub says: String,
}

/// One difference, classified.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    #[serde(serialize_with = "operation_id")]
    pub operation: Operation,
    #[serde(serialize_with = "display")]
    pub place: Place,
    pub kind: Kind,
    pub class: Class,
    /// The payload field (`/systemData/os`, `*` for map values and array items; `""`: the
    /// whole body or parameter).
    pub field: String,
    /// The limit, for limit findings.
    pub keyword: Option<String>,
    /// Pointer into `pushcheck schemas openapi`.
    pub pushcheck: Side,
    /// Pointer into the published file.
    pub published: Side,
    /// The topic of the known disagreement, for `known` findings.
    pub known: Option<&'static str>,
    /// In the `--baseline` file.
    pub accepted: bool,
    /// Makes the diff fail (new, and breaking or a disagreement; known with --strict).
    pub fails: bool,
}

impl Finding {
    /// The identity a baseline stores.
    pub fn identity(&self) -> Identity {
        Identity {
            operation: self.operation.operation_id().to_owned(),
            place: self.place.to_string(),
            kind: self.kind,
            field: self.field.clone(),
            keyword: self.keyword.clone(),
            published: self.published.says.clone(),
        }
    }
}

fn operation_id<S: serde::Serializer>(op: &Operation, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(op.operation_id())
}

fn display<S: serde::Serializer>(place: &Place, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(place)
}

/// Where an operation was found in the published file.
#[derive(Debug, Clone, Serialize)]
pub struct FoundAt {
    pub method: String,
    pub path: String,
    pub pointer: String,
}

/// One of pushcheck's operations and what was compared of it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationDiff {
    #[serde(serialize_with = "operation_id")]
    pub operation: Operation,
    pub label: &'static str,
    pub method: &'static str,
    pub path: String,
    /// `null` when the published file lacks the operation.
    pub found: Option<FoundAt>,
    /// Every part compared (`request`, `response 200`, …): the JUnit test cases.
    pub groups: Vec<String>,
}

/// Everything a diff found.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DiffReport {
    pub source: String,
    /// The `openapi` field of the published file.
    pub openapi: String,
    pub strict: bool,
    pub baseline: Option<String>,
    pub operations: Vec<OperationDiff>,
    pub findings: Vec<Finding>,
}

impl DiffReport {
    /// No finding fails.
    pub fn passed(&self) -> bool {
        self.findings.iter().all(|f| !f.fails)
    }

    /// The findings of one operation.
    pub fn of(&self, op: Operation) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(move |f| f.operation == op)
    }

    /// How many findings have `class` (accepted ones included).
    pub fn count(&self, class: Class) -> usize {
        self.findings.iter().filter(|f| f.class == class).count()
    }

    /// The findings grouped by cause: the same difference between the same two schemas
    /// (one component of the published file against one of pushcheck's), wherever the
    /// component is used. Failing causes first, then by class, then in the order found.
    pub fn causes(&self) -> Vec<Cause> {
        let mut causes: Vec<Cause> = Vec::new();
        for f in &self.findings {
            let place = format!("{} {}", f.operation.label(), f.place);
            match causes.iter_mut().find(|c| c.is_cause_of(f)) {
                Some(c) => {
                    if !c.fields.contains(&f.field) {
                        c.fields.push(f.field.clone());
                    }
                    if !c.places.contains(&place) {
                        c.places.push(place);
                    }
                    c.findings += 1;
                }
                None => causes.push(Cause {
                    class: f.class,
                    kind: f.kind,
                    fields: vec![f.field.clone()],
                    keyword: f.keyword.clone(),
                    component: component_name(&f.published.pointer),
                    pushcheck: f.pushcheck.clone(),
                    published: f.published.clone(),
                    known: f.known,
                    accepted: f.accepted,
                    fails: f.fails,
                    places: vec![place],
                    findings: 1,
                }),
            }
        }
        causes.sort_by_key(|c| (!c.fails, c.class));
        causes
    }
}

/// Findings with one cause (see [`DiffReport::causes`]).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cause {
    pub class: Class,
    pub kind: Kind,
    /// The payload fields it shows at (one, unless the component is nested differently).
    pub fields: Vec<String>,
    pub keyword: Option<String>,
    /// The published file's component, without a generated hash prefix (`PushApiInstance`).
    pub component: Option<String>,
    pub pushcheck: Side,
    pub published: Side,
    pub known: Option<&'static str>,
    pub accepted: bool,
    pub fails: bool,
    /// Every operation and place it shows at (`GET registration response 401`), once each.
    pub places: Vec<String>,
    /// How many findings it is (more than the places when it shows at several fields).
    pub findings: usize,
}

impl Cause {
    fn is_cause_of(&self, f: &Finding) -> bool {
        self.class == f.class
            && self.kind == f.kind
            && self.keyword == f.keyword
            && same_schema(&self.pushcheck, &f.pushcheck)
            && same_schema(&self.published, &f.published)
            && self.known == f.known
            && self.accepted == f.accepted
            && self.fails == f.fails
    }
}

/// Both sides say the same of the same schema: a component is the same component; a schema
/// written inline in an operation is the same when it stands at the same place in its
/// operation (`responses/400/content/…` of each), as an error body repeated per operation does.
fn same_schema(a: &Side, b: &Side) -> bool {
    fn in_operation(pointer: &str) -> &str {
        match pointer.strip_prefix("/paths/") {
            // /paths/<path>/<method>/<rest>: the rest.
            Some(rest) => rest.splitn(3, '/').nth(2).unwrap_or(rest),
            None => pointer,
        }
    }
    a.says == b.says && in_operation(&a.pointer) == in_operation(&b.pointer)
}

/// The name of the component a pointer of the published file is in (`/components/schemas/X/…`
/// → `X`), without a generated hash prefix.
pub fn component_name(pointer: &str) -> Option<String> {
    let rest = pointer.strip_prefix("/components/")?;
    let (_, rest) = rest.split_once('/')?;
    let name = rest.split('/').next()?;
    Some(without_hash(&name.replace("~1", "/").replace("~0", "~")).to_owned())
}

/// A component name without the hash prefix some generators give it
/// (`0b965bbf…b98b8.PushApiInstance` → `PushApiInstance`).
pub fn without_hash(name: &str) -> &str {
    match name.split_once('.') {
        Some((prefix, rest))
            if prefix.len() >= 16 && prefix.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            rest
        }
        _ => name,
    }
}

/// A published pointer for people: each hash-prefixed component name shortened to `…Name`.
pub fn readable_pointer(pointer: &str) -> String {
    pointer
        .split('/')
        .map(|token| {
            let short = without_hash(token);
            if short.len() == token.len() {
                token.to_owned()
            } else {
                format!("…{short}")
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// How to judge the findings.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `known` findings fail too.
    pub strict: bool,
    /// Findings accepted earlier, and the file's name.
    pub baseline: Option<(String, Baseline)>,
}

/// Why a diff could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error("{source_name}: {error}")]
    Published {
        source_name: String,
        error: ResolveError,
    },
    #[error("in pushcheck's own OpenAPI export (a bug): {0}")]
    Own(ResolveError),
    #[error("{source_name} describes none of the four push operations (looked for {wanted})")]
    NoOperations { source_name: String, wanted: String },
}

/// Compares the published document `loaded` with pushcheck's schemas in `registry`.
pub fn diff(
    loaded: &Loaded,
    registry: &Registry,
    options: &Options,
) -> Result<DiffReport, DiffError> {
    let own_export = super::openapi::document(registry);
    let ours = Doc::new(&own_export);
    let theirs = Doc::new(&loaded.document);
    let mut sides = operation::Sides::new(ours, theirs, loaded.version, &loaded.source);
    let mut operations = Vec::new();
    let mut findings = Vec::new();
    for op in Operation::ALL {
        let Some(o) = locate::find(ours, op).map_err(DiffError::Own)? else {
            continue;
        };
        let t = locate::find(theirs, op).map_err(|error| DiffError::Published {
            source_name: loaded.source.clone(),
            error,
        })?;
        let (items, groups) = match &t {
            Some(t) => sides.operation(&o, t)?,
            None => (vec![missing(&o)], vec![Place::Operation]),
        };
        findings.extend(items.into_iter().map(|item| finding(op, item, options)));
        operations.push(OperationDiff {
            operation: op,
            label: op.label(),
            method: op.method(),
            path: op.path_template(),
            found: t.map(|t| FoundAt {
                method: t.method.to_ascii_uppercase(),
                path: t.path,
                pointer: t.at,
            }),
            groups: dedup(groups.iter().map(Place::group)),
        });
    }
    if operations.iter().all(|o| o.found.is_none()) {
        return Err(DiffError::NoOperations {
            source_name: loaded.source.clone(),
            wanted: Operation::ALL
                .iter()
                .map(|op| format!("{} {}", op.method(), op.path_template()))
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    Ok(DiffReport {
        source: loaded.source.clone(),
        openapi: loaded.openapi.clone(),
        strict: options.strict,
        baseline: options.baseline.as_ref().map(|(name, _)| name.clone()),
        operations,
        findings,
    })
}

fn missing(o: &locate::Found<'_>) -> operation::Item {
    operation::Item {
        place: Place::Operation,
        direction: Direction::Request,
        raw: compare::Raw {
            kind: Kind::OperationMissing,
            change: compare::Change::Other,
            field: String::new(),
            keyword: None,
            pushcheck_at: o.at.clone(),
            published_at: "/paths".to_owned(),
            pushcheck_says: format!("{} {}", o.method.to_ascii_uppercase(), o.path),
            published_says: "absent".to_owned(),
        },
    }
}

fn finding(operation: Operation, item: operation::Item, options: &Options) -> Finding {
    let operation::Item {
        place,
        direction,
        raw,
    } = item;
    let mut class = classify::class(raw.kind, raw.change, direction, &place);
    let known = classify::known(raw.kind, &place, &raw.field, &raw.published_says);
    if known.is_some() {
        class = Class::Known;
    }
    let mut finding = Finding {
        operation,
        place,
        kind: raw.kind,
        class,
        field: raw.field,
        keyword: raw.keyword,
        pushcheck: Side {
            pointer: raw.pushcheck_at,
            says: raw.pushcheck_says,
        },
        published: Side {
            pointer: raw.published_at,
            says: raw.published_says,
        },
        known: known.map(|d| d.topic),
        accepted: false,
        fails: false,
    };
    finding.accepted = options
        .baseline
        .as_ref()
        .is_some_and(|(_, b)| b.accepts(&finding.identity()));
    finding.fails = !finding.accepted
        && match class {
            Class::Breaking | Class::Disagreement => true,
            Class::Known => options.strict,
            Class::Additive => false,
        };
    finding
}

fn dedup(groups: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for g in groups {
        if !out.contains(&g) {
            out.push(g);
        }
    }
    out
}
