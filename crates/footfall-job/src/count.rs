//! Frames to counts: frames from a [`frame_source::FrameStream`] (decode thread) are counted
//! batch by batch on the caller's thread, so decoding the next batch overlaps with counting
//! this one. Blocking; the pipeline runs it on a blocking thread.

use std::time::{Duration, Instant};

use footfall_domain::{CountSummary, StreamHealth};
use frame_source::{
    FrameStream, JobOptions, JobReport, SamplingPolicy, SourceSpec, StopHandle, UrlResolver,
};
use image::RgbImage;
use serde::Serialize;

use crate::counter::{CounterError, PeopleCounter};

#[derive(Debug, thiserror::Error)]
pub enum CountError {
    /// The URL could not be parsed or resolved, or the stream not opened: the stream's fault.
    #[error("source: {0}")]
    Source(#[from] frame_source::FrameSourceError),
    #[error("people counting failed: {0}")]
    Counter(CounterError),
    #[error("counter returned {got} counts for {expected} frames")]
    CountMismatch { expected: usize, got: usize },
}

/// A job sampling every `dt` seconds marks the sampling times in a hole of the stream (frames
/// more than `dt` plus this many seconds apart: a dropped segment, a corrupt stretch) as
/// samples without a frame. The slack keeps a source slower than the sampling rate (5 frames
/// a second sampled at 10) from looking like holes.
pub const NO_FRAME_AFTER_S: f64 = 1.0;

/// The sampling times in the hole between frames at `prev` and `next`, for samples every `dt`.
fn missing_samples(prev: f64, next: f64, dt: f64) -> impl Iterator<Item = f64> {
    let hole = next - prev > dt + NO_FRAME_AFTER_S;
    (1..)
        .map(move |k| prev + dt * f64::from(k))
        .take_while(move |&t| hole && t < next - dt / 2.0)
}

/// One sample's boxes through the tracker, lines and zones (a tracking job, issue 12). The
/// counter hands the tracker boxes down to ByteTrack's low score; the sample's people count
/// keeps those of at least `count_min_score` (the counter's usual threshold).
fn track_sample(
    counting: &mut footfall_tracking::Counting,
    t: f64,
    people: &[crate::PersonBox],
    count_min_score: f32,
) -> Counted {
    let report = counting.push(t, Some(people));
    Counted {
        people: people.iter().filter(|p| p.score >= count_min_score).count(),
        zones: report
            .zones
            .into_iter()
            .map(Option::unwrap_or_default)
            .collect(),
        lines: report
            .lines
            .into_iter()
            .map(Option::unwrap_or_default)
            .collect(),
        tracks: report.tracks,
    }
}

/// Tracks seen in a sample that are confirmed people.
fn confirmed(tracks: &[footfall_tracking::TrackView]) -> usize {
    tracks
        .iter()
        .filter(|t| t.state == footfall_tracking::TrackState::Tracked)
        .count()
}

/// What the counter found in one frame.
enum Found {
    People(usize),
    Boxes(Vec<crate::PersonBox>),
}

/// What counting one frame gave, before it becomes a [`Sample`].
struct Counted {
    people: usize,
    zones: Vec<u32>,
    lines: Vec<(u64, u64)>,
    tracks: Vec<footfall_tracking::TrackView>,
}

impl Counted {
    fn people(people: usize) -> Self {
        Self {
            people,
            zones: Vec::new(),
            lines: Vec::new(),
            tracks: Vec::new(),
        }
    }
}

impl CountError {
    /// The health recorded for a job that failed this way.
    pub fn health(&self) -> footfall_domain::Health {
        match self {
            Self::Source(_) => footfall_domain::Health::Unavailable,
            _ => footfall_domain::Health::Error,
        }
    }
}

/// One sample: presentation time in seconds and people counted; in a tracking job also each
/// zone's occupancy and each line's `(in, out)` crossings in this sample, in configuration order
/// (empty otherwise). `people` is `None` for a sampling time at which no frame could be read
/// (a hole in the stream, see [`NO_FRAME_AFTER_S`]): no data, not zero people.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    pub t: f64,
    pub people: Option<usize>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub zones: Vec<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<(u64, u64)>,
}

/// The busiest sampled frame (first one on ties; in a tracking job the first with the most
/// confirmed tracks among them), with the tracks seen in it.
#[derive(Debug, Clone)]
pub struct BusiestFrame {
    pub t: f64,
    pub people: usize,
    pub image: RgbImage,
    pub tracks: Vec<footfall_tracking::TrackView>,
}

/// What counting one stream gave. Statistics are `None` when no frame was counted.
#[derive(Debug, Clone)]
pub struct CountReport {
    /// The source as given, without credentials ([`footfall_domain::redact_url`]).
    pub source: String,
    pub health: StreamHealth,
    pub samples: Vec<Sample>,
    pub summary: CountSummary,
    pub busiest: Option<BusiestFrame>,
    pub stream: JobReport,
    /// Time spent in the counter (inference), and waiting for the decode thread's next batch.
    /// Decode and inference overlap, so `stream.decode_time` is mostly hidden behind `count_time`.
    pub count_time: Duration,
    pub wait_time: Duration,
    /// Unique people, line and zone counts of a tracking job.
    pub tracking: Option<footfall_tracking::TrackingSummary>,
}

impl CountReport {
    /// Frames counted (samples without a frame are not).
    pub fn frames(&self) -> usize {
        self.samples.iter().filter(|s| s.people.is_some()).count()
    }

    /// The `footfall count --json` document:
    /// `{"source","health","samples":[{"t","people"}],"max","median","p90","frames","annotated","error","stopped"}`,
    /// and for a tracking job `"tracking":{"fps","unique_people"},"lines":[..],"zones":[..]`.
    pub fn to_json(&self, annotated: Option<&std::path::Path>) -> serde_json::Value {
        let mut document = serde_json::json!({
            "source": self.source,
            "health": self.health.as_str(),
            // Times to the millisecond: the stream's clock, not float noise.
            "samples": self
                .samples
                .iter()
                .map(|s| {
                    let mut sample = serde_json::json!({ "t": (s.t * 1000.0).round() / 1000.0, "people": s.people });
                    // A tracking job's per-sample zone occupancy and line crossings.
                    if !s.zones.is_empty() {
                        sample["zones"] = serde_json::json!(s.zones);
                    }
                    if !s.lines.is_empty() {
                        sample["lines"] = serde_json::json!(s.lines);
                    }
                    sample
                })
                .collect::<Vec<_>>(),
            "max": self.summary.max,
            "median": self.summary.median,
            "p90": self.summary.p90,
            "frames": self.frames(),
            "annotated": annotated.map(|p| p.display().to_string()),
            "error": self.stream.error.as_ref().map(|e| e.to_string()),
            "stopped": self.stream.stopped,
        });
        if let (Some(tracking), Some(fields)) = (
            self.tracking
                .as_ref()
                .and_then(|t| serde_json::to_value(t).ok()),
            document.as_object_mut(),
        ) && let serde_json::Value::Object(tracked) = tracking
        {
            fields.extend(tracked);
        }
        document
    }
}

/// Parses and resolves `url` (page URLs through `resolver`), then counts it to its end.
pub fn count_url(
    url: &str,
    options: JobOptions,
    counter: &dyn PeopleCounter,
    resolver: &dyn UrlResolver,
    on_batch: &mut dyn FnMut(&[Sample]),
) -> Result<CountReport, CountError> {
    let spec = SourceSpec::parse(url)?.resolve(resolver)?;
    count_stream(spec, options, counter, on_batch)
}

/// Counts one opened source to its end. `on_batch` sees each batch's samples as they are
/// counted (progress).
pub fn count_stream(
    spec: SourceSpec,
    options: JobOptions,
    counter: &dyn PeopleCounter,
    on_batch: &mut dyn FnMut(&[Sample]),
) -> Result<CountReport, CountError> {
    count_stream_until(spec, options, counter, StopHandle::new(), on_batch)
}

/// [`count_stream`] that ends early, with the samples counted so far, once `stop` is stopped
/// (Ctrl-C in `footfall count`); the report's `stream.stopped` says so.
pub fn count_stream_until(
    spec: SourceSpec,
    options: JobOptions,
    counter: &dyn PeopleCounter,
    stop: StopHandle,
    on_batch: &mut dyn FnMut(&[Sample]),
) -> Result<CountReport, CountError> {
    count_stream_tracked(spec, options, counter, stop, None, on_batch)
}

/// [`count_stream_until`], tracking people across the samples when `tracking` is given: one
/// pass, the same frames; the report then carries the tracking summary.
pub fn count_stream_tracked(
    spec: SourceSpec,
    options: JobOptions,
    counter: &dyn PeopleCounter,
    stop: StopHandle,
    mut tracking: Option<footfall_tracking::Counting>,
    on_batch: &mut dyn FnMut(&[Sample]),
) -> Result<CountReport, CountError> {
    // Reports are shown and stored: no credentials.
    let source = footfall_domain::redact_url(&spec.original).into_owned();
    let mut stream = FrameStream::open_with_stop(spec, options, stop)?;
    let count_min_score = counter.count_min_score();
    let interval = match options.sampling {
        SamplingPolicy::Every(dt) if !dt.is_zero() => Some(dt.as_secs_f64()),
        _ => None,
    };
    let mut samples = Vec::new();
    let mut busiest: Option<BusiestFrame> = None;
    let mut count_time = Duration::ZERO;
    let mut wait_time = Duration::ZERO;
    loop {
        let waited = Instant::now();
        let batch = stream.next_batch();
        wait_time += waited.elapsed();
        let Some(batch) = batch else { break };
        let (times, images): (Vec<f64>, Vec<RgbImage>) = batch
            .into_iter()
            .map(|frame| (frame.t, frame.image))
            .unzip();
        // On a counter error the stream is dropped, which stops the decode thread.
        let counting = Instant::now();
        // People per frame, or (tracking) their boxes, which go through the tracker in time
        // order below, after any hole before them.
        let found: Vec<Found> = match tracking {
            None => counter
                .count(&images)
                .map_err(CountError::Counter)?
                .into_iter()
                .map(Found::People)
                .collect(),
            Some(_) => counter
                .people_boxes(&images)
                .map_err(CountError::Counter)?
                .into_iter()
                .map(Found::Boxes)
                .collect(),
        };
        count_time += counting.elapsed();
        if found.len() != images.len() {
            return Err(CountError::CountMismatch {
                expected: images.len(),
                got: found.len(),
            });
        }
        let first_new = samples.len();
        for ((t, found), image) in times.into_iter().zip(found).zip(images) {
            if let (Some(dt), Some(prev)) = (interval, samples.last().map(|s: &Sample| s.t)) {
                for gap in missing_samples(prev, t, dt) {
                    if let Some(tracking) = tracking.as_mut() {
                        tracking.push(gap, None);
                    }
                    samples.push(Sample {
                        t: gap,
                        people: None,
                        zones: Vec::new(),
                        lines: Vec::new(),
                    });
                }
            }
            let counted = match (found, tracking.as_mut()) {
                (Found::Boxes(boxes), Some(tracking)) => {
                    track_sample(tracking, t, &boxes, count_min_score)
                }
                (Found::Boxes(boxes), None) => Counted::people(boxes.len()),
                (Found::People(people), _) => Counted::people(people),
            };
            let people = counted.people;
            // Most people; on a tie, in a tracking job, most confirmed tracks (a drawing of
            // people with their ids beats one of tracks just born); then the first.
            let rank = (people, confirmed(&counted.tracks));
            if busiest
                .as_ref()
                .is_none_or(|best| rank > (best.people, confirmed(&best.tracks)))
            {
                busiest = Some(BusiestFrame {
                    t,
                    people,
                    image,
                    tracks: counted.tracks,
                });
            }
            samples.push(Sample {
                t,
                people: Some(people),
                zones: counted.zones,
                lines: counted.lines,
            });
        }
        on_batch(&samples[first_new..]);
    }
    let report = stream.finish();
    let counts: Vec<usize> = samples.iter().filter_map(|s| s.people).collect();
    Ok(CountReport {
        source,
        health: report.health,
        summary: CountSummary::of(&counts),
        samples,
        busiest,
        stream: report,
        count_time,
        wait_time,
        tracking: tracking.map(|t| t.summary()),
    })
}
