//! Where a job's result goes. Each sink makes one attempt; [`crate::retry::retry`] repeats it.

use std::future::Future;

use payloads::JobResult;

use crate::TaskError;

pub mod alert;
pub mod callback;
pub mod csv;
pub mod errors;
pub mod sql;

/// The `result` table (MySQL in AWS), through the shared results store. `insert_result` must be
/// idempotent by (run_id, user_id): a retried task inserts no second row.
pub trait ResultStore: Send + Sync {
    fn insert_result(
        &self,
        result: &JobResult,
    ) -> impl Future<Output = Result<(), TaskError>> + Send;
}

use aws_sdk_s3::error::SdkError;

/// The HTTP status of an SDK error, when there was a response.
pub(crate) fn sdk_status<E>(e: &SdkError<E>) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

/// Whether an SDK error is worth retrying: no response (network, timeout), throttling, 5xx, or
/// a conditional-write conflict.
pub(crate) fn sdk_retryable<E>(e: &SdkError<E>) -> bool {
    match sdk_status(e) {
        None => true,
        Some(s) => s >= 500 || s == 429 || s == 409 || s == 412 || s == 408,
    }
}
