//! Failure drill: the MariaDB server stops in the middle of a run and comes back. Results written
//! while it is down go to the [`Spool`] and reach the database once, after the restart; nothing
//! is lost or duplicated (idempotent by run id). The server is a private `mariadbd` (own data
//! folder, port and socket), never the shared one on port 3306. `FOOTFALL_SKIP_MYSQL=1` skips.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use footfall_domain::{Health, RunId, UserId};
use private_mariadb::PrivateMariaDb;
use results_store::{FlushReport, ResultRecord, Spool, Store};

fn record(run_id: &str, people: u32) -> ResultRecord {
    ResultRecord {
        run_id: RunId::parse(run_id).unwrap(),
        user_id: UserId::parse("alice").unwrap(),
        taken_at: Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap(),
        people_count: Some(people),
        health: Health::Ok,
        frames: 10,
        source: "http://127.0.0.1:8000/people.m3u8".to_string(),
        image_ref: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_during_an_outage_are_spooled_and_stored_once_after_restart() {
    if std::env::var("FOOTFALL_SKIP_MYSQL").is_ok_and(|v| v == "1") {
        eprintln!("FOOTFALL_SKIP_MYSQL=1: MariaDB restart drill skipped");
        return;
    }
    let mut db = PrivateMariaDb::start().unwrap_or_else(|e| panic!("{e}"));
    db.create_database("footfall").unwrap();
    Store::migrate(&db.url("footfall")).await.unwrap();
    let store = Store::connect_with_timeout(&db.url("footfall"), Duration::from_secs(2))
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(format!("spool-drill-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    let spool = Spool::new(dir.join("results.jsonl"));

    assert!(store.insert_result(&record("run-1", 1)).await.unwrap());

    // The server stops mid-run: inserts fail with a database error, not a refusal of the record.
    db.stop();
    for (run, people) in [("run-2", 2), ("run-3", 3)] {
        let error = store.insert_result(&record(run, people)).await.unwrap_err();
        assert!(!error.is_invalid_input(), "{error}");
        assert!(spool.push(&record(run, people)).unwrap());
    }
    // Spooling the same result twice keeps one copy.
    assert!(!spool.push(&record("run-2", 2)).unwrap());
    // A flush while the server is still down keeps everything.
    let (report, inserted) = spool.flush(&store).await.unwrap();
    assert_eq!((report.pending, inserted.len()), (2, 0), "{report:?}");
    assert_eq!(spool.pending().unwrap().len(), 2);

    // Back up: the spool drains into the database.
    db.restart().unwrap();
    let (report, inserted) = spool.flush(&store).await.unwrap();
    assert_eq!(
        report,
        FlushReport {
            inserted: 2,
            ..FlushReport::default()
        }
    );
    let runs: Vec<&str> = inserted.iter().map(|r| r.run_id.as_str()).collect();
    assert_eq!(runs, ["run-2", "run-3"]);
    assert!(spool.pending().unwrap().is_empty());
    let (report, _) = spool.flush(&store).await.unwrap();
    assert_eq!(report, FlushReport::default());

    // A result whose insert reached the server before the connection broke (the answer was
    // lost) and was spooled anyway is not stored twice.
    assert!(spool.push(&record("run-1", 1)).unwrap());
    let (report, inserted) = spool.flush(&store).await.unwrap();
    assert_eq!(
        (report.already_stored, inserted.len()),
        (1, 0),
        "{report:?}"
    );

    let rows = store.results_for("alice").await.unwrap();
    let mut runs: Vec<(String, Option<u32>)> = rows
        .into_iter()
        .map(|r| (r.run_id.to_string(), r.people_count))
        .collect();
    runs.sort();
    assert_eq!(
        runs,
        [
            ("run-1".to_string(), Some(1)),
            ("run-2".to_string(), Some(2)),
            ("run-3".to_string(), Some(3))
        ]
    );
    store.close().await;
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_torn_spool_line_is_skipped_and_the_next_push_starts_a_new_line() {
    let dir = std::env::temp_dir().join(format!("spool-torn-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("results.jsonl");
    let spool = Spool::new(&path);
    assert!(spool.push(&record("run-1", 1)).unwrap());
    // A crash in the middle of a write leaves a partial line; it is skipped, not fatal.
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("{\"run_id\":\"run-2\",\"user_");
    std::fs::write(&path, text).unwrap();
    let pending = spool.pending().unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].run_id, "run-1");
    assert!(spool.push(&record("run-3", 3)).unwrap());
    let runs: Vec<String> = spool
        .pending()
        .unwrap()
        .into_iter()
        .map(|r| r.run_id.to_string())
        .collect();
    assert_eq!(runs, ["run-1", "run-3"]);
    std::fs::remove_dir_all(&dir).ok();
}
