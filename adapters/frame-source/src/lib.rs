//! Sampled RGB frames from files, HTTP(S) progressive files, HLS playlists, RTSP cameras and page
//! URLs (through `yt-dlp`), decoded by FFmpeg on a thread and handed out in batches through a
//! bounded channel, so decoding overlaps with inference.
//!
//! ```no_run
//! use std::time::Duration;
//! use frame_source::{FrameStream, JobOptions, SamplingPolicy, SourceSpec, YtDlpResolver};
//!
//! let spec = SourceSpec::parse("http://127.0.0.1:8000/people.m3u8")?.resolve(&YtDlpResolver::default())?;
//! let options = JobOptions { sampling: SamplingPolicy::Every(Duration::from_secs(1)), ..Default::default() };
//! let mut stream = FrameStream::open(spec, options)?;
//! for batch in stream.by_ref() {
//!     for frame in &batch {
//!         println!("t={:.2}s {}x{}", frame.t, frame.image.width(), frame.image.height());
//!     }
//! }
//! let report = stream.finish();
//! println!("health: {}{}", report.health, if report.stopped { " (stopped)" } else { "" });
//! # Ok::<(), frame_source::FrameSourceError>(())
//! ```
//!
//! Modules, each depending only on those listed before it: `error`; `source` (parsing, resolving)
//! and `sampling` (the policy); `gop` (which packets need decoding); `job` (plain types: options, limits, frames, report, channel
//! message); `verdict` (pure: reconnect, or finish with which health); `probe` (the precise cause
//! of a failed open: HLS segments, redirect loops, data without video); `decode` (the FFmpeg
//! thread); `stream` ([`FrameStream`], [`collect`]).

mod decode;
mod error;
mod gop;
mod job;
mod probe;
mod sampling;
mod source;
mod stream;
mod verdict;

pub use error::{FrameSourceError, Result};
pub use job::{JobOptions, JobReport, Limits, SampledFrame, StopHandle, StreamHealth};
pub use sampling::{Decision, Sampler, SamplingPolicy};
pub use source::{SourceKind, SourceSpec, UrlResolver, YtDlpResolver};
pub use stream::{FrameStream, collect};
