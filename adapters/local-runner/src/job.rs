//! One counting job: frames from a [`frame_source::FrameStream`] (decode thread) are counted batch
//! by batch on the caller's thread, so decoding the next batch overlaps with counting this one.

use frame_source::{FrameStream, JobOptions, JobReport, SourceSpec, StreamHealth};
use image::RgbImage;
use serde::Serialize;

/// Errors of the people counter (the detector), boxed so this crate does not depend on it.
pub type CounterError = Box<dyn std::error::Error + Send + Sync>;

/// Counts people; implemented over `detector_core::Detector` by the CLI, and by test doubles.
pub trait PeopleCounter: Send + Sync {
    /// People in each frame, in order.
    fn count(&self, frames: &[RgbImage]) -> Result<Vec<usize>, CounterError>;
    /// The frame with detections drawn, as JPEG. Called once per job, for the busiest frame.
    fn annotated_jpeg(&self, frame: &RgbImage) -> Result<Vec<u8>, CounterError>;
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Source(#[from] frame_source::FrameSourceError),
    #[error("people counting failed: {0}")]
    Counter(CounterError),
    #[error("counter returned {got} counts for {expected} frames")]
    CountMismatch { expected: usize, got: usize },
}

/// One sample of the JSON output: presentation time in seconds and people counted.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Sample {
    pub t: f64,
    pub people: usize,
}

/// The busiest sampled frame (first one on ties).
#[derive(Debug, Clone)]
pub struct BusiestFrame {
    pub t: f64,
    pub people: usize,
    pub image: RgbImage,
}

/// Result of one job. Statistics are `None` when no frame was counted: "no data" is never 0.
#[derive(Debug, Clone)]
pub struct CountReport {
    pub source: String,
    pub health: StreamHealth,
    pub samples: Vec<Sample>,
    pub max: Option<usize>,
    pub median: Option<usize>,
    pub p90: Option<usize>,
    pub busiest: Option<BusiestFrame>,
    pub stream: JobReport,
    /// Time spent in the counter (inference), and waiting for the decode thread's next batch.
    /// Decode and inference overlap, so `stream.decode_time` is mostly hidden behind `count_time`.
    pub count_time: std::time::Duration,
    pub wait_time: std::time::Duration,
}

impl CountReport {
    /// Frames counted.
    pub fn frames(&self) -> usize {
        self.samples.len()
    }

    /// The `footfall count --json` document:
    /// `{"source","health","samples":[{"t","people"}],"max","median","p90","frames","annotated","error"}`.
    pub fn to_json(&self, annotated: Option<&std::path::Path>) -> serde_json::Value {
        serde_json::json!({
            "source": self.source,
            "health": self.health.as_str(),
            "samples": self.samples,
            "max": self.max,
            "median": self.median,
            "p90": self.p90,
            "frames": self.frames(),
            "annotated": annotated.map(|p| p.display().to_string()),
            "error": self.stream.error.as_ref().map(|e| e.to_string()),
        })
    }
}

/// Nearest-rank percentile (`q` in 0..=1) of `values`; `None` when empty.
pub fn percentile(values: &[usize], q: f64) -> Option<usize> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

/// Runs one job to its end. `on_batch` sees each batch's samples as they are counted (progress).
pub fn run_count_job(
    spec: SourceSpec,
    options: JobOptions,
    counter: &dyn PeopleCounter,
    on_batch: &mut dyn FnMut(&[Sample]),
) -> Result<CountReport, JobError> {
    let source = spec.original.clone();
    let mut stream = FrameStream::open(spec, options)?;
    let mut samples = Vec::new();
    let mut busiest: Option<BusiestFrame> = None;
    let mut count_time = std::time::Duration::ZERO;
    let mut wait_time = std::time::Duration::ZERO;
    loop {
        let waited = std::time::Instant::now();
        let Some(batch) = stream.next_batch() else {
            wait_time += waited.elapsed();
            break;
        };
        wait_time += waited.elapsed();
        let (times, images): (Vec<f64>, Vec<RgbImage>) = batch
            .into_iter()
            .map(|frame| (frame.t, frame.image))
            .unzip();
        // On a counter error the stream is dropped, which stops the decode thread.
        let counting = std::time::Instant::now();
        let counts = counter.count(&images).map_err(JobError::Counter)?;
        count_time += counting.elapsed();
        if counts.len() != images.len() {
            return Err(JobError::CountMismatch {
                expected: images.len(),
                got: counts.len(),
            });
        }
        let first_new = samples.len();
        for ((t, people), image) in times.into_iter().zip(counts).zip(images) {
            samples.push(Sample { t, people });
            if busiest.as_ref().is_none_or(|best| people > best.people) {
                busiest = Some(BusiestFrame { t, people, image });
            }
        }
        on_batch(&samples[first_new..]);
    }
    let report = stream.finish();
    let counts: Vec<usize> = samples.iter().map(|s| s.people).collect();
    Ok(CountReport {
        source,
        health: report.health,
        max: counts.iter().copied().max(),
        median: percentile(&counts, 0.5),
        p90: percentile(&counts, 0.9),
        samples,
        busiest,
        stream: report,
        count_time,
        wait_time,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        assert_eq!(percentile(&[], 0.5), None);
        assert_eq!(percentile(&[7], 0.9), Some(7));
        assert_eq!(percentile(&[1, 2, 3, 4], 0.5), Some(2));
        assert_eq!(percentile(&[5, 1, 4, 2, 3], 0.5), Some(3));
        assert_eq!(percentile(&(1..=10).collect::<Vec<_>>(), 0.9), Some(9));
        assert_eq!(percentile(&(1..=20).collect::<Vec<_>>(), 0.9), Some(18));
    }
}
