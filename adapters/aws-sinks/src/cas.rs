//! Compare-and-set on one S3 object: read it with its ETag, let the caller decide the new body
//! (or stop), write it with `If-Match: <etag>` (`If-None-Match: *` when the object did not
//! exist). A 412 (precondition failed) or 409 (conflicting conditional write in progress) means
//! another writer got there first: re-read after a jittered backoff and decide again.

use aws_sdk_s3::primitives::ByteStream;
use footfall_domain::sinks::SinkError;
use footfall_runtime::retry::Backoff;

use crate::{sdk_retryable, sdk_status};

/// What the caller's decision does with the object.
#[derive(Debug)]
pub enum Cas<T> {
    /// Write this body, then return the value.
    Write(Vec<u8>, T),
    /// Leave the object as it is and return the value.
    Stop(T),
}

/// How a compare-and-set ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled<T> {
    /// Written; `etag` is the new object's, `conflicts` the writers that got there first.
    Written {
        value: T,
        etag: Option<String>,
        conflicts: u32,
    },
    /// The decision stopped; `etag` is the object's as read (`None` when it does not exist).
    Stopped { value: T, etag: Option<String> },
}

/// Runs the compare-and-set loop on `s3://bucket/key`. `decide` sees the current body (`None`
/// when the object does not exist) and is called again after each conflict. `sink` names the
/// errors. Conflicts beyond `backoff.attempts` give a retryable error.
pub async fn compare_and_set<T>(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    content_type: &str,
    backoff: &Backoff,
    sink: &'static str,
    mut decide: impl FnMut(Option<&[u8]>) -> Cas<T>,
) -> Result<Settled<T>, SinkError> {
    let mut conflicts = 0;
    for attempt in 0..backoff.attempts.max(1) {
        tokio::time::sleep(backoff.delay(attempt)).await;
        let (body, etag) = match s3.get_object().bucket(bucket).key(key).send().await {
            Ok(o) => {
                let etag = o.e_tag().map(str::to_string);
                let bytes = o.body.collect().await.map_err(|e| {
                    SinkError::retryable(sink, format!("GetObject {key}: read: {e}"))
                })?;
                (Some(bytes.into_bytes()), etag)
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => (None, None),
            Err(e) => {
                return Err(SinkError {
                    sink,
                    message: format!(
                        "GetObject {key}: {}",
                        aws_sdk_s3::error::DisplayErrorContext(&e)
                    ),
                    retryable: sdk_retryable(&e),
                });
            }
        };
        let (new_body, value) = match decide(body.as_deref()) {
            Cas::Stop(value) => return Ok(Settled::Stopped { value, etag }),
            Cas::Write(new_body, value) => (new_body, value),
        };
        let put = s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(new_body));
        let put = match &etag {
            Some(t) => put.if_match(t),
            None => put.if_none_match("*"),
        };
        match put.send().await {
            Ok(o) => {
                return Ok(Settled::Written {
                    value,
                    etag: o.e_tag().map(str::to_string),
                    conflicts,
                });
            }
            Err(e) if matches!(sdk_status(&e), Some(412 | 409)) => conflicts += 1,
            Err(e) => {
                return Err(SinkError {
                    sink,
                    message: format!(
                        "PutObject {key}: {}",
                        aws_sdk_s3::error::DisplayErrorContext(&e)
                    ),
                    retryable: sdk_retryable(&e),
                });
            }
        }
    }
    Err(SinkError::retryable(
        sink,
        format!("{key}: gave up after {conflicts} conflicting concurrent writes"),
    ))
}
