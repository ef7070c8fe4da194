//! The footfall job's sinks on AWS ([`footfall_domain::sinks`] implementations), shared by the
//! ECS task and the notification Lambda:
//!
//! * [`cas`]: the one S3 compare-and-set loop (read + ETag, decide, conditional PutObject,
//!   re-read on conflict), used by [`csv::S3CsvLog`] and the notification Lambda's cooldown;
//! * [`csv::S3CsvLog`]: `s3://BUCKET/{user_id}.csv` ([`footfall_domain::csv`] schema);
//! * [`notify::LambdaNotifier`]: async invoke of the notification Lambda;
//! * [`pictures::S3Pictures`]: the annotated picture, `pictures/{user_id}/{run_id}.jpg`;
//! * [`callback::HttpCallback`]: the signed result POSTed to the caller (API Gateway runs);
//! * [`errors::publish`]: SNS error notification;
//! * [`signing`]: HMAC-SHA256 of callbacks and picture links; [`secrets`]: Secrets Manager.
//!
//! Each sink makes one attempt; the job's retry policy repeats the retryable failures.

use aws_sdk_s3::error::SdkError;

pub mod callback;
pub mod cas;
pub mod csv;
pub mod errors;
pub mod notify;
pub mod pictures;
pub mod secrets;
pub mod signing;

pub use callback::HttpCallback;
pub use cas::{Cas, Settled, compare_and_set};
pub use csv::S3CsvLog;
pub use notify::LambdaNotifier;
pub use pictures::S3Pictures;
pub use signing::SigningKey;

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
