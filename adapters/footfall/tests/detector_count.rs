//! The count job with the real detector on the shared stream over loopback HLS: each sampled
//! second's count lies within manifest.json's min..max for that second (score threshold 0.25).

use clap::Parser;
use detector_core::{Detector, PostprocessConfig, RunOptions};
use footfall::cli::{CountArgs, run_count};
use footfall_job::detector::DetectorCounter;
use frame_source::YtDlpResolver;
use stream_server::{Fault, LoopbackServer, shared_dir};

#[derive(Parser)]
struct Count {
    #[command(flatten)]
    args: CountArgs,
}

#[test]
fn per_second_counts_on_loopback_hls_match_the_manifest() {
    let shared = shared_dir().unwrap_or_else(|message| panic!("{message}"));
    let weights = shared.join("weights/yolox_nano.onnx");
    assert!(weights.is_file(), "missing {}", weights.display());
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(shared.join("video/manifest.json")).unwrap())
            .unwrap();
    let detector = Detector::from_onnx_file(
        &weights,
        RunOptions::default(),
        PostprocessConfig::default(),
    )
    .unwrap();
    let counter = DetectorCounter::new(detector);
    let server = LoopbackServer::serve_dir(&shared.join("video/hls"), Fault::None).unwrap();
    let url = server.url("people.m3u8");
    let annotate = std::env::temp_dir().join(format!("detector-count-{}", std::process::id()));
    let parsed = Count::try_parse_from([
        "count",
        &url,
        "--every",
        "1s",
        "--json",
        "--annotate",
        annotate.to_str().unwrap(),
    ])
    .unwrap();
    let mut out = Vec::new();
    let outcome = run_count(&parsed.args, &counter, &YtDlpResolver::default(), &mut out).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(outcome.exit_code(), 0);
    assert_eq!(json["health"], "ok");
    assert_eq!(json["frames"], 10);
    let per_second = manifest["per_second"].as_array().unwrap();
    let mut mismatches = Vec::new();
    for sample in json["samples"].as_array().unwrap() {
        let t = sample["t"].as_f64().unwrap();
        let people = sample["people"].as_u64().unwrap();
        let range = &per_second[t.floor() as usize]["video_frames_person_count"]["0.25"];
        let (min, max) = (
            range["min"].as_u64().unwrap(),
            range["max"].as_u64().unwrap(),
        );
        if !(min..=max).contains(&people) {
            mismatches.push(format!("t={t}: {people} people, manifest {min}..={max}"));
        }
    }
    assert!(mismatches.is_empty(), "{mismatches:?}\n{json}");
    let annotated = json["annotated"].as_str().expect("annotated picture");
    assert!(std::fs::read(annotated).unwrap().starts_with(&[0xFF, 0xD8]));
    std::fs::remove_dir_all(&annotate).ok();
}
