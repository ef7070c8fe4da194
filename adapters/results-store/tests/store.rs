//! The same scenario on SQLite (temporary file) and on the live MariaDB/MySQL server
//! (`FOOTFALL_MYSQL_URL`, default `mysql://root@127.0.0.1:3306`; a database of its own per run,
//! dropped afterwards). `FOOTFALL_SKIP_MYSQL=1` skips the MySQL half where no server exists.

use chrono::{TimeZone, Utc};
use footfall_domain::{Health, RunId, UserId};
use results_store::{Backend, NewUser, OutboxAlert, ResultRecord, Store, StoreError};
use sqlx::Connection;

fn record(run_id: &str, user_id: &str, people: Option<u32>, health: &str) -> ResultRecord {
    ResultRecord {
        run_id: RunId::parse(run_id).unwrap(),
        user_id: UserId::parse(user_id).unwrap(),
        taken_at: Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap()
            + chrono::Duration::milliseconds(1500),
        people_count: people,
        health: Health::parse(health).unwrap(),
        frames: if people.is_some() { 10 } else { 0 },
        source: "http://127.0.0.1:8000/people.m3u8".to_string(),
        image_ref: people.map(|_| "images/alice/2026-11-28T12-00-00Z.jpg".to_string()),
    }
}

/// The outbox's state machine: queue once, claim once, retry later, settle; an interrupted
/// send is never repeated.
async fn exercise_outbox(store: &Store) {
    let t0 = Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap();
    let alert = |run: &str, user: &str| OutboxAlert {
        run_id: RunId::parse(run).unwrap(),
        user_id: UserId::parse(user).unwrap(),
        email: format!("{user}@example.com"),
        people: 9,
        threshold: 3,
        source: "http://***@cam/live.m3u8".into(),
        taken_at: t0,
        image_ref: Some(format!("images/{user}/{run}.jpg")),
        attempts: 0,
        metric: None,
    };
    let a = alert("run-1", "alice");
    assert!(store.enqueue_alert(&a).await.unwrap());
    assert!(
        !store.enqueue_alert(&a).await.unwrap(),
        "queued once per run and user"
    );
    assert!(store.enqueue_alert(&alert("run-1", "bob")).await.unwrap());
    let later = Utc::now() + chrono::Duration::seconds(5);

    // Claimed alerts are not handed out twice.
    let first = store.claim_due_alert(later).await.unwrap().unwrap();
    let second = store.claim_due_alert(later).await.unwrap().unwrap();
    assert_ne!(first.user_id, second.user_id);
    assert_eq!(first.attempts, 1);
    assert!(store.claim_due_alert(later).await.unwrap().is_none());
    let (alice, bob) = if first.user_id.as_str() == "alice" {
        (first, second)
    } else {
        (second, first)
    };
    assert_eq!(alice.image_ref.as_deref(), Some("images/alice/run-1.jpg"));
    assert_eq!(alice.people, 9);

    // A definite failure comes back when due, with its attempt counted.
    let retry_at = later + chrono::Duration::minutes(1);
    store
        .alert_retry_at(
            &alice.run_id,
            &alice.user_id,
            retry_at,
            "connection refused",
        )
        .await
        .unwrap();
    assert!(
        store.claim_due_alert(later).await.unwrap().is_none(),
        "not due yet"
    );
    let again = store.claim_due_alert(retry_at).await.unwrap().unwrap();
    assert_eq!((again.user_id.as_str(), again.attempts), ("alice", 2));
    store
        .alert_sent(&again.run_id, &again.user_id)
        .await
        .unwrap();
    assert_eq!(
        store
            .alert_state(&again.run_id, &again.user_id)
            .await
            .unwrap()
            .unwrap()
            .0,
        "sent"
    );

    // Bob's sender was killed mid-send: his alert is abandoned, never resent.
    let counts = store.outbox_counts().await.unwrap();
    assert_eq!(
        (counts.sent, counts.sending, counts.undelivered()),
        (1, 1, 1)
    );
    let abandoned = store
        .abandon_interrupted_alerts(Utc::now() + chrono::Duration::seconds(2))
        .await
        .unwrap();
    assert_eq!(abandoned, 1);
    assert_eq!(
        store
            .alert_state(&bob.run_id, &bob.user_id)
            .await
            .unwrap()
            .unwrap()
            .0,
        "unknown"
    );
    assert!(store.claim_due_alert(retry_at).await.unwrap().is_none());
    let counts = store.outbox_counts().await.unwrap();
    assert_eq!(
        (counts.sent, counts.unknown, counts.undelivered()),
        (1, 1, 0)
    );

    // A refusal is final.
    store.enqueue_alert(&alert("run-2", "alice")).await.unwrap();
    let refused = store.claim_due_alert(later).await.unwrap().unwrap();
    store
        .alert_failed(&refused.run_id, &refused.user_id, "550 mailbox unavailable")
        .await
        .unwrap();
    assert_eq!(store.outbox_counts().await.unwrap().failed, 1);
}

/// Reading back by time: ranges, limits, the newest result and picture, one run.
async fn exercise_history(store: &Store) {
    let t0 = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    let at = |h: i64| {
        let mut r = record(&format!("h-{h:02}"), "hist", Some(h as u32), "ok");
        r.taken_at = t0 + chrono::Duration::hours(h);
        r.image_ref = (h % 2 == 0).then(|| format!("images/hist/h-{h:02}.jpg"));
        r
    };
    assert!(store.latest_result("hist").await.unwrap().is_none());
    for h in [3, 0, 2, 1, 4] {
        store.insert_result(&at(h)).await.unwrap();
    }
    let mut nodata = record("h-05", "hist", None, "stalled");
    nodata.taken_at = t0 + chrono::Duration::hours(5);
    nodata.image_ref = None;
    store.insert_result(&nodata).await.unwrap();
    // Another user's rows stay out.
    let mut other = record("h-09", "other", Some(9), "ok");
    other.taken_at = t0 + chrono::Duration::hours(2);
    store.insert_result(&other).await.unwrap();

    let runs = |rows: Vec<ResultRecord>| -> Vec<String> {
        rows.into_iter().map(|r| r.run_id.to_string()).collect()
    };
    // Unbounded ends reach past MySQL's TIMESTAMP range (1970..2038) both ways.
    let all = store
        .results_between("hist", None, None, None)
        .await
        .unwrap();
    assert_eq!(runs(all), ["h-00", "h-01", "h-02", "h-03", "h-04", "h-05"]);
    // [from, to), oldest first.
    let hours = |h: i64| Some(t0 + chrono::Duration::hours(h));
    let some = store
        .results_between("hist", hours(1), hours(4), None)
        .await
        .unwrap();
    assert_eq!(runs(some), ["h-01", "h-02", "h-03"]);
    // A limit keeps the newest of the range, still oldest first.
    let newest = store
        .results_between("hist", None, hours(5), Some(2))
        .await
        .unwrap();
    assert_eq!(runs(newest), ["h-03", "h-04"]);
    let from = store
        .results_between("hist", hours(4), None, Some(10))
        .await
        .unwrap();
    assert_eq!(runs(from), ["h-04", "h-05"]);
    assert!(
        store
            .results_between("nobody", None, None, None)
            .await
            .unwrap()
            .is_empty()
    );
    let far = Utc.with_ymd_and_hms(2100, 1, 1, 0, 0, 0).unwrap();
    let early = Utc.with_ymd_and_hms(1950, 1, 1, 0, 0, 0).unwrap();
    let wide = store
        .results_between("hist", Some(early), Some(far), None)
        .await
        .unwrap();
    assert_eq!(wide.len(), 6);
    let counts = store.counts_between("hist", hours(4), None).await.unwrap();
    assert_eq!(
        counts,
        [
            (t0 + chrono::Duration::hours(4), Some(4)),
            (t0 + chrono::Duration::hours(5), None)
        ]
    );

    let latest = store.latest_result("hist").await.unwrap().unwrap();
    assert_eq!(latest.run_id, "h-05");
    assert_eq!(latest.people_count, None);
    let picture = store.latest_picture("hist").await.unwrap().unwrap();
    assert_eq!(picture.run_id, "h-04");
    assert_eq!(picture.image_ref.as_deref(), Some("images/hist/h-04.jpg"));
    let one = store.result_of_run("hist", "h-02").await.unwrap().unwrap();
    assert_eq!(one.people_count, Some(2));
    assert!(
        store
            .result_of_run("other", "h-02")
            .await
            .unwrap()
            .is_none()
    );
}

/// A user's job configuration (`config.tracking`) and the debounced rule's state
/// (`alert_rule_state`), issue 12. Leaves no user behind.
async fn exercise_tracking(store: &Store) {
    let user = NewUser::new("tracked", "http://127.0.0.1:8000/x.m3u8", "t@example.com");
    let added = store.add_user(&user).await.unwrap();
    assert_eq!(added.tracking, None);
    assert_eq!(added.job_config().unwrap(), None);
    let config = footfall_tracking::JobConfig::from_json(
        r#"{"fps": 5, "lines": ["door=320,0,320,480"], "zones": ["queue=0,0,100,0,100,100"],
            "alert": {"metric": "line:door:total", "window_s": 90, "k": 3, "n": 5, "margin": 1.5}}"#,
    )
    .unwrap();
    store.set_tracking("tracked", Some(&config)).await.unwrap();
    let got = store.get_user("tracked").await.unwrap().unwrap();
    assert_eq!(got.job_config().unwrap(), Some(config.clone()));
    // The scheduler's user list carries it; in JSON it is the object itself.
    let listed = store.monitored_users().await.unwrap();
    let listed = listed.iter().find(|u| u.user_id == "tracked").unwrap();
    assert_eq!(listed.job_config().unwrap(), Some(config.clone()));
    let json = serde_json::to_value(listed).unwrap();
    assert_eq!(json["tracking"]["alert"]["metric"], "line:door:total");
    assert_eq!(json["tracking"]["lines"][0], "door=320,0,320,480");
    let back: results_store::User = serde_json::from_value(json).unwrap();
    assert_eq!(back.job_config().unwrap(), Some(config));
    // Clearing goes back to the plain job; unknown users are an error.
    store.set_tracking("tracked", None).await.unwrap();
    assert_eq!(
        store.get_user("tracked").await.unwrap().unwrap().tracking,
        None
    );
    assert!(matches!(
        store.set_tracking("nobody", None).await,
        Err(StoreError::UnknownUser(_))
    ));

    // The rule's state: none at first, then what the latest run stored.
    let id = UserId::parse("tracked").unwrap();
    let t0 = Utc.with_ymd_and_hms(2026, 12, 10, 8, 0, 0).unwrap();
    assert_eq!(store.alert_armed(&id).await.unwrap(), None);
    store.set_alert_armed(&id, false, t0).await.unwrap();
    assert_eq!(store.alert_armed(&id).await.unwrap(), Some(false));
    // The same again (MySQL reports 0 rows changed) and a later run's re-arm.
    store.set_alert_armed(&id, false, t0).await.unwrap();
    assert_eq!(store.alert_armed(&id).await.unwrap(), Some(false));
    let t1 = t0 + chrono::Duration::hours(1);
    store.set_alert_armed(&id, true, t1).await.unwrap();
    assert_eq!(store.alert_armed(&id).await.unwrap(), Some(true));
    // A re-run of the older tick does not roll the state back.
    store.set_alert_armed(&id, false, t0).await.unwrap();
    assert_eq!(store.alert_armed(&id).await.unwrap(), Some(true));
    // Through the sink trait the pipeline uses.
    use footfall_domain::sinks::AlertStateStore;
    AlertStateStore::set_alert_armed(store, &id, false, t1 + chrono::Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(
        AlertStateStore::alert_armed(store, &id).await.unwrap(),
        Some(false)
    );
    // Removing the user removes the rule's state: a user added again under the same id
    // starts armed, not silenced by someone else's breach.
    store.remove_user("tracked").await.unwrap();
    assert_eq!(store.alert_armed(&id).await.unwrap(), None);
}

async fn exercise(store: &Store) {
    exercise_outbox(store).await;
    exercise_history(store).await;
    exercise_tracking(store).await;
    // Users: add, get, list, enable/disable, remove.
    let mut alice = NewUser::new(
        "alice",
        "http://127.0.0.1:8000/people.m3u8",
        "alice@example.com",
    );
    alice.threshold = 3;
    let added = store.add_user(&alice).await.unwrap();
    assert_eq!(added.threshold, 3);
    assert!(added.monitored());
    assert_eq!(added.streaming_url, alice.streaming_url);
    store
        .add_user(&NewUser::new("bob", "rtsp://cam/1", "bob@example.com"))
        .await
        .unwrap();
    let bob = store.get_user("bob").await.unwrap().unwrap();
    assert_eq!(bob.threshold, 15, "table default threshold");
    assert!(
        matches!(store.add_user(&alice).await, Err(StoreError::UserExists(id)) if id == "alice")
    );
    assert!(matches!(
        store.add_user(&NewUser::new("../etc", "x", "a@b")).await,
        Err(StoreError::Invalid {
            field: "user_id",
            ..
        })
    ));
    assert!(matches!(
        store
            .add_user(&NewUser::new("carol", "x", "not-an-email"))
            .await,
        Err(StoreError::Invalid { field: "email", .. })
    ));
    let ids: Vec<String> = store
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.user_id)
        .collect();
    assert_eq!(ids, ["alice", "bob"]);

    store.disable_user("bob").await.unwrap();
    store.disable_user("bob").await.unwrap(); // unchanged value is still fine
    let monitored: Vec<String> = store
        .monitored_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.user_id)
        .collect();
    assert_eq!(monitored, ["alice"]);
    assert!(!store.get_user("bob").await.unwrap().unwrap().monitored());
    store.enable_user("bob").await.unwrap();
    assert_eq!(store.monitored_users().await.unwrap().len(), 2);
    store.set_threshold("bob", 7).await.unwrap();
    assert_eq!(store.get_user("bob").await.unwrap().unwrap().threshold, 7);
    assert!(matches!(
        store.enable_user("nobody").await,
        Err(StoreError::UnknownUser(_))
    ));
    assert!(matches!(
        store.remove_user("nobody").await,
        Err(StoreError::UnknownUser(_))
    ));
    assert!(store.get_user("nobody").await.unwrap().is_none());

    // Results: idempotent by (run_id, user_id); "no data" is NULL, not 0.
    let first = record("run-1", "alice", Some(4), "ok");
    assert!(store.insert_result(&first).await.unwrap());
    assert!(
        !store.insert_result(&first).await.unwrap(),
        "a retry inserts nothing"
    );
    assert!(
        store
            .insert_result(&record("run-1", "bob", None, "unavailable"))
            .await
            .unwrap()
    );
    assert!(
        store
            .insert_result(&record("run-2", "alice", Some(0), "ok"))
            .await
            .unwrap()
    );
    let results = store.results_for("alice").await.unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0].people_count, Some(4));
    assert_eq!(results[1].people_count, Some(0));
    // Stored at whole seconds on both databases.
    assert_eq!(
        results[0].taken_at,
        Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 1).unwrap()
    );
    assert_eq!(results[0].image_ref, first.image_ref);
    let bob_results = store.results_for("bob").await.unwrap();
    assert_eq!(bob_results.len(), 1);
    assert_eq!(bob_results[0].people_count, None);
    assert_eq!(bob_results[0].health, Health::Unavailable);

    // Removing a user keeps their history.
    store.remove_user("bob").await.unwrap();
    assert!(store.get_user("bob").await.unwrap().is_none());
    assert_eq!(store.results_for("bob").await.unwrap().len(), 1);

    // The alert cooldown: last alert per user, updated in place.
    let alice_id = UserId::parse("alice").unwrap();
    assert_eq!(store.last_alert(&alice_id).await.unwrap(), None);
    let first_alert = Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap();
    store.record_alert(&alice_id, first_alert).await.unwrap();
    store.record_alert(&alice_id, first_alert).await.unwrap();
    let later = first_alert + chrono::Duration::hours(2);
    store.record_alert(&alice_id, later).await.unwrap();
    assert_eq!(store.last_alert(&alice_id).await.unwrap(), Some(later));

    // One user-id rule: ids the AWS payloads refuse are refused here too.
    for bad in ["-x", "a..b"] {
        let user = NewUser::new(bad, "http://127.0.0.1:8000/p.m3u8", "x@example.com");
        assert!(
            store.add_user(&user).await.unwrap_err().is_invalid_input(),
            "{bad}"
        );
    }

    // Retention: results taken before the cutoff go, later ones stay; settled alerts queued
    // before it go (the outbox above queued its alerts now, so none here).
    let mut old = record("run-old", "alice", Some(2), "ok");
    old.taken_at = Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap();
    assert!(store.insert_result(&old).await.unwrap());
    let before = store.results_for("alice").await.unwrap().len();
    let cutoff = Utc.with_ymd_and_hms(2025, 11, 28, 0, 0, 0).unwrap();
    assert_eq!(store.prune_before(cutoff).await.unwrap(), (1, 0));
    let after = store.results_for("alice").await.unwrap();
    assert_eq!(after.len(), before - 1);
    assert!(after.iter().all(|r| r.taken_at >= cutoff));
}

#[tokio::test]
async fn sqlite_file_store() {
    let dir = std::env::temp_dir().join(format!("results-store-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("footfall.db").display());
    // A new local file migrates on open: a newcomer's data folder just works.
    let store = Store::connect(&url).await.unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    exercise(&store).await;
    store.close().await;
    // An explicit migration has nothing left to do.
    let report = Store::migrate(&url).await.unwrap();
    assert!(report.applied.is_empty(), "{report:?}");
    assert_eq!(
        report.version,
        results_store::MIGRATOR.iter().last().unwrap().version
    );
    // Reconnecting re-runs migrations harmlessly and sees the data.
    let again = Store::connect(&url).await.unwrap();
    assert_eq!(again.list_users().await.unwrap().len(), 1);
    // The cooldown outlives the process that recorded it.
    let alice = UserId::parse("alice").unwrap();
    assert!(again.last_alert(&alice).await.unwrap().is_some());
    again.close().await;
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn mysql_store() {
    if std::env::var_os("FOOTFALL_SKIP_MYSQL").is_some() {
        eprintln!("FOOTFALL_SKIP_MYSQL is set: MySQL half skipped");
        return;
    }
    let server = std::env::var("FOOTFALL_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_string());
    let server = server.trim_end_matches('/').to_string();
    let mut admin = sqlx::MySqlConnection::connect(&server).await.unwrap_or_else(|err| {
        panic!(
            "cannot reach MySQL/MariaDB at {server} ({err}). Start it (e.g. `start-stop-daemon --start \
             --oknodo --background --exec /usr/sbin/mariadbd`), point FOOTFALL_MYSQL_URL at a server, \
             or set FOOTFALL_SKIP_MYSQL=1"
        )
    });
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let database = format!("footfall_test_{}_{nanos}", std::process::id());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE `{database}`")))
        .execute(&mut admin)
        .await
        .unwrap();
    let outcome = tokio::spawn({
        let url = format!("{server}/{database}");
        async move {
            // MySQL connections do not migrate: the explicit step comes first.
            assert!(matches!(
                Store::connect(&url).await,
                Err(StoreError::SchemaBehind { .. })
            ));
            let report = Store::migrate(&url).await.unwrap();
            assert_eq!(report.applied.len(), results_store::MIGRATOR.iter().count());
            let store = Store::connect(&url).await.unwrap();
            assert_eq!(store.backend(), Backend::MySql);
            exercise(&store).await;
            store.close().await;
            // Migrating again applies nothing; reconnecting sees the data.
            assert!(Store::migrate(&url).await.unwrap().applied.is_empty());
            let again = Store::connect(&url).await.unwrap();
            assert_eq!(again.list_users().await.unwrap().len(), 1);
            again.close().await;
        }
    })
    .await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE `{database}`")))
        .execute(&mut admin)
        .await
        .unwrap();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic.into_panic());
    }
}

#[tokio::test]
async fn bad_urls_are_clear_errors() {
    assert!(matches!(
        Store::connect("postgres://localhost/db").await,
        Err(StoreError::UnsupportedUrl(_))
    ));
    let err = Store::connect_with_timeout(
        "mysql://root@127.0.0.1:1/none",
        std::time::Duration::from_secs(1),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("could not connect to MySQL"),
        "{err}"
    );
}
