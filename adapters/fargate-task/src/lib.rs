//! The per-user ECS task (`footfall-task`): runs the counting job for one user and delivers the
//! result.
//!
//! * [`config::TaskConfig`]: one typed configuration struct, from the environment.
//! * [`job::JobRunner`]: the job (frame source + detector) behind a trait, so the orchestration is
//!   testable and the real detector plugs in without changes here.
//! * [`sinks`]: S3 CSV append with conditional writes, callback POST, async notification Lambda
//!   invoke, SNS error notification, and the database sink trait ([`sinks::ResultStore`]).
//! * [`task::run_task`]: the orchestration: job with retries, per-source delivery, alert, JSON log
//!   lines, error notification; [`task::TaskReport::exit_code`] is non-zero when a failure
//!   persisted.

pub mod config;
pub mod job;
pub mod log;
pub mod retry;
pub mod sinks;
pub mod task;

pub use config::TaskConfig;
pub use job::{JobError, JobOutput, JobRunner};
pub use log::JsonLog;
pub use task::{TaskDeps, TaskReport, run_task};

/// Errors of the task crate.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TaskError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("payload: {0}")]
    Payload(#[from] payloads::PayloadError),
    #[error("{sink}: {message}")]
    Sink {
        sink: &'static str,
        message: String,
        /// Worth another attempt (network, 5xx, conflict), as opposed to a permanent refusal.
        retryable: bool,
    },
    #[error("job: {0}")]
    Job(#[from] JobError),
}

impl TaskError {
    pub fn sink(sink: &'static str, message: impl Into<String>, retryable: bool) -> Self {
        Self::Sink {
            sink,
            message: message.into(),
            retryable,
        }
    }
    pub fn retryable(&self) -> bool {
        match self {
            Self::Sink { retryable, .. } => *retryable,
            Self::Job(j) => j.retryable,
            _ => false,
        }
    }
}
