//! The detector as the job's people counter (feature `detector`).

use std::sync::Mutex;

use crate::counter::{CounterError, PeopleCounter, PersonBox, TRACKING_MIN_SCORE};
use detector_core::{Detector, count_people_in};
use detector_prepost::annotate::{annotate, encode_jpeg};
use image::RgbImage;

/// JPEG quality of annotated pictures (files and alert attachments).
const ANNOTATED_JPEG_QUALITY: u8 = 85;

/// Wraps a [`Detector`]. Inference is serialised: on a small machine concurrent forward passes
/// only compete for the same cores, and it keeps the counter `Sync` whatever the backend is.
pub struct DetectorCounter {
    detector: Mutex<Detector>,
}

impl DetectorCounter {
    pub fn new(detector: Detector) -> Self {
        Self {
            detector: Mutex::new(detector),
        }
    }

    fn detector(&self) -> Result<std::sync::MutexGuard<'_, Detector>, CounterError> {
        self.detector
            .lock()
            .map_err(|_| "the detector panicked earlier".into())
    }
}

impl PeopleCounter for DetectorCounter {
    fn count(&self, frames: &[RgbImage]) -> Result<Vec<usize>, CounterError> {
        Ok(self.detector()?.count_people(frames)?.per_frame)
    }

    fn annotated_jpeg(&self, frame: &RgbImage) -> Result<Vec<u8>, CounterError> {
        let detections = self.detector()?.detect(std::slice::from_ref(frame))?;
        let detections = detections.first().map(Vec::as_slice).unwrap_or_default();
        let image = annotate(frame, detections, count_people_in(detections));
        Ok(encode_jpeg(&image, ANNOTATED_JPEG_QUALITY)?)
    }

    fn people_boxes(&self, frames: &[RgbImage]) -> Result<Vec<Vec<PersonBox>>, CounterError> {
        let detector = self.detector()?;
        let usual = detector.postprocess_config();
        let floor = detector_core::PostprocessConfig {
            score_threshold: usual.score_threshold.min(TRACKING_MIN_SCORE),
            ..*usual
        };
        Ok(detector
            .detect_with(frames, &floor)?
            .into_iter()
            .map(|frame| {
                frame
                    .into_iter()
                    .filter(|d| d.is_person())
                    .map(|d| PersonBox {
                        bbox: [d.x1, d.y1, d.x2, d.y2],
                        score: d.score,
                    })
                    .collect()
            })
            .collect())
    }

    fn count_min_score(&self) -> f32 {
        self.detector
            .lock()
            .map(|d| d.postprocess_config().score_threshold)
            .unwrap_or(0.0)
    }
}
