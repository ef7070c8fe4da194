//! The per-user ECS task (`footfall-task`): the footfall job pipeline (`footfall-job`, the same
//! one the local runner runs) wired to AWS.
//!
//! * [`config::TaskConfig`]: one typed configuration struct, from the environment.
//! * [`task::run_task`]: the DNS-rebinding check, then `footfall_job::run_job` with the sinks
//!   the payload's source needs (EVENTBRIDGE: MySQL row and S3 CSV; API_GATEWAY: the callback;
//!   both: the notification Lambda), JSON event lines, and the SNS error notice when a step
//!   failed for good; [`task::TaskReport::exit_code`] is non-zero then.
//! * [`store::LazyStore`]: the result table, connected on first use.
//! * [`cooldown::DelegatedCooldown`]: why the task keeps no cooldown of its own.

pub mod config;
pub mod cooldown;
pub mod log;
pub mod store;
pub mod task;

pub use config::TaskConfig;
pub use log::JsonLog;
pub use task::{TaskDeps, TaskReport, run_task};

/// Errors of the task crate: it could not start.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TaskError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("payload: {0}")]
    Payload(#[from] payloads::PayloadError),
}

impl From<footfall_runtime::ConfigError> for TaskError {
    fn from(error: footfall_runtime::ConfigError) -> Self {
        Self::Config(error.to_string())
    }
}
