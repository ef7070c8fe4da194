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

/// A tracking job on the shared video through the real binary: one pass at 10 samples a second,
/// the JSON fields (tracking, lines, zones) beside today's, per-sample counts within the
/// manifest's range at the usual score threshold although the detector reports boxes down to 0.1
/// for the tracker, and a bad line refused before anything runs.
#[test]
fn tracking_count_reports_unique_people_lines_and_zones() {
    let shared = shared_dir().unwrap_or_else(|message| panic!("{message}"));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(shared.join("video/manifest.json")).unwrap())
            .unwrap();
    let run = |extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_footfall"))
            .arg("count")
            .arg(shared.join("video/people_10s_640x480.mp4"))
            .arg("--weights")
            .arg(shared.join("weights/yolox_nano.onnx"))
            .args(extra)
            .output()
            .unwrap()
    };
    let out = run(&[
        "--line",
        "door=320,0,320,480",
        "--zone",
        "middle=160,120,480,120,480,360,160,360",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["tracking"]["fps"], 10.0);
    assert_eq!(report["frames"], 100, "10 s at 10 samples a second");
    let max = report["max"].as_u64().unwrap();
    let unique = report["tracking"]["unique_people"].as_u64().unwrap();
    assert!((1..=60).contains(&unique), "unique_people {unique}");
    assert_eq!(report["lines"][0]["name"], "door");
    assert!(report["lines"][0]["in"].is_u64() && report["lines"][0]["out"].is_u64());
    let zone = &report["zones"][0];
    assert_eq!(zone["name"], "middle");
    assert!(zone["max"].as_u64().unwrap() <= max, "{zone}");
    for key in ["mean", "visits", "mean_dwell_s", "max_dwell_s"] {
        assert!(zone[key].is_number(), "{key}: {zone}");
    }
    // Each sample's count is the detector's usual one (boxes of at least 0.25): within the
    // reference pipeline's min..max for that second, as the 1 fps test above checks.
    let per_second = manifest["per_second"].as_array().unwrap();
    for sample in report["samples"].as_array().unwrap() {
        let t = sample["t"].as_f64().unwrap();
        let range = &per_second[(t.floor() as usize).min(per_second.len() - 1)]["video_frames_person_count"]
            ["0.25"];
        let (low, high) = (
            range["min"].as_u64().unwrap(),
            range["max"].as_u64().unwrap(),
        );
        let people = sample["people"].as_u64().unwrap();
        assert!(
            (low..=high).contains(&people),
            "t={t}: {people} people, manifest {low}..={high}"
        );
    }

    let bad = run(&["--line", "door=1,2,3", "--json"]);
    assert_eq!(bad.status.code(), Some(2));
    let error: serde_json::Value = serde_json::from_slice(&bad.stdout).unwrap();
    assert_eq!(error["error"]["kind"], "usage", "{error}");
}
