//! `footfall count` and `run-schedule` argument handling and output, with a stand-in counter (the
//! CLI crate repeats the count test with the real detector).

use std::sync::Arc;

use clap::Parser;
use footfall::cli::{CliError, CountArgs, RunScheduleArgs, run_count, run_schedule};
use footfall_job::{CounterError, PeopleCounter};
use frame_source::YtDlpResolver;
use image::RgbImage;
use stream_server::{Fault, LoopbackServer, shared_dir};

/// People = the sample's second (0..9), read back from the frame order.
struct SecondsCounter(std::sync::atomic::AtomicUsize);

impl PeopleCounter for SecondsCounter {
    fn count(&self, frames: &[RgbImage]) -> Result<Vec<usize>, CounterError> {
        Ok(frames
            .iter()
            .map(|_| self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
            .collect())
    }
    fn annotated_jpeg(&self, frame: &RgbImage) -> Result<Vec<u8>, CounterError> {
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 85).encode_image(frame)?;
        Ok(jpeg)
    }
}

#[derive(Parser)]
struct Count {
    #[command(flatten)]
    args: CountArgs,
}

#[derive(Parser)]
struct RunSchedule {
    #[command(flatten)]
    args: RunScheduleArgs,
}

fn count(argv: &[&str]) -> Result<(u8, String), CliError> {
    let mut full = vec!["count"];
    full.extend_from_slice(argv);
    let parsed = Count::try_parse_from(full).map_err(|err| CliError::Usage(err.to_string()))?;
    let counter = SecondsCounter(Default::default());
    let mut out = Vec::new();
    let outcome = run_count(&parsed.args, &counter, &YtDlpResolver::default(), &mut out)?;
    Ok((outcome.exit_code(), String::from_utf8(out).unwrap()))
}

#[test]
fn count_json_on_loopback_hls() {
    let shared = shared_dir().unwrap_or_else(|message| panic!("{message}"));
    let server = LoopbackServer::serve_dir(&shared.join("video/hls"), Fault::None).unwrap();
    let annotate = std::env::temp_dir().join(format!("count-cli-{}", std::process::id()));
    let url = server.url("people.m3u8");
    let (code, out) = count(&[
        &url,
        "--every",
        "1s",
        "--json",
        "--annotate",
        annotate.to_str().unwrap(),
    ])
    .unwrap();
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(json["source"], url);
    assert_eq!(json["health"], "ok");
    assert_eq!(json["frames"], 10);
    assert_eq!(json["max"], 9);
    assert_eq!(json["median"], 4);
    let samples = json["samples"].as_array().unwrap();
    for (i, sample) in samples.iter().enumerate() {
        assert!((sample["t"].as_f64().unwrap() - i as f64).abs() < 1e-3);
        assert_eq!(sample["people"], i);
    }
    let annotated = json["annotated"].as_str().unwrap();
    assert!(annotated.ends_with("-t9.00s-9p.jpg"), "{annotated}");
    assert!(std::fs::read(annotated).unwrap().starts_with(&[0xFF, 0xD8]));
    std::fs::remove_dir_all(&annotate).ok();

    // Text output: one line per sample and a summary.
    let (_, text) = count(&[&url, "--frames", "2", "--window", "10s"]).unwrap();
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(
        text.contains("health=ok frames=2 max=1 median=0 p90=1"),
        "{text}"
    );
}

#[test]
fn count_bad_input_is_clear() {
    let err = count(&["ftp://host/video.mp4"]).unwrap_err();
    assert!(
        err.to_string().contains("unsupported URL scheme `ftp`"),
        "{err}"
    );
    let err = count(&["video.mp4", "--frames", "3"]).unwrap_err();
    assert!(err.to_string().contains("--window"), "{err}");

    let path = std::env::temp_dir().join(format!("count-corrupt-{}.mp4", std::process::id()));
    std::fs::write(
        &path,
        b"this is not a video at all, just some bytes".repeat(100),
    )
    .unwrap();
    let (code, out) = count(&[path.to_str().unwrap(), "--json"]).unwrap();
    std::fs::remove_file(&path).ok();
    assert_eq!(code, 3);
    let json: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(json["health"], "unavailable");
    assert_eq!(json["frames"], 0);
    assert!(
        json["max"].is_null() && json["median"].is_null(),
        "no data is not 0 people: {json}"
    );
    assert!(
        json["error"]
            .as_str()
            .unwrap()
            .contains("not a decodable video"),
        "{json}"
    );
}

#[tokio::test]
async fn malformed_cron_is_a_clear_error() {
    let parsed =
        RunSchedule::try_parse_from(["run-schedule", "--cron", "0 0 * * *", "--once"]).unwrap();
    let mut out = Vec::new();
    let err = run_schedule(
        &parsed.args,
        Arc::new(SecondsCounter(Default::default())),
        Arc::new(YtDlpResolver::default()),
        &mut out,
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("invalid schedule `0 0 * * *`"),
        "{err}"
    );
}

/// Runs `run-schedule ARGS` in-process with a counter of 3 people a frame.
async fn run_schedule_once(argv: Vec<String>) -> (u8, String) {
    let mut full = vec!["run-schedule".to_string()];
    full.extend(argv);
    let parsed = RunSchedule::try_parse_from(full).unwrap();
    let mut out = Vec::new();
    let status = run_schedule(
        &parsed.args,
        Arc::new(ThreePeople),
        Arc::new(YtDlpResolver::default()),
        &mut out,
    )
    .await
    .unwrap();
    (status, String::from_utf8(out).unwrap())
}

struct ThreePeople;

impl PeopleCounter for ThreePeople {
    fn count(&self, frames: &[RgbImage]) -> Result<Vec<usize>, CounterError> {
        Ok(vec![3; frames.len()])
    }
    fn annotated_jpeg(&self, frame: &RgbImage) -> Result<Vec<u8>, CounterError> {
        SecondsCounter(Default::default()).annotated_jpeg(frame)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_once_launches_share_one_run_one_row_and_one_email() {
    let shared = shared_dir().unwrap_or_else(|message| panic!("{message}"));
    let server = LoopbackServer::serve_dir(&shared.join("video/hls"), Fault::None).unwrap();
    let root = std::env::temp_dir().join(format!("once-overlap-{}", std::process::id()));
    std::fs::remove_dir_all(&root).ok();
    std::fs::create_dir_all(&root).unwrap();
    let data = root.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let store =
        results_store::Store::connect(&format!("sqlite://{}", data.join("footfall.db").display()))
            .await
            .unwrap();
    let mut alice =
        results_store::NewUser::new("alice", &server.url("people.m3u8"), "alice@example.com");
    alice.threshold = 1;
    store.add_user(&alice).await.unwrap();
    let sink = testdata::smtp::SmtpSink::start(&root.join("maildir"));
    let argv = vec![
        "--cron".to_string(),
        "cron(0 * * * ? *)".to_string(),
        "--once".to_string(),
        "--data-dir".to_string(),
        data.display().to_string(),
        "--smtp-url".to_string(),
        sink.url(),
        "--every".to_string(),
        "5s".to_string(),
    ];
    // Two cron launches 1.1 s apart, overlapping.
    let (first, second) = tokio::join!(run_schedule_once(argv.clone()), async {
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        run_schedule_once(argv).await
    });
    let run_of = |out: &str| {
        out.split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(run_of(&first.1), run_of(&second.1), "{first:?} {second:?}");
    // Named after the hour's tick, not the launch second.
    assert!(run_of(&first.1).ends_with("0000Z"), "{first:?}");
    assert_eq!(store.results_for("alice").await.unwrap().len(), 1);
    let csv = std::fs::read_to_string(data.join("results/alice.csv")).unwrap();
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert_eq!(sink.wait_for(1).len(), 1);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(sink.messages().len(), 1, "one email per breach");
    assert!(first.0 == 0 || second.0 == 0, "{first:?} {second:?}");
    std::fs::remove_dir_all(&root).ok();
}

#[test]
fn a_stopped_count_prints_what_it_sampled_as_valid_json() {
    let shared = shared_dir().unwrap_or_else(|message| panic!("{message}"));
    let live = LoopbackServer::serve_live_hls(&shared.join("video/hls")).unwrap();
    let parsed = Count::try_parse_from([
        "count",
        &live.url("live.m3u8"),
        "--every",
        "1s",
        "--max-duration",
        "60s",
        "--json",
    ])
    .unwrap();
    let stop = frame_source::StopHandle::new();
    // What Ctrl-C does in the binary: stop once a few samples are in.
    let stopper = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_secs(4));
            stop.stop();
        })
    };
    let started = std::time::Instant::now();
    let mut out = Vec::new();
    let outcome = footfall::cli::run_count_until(
        &parsed.args,
        &SecondsCounter(Default::default()),
        &YtDlpResolver::default(),
        stop,
        &mut out,
    )
    .unwrap();
    stopper.join().unwrap();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(outcome.exit_code(), 130);
    let json: serde_json::Value = serde_json::from_slice(&out).expect("one JSON document");
    assert_eq!(json["stopped"], true);
    let samples = json["samples"].as_array().unwrap();
    assert!(!samples.is_empty(), "{json}");
    assert_eq!(json["frames"].as_u64(), Some(samples.len() as u64));
    // Sample times to the millisecond.
    for sample in samples {
        let t = sample["t"].as_f64().unwrap();
        assert_eq!((t * 1000.0).round() / 1000.0, t);
    }
}
