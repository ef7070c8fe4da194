//! The footfall job's sinks on AWS ([`footfall_domain::sinks`] implementations), shared by the
//! ECS task and the notification Lambda:
//!
//! * [`cas`]: the one S3 compare-and-set loop (read + ETag, decide, conditional PutObject,
//!   re-read on conflict), used by [`csv::S3CsvLog`] and the notification Lambda's cooldown;
//! * [`csv::S3CsvLog`]: `s3://BUCKET/{user_id}.csv` ([`footfall_domain::csv`] schema);
//! * [`notify::LambdaNotifier`]: async invoke of the notification Lambda;
//! * [`callback::HttpCallback`]: the result POSTed to the caller (API Gateway runs);
//! * [`errors::publish`]: SNS error notification.
//!
//! Each sink makes one attempt; the job's retry policy repeats the retryable failures.

use aws_sdk_s3::error::SdkError;

pub mod callback;
pub mod cas;
pub mod csv;
pub mod errors;
pub mod notify;

pub use callback::HttpCallback;
pub use cas::{Cas, Settled, compare_and_set};
pub use csv::S3CsvLog;
pub use notify::LambdaNotifier;

/// The HTTP status of an SDK error, when there was a response. Every AWS client's errors are
/// this `SdkError` (the S3 crate re-exports the shared smithy type).
pub fn sdk_status<E>(e: &SdkError<E>) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

/// Whether an SDK error is worth retrying: no response (network, timeout), throttling, 5xx, or
/// a conditional-write conflict.
pub fn sdk_retryable<E>(e: &SdkError<E>) -> bool {
    match sdk_status(e) {
        None => true,
        Some(s) => s >= 500 || s == 429 || s == 409 || s == 412 || s == 408,
    }
}
