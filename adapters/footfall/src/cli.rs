//! The `footfall` subcommands `count`, `users`, `run-schedule` and `db`: clap argument groups and
//! their behaviour, over any [`PeopleCounter`] (the detector in the binary, a fixed counter in
//! tests).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use footfall_job::{CountError, CountReport, Counting, PeopleCounter, count_stream_tracked};
use frame_source::{
    JobOptions, Limits, SamplingPolicy, SourceSpec, StopHandle, StreamHealth, UrlResolver,
};
use results_store::{NewUser, Store, StoreError, User};

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Usage(String),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Count(#[from] CountError),
    #[error(transparent)]
    Source(#[from] frame_source::FrameSourceError),
    #[error("cannot write to {}: {source}", path.display())]
    Output {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Makes sure `dir` exists and takes files, before any work that would be lost if it did not.
pub fn check_output_dir(dir: &std::path::Path) -> Result<(), CliError> {
    let output = |source| CliError::Output {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(output)?;
    let probe = dir.join(format!(".footfall-write-test-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(output)?;
    std::fs::remove_file(&probe).map_err(output)?;
    Ok(())
}

/// Parses `500ms`, `10s`, `5m`, `1h`, `2d` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (e.g. 500ms, 10s, 5m, 1h, 2d)"))?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "" | "s" | "sec" | "secs" => value,
        "m" | "min" | "mins" => value * 60.0,
        "h" | "hour" | "hours" => value * 3600.0,
        "d" | "day" | "days" => value * 86_400.0,
        other => {
            return Err(format!(
                "unknown duration unit `{other}` in `{text}` (use ms, s, m, h, d)"
            ));
        }
    };
    if !seconds.is_finite() || seconds <= 0.0 {
        return Err(format!("duration `{text}` must be positive"));
    }
    Duration::try_from_secs_f64(seconds).map_err(|err| format!("duration `{text}`: {err}"))
}

/// `--frames N --window D` | `--every T` | `--every-nth K`.
#[derive(Debug, Clone, Args)]
pub struct SamplingArgs {
    /// Frames to sample, spread over --window.
    #[arg(long, requires = "window", conflicts_with_all = ["every", "every_nth"])]
    pub frames: Option<u32>,
    /// Window for --frames (e.g. 60s).
    #[arg(long, value_parser = parse_duration, requires = "frames")]
    pub window: Option<Duration>,
    /// One frame every T of stream time (e.g. 10s). Default: 1s.
    #[arg(long, value_parser = parse_duration, conflicts_with = "every_nth")]
    pub every: Option<Duration>,
    /// Every k-th decoded frame.
    #[arg(long)]
    pub every_nth: Option<u32>,
}

impl SamplingArgs {
    /// The policy asked for, or one frame per second.
    pub fn policy(&self) -> SamplingPolicy {
        self.policy_or(SamplingPolicy::Every(Duration::from_secs(1)))
    }

    pub fn policy_or(&self, default: SamplingPolicy) -> SamplingPolicy {
        match (self.frames, self.window, self.every, self.every_nth) {
            (Some(frames), Some(window), _, _) => SamplingPolicy::Spread { frames, window },
            (_, _, Some(every), _) => SamplingPolicy::Every(every),
            (_, _, _, Some(k)) => SamplingPolicy::EveryNth(k),
            _ => default,
        }
    }
}

/// Bounds on one job (`Limits`).
#[derive(Debug, Clone, Args)]
pub struct LimitArgs {
    /// Give up opening the source after this long.
    #[arg(long, value_parser = parse_duration, default_value = "15s")]
    pub connect_timeout: Duration,
    /// A stream with no data for this long is stalled.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub read_timeout: Duration,
    /// Wall-clock limit of one job, reconnects included.
    #[arg(long, value_parser = parse_duration, default_value = "5m")]
    pub max_duration: Duration,
    /// Reconnect attempts when a live stream drops.
    #[arg(long, default_value_t = 3)]
    pub max_reconnects: u32,
}

impl LimitArgs {
    pub fn limits(&self) -> Limits {
        Limits {
            connect_timeout: self.connect_timeout,
            read_timeout: self.read_timeout,
            max_job_duration: self.max_duration,
            max_reconnects: self.max_reconnects,
            ..Limits::default()
        }
    }
}

/// `footfall count` arguments other than the detector's (model, weights, backend, thresholds).
#[derive(Debug, Clone, Args)]
pub struct CountArgs {
    /// File path, http(s) file, HLS playlist, rtsp:// URL, or a page URL (needs yt-dlp).
    pub source: String,
    #[command(flatten)]
    pub sampling: SamplingArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Frames per batch handed to the counter; not a flag here because the detector's own
    /// options (`--batch`) set it.
    #[arg(skip = 8usize)]
    pub batch: usize,
    /// One JSON document on stdout instead of text.
    #[arg(long)]
    pub json: bool,
    /// Write the annotated frame with the highest count into this folder.
    #[arg(long, value_name = "DIR")]
    pub annotate: Option<PathBuf>,
    /// Track people (ByteTrack) at this many samples per second and report unique people, and
    /// line and zone counts (default 10 when --line or --zone is given; sets the sampling).
    #[arg(long, value_name = "F", conflicts_with_all = ["frames", "every", "every_nth"])]
    pub fps: Option<f64>,
    /// A counting line in source pixels, NAME=X1,Y1,X2,Y2 (repeatable): a person's feet crossing
    /// it from the left of the directed segment P1->P2 to its right count `in` (a vertical line
    /// drawn top to bottom counts left-to-right as in), the reverse `out`.
    #[arg(long = "line", value_name = "NAME=X1,Y1,X2,Y2")]
    pub lines: Vec<footfall_tracking::Line>,
    /// A zone in source pixels, NAME=X1,Y1,X2,Y2,X3,Y3[,...] (repeatable): people inside per
    /// sample, visits and dwell times.
    #[arg(long = "zone", value_name = "NAME=X1,Y1,...")]
    pub zones: Vec<footfall_tracking::Zone>,
}

impl CountArgs {
    /// The tracking rate, when this is a tracking job (--fps, --line or --zone).
    pub fn tracking_fps(&self) -> Option<f64> {
        match self.fps {
            Some(fps) => Some(fps),
            None if !self.lines.is_empty() || !self.zones.is_empty() => Some(10.0),
            None => None,
        }
    }
}

/// What `footfall count` produced.
#[derive(Debug, Clone)]
pub struct CountOutcome {
    pub report: CountReport,
    pub annotated: Option<PathBuf>,
}

impl CountOutcome {
    /// Process exit status: 130 when stopped by Ctrl-C (what was counted is printed), else 0
    /// when the stream was healthy and 3 otherwise (the report is still printed).
    pub fn exit_code(&self) -> u8 {
        if self.report.stream.stopped {
            130
        } else if self.report.health == StreamHealth::Ok {
            0
        } else {
            3
        }
    }
}

/// JPEG quality of the pictures `--annotate` writes (as the detector counter's).
const ANNOTATED_JPEG_QUALITY: u8 = 85;

/// The busiest frame of a tracking job as drawn: its tracks, each zone's occupancy then, and
/// each line's counts up to and including that sample.
fn tracking_overlay(
    report: &CountReport,
    busiest: &footfall_job::BusiestFrame,
    lines: &[footfall_tracking::Line],
    zones: &[footfall_tracking::Zone],
) -> detector_prepost::annotate::TrackingOverlay {
    use detector_prepost::annotate::{LineMark, TrackMark, ZoneMark};
    let upto = report
        .samples
        .iter()
        .take_while(|s| s.t <= busiest.t)
        .filter(|s| s.people.is_some());
    let mut crossed = vec![(0, 0); lines.len()];
    let mut inside = vec![0; zones.len()];
    for sample in upto {
        for (total, (ins, outs)) in crossed.iter_mut().zip(&sample.lines) {
            total.0 += ins;
            total.1 += outs;
        }
        inside = sample.zones.clone();
    }
    detector_prepost::annotate::TrackingOverlay {
        tracks: busiest
            .tracks
            .iter()
            // Lost tracks are predictions, not people in this frame.
            .filter(|t| t.state != footfall_tracking::TrackState::Lost)
            .map(|t| TrackMark {
                id: t.id,
                bbox: t.bbox,
                confirmed: t.state == footfall_tracking::TrackState::Tracked,
            })
            .collect(),
        lines: lines
            .iter()
            .zip(&crossed)
            .map(|(line, (ins, outs))| LineMark {
                name: line.name.clone(),
                from: line.p1,
                to: line.p2,
                ins: *ins,
                outs: *outs,
            })
            .collect(),
        zones: zones
            .iter()
            .enumerate()
            .map(|(i, zone)| ZoneMark {
                name: zone.name.clone(),
                points: zone.points.clone(),
                inside: inside.get(i).copied().unwrap_or(0),
            })
            .collect(),
        people: busiest.people,
    }
}

/// Runs `footfall count`: one job, per-sample lines (or JSON), summary, annotated picture.
/// A progress bar goes to stderr when it is a terminal and `--json` is off.
pub fn run_count(
    args: &CountArgs,
    counter: &dyn PeopleCounter,
    resolver: &dyn UrlResolver,
    out: &mut dyn Write,
) -> Result<CountOutcome, CliError> {
    run_count_until(args, counter, resolver, StopHandle::new(), out)
}

/// [`run_count`] that stops early once `stop` is stopped (Ctrl-C), and still prints the report
/// of what it counted.
pub fn run_count_until(
    args: &CountArgs,
    counter: &dyn PeopleCounter,
    resolver: &dyn UrlResolver,
    stop: StopHandle,
    out: &mut dyn Write,
) -> Result<CountOutcome, CliError> {
    // A picture folder that cannot be written fails now, not after the whole job.
    if let Some(dir) = &args.annotate {
        check_output_dir(dir)?;
    }
    let tracking = match args.tracking_fps() {
        Some(fps) if !(fps > 0.0 && fps <= 60.0) => {
            return Err(CliError::Usage(format!(
                "--fps {fps}: expected a rate above 0 and at most 60"
            )));
        }
        Some(fps) => {
            let counting = footfall_tracking::Counting::new(footfall_tracking::CountingConfig {
                tracker: footfall_tracking::TrackerConfig {
                    frame_rate: fps,
                    ..Default::default()
                },
                lines: args.lines.clone(),
                zones: args.zones.clone(),
                ..Default::default()
            })
            .map_err(|err| CliError::Usage(err.to_string()))?;
            Some(counting)
        }
        None => None,
    };
    let sampling = match args.tracking_fps() {
        Some(fps) => SamplingPolicy::Every(Duration::from_secs_f64(1.0 / fps)),
        None => args.sampling.policy(),
    };
    let spec = SourceSpec::parse(&args.source)?.resolve(resolver)?;
    let options = JobOptions {
        sampling,
        limits: args.limits.limits(),
        batch_size: args.batch.max(1),
        ..JobOptions::default()
    };
    let progress = (!args.json && std::io::stderr().is_terminal()).then(|| {
        let bar = match options.sampling {
            SamplingPolicy::Spread { frames, .. } => indicatif::ProgressBar::new(u64::from(frames)),
            _ => indicatif::ProgressBar::new_spinner(),
        };
        bar.set_message("opening source");
        bar
    });
    let mut lines = Vec::new();
    let report = count_stream_tracked(spec, options, counter, stop, tracking, &mut |samples| {
        for sample in samples {
            if !args.json {
                lines.push(match sample.people {
                    Some(people) => format!("t={:>8.2}s  people={people}", sample.t),
                    None => format!(
                        "t={:>8.2}s  people=-  (no frame: a hole in the stream)",
                        sample.t
                    ),
                });
            }
            if let Some(bar) = &progress {
                bar.inc(1);
                let people = sample.people.map_or("-".into(), |p| p.to_string());
                bar.set_message(format!("t={:.1}s people={people}", sample.t));
            }
        }
    })?;
    if let Some(bar) = &progress {
        bar.finish_and_clear();
    }
    let stream = &report.stream;
    tracing::info!(
        health = %report.health,
        frames = report.frames(),
        frames_decoded = stream.frames_decoded,
        elapsed_ms = stream.elapsed.as_millis() as u64,
        decode_ms = stream.decode_time.as_millis() as u64,
        rgb_ms = stream.convert_time.as_millis() as u64,
        count_ms = report.count_time.as_millis() as u64,
        wait_for_frames_ms = report.wait_time.as_millis() as u64,
        "count job finished"
    );
    let annotated = match (&args.annotate, &report.busiest) {
        (Some(dir), Some(busiest)) => {
            let jpeg = match report.tracking {
                // A tracking job draws what it tracked: no second detection pass.
                Some(_) => {
                    let overlay = tracking_overlay(&report, busiest, &args.lines, &args.zones);
                    let image =
                        detector_prepost::annotate::annotate_tracking(&busiest.image, &overlay);
                    detector_prepost::annotate::encode_jpeg(&image, ANNOTATED_JPEG_QUALITY)
                        .map_err(|err| CliError::Count(CountError::Counter(err.into())))?
                }
                None => counter
                    .annotated_jpeg(&busiest.image)
                    .map_err(|err| CliError::Count(CountError::Counter(err)))?,
            };
            let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
            let path = dir.join(format!(
                "footfall-{stamp}-t{:.2}s-{}p.jpg",
                busiest.t, busiest.people
            ));
            std::fs::write(&path, jpeg).map_err(|source| CliError::Output {
                path: path.clone(),
                source,
            })?;
            Some(path)
        }
        _ => None,
    };
    if args.json {
        serde_json::to_writer(&mut *out, &report.to_json(annotated.as_deref()))
            .map_err(std::io::Error::other)?;
        writeln!(out)?;
    } else {
        for line in &lines {
            writeln!(out, "{line}")?;
        }
        let show = |value: Option<usize>| value.map_or_else(|| "-".to_string(), |v| v.to_string());
        writeln!(
            out,
            "health={} frames={} max={} median={} p90={}",
            report.health,
            report.frames(),
            show(report.summary.max),
            show(report.summary.median),
            show(report.summary.p90)
        )?;
        if let Some(tracked) = &report.tracking {
            writeln!(
                out,
                "tracking: fps={} unique_people={}",
                tracked.tracking.fps, tracked.tracking.unique_people
            )?;
            for line in &tracked.lines {
                writeln!(out, "line {}: in={} out={}", line.name, line.ins, line.outs)?;
            }
            // `-` where there is no figure (no sample with data, no visit).
            let or_dash = |v: Option<String>| v.unwrap_or_else(|| "-".into());
            for zone in &tracked.zones {
                writeln!(
                    out,
                    "zone {}: max={} mean={} visits={} mean_dwell_s={} max_dwell_s={}",
                    zone.name,
                    or_dash(zone.max.map(|v| v.to_string())),
                    or_dash(zone.mean.map(|v| format!("{v:.2}"))),
                    zone.visits,
                    or_dash(zone.mean_dwell_s.map(|v| format!("{v:.2}"))),
                    or_dash(zone.max_dwell_s.map(|v| format!("{v:.2}"))),
                )?;
            }
        }
        if let Some(error) = &report.stream.error {
            writeln!(out, "stream: {error}")?;
        }
        if report.stream.stopped {
            writeln!(
                out,
                "stopped: interrupted; the counts above are what was sampled"
            )?;
        }
        if let Some(path) = &annotated {
            writeln!(out, "annotated: {}", path.display())?;
        }
    }
    Ok(CountOutcome { report, annotated })
}

/// `footfall run-schedule` arguments other than the detector's.
#[derive(Debug, Clone, Args)]
pub struct RunScheduleArgs {
    /// EventBridge schedule, UTC: `cron(0 * * * ? *)`, the six cron fields alone
    /// (`0 0/1 * * ? *`), or `rate(1 hour)`.
    #[arg(long, value_name = "EXPRESSION")]
    pub cron: String,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub sampling: SamplingArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Jobs running at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Run each job's frames through the detector alone, instead of joining the frames of jobs
    /// that wait for it into one forward pass (for comparison; joining adds no latency).
    #[arg(long)]
    pub no_cross_stream_batching: bool,
    /// Delete annotated pictures older than this many days (0 keeps them).
    #[arg(long, default_value_t = 30)]
    pub retention_days: u32,
    /// Delete result rows (and sent alerts) older than this many days, so the database stays
    /// bounded (0 keeps them; the CSV files keep every line).
    #[arg(long, default_value_t = 365)]
    pub keep_results_days: u32,
    /// Minimum time between two alert emails for the same user.
    #[arg(long, value_parser = parse_duration, default_value = "1h")]
    pub cooldown: Duration,
    /// SMTP server for alerts (smtp://host:port, smtp://user:pass@host:587?tls=required,
    /// smtps://host:465). Without it, alerts are log lines.
    #[arg(long, env = "FOOTFALL_SMTP_URL")]
    pub smtp_url: Option<String>,
    /// Sender address of alert emails.
    #[arg(long, env = "FOOTFALL_SMTP_FROM", default_value = "footfall@localhost")]
    pub smtp_from: String,
    /// Longest SMTP conversation for one alert (connect, greeting, every command): a hung or
    /// wrong-port server costs this much, never more.
    #[arg(long, value_parser = parse_duration, default_value = "60s")]
    pub smtp_timeout: Duration,
    /// After SIGTERM or SIGINT, how long running jobs may still finish (their results are
    /// stored); a second signal exits at once.
    #[arg(long, value_parser = parse_duration, default_value = "30s")]
    pub grace: Duration,
    /// Run the tick the schedule last reached (named after it, so overlapping launches in one
    /// period share a run) and exit: for an external scheduler such as cron.
    #[arg(long)]
    pub once: bool,
    /// Also serve the web pages, API and metrics (`footfall serve`) on this address, in this
    /// process (not with --once).
    #[arg(long, value_name = "ADDR", conflicts_with = "once")]
    pub serve: Option<std::net::SocketAddr>,
    /// Token the web server requires on every route but /healthz (needed for any address
    /// other than loopback).
    #[arg(long, env = footfall_web::TOKEN_ENV, hide_env_values = true)]
    pub token: Option<String>,
}

/// `footfall serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Address to listen on; anything but loopback needs --token.
    #[arg(long, default_value = footfall_web::DEFAULT_BIND)]
    pub bind: std::net::SocketAddr,
    /// Token required on every route but /healthz (Authorization: Bearer, or /login?token=).
    #[arg(long, env = footfall_web::TOKEN_ENV, hide_env_values = true)]
    pub token: Option<String>,
}

impl ServeArgs {
    fn config(&self) -> footfall_web::ServeConfig {
        serve_config(self.bind, &self.store, self.token.clone())
    }
}

fn serve_config(
    bind: std::net::SocketAddr,
    store: &StoreArgs,
    token: Option<String>,
) -> footfall_web::ServeConfig {
    footfall_web::ServeConfig {
        // Pictures live in the data folder (a --db URL alone may still have one beside it).
        data_dir: Some(store.data_dir.clone()),
        token,
        ..footfall_web::ServeConfig::new(bind)
    }
}

/// Runs `footfall serve` until SIGTERM / SIGINT.
pub async fn run_serve(args: &ServeArgs) -> Result<(), CliError> {
    let config = args.config();
    config
        .check()
        .map_err(|err| CliError::Usage(err.to_string()))?;
    let store = args.store.connect().await?;
    let (trigger, shutdown) = local_runner::shutdown::channel();
    let signals = tokio::spawn(local_runner::shutdown::request_on_signals(trigger));
    let served = footfall_web::serve(
        store.clone(),
        &config,
        async move { shutdown.requested().await },
    )
    .await;
    signals.abort();
    store.close().await;
    served.map_err(|err| CliError::Usage(err.to_string()))
}

/// Default sampling of scheduled jobs: 10 frames over 30 s, so an every-minute schedule never
/// overlaps itself.
pub const SCHEDULE_DEFAULT_SAMPLING: SamplingPolicy = SamplingPolicy::Spread {
    frames: 10,
    window: Duration::from_secs(30),
};

/// `run-schedule` exit status when alerts could not be sent yet: they stay queued in the
/// database and the next run (or the running scheduler) sends them.
pub const EXIT_ALERTS_PENDING: u8 = 4;

/// Runs `footfall run-schedule` until SIGTERM / SIGINT (or one tick with `--once`). Returns the
/// exit status: 0, or [`EXIT_ALERTS_PENDING`].
pub async fn run_schedule(
    args: &RunScheduleArgs,
    counter: std::sync::Arc<dyn PeopleCounter>,
    resolver: std::sync::Arc<dyn UrlResolver>,
    out: &mut dyn Write,
) -> Result<u8, CliError> {
    use std::sync::Arc;

    use footfall_domain::schedule::Schedule;
    use footfall_domain::sinks::Notifier;
    use local_runner::outbox::{AlertSender, OutboxNotifier, OutboxPolicy};
    use local_runner::scheduler::{Scheduler, SchedulerConfig};
    use local_runner::shutdown;
    use local_runner::smtp::{Mailer, SmtpNotifier, SmtpSettings};

    let schedule = Schedule::parse(&args.cron).map_err(|err| CliError::Usage(err.to_string()))?;
    let mailer = match &args.smtp_url {
        Some(url) => Some(Arc::new(
            Mailer::new(&SmtpSettings {
                url: url.clone(),
                from: args.smtp_from.clone(),
                deadline: args.smtp_timeout,
            })
            .map_err(|err| CliError::Usage(err.to_string()))?,
        )),
        None => {
            tracing::warn!(
                "no SMTP server configured (--smtp-url / FOOTFALL_SMTP_URL): alerts will be log lines"
            );
            None
        }
    };
    let store = args.store.connect().await?;
    let (trigger, shutdown) = shutdown::channel();
    // The web server binds before the first tick, so a taken port fails at once.
    let server = match args.serve {
        Some(bind) => {
            let config = serve_config(bind, &args.store, args.token.clone());
            let server = footfall_web::Server::bind(store.clone(), &config)
                .await
                .map_err(|err| CliError::Usage(err.to_string()))?;
            let stop = shutdown.clone();
            Some(tokio::spawn(
                server.run(async move { stop.requested().await }),
            ))
        }
        None => None,
    };
    let wake = Arc::new(tokio::sync::Notify::new());
    // With a server, the job only queues its alert; the sender delivers it off the job's path.
    let (notifier, sender): (Arc<dyn Notifier>, Option<Arc<AlertSender>>) = match &mailer {
        Some(mailer) => (
            Arc::new(OutboxNotifier {
                store: store.clone(),
                mailer: mailer.clone(),
                wake: wake.clone(),
            }),
            Some(Arc::new(AlertSender {
                store: store.clone(),
                mailer: mailer.clone(),
                data_dir: args.store.data_dir.clone(),
                policy: OutboxPolicy {
                    // A send of another live process must never look interrupted.
                    interrupted_after: OutboxPolicy::default()
                        .interrupted_after
                        .max(args.smtp_timeout.saturating_mul(2)),
                    ..OutboxPolicy::default()
                },
            })),
        ),
        None => (
            Arc::new(SmtpNotifier::new(None).map_err(|err| CliError::Usage(err.to_string()))?),
            None,
        ),
    };
    let config = SchedulerConfig {
        data_dir: args.store.data_dir.clone(),
        concurrency: args.concurrency.max(1),
        image_retention_days: args.retention_days,
        job_options: JobOptions {
            sampling: args.sampling.policy_or(SCHEDULE_DEFAULT_SAMPLING),
            limits: args.limits.limits(),
            ..JobOptions::default()
        },
        alert_cooldown: chrono::Duration::from_std(args.cooldown).unwrap_or(chrono::Duration::MAX),
        shutdown_grace: args.grace,
        result_retention_days: args.keep_results_days,
    };
    let scheduler = Scheduler::new(
        store.clone(),
        Counting { counter, resolver },
        notifier,
        config,
    );
    let signals = tokio::spawn(shutdown::request_on_signals(trigger));

    let result = if args.once {
        let now = chrono::Utc::now();
        let tick = schedule.latest_at_or_before(now).unwrap_or(now);
        match scheduler.run_tick_until(tick, &shutdown).await {
            Ok(summary) => write_tick(&summary, out).map_err(CliError::from),
            Err(err) => Err(CliError::Usage(err.to_string())),
        }
    } else {
        let sending = sender.clone().map(|sender| {
            let (wake, shutdown) = (wake.clone(), shutdown.clone());
            tokio::spawn(async move { sender.run(wake, Duration::from_secs(10), shutdown).await })
        });
        let ran = scheduler
            .run(&schedule, &args.cron, &shutdown)
            .await
            .map_err(|err| CliError::Usage(err.to_string()));
        if let Some(sending) = sending {
            // The sender saw the same request; its current send ends within its deadline.
            let _ = sending.await;
        }
        ran
    };
    // Alerts queued by this run (and earlier ones due again) go out now, within a bound.
    let mut status = 0;
    if let (Some(sender), true) = (&sender, result.is_ok()) {
        if args.once && !shutdown.is_requested() {
            let report = sender.send_due(args.smtp_timeout.saturating_mul(3)).await;
            tracing::debug!(?report, "alerts sent");
        }
        match sender.counts().await {
            Ok(counts) if counts.undelivered() > 0 => {
                tracing::warn!(
                    pending = counts.undelivered(),
                    "alerts not sent yet: they stay queued and the next run sends them"
                );
                writeln!(out, "alerts pending: {}", counts.undelivered())?;
                status = EXIT_ALERTS_PENDING;
            }
            Ok(_) => {}
            Err(error) => tracing::error!(%error, "alert outbox unreadable"),
        }
    }
    if let Some(server) = server {
        match server.await {
            Ok(Err(error)) => tracing::error!(%error, "web server failed"),
            Err(error) => tracing::error!(%error, "web server task failed"),
            Ok(Ok(())) => {}
        }
    }
    signals.abort();
    store.close().await;
    result.map(|()| status)
}

/// One line per user of a `--once` tick.
fn write_tick(
    summary: &local_runner::scheduler::TickSummary,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    for outcome in &summary.outcomes {
        let record = &outcome.record;
        let people = record
            .people_count
            .map_or_else(|| "-".to_string(), |n| n.to_string());
        writeln!(
            out,
            "{} {} health={} people={} frames={}{}",
            summary.run_id,
            record.user_id,
            record.health,
            people,
            record.frames,
            outcome
                .error
                .as_ref()
                .map(|e| format!(" error={e}"))
                .unwrap_or_default()
        )?;
    }
    for user in &summary.not_started {
        writeln!(out, "{} {user} not started (shutdown)", summary.run_id)?;
    }
    for user in &summary.abandoned {
        writeln!(
            out,
            "{} {user} cut off by shutdown: not stored",
            summary.run_id
        )?;
    }
    Ok(())
}

/// Where data lives: the database and the data folder (results/, images/).
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Data folder holding results/{user_id}.csv, images/ and the default database.
    /// Accepted before or after a `users` action (`users list --data-dir D`).
    #[arg(
        long,
        env = "FOOTFALL_DATA_DIR",
        default_value = "footfall-data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// Database URL: sqlite://PATH or
    /// mysql://USER:PASS@HOST/DB[?ssl-mode=VERIFY_IDENTITY&ssl-ca=CA.pem]. Default: sqlite in
    /// --data-dir.
    #[arg(long, env = "FOOTFALL_DB", global = true)]
    pub db: Option<String>,
}

impl StoreArgs {
    pub fn database_url(&self) -> String {
        self.db
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("footfall.db").display()))
    }

    /// Opens the database: SQLite migrates on open; MySQL only checks the schema (`footfall db
    /// migrate` with an admin login applies migrations there).
    pub async fn connect(&self) -> Result<Store, CliError> {
        if self.db.is_none() {
            std::fs::create_dir_all(&self.data_dir)?;
        }
        Ok(Store::connect(&self.database_url()).await?)
    }
}

/// `footfall db ...`: the database schema.
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(subcommand)]
    pub action: DbAction,
}

#[derive(Debug, Clone, Subcommand)]
pub enum DbAction {
    /// Apply the migrations this build brings. MySQL: run once per deploy with an admin login
    /// (CREATE, ALTER, DROP, INDEX); the application's login cannot, and its connections only
    /// check the schema. SQLite files also migrate when opened.
    Migrate,
}

/// Runs `footfall db ...`, printing each applied migration, then the schema's version.
pub async fn run_db(args: &DbArgs, out: &mut dyn Write) -> Result<(), CliError> {
    match args.action {
        DbAction::Migrate => {
            if args.store.db.is_none() {
                std::fs::create_dir_all(&args.store.data_dir)?;
            }
            let report = Store::migrate(&args.store.database_url()).await?;
            for migration in &report.applied {
                writeln!(
                    out,
                    "applied {} {}",
                    migration.version, migration.description
                )?;
            }
            writeln!(out, "schema up to date (version {})", report.version)?;
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Args)]
pub struct UsersArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(subcommand)]
    pub action: UsersAction,
}

#[derive(Debug, Clone, Subcommand)]
pub enum UsersAction {
    /// Add a user to monitor.
    Add {
        user_id: String,
        /// Stream to watch (file, http(s), HLS, rtsp, or a page URL resolved by yt-dlp).
        #[arg(long = "url", alias = "streaming-url")]
        url: String,
        /// Where alerts go.
        #[arg(long)]
        email: String,
        /// Alert when more people than this are counted.
        #[arg(long, default_value_t = results_store::DEFAULT_THRESHOLD)]
        threshold: u32,
        /// Add without monitoring (enable later).
        #[arg(long)]
        disabled: bool,
    },
    /// List users.
    List {
        /// JSON array of config rows.
        #[arg(long)]
        json: bool,
    },
    /// Start monitoring a user.
    Enable { user_id: String },
    /// Stop monitoring a user (keeps the user and results).
    Disable { user_id: String },
    /// Delete a user (results stay).
    Remove { user_id: String },
    /// Set a user's job configuration: tracking rate, counting lines, zones and the
    /// debounced alert rule (the threshold stays the user's). Replaces the whole configuration;
    /// --clear goes back to the plain job.
    SetTracking {
        user_id: String,
        /// Tracking rate, frames per second, above 0 and at most 30 (default 10 with --line or
        /// --zone; without them the job counts at the runner's rate).
        #[arg(long)]
        fps: Option<f64>,
        /// A counting line, NAME=X1,Y1,X2,Y2 in source pixels (repeatable, at most 16).
        #[arg(long = "line", value_name = "NAME=X1,Y1,X2,Y2")]
        lines: Vec<String>,
        /// A zone, NAME=X1,Y1,X2,Y2,X3,Y3[,...] (repeatable, at most 16, 3 to 64 points).
        #[arg(long = "zone", value_name = "NAME=X1,Y1,...")]
        zones: Vec<String>,
        /// What to alert on: people (default), zone:NAME (its occupancy) or
        /// line:NAME:in|out|total (crossings within --window seconds).
        #[arg(long, value_name = "METRIC")]
        alert: Option<String>,
        /// The trailing window of a line metric, seconds (default 60).
        #[arg(long, value_name = "SECONDS")]
        window: Option<f64>,
        /// Alert when k of the last n samples exceed the threshold (default 1 of 1).
        #[arg(long)]
        k: Option<usize>,
        #[arg(long)]
        n: Option<usize>,
        /// Re-arm only after a sample below threshold - margin (default 0).
        #[arg(long)]
        margin: Option<f64>,
        /// The whole configuration as JSON instead of the flags.
        #[arg(long, value_name = "JSON", conflicts_with_all = ["fps", "lines", "zones", "alert", "window", "k", "n", "margin"])]
        json: Option<String>,
        /// Remove the configuration: the plain job again.
        #[arg(long, conflicts_with_all = ["fps", "lines", "zones", "alert", "window", "k", "n", "margin", "json"])]
        clear: bool,
    },
    /// Print a user's job configuration as JSON (`null` for the plain job).
    ShowTracking { user_id: String },
}

/// The configuration `users set-tracking` gives, checked by the one parser
/// ([`footfall_tracking::JobConfig`]), so the CLI, the store and the AWS payloads agree.
fn tracking_from_args(
    action: &UsersAction,
) -> Result<Option<footfall_tracking::JobConfig>, CliError> {
    let UsersAction::SetTracking {
        fps,
        lines,
        zones,
        alert,
        window,
        k,
        n,
        margin,
        json,
        clear,
        ..
    } = action
    else {
        return Ok(None);
    };
    if *clear {
        return Ok(None);
    }
    let usage = |e: footfall_tracking::JobConfigError| CliError::Usage(format!("tracking: {e}"));
    if let Some(json) = json {
        return footfall_tracking::JobConfig::from_json(json)
            .map(Some)
            .map_err(usage);
    }
    let mut value = serde_json::json!({ "lines": lines, "zones": zones });
    if let Some(fps) = fps {
        value["fps"] = serde_json::json!(fps);
    }
    if alert.is_some() || window.is_some() || k.is_some() || n.is_some() || margin.is_some() {
        let mut rule = serde_json::json!({ "metric": alert.as_deref().unwrap_or("people") });
        for (key, v) in [
            ("window_s", window.map(|v| serde_json::json!(v))),
            ("k", k.map(|v| serde_json::json!(v))),
            ("n", n.map(|v| serde_json::json!(v))),
            ("margin", margin.map(|v| serde_json::json!(v))),
        ] {
            if let Some(v) = v {
                rule[key] = v;
            }
        }
        value["alert"] = rule;
    }
    footfall_tracking::JobConfig::from_value(&value)
        .map(Some)
        .map_err(usage)
}

/// Runs `footfall users ...`, printing to `out`.
pub async fn run_users(args: &UsersArgs, out: &mut dyn Write) -> Result<(), CliError> {
    // Validate the source text before storing it, so a typo fails now, not at 3 a.m.
    // The email with the rule the sender applies, so an address that could never be mailed
    // (a list, a header injection, a quoted local part) is refused now, not silently later.
    if let UsersAction::Add { url, email, .. } = &args.action {
        frame_source::SourceSpec::parse(url).map_err(|err| CliError::Usage(err.to_string()))?;
        local_runner::smtp::parse_address(email).map_err(|err| CliError::Usage(err.to_string()))?;
    }
    // A configuration is checked before the database is opened.
    let tracking = tracking_from_args(&args.action)?;
    let store = args.store.connect().await?;
    let result = users_action(&store, &args.action, tracking.as_ref(), out).await;
    store.close().await;
    result
}

async fn users_action(
    store: &Store,
    action: &UsersAction,
    tracking: Option<&footfall_tracking::JobConfig>,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    match action {
        UsersAction::Add {
            user_id,
            url,
            email,
            threshold,
            disabled,
        } => {
            let user = NewUser {
                user_id: user_id.clone(),
                streaming_url: url.clone(),
                email: email.clone(),
                threshold: *threshold,
                monitored: !disabled,
            };
            let added = store.add_user(&user).await?;
            writeln!(
                out,
                "added user {} ({})",
                added.user_id,
                if added.monitored() {
                    "monitored"
                } else {
                    "disabled"
                }
            )?;
        }
        UsersAction::List { json } => {
            let users = store.list_users().await?;
            if *json {
                serde_json::to_writer_pretty(&mut *out, &users).map_err(std::io::Error::other)?;
                writeln!(out)?;
            } else {
                write_user_table(&users, out)?;
            }
        }
        UsersAction::Enable { user_id } => {
            store.enable_user(user_id).await?;
            writeln!(out, "enabled {user_id}")?;
        }
        UsersAction::Disable { user_id } => {
            store.disable_user(user_id).await?;
            writeln!(out, "disabled {user_id}")?;
        }
        UsersAction::Remove { user_id } => {
            store.remove_user(user_id).await?;
            writeln!(out, "removed {user_id}")?;
        }
        UsersAction::SetTracking { user_id, .. } => {
            store.set_tracking(user_id, tracking).await?;
            match tracking {
                Some(config) => writeln!(out, "tracking of {user_id}: {}", config.to_json())?,
                None => writeln!(out, "tracking of {user_id} cleared (plain job)")?,
            }
        }
        UsersAction::ShowTracking { user_id } => {
            let user = store
                .get_user(user_id)
                .await?
                .ok_or_else(|| StoreError::UnknownUser(user_id.clone()))?;
            match user.job_config() {
                Ok(Some(config)) => writeln!(out, "{}", config.to_json())?,
                Ok(None) => writeln!(out, "null")?,
                Err(e) => {
                    return Err(CliError::Usage(format!(
                        "stored tracking of {user_id}: {e}"
                    )));
                }
            }
        }
    }
    Ok(())
}

fn write_user_table(users: &[User], out: &mut dyn Write) -> std::io::Result<()> {
    if users.is_empty() {
        return writeln!(out, "no users");
    }
    writeln!(
        out,
        "{:<20} {:<9} {:>9}  {:<30} streaming_URL",
        "user_id", "monitored", "threshold", "email"
    )?;
    for user in users {
        writeln!(
            out,
            "{:<20} {:<9} {:>9}  {:<30} {}",
            user.user_id,
            if user.monitored() { "yes" } else { "no" },
            user.threshold,
            user.email,
            // A listing is shown: no stream credentials (`--json` exports the config as stored).
            footfall_domain::redact_url(&user.streaming_url)
        )?;
        // Users with a job configuration get a second line (the table is unchanged without).
        if let Some(tracking) = &user.tracking {
            writeln!(out, "{:<20} tracking {tracking}", "")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("60"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5m"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5 fortnights").unwrap_err().contains("unit"));
    }
}
