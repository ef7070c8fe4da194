//! Text formats of the footfall local runner, on plain data: [`schedule`] (EventBridge `cron(...)`
//! and `rate(...)` expressions) and [`csv`] (RFC 4180 lines of the results files).
//!
//! `local-runner` re-exports both; they live apart so that fuzz targets and other light users
//! build without the runner's FFmpeg, database and mail dependencies.

pub mod csv;
pub mod schedule;
