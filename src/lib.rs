//! pushcheck: contract tests and load tests, in one verdict, for the People v2 push
//! contact-information API.
//!
//! The binary is a thin shell over [`cli::run`]. Modules by domain:
//! - [`api`]: what is known about the API (paths, headers, operations, error codes, doc examples).
//! - [`schema`]: the schemas of `schemas/`, compiled once; validation, shape skeletons, OpenAPI.
//! - [`mock`]: the embedded simulator of the API (HTTP server, state, seeding, faults).
//! - [`load`]: load scenarios on goose, validation under load, invariants after the load.
//! - [`report`]: renderers; they only read result values.
//! - [`interrupt`]: stop signals (Ctrl-C, SIGTERM, SIGHUP), counted once for the whole process;
//!   the runners decide what they mean.
//! - [`seeded`]: the one seeded generator (SplitMix64), stable across versions.
//! - [`cli`]: the command line and its exit codes. Nothing else in the library imports it.

pub mod api;
pub mod check;
pub mod cli;
pub mod contract;
pub mod duration;
pub mod interrupt;
pub mod load;
pub mod mock;
pub mod outcome;
pub mod report;
pub mod schema;
pub mod seeded;
