//! The rules of a footfall job, on plain data, shared by every runtime (the local runner, the
//! ECS task, the Lambdas) and by fuzz targets: no I/O, no FFmpeg, no database.
//!
//! - [`ids`]: [`UserId`] and [`RunId`], validated once for files, keys and tables;
//! - [`health`]: [`StreamHealth`] and the [`Health`] stored with a result;
//! - [`record`]: the [`ResultRecord`] every sink receives;
//! - [`csv`]: the one results-CSV schema and RFC 4180 quoting;
//! - [`stats`]: max / median / p90 of per-frame counts;
//! - [`alert`]: threshold, monitoring and cooldown;
//! - [`sinks`]: the traits the job pipeline delivers through;
//! - [`schedule`]: EventBridge `cron(...)` / `rate(...)` expressions;
//! - [`redact`]: stream URLs without credentials, for everything shown, stored or logged.

pub mod alert;
pub mod csv;
pub mod health;
pub mod ids;
pub mod record;
pub mod redact;
pub mod schedule;
pub mod sinks;
pub mod stats;

pub use alert::{AlertDecision, AlertInput, DEFAULT_THRESHOLD, decide, decide_breach};
pub use health::{Health, StreamHealth};
pub use ids::{IdError, MAX_RUN_ID_LEN, MAX_USER_ID_LEN, RunId, UserId};
pub use record::{MAX_PEOPLE, ResultRecord};
pub use redact::redact_url;
pub use stats::CountSummary;
