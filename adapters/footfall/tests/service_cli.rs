//! `footfall run-schedule` as a service is stopped: SIGTERM (what `systemctl stop` and
//! `docker stop` send) during a tick, with the real binary and detector on loopback streams.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use results_store::{NewUser, Store};
use stream_server::LoopbackServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_new_jobs_lets_running_ones_go_and_keeps_what_finished() {
    let shared = testdata::shared_dir();
    let live = LoopbackServer::serve_live_hls(&shared.join("video/hls")).unwrap();
    let root = std::env::temp_dir().join(format!("footfall-sigterm-{}", std::process::id()));
    std::fs::remove_dir_all(&root).ok();
    std::fs::create_dir_all(&root).unwrap();
    let store = Store::connect(&format!("sqlite://{}", root.join("footfall.db").display()))
        .await
        .unwrap();
    let video = shared.join("video/people_10s_640x480.mp4");
    // Two at a time: a live stream (60 s of sampling) and a short file run first; when the file
    // is done, the second live stream starts; the third live stream waits for a slot.
    for (user, url) in [
        ("a-live", live.url("live.m3u8")),
        ("b-file", video.display().to_string()),
        ("c-live", live.url("live.m3u8")),
        ("d-live", live.url("live.m3u8")),
    ] {
        store
            .add_user(&NewUser::new(user, &url, &format!("{user}@example.com")))
            .await
            .unwrap();
    }
    let child = Command::new(env!("CARGO_BIN_EXE_footfall"))
        .args([
            "run-schedule",
            "--cron",
            "rate(1 hour)",
            "--once",
            "--concurrency",
            "2",
        ])
        .args(["--frames", "30", "--window", "60s", "--grace", "2s"])
        .arg("--data-dir")
        .arg(&root)
        .arg("--weights")
        .arg(shared.join("weights/yolox_nano.onnx"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the file's row, then stop the service.
    let deadline = Instant::now() + Duration::from_secs(60);
    while store.results_for("b-file").await.unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the short file was never stored");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let signalled = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    let stopped_in = signalled.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    // The grace (2 s) and a second for the runtime, not the live streams' 60 s.
    assert!(
        stopped_in < Duration::from_secs(8),
        "{stopped_in:?}\n{stderr}"
    );
    assert!(stderr.contains("stop requested"), "{stderr}");
    assert!(stdout.contains(" b-file health=ok"), "{stdout}");
    assert!(
        stdout.contains(" d-live not started (shutdown)"),
        "{stdout}"
    );
    for user in ["a-live", "c-live"] {
        assert!(
            stdout.contains(&format!(" {user} cut off by shutdown: not stored")),
            "{stdout}"
        );
    }
    // What finished is stored; what was cut off or never started is not.
    assert_eq!(store.results_for("b-file").await.unwrap().len(), 1);
    for user in ["a-live", "c-live", "d-live"] {
        assert!(store.results_for(user).await.unwrap().is_empty(), "{user}");
    }
    std::fs::remove_dir_all(&root).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_tick_keeps_finished_results_and_the_restart_completes_the_tick_once() {
    let shared = testdata::shared_dir();
    let live = LoopbackServer::serve_live_hls(&shared.join("video/hls")).unwrap();
    let root = std::env::temp_dir().join(format!("footfall-kill9-{}", std::process::id()));
    std::fs::remove_dir_all(&root).ok();
    std::fs::create_dir_all(&root).unwrap();
    let store = Store::connect(&format!("sqlite://{}", root.join("footfall.db").display()))
        .await
        .unwrap();
    let video = shared.join("video/people_10s_640x480.mp4");
    for (user, url) in [
        ("a-live", live.url("live.m3u8")),
        ("b-file", video.display().to_string()),
    ] {
        store
            .add_user(&NewUser::new(user, &url, &format!("{user}@example.com")))
            .await
            .unwrap();
    }
    let launch = |sampling: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_footfall"))
            .args(["run-schedule", "--cron", "rate(1 day)", "--once"])
            .args(sampling)
            .arg("--data-dir")
            .arg(&root)
            .arg("--weights")
            .arg(shared.join("weights/yolox_nano.onnx"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut first = launch(&["--frames", "30", "--window", "60s"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while store.results_for("b-file").await.unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the short file was never stored");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // kill -9: no handler runs.
    assert!(
        Command::new("kill")
            .args(["-KILL", &first.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    first.wait().unwrap();
    let csv = |user: &str| {
        std::fs::read_to_string(root.join(format!("results/{user}.csv"))).unwrap_or_default()
    };
    assert_eq!(store.results_for("b-file").await.unwrap().len(), 1);
    assert_eq!(csv("b-file").lines().count(), 2);
    assert!(store.results_for("a-live").await.unwrap().is_empty());

    // cron's next launch within the period: the same tick, finished; nothing twice.
    let second = launch(&["--frames", "2", "--window", "4s"])
        .wait_with_output()
        .unwrap();
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    for user in ["a-live", "b-file"] {
        assert_eq!(store.results_for(user).await.unwrap().len(), 1, "{user}");
        assert_eq!(csv(user).lines().count(), 2, "{user}: {}", csv(user));
    }
    std::fs::remove_dir_all(&root).ok();
}
