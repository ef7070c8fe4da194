//! The annotated picture of each run in S3 (`pictures/{user_id}/{run_id}.jpg` in the results
//! bucket) as the job's [`PictureStore`]. The key goes into the result row's `image_ref` and to
//! the notification Lambda, so a picture of any size (a 4K frame's JPEG is a few MB) never
//! travels inside the 256 KiB asynchronous invoke.

use aws_sdk_s3::primitives::ByteStream;
use footfall_domain::sinks::{BoxFuture, PictureStore, SinkError};
use footfall_domain::{RunId, UserId};

use crate::{sdk_retryable, sdk_status};

const SINK: &str = "picture";

pub use payloads::{PICTURE_PREFIX, is_picture_key_of, picture_key};

/// Pictures in one bucket.
#[derive(Debug, Clone)]
pub struct S3Pictures {
    s3: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Pictures {
    pub fn new(s3: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self {
            s3,
            bucket: bucket.into(),
        }
    }
}

impl PictureStore for S3Pictures {
    fn save<'a>(
        &'a self,
        user_id: &'a UserId,
        run_id: &'a RunId,
        jpeg: &'a [u8],
    ) -> BoxFuture<'a, Result<String, SinkError>> {
        Box::pin(async move {
            let key = picture_key(user_id.as_str(), run_id.as_str());
            // A re-run of the same run writes the same key: idempotent.
            self.s3
                .put_object()
                .bucket(&self.bucket)
                .key(&key)
                .content_type("image/jpeg")
                .body(ByteStream::from(jpeg.to_vec()))
                .send()
                .await
                .map_err(|e| SinkError {
                    sink: SINK,
                    message: format!(
                        "PutObject s3://{}/{key} (status {:?}): {}",
                        self.bucket,
                        sdk_status(&e),
                        aws_sdk_s3::error::DisplayErrorContext(&e)
                    ),
                    retryable: sdk_retryable(&e),
                })?;
            Ok(key)
        })
    }
}
