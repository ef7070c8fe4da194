//! Append a line to `s3://BUCKET/{user_id}.csv` without losing concurrent appends.
//!
//! Read-modify-write with S3 conditional writes: the new object is written with
//! `If-Match: <etag read>` (or `If-None-Match: *` when the object does not exist yet); a 412
//! (precondition failed) or 409 (conflicting conditional write in progress) means another writer
//! got there first, so the append re-reads and tries again after a jittered backoff. An append
//! whose run id is already in the file is not repeated (idempotent retries).

use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;

use super::{sdk_retryable, sdk_status};
use crate::TaskError;
use crate::retry::Backoff;

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// Written after this many conflicts with other writers.
    Written { conflicts: u32 },
    /// A line for this run id was already there.
    AlreadyPresent,
}

/// The object key of a user's CSV.
pub fn csv_key(user_id: &str) -> String {
    format!("{user_id}.csv")
}

/// Append `line` (no newline) to the user's CSV, creating it with `header` if needed.
/// `idempotency_suffix` (e.g. `,{run_id}`) identifies a line already appended by this run.
pub async fn append_line(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    user_id: &str,
    header: &str,
    line: &str,
    idempotency_suffix: &str,
    attempts: u32,
) -> Result<Appended, TaskError> {
    let key = csv_key(user_id);
    let backoff = Backoff {
        attempts,
        base: Duration::from_millis(20),
        max: Duration::from_millis(1000),
    };
    let mut conflicts = 0;
    for attempt in 0..attempts.max(1) {
        tokio::time::sleep(backoff.delay(attempt)).await;
        let (mut body, etag) = match s3.get_object().bucket(bucket).key(&key).send().await {
            Ok(o) => {
                let etag = o.e_tag().map(str::to_string);
                let bytes = o
                    .body
                    .collect()
                    .await
                    .map_err(|e| TaskError::sink("s3-csv", format!("read {key}: {e}"), true))?
                    .into_bytes();
                (String::from_utf8_lossy(&bytes).into_owned(), etag)
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => {
                (format!("{header}\n"), None)
            }
            Err(e) => {
                return Err(TaskError::sink(
                    "s3-csv",
                    format!(
                        "GetObject {key}: {}",
                        aws_sdk_s3::error::DisplayErrorContext(&e)
                    ),
                    sdk_retryable(&e),
                ));
            }
        };
        if body.lines().any(|l| l.ends_with(idempotency_suffix)) {
            return Ok(Appended::AlreadyPresent);
        }
        if !body.is_empty() && !body.ends_with('\n') {
            body.push('\n');
        }
        body.push_str(line);
        body.push('\n');
        let mut put = s3
            .put_object()
            .bucket(bucket)
            .key(&key)
            .content_type("text/csv")
            .body(ByteStream::from(body.into_bytes()));
        put = match &etag {
            Some(t) => put.if_match(t),
            None => put.if_none_match("*"),
        };
        match put.send().await {
            Ok(_) => return Ok(Appended::Written { conflicts }),
            Err(e) if matches!(sdk_status(&e), Some(412 | 409)) => {
                conflicts += 1;
                continue;
            }
            Err(e) => {
                return Err(TaskError::sink(
                    "s3-csv",
                    format!(
                        "PutObject {key}: {}",
                        aws_sdk_s3::error::DisplayErrorContext(&e)
                    ),
                    sdk_retryable(&e),
                ));
            }
        }
    }
    Err(TaskError::sink(
        "s3-csv",
        format!("{key}: gave up after {conflicts} conflicting concurrent writes"),
        true,
    ))
}
