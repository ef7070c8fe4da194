//! The scheduler end to end on loopback: HLS over a real HTTP server, SQLite, CSV files, images,
//! and a real SMTP sink (`python3 -m aiosmtpd`, `pip install aiosmtpd`). The people counter is a
//! stand-in for the detector (this crate does not depend on it); the CLI tests use the real one.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use stream_server::{Fault, LoopbackServer, shared_dir};
use frame_source::{JobOptions, SamplingPolicy, YtDlpResolver};
use image::RgbImage;
use local_runner::alerts::{AlertOutcome, Alerter, SmtpSettings};
use local_runner::job::{CounterError, PeopleCounter};
use local_runner::scheduler::{Scheduler, SchedulerConfig};
use results_store::{NewUser, Store};

/// Counts a fixed number of people per frame and "annotates" by JPEG-encoding the frame.
struct FixedCounter(usize);

impl PeopleCounter for FixedCounter {
    fn count(&self, frames: &[RgbImage]) -> Result<Vec<usize>, CounterError> {
        Ok(vec![self.0; frames.len()])
    }
    fn annotated_jpeg(&self, frame: &RgbImage) -> Result<Vec<u8>, CounterError> {
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 85).encode_image(frame)?;
        Ok(jpeg)
    }
}

struct SmtpSink {
    child: Child,
    maildir: PathBuf,
    port: u16,
}

impl SmtpSink {
    fn start(maildir: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("python3")
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 must be installed to run the SMTP sink");
        let sink = Self {
            child,
            maildir: maildir.to_path_buf(),
            port,
        };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return sink;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("aiosmtpd did not start on port {port}: install it with `pip install aiosmtpd`");
    }

    fn messages(&self) -> Vec<String> {
        let new = self.maildir.join("new");
        let mut messages: Vec<String> = std::fs::read_dir(&new)
            .map(|entries| {
                entries
                    .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
                    .collect()
            })
            .unwrap_or_default();
        messages.sort();
        messages
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticks_record_every_user_and_alert_once_per_cooldown() {
    let shared = shared_dir().unwrap_or_else(|message| panic!("{message}"));
    let server = LoopbackServer::serve_dir(&shared.join("video/hls"), Fault::None).unwrap();
    let root = std::env::temp_dir().join(format!("scheduler-test-{}", std::process::id()));
    std::fs::remove_dir_all(&root).ok();
    std::fs::create_dir_all(&root).unwrap();
    let sink = SmtpSink::start(&root.join("maildir"));

    let store = Store::connect(&format!("sqlite://{}", root.join("footfall.db").display()))
        .await
        .unwrap();
    let hls = server.url("people.m3u8");
    let mut alice = NewUser::new("alice", &hls, "alice@example.com");
    alice.threshold = 2; // 3 people > 2: alerts
    store.add_user(&alice).await.unwrap();
    store
        .add_user(&NewUser::new("bob", &hls, "bob@example.com"))
        .await
        .unwrap(); // threshold 15
    store
        .add_user(&NewUser::new(
            "carol",
            &server.url("missing.m3u8"),
            "carol@example.com",
        ))
        .await
        .unwrap();
    store
        .add_user(&NewUser::new("dave", &hls, "dave@example.com"))
        .await
        .unwrap();
    store.disable_user("dave").await.unwrap();

    let alerter = Alerter::new(
        Some(SmtpSettings {
            url: format!("smtp://127.0.0.1:{}", sink.port),
            from: "footfall@example.com".into(),
        }),
        chrono::Duration::minutes(10),
    )
    .unwrap();
    let config = SchedulerConfig {
        data_dir: root.join("data"),
        concurrency: 2,
        image_retention_days: 7,
        job_options: JobOptions {
            sampling: SamplingPolicy::Every(Duration::from_secs(5)),
            ..JobOptions::default()
        },
    };
    let scheduler = Scheduler::new(
        store.clone(),
        Arc::new(FixedCounter(3)),
        Arc::new(YtDlpResolver::default()),
        alerter,
        config.clone(),
    );

    // A fake clock: ticks at 12:00, 12:01 (inside alice's cooldown), a re-run of 12:01, and 12:11.
    let ticks = [
        Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2026, 11, 28, 12, 1, 0).unwrap(),
        Utc.with_ymd_and_hms(2026, 11, 28, 12, 1, 0).unwrap(),
        Utc.with_ymd_and_hms(2026, 11, 28, 12, 11, 0).unwrap(),
    ];
    let mut summaries = Vec::new();
    for tick in ticks {
        summaries.push(scheduler.run_tick(tick).await.unwrap());
    }

    // Every monitored user has a row per distinct tick; the unavailable stream is recorded as such.
    for summary in &summaries {
        let users: Vec<&str> = summary
            .outcomes
            .iter()
            .map(|o| o.record.user_id.as_str())
            .collect();
        assert_eq!(users, ["alice", "bob", "carol"]);
    }
    assert!(
        summaries[2].outcomes.iter().all(|o| !o.inserted),
        "re-run tick inserts nothing"
    );
    for user in ["alice", "bob"] {
        let rows = store.results_for(user).await.unwrap();
        assert_eq!(rows.len(), 3, "{user}: {rows:?}");
        for row in &rows {
            assert_eq!(
                (row.health.as_str(), row.people_count, row.frames),
                ("ok", Some(3), 2)
            );
            let image = config.data_dir.join(row.image_ref.as_deref().unwrap());
            assert!(
                std::fs::read(&image).unwrap().starts_with(&[0xFF, 0xD8]),
                "JPEG at {}",
                image.display()
            );
        }
        let csv =
            std::fs::read_to_string(config.results_dir().join(format!("{user}.csv"))).unwrap();
        assert_eq!(csv.lines().count(), 1 + 3, "{csv}");
    }
    let carol = store.results_for("carol").await.unwrap();
    assert_eq!(carol.len(), 3);
    assert!(
        carol.iter().all(|r| r.health == "unavailable"
            && r.people_count.is_none()
            && r.image_ref.is_none())
    );
    let carol_csv = std::fs::read_to_string(config.results_dir().join("carol.csv")).unwrap();
    assert!(
        carol_csv
            .lines()
            .nth(1)
            .unwrap()
            .contains(",carol,,unavailable,0,"),
        "{carol_csv}"
    );
    assert!(
        store.results_for("dave").await.unwrap().is_empty(),
        "disabled user not run"
    );

    // Alerts: alice at 12:00 and 12:11 (cooldown 10 min), never bob (threshold 15), never carol.
    let alice_alerts: Vec<_> = summaries
        .iter()
        .map(|s| s.outcomes[0].alert.clone())
        .collect();
    assert_eq!(alice_alerts[0], Some(AlertOutcome::Sent));
    assert!(matches!(
        alice_alerts[1],
        Some(AlertOutcome::CoolingDown { .. })
    ));
    assert_eq!(
        alice_alerts[2], None,
        "re-run tick: no new result, no alert"
    );
    assert_eq!(alice_alerts[3], Some(AlertOutcome::Sent));
    assert_eq!(
        summaries[0].outcomes[1].alert,
        Some(AlertOutcome::BelowThreshold)
    );
    let mut messages = sink.messages();
    for _ in 0..50 {
        if messages.len() >= 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        messages = sink.messages();
    }
    assert_eq!(messages.len(), 2, "exactly one email per cooldown window");
    for message in &messages {
        assert!(message.contains("To: alice@example.com"), "{message}");
        assert!(message.contains("3 people at alice"), "{message}");
        assert!(message.contains("Content-Type: image/jpeg"), "{message}");
    }
    std::fs::remove_dir_all(&root).ok();
}

#[tokio::test]
async fn alerts_without_smtp_are_logged_with_cooldown() {
    let alerter = Alerter::new(None, chrono::Duration::minutes(5)).unwrap();
    let at = Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap();
    let alert = |minute: i64, people: u64| local_runner::alerts::Alert {
        user_id: "alice",
        email: "alice@example.com",
        people,
        threshold: 10,
        taken_at: at + chrono::Duration::minutes(minute),
        source: "x",
        jpeg: None,
    };
    assert_eq!(
        alerter.consider(&alert(0, 10)).await.unwrap(),
        AlertOutcome::BelowThreshold
    );
    assert_eq!(
        alerter.consider(&alert(0, 11)).await.unwrap(),
        AlertOutcome::Logged
    );
    assert!(matches!(
        alerter.consider(&alert(4, 11)).await.unwrap(),
        AlertOutcome::CoolingDown { .. }
    ));
    assert_eq!(
        alerter.consider(&alert(5, 11)).await.unwrap(),
        AlertOutcome::Logged
    );
    assert!(
        Alerter::new(
            Some(SmtpSettings {
                url: "nonsense://".into(),
                from: "a@b".into()
            }),
            chrono::Duration::zero()
        )
        .is_err()
    );
}

#[tokio::test]
async fn failed_delivery_does_not_start_the_cooldown() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let alerter = Alerter::new(
        Some(SmtpSettings {
            url: format!("smtp://127.0.0.1:{port}"),
            from: "footfall@example.com".into(),
        }),
        chrono::Duration::minutes(5),
    )
    .unwrap();
    let alert = local_runner::alerts::Alert {
        user_id: "alice",
        email: "alice@example.com",
        people: 20,
        threshold: 10,
        taken_at: Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap(),
        source: "x",
        jpeg: Some(&[0xFF, 0xD8, 0xFF, 0xD9]),
    };
    let first = alerter.consider(&alert).await.unwrap_err();
    assert!(
        first.to_string().contains("SMTP delivery failed"),
        "{first}"
    );
    // Still not cooling down: the next tick tries again.
    assert!(alerter.consider(&alert).await.is_err());
}
