//! The public face of a frame-source job: options, health, report, and the bounded channel of
//! frame batches filled by a decode thread.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};
use std::thread::JoinHandle;
use std::time::Duration;

use image::RgbImage;

use crate::error::{FrameSourceError, Result};
use crate::sampling::{Sampler, SamplingPolicy};
use crate::source::{SourceKind, SourceSpec};

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
    /// is seekable (files, HTTP with ranges). Lands on the keyframe before the wanted time.
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
    /// Frames decoded (sampled or not). Skipped frames are decoded but not converted to RGB.
    pub frames_decoded: u64,
    /// Seeks performed to jump over frames the policy skips.
    pub seeks: u32,
    pub reconnects: u32,
    /// True when the source has no known duration (live HLS, RTSP).
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

/// A running job: iterate to receive batches of sampled frames, then call [`FrameStream::finish`]
/// for the report. Dropping it cancels the decode thread.
pub struct FrameStream {
    receiver: Receiver<Message>,
    cancel: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    report: Option<JobReport>,
}

impl FrameStream {
    /// Validates the options and starts the decode thread. Source problems (404, timeouts,
    /// corrupt data) are not errors here: they end up in the report's health.
    pub fn open(spec: SourceSpec, options: JobOptions) -> Result<Self> {
        let sampler = Sampler::new(options.sampling)?;
        if options.batch_size == 0 || options.channel_capacity == 0 {
            return Err(FrameSourceError::InvalidPolicy(
                "batch size and channel capacity must be at least 1".to_string(),
            ));
        }
        if spec.kind == SourceKind::Page && spec.locator == spec.original {
            return Err(FrameSourceError::ResolveFailed {
                url: spec.original,
                reason: "page URL was not resolved (call SourceSpec::resolve first)".to_string(),
            });
        }
        crate::decode::init_ffmpeg();
        let (sender, receiver): (SyncSender<Message>, Receiver<Message>) =
            std::sync::mpsc::sync_channel(options.channel_capacity);
        let cancel = Arc::new(AtomicBool::new(false));
        let worker_cancel = Arc::clone(&cancel);
        let thread = std::thread::Builder::new()
            .name("frame-source".to_string())
            .spawn(move || crate::decode::run_job(spec, options, sampler, worker_cancel, sender))
            .map_err(|err| FrameSourceError::Thread(err.to_string()))?;
        Ok(Self {
            receiver,
            cancel,
            thread: Some(thread),
            report: None,
        })
    }

    /// Next batch, blocking until the decode thread has one; `None` once the job has ended.
    pub fn next_batch(&mut self) -> Option<Vec<SampledFrame>> {
        if self.report.is_some() {
            return None;
        }
        match self.receiver.recv() {
            Ok(Message::Batch(batch)) => Some(batch),
            Ok(Message::Done(report)) => {
                self.report = Some(*report);
                None
            }
            Err(_) => {
                self.report = Some(lost_thread_report());
                None
            }
        }
    }

    /// Asks the decode thread to stop soon (it interrupts blocking network reads).
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// Drains what is left, waits for the decode thread and returns the report.
    pub fn finish(mut self) -> JobReport {
        while self.next_batch().is_some() {}
        if let Some(thread) = self.thread.take() {
            // A panicking decode thread already produced `lost_thread_report` above.
            let _ = thread.join();
        }
        self.report.take().unwrap_or_else(lost_thread_report)
    }
}

impl Iterator for FrameStream {
    type Item = Vec<SampledFrame>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_batch()
    }
}

impl Drop for FrameStream {
    fn drop(&mut self) {
        self.cancel();
        // Do not join: the thread notices the cancel flag or the closed channel and exits alone.
    }
}

fn lost_thread_report() -> JobReport {
    JobReport::empty(
        StreamHealth::Unavailable,
        Some(FrameSourceError::Thread(
            "the decode thread ended without a report".to_string(),
        )),
    )
}

impl JobReport {
    /// A report of a job that has not produced anything (yet).
    pub(crate) fn empty(health: StreamHealth, error: Option<FrameSourceError>) -> Self {
        Self {
            health,
            error,
            frames_sampled: 0,
            frames_decoded: 0,
            seeks: 0,
            reconnects: 0,
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

/// Runs a job to its end and returns all sampled frames with the report. For short jobs and tests;
/// long jobs should consume batches as they come.
pub fn collect(spec: SourceSpec, options: JobOptions) -> Result<(Vec<SampledFrame>, JobReport)> {
    let mut stream = FrameStream::open(spec, options)?;
    let mut frames = Vec::new();
    for batch in stream.by_ref() {
        frames.extend(batch);
    }
    Ok((frames, stream.finish()))
}
