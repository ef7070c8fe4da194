//! Against a private `mariadbd` that requires TLS (`--require-secure-transport=ON`, a throwaway
//! CA), as RDS does: which connections it refuses and why, and the split between the admin
//! login that migrates (`Store::migrate`) and the application's login (SELECT, INSERT, UPDATE,
//! DELETE only), whose connections check the schema instead. `FOOTFALL_SKIP_MYSQL=1` skips.

use std::time::Duration;

use chrono::{SubsecRound, Utc};
use footfall_domain::{Health, RunId, UserId};
use private_mariadb::{PrivateMariaDb, throwaway_ca};
use results_store::{MIGRATOR, NewUser, OutboxAlert, ResultRecord, Store, StoreError};
use sqlx::Connection;

const TIMEOUT: Duration = Duration::from_secs(5);

fn skip() -> bool {
    let skip = std::env::var("FOOTFALL_SKIP_MYSQL").is_ok_and(|v| v == "1");
    if skip {
        eprintln!("FOOTFALL_SKIP_MYSQL=1: TLS MariaDB tests skipped");
    }
    skip
}

fn tls_server() -> PrivateMariaDb {
    let db = PrivateMariaDb::start_tls().unwrap_or_else(|e| panic!("{e}"));
    db.create_database("footfall").unwrap();
    db
}

/// The versions this build's migrations bring, oldest first.
fn versions() -> Vec<i64> {
    MIGRATOR.iter().map(|m| m.version).collect()
}

/// Table names in the `footfall` database, seen by the admin (over TLS).
async fn tables(db: &PrivateMariaDb) -> Vec<String> {
    let mut admin = sqlx::MySqlConnection::connect(&db.url("footfall"))
        .await
        .unwrap();
    let tables = sqlx::query_scalar::<_, String>(
        "SELECT CAST(table_name AS CHAR) FROM information_schema.tables \
         WHERE table_schema = 'footfall' ORDER BY 1",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    admin.close().await.unwrap();
    tables
}

async fn admin_sql(db: &PrivateMariaDb, sql: &'static str) {
    let mut admin = sqlx::MySqlConnection::connect(&db.url("footfall"))
        .await
        .unwrap();
    sqlx::query(sql).execute(&mut admin).await.unwrap();
    admin.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_requires_tls_and_its_certificate_is_verified() {
    if skip() {
        return;
    }
    let db = tls_server();
    let ca = db.tls().unwrap().ca.display().to_string();
    let port = db.port();

    // A plain connection is refused by the server. MariaDB says only "Access denied" (as for
    // a wrong password), so the error adds what to put in the URL.
    let plain = format!("mysql://root@127.0.0.1:{port}/footfall?ssl-mode=DISABLED");
    let error = Store::connect_with_timeout(&plain, TIMEOUT)
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Connect { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("Access denied"), "{message}");
    assert!(message.contains("requires secure transport"), "{message}");
    assert!(
        message.contains("ssl-mode=VERIFY_IDENTITY&ssl-ca="),
        "{message}"
    );
    // A wrong password over TLS is the same refusal without the TLS hint.
    let wrong_password = db.url_as("root", "not-the-password", "footfall");
    let error = Store::connect_with_timeout(&wrong_password, TIMEOUT)
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(message.contains("Access denied"), "{message}");
    assert!(!message.contains("ssl-mode"), "{message}");

    // VERIFY_IDENTITY with the CA: the certificate names 127.0.0.1, the session is encrypted.
    let verified = db.url("footfall");
    assert!(verified.contains("ssl-mode=VERIFY_IDENTITY"), "{verified}");
    let report = Store::migrate_with_timeout(&verified, TIMEOUT)
        .await
        .unwrap();
    assert_eq!(report.version, *versions().last().unwrap());
    let store = Store::connect_with_timeout(&verified, TIMEOUT)
        .await
        .unwrap();
    assert!(store.list_users().await.unwrap().is_empty());
    store.close().await;
    let mut conn = sqlx::MySqlConnection::connect(&verified).await.unwrap();
    let (_, cipher): (String, String) = sqlx::query_as("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(!cipher.is_empty(), "the session is not encrypted");
    conn.close().await.unwrap();

    // VERIFY_CA goes through rustls' process-wide provider: it works (no provider panic).
    let ca_only = format!("mysql://root@127.0.0.1:{port}/footfall?ssl-mode=VERIFY_CA&ssl-ca={ca}");
    Store::connect_with_timeout(&ca_only, TIMEOUT)
        .await
        .unwrap()
        .close()
        .await;

    // A CA that did not sign the server's certificate: refused by the client, with a hint.
    let (wrong_ca, _) = throwaway_ca(db.dir(), "wrong-ca").unwrap();
    for mode in ["VERIFY_IDENTITY", "VERIFY_CA"] {
        let wrong = format!(
            "mysql://root@127.0.0.1:{port}/footfall?ssl-mode={mode}&ssl-ca={}",
            wrong_ca.display()
        );
        let error = Store::connect_with_timeout(&wrong, TIMEOUT)
            .await
            .unwrap_err();
        assert!(
            matches!(error, StoreError::Connect { .. }),
            "{mode}: {error:?}"
        );
        let message = error.to_string();
        assert!(message.contains("UnknownIssuer"), "{mode}: {message}");
        assert!(
            message.contains("ssl-ca must name the PEM file"),
            "{mode}: {message}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_login_cannot_migrate_and_works_once_the_admin_migrated() {
    if skip() {
        return;
    }
    let db = tls_server();
    db.create_app_user("footfall", "footfall_app", "app-pw-1")
        .unwrap();
    let admin = db.url("footfall");
    let app = db.url_as("footfall_app", "app-pw-1", "footfall");
    let last = *versions().last().unwrap();

    // Not migrated yet: the app login's connection says what to run, and changes nothing.
    let error = Store::connect_with_timeout(&app, TIMEOUT)
        .await
        .unwrap_err();
    let StoreError::SchemaBehind { found, needed, .. } = &error else {
        panic!("{error:?}")
    };
    assert_eq!((*found, *needed), (None, last));
    let message = error.to_string();
    assert!(
        message.starts_with(&format!(
            "the database schema is not migrated (no _sqlx_migrations table) but this build \
             needs version {last}"
        )) && message.ends_with("run `footfall db migrate --db URL` with an admin login"),
        "{message}"
    );

    // The app login cannot migrate: refused on sqlx's bookkeeping table, before any migration
    // ran, with a hint; nothing half-applied.
    let error = Store::migrate_with_timeout(&app, TIMEOUT)
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Migrate { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("CREATE command denied"), "{message}");
    assert!(message.contains("need an admin login"), "{message}");
    assert!(tables(&db).await.is_empty(), "{:?}", tables(&db).await);

    // The admin migrates, and is told what was applied.
    let report = Store::migrate_with_timeout(&admin, TIMEOUT).await.unwrap();
    let applied: Vec<i64> = report.applied.iter().map(|m| m.version).collect();
    assert_eq!(applied, versions());
    assert_eq!(
        report.applied[0].description,
        MIGRATOR.iter().next().unwrap().description
    );
    assert_eq!(report.version, last);
    for table in [
        "_sqlx_migrations",
        "alert_cooldown",
        "alert_outbox",
        "config",
        "result",
    ] {
        assert!(tables(&db).await.iter().any(|t| t == table), "{table}");
    }

    // The app login now stores and reads users, results, cooldowns and outbox rows.
    let store = Store::connect_with_timeout(&app, TIMEOUT).await.unwrap();
    store
        .add_user(&NewUser::new(
            "alice",
            "http://127.0.0.1/a.m3u8",
            "alice@example.com",
        ))
        .await
        .unwrap();
    store.disable_user("alice").await.unwrap();
    assert!(!store.get_user("alice").await.unwrap().unwrap().monitored());
    let alice = UserId::parse("alice").unwrap();
    let now = Utc::now().trunc_subsecs(0);
    let old = now - chrono::Duration::days(400);
    let recent = now - chrono::Duration::days(2);
    for (run, taken_at) in [("run-old", old), ("run-new", recent)] {
        let record = ResultRecord {
            run_id: RunId::parse(run).unwrap(),
            user_id: alice.clone(),
            taken_at,
            people_count: Some(7),
            health: Health::Ok,
            frames: 10,
            source: "http://127.0.0.1/a.m3u8".to_string(),
            image_ref: None,
        };
        assert!(store.insert_result(&record).await.unwrap());
        assert!(!store.insert_result(&record).await.unwrap(), "stored once");
    }
    assert_eq!(store.results_for("alice").await.unwrap().len(), 2);
    store.record_alert(&alice, recent).await.unwrap();
    assert_eq!(store.last_alert(&alice).await.unwrap(), Some(recent));
    let alert = OutboxAlert {
        run_id: RunId::parse("run-old").unwrap(),
        user_id: alice.clone(),
        email: "alice@example.com".to_string(),
        people: 7,
        threshold: 3,
        source: "http://127.0.0.1/a.m3u8".to_string(),
        taken_at: old,
        image_ref: None,
        attempts: 0,
        metric: None,
    };
    assert!(store.enqueue_alert(&alert).await.unwrap());
    let claimed = store
        .claim_due_alert(Utc::now() + chrono::Duration::seconds(5))
        .await
        .unwrap()
        .unwrap();
    store
        .alert_sent(&claimed.run_id, &claimed.user_id)
        .await
        .unwrap();
    assert_eq!(store.outbox_counts().await.unwrap().sent, 1);

    // Retention with DELETE only: the old result goes; the settled alert was queued just now,
    // so a cutoff in the future takes it too.
    let cutoff = now - chrono::Duration::days(365);
    assert_eq!(store.prune_before(cutoff).await.unwrap(), (1, 0));
    let kept: Vec<String> = store
        .results_for("alice")
        .await
        .unwrap()
        .iter()
        .map(|r| r.run_id.to_string())
        .collect();
    assert_eq!(kept, ["run-new"]);
    let later = Utc::now() + chrono::Duration::days(1);
    assert_eq!(store.prune_before(later).await.unwrap(), (1, 1));
    assert_eq!(store.outbox_counts().await.unwrap().sent, 0);
    store.remove_user("alice").await.unwrap();
    store.close().await;

    // Migrating again is a no-op that says so.
    let again = Store::migrate_with_timeout(&admin, TIMEOUT).await.unwrap();
    assert!(again.applied.is_empty(), "{again:?}");
    assert_eq!(again.version, last);

    // A schema AHEAD of this build (a newer release migrated during a rolling deploy) is
    // accepted by the app login's connection; this build's migrate refuses to touch it.
    admin_sql(
        &db,
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (99990101000001, 'from a newer release', TRUE, X'00', 0)",
    )
    .await;
    Store::connect_with_timeout(&app, TIMEOUT)
        .await
        .unwrap()
        .close()
        .await;
    let error = Store::migrate_with_timeout(&admin, TIMEOUT)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("99990101000001"), "{error}");

    // An applied migration whose SQL differs from this build's is refused with its version.
    admin_sql(
        &db,
        "UPDATE _sqlx_migrations SET checksum = X'00' WHERE version = 20261128000001",
    )
    .await;
    let error = Store::connect_with_timeout(&app, TIMEOUT)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::SchemaMismatch {
                version: 20261128000001,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("checksum differs"), "{error}");
}
