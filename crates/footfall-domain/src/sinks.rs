//! Where a job's result goes, as small traits the job pipeline calls and each runtime implements:
//! the local runner with SQLite (or MySQL), files and SMTP; the AWS task with MySQL, S3, the
//! notification Lambda and the callback URL. Each call is one attempt; the pipeline retries
//! the ones that fail with `retryable`.
//!
//! The traits return boxed futures so a runtime can pass `&dyn` sinks and leave out the ones
//! it has not got.

use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Utc};

use crate::ids::{RunId, UserId};
use crate::record::ResultRecord;

/// A boxed, sendable future (what the sink traits return).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One failed sink call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{sink}: {message}")]
pub struct SinkError {
    /// The sink's name in logs and reports (`db`, `csv`, `picture`, `notify`, `callback`, ...).
    pub sink: &'static str,
    pub message: String,
    /// Worth another attempt (network, 5xx, conflict, server down), as opposed to a refusal.
    pub retryable: bool,
}

impl SinkError {
    pub fn retryable(sink: &'static str, message: impl Into<String>) -> Self {
        Self {
            sink,
            message: message.into(),
            retryable: true,
        }
    }

    pub fn permanent(sink: &'static str, message: impl Into<String>) -> Self {
        Self {
            sink,
            message: message.into(),
            retryable: false,
        }
    }
}

/// What storing a result did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    Inserted,
    /// This (run_id, user_id) was stored before (a retried or re-run job): nothing changed.
    AlreadyStored,
    /// The store is unreachable; the result was kept to be stored later (the local spool).
    Deferred,
}

/// The `result` table (idempotent by run id and user id).
pub trait ResultSink: Send + Sync {
    fn store<'a>(&'a self, record: &'a ResultRecord) -> BoxFuture<'a, Result<Stored, SinkError>>;
}

/// What appending to the results CSV did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    Written,
    /// A line for this run id was already in the file.
    AlreadyPresent,
}

/// The user's results CSV (`{user_id}.csv`, [`crate::csv::RESULT_CSV_HEADER`]).
pub trait CsvLog: Send + Sync {
    fn append<'a>(&'a self, record: &'a ResultRecord)
    -> BoxFuture<'a, Result<Appended, SinkError>>;
}

/// Where annotated pictures are kept. Returns the picture's reference (path or key) for the
/// result's `image_ref`.
pub trait PictureStore: Send + Sync {
    fn save<'a>(
        &'a self,
        user_id: &'a UserId,
        run_id: &'a RunId,
        jpeg: &'a [u8],
    ) -> BoxFuture<'a, Result<String, SinkError>>;
}

/// One alert to deliver.
#[derive(Debug, Clone, Copy)]
pub struct Alert<'a> {
    pub record: &'a ResultRecord,
    pub email: &'a str,
    pub people: u32,
    pub threshold: u32,
    pub monitored: bool,
    /// The annotated picture (JPEG) of the busiest frame, if one was made.
    pub jpeg: Option<&'a [u8]>,
    /// What `people` counts when the user's rule watches something else than the people count
    /// (`people in zone queue`, `crossings in over line door within 60 s`); `None`: people.
    pub metric: Option<&'a str>,
}

/// How an alert was delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Sent (email, or handed to the notification service).
    Sent,
    /// No delivery channel is configured: the alert was logged instead.
    Logged,
    /// Queued in an outbox that a sender delivers from, off the job's path (the local runner).
    Queued,
}

/// Delivers alerts (SMTP email locally, the notification Lambda in AWS).
pub trait Notifier: Send + Sync {
    fn notify<'a>(&'a self, alert: Alert<'a>) -> BoxFuture<'a, Result<Delivery, SinkError>>;
}

/// Where the time of each user's last alert is kept, for the cooldown.
pub trait CooldownStore: Send + Sync {
    fn last_alert<'a>(
        &'a self,
        user_id: &'a UserId,
    ) -> BoxFuture<'a, Result<Option<DateTime<Utc>>, SinkError>>;
    /// Records that an alert went out for the result taken at `at`.
    fn record_alert<'a>(
        &'a self,
        user_id: &'a UserId,
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<(), SinkError>>;
}

/// Whether each user's debounced alert rule is armed, kept between runs so that a breach that
/// lasts several scheduled runs raises one alert, and the rule re-arms only after a run whose
/// samples fell below `threshold - margin` (jobs with a user's job configuration).
pub trait AlertStateStore: Send + Sync {
    /// The state the last run left: `None` when none was stored (the rule starts armed).
    fn alert_armed<'a>(
        &'a self,
        user_id: &'a UserId,
    ) -> BoxFuture<'a, Result<Option<bool>, SinkError>>;
    /// Stores the state after the run whose result was taken at `at`. A state stored by a
    /// later run (`at` older than the stored one) is kept.
    fn set_alert_armed<'a>(
        &'a self,
        user_id: &'a UserId,
        armed: bool,
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<(), SinkError>>;
}

/// Receives the result of an ad-hoc run (the API caller's callback URL), with the annotated
/// picture of the busiest frame when one was made.
pub trait Callback: Send + Sync {
    fn deliver<'a>(
        &'a self,
        record: &'a ResultRecord,
        jpeg: Option<&'a [u8]>,
    ) -> BoxFuture<'a, Result<(), SinkError>>;
}
