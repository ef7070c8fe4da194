//! The plain types of a job: its options and limits, the frames it hands out, the report it ends
//! with, and the message on the channel between the decode thread and [`crate::FrameStream`].
//! No behaviour beyond constructors and names, so `decode` and `stream` both depend on it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use image::RgbImage;

use crate::error::FrameSourceError;
use crate::sampling::SamplingPolicy;

/// Bounds on one job, so a bad source can never hang or exhaust a worker.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Opening the source (DNS, TCP, TLS, playlist, first probe) must finish within this.
    pub connect_timeout: Duration,
    /// Once open, no new packet for this long means the stream is stalled.
    pub read_timeout: Duration,
    /// Wall-clock cap on the whole job, reconnects included.
    pub max_job_duration: Duration,
    /// Frames with more pixels than this are refused (protects memory from hostile streams).
    pub max_frame_pixels: u64,
    /// Reconnect attempts after a live stream drops or stalls (per job).
    pub max_reconnects: u32,
    /// First wait before reconnecting; doubled on each attempt up to `backoff_max`.
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(15),
            read_timeout: Duration::from_secs(10),
            max_job_duration: Duration::from_secs(300),
            max_frame_pixels: 3840 * 2160,
            max_reconnects: 3,
            backoff_initial: Duration::from_millis(500),
            backoff_max: Duration::from_secs(8),
        }
    }
}

/// Everything a job needs besides the source.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JobOptions {
    pub sampling: SamplingPolicy,
    pub limits: Limits,
    /// Frames per batch handed to the consumer (the detector batch size).
    pub batch_size: usize,
    /// A partly filled batch is handed out once its first frame is this old, so sparse sampling
    /// of a live stream does not wait for a full batch.
    pub batch_latency: Duration,
    /// Batches buffered between the decode thread and the consumer. Bounds memory to about
    /// `(channel_capacity + 1) * batch_size` frames.
    pub channel_capacity: usize,
    /// Seek over stretches of at least `seek_min_gap` that sampling would skip, when the source
    /// is seekable (files, HTTP with ranges). Lands on the keyframe before the wanted time. On
    /// any source, also leave undecoded the frames of a group of pictures after its last sample
    /// (see `JobReport::frames_skipped`); the sampled frames are the same either way.
    pub seek: bool,
    pub seek_min_gap: Duration,
    /// FFmpeg decoder threads. One leaves the other core to inference on a 2-core machine.
    pub decoder_threads: usize,
}

impl Default for JobOptions {
    fn default() -> Self {
        Self {
            sampling: SamplingPolicy::Every(Duration::from_secs(1)),
            limits: Limits::default(),
            batch_size: 8,
            batch_latency: Duration::from_millis(500),
            channel_capacity: 2,
            seek: true,
            seek_min_gap: Duration::from_secs(1),
            decoder_threads: 1,
        }
    }
}

/// Asks a running job to stop at its next packet (or at once while it connects or waits to
/// reconnect). The job then ends normally: the frames sampled so far are handed out and the report
/// says `stopped`, with the health that was true until then. Cheap to clone and to check, so a
/// Ctrl-C handler can hold one. See [`crate::FrameStream::stop_handle`].
#[derive(Debug, Clone, Default)]
pub struct StopHandle(Arc<AtomicBool>);

impl StopHandle {
    /// A handle not yet stopped, to give to [`crate::FrameStream::open_with_stop`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the job to stop; idempotent.
    pub fn stop(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// State of the stream at the end of a job (a domain type: stored with every result).
pub use footfall_domain::StreamHealth;

/// One sampled frame.
#[derive(Debug, Clone)]
pub struct SampledFrame {
    /// Presentation time in seconds from the start of the stream.
    pub t: f64,
    /// Index of the frame among all frames decoded in this job (0-based).
    pub index: u64,
    pub image: RgbImage,
}

/// What happened in a job, available once the stream has ended.
#[derive(Debug, Clone, PartialEq)]
pub struct JobReport {
    pub health: StreamHealth,
    /// The error that ended the job or made it unhealthy (`None` when health is `Ok` and nothing
    /// went wrong; a recovered reconnect leaves the last error here with health `Ok`).
    pub error: Option<FrameSourceError>,
    pub frames_sampled: u64,
    /// Frames decoded (sampled or not). Frames the policy skips are decoded but not converted to
    /// RGB, unless they are also in `frames_skipped`.
    pub frames_decoded: u64,
    /// Frames never decoded: the rest of a group of pictures after its last sample, which no
    /// later frame refers to (with `seek` on, on streams without B-frames).
    pub frames_skipped: u64,
    /// Seeks performed to jump over frames the policy skips.
    pub seeks: u32,
    pub reconnects: u32,
    /// True when the job ended because its [`StopHandle`] asked it to (the health is what was
    /// true until then).
    pub stopped: bool,
    /// True when the source has neither a known duration nor a known size (live HLS, RTSP,
    /// MPEG-TS over HTTP with a chunked or endless body).
    pub live: bool,
    /// Duration of a finite source in seconds, when FFmpeg knows it.
    pub source_duration: Option<f64>,
    /// Presentation time of the last decoded frame.
    pub last_t: Option<f64>,
    /// Seconds of stream missing between decoded frames (dropped segments, corrupt stretches).
    /// A finite source with gaps ends with health `EndedEarly`.
    pub gap_seconds: f64,
    pub width: u32,
    pub height: u32,
    /// Wall-clock time of the job, and the parts spent demuxing+decoding and converting to RGB.
    pub elapsed: Duration,
    pub decode_time: Duration,
    pub convert_time: Duration,
}

pub(crate) enum Message {
    Batch(Vec<SampledFrame>),
    Done(Box<JobReport>),
}

impl JobReport {
    /// A report of a job that has not produced anything (yet).
    pub(crate) fn empty(health: StreamHealth, error: Option<FrameSourceError>) -> Self {
        Self {
            health,
            error,
            frames_sampled: 0,
            frames_decoded: 0,
            frames_skipped: 0,
            seeks: 0,
            reconnects: 0,
            stopped: false,
            live: false,
            source_duration: None,
            last_t: None,
            gap_seconds: 0.0,
            width: 0,
            height: 0,
            elapsed: Duration::ZERO,
            decode_time: Duration::ZERO,
            convert_time: Duration::ZERO,
        }
    }
}
