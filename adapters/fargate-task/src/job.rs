//! The job behind a trait: open the user's stream, count people, return the count and an
//! annotated JPEG. The real implementation (frame source + detector) plugs in here.

use std::future::Future;

use payloads::TaskPayload;

/// What one job produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobOutput {
    /// The people count reported for the run.
    pub people_count: u32,
    /// Frames that went through the detector.
    pub frames_analyzed: u32,
    /// The annotated frame of the reported count, JPEG encoded (needed for alerts).
    pub detection_jpeg: Option<Vec<u8>>,
}

/// A failed job. `retryable` says whether another attempt could succeed (stream hiccup) or not
/// (unsupported stream, model error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct JobError {
    pub message: String,
    pub retryable: bool,
}

/// Runs the counting job for one user.
pub trait JobRunner: Send + Sync {
    fn run(
        &self,
        payload: &TaskPayload,
    ) -> impl Future<Output = Result<JobOutput, JobError>> + Send;
}
