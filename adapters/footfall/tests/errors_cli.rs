//! What the `footfall` binary prints when things go wrong, as scripts and people read it:
//! `--json` keeps stdout one JSON document (`{"error":{"kind","message"}}`), human mode one
//! plain `error:` line on stderr, JSON logs only JSON lines; paths and causes are named.

use std::path::PathBuf;
use std::process::{Command, Output};

fn shared() -> PathBuf {
    testdata::shared_dir()
}

fn weights() -> String {
    shared()
        .join("weights/yolox_nano.onnx")
        .display()
        .to_string()
}

fn footfall(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_footfall"))
        .args(args)
        // Nothing from the developer's environment decides where weights come from.
        .env_remove("FOOTFALL_WEIGHTS")
        .env(
            "FOOTFALL_WEIGHTS_DIR",
            std::env::temp_dir().join("footfall-no-weights-here"),
        )
        .output()
        .expect("run footfall")
}

/// The one JSON document on stdout, with the exit status.
fn json_error(output: &Output) -> (i32, String, String) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let json: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}): {stdout:?}\nstderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (
        output.status.code().unwrap_or(-1),
        json["error"]["kind"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        json["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

#[test]
fn json_mode_answers_every_fatal_error_with_json_on_stdout() {
    let weights = weights();
    let cases: [(&[&str], &str, &str); 5] = [
        (
            &[
                "count",
                "ftp://cam/clip.mp4",
                "--json",
                "--weights",
                &weights,
            ],
            "source",
            "unsupported URL scheme `ftp`",
        ),
        (
            &[
                "count",
                "clip.mp4",
                "--json",
                "--every",
                "often",
                "--weights",
                &weights,
            ],
            "usage",
            "often",
        ),
        (
            &[
                "count",
                "clip.mp4",
                "--json",
                "--weights",
                "/nonexistent/w.onnx",
            ],
            "weights",
            "/nonexistent/w.onnx",
        ),
        (
            &["detect", "--json", "x.jpg", "--model", "nano"],
            "weights",
            "footfall weights import",
        ),
        (
            &[
                "users",
                "--db",
                "mysql://nobody@127.0.0.1:1/none",
                "list",
                "--json",
            ],
            "database",
            "could not connect",
        ),
    ];
    for (args, kind, says) in cases {
        let output = footfall(args);
        let (code, got_kind, message) = json_error(&output);
        assert_eq!((code, got_kind.as_str()), (2, kind), "{args:?}: {message}");
        assert!(message.contains(says), "{args:?}: {message}");
    }
    // A source that cannot be opened is not fatal: the report says so (exit 3), still JSON.
    let output = footfall(&[
        "count",
        "/nonexistent/clip.mp4",
        "--json",
        "--weights",
        &weights,
    ]);
    assert_eq!(output.status.code(), Some(3));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["health"], "unavailable");
    assert_eq!(report["error"], "file not found: /nonexistent/clip.mp4");
}

#[test]
fn human_mode_says_error_once_on_stderr_and_json_logs_stay_json() {
    let output = footfall(&["count", "ftp://cam/clip.mp4", "--weights", &weights()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("clip.mp4")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].starts_with("error: unsupported URL scheme `ftp`"),
        "{stderr}"
    );
    // Not a terminal: no colour codes.
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");

    let output = footfall(&[
        "--log-format",
        "json",
        "count",
        "ftp://cam/clip.mp4",
        "--weights",
        &weights(),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.trim().is_empty());
    for line in stderr.lines() {
        let json: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        if json["level"] == "ERROR" {
            assert_eq!(json["fields"]["kind"], "source", "{line}");
        }
    }
}

#[test]
fn an_unwritable_annotate_folder_fails_before_the_job_and_names_the_path() {
    let blocker = std::env::temp_dir().join(format!("footfall-annotate-{}", std::process::id()));
    std::fs::write(&blocker, b"a file, not a folder").unwrap();
    let folder = blocker.join("pictures");
    let video = shared().join("video/people_10s_640x480.mp4");
    let started = std::time::Instant::now();
    let output = footfall(&[
        "count",
        video.to_str().unwrap(),
        "--json",
        "--annotate",
        folder.to_str().unwrap(),
        "--weights",
        &weights(),
    ]);
    let (code, kind, message) = json_error(&output);
    assert_eq!((code, kind.as_str()), (2, "output"), "{message}");
    assert!(message.contains(&folder.display().to_string()), "{message}");
    // Refused before a single frame was decoded (the video alone takes longer to count).
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    std::fs::remove_file(&blocker).ok();
}

#[test]
fn weights_import_fills_the_cache_only_with_a_known_file() {
    let cache = std::env::temp_dir().join(format!("footfall-cache-{}", std::process::id()));
    std::fs::remove_dir_all(&cache).ok();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_footfall"))
            .args(args)
            .env_remove("FOOTFALL_WEIGHTS")
            .env("FOOTFALL_WEIGHTS_DIR", &cache)
            .output()
            .unwrap()
    };
    // A file that is not a known export is refused, and the cache stays empty.
    let stranger = cache.with_extension("onnx");
    std::fs::write(&stranger, b"not yolox").unwrap();
    let output = run(&["weights", "import", stranger.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("checksum mismatch"));
    assert!(!cache.join("yolox_nano.onnx").exists());
    // The shared export is a known one: imported, then found by name with no --weights.
    let output = run(&["weights", "import", &weights()]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let list = String::from_utf8_lossy(&run(&["weights", "list"]).stdout).to_string();
    assert!(list.contains("yolox_nano  cached, verified"), "{list}");
    assert!(list.contains("unverified (no checksum)"), "{list}");
    let bus = shared().join("images/bus.jpg");
    let output = run(&["detect", "--json", bus.to_str().unwrap()]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::remove_dir_all(&cache).ok();
    std::fs::remove_file(&stranger).ok();
}
