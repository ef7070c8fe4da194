//! The scheduler end to end on loopback: HLS over a real HTTP server, SQLite, CSV files, images,
//! the alert outbox, a real SMTP sink (`python3 -m aiosmtpd`, from scripts/setup.sh) and an SMTP
//! server that never greets. The people counter is a
//! fixed stand-in for the detector, so counts are known; the CLI tests use the real one.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use footfall_domain::sinks::{Delivery, Notifier};
use footfall_domain::{AlertDecision, Health, UserId};
use footfall_job::{AlertOutcome, CounterError, Counting, PeopleCounter, Step};
use frame_source::{JobOptions, SamplingPolicy, YtDlpResolver};
use image::RgbImage;
use local_runner::outbox::{AlertSender, OutboxNotifier, OutboxPolicy};
use local_runner::scheduler::{Scheduler, SchedulerConfig};
use local_runner::smtp::{Mailer, SmtpNotifier, SmtpSettings};
use results_store::{NewUser, Store};
use stream_server::{Fault, LoopbackServer, shared_dir};
use testdata::smtp::{SmtpSink, silent_server};

fn counting(people: usize) -> Counting {
    Counting {
        counter: Arc::new(FixedCounter(people)),
        resolver: Arc::new(YtDlpResolver::default()),
    }
}

fn smtp(port: u16) -> Arc<dyn Notifier> {
    Arc::new(
        SmtpNotifier::new(Some(SmtpSettings::new(
            format!("smtp://127.0.0.1:{port}"),
            "footfall@example.com",
        )))
        .unwrap(),
    )
}

/// A loopback HLS server on the shared test stream, an empty folder of the test's own and a
/// SQLite store in it.
async fn world(name: &str) -> (LoopbackServer, PathBuf, Store) {
    let shared = shared_dir().unwrap_or_else(|message| panic!("{message}"));
    let server = LoopbackServer::serve_dir(&shared.join("video/hls"), Fault::None).unwrap();
    let root = std::env::temp_dir().join(format!("scheduler-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&root).ok();
    std::fs::create_dir_all(&root).unwrap();
    let store = Store::connect(&format!("sqlite://{}", root.join("footfall.db").display()))
        .await
        .unwrap();
    (server, root, store)
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
        shutdown_grace: Duration::from_secs(5),
        result_retention_days: 365,
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticks_record_every_user_and_alert_once_per_cooldown() {
    let (server, root, store) = world("test").await;
    let sink = SmtpSink::start(&root.join("maildir"));
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
    // The re-run of 12:01 is judged again (a killed run may not have alerted), still cooling down.
    assert!(matches!(
        alice_alerts[2],
        Some(AlertOutcome::Skipped(AlertDecision::CoolingDown { .. }))
    ));
    assert_eq!(alice_alerts[3], sent);
    assert_eq!(
        summaries[0].outcomes[1].alert,
        Some(AlertOutcome::Skipped(AlertDecision::BelowThreshold {
            people: 3,
            threshold: 15
        }))
    );
    let messages = sink.wait_for(2);
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
        metric: None,
    };
    assert_eq!(notifier.notify(alert).await, Ok(Delivery::Logged));
    assert!(SmtpNotifier::new(Some(SmtpSettings::new("nonsense://", "a@b"))).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_delivery_does_not_start_the_cooldown() {
    let (server, root, store) = world("nosmtp").await;
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

fn mailer(port: u16, deadline: Duration) -> Arc<Mailer> {
    Arc::new(
        Mailer::new(&SmtpSettings {
            deadline,
            ..SmtpSettings::new(format!("smtp://127.0.0.1:{port}"), "footfall@example.com")
        })
        .unwrap(),
    )
}

fn outbox(store: &Store, mailer: &Arc<Mailer>) -> Arc<dyn Notifier> {
    Arc::new(OutboxNotifier {
        store: store.clone(),
        mailer: mailer.clone(),
        wake: Arc::new(tokio::sync::Notify::new()),
    })
}

fn sender(store: &Store, mailer: &Arc<Mailer>, data_dir: &Path) -> AlertSender {
    AlertSender {
        store: store.clone(),
        mailer: mailer.clone(),
        data_dir: data_dir.to_path_buf(),
        policy: OutboxPolicy {
            first_retry: Duration::from_secs(1),
            ..OutboxPolicy::default()
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_smtp_server_delays_no_result_and_its_alerts_go_out_later() {
    let (server, root, store) = world("silent").await;
    for user in ["alice", "bob"] {
        let mut new = NewUser::new(
            user,
            &server.url("people.m3u8"),
            &format!("{user}@example.com"),
        );
        new.threshold = 2;
        store.add_user(&new).await.unwrap();
    }
    let config = config(root.join("data"));
    let silent = mailer(silent_server(), Duration::from_secs(2));
    let scheduler = Scheduler::new(
        store.clone(),
        counting(3),
        outbox(&store, &silent),
        config.clone(),
    );

    // The tick stores both results and queues both alerts without talking to the server.
    let tick = Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap();
    let summary = scheduler.run_tick(tick).await.unwrap();
    for outcome in &summary.outcomes {
        assert!(outcome.inserted, "{outcome:?}");
        assert_eq!(
            outcome.alert,
            Some(AlertOutcome::Delivered(Delivery::Queued))
        );
    }
    assert_eq!(store.outbox_counts().await.unwrap().pending, 2);

    // Sending meets the silent server: each alert gives up at its deadline, and stays queued.
    let started = std::time::Instant::now();
    let report = sender(&store, &silent, &config.data_dir)
        .send_due(Duration::from_secs(60))
        .await;
    assert_eq!((report.sent, report.retry_later), (0, 2), "{report:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let run = summary.run_id.clone();
    let alice = UserId::parse("alice").unwrap();
    let (state, attempts, error) = store.alert_state(&run, &alice).await.unwrap().unwrap();
    assert_eq!((state.as_str(), attempts), ("pending", 1));
    assert!(error.unwrap().contains("did not finish within 2s"));

    // The server is fixed: the queued alerts go out once each, with their pictures.
    let sink = SmtpSink::start(&root.join("maildir"));
    let working = mailer(sink.port, Duration::from_secs(10));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let fixed = sender(&store, &working, &config.data_dir);
    assert_eq!(fixed.send_due(Duration::from_secs(60)).await.sent, 2);
    assert_eq!(
        fixed.send_due(Duration::from_secs(60)).await.sent,
        0,
        "at most once"
    );
    let messages = sink.wait_for(2);
    assert_eq!(messages.len(), 2);
    for message in &messages {
        assert!(message.contains("Content-Type: image/jpeg"), "{message}");
        assert!(message.contains("\nDate: "), "{message}");
        assert!(
            message.contains(&format!("Message-ID: <footfall.{run}.")),
            "{message}"
        );
    }
    let counts = store.outbox_counts().await.unwrap();
    assert_eq!((counts.sent, counts.undelivered()), (2, 0));
    std::fs::remove_dir_all(&root).ok();
}

/// A notifier that tells when it is reached and never returns: the process "dies" there.
struct DiesInNotify(std::sync::Mutex<Option<tokio::sync::oneshot::Sender<()>>>);

impl Notifier for DiesInNotify {
    fn notify<'a>(
        &'a self,
        _alert: footfall_domain::sinks::Alert<'a>,
    ) -> footfall_domain::sinks::BoxFuture<'a, Result<Delivery, footfall_domain::sinks::SinkError>>
    {
        if let Some(reached) = self.0.lock().unwrap().take() {
            let _ = reached.send(());
        }
        Box::pin(std::future::pending())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_between_its_csv_line_and_its_alert_alerts_once_when_run_again() {
    let (server, root, store) = world("killed").await;
    let mut alice = NewUser::new("alice", &server.url("people.m3u8"), "alice@example.com");
    alice.threshold = 2;
    store.add_user(&alice).await.unwrap();
    let config = config(root.join("data"));
    let csv_path = config.results_dir().join("alice.csv");
    let tick = Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap();

    // First process: result and CSV line written, then it dies while alerting.
    let (reached, dead) = tokio::sync::oneshot::channel();
    let dying = Scheduler::new(
        store.clone(),
        counting(3),
        Arc::new(DiesInNotify(std::sync::Mutex::new(Some(reached)))),
        config.clone(),
    );
    tokio::select! {
        _ = dying.run_tick(tick) => panic!("the tick cannot end"),
        _ = dead => {}
    }
    drop(dying);
    assert_eq!(store.results_for("alice").await.unwrap().len(), 1);
    assert_eq!(
        std::fs::read_to_string(&csv_path).unwrap().lines().count(),
        2
    );

    // The same tick again (cron's next launch of `--once`, named after the tick): the alert
    // the dead process owed goes out; nothing is stored or appended twice.
    let sink = SmtpSink::start(&root.join("maildir"));
    let working = mailer(sink.port, Duration::from_secs(10));
    for attempt in 0..2 {
        let scheduler = Scheduler::new(
            store.clone(),
            counting(3),
            outbox(&store, &working),
            config.clone(),
        );
        let summary = scheduler.run_tick(tick).await.unwrap();
        let outcome = &summary.outcomes[0];
        assert!(!outcome.inserted);
        let expected = if attempt == 0 {
            Some(AlertOutcome::Delivered(Delivery::Queued))
        } else {
            Some(AlertOutcome::Skipped(AlertDecision::AlreadyAlerted))
        };
        assert_eq!(outcome.alert, expected, "attempt {attempt}");
        sender(&store, &working, &config.data_dir)
            .send_due(Duration::from_secs(30))
            .await;
    }
    assert_eq!(sink.wait_for(1).len(), 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.messages().len(), 1, "one email per breach");
    assert_eq!(store.results_for("alice").await.unwrap().len(), 1);
    assert_eq!(
        std::fs::read_to_string(&csv_path).unwrap().lines().count(),
        2
    );
    std::fs::remove_dir_all(&root).ok();
}

/// Every log line of this test binary, at debug level.
#[derive(Clone, Default)]
struct LogLines(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogLines {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut lines) = self.0.lock() {
            lines.extend_from_slice(bytes);
        }
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_credentials_reach_no_sink() {
    let logs = LogLines::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // The only test here that installs one; the jobs' threads log through it.
    tracing::subscriber::set_global_default(subscriber).unwrap();
    let (server, root, store) = world("secrets").await;
    // The loopback server ignores the credentials; the stream opens with the full URL.
    let url = server.url("people.m3u8?token=tok3n&variant=1").replacen(
        "http://",
        "http://viewer:s3cret@",
        1,
    );
    let mut alice = NewUser::new("alice", &url, "alice@example.com");
    alice.threshold = 2;
    store.add_user(&alice).await.unwrap();
    let config = config(root.join("data"));
    let sink = SmtpSink::start(&root.join("maildir"));
    let working = mailer(sink.port, Duration::from_secs(10));
    let scheduler = Scheduler::new(
        store.clone(),
        counting(3),
        outbox(&store, &working),
        config.clone(),
    );
    let summary = scheduler.run_tick(Utc::now()).await.unwrap();
    assert_eq!(
        summary.outcomes[0].record.people_count,
        Some(3),
        "{:?}",
        summary.outcomes[0]
    );
    sender(&store, &working, &config.data_dir)
        .send_due(Duration::from_secs(30))
        .await;

    let shown = "http://***@127.0.0.1";
    let row = &store.results_for("alice").await.unwrap()[0];
    assert!(
        row.source.starts_with(shown) && row.source.ends_with("?token=***&variant=1"),
        "{}",
        row.source
    );
    let csv = std::fs::read_to_string(config.results_dir().join("alice.csv")).unwrap();
    let messages = sink.wait_for(1);
    assert_eq!(messages.len(), 1);
    let logged = String::from_utf8_lossy(&logs.0.lock().unwrap()).to_string();
    assert!(
        logged.contains("job started"),
        "the logs were captured: {logged}"
    );
    for (sink_name, text) in [
        ("csv", &csv),
        ("email", &messages[0]),
        ("db", &row.source),
        ("logs", &logged),
    ] {
        assert!(
            !text.contains("s3cret") && !text.contains("tok3n"),
            "{sink_name}: {text}"
        );
        assert!(text.contains(shown), "{sink_name}: {text}");
    }
    std::fs::remove_dir_all(&root).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_tick_deletes_rows_past_the_retention_so_the_database_stays_bounded() {
    let (server, root, store) = world("retention").await;
    store
        .add_user(&NewUser::new(
            "alice",
            &server.url("people.m3u8"),
            "alice@example.com",
        ))
        .await
        .unwrap();
    let tick = Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap();
    let old = footfall_domain::ResultRecord {
        run_id: footfall_domain::RunId::parse("20241101T120000Z").unwrap(),
        user_id: UserId::parse("alice").unwrap(),
        taken_at: tick - chrono::Duration::days(366),
        people_count: Some(1),
        health: Health::Ok,
        frames: 2,
        source: "x".into(),
        image_ref: None,
    };
    store.insert_result(&old).await.unwrap();
    let scheduler = Scheduler::new(
        store.clone(),
        counting(3),
        smtp(silent_server()),
        config(root.join("data")),
    );
    let summary = scheduler.run_tick(tick).await.unwrap();
    assert_eq!(summary.pruned_rows, (1, 0));
    let rows = store.results_for("alice").await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].taken_at, tick, "the tick's own row stays");
    std::fs::remove_dir_all(&root).ok();
}
