//! Real decoding of the shared test video over real loopback HTTP servers.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use frame_source::{
    FrameSourceError, FrameStream, JobOptions, Limits, SamplingPolicy, SourceSpec, StopHandle,
    StreamHealth, UrlResolver, collect,
};
use stream_server::{Fault, LoopbackServer, shared_dir};

fn shared() -> PathBuf {
    shared_dir().unwrap_or_else(|message| panic!("{message}"))
}

fn manifest() -> serde_json::Value {
    let text =
        std::fs::read_to_string(shared().join("video/manifest.json")).expect("manifest.json");
    serde_json::from_str(&text).expect("manifest.json is JSON")
}

/// Limits small enough that fault tests finish in seconds.
fn quick_limits() -> Limits {
    Limits {
        connect_timeout: Duration::from_secs(3),
        read_timeout: Duration::from_secs(2),
        max_job_duration: Duration::from_secs(30),
        max_reconnects: 2,
        backoff_initial: Duration::from_millis(100),
        backoff_max: Duration::from_millis(400),
        ..Limits::default()
    }
}

fn options(sampling: SamplingPolicy) -> JobOptions {
    JobOptions {
        sampling,
        limits: quick_limits(),
        ..JobOptions::default()
    }
}

fn hls_server(fault: Fault) -> LoopbackServer {
    LoopbackServer::serve_dir(&shared().join("video/hls"), fault).expect("loopback server")
}

#[test]
fn hls_over_loopback_gives_every_frame_with_manifest_timestamps() {
    let manifest = manifest();
    let server = hls_server(Fault::None);
    let spec = SourceSpec::parse(&server.url("people.m3u8")).unwrap();
    let mut stream = FrameStream::open(spec, options(SamplingPolicy::EveryNth(1))).unwrap();
    let mut frames = Vec::new();
    for batch in stream.by_ref() {
        assert!(!batch.is_empty() && batch.len() <= JobOptions::default().batch_size);
        frames.extend(batch);
    }
    let report = stream.finish();
    assert_eq!(report.health, StreamHealth::Ok, "{report:?}");
    assert_eq!(frames.len() as u64, manifest["frames"].as_u64().unwrap());
    let fps = manifest["fps"].as_f64().unwrap();
    for (i, frame) in frames.iter().enumerate() {
        assert!(
            (frame.t - i as f64 / fps).abs() < 1e-3,
            "frame {i} at t={}",
            frame.t
        );
        assert_eq!(frame.index, i as u64);
        assert_eq!(
            frame.image.dimensions(),
            (
                manifest["width"].as_u64().unwrap() as u32,
                manifest["height"].as_u64().unwrap() as u32
            )
        );
    }
    // Each frame's second maps to the manifest's frame ranges.
    for second in manifest["per_second"].as_array().unwrap() {
        let range = second["frames"].as_array().unwrap();
        let (first, last) = (
            range[0].as_u64().unwrap() as usize,
            range[1].as_u64().unwrap() as usize,
        );
        let s = second["second"].as_f64().unwrap();
        assert!(frames[first].t >= s - 1e-3 && frames[last].t < s + 1.0);
    }
    assert!(
        report.live.eq(&false) && report.source_duration.is_some(),
        "{report:?}"
    );
}

#[test]
fn hls_one_frame_per_second_is_taken_at_whole_seconds() {
    let server = hls_server(Fault::None);
    let spec = SourceSpec::parse(&server.url("people.m3u8")).unwrap();
    let (frames, report) =
        collect(spec, options(SamplingPolicy::Every(Duration::from_secs(1)))).unwrap();
    assert_eq!(report.health, StreamHealth::Ok, "{report:?}");
    let times: Vec<f64> = frames.iter().map(|f| f.t).collect();
    assert_eq!(times.len(), 10, "{times:?}");
    for (i, t) in times.iter().enumerate() {
        assert!((t - i as f64).abs() < 1e-3, "{times:?}");
    }
    // The video has a keyframe every second, exactly where the samples are: only the keyframes
    // were decoded, the rest of each group of pictures was dropped undecoded.
    assert_eq!(report.frames_decoded, 10, "{report:?}");
    assert_eq!(report.frames_skipped, 240, "{report:?}");
    assert_eq!(report.frames_sampled, 10);
    assert_eq!(report.gap_seconds, 0.0, "{report:?}");
}

/// Re-encodes the shared video as HLS in a temporary folder with the given x264 settings.
fn reencoded_hls(name: &str, x264: &[&str]) -> LoopbackServer {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("gop-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let input = shared().join("video/people_10s_640x480.mp4");
    let status = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(&input)
        .args([
            "-an",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-sc_threshold",
            "0",
        ])
        .args(x264)
        .args(["-f", "hls", "-hls_time", "2", "-hls_playlist_type", "vod"])
        .arg(dir.join("stream.m3u8"))
        .status()
        .expect("ffmpeg (scripts/setup.sh installs it)");
    assert!(status.success(), "ffmpeg failed for {name}");
    LoopbackServer::serve_dir(&dir, Fault::None).expect("loopback server")
}

/// Samples one stream with and without leaving unneeded frames undecoded.
fn sampled_both_ways(
    server: &LoopbackServer,
    playlist: &str,
    sampling: SamplingPolicy,
) -> [(Vec<frame_source::SampledFrame>, frame_source::JobReport); 2] {
    [true, false].map(|skip| {
        let spec = SourceSpec::parse(&server.url(playlist)).unwrap();
        let (frames, report) = collect(
            spec,
            JobOptions {
                seek: skip,
                ..options(sampling)
            },
        )
        .unwrap();
        assert_eq!(report.health, StreamHealth::Ok, "{report:?}");
        (frames, report)
    })
}

fn assert_same_frames(a: &[frame_source::SampledFrame], b: &[frame_source::SampledFrame]) {
    assert_eq!(a.len(), b.len());
    for (a, b) in a.iter().zip(b) {
        assert!((a.t - b.t).abs() < 1e-6, "{} vs {}", a.t, b.t);
        assert!(a.image == b.image, "pixels differ at t={}", a.t);
    }
}

#[test]
fn frames_left_undecoded_never_change_the_samples() {
    // Keyframes every 1.6 s, samples every 1 s and every 0.3 s: the samples fall anywhere
    // in a group of pictures, so each is decoded from its keyframe on.
    let server = reencoded_hls("no-bframes", &["-bf", "0", "-g", "40", "-keyint_min", "40"]);
    for (every_ms, max_decoded) in [(1000, 180), (300, 250)] {
        let sampling = SamplingPolicy::Every(Duration::from_millis(every_ms));
        let [(skipping, skip_report), (full, full_report)] =
            sampled_both_ways(&server, "stream.m3u8", sampling);
        assert_same_frames(&skipping, &full);
        assert_eq!(full_report.frames_decoded, 250);
        assert_eq!(full_report.frames_skipped, 0);
        assert_eq!(
            skip_report.frames_decoded + skip_report.frames_skipped,
            250,
            "{skip_report:?}"
        );
        assert!(
            skip_report.frames_decoded < max_decoded,
            "every {every_ms} ms: {skip_report:?}"
        );
        assert_eq!(skip_report.gap_seconds, 0.0, "{skip_report:?}");
    }
}

#[test]
fn streams_with_b_frames_are_decoded_in_full() {
    // B-frames reorder the stream and an open GOP may refer across a keyframe: nothing is
    // dropped, and the samples are those of a full decode.
    let server = reencoded_hls("bframes", &["-bf", "3", "-g", "12"]);
    let sampling = SamplingPolicy::Every(Duration::from_secs(1));
    let [(skipping, skip_report), (full, _)] = sampled_both_ways(&server, "stream.m3u8", sampling);
    assert_same_frames(&skipping, &full);
    assert!(skip_report.frames_skipped <= 12, "{skip_report:?}");
}

#[test]
fn spread_policy_on_the_mp4_file() {
    let path = shared().join("video/people_10s_640x480.mp4");
    let spec = SourceSpec::parse(path.to_str().unwrap()).unwrap();
    let sampling = SamplingPolicy::Spread {
        frames: 5,
        window: Duration::from_secs(10),
    };
    let (frames, report) = collect(spec, options(sampling)).unwrap();
    assert_eq!(report.health, StreamHealth::Ok, "{report:?}");
    let times: Vec<f64> = frames.iter().map(|f| f.t).collect();
    assert_eq!(times.len(), 5);
    for (i, t) in times.iter().enumerate() {
        assert!((t - 2.0 * i as f64).abs() < 1e-3, "{times:?}");
    }
}

#[test]
fn seeking_gives_the_same_frames_as_decoding_everything() {
    let path = shared().join("video/people_10s_640x480.mp4");
    let spec = SourceSpec::parse(path.to_str().unwrap()).unwrap();
    let sampling = SamplingPolicy::Every(Duration::from_millis(2500));
    let (seek_frames, seek_report) = collect(
        spec.clone(),
        JobOptions {
            seek: true,
            ..options(sampling)
        },
    )
    .unwrap();
    let (linear_frames, linear_report) = collect(
        spec,
        JobOptions {
            seek: false,
            ..options(sampling)
        },
    )
    .unwrap();
    assert_eq!(seek_report.health, StreamHealth::Ok, "{seek_report:?}");
    assert_eq!(linear_report.health, StreamHealth::Ok);
    assert!(seek_report.seeks > 0, "{seek_report:?}");
    assert!(
        seek_report.frames_decoded < linear_report.frames_decoded,
        "{seek_report:?}"
    );
    assert_eq!(seek_frames.len(), 4);
    assert_eq!(seek_frames.len(), linear_frames.len());
    for (a, b) in seek_frames.iter().zip(&linear_frames) {
        assert!((a.t - b.t).abs() < 1e-6, "{} vs {}", a.t, b.t);
        assert!(a.image == b.image, "pixels differ at t={}", a.t);
    }
}

#[test]
fn progressive_http_mp4_with_ranges() {
    let server = LoopbackServer::serve_dir(&shared().join("video"), Fault::None).unwrap();
    let spec = SourceSpec::parse(&server.url("people_10s_640x480.mp4")).unwrap();
    let (frames, report) =
        collect(spec, options(SamplingPolicy::Every(Duration::from_secs(2)))).unwrap();
    assert_eq!(report.health, StreamHealth::Ok, "{report:?}");
    assert_eq!(frames.len(), 5);
}

#[test]
fn connection_dropped_mid_segment_ends_early_without_hanging() {
    let server = hls_server(Fault::DropAfterSegments(2));
    let spec = SourceSpec::parse(&server.url("people.m3u8")).unwrap();
    let started = Instant::now();
    let (frames, report) =
        collect(spec, options(SamplingPolicy::Every(Duration::from_secs(1)))).unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(report.health, StreamHealth::EndedEarly, "{report:?}");
    assert!(report.error.is_some());
    // The first two segments (4 s) arrived intact; the halves of the others leave gaps.
    assert!(
        frames.len() >= 4 && frames.len() < 10,
        "{} frames",
        frames.len()
    );
    assert!(report.gap_seconds >= 2.0, "{report:?}");
}

#[test]
fn stalled_server_is_reported_within_the_limits() {
    let server = hls_server(Fault::StallAfterSegments(1));
    let spec = SourceSpec::parse(&server.url("people.m3u8")).unwrap();
    let mut limits = quick_limits();
    limits.read_timeout = Duration::from_millis(800);
    limits.max_reconnects = 1;
    let started = Instant::now();
    let (frames, report) = collect(
        spec,
        JobOptions {
            limits,
            ..options(SamplingPolicy::Every(Duration::from_secs(1)))
        },
    )
    .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        matches!(
            report.health,
            StreamHealth::Stalled | StreamHealth::EndedEarly
        ),
        "{report:?}"
    );
    assert!(!frames.is_empty());
}

#[test]
fn job_duration_limit_ends_a_job() {
    let server = hls_server(Fault::StallAfterSegments(0));
    let spec = SourceSpec::parse(&server.url("people.m3u8")).unwrap();
    let mut limits = quick_limits();
    limits.read_timeout = Duration::from_secs(60);
    limits.max_job_duration = Duration::from_secs(2);
    let started = Instant::now();
    let (_, report) = collect(
        spec,
        JobOptions {
            limits,
            ..options(SamplingPolicy::EveryNth(1))
        },
    )
    .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "took {:?}",
        started.elapsed()
    );
    // Half of the first segment arrives, then nothing: the job ends at its limit, not Ok.
    assert_ne!(report.health, StreamHealth::Ok, "{report:?}");
    assert!(report.frames_sampled < 50, "{report:?}");
}

#[test]
fn missing_url_is_unavailable() {
    let server = hls_server(Fault::None);
    let spec = SourceSpec::parse(&server.url("missing.m3u8")).unwrap();
    let started = Instant::now();
    let (frames, report) = collect(spec, options(SamplingPolicy::EveryNth(1))).unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(report.health, StreamHealth::Unavailable, "{report:?}");
    assert!(frames.is_empty());
    let message = report.error.unwrap().to_string();
    assert!(
        message.contains("404") || message.contains("Not Found"),
        "{message}"
    );
}

#[test]
fn refused_connection_is_unavailable() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let spec = SourceSpec::parse(&format!("http://127.0.0.1:{port}/people.m3u8")).unwrap();
    let (_, report) = collect(spec, options(SamplingPolicy::EveryNth(1))).unwrap();
    assert_eq!(report.health, StreamHealth::Unavailable, "{report:?}");
}

#[test]
fn corrupt_bytes_are_a_clear_error() {
    let garbage: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut files = HashMap::new();
    files.insert("/garbage.mp4".to_string(), garbage.clone());
    let server = LoopbackServer::start(None, files, Fault::None).unwrap();
    let spec = SourceSpec::parse(&server.url("garbage.mp4")).unwrap();
    let (_, report) = collect(spec, options(SamplingPolicy::EveryNth(1))).unwrap();
    assert_eq!(report.health, StreamHealth::Unavailable, "{report:?}");
    assert!(
        matches!(report.error, Some(FrameSourceError::InvalidData { .. })),
        "{report:?}"
    );
    assert!(
        report
            .error
            .unwrap()
            .to_string()
            .contains("not a decodable video")
    );

    let path = std::env::temp_dir().join(format!("footfall-garbage-{}.mp4", std::process::id()));
    std::fs::write(&path, &garbage).unwrap();
    let spec = SourceSpec::parse(path.to_str().unwrap()).unwrap();
    let (_, report) = collect(spec, options(SamplingPolicy::EveryNth(1))).unwrap();
    std::fs::remove_file(&path).ok();
    assert_eq!(report.health, StreamHealth::Unavailable, "{report:?}");
    assert!(
        matches!(report.error, Some(FrameSourceError::InvalidData { .. })),
        "{report:?}"
    );
}

#[test]
fn truncated_file_is_not_reported_as_ok() {
    // An mp4 declares its duration, so a cut-off copy is detected (a cut-off MPEG-TS file cannot
    // be told from a short one: FFmpeg estimates its duration from what is there).
    let bytes = std::fs::read(shared().join("video/people_10s_640x480.mp4")).unwrap();
    let path = std::env::temp_dir().join(format!("footfall-truncated-{}.mp4", std::process::id()));
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let spec = SourceSpec::parse(path.to_str().unwrap()).unwrap();
    let (frames, report) = collect(spec, options(SamplingPolicy::EveryNth(1))).unwrap();
    std::fs::remove_file(&path).ok();
    assert!(frames.len() < 250, "{report:?}");
    assert!(
        matches!(
            report.health,
            StreamHealth::EndedEarly | StreamHealth::Unavailable
        ),
        "{report:?}"
    );
    assert!(report.error.is_some(), "{report:?}");
    // A local file is not reopened.
    assert_eq!(report.reconnects, 0, "{report:?}");
}

#[test]
fn missing_file_is_unavailable() {
    let spec = SourceSpec::parse("/nonexistent/video.mp4").unwrap();
    let (_, report) = collect(spec, options(SamplingPolicy::EveryNth(1))).unwrap();
    assert_eq!(report.health, StreamHealth::Unavailable);
    assert!(
        matches!(report.error, Some(FrameSourceError::NotFound(_))),
        "{report:?}"
    );
}

#[test]
fn oversized_frames_are_refused() {
    let path = shared().join("video/people_10s_640x480.mp4");
    let spec = SourceSpec::parse(path.to_str().unwrap()).unwrap();
    let mut opts = options(SamplingPolicy::EveryNth(1));
    opts.limits.max_frame_pixels = 320 * 240;
    let (frames, report) = collect(spec, opts).unwrap();
    assert!(frames.is_empty());
    assert_eq!(report.health, StreamHealth::Unavailable);
    assert!(
        matches!(
            report.error,
            Some(FrameSourceError::FrameTooLarge {
                width: 640,
                height: 480,
                ..
            })
        ),
        "{report:?}"
    );
}

struct LoopbackResolver(String);
impl UrlResolver for LoopbackResolver {
    fn resolve(&self, _page_url: &str) -> frame_source::Result<String> {
        Ok(self.0.clone())
    }
}

#[test]
fn page_url_is_decoded_through_the_resolver() {
    let server = hls_server(Fault::None);
    let resolver = LoopbackResolver(server.url("people.m3u8"));
    let spec = SourceSpec::parse("https://www.youtube.com/watch?v=people")
        .and_then(|spec| spec.resolve(&resolver))
        .unwrap();
    let (frames, report) =
        collect(spec, options(SamplingPolicy::Every(Duration::from_secs(5)))).unwrap();
    assert_eq!(report.health, StreamHealth::Ok, "{report:?}");
    assert_eq!(frames.len(), 2);
    // An unresolved page URL is refused before any thread starts.
    let unresolved = SourceSpec::parse("https://youtu.be/x").unwrap();
    assert!(FrameStream::open(unresolved, JobOptions::default()).is_err());
}

#[test]
fn dropping_a_stream_early_stops_the_job() {
    let server = hls_server(Fault::None);
    let spec = SourceSpec::parse(&server.url("people.m3u8")).unwrap();
    let mut stream = FrameStream::open(
        spec,
        JobOptions {
            batch_size: 1,
            ..options(SamplingPolicy::EveryNth(1))
        },
    )
    .unwrap();
    assert!(stream.next_batch().is_some());
    stream.cancel();
    let report = stream.finish();
    assert!(report.frames_decoded < 250, "{report:?}");
}

#[test]
fn live_stream_that_stops_is_reconnected_then_reported_unhealthy() {
    // A live playlist (no ENDLIST) that never gains a segment: FFmpeg plays what is there, waits
    // for more and gives up (EOF) or the job notices the stall; either way the job reconnects with
    // backoff, keeps time moving forward across connections, and finally reports the stream as
    // unhealthy, never as Ok.
    let playlist = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n\
                    #EXTINF:2.000000,\nseg_000.ts\n#EXTINF:2.000000,\nseg_001.ts\n#EXTINF:2.000000,\nseg_002.ts\n";
    let mut files = HashMap::new();
    files.insert("/live.m3u8".to_string(), playlist.as_bytes().to_vec());
    let server =
        LoopbackServer::start(Some(&shared().join("video/hls")), files, Fault::None).unwrap();
    let spec = SourceSpec::parse(&server.url("live.m3u8")).unwrap();
    let mut limits = quick_limits();
    limits.read_timeout = Duration::from_millis(1000);
    limits.max_reconnects = 2;
    let started = Instant::now();
    let (frames, report) = collect(
        spec,
        JobOptions {
            limits,
            ..options(SamplingPolicy::Every(Duration::from_secs(1)))
        },
    )
    .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    assert!(report.live, "{report:?}");
    assert_eq!(report.reconnects, 2, "{report:?}");
    assert!(
        matches!(
            report.health,
            StreamHealth::Stalled | StreamHealth::EndedEarly
        ),
        "{report:?}"
    );
    assert!(report.error.is_some(), "{report:?}");
    // Three connections of 6 s each, sampled once per second, with time always moving forward.
    assert!(frames.len() >= 15, "{} frames: {report:?}", frames.len());
    assert!(
        frames.windows(2).all(|pair| pair[1].t > pair[0].t),
        "{:?}",
        frames.iter().map(|f| f.t).collect::<Vec<_>>()
    );
}

#[test]
fn live_stream_sampled_until_the_job_limit_is_ok() {
    let server = LoopbackServer::serve_live_hls(&shared().join("video/hls")).unwrap();
    let spec = SourceSpec::parse(&server.url("live.m3u8")).unwrap();
    let mut limits = quick_limits();
    limits.max_job_duration = Duration::from_secs(5);
    limits.read_timeout = Duration::from_secs(4);
    let started = Instant::now();
    let (frames, report) = collect(
        spec,
        JobOptions {
            limits,
            ..options(SamplingPolicy::Every(Duration::from_secs(1)))
        },
    )
    .unwrap();
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_secs(5) && elapsed < Duration::from_secs(8),
        "took {elapsed:?}"
    );
    assert!(report.live, "{report:?}");
    assert_eq!(report.health, StreamHealth::Ok, "{report:?}");
    assert_eq!(report.error, None);
    assert_eq!(report.reconnects, 0);
    // The 6 s window arrives at once, then about one new second per second of wall time.
    assert!(frames.len() >= 8, "{} frames: {report:?}", frames.len());
    assert!(frames.windows(2).all(|pair| pair[1].t > pair[0].t));
}

/// Garbage bytes in place of one HLS segment: in the middle, the job keeps the frames of the
/// good segments and ends `EndedEarly` with the 2 s hole reported; as the first segment, the
/// stream cannot be opened (`Unavailable`, invalid data). Both inside their time bound.
#[test]
fn garbage_hls_segment_ends_in_time_with_the_right_health() {
    let garbage: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    let run = |segment: &str| {
        let files = HashMap::from([(segment.to_string(), garbage.clone())]);
        let server =
            LoopbackServer::start(Some(&shared().join("video/hls")), files, Fault::None).unwrap();
        let spec = SourceSpec::parse(&server.url("people.m3u8")).unwrap();
        let started = Instant::now();
        let (frames, report) =
            collect(spec, options(SamplingPolicy::Every(Duration::from_secs(1)))).unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{segment}: took {:?}",
            started.elapsed()
        );
        (frames, report)
    };

    let (frames, report) = run("/seg_002.ts");
    assert_eq!(report.health, StreamHealth::EndedEarly, "{report:?}");
    assert!(report.error.is_some(), "{report:?}");
    assert!(report.gap_seconds >= 2.0, "{report:?}");
    assert!((6..10).contains(&frames.len()), "{} frames", frames.len());
    assert!(
        frames.iter().all(|f| !(4.0..6.0).contains(&f.t)),
        "no frame from the hole"
    );

    let (frames, report) = run("/seg_000.ts");
    assert!(frames.is_empty());
    assert_eq!(report.health, StreamHealth::Unavailable, "{report:?}");
    assert!(
        matches!(report.error, Some(FrameSourceError::InvalidData { .. })),
        "{report:?}"
    );
}

/// The first `n` HLS segments joined: one MPEG-TS file of `2 * n` seconds.
fn ts_file(n: usize) -> Vec<u8> {
    (0..n)
        .flat_map(|i| std::fs::read(shared().join(format!("video/hls/seg_{i:03}.ts"))).unwrap())
        .collect()
}

/// A complete `.ts` file over HTTP from a server without range support (so FFmpeg cannot read
/// its end for a duration) is a finite file because the server sent its Content-Length: read
/// once, samples at the file's own times, health ok. It used to be taken for a live stream:
/// re-fetched at every end, with invented times after each, and `ended_early`.
#[test]
fn complete_ts_file_over_http_is_read_once_at_its_real_times() {
    let files = HashMap::from([("/clip.ts".to_string(), ts_file(2))]);
    let server = LoopbackServer::start(None, files, Fault::NoRanges).unwrap();
    let spec = SourceSpec::parse(&server.url("clip.ts")).unwrap();
    let (frames, report) =
        collect(spec, options(SamplingPolicy::Every(Duration::from_secs(1)))).unwrap();
    assert_eq!(report.health, StreamHealth::Ok, "{report:?}");
    assert_eq!(report.error, None, "{report:?}");
    assert!(!report.live, "{report:?}");
    assert_eq!(report.reconnects, 0, "{report:?}");
    // All 100 frames were read; only the 4 keyframes at the sampled seconds were decoded.
    assert_eq!(
        report.frames_decoded + report.frames_skipped,
        100,
        "{report:?}"
    );
    assert_eq!(report.frames_decoded, 4, "{report:?}");
    let times: Vec<f64> = frames.iter().map(|f| f.t).collect();
    assert_eq!(times.len(), 4, "{times:?}");
    for (i, t) in times.iter().enumerate() {
        assert!((t - i as f64).abs() < 1e-3, "{times:?}");
    }
    assert_eq!(server.requests(), ["/clip.ts"], "fetched once");
}

/// The same bytes as a live stream (chunked, no Content-Length) stay live: the end of the body
/// is a dropped stream, reconnected, and the times move on across connections.
#[test]
fn live_ts_over_http_without_a_length_stays_live() {
    let files = HashMap::from([("/live.ts".to_string(), ts_file(2))]);
    let server = LoopbackServer::start(None, files, Fault::Chunked { bytes_per_sec: 0 }).unwrap();
    let spec = SourceSpec::parse(&server.url("live.ts")).unwrap();
    let mut limits = quick_limits();
    limits.max_reconnects = 1;
    let (frames, report) = collect(
        spec,
        JobOptions {
            limits,
            ..options(SamplingPolicy::Every(Duration::from_secs(1)))
        },
    )
    .unwrap();
    assert!(report.live, "{report:?}");
    assert_eq!(report.reconnects, 1, "{report:?}");
    assert_eq!(report.health, StreamHealth::EndedEarly, "{report:?}");
    assert_eq!(server.requests(), ["/live.ts", "/live.ts"]);
    assert!(frames.len() >= 7, "{} frames: {report:?}", frames.len());
    assert!(frames.windows(2).all(|pair| pair[1].t > pair[0].t));
}

#[test]
fn a_sample_is_handed_out_on_time_while_later_frames_are_left_undecoded() {
    // A live MPEG-TS stream at about real time, sampled every 3 s: between samples every
    // packet is held back, so no frame is decoded that could flush the waiting batch.
    let ts = ts_file(3);
    let bytes_per_sec = ts.len() / 6;
    let files = HashMap::from([("/live.ts".to_string(), ts)]);
    let server = LoopbackServer::start(None, files, Fault::Chunked { bytes_per_sec }).unwrap();
    let spec = SourceSpec::parse(&server.url("live.ts")).unwrap();
    let mut stream = FrameStream::open(
        spec,
        JobOptions {
            batch_latency: Duration::from_millis(300),
            ..options(SamplingPolicy::Every(Duration::from_secs(3)))
        },
    )
    .unwrap();
    let first = stream.next_batch().expect("a first batch");
    let times: Vec<f64> = first.iter().map(|f| f.t).collect();
    assert!(
        times.len() == 1 && times[0].abs() < 1e-3,
        "the first sample waited for the next one: {times:?}"
    );
    let rest: Vec<f64> = stream.by_ref().flatten().map(|f| f.t).collect();
    let report = stream.finish();
    assert!(
        rest.first().is_some_and(|t| (t - 3.0).abs() < 1e-3),
        "{rest:?}"
    );
    assert!(report.frames_skipped > 0, "{report:?}");
}

/// Receives batches until `want` frames have arrived.
fn receive(stream: &mut FrameStream, want: usize) -> Vec<frame_source::SampledFrame> {
    let mut frames = Vec::new();
    while frames.len() < want {
        frames.extend(stream.next_batch().expect("the stream ended too soon"));
    }
    frames
}

/// Stops `stream`, drains it and returns the rest of its frames, the report and the time from
/// the stop to the report.
fn stop_and_finish(
    mut stream: FrameStream,
    stop: &StopHandle,
) -> (
    Vec<frame_source::SampledFrame>,
    frame_source::JobReport,
    Duration,
) {
    let stopped_at = Instant::now();
    stop.stop();
    let mut rest = Vec::new();
    for batch in stream.by_ref() {
        rest.extend(batch);
    }
    let report = stream.finish();
    (rest, report, stopped_at.elapsed())
}

/// Ctrl-C in `footfall count`: a stop on an endless live stream ends it within a second; the
/// frames sampled so far all come out, and the report says stopped with the health so far.
#[test]
fn stop_handle_ends_a_live_stream_with_the_samples_so_far() {
    let server = LoopbackServer::serve_live_hls(&shared().join("video/hls")).unwrap();
    let spec = SourceSpec::parse(&server.url("live.m3u8")).unwrap();
    let mut stream = FrameStream::open(
        spec,
        JobOptions {
            batch_size: 2,
            batch_latency: Duration::from_millis(100),
            ..options(SamplingPolicy::Every(Duration::from_secs(1)))
        },
    )
    .unwrap();
    let stop = stream.stop_handle();
    let mut frames = receive(&mut stream, 2);
    let (rest, report, took) = stop_and_finish(stream, &stop);
    frames.extend(rest);
    assert!(took < Duration::from_secs(1), "took {took:?} to stop");
    assert!(report.stopped, "{report:?}");
    assert!(report.live, "{report:?}");
    assert_eq!(report.health, StreamHealth::Ok, "{report:?}");
    assert_eq!(report.error, None);
    assert_eq!(report.frames_sampled, frames.len() as u64, "{report:?}");
    assert!(frames.windows(2).all(|pair| pair[1].t > pair[0].t));
    // A stream that ends on its own is not `stopped`.
    let (_, finished) = collect(
        SourceSpec::parse(&server.url("live.m3u8")).unwrap(),
        JobOptions {
            limits: Limits {
                max_job_duration: Duration::from_secs(1),
                ..quick_limits()
            },
            ..options(SamplingPolicy::Every(Duration::from_secs(1)))
        },
    )
    .unwrap();
    assert!(!finished.stopped, "{finished:?}");
}

/// A stop also ends a job at once while it connects (a server that accepts and never answers)
/// and while it waits to reconnect (a live playlist that stopped growing, long backoff).
#[test]
fn stop_handle_ends_a_job_while_connecting_or_waiting_to_reconnect() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = silent.local_addr().unwrap();
    let spec = SourceSpec::parse(&format!("http://{address}/clip.ts")).unwrap();
    let mut limits = quick_limits();
    limits.connect_timeout = Duration::from_secs(20);
    let stop = StopHandle::new();
    let stream = FrameStream::open_with_stop(
        spec,
        JobOptions {
            limits,
            ..options(SamplingPolicy::EveryNth(1))
        },
        stop.clone(),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let (frames, report, took) = stop_and_finish(stream, &stop);
    drop(silent);
    assert!(took < Duration::from_secs(1), "took {took:?} to stop");
    assert!(frames.is_empty());
    assert!(report.stopped, "{report:?}");
    assert_eq!(report.health, StreamHealth::Unavailable, "{report:?}");
    assert_eq!(report.error, None, "{report:?}");

    let playlist = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n\
                    #EXTINF:2.000000,\nseg_000.ts\n#EXTINF:2.000000,\nseg_001.ts\n#EXTINF:2.000000,\nseg_002.ts\n";
    let files = HashMap::from([("/live.m3u8".to_string(), playlist.as_bytes().to_vec())]);
    let server =
        LoopbackServer::start(Some(&shared().join("video/hls")), files, Fault::None).unwrap();
    let spec = SourceSpec::parse(&server.url("live.m3u8")).unwrap();
    let mut limits = quick_limits();
    limits.read_timeout = Duration::from_millis(500);
    limits.backoff_initial = Duration::from_secs(20);
    limits.backoff_max = Duration::from_secs(20);
    let mut stream = FrameStream::open(
        spec,
        JobOptions {
            limits,
            batch_latency: Duration::from_millis(100),
            ..options(SamplingPolicy::Every(Duration::from_secs(1)))
        },
    )
    .unwrap();
    let stop = stream.stop_handle();
    let mut frames = receive(&mut stream, 6);
    // The playlist has 6 s: then the stream stalls and the job waits 20 s to reconnect.
    std::thread::sleep(Duration::from_secs(3));
    let (rest, report, took) = stop_and_finish(stream, &stop);
    frames.extend(rest);
    assert!(took < Duration::from_secs(1), "took {took:?} to stop");
    assert!(report.stopped, "{report:?}");
    assert_eq!(frames.len(), 6, "{report:?}");
    assert_eq!(report.reconnects, 0, "{report:?}");
    // The health of the reconnect that was pending, with its error.
    assert!(
        matches!(
            report.health,
            StreamHealth::Stalled | StreamHealth::EndedEarly
        ),
        "{report:?}"
    );
    assert!(report.error.is_some(), "{report:?}");
}

/// An HLS playlist that loads while every segment fails says which segment and which answer
/// (it used to say "not a decodable video"). A missing segment is permanent, a server error
/// transient; either way the job ends at once, `unavailable`, without showing credentials.
#[test]
fn hls_segments_that_fail_are_named_with_their_http_status() {
    for (status, transient, reason) in [
        (404, false, "HTTP 404 Not Found"),
        (503, true, "HTTP 5xx server error"),
    ] {
        let server = hls_server(Fault::SegmentStatus(status));
        let url = server
            .url("people.m3u8")
            .replace("http://", "http://viewer:s3cret@");
        let started = Instant::now();
        let (frames, report) = collect(
            SourceSpec::parse(&url).unwrap(),
            options(SamplingPolicy::EveryNth(1)),
        )
        .unwrap();
        assert!(started.elapsed() < Duration::from_secs(5), "{status}");
        assert!(frames.is_empty());
        assert_eq!(report.health, StreamHealth::Unavailable, "{report:?}");
        assert_eq!(report.reconnects, 0, "{report:?}");
        let error = report.error.expect("an error");
        assert!(
            matches!(error, FrameSourceError::HlsSegmentsUnavailable { .. }),
            "{error:?}"
        );
        assert_eq!(error.is_transient(), transient, "{error:?}");
        let message = error.to_string();
        assert!(
            message.starts_with(&format!("HLS segments unavailable: {reason} for `http://")),
            "{message}"
        );
        assert!(message.contains("/seg_000.ts`"), "{message}");
        assert!(!message.contains("s3cret"), "{message}");
    }
}

/// A redirect loop says so (it used to be "Input/output error"), for a playlist and a file.
#[test]
fn redirect_loop_is_named() {
    let server = hls_server(Fault::RedirectLoop);
    for path in ["people.m3u8", "clip.mp4"] {
        let started = Instant::now();
        let (frames, report) = collect(
            SourceSpec::parse(&server.url(path)).unwrap(),
            options(SamplingPolicy::EveryNth(1)),
        )
        .unwrap();
        assert!(started.elapsed() < Duration::from_secs(5), "{path}");
        assert!(frames.is_empty());
        assert_eq!(report.health, StreamHealth::Unavailable, "{report:?}");
        let error = report.error.expect("an error");
        assert!(
            matches!(error, FrameSourceError::RedirectLoop { .. }),
            "{error:?}"
        );
        assert!(!error.is_transient());
        let message = error.to_string();
        assert!(message.starts_with("redirect loop: `http://"), "{message}");
        assert!(message.contains(path), "{message}");
    }
}

/// A stream that sends nothing but MPEG-TS padding is not "connecting took longer than 3s":
/// the error says data arrives without video. A server that accepts and never answers still
/// is a connect timeout.
#[test]
fn a_flood_of_empty_packets_is_not_a_connect_timeout() {
    let server = LoopbackServer::start(
        None,
        HashMap::new(),
        Fault::EmptyPacketFlood {
            bytes_per_sec: 1_000_000,
        },
    )
    .unwrap();
    let started = Instant::now();
    let (frames, report) = collect(
        SourceSpec::parse(&server.url("live.ts")).unwrap(),
        options(SamplingPolicy::EveryNth(1)),
    )
    .unwrap();
    // The connect timeout (3 s), then at most a second's look at the data.
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    assert!(frames.is_empty());
    assert_eq!(report.health, StreamHealth::Unavailable, "{report:?}");
    let error = report.error.expect("an error");
    assert!(
        matches!(error, FrameSourceError::NoVideoData { .. }),
        "{error:?}"
    );
    assert!(error.is_transient());
    let message = error.to_string();
    assert!(message.contains("sends data but no video"), "{message}");
    assert!(
        message.contains("only MPEG-TS null (padding) packets"),
        "{message}"
    );
    assert!(!message.contains("connecting took"), "{message}");

    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/live.ts", silent.local_addr().unwrap());
    let (_, report) = collect(
        SourceSpec::parse(&url).unwrap(),
        options(SamplingPolicy::EveryNth(1)),
    )
    .unwrap();
    drop(silent);
    assert_eq!(report.health, StreamHealth::Unavailable, "{report:?}");
    assert_eq!(
        report.error,
        Some(FrameSourceError::ConnectTimeout(
            quick_limits().connect_timeout
        )),
        "{report:?}"
    );
}
