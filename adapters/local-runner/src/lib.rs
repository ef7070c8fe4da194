//! Building blocks of the footfall local runner (the `footfall` CLI's `count`, `users` and
//! `run-schedule`), kept in a library so they are tested without the detector and reused by the
//! CLI.
pub mod alerts;
pub mod cli;
pub mod csv_log;
#[cfg(feature = "detector")]
pub mod detector;
pub mod job;
pub mod logging;
pub mod retention;
/// EventBridge schedule expressions (in `runner-formats`, re-exported under the old path).
pub use footfall_domain::schedule;
pub mod scheduler;
