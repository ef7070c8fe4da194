//! `footfall run-schedule` as a service is stopped: SIGTERM (what `systemctl stop` and
//! `docker stop` send) or `kill -9` during a tick, with the real binary and detector on loopback
//! streams.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use results_store::{NewUser, Store};
use stream_server::LoopbackServer;

/// A data folder with its SQLite store, users on a live loopback stream (`*-live`, endless) or
/// the shared 10 s video (`*-file`, done in a few seconds), and the binary to run on them.
struct Service {
    shared: PathBuf,
    root: PathBuf,
    store: Store,
    _live: LoopbackServer,
}

impl Service {
    async fn new(name: &str, users: &[&str]) -> Self {
        let shared = testdata::shared_dir();
        let live = LoopbackServer::serve_live_hls(&shared.join("video/hls")).unwrap();
        let root = std::env::temp_dir().join(format!("footfall-{name}-{}", std::process::id()));
        std::fs::remove_dir_all(&root).ok();
        std::fs::create_dir_all(&root).unwrap();
        let store = Store::connect(&format!("sqlite://{}", root.join("footfall.db").display()))
            .await
            .unwrap();
        let video = shared.join("video/people_10s_640x480.mp4");
        for user in users {
            let url = if user.ends_with("-live") {
                live.url("live.m3u8")
            } else {
                video.display().to_string()
            };
            store
                .add_user(&NewUser::new(user, &url, &format!("{user}@example.com")))
                .await
                .unwrap();
        }
        Self {
            shared,
            root,
            store,
            _live: live,
        }
    }

    /// `footfall run-schedule --once ARGS` on this data folder, output captured.
    fn launch(&self, args: &[&str]) -> Child {
        Command::new(env!("CARGO_BIN_EXE_footfall"))
            .args(["run-schedule", "--once"])
            .args(args)
            .arg("--data-dir")
            .arg(&self.root)
            .arg("--weights")
            .arg(self.shared.join("weights/yolox_nano.onnx"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    async fn rows(&self, user: &str) -> usize {
        self.store.results_for(user).await.unwrap().len()
    }

    /// Waits (up to a minute) until `user`'s result is stored.
    async fn wait_for_row(&self, user: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.rows(user).await == 0 {
            assert!(
                Instant::now() < deadline,
                "{user}'s result was never stored"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn csv_lines(&self, user: &str) -> usize {
        std::fs::read_to_string(self.root.join(format!("results/{user}.csv")))
            .unwrap_or_default()
            .lines()
            .count()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.root).ok();
    }
}

fn signal(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_new_jobs_lets_running_ones_go_and_keeps_what_finished() {
    // Two at a time: a live stream (60 s of sampling) and a short file run first; when the file
    // is done, the second live stream starts; the third live stream waits for a slot.
    let service = Service::new("sigterm", &["a-live", "b-file", "c-live", "d-live"]).await;
    let child = service.launch(&[
        "--cron",
        "rate(1 hour)",
        "--concurrency",
        "2",
        "--frames",
        "30",
        "--window",
        "60s",
        "--grace",
        "2s",
    ]);
    // Wait for the file's row, then stop the service.
    service.wait_for_row("b-file").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let signalled = Instant::now();
    signal(&child, "-TERM");
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
    assert_eq!(service.rows("b-file").await, 1);
    for user in ["a-live", "c-live", "d-live"] {
        assert_eq!(service.rows(user).await, 0, "{user}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_tick_keeps_finished_results_and_the_restart_completes_the_tick_once() {
    let service = Service::new("kill9", &["a-live", "b-file"]).await;
    // A daily schedule, so the restart falls in the same period.
    let mut first = service.launch(&["--cron", "rate(1 day)", "--frames", "30", "--window", "60s"]);
    service.wait_for_row("b-file").await;
    // kill -9: no handler runs.
    signal(&first, "-KILL");
    first.wait().unwrap();
    assert_eq!(service.rows("b-file").await, 1);
    assert_eq!(service.csv_lines("b-file"), 2);
    assert_eq!(service.rows("a-live").await, 0);

    // cron's next launch within the period: the same tick, finished; nothing twice.
    let second = service
        .launch(&["--cron", "rate(1 day)", "--frames", "2", "--window", "4s"])
        .wait_with_output()
        .unwrap();
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    for user in ["a-live", "b-file"] {
        assert_eq!(service.rows(user).await, 1, "{user}");
        assert_eq!(service.csv_lines(user), 2, "{user}");
    }
}
