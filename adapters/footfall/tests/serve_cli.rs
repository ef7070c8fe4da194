//! `footfall serve` and `footfall run-schedule --serve` with the real binary: a data folder
//! filled by a real `run-schedule --once` on the shared video, then the pages, the API, the
//! latest picture and the metrics over loopback HTTP, the pages in headless chromium (a
//! screenshot kept under `CARGO_TARGET_TMPDIR/footfall-serve-screenshots/`), and a clean stop on
//! SIGTERM.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use results_store::{NewUser, Store};
use testdata::browser::{browse, chromium_or_skip};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One HTTP/1.1 GET over loopback: (status, content type, body).
fn get(port: u16, path: &str) -> std::io::Result<(u16, String, Vec<u8>)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no header end"))?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let content_type = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-type")
                .then(|| value.trim().to_string())
        })
        .unwrap_or_default();
    let mut body = raw[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = unchunk(&body);
    }
    Ok((status, content_type, body))
}

fn unchunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = data.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&data[..end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[end + 2..end + 2 + size]);
        data = &data[end + 2 + size + 2..];
    }
    out
}

/// Waits until `/healthz` answers 200 (the server is up), or the child exits.
fn wait_up(port: u16, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok((200, _, _)) = get(port, "/healthz") {
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the server exited before it answered: {status}");
        }
        assert!(Instant::now() < deadline, "no answer on port {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// SIGTERM, then the exit status within `within`.
fn stop(mut child: Child, within: Duration) -> Output {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + within;
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "did not stop after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// `footfall SUBCOMMAND --data-dir ROOT` (the data folder is an option of the subcommands).
fn footfall(root: &Path, subcommand: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_footfall"));
    command.arg(subcommand).arg("--data-dir").arg(root);
    command
}

async fn data_folder(name: &str) -> (PathBuf, PathBuf) {
    let shared = testdata::shared_dir();
    let root = std::env::temp_dir().join(format!("footfall-serve-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&root).ok();
    std::fs::create_dir_all(&root).unwrap();
    let store = Store::connect(&format!("sqlite://{}", root.join("footfall.db").display()))
        .await
        .unwrap();
    let video = shared.join("video/people_10s_640x480.mp4");
    let mut user = NewUser::new("lobby", &video.display().to_string(), "lobby@example.com");
    user.threshold = 3;
    store.add_user(&user).await.unwrap();
    store.close().await;
    (shared, root)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_shows_what_a_real_run_stored() {
    let (shared, root) = data_folder("once").await;
    // A real tick: the detector counts the shared video and saves the annotated picture.
    let once = footfall(&root, "run-schedule")
        .args(["--once", "--cron", "rate(1 hour)"])
        .args(["--frames", "3", "--window", "6s"])
        .arg("--weights")
        .arg(shared.join("weights/yolox_nano.onnx"))
        .output()
        .unwrap();
    assert!(
        once.status.success(),
        "{}",
        String::from_utf8_lossy(&once.stderr)
    );

    let port = free_port();
    let mut server = footfall(&root, "serve")
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_up(port, &mut server);

    let (status, content_type, page) = get(port, "/").unwrap();
    let page = String::from_utf8_lossy(&page);
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(page.contains("lobby"), "{page}");
    assert!(page.contains("<svg"), "the sparkline: {page}");

    let (status, _, users) = get(port, "/api/users").unwrap();
    assert_eq!(status, 200);
    let users: serde_json::Value = serde_json::from_slice(&users).unwrap();
    assert!(users.to_string().contains("\"lobby\""), "{users}");

    let (status, _, results) = get(port, "/api/users/lobby/results").unwrap();
    assert_eq!(status, 200);
    let results: serde_json::Value = serde_json::from_slice(&results).unwrap();
    let text = results.to_string();
    assert!(text.contains("people_count"), "{text}");

    let (status, content_type, jpeg) = get(port, "/api/users/lobby/latest.jpg").unwrap();
    assert_eq!((status, content_type.as_str()), (200, "image/jpeg"));
    let picture = image::load_from_memory(&jpeg).unwrap();
    assert_eq!((picture.width(), picture.height()), (640, 480));

    let (status, _, metrics) = get(port, "/metrics").unwrap();
    let metrics = String::from_utf8_lossy(&metrics);
    assert_eq!(status, 200);
    assert!(
        metrics.contains("footfall_people{user_id=\"lobby\"}"),
        "{metrics}"
    );

    // A real browser on the real run's pages: the tile, the sparkline, the annotated picture
    // decoded (the page marks each <img> data-loaded="1" once it has), the stream page's chart.
    match chromium_or_skip() {
        Some(chromium) => {
            let profile = root.join("chromium-profile");
            let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("footfall-serve-screenshots");
            std::fs::create_dir_all(&shots).unwrap();
            let overview = browse(
                &chromium,
                &profile,
                &["--dump-dom"],
                &format!("http://127.0.0.1:{port}/"),
            );
            assert!(overview.contains("<article class=\"tile"), "{overview}");
            assert!(overview.contains("<svg class=\"spark\""), "{overview}");
            assert!(
                overview.contains("data-loaded=\"1\""),
                "picture not decoded: {overview}"
            );
            let stream = browse(
                &chromium,
                &profile,
                &["--dump-dom"],
                &format!("http://127.0.0.1:{port}/users/lobby?range=day"),
            );
            assert!(stream.contains("<svg class=\"chart\""), "{stream}");
            let shot = shots.join("overview.png");
            browse(
                &chromium,
                &profile,
                &[
                    "--window-size=1280,820",
                    &format!("--screenshot={}", shot.display()),
                ],
                &format!("http://127.0.0.1:{port}/"),
            );
            assert!(
                std::fs::metadata(&shot).is_ok_and(|m| m.len() > 10_000),
                "{}",
                shot.display()
            );
            eprintln!("screenshot: {}", shot.display());
        }
        None => eprintln!("chromium not found: the browser part was skipped"),
    }

    let stopped = stop(server, Duration::from_secs(10));
    assert!(
        stopped.status.success(),
        "{}",
        String::from_utf8_lossy(&stopped.stderr)
    );
    std::fs::remove_dir_all(&root).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_address_but_loopback_needs_a_token() {
    let (_, root) = data_folder("token").await;
    let refused = footfall(&root, "serve")
        .args(["--bind", &format!("0.0.0.0:{}", free_port())])
        .env_remove("FOOTFALL_SERVE_TOKEN")
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.to_lowercase().contains("token"), "{stderr}");
    // Also when the server would run beside the scheduler: refused before the first tick.
    let refused = footfall(&root, "run-schedule")
        .args(["--cron", "rate(1 hour)"])
        .args(["--serve", &format!("0.0.0.0:{}", free_port())])
        .env_remove("FOOTFALL_SERVE_TOKEN")
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    std::fs::remove_dir_all(&root).ok();
}

/// `run-schedule --serve`: one process runs the schedule and serves; SIGTERM stops both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_schedule_serves_beside_the_scheduler() {
    let (shared, root) = data_folder("beside").await;
    let port = free_port();
    let mut both = footfall(&root, "run-schedule")
        .args(["--cron", "rate(1 day)"])
        .args(["--serve", &format!("127.0.0.1:{port}")])
        .arg("--weights")
        .arg(shared.join("weights/yolox_nano.onnx"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_up(port, &mut both);
    let (status, _, page) = get(port, "/").unwrap();
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&page).contains("lobby"));
    let stopped = stop(both, Duration::from_secs(30));
    assert!(
        stopped.status.success(),
        "{}",
        String::from_utf8_lossy(&stopped.stderr)
    );
    std::fs::remove_dir_all(&root).ok();
}
