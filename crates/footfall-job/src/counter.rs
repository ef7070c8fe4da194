//! The people counter the job runs frames through: the detector in production
//! ([`crate::detector::DetectorCounter`], feature `detector`), a counter of their own in tests.

use image::RgbImage;

/// Errors of the people counter, boxed so the pipeline does not depend on the detector.
pub type CounterError = Box<dyn std::error::Error + Send + Sync>;

/// A person found in a frame, as tracking takes it: box in source pixels and score.
pub use footfall_tracking::Detection as PersonBox;

/// The weakest box a tracking job hands the tracker: ByteTrack's low score.
pub const TRACKING_MIN_SCORE: f32 = 0.1;

/// Counts people. Implementations are shared between jobs running at once, hence `Sync`.
pub trait PeopleCounter: Send + Sync {
    /// People in each frame, in order.
    fn count(&self, frames: &[RgbImage]) -> Result<Vec<usize>, CounterError>;
    /// The frame with detections drawn, as JPEG. Called once per job, for the busiest frame.
    fn annotated_jpeg(&self, frame: &RgbImage) -> Result<Vec<u8>, CounterError>;
    /// The people of each frame as boxes (tracking jobs), down to ByteTrack's low score
    /// ([`TRACKING_MIN_SCORE`]) where the counter can: the tracker's second association uses
    /// the weak boxes. Counters that only count say so.
    fn people_boxes(&self, _frames: &[RgbImage]) -> Result<Vec<Vec<PersonBox>>, CounterError> {
        Err("this people counter gives no boxes: tracking needs the detector".into())
    }
    /// The score a box of [`Self::people_boxes`] needs to count as a person in its sample (the
    /// counter's usual threshold).
    fn count_min_score(&self) -> f32 {
        0.0
    }
}
