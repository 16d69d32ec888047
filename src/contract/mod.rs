//! The contract suite: named cases that exercise the four operations over real HTTP, validate
//! every response against `schemas/`, compare response shapes with the pinned doc shapes, and
//! produce a [`SuiteResult`] for the reporters.
//!
//! - [`cases`]: the catalog (add a case there).
//! - [`ctx`]: what a case runs with; [`expect`]: what a case expects of a response, judged by
//!   [`crate::schema::judge`] like every load response.
//! - [`runner`]: the case loop, secrets scrubbed from every result, shape drift over the run
//!   (`drift`); `prepare`: targets (embedded simulator or live account, read first by
//!   [`crate::api::preflight`]), allocation of registrations, live-target safety (writes only
//!   with `allow_writes`, restore and stop signals in `live`); `select`: which cases `--filter` picks.
//! - [`result`]: the results, as data.
//!
//! This module does not print and does not import the load module or the CLI.

// A `Failure` is built at most once per failing case and carries the whole diagnosis
// (request, status, pointer, expected, got); boxing it would buy nothing on this cold path.
#![allow(clippy::result_large_err)]

pub mod cases;
mod config;
pub mod ctx;
mod drift;
pub mod expect;
pub mod generate;
mod live;
mod prepare;
pub mod result;
pub mod runner;
mod select;

pub use config::{ContractError, SuiteConfig, Target};
pub use result::{CaseResult, Failure, Status, SuiteResult};
pub use runner::{Event, run, run_with_progress};
pub use select::select;
