//! Failure drills of the local runner against real servers and file systems on this machine:
//!
//! * the MariaDB server stops in the middle of a tick and comes back (a private `mariadbd`, never
//!   the shared one on port 3306): results are spooled, written once after the restart, never
//!   duplicated;
//! * the data folder's disk is full (a 256 KiB tmpfs mounted for the test; skipped with a message
//!   where mounting is not permitted): a clear error, and the CSV never holds half a line;
//! * the data folder cannot be created (its parent is a regular file, which stops root too): a
//!   clear error naming the path, and the database still gets every result.
//!
//! Frames come from the shared HLS clip over loopback HTTP; the people counter is a stand-in.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use footfall_domain::csv::RESULT_CSV_HEADER as CSV_HEADER;
use footfall_domain::{Health, RunId, UserId};
use footfall_job::{CounterError, Counting, PeopleCounter};
use frame_source::{JobOptions, SamplingPolicy, YtDlpResolver};
use image::RgbImage;
use local_runner::csv_log;
use local_runner::scheduler::{Scheduler, SchedulerConfig};
use local_runner::smtp::SmtpNotifier;
use private_mariadb::PrivateMariaDb;
use results_store::{NewUser, ResultRecord, Spool, Store};
use stream_server::{Fault, LoopbackServer, shared_dir};

/// Counts `people` per frame; the first call stops the database server, if one is given (the
/// outage then starts while the tick's jobs run, after the user list was read).
struct Counter {
    people: usize,
    stop_on_first_count: Option<Arc<Mutex<PrivateMariaDb>>>,
    counted: AtomicBool,
}

impl Counter {
    fn new(people: usize, stop: Option<Arc<Mutex<PrivateMariaDb>>>) -> Self {
        Self {
            people,
            stop_on_first_count: stop,
            counted: AtomicBool::new(false),
        }
    }
}

impl PeopleCounter for Counter {
    fn count(&self, frames: &[RgbImage]) -> Result<Vec<usize>, CounterError> {
        if !self.counted.swap(true, Ordering::SeqCst)
            && let Some(db) = &self.stop_on_first_count
        {
            db.lock().unwrap().stop();
        }
        Ok(vec![self.people; frames.len()])
    }
    fn annotated_jpeg(&self, frame: &RgbImage) -> Result<Vec<u8>, CounterError> {
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 85).encode_image(frame)?;
        Ok(jpeg)
    }
}

fn temp_root(name: &str) -> PathBuf {
    let root = std::env::temp_dir().join(format!("drill-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&root).ok();
    std::fs::create_dir_all(&root).unwrap();
    root
}

fn hls_server() -> LoopbackServer {
    let shared = shared_dir().unwrap_or_else(|message| panic!("{message}"));
    LoopbackServer::serve_dir(&shared.join("video/hls"), Fault::None).unwrap()
}

fn scheduler(store: &Store, counter: Counter, data_dir: &Path) -> (Scheduler, SchedulerConfig) {
    let config = SchedulerConfig {
        data_dir: data_dir.to_path_buf(),
        concurrency: 2,
        image_retention_days: 0,
        job_options: JobOptions {
            sampling: SamplingPolicy::Every(Duration::from_secs(5)),
            ..JobOptions::default()
        },
        alert_cooldown: chrono::Duration::minutes(10),
        shutdown_grace: Duration::from_secs(5),
        result_retention_days: 365,
    };
    let scheduler = Scheduler::new(
        store.clone(),
        Counting {
            counter: Arc::new(counter),
            resolver: Arc::new(YtDlpResolver::default()),
        },
        Arc::new(SmtpNotifier::new(None).unwrap()),
        config.clone(),
    );
    (scheduler, config)
}

async fn add_users(store: &Store, url: &str, users: &[&str]) {
    for user in users {
        store
            .add_user(&NewUser::new(user, url, &format!("{user}@example.com")))
            .await
            .unwrap();
    }
}

/// The run ids of a user's CSV file, checking the header and that every line is whole.
fn csv_runs(results_dir: &Path, user: &str) -> Vec<String> {
    let user = UserId::parse(user).unwrap();
    let text = std::fs::read_to_string(csv_log::csv_path(results_dir, &user)).unwrap_or_default();
    if text.is_empty() {
        return Vec::new();
    }
    assert!(text.ends_with('\n'), "CSV ends in half a line: {text:?}");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(CSV_HEADER));
    lines
        .map(|line| {
            assert_eq!(line.split(',').count(), 8, "torn line {line:?}");
            line.split(',').next().unwrap().to_string()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_stopped_mid_tick_results_are_spooled_and_stored_once_after_restart() {
    if std::env::var("FOOTFALL_SKIP_MYSQL").is_ok_and(|v| v == "1") {
        eprintln!("FOOTFALL_SKIP_MYSQL=1: MariaDB stop/restart drill skipped");
        return;
    }
    let server = hls_server();
    let root = temp_root("mariadb");
    let db = PrivateMariaDb::start().unwrap_or_else(|e| panic!("{e}"));
    db.create_database("footfall").unwrap();
    let url = db.url("footfall");
    Store::migrate(&url).await.unwrap();
    let db = Arc::new(Mutex::new(db));
    let store = Store::connect_with_timeout(&url, Duration::from_secs(2))
        .await
        .unwrap();
    let users = ["alice", "bob", "carol"];
    add_users(&store, &server.url("people.m3u8"), &users).await;
    let (scheduler, config) = scheduler(
        &store,
        Counter::new(3, Some(Arc::clone(&db))),
        &root.join("data"),
    );
    let first = Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap();
    let second = Utc.with_ymd_and_hms(2026, 11, 28, 12, 1, 0).unwrap();
    let third = Utc.with_ymd_and_hms(2026, 11, 28, 12, 2, 0).unwrap();

    // Tick 1: the server stops while the jobs run. No result is lost: each waits in the spool,
    // and its CSV line is written once.
    let summary = scheduler.run_tick(first).await.unwrap();
    assert!(!db.lock().unwrap().is_running());
    assert_eq!(summary.outcomes.len(), 3);
    for outcome in &summary.outcomes {
        assert!(outcome.spooled && !outcome.inserted, "{outcome:?}");
        assert_eq!(outcome.record.people_count, Some(3));
        assert_eq!(outcome.storage_error, None);
    }
    let spool = Spool::new(config.spool_path());
    assert_eq!(spool.pending().unwrap().len(), 3);
    // A tick that starts while the server is down runs with the users of the last tick that
    // read them, and spools its results too.
    let summary = scheduler.run_tick(second).await.unwrap();
    assert!(summary.users_from_cache);
    assert_eq!(summary.outcomes.len(), 3);
    assert!(summary.outcomes.iter().all(|o| o.spooled && !o.inserted));
    assert_eq!(spool.pending().unwrap().len(), 6);

    // Without that list (first start during an outage) the tick fails, and says why.
    std::fs::remove_file(config.users_cache_path()).unwrap();
    let error = scheduler.run_tick(third).await.unwrap_err().to_string();
    assert!(error.contains("database"), "{error}");

    // The server is back: the next tick first writes the spooled results, then its own.
    db.lock().unwrap().restart().unwrap();
    let summary = scheduler.run_tick(third).await.unwrap();
    assert!(!summary.users_from_cache);
    assert_eq!(summary.flushed.inserted, 6, "{:?}", summary.flushed);
    assert_eq!(summary.flushed.pending, 0);
    assert!(summary.outcomes.iter().all(|o| o.inserted && !o.spooled));
    assert!(spool.pending().unwrap().is_empty());
    assert!(
        config.users_cache_path().is_file(),
        "the list is saved again"
    );

    // A re-run of the first tick adds nothing anywhere.
    let summary = scheduler.run_tick(first).await.unwrap();
    assert!(summary.outcomes.iter().all(|o| !o.inserted && !o.spooled));

    let expected = [
        RunId::for_tick(first).to_string(),
        RunId::for_tick(second).to_string(),
        RunId::for_tick(third).to_string(),
    ];
    for user in users {
        let rows = store.results_for(user).await.unwrap();
        let runs: Vec<&str> = rows.iter().map(|r| r.run_id.as_str()).collect();
        assert_eq!(runs, expected, "{user}: one row per tick");
        assert_eq!(csv_runs(&config.results_dir(), user), expected, "{user}");
    }
    store.close().await;
    std::fs::remove_dir_all(&root).ok();
}

/// A tmpfs of `size` mounted on `path` for the test, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(path: &Path, size: &str) -> Result<Self, String> {
        std::fs::create_dir_all(path).map_err(|e| e.to_string())?;
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .output()
            .map_err(|e| format!("mount: {e}"))?;
        if output.status.success() {
            Ok(Self(path.to_path_buf()))
        } else {
            Err(String::from_utf8_lossy(&output.stderr).trim().to_string())
        }
    }

    /// Fills the file system: writes a filler file until the disk is full.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let path = self.0.join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let block = [0u8; 1024];
        while file.write_all(&block).is_ok() {}
        let _ = file.sync_all();
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn record(run_id: &str, source: &str) -> ResultRecord {
    ResultRecord {
        run_id: RunId::parse(run_id).unwrap(),
        user_id: UserId::parse("alice").unwrap(),
        taken_at: Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap(),
        people_count: Some(2),
        health: Health::Ok,
        frames: 10,
        source: source.to_string(),
        image_ref: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_full_is_a_clear_error_and_never_leaves_half_a_csv_line() {
    let root = temp_root("diskfull");
    let disk = match Tmpfs::mount(&root.join("disk"), "256k") {
        Ok(disk) => disk,
        Err(error) => {
            eprintln!("disk-full drill skipped: cannot mount a tmpfs here ({error})");
            return;
        }
    };
    let results = disk.0.join("data").join("results");
    for i in 0..3 {
        csv_log::append_result(&results, &record(&format!("run-{i}"), "http://cam/1")).unwrap();
    }
    let filler = disk.fill();
    let before = std::fs::read_to_string(csv_log::csv_path(
        &results,
        &UserId::parse("alice").unwrap(),
    ))
    .unwrap();
    // A line longer than what is left in the file's last page: part of it could be written.
    let long = format!("http://cam/{}", "x".repeat(20_000));
    let error = csv_log::append_result(&results, &record("run-full", &long)).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::StorageFull, "{error}");
    assert!(error.to_string().contains("No space left"), "{error}");
    let after = std::fs::read_to_string(csv_log::csv_path(
        &results,
        &UserId::parse("alice").unwrap(),
    ))
    .unwrap();
    assert!(
        after == before,
        "the CSV changed after the failed append: {} bytes before, {} after, ending {:?}",
        before.len(),
        after.len(),
        &after[after.len().saturating_sub(40)..]
    );

    // The scheduler on the full disk (database elsewhere): every result reaches the database,
    // the outcome names the storage error, the CSV stays whole.
    let server = hls_server();
    let store = Store::connect(&format!("sqlite://{}", root.join("footfall.db").display()))
        .await
        .unwrap();
    add_users(&store, &server.url("people.m3u8"), &["alice", "bob"]).await;
    let (scheduler, config) = scheduler(&store, Counter::new(4, None), &disk.0.join("data"));
    let tick = Utc.with_ymd_and_hms(2026, 11, 28, 13, 0, 0).unwrap();
    let summary = scheduler.run_tick(tick).await.unwrap();
    for outcome in &summary.outcomes {
        assert!(outcome.inserted, "{outcome:?}");
        let error = outcome.storage_error.as_deref().unwrap_or_default();
        assert!(error.contains("No space left"), "{outcome:?}");
    }
    // A short line may still fit in the file's last page (the picture did not): whole lines
    // either way, the old ones untouched.
    let mut expected = vec!["run-0".to_string(), "run-1".into(), "run-2".into()];
    let runs = csv_runs(&config.results_dir(), "alice");
    if runs.len() == 4 {
        expected.push(RunId::for_tick(tick).to_string());
    }
    assert_eq!(runs, expected);
    for user in ["alice", "bob"] {
        assert_eq!(store.results_for(user).await.unwrap().len(), 1, "{user}");
    }

    // Space again: the next append and tick write whole lines after the old ones.
    std::fs::remove_file(filler).unwrap();
    let next = Utc.with_ymd_and_hms(2026, 11, 28, 13, 1, 0).unwrap();
    let summary = scheduler.run_tick(next).await.unwrap();
    assert!(summary.outcomes.iter().all(|o| o.storage_error.is_none()));
    expected.push(RunId::for_tick(next).to_string());
    assert_eq!(csv_runs(&config.results_dir(), "alice"), expected);
    store.close().await;
    drop(disk);
    std::fs::remove_dir_all(&root).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unwritable_data_folder_is_a_clear_error_and_results_still_reach_the_database() {
    let root = temp_root("unwritable");
    // A data folder under a regular file cannot be created, not even by root.
    std::fs::write(root.join("not-a-folder"), b"x").unwrap();
    let data_dir = root.join("not-a-folder").join("data");
    let error =
        csv_log::append_result(&data_dir.join("results"), &record("run-1", "s")).unwrap_err();
    assert!(error.to_string().contains("Not a directory"), "{error}");

    let server = hls_server();
    let store = Store::connect(&format!("sqlite://{}", root.join("footfall.db").display()))
        .await
        .unwrap();
    add_users(&store, &server.url("people.m3u8"), &["alice", "bob"]).await;
    let (scheduler, _) = scheduler(&store, Counter::new(1, None), &data_dir);
    let tick = Utc.with_ymd_and_hms(2026, 11, 28, 14, 0, 0).unwrap();
    let summary = scheduler.run_tick(tick).await.unwrap();
    assert_eq!(summary.outcomes.len(), 2);
    for outcome in &summary.outcomes {
        assert!(outcome.inserted, "{outcome:?}");
        let error = outcome.storage_error.as_deref().unwrap_or_default();
        assert!(
            error.contains("Not a directory") && error.contains("not-a-folder"),
            "{outcome:?}"
        );
    }
    for user in ["alice", "bob"] {
        let rows = store.results_for(user).await.unwrap();
        assert_eq!(rows.len(), 1, "{user}");
        assert_eq!(rows[0].image_ref, None, "no picture could be kept");
    }
    store.close().await;
    std::fs::remove_dir_all(&root).ok();
}
