//! The decode thread: opens the source with FFmpeg (through video-rs's re-exported ffmpeg-next,
//! because video-rs converts every frame to RGB and cannot seek HLS or report timeouts), decodes,
//! applies the sampling policy, converts only the taken frames, reconnects, and reports health.
//! Whether to reconnect and which health to report is decided by [`crate::verdict`]; this module
//! gathers its facts and carries it out.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use ffmpeg::codec;
use ffmpeg::format::Pixel;
use ffmpeg::software::scaling;
use ffmpeg::util::frame;
use ffmpeg::{Dictionary, Error as FfError, Packet, media};
use image::RgbImage;
use video_rs::ffmpeg;

use crate::error::FrameSourceError;
use crate::gop::{GopSkipper, PacketFacts};
use crate::job::{JobOptions, JobReport, Limits, Message, SampledFrame, StopHandle, StreamHealth};
use crate::probe;
use crate::sampling::{Decision, Sampler};
use crate::source::{SourceKind, SourceSpec};
use crate::verdict::{Cause, Ending, Facts, Verdict, verdict};

/// FFmpeg's "no timestamp" value.
const NO_PTS: i64 = i64::MIN;
/// Used when a stream declares no frame rate.
const FALLBACK_FRAME_INTERVAL_S: f64 = 0.04;
/// How long a source that never opened is read to see whether it sends data at all.
const NO_VIDEO_SAMPLE_TIME: Duration = Duration::from_secs(1);
/// A demuxer can resync past a few corrupt packets; this many in a row means the data is garbage.
const MAX_CONSECUTIVE_CORRUPT_PACKETS: u32 = 64;

pub(crate) fn init_ffmpeg() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        // Registration is a no-op on FFmpeg >= 4; the result carries nothing to act on.
        let _ = ffmpeg::init();
        // FFmpeg prints to stderr by itself; every failure reaches the caller as an error value,
        // so keep stderr clean unless asked.
        if std::env::var_os("FOOTFALL_FFMPEG_LOG").is_none() {
            ffmpeg::util::log::set_level(ffmpeg::util::log::Level::Fatal);
        }
    });
}

/// Why the interrupt callback stopped FFmpeg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Trip {
    Cancelled = 1,
    Deadline = 2,
    ConnectTimeout = 3,
    Stalled = 4,
    Stopped = 5,
}

/// Polled by FFmpeg during every blocking operation (through the interrupt callback), so that
/// timeouts hold for every protocol and for nested opens (HLS segments), not only those that
/// honour `rw_timeout`.
struct Watchdog {
    started: Instant,
    cancel: Arc<AtomicBool>,
    stop: StopHandle,
    deadline_ms: u64,
    activity_ms: AtomicU64,
    idle_limit_ms: AtomicU64,
    connecting: AtomicBool,
    trip: AtomicU8,
}

impl Watchdog {
    fn new(cancel: Arc<AtomicBool>, stop: StopHandle, max_job: Duration) -> Self {
        Self {
            started: Instant::now(),
            cancel,
            stop,
            deadline_ms: duration_ms(max_job),
            activity_ms: AtomicU64::new(0),
            idle_limit_ms: AtomicU64::new(u64::MAX),
            connecting: AtomicBool::new(true),
            trip: AtomicU8::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        duration_ms(self.started.elapsed())
    }

    fn touch(&self) {
        self.activity_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    fn enter_phase(&self, connecting: bool, idle_limit: Duration) {
        self.connecting.store(connecting, Ordering::Relaxed);
        self.idle_limit_ms
            .store(duration_ms(idle_limit), Ordering::Relaxed);
        self.trip.store(0, Ordering::Relaxed);
        self.touch();
    }

    /// The interrupt callback: true stops the blocking FFmpeg call.
    fn check(&self) -> bool {
        let now = self.now_ms();
        let trip = if self.cancel.load(Ordering::Relaxed) {
            Trip::Cancelled
        } else if self.stop.is_stopped() {
            Trip::Stopped
        } else if now >= self.deadline_ms {
            Trip::Deadline
        } else if now.saturating_sub(self.activity_ms.load(Ordering::Relaxed))
            > self.idle_limit_ms.load(Ordering::Relaxed)
        {
            if self.connecting.load(Ordering::Relaxed) {
                Trip::ConnectTimeout
            } else {
                Trip::Stalled
            }
        } else {
            return false;
        };
        self.trip.store(trip as u8, Ordering::Relaxed);
        true
    }

    fn tripped(&self) -> Option<Trip> {
        match self.trip.load(Ordering::Relaxed) {
            1 => Some(Trip::Cancelled),
            2 => Some(Trip::Deadline),
            3 => Some(Trip::ConnectTimeout),
            4 => Some(Trip::Stalled),
            5 => Some(Trip::Stopped),
            _ => None,
        }
    }

    fn past_deadline(&self) -> bool {
        self.now_ms() >= self.deadline_ms
    }

    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    fn stopped(&self) -> bool {
        self.stop.is_stopped()
    }
}

fn duration_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// How one connection ended (the verdict sees it as an [`Ending`]).
enum ConnectionEnd {
    /// The sampling policy is satisfied.
    PolicyDone,
    /// The demuxer reported the end of the input.
    Eof,
    /// The consumer dropped the stream.
    ConsumerGone,
    Interrupted(Trip),
    /// An error; `opened` tells whether the input had opened, `permanent` that retrying cannot help.
    Failed {
        error: FrameSourceError,
        opened: bool,
        permanent: bool,
    },
}

impl ConnectionEnd {
    /// The ending the verdict decides on, and the error a failed connection carries.
    fn split(self) -> (Ending, Option<FrameSourceError>) {
        let ending = match self {
            Self::PolicyDone => Ending::PolicyDone,
            Self::Eof => Ending::Eof,
            Self::ConsumerGone => Ending::ConsumerGone,
            Self::Interrupted(Trip::Cancelled) => Ending::Cancelled,
            Self::Interrupted(Trip::Stopped) => Ending::Stopped,
            Self::Interrupted(Trip::Deadline) => Ending::Deadline,
            Self::Interrupted(Trip::ConnectTimeout) => Ending::ConnectTimeout,
            Self::Interrupted(Trip::Stalled) => Ending::Stalled,
            Self::Failed {
                error,
                opened,
                permanent,
            } => return (Ending::Failed { opened, permanent }, Some(error)),
        };
        (ending, None)
    }
}

/// State that survives reconnects.
struct JobState {
    sampler: Sampler,
    batch: Vec<SampledFrame>,
    batch_started: Option<Instant>,
    /// Absolute presentation time (s) that maps to t = 0.
    origin: Option<f64>,
    last_t: Option<f64>,
    last_frame_at: Option<Instant>,
    frame_interval: f64,
    ever_opened: bool,
    /// Set by a seek: the next frame's jump in time is wanted, not a gap.
    expect_jump: bool,
    live: bool,
    /// The health a reconnect under way would report if it failed (until the next new frame).
    reconnecting: Option<StreamHealth>,
    source_duration: Option<f64>,
    /// Size in bytes of a finite source whose duration FFmpeg does not know (an MPEG-TS file
    /// over HTTP without range support: the server sent its Content-Length).
    source_size: Option<i64>,
    /// The last connection delivered all `source_size` bytes before its end of input.
    read_to_end: bool,
    /// Holds back packets no sample needs yet and drops the ends of GOPs nothing needs.
    gop: GopSkipper<Packet>,
    report: JobReport,
}

impl JobState {
    fn new(sampler: Sampler, skip_unneeded_frames: bool) -> Self {
        Self {
            sampler,
            batch: Vec::new(),
            batch_started: None,
            origin: None,
            last_t: None,
            last_frame_at: None,
            frame_interval: FALLBACK_FRAME_INTERVAL_S,
            ever_opened: false,
            expect_jump: false,
            live: false,
            reconnecting: None,
            source_duration: None,
            source_size: None,
            read_to_end: false,
            gop: GopSkipper::new(skip_unneeded_frames),
            report: JobReport::empty(StreamHealth::Unavailable, None),
        }
    }

    /// Hands out the current batch; false when the consumer is gone.
    fn flush(&mut self, sender: &SyncSender<Message>, watchdog: &Watchdog) -> bool {
        self.batch_started = None;
        if self.batch.is_empty() {
            return true;
        }
        let batch = std::mem::take(&mut self.batch);
        let delivered = sender.send(Message::Batch(batch)).is_ok();
        // Time blocked on a slow consumer is not a stalled stream.
        watchdog.touch();
        delivered
    }

    /// Hands out a partly filled batch once its first frame is `batch_latency` old; false when
    /// the consumer is gone.
    fn flush_if_stale(
        &mut self,
        options: &JobOptions,
        sender: &SyncSender<Message>,
        watchdog: &Watchdog,
    ) -> bool {
        let stale = self
            .batch_started
            .is_some_and(|started| started.elapsed() >= options.batch_latency);
        !stale || self.flush(sender, watchdog)
    }

    /// True when a finite source was read (nearly) to its end.
    fn covered_source(&self) -> bool {
        if self.read_to_end {
            return true;
        }
        // Frames dropped undecoded at the end were read all the same.
        let last_read = match (self.last_t, self.gop.last_skipped_t) {
            (Some(decoded), Some(skipped)) => Some(decoded.max(skipped)),
            (decoded, skipped) => decoded.or(skipped),
        };
        match (self.source_duration, last_read) {
            (Some(duration), Some(last)) => {
                let tolerance = (3.0 * self.frame_interval).max(0.5);
                last + self.frame_interval + tolerance >= duration
            }
            _ => false,
        }
    }

    /// The error a verdict's cause stands for. `failure` is the failed connection's own error.
    fn error_for(
        &mut self,
        cause: Cause,
        failure: Option<FrameSourceError>,
        spec: &SourceSpec,
        limits: &Limits,
    ) -> Option<FrameSourceError> {
        let error = match cause {
            Cause::None => return None,
            Cause::Recovered => return self.report.error.take(),
            Cause::Connection => return failure,
            Cause::JobLimit => FrameSourceError::Read(format!(
                "job reached its limit of {:?}",
                limits.max_job_duration
            )),
            Cause::NothingDecoded => FrameSourceError::InvalidData {
                locator: spec.locator.clone(),
                reason: "the input ended before any frame could be decoded".to_string(),
            },
            Cause::Gaps => FrameSourceError::Read(format!(
                "{:.2} s of the stream could not be read",
                self.report.gap_seconds
            )),
            Cause::EndedShort => {
                FrameSourceError::Read(match (self.source_duration, self.last_t) {
                    (Some(duration), Some(last)) => {
                        format!("the input ended at {last:.2} s of {duration:.2} s")
                    }
                    _ => "the live stream ended".to_string(),
                })
            }
            Cause::Stalled => FrameSourceError::Stalled(limits.read_timeout),
            Cause::ConnectTimeout => FrameSourceError::ConnectTimeout(limits.connect_timeout),
        };
        Some(error)
    }
}

pub(crate) fn run_job(
    spec: SourceSpec,
    options: JobOptions,
    sampler: Sampler,
    cancel: Arc<AtomicBool>,
    stop: StopHandle,
    sender: SyncSender<Message>,
) {
    let limits = options.limits;
    let watchdog = Arc::new(Watchdog::new(cancel, stop, limits.max_job_duration));
    let mut state = JobState::new(sampler, options.seek);
    let (health, error, stopped) = loop {
        let end = run_connection(&spec, &options, &mut state, &watchdog, &sender);
        let (ending, failure) = if state.flush(&sender, &watchdog) {
            end.split()
        } else {
            (Ending::ConsumerGone, None)
        };
        let facts = Facts {
            file: spec.kind == SourceKind::File,
            live: state.live,
            ever_opened: state.ever_opened,
            frames_decoded: state.report.frames_decoded,
            frames_sampled: state.report.frames_sampled,
            gaps: state.report.gap_seconds > 0.0,
            covered_source: state.covered_source(),
            since_last_frame: state.last_frame_at.map(|at| at.elapsed()),
            elapsed: watchdog.started.elapsed(),
            reconnects_done: state.report.reconnects,
            reconnecting: state.reconnecting,
        };
        match verdict(ending, &facts, &limits) {
            Verdict::Finish { health, cause } => {
                let error = state.error_for(cause, failure, &spec, &limits);
                break (health, error, ending == Ending::Stopped);
            }
            Verdict::Reconnect {
                delay,
                health,
                cause,
            } => {
                let error = state.error_for(cause, failure, &spec, &limits);
                tracing::warn!(
                    source = %footfall_domain::redact_url(&spec.original),
                    error = %error.as_ref().map_or_else(String::new, ToString::to_string),
                    attempt = state.report.reconnects + 1,
                    backoff_ms = duration_ms(delay),
                    "stream interrupted; reconnecting"
                );
                state.report.error = error;
                state.reconnecting = Some(health);
                if !sleep_unless_stopped(delay, &watchdog) {
                    let stopped = watchdog.stopped() && !watchdog.cancelled();
                    break (health, state.report.error.take(), stopped);
                }
                state.report.reconnects += 1;
            }
        }
    };
    let mut report = state.report;
    report.health = health;
    report.error = error;
    report.stopped = stopped;
    report.live = state.live;
    report.source_duration = state.source_duration;
    report.last_t = state.last_t;
    report.frames_skipped = state.gop.skipped;
    report.elapsed = watchdog.started.elapsed();
    tracing::debug!(source = %footfall_domain::redact_url(&spec.original), health = %report.health, sampled = report.frames_sampled, "frame source job ended");
    // The consumer may be gone; then nobody needs the report.
    let _ = sender.send(Message::Done(Box::new(report)));
}

/// Sleeps in short steps; false when the job was cancelled, stopped or hit its deadline
/// meanwhile.
fn sleep_unless_stopped(duration: Duration, watchdog: &Watchdog) -> bool {
    let until = Instant::now() + duration;
    while Instant::now() < until {
        if watchdog.cancelled() || watchdog.stopped() || watchdog.past_deadline() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20).min(until - Instant::now()));
    }
    true
}

fn micros(duration: Duration) -> String {
    duration.as_micros().to_string()
}

fn ffmpeg_options(kind: SourceKind, options: &JobOptions) -> Dictionary<'static> {
    let limits = options.limits;
    let mut dict = Dictionary::new();
    if kind != SourceKind::File {
        // Protocol-level bounds; the watchdog enforces the same limits for everything else.
        dict.set("rw_timeout", &micros(limits.read_timeout));
        dict.set(
            "timeout",
            &micros(limits.connect_timeout.max(limits.read_timeout)),
        );
    }
    if kind == SourceKind::Rtsp {
        // TCP interleaving survives NAT and firewalls, and loses no packets.
        dict.set("rtsp_transport", "tcp");
    }
    dict
}

fn open_error(locator: &str, error: FfError) -> (FrameSourceError, bool) {
    let reason = error.to_string();
    match error {
        FfError::InvalidData => (
            FrameSourceError::InvalidData {
                locator: locator.to_string(),
                reason,
            },
            true,
        ),
        FfError::Other { errno } if errno == ffmpeg::error::ENOENT => {
            (FrameSourceError::NotFound(locator.to_string()), true)
        }
        FfError::HttpNotFound
        | FfError::HttpForbidden
        | FfError::HttpUnauthorized
        | FfError::HttpBadRequest
        | FfError::HttpOther4xx
        | FfError::ProtocolNotFound
        | FfError::DemuxerNotFound => (
            FrameSourceError::Open {
                locator: locator.to_string(),
                reason,
            },
            true,
        ),
        _ => (
            FrameSourceError::Open {
                locator: locator.to_string(),
                reason,
            },
            false,
        ),
    }
}

/// How a connection whose open failed ends. When FFmpeg's error hides the cause (an HLS
/// playlist whose segments fail, a redirect loop, data without video until the connect timeout),
/// [`crate::probe`] looks for it, within a fresh connect timeout (one second for the look at
/// the data).
fn open_failed(
    spec: &SourceSpec,
    options: &JobOptions,
    watchdog: &Arc<Watchdog>,
    error: FfError,
) -> ConnectionEnd {
    let limits = options.limits;
    let http = probe::is_http(&spec.locator);
    let probe_watchdog = Arc::clone(watchdog);
    let interrupted = move || probe_watchdog.check();
    match watchdog.tripped() {
        Some(Trip::ConnectTimeout) if http => {
            watchdog.enter_phase(true, limits.connect_timeout.min(NO_VIDEO_SAMPLE_TIME));
            let found = probe::no_video(
                &spec.locator,
                limits.connect_timeout,
                ffmpeg_options(spec.kind, options),
                interrupted,
            );
            after_probe(
                watchdog,
                found,
                ConnectionEnd::Interrupted(Trip::ConnectTimeout),
            )
        }
        Some(trip) => ConnectionEnd::Interrupted(trip),
        None => {
            let found = if http {
                watchdog.enter_phase(true, limits.connect_timeout);
                probe::open_failure(
                    &spec.locator,
                    &error,
                    limits.connect_timeout,
                    &|| ffmpeg_options(spec.kind, options),
                    interrupted,
                )
            } else {
                None
            };
            let (error, permanent) = open_error(&spec.locator, error);
            after_probe(
                watchdog,
                found,
                ConnectionEnd::Failed {
                    error,
                    opened: false,
                    permanent,
                },
            )
        }
    }
}

/// The probe's finding, or `otherwise`; a cancel or stop during the probe wins.
fn after_probe(
    watchdog: &Watchdog,
    found: Option<FrameSourceError>,
    otherwise: ConnectionEnd,
) -> ConnectionEnd {
    if let Some(trip @ (Trip::Cancelled | Trip::Stopped)) = watchdog.tripped() {
        return ConnectionEnd::Interrupted(trip);
    }
    match found {
        Some(error) => ConnectionEnd::Failed {
            permanent: !error.is_transient(),
            error,
            opened: false,
        },
        None => otherwise,
    }
}

fn run_connection(
    spec: &SourceSpec,
    options: &JobOptions,
    state: &mut JobState,
    watchdog: &Arc<Watchdog>,
    sender: &SyncSender<Message>,
) -> ConnectionEnd {
    let limits = options.limits;
    watchdog.enter_phase(true, limits.connect_timeout);
    let callback_watchdog = Arc::clone(watchdog);
    let opened = ffmpeg::format::input_with_interrupt_and_dictionary(
        &spec.locator,
        move || callback_watchdog.check(),
        ffmpeg_options(spec.kind, options),
    );
    let mut input = match opened {
        Ok(input) => input,
        Err(error) => return open_failed(spec, options, watchdog, error),
    };
    let Some(stream) = input.streams().best(media::Type::Video) else {
        return ConnectionEnd::Failed {
            error: FrameSourceError::NoVideoStream {
                locator: spec.locator.clone(),
            },
            opened: true,
            permanent: true,
        };
    };
    let stream_index = stream.index();
    let time_base = f64::from(stream.time_base());
    let stream_start = stream.start_time();
    let frame_rate = f64::from(stream.avg_frame_rate());
    if frame_rate.is_finite() && frame_rate > 0.0 {
        state.frame_interval = 1.0 / frame_rate;
    }
    let stream_duration = stream.duration();
    let format_duration = input.duration();
    let duration = if stream_duration > 0 && stream_duration != NO_PTS {
        Some(stream_duration as f64 * time_base)
    } else if format_duration > 0 && format_duration != NO_PTS {
        Some(format_duration as f64 / f64::from(ffmpeg::ffi::AV_TIME_BASE))
    } else {
        None
    };
    // Without a duration, a source whose size is known is still a finite file (an MPEG-TS
    // file over HTTP from a server without range support: FFmpeg cannot read its end to
    // estimate the duration, but the server said how long the body is). A live stream has no
    // size (chunked or endless body, RTSP). The HLS demuxer's size is its playlist's.
    let size = if duration.is_none() && !is_hls(&input) {
        input.io_size().filter(|&size| size > 0)
    } else {
        None
    };
    state.live = duration.is_none() && size.is_none();
    state.source_duration = duration;
    state.source_size = size;
    state.read_to_end = false;
    let mut decoder = match codec::context::Context::from_parameters(stream.parameters()).and_then(
        |mut context| {
            context.set_threading(codec::threading::Config::count(
                options.decoder_threads.max(1),
            ));
            context.decoder().video()
        },
    ) {
        Ok(decoder) => decoder,
        Err(error) => {
            return ConnectionEnd::Failed {
                error: FrameSourceError::UnsupportedCodec {
                    codec: format!("{:?} ({error})", stream.parameters().id()),
                },
                opened: true,
                permanent: true,
            };
        }
    };
    state.ever_opened = true;
    state.gop.restart();
    watchdog.enter_phase(false, limits.read_timeout);

    let can_seek = options.seek && spec.seekable() && !state.live;
    let mut connection = Connection {
        time_base,
        stream_start,
        first_frame: true,
        previous_t: None,
        scaler: None,
        last_seek_target: None,
    };
    // After a reconnect to a seekable source, continue where the last connection stopped.
    if can_seek && let (Some(origin), Some(last)) = (state.origin, state.last_t) {
        seek_to(&mut input, &mut decoder, origin + last, state);
    }

    let mut packet = Packet::empty();
    // The packets the GOP skipper hands back for decoding, reused packet after packet.
    let mut release: Vec<Packet> = Vec::new();
    let mut consecutive_corrupt = 0u32;
    loop {
        // A stop is honoured between packets; blocking reads see it through the watchdog.
        if watchdog.stopped() {
            return ConnectionEnd::Interrupted(Trip::Stopped);
        }
        // In a seekable finite source, a due time past the end means no sample is left: the
        // rest of the file need not be decoded.
        if can_seek
            && let (Some(due), Some(duration)) = (state.sampler.next_due(), state.source_duration)
            && due >= duration - state.frame_interval / 2.0
            && state.report.gap_seconds == 0.0
        {
            return ConnectionEnd::PolicyDone;
        }
        if can_seek && let Some(target) = connection.seek_target(state, options) {
            connection.last_seek_target = Some(target);
            if let Some(origin) = state.origin {
                seek_to(&mut input, &mut decoder, origin + target, state);
            }
        }
        let read_started = Instant::now();
        let read = packet.read(&mut input);
        state.report.decode_time += read_started.elapsed();
        match read {
            Ok(()) => {
                watchdog.touch();
                consecutive_corrupt = 0;
                if packet.stream() != stream_index {
                    continue;
                }
                let facts = PacketFacts {
                    key: packet.is_key(),
                    t: connection.packet_time(&packet, state),
                    bytes: packet.size(),
                };
                let skipped_before = state.gop.skipped;
                let read = std::mem::replace(&mut packet, Packet::empty());
                let next_due = state.sampler.next_due();
                state.gop.push(read, facts, next_due, &mut release);
                if release.is_empty() {
                    // Held back, but a frame arrived all the same: the stream is not stalled.
                    state.last_frame_at = Some(Instant::now());
                    // A partly filled batch must not wait for the next decoded frame, which may
                    // be a whole sampling interval away.
                    if !state.flush_if_stale(options, sender, watchdog) {
                        return ConnectionEnd::ConsumerGone;
                    }
                }
                if state.gop.skipped > skipped_before {
                    // The time jumped over by dropped frames is not missing stream.
                    connection.previous_t = match (connection.previous_t, state.gop.last_skipped_t)
                    {
                        (Some(previous), Some(skipped)) => Some(previous.max(skipped)),
                        (previous, skipped) => previous.or(skipped),
                    };
                }
                for packet in release.drain(..) {
                    let decode_started = Instant::now();
                    let sent = decoder.send_packet(&packet);
                    state.report.decode_time += decode_started.elapsed();
                    if let Err(error) = sent {
                        if error == FfError::InvalidData {
                            // One broken packet: the decoder conceals it and continues.
                            continue;
                        }
                        return ConnectionEnd::Failed {
                            error: FrameSourceError::Decode(error.to_string()),
                            opened: true,
                            permanent: false,
                        };
                    }
                    if let Some(end) =
                        connection.drain(&mut decoder, state, options, watchdog, sender)
                    {
                        return end;
                    }
                }
            }
            Err(FfError::Eof) => {
                // What is still held back comes after the last due sample.
                state.gop.finish();
                // Frames still inside the decoder (reordering, frame threads) come out on flush.
                if decoder.send_eof().is_ok()
                    && let Some(end) =
                        connection.drain(&mut decoder, state, options, watchdog, sender)
                {
                    return end;
                }
                // Some demuxers (HLS waiting for a live playlist to grow) turn an interrupt
                // into a plain end of file; the watchdog knows the real reason.
                if let Some(trip) = watchdog.tripped() {
                    return ConnectionEnd::Interrupted(trip);
                }
                state.read_to_end = state
                    .source_size
                    .is_some_and(|size| bytes_delivered(&input) >= size);
                return ConnectionEnd::Eof;
            }
            Err(FfError::InvalidData) => {
                consecutive_corrupt += 1;
                if consecutive_corrupt >= MAX_CONSECUTIVE_CORRUPT_PACKETS {
                    return ConnectionEnd::Failed {
                        error: FrameSourceError::InvalidData {
                            locator: spec.locator.clone(),
                            reason: format!("{consecutive_corrupt} corrupt packets in a row"),
                        },
                        opened: true,
                        permanent: true,
                    };
                }
            }
            Err(FfError::Other { errno }) if errno == ffmpeg::error::EAGAIN => {
                if watchdog.check() {
                    return ConnectionEnd::Interrupted(watchdog.tripped().unwrap_or(Trip::Stalled));
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(error) => {
                if let Some(trip) = watchdog.tripped() {
                    return ConnectionEnd::Interrupted(trip);
                }
                return ConnectionEnd::Failed {
                    error: FrameSourceError::Read(error.to_string()),
                    opened: true,
                    permanent: false,
                };
            }
        }
    }
}

/// Whether the input is read by the HLS demuxer (its I/O context is the playlist's).
fn is_hls(input: &ffmpeg::format::context::Input) -> bool {
    input
        .format()
        .name()
        .split(',')
        .any(|name| name == "hls" || name == "applehttp")
}

/// Bytes the input's protocol has delivered so far (the end of its buffered data).
fn bytes_delivered(input: &ffmpeg::format::context::Input) -> i64 {
    // SAFETY: `input` owns a valid format context; its `pb` is null or a valid I/O context,
    // and no FFmpeg call is running on it while this thread reads one field.
    unsafe {
        let pb = (*input.as_ptr()).pb;
        if pb.is_null() { 0 } else { (*pb).pos }
    }
}

/// Seeks to the keyframe at or before `absolute_s` (seconds on the stream's clock).
fn seek_to(
    input: &mut ffmpeg::format::context::Input,
    decoder: &mut ffmpeg::decoder::Video,
    absolute_s: f64,
    state: &mut JobState,
) {
    let timestamp = (absolute_s * f64::from(ffmpeg::ffi::AV_TIME_BASE)) as i64;
    match input.seek(timestamp, ..timestamp) {
        Ok(()) => {
            decoder.flush();
            state.gop.restart();
            state.report.seeks += 1;
            state.expect_jump = true;
        }
        // Not fatal: decoding on linearly reaches the same frames, only slower.
        Err(error) => tracing::debug!(%error, "seek failed; decoding linearly"),
    }
}

/// Per-connection decode state.
struct Connection {
    time_base: f64,
    stream_start: i64,
    first_frame: bool,
    previous_t: Option<f64>,
    scaler: Option<scaling::Context>,
    last_seek_target: Option<f64>,
}

impl Connection {
    /// A packet's presentation time on the sampler's clock, once this connection has decoded a
    /// frame (before that, the origin of a reconnected live stream may still move).
    fn packet_time(&self, packet: &Packet, state: &JobState) -> Option<f64> {
        if self.first_frame {
            return None;
        }
        let origin = state.origin?;
        let ts = packet.pts().or(packet.dts()).filter(|&ts| ts != NO_PTS)?;
        Some(ts as f64 * self.time_base - origin)
    }

    /// The due time to seek to, when the gap to it is worth a seek and it was not tried already.
    fn seek_target(&self, state: &JobState, options: &JobOptions) -> Option<f64> {
        let due = state.sampler.next_due()?;
        let last = state.last_t?;
        // Frame times are not exact multiples of the interval; a millisecond of slack.
        let worth_it = due - last + 1e-3 >= options.seek_min_gap.as_secs_f64();
        let inside = state
            .source_duration
            .is_some_and(|duration| due < duration - state.frame_interval);
        let new_target = self.last_seek_target.is_none_or(|previous| due > previous);
        (worth_it && inside && new_target).then_some(due)
    }

    /// Receives every frame the decoder has ready; `Some` ends the connection.
    fn drain(
        &mut self,
        decoder: &mut ffmpeg::decoder::Video,
        state: &mut JobState,
        options: &JobOptions,
        watchdog: &Watchdog,
        sender: &SyncSender<Message>,
    ) -> Option<ConnectionEnd> {
        let mut decoded = frame::Video::empty();
        loop {
            let started = Instant::now();
            let received = decoder.receive_frame(&mut decoded);
            state.report.decode_time += started.elapsed();
            if received.is_err() {
                // EAGAIN (needs more input) or EOF: nothing more for now.
                return None;
            }
            if let Some(end) = self.handle_frame(&decoded, state, options, watchdog, sender) {
                return Some(end);
            }
        }
    }

    fn handle_frame(
        &mut self,
        decoded: &frame::Video,
        state: &mut JobState,
        options: &JobOptions,
        watchdog: &Watchdog,
        sender: &SyncSender<Message>,
    ) -> Option<ConnectionEnd> {
        let absolute = decoded
            .timestamp()
            .or(decoded.pts())
            .filter(|&ts| ts != NO_PTS)
            .map(|ts| ts as f64 * self.time_base);
        if state.origin.is_none() {
            let start =
                (self.stream_start != NO_PTS).then_some(self.stream_start as f64 * self.time_base);
            state.origin = Some(start.or(absolute).unwrap_or(0.0));
        }
        let mut origin = state.origin.unwrap_or(0.0);
        if self.first_frame {
            self.first_frame = false;
            // A live stream after a reconnect may restart its clock: continue from where the last
            // connection stopped plus the time spent reconnecting.
            if state.live
                && let (Some(last), Some(abs)) = (state.last_t, absolute)
                && abs - origin <= last
            {
                let gap = state
                    .last_frame_at
                    .map_or(0.0, |at| at.elapsed().as_secs_f64())
                    .max(state.frame_interval);
                origin = abs - (last + gap);
                state.origin = Some(origin);
            }
        }
        let mut t = match absolute {
            Some(abs) => abs - origin,
            None => self.previous_t.map_or(0.0, |p| p + state.frame_interval),
        };
        // Timestamps must increase within a connection; the last flushed frames of some
        // streams carry bogus ones.
        if let Some(previous) = self.previous_t
            && (t <= previous || !t.is_finite())
        {
            t = previous + state.frame_interval;
        }
        // A jump in time that no seek explains is missing stream (a segment that failed).
        if let Some(previous) = self.previous_t
            && !std::mem::take(&mut state.expect_jump)
        {
            let jump = t - previous;
            if jump > (3.0 * state.frame_interval).max(1.0) {
                state.report.gap_seconds += jump - state.frame_interval;
            }
        }
        self.previous_t = Some(t);
        // Frames already seen before a reconnect or a seek that landed early.
        if state.last_t.is_some_and(|last| t <= last + 1e-6) {
            return None;
        }
        state.last_t = Some(t);
        state.last_frame_at = Some(Instant::now());
        state.reconnecting = None;
        let index = state.report.frames_decoded;
        state.report.frames_decoded += 1;

        let (width, height) = (decoded.width(), decoded.height());
        if u64::from(width) * u64::from(height) > options.limits.max_frame_pixels {
            return Some(ConnectionEnd::Failed {
                error: FrameSourceError::FrameTooLarge {
                    width,
                    height,
                    max_pixels: options.limits.max_frame_pixels,
                },
                opened: true,
                permanent: true,
            });
        }
        state.report.width = width;
        state.report.height = height;

        match state.sampler.decide(t, index) {
            Decision::Skip => {}
            Decision::Done => return Some(ConnectionEnd::PolicyDone),
            Decision::Take => {
                let started = Instant::now();
                let image = match self.convert_to_rgb(decoded) {
                    Ok(image) => image,
                    Err(error) => {
                        return Some(ConnectionEnd::Failed {
                            error,
                            opened: true,
                            permanent: true,
                        });
                    }
                };
                state.report.convert_time += started.elapsed();
                state.report.frames_sampled += 1;
                state.batch_started.get_or_insert_with(Instant::now);
                state.batch.push(SampledFrame { t, index, image });
                if state.batch.len() >= options.batch_size && !state.flush(sender, watchdog) {
                    return Some(ConnectionEnd::ConsumerGone);
                }
                if state.sampler.satisfied() {
                    return Some(ConnectionEnd::PolicyDone);
                }
            }
        }
        if !state.flush_if_stale(options, sender, watchdog) {
            return Some(ConnectionEnd::ConsumerGone);
        }
        None
    }

    /// Converts one decoded frame to packed RGB. Only taken frames get here.
    fn convert_to_rgb(&mut self, decoded: &frame::Video) -> Result<RgbImage, FrameSourceError> {
        let (width, height, format) = (decoded.width(), decoded.height(), decoded.format());
        let reusable = self.scaler.as_ref().is_some_and(|scaler| {
            let input = scaler.input();
            input.format == format && input.width == width && input.height == height
        });
        if !reusable {
            // No resize, so the filter only matters for chroma upsampling; bilinear is exact
            // enough and cheap.
            let scaler = scaling::Context::get(
                format,
                width,
                height,
                Pixel::RGB24,
                width,
                height,
                scaling::Flags::BILINEAR,
            )
            .map_err(|error| {
                FrameSourceError::Convert(format!("{format:?} {width}x{height}: {error}"))
            })?;
            self.scaler = Some(scaler);
        }
        let Some(scaler) = self.scaler.as_mut() else {
            return Err(FrameSourceError::Convert("no scaler".to_string()));
        };
        let mut rgb = frame::Video::empty();
        scaler
            .run(decoded, &mut rgb)
            .map_err(|error| FrameSourceError::Convert(error.to_string()))?;
        let row_bytes = width as usize * 3;
        let stride = rgb.stride(0);
        let data = rgb.data(0);
        let mut pixels = Vec::with_capacity(row_bytes * height as usize);
        for row in 0..height as usize {
            let start = row * stride;
            let Some(line) = data.get(start..start + row_bytes) else {
                return Err(FrameSourceError::Convert(
                    "RGB plane shorter than expected".to_string(),
                ));
            };
            pixels.extend_from_slice(line);
        }
        RgbImage::from_raw(width, height, pixels)
            .ok_or_else(|| FrameSourceError::Convert("RGB buffer size mismatch".to_string()))
    }
}
