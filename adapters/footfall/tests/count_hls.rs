//! `footfall count` with the real detector on the shared test stream served over loopback HLS:
//! every sampled second's count must lie within manifest.json's min..max for that second.

use std::path::PathBuf;
use std::process::Command;

use stream_server::{Fault, LoopbackServer, shared_dir};

fn shared() -> PathBuf {
    shared_dir().unwrap_or_else(|message| panic!("{message}"))
}

fn footfall(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_footfall"))
        .args(args)
        .output()
        .expect("run footfall")
}

#[test]
fn count_on_loopback_hls_matches_the_manifest() {
    let shared = shared();
    let weights = shared.join("weights/yolox_nano.onnx");
    assert!(weights.is_file(), "missing {}", weights.display());
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(shared.join("video/manifest.json")).unwrap())
            .unwrap();
    let server = LoopbackServer::serve_dir(&shared.join("video/hls"), Fault::None).unwrap();
    let url = server.url("people.m3u8");
    let annotate = std::env::temp_dir().join(format!("footfall-count-{}", std::process::id()));
    let output = footfall(&[
        "count",
        &url,
        "--every",
        "1s",
        "--score-threshold",
        "0.25",
        "--weights",
        weights.to_str().unwrap(),
        "--json",
        "--annotate",
        annotate.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(json["source"], url);
    assert_eq!(json["health"], "ok");
    assert_eq!(json["frames"], 10);
    let per_second = manifest["per_second"].as_array().unwrap();
    for sample in json["samples"].as_array().unwrap() {
        let t = sample["t"].as_f64().unwrap();
        let people = sample["people"].as_u64().unwrap();
        let second = &per_second[t.floor() as usize];
        let range = &second["video_frames_person_count"]["0.25"];
        let (min, max) = (
            range["min"].as_u64().unwrap(),
            range["max"].as_u64().unwrap(),
        );
        assert!(
            (min..=max).contains(&people),
            "t={t}: {people} people, manifest {min}..={max}"
        );
    }
    let annotated = json["annotated"].as_str().expect("annotated picture path");
    assert!(std::fs::read(annotated).unwrap().starts_with(&[0xFF, 0xD8]));
    assert_eq!(
        json["max"],
        json["samples"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["people"].as_u64().unwrap())
            .max()
            .unwrap()
    );
    std::fs::remove_dir_all(&annotate).ok();
}

#[test]
fn count_reports_unhealthy_streams_without_counts() {
    let shared = shared();
    let weights = shared.join("weights/yolox_nano.onnx");
    let server = LoopbackServer::serve_dir(&shared.join("video/hls"), Fault::None).unwrap();
    let output = footfall(&[
        "count",
        &server.url("missing.m3u8"),
        "--weights",
        weights.to_str().unwrap(),
        "--json",
    ]);
    // The binary exited 1 here while the library's `exit_code()` said 3: one status remains,
    // 3 = the stream was not healthy (1 is kept for unreadable inputs of `detect`).
    assert_eq!(output.status.code(), Some(3));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["health"], "unavailable");
    assert!(json["max"].is_null());

    let output = footfall(&[
        "count",
        "ftp://host/x.mp4",
        "--weights",
        weights.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("unsupported URL scheme `ftp`"));
}

#[test]
fn users_subcommands_and_bad_input() {
    let dir = std::env::temp_dir().join(format!("footfall-users-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    let data = dir.to_str().unwrap();
    let added = footfall(&[
        "users",
        "--data-dir",
        data,
        "add",
        "alice",
        "--url",
        "http://127.0.0.1:1/p.m3u8",
        "--email",
        "a@example.com",
    ]);
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let listed = footfall(&["users", "--data-dir", data, "list", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(json[0]["user_id"], "alice");
    assert_eq!(json[0]["Monitoring_status"], 1);
    assert!(
        footfall(&["users", "--data-dir", data, "disable", "alice"])
            .status
            .success()
    );
    let unknown = footfall(&["users", "--data-dir", data, "enable", "bob"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unknown user `bob`"));
    assert!(
        footfall(&["users", "--data-dir", data, "remove", "alice"])
            .status
            .success()
    );
    let cron = footfall(&[
        "run-schedule",
        "--data-dir",
        data,
        "--cron",
        "0 0 * * *",
        "--once",
    ]);
    assert!(!cron.status.success());
    assert!(String::from_utf8_lossy(&cron.stderr).contains("invalid schedule"));
    std::fs::remove_dir_all(&dir).ok();
}
