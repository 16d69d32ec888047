//! The schemas in `schemas/`: embedded at build time, compiled once, and used to validate every
//! payload pushcheck sees (contract cases, load responses, simulator answers, doc examples).
//!
//! - [`registry`](mod@registry): the compiled registry, lenient and strict modes from one set of files.
//! - [`shape`]: type skeletons of JSON values and their drift (additive vs breaking).
//! - [`openapi`]: an OpenAPI 3.1 document assembled from the same files.
//! - [`lint`]: the doc examples checked against the schemas, with the doc-vs-spec disagreements.
//! - [`judge`]: one response judged: status, Content-Type, schema and meaning.
//! - [`fast`]: the judge's fast path, a body found valid while it is parsed (no `Value`).
//! - [`input`]: reading one JSON document from a file or stdin, with clear errors.
//! - [`diff`]: a published OpenAPI 3.0/3.1 document compared with these schemas.
//!
//! This module knows nothing of runners, the simulator or the CLI.

pub mod diff;
pub mod fast;
pub mod input;
pub mod judge;
pub mod lint;
pub mod openapi;
pub mod registry;
pub mod shape;

pub use registry::{Mode, Registry, SchemaError, Violation, registry};
