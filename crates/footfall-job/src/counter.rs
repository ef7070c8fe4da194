//! The people counter the job runs frames through: the detector in production
//! ([`crate::detector::DetectorCounter`], feature `detector`), a counter of their own in tests.

use image::RgbImage;

/// Errors of the people counter, boxed so the pipeline does not depend on the detector.
pub type CounterError = Box<dyn std::error::Error + Send + Sync>;

/// Counts people. Implementations are shared between jobs running at once, hence `Sync`.
pub trait PeopleCounter: Send + Sync {
    /// People in each frame, in order.
    fn count(&self, frames: &[RgbImage]) -> Result<Vec<usize>, CounterError>;
    /// The frame with detections drawn, as JPEG. Called once per job, for the busiest frame.
    fn annotated_jpeg(&self, frame: &RgbImage) -> Result<Vec<u8>, CounterError>;
}
