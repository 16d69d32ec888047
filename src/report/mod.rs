//! Renderers: functions from result values to text. They read results; they never run checks.

pub mod check;
pub mod contract;
pub mod load;
pub mod schemas;
