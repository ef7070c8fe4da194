//! The public face of a frame-source job: [`FrameStream`], the bounded channel of frame batches
//! filled by the decode thread, and [`collect`]. The job's plain types live in `job`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};
use std::thread::JoinHandle;

use crate::error::{FrameSourceError, Result};
use crate::job::{JobOptions, JobReport, Message, SampledFrame, StopHandle, StreamHealth};
use crate::sampling::Sampler;
use crate::source::{SourceKind, SourceSpec};

/// A running job: iterate to receive batches of sampled frames, then call [`FrameStream::finish`]
/// for the report. Dropping it cancels the decode thread.
pub struct FrameStream {
    receiver: Receiver<Message>,
    cancel: Arc<AtomicBool>,
    stop: StopHandle,
    thread: Option<JoinHandle<()>>,
    report: Option<JobReport>,
}

impl FrameStream {
    /// Validates the options and starts the decode thread. Source problems (404, timeouts,
    /// corrupt data) are not errors here: they end up in the report's health.
    pub fn open(spec: SourceSpec, options: JobOptions) -> Result<Self> {
        Self::open_with_stop(spec, options, StopHandle::new())
    }

    /// Like [`FrameStream::open`], with a [`StopHandle`] made beforehand (for a caller that
    /// installs its Ctrl-C handler before the stream exists). A handle already stopped makes the
    /// job end at once.
    pub fn open_with_stop(spec: SourceSpec, options: JobOptions, stop: StopHandle) -> Result<Self> {
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
        let worker_stop = stop.clone();
        let thread = std::thread::Builder::new()
            .name("frame-source".to_string())
            .spawn(move || {
                crate::decode::run_job(spec, options, sampler, worker_cancel, worker_stop, sender);
            })
            .map_err(|err| FrameSourceError::Thread(err.to_string()))?;
        Ok(Self {
            receiver,
            cancel,
            stop,
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

    /// A handle that stops the job at its next packet, keeping what it sampled: the batches
    /// still come out of the stream, then the report (with `stopped`). Unlike
    /// [`FrameStream::cancel`], the health stays what was true so far.
    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    /// Asks the decode thread to stop soon (it interrupts blocking network reads); the job
    /// ends `ended_early`. For a stop that keeps the health, see [`FrameStream::stop_handle`].
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
