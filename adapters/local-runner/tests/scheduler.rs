//! The scheduler end to end on loopback: HLS over a real HTTP server, SQLite, CSV files, images,
//! and a real SMTP sink (`python3 -m aiosmtpd`, from scripts/setup.sh). The people counter is a
//! fixed stand-in for the detector, so counts are known; the CLI tests use the real one.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use footfall_domain::sinks::{Delivery, Notifier};
use footfall_domain::{AlertDecision, Health, UserId};
use footfall_job::{AlertOutcome, CounterError, Counting, PeopleCounter, Step};
use frame_source::{JobOptions, SamplingPolicy, YtDlpResolver};
use image::RgbImage;
use local_runner::scheduler::{Scheduler, SchedulerConfig};
use local_runner::smtp::{SmtpNotifier, SmtpSettings};
use results_store::{NewUser, Store};
use stream_server::{Fault, LoopbackServer, shared_dir};

fn counting(people: usize) -> Counting {
    Counting {
        counter: Arc::new(FixedCounter(people)),
        resolver: Arc::new(YtDlpResolver::default()),
    }
}

fn smtp(port: u16) -> Arc<dyn Notifier> {
    Arc::new(
        SmtpNotifier::new(Some(SmtpSettings {
            url: format!("smtp://127.0.0.1:{port}"),
            from: "footfall@example.com".into(),
        }))
        .unwrap(),
    )
}

fn config(data_dir: PathBuf) -> SchedulerConfig {
    SchedulerConfig {
        data_dir,
        concurrency: 2,
        image_retention_days: 7,
        job_options: JobOptions {
            sampling: SamplingPolicy::Every(Duration::from_secs(5)),
            ..JobOptions::default()
        },
        alert_cooldown: chrono::Duration::minutes(10),
    }
}

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
        let child = Command::new(testdata::venv_tool("python3"))
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

    let config = config(root.join("data"));
    let db_url = format!("sqlite://{}", root.join("footfall.db").display());

    // A fake clock: ticks at 12:00, 12:01 (inside alice's cooldown), a re-run of 12:01, and 12:11.
    let ticks = [
        Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2026, 11, 28, 12, 1, 0).unwrap(),
        Utc.with_ymd_and_hms(2026, 11, 28, 12, 1, 0).unwrap(),
        Utc.with_ymd_and_hms(2026, 11, 28, 12, 11, 0).unwrap(),
    ];
    // Each tick in a scheduler of its own, as `run-schedule --once` under cron runs each tick
    // in a new process: the cooldown must come from the database, not from memory.
    let mut summaries = Vec::new();
    for tick in ticks {
        let scheduler = Scheduler::new(
            Store::connect(&db_url).await.unwrap(),
            counting(3),
            smtp(sink.port),
            config.clone(),
        );
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
                (row.health, row.people_count, row.frames),
                (Health::Ok, Some(3), 2)
            );
            // `source` is the stream URL, whichever runtime wrote the row.
            assert_eq!(row.source, hls);
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
    assert!(carol.iter().all(|r| r.health == Health::Unavailable
        && r.people_count.is_none()
        && r.image_ref.is_none()));
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
    let sent = Some(AlertOutcome::Delivered(Delivery::Sent));
    assert_eq!(alice_alerts[0], sent);
    assert!(matches!(
        alice_alerts[1],
        Some(AlertOutcome::Skipped(AlertDecision::CoolingDown { .. }))
    ));
    assert_eq!(
        alice_alerts[2], None,
        "re-run tick: no new result, no alert"
    );
    assert_eq!(alice_alerts[3], sent);
    assert_eq!(
        summaries[0].outcomes[1].alert,
        Some(AlertOutcome::Skipped(AlertDecision::BelowThreshold {
            people: 3,
            threshold: 15
        }))
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
async fn alerts_without_smtp_are_log_lines_and_bad_smtp_urls_are_refused() {
    let notifier = SmtpNotifier::new(None).unwrap();
    assert!(!notifier.smtp_configured());
    let record = footfall_domain::ResultRecord {
        run_id: footfall_domain::RunId::parse("r1").unwrap(),
        user_id: UserId::parse("alice").unwrap(),
        taken_at: Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap(),
        people_count: Some(11),
        health: Health::Ok,
        frames: 1,
        source: "x".into(),
        image_ref: None,
    };
    let alert = footfall_domain::sinks::Alert {
        record: &record,
        email: "alice@example.com",
        people: 11,
        threshold: 10,
        monitored: true,
        jpeg: None,
    };
    assert_eq!(notifier.notify(alert).await, Ok(Delivery::Logged));
    assert!(
        SmtpNotifier::new(Some(SmtpSettings {
            url: "nonsense://".into(),
            from: "a@b".into()
        }))
        .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_delivery_does_not_start_the_cooldown() {
    let shared = shared_dir().unwrap_or_else(|message| panic!("{message}"));
    let server = LoopbackServer::serve_dir(&shared.join("video/hls"), Fault::None).unwrap();
    let root = std::env::temp_dir().join(format!("scheduler-nosmtp-{}", std::process::id()));
    std::fs::remove_dir_all(&root).ok();
    std::fs::create_dir_all(&root).unwrap();
    let store = Store::connect(&format!("sqlite://{}", root.join("footfall.db").display()))
        .await
        .unwrap();
    let mut alice = NewUser::new("alice", &server.url("people.m3u8"), "alice@example.com");
    alice.threshold = 2;
    store.add_user(&alice).await.unwrap();
    // Nothing listens on this port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let scheduler = Scheduler::new(
        store.clone(),
        counting(3),
        smtp(port),
        config(root.join("data")),
    );
    let first = Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap();
    for tick in [first, first + chrono::Duration::minutes(1)] {
        let summary = scheduler.run_tick(tick).await.unwrap();
        let outcome = &summary.outcomes[0];
        assert_eq!(outcome.alert, None, "{outcome:?}");
        match outcome.job.step("notify") {
            Some(Step::Failed(error)) => assert!(error.contains("SMTP delivery failed"), "{error}"),
            other => panic!("notify step: {other:?}"),
        }
        // Not cooling down: the next tick tries again.
        let alice = UserId::parse("alice").unwrap();
        assert_eq!(store.last_alert(&alice).await.unwrap(), None);
    }
    std::fs::remove_dir_all(&root).ok();
}
