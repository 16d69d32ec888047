//! Renderers: functions from result values to text. They read results; they never run checks.

pub mod schemas;
