//! Users (`config` table, with each user's job configuration in `tracking`), job results
//! (`result`), the alert cooldown (`alert_cooldown`), the debounced rule's state
//! (`alert_rule_state`) and the alert outbox (`alert_outbox`) in SQLite or MySQL/MariaDB through sqlx, with one set of
//! portable migrations (`migrations/`).
//!
//! SQLite files (one user's local data folder) migrate on open. MySQL connections only check
//! that the schema is current: there the application's login has no DDL rights, and
//! [`Store::migrate`] (`footfall db migrate`) applies migrations with an admin login, once per
//! deploy rather than on every connection.
//!
//! The same SQL text runs on both databases (`?` placeholders, no upserts, integer flags); each
//! query is dispatched to a typed pool because sqlx's `Any` driver cannot decode booleans or
//! chrono types.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use sqlx::mysql::{
    MySqlConnectOptions, MySqlDatabaseError, MySqlPool, MySqlPoolOptions, MySqlSslMode,
};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

pub mod spool;

pub use spool::{FlushReport, Spool};

/// The migrations in `adapters/results-store/migrations`, embedded at build time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

use footfall_domain::sinks::{BoxFuture, SinkError, Stored};
pub use footfall_domain::{DEFAULT_THRESHOLD, MAX_USER_ID_LEN, ResultRecord};
use footfall_domain::{Health, RunId, UserId};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "unsupported database URL `{0}`: use sqlite://PATH, sqlite::memory: or mysql://USER:PASS@HOST:PORT/DB"
    )]
    UnsupportedUrl(String),
    #[error("could not connect to {backend} database: {source}{hint}")]
    Connect {
        backend: Backend,
        #[source]
        source: sqlx::Error,
        /// What to change when the cause is a usual one (TLS), else empty.
        hint: &'static str,
    },
    #[error("database migration failed: {source}{hint}")]
    Migrate {
        #[source]
        source: sqlx::migrate::MigrateError,
        /// What to change when the cause is a usual one (no DDL rights), else empty.
        hint: &'static str,
    },
    /// A MySQL database without every migration of this build (connections do not migrate).
    #[error(
        "the database schema is {} but this build needs version {needed} (missing: {missing}): \
         run `footfall db migrate --db URL` with an admin login",
        .found.map_or_else(|| "not migrated (no _sqlx_migrations table)".to_string(), |v| format!("at version {v}"))
    )]
    SchemaBehind {
        /// The newest version applied, `None` when the database was never migrated.
        found: Option<i64>,
        needed: i64,
        missing: String,
    },
    /// An applied migration that differs from this build's: migrating cannot repair it.
    #[error(
        "the database schema does not match this build: migration {version} {problem}; \
         `footfall db migrate` will not change an applied migration, repair the schema by hand"
    )]
    SchemaMismatch { version: i64, problem: String },
    #[error("database query failed: {0}")]
    Query(#[from] sqlx::Error),
    #[error("user `{0}` already exists")]
    UserExists(String),
    #[error("unknown user `{0}`")]
    UnknownUser(String),
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    /// As a sink error: a refused record is permanent, an unreachable or failing database is
    /// worth another attempt.
    pub fn into_sink_error(self, sink: &'static str) -> SinkError {
        SinkError {
            sink,
            retryable: !self.is_invalid_input(),
            message: self.to_string(),
        }
    }

    /// Whether the record itself was refused (bad field), as opposed to the database being
    /// unreachable or failing: only the latter is worth keeping for a later attempt.
    pub fn is_invalid_input(&self) -> bool {
        matches!(
            self,
            Self::Invalid { .. }
                | Self::UnsupportedUrl(_)
                | Self::UserExists(_)
                | Self::UnknownUser(_)
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    MySql,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Sqlite => "SQLite",
            Self::MySql => "MySQL",
        })
    }
}

/// A row of `config`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize, serde::Deserialize)]
pub struct User {
    pub user_id: String,
    #[sqlx(rename = "streaming_URL")]
    #[serde(rename = "streaming_URL")]
    pub streaming_url: String,
    pub email: String,
    /// 1 = monitored by the scheduler, 0 = disabled.
    #[sqlx(rename = "Monitoring_status")]
    #[serde(rename = "Monitoring_status")]
    pub monitoring_status: i64,
    pub threshold: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The user's job configuration (`footfall_tracking::JobConfig` as JSON text), `None` for
    /// the plain job. In JSON (`users list --json`, the scheduler's saved user list) it is the
    /// configuration object itself.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "json_text")]
    pub tracking: Option<String>,
}

impl User {
    pub fn monitored(&self) -> bool {
        self.monitoring_status != 0
    }

    /// The user's job configuration, checked; `Ok(None)` for the plain job.
    pub fn job_config(
        &self,
    ) -> std::result::Result<Option<footfall_tracking::JobConfig>, footfall_tracking::JobConfigError>
    {
        self.tracking
            .as_deref()
            .map(footfall_tracking::JobConfig::from_json)
            .transpose()
    }
}

/// `config.tracking` holds JSON text; serialised users carry it as the JSON object it is.
mod json_text {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(text: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
        match text {
            None => s.serialize_none(),
            Some(text) => match serde_json::from_str::<serde_json::Value>(text) {
                Ok(value) => value.serialize(s),
                // Not JSON (a row written by hand): shown as the text it is.
                Err(_) => s.serialize_str(text),
            },
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(match Option::<serde_json::Value>::deserialize(d)? {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(text)) => Some(text),
            Some(value) => Some(value.to_string()),
        })
    }
}

/// What `add_user` needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub user_id: String,
    pub streaming_url: String,
    pub email: String,
    pub threshold: u32,
    pub monitored: bool,
}

impl NewUser {
    pub fn new(user_id: &str, streaming_url: &str, email: &str) -> Self {
        Self {
            user_id: user_id.to_string(),
            streaming_url: streaming_url.to_string(),
            email: email.to_string(),
            threshold: DEFAULT_THRESHOLD,
            monitored: true,
        }
    }
}

/// A `result` row as the databases hold it; [`ResultRecord`] is the domain's view.
#[derive(sqlx::FromRow)]
struct ResultRow {
    run_id: String,
    user_id: String,
    taken_at: DateTime<Utc>,
    people_count: Option<i64>,
    health: String,
    frames: i64,
    source: String,
    image_ref: Option<String>,
}

impl TryFrom<ResultRow> for ResultRecord {
    type Error = StoreError;
    fn try_from(row: ResultRow) -> Result<Self> {
        Ok(Self {
            run_id: column("run_id", RunId::parse(&row.run_id))?,
            user_id: column("user_id", UserId::parse(&row.user_id))?,
            taken_at: row.taken_at,
            people_count: row
                .people_count
                .map(|n| column("people_count", u32::try_from(n)))
                .transpose()?,
            health: column(
                "health",
                Health::parse(&row.health)
                    .ok_or_else(|| format!("unknown health `{}`", row.health)),
            )?,
            frames: column("frames", u32::try_from(row.frames))?,
            source: row.source,
            image_ref: row.image_ref,
        })
    }
}

/// A stored value the domain refuses, as the error naming its column.
fn column<T, E: std::fmt::Display>(
    field: &'static str,
    value: std::result::Result<T, E>,
) -> Result<T> {
    value.map_err(|e| StoreError::Invalid {
        field,
        reason: e.to_string(),
    })
}

#[derive(Debug, Clone)]
enum Pool {
    Sqlite(SqlitePool),
    MySql(MySqlPool),
}

/// Runs the same query code on whichever typed pool the store holds.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pool {
            Pool::Sqlite($pool) => $body,
            Pool::MySql($pool) => $body,
        }
    };
}

mod outbox;
mod schema;

pub use outbox::{OutboxAlert, OutboxCounts};
pub use schema::{AppliedMigration, MigrationReport};

/// A connected database whose schema is current (SQLite: migrated on open; MySQL: checked).
#[derive(Debug, Clone)]
pub struct Store {
    pool: Pool,
}

// Column lists as macros so queries stay `&'static str` literals (sqlx 0.9 refuses dynamic SQL).
macro_rules! user_columns {
    () => {
        "user_id, streaming_URL, email, Monitoring_status, threshold, created_at, updated_at"
    };
}
// What a `User` is read with (`user_columns!` are the ones `add_user` writes).
macro_rules! user_select_columns {
    () => {
        concat!(user_columns!(), ", tracking")
    };
}
macro_rules! result_columns {
    () => {
        "run_id, user_id, taken_at, people_count, health, frames, source, image_ref"
    };
}

// After the column macros, which it uses.
mod history;

impl Store {
    /// Connects to `sqlite://PATH` (created if missing) or `sqlite::memory:` and applies the
    /// migrations, or to `mysql://USER:PASS@HOST:PORT/DB[?ssl-mode=VERIFY_IDENTITY&ssl-ca=PEM]`
    /// and checks that the schema is current (`SchemaBehind` until [`Store::migrate`] ran).
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with_timeout(url, Duration::from_secs(10)).await
    }

    /// Like [`Store::connect`], giving up on an unreachable server after `timeout`.
    pub async fn connect_with_timeout(url: &str, timeout: Duration) -> Result<Self> {
        let store = Self::open(url, timeout).await?;
        let ready = match store.backend() {
            Backend::Sqlite => store.run_migrator().await,
            Backend::MySql => store.check_schema().await,
        };
        if let Err(error) = ready {
            store.close().await;
            return Err(error);
        }
        Ok(store)
    }

    /// The pool, neither migrated nor checked.
    async fn open(url: &str, timeout: Duration) -> Result<Self> {
        let pool = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|_| StoreError::UnsupportedUrl(url.to_string()))?
                .create_if_missing(true)
                // WAL lets the scheduler's concurrent jobs write while the CLI reads.
                .journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(10));
            // An in-memory database exists per connection: keep exactly one.
            let max = if url.contains(":memory:") { 1 } else { 4 };
            let pool = SqlitePoolOptions::new()
                .max_connections(max)
                .acquire_timeout(timeout)
                .connect_with(options)
                .await
                .map_err(|source| StoreError::Connect {
                    backend: Backend::Sqlite,
                    source,
                    hint: "",
                })?;
            Pool::Sqlite(pool)
        } else if url.starts_with("mysql:") || url.starts_with("mariadb:") {
            let url = url.replacen("mariadb:", "mysql:", 1);
            let connect_error = |source, ssl_mode| StoreError::Connect {
                backend: Backend::MySql,
                hint: connect_hint(&source, ssl_mode),
                source,
            };
            let options = MySqlConnectOptions::from_str(&url)
                .map_err(|source| connect_error(source, MySqlSslMode::Preferred))?;
            let ssl_mode = options.get_ssl_mode();
            install_crypto_provider();
            let pool = MySqlPoolOptions::new()
                .max_connections(5)
                .acquire_timeout(timeout)
                .connect_with(options)
                .await
                .map_err(|source| connect_error(source, ssl_mode))?;
            Pool::MySql(pool)
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_string()));
        };
        Ok(Self { pool })
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::MySql(_) => Backend::MySql,
        }
    }

    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await)
    }

    pub async fn add_user(&self, user: &NewUser) -> Result<User> {
        validate_user_id(&user.user_id)?;
        validate_len("streaming_URL", &user.streaming_url, 2048)?;
        validate_len("email", &user.email, 320)?;
        if !user.email.contains('@') {
            return Err(StoreError::Invalid {
                field: "email",
                reason: format!("`{}` is not an email address", user.email),
            });
        }
        let now = now();
        let sql = concat!(
            "INSERT INTO config (",
            user_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?)"
        );
        let inserted = on_pool!(self, pool => sqlx::query(sql)
            .bind(&user.user_id)
            .bind(&user.streaming_url)
            .bind(&user.email)
            .bind(i64::from(user.monitored))
            .bind(i64::from(user.threshold))
            .bind(now)
            .bind(now)
            .execute(pool)
            .await
            .map(|_| ()));
        match inserted {
            Ok(()) => {}
            Err(error) if is_unique_violation(&error) => {
                return Err(StoreError::UserExists(user.user_id.clone()));
            }
            Err(error) => return Err(error.into()),
        }
        self.get_user(&user.user_id)
            .await?
            .ok_or_else(|| StoreError::UnknownUser(user.user_id.clone()))
    }

    pub async fn get_user(&self, user_id: &str) -> Result<Option<User>> {
        let sql = concat!(
            "SELECT ",
            user_select_columns!(),
            " FROM config WHERE user_id = ?"
        );
        Ok(on_pool!(self, pool => sqlx::query_as::<_, User>(sql)
            .bind(user_id)
            .fetch_optional(pool)
            .await)?)
    }

    /// All users, ordered by id.
    pub async fn list_users(&self) -> Result<Vec<User>> {
        let sql = concat!(
            "SELECT ",
            user_select_columns!(),
            " FROM config ORDER BY user_id"
        );
        Ok(on_pool!(self, pool => sqlx::query_as::<_, User>(sql).fetch_all(pool).await)?)
    }

    /// Users the scheduler should run (Monitoring_status = 1), ordered by id.
    pub async fn monitored_users(&self) -> Result<Vec<User>> {
        let sql = concat!(
            "SELECT ",
            user_select_columns!(),
            " FROM config WHERE Monitoring_status = 1 ORDER BY user_id"
        );
        Ok(on_pool!(self, pool => sqlx::query_as::<_, User>(sql).fetch_all(pool).await)?)
    }

    pub async fn enable_user(&self, user_id: &str) -> Result<()> {
        self.set_monitoring(user_id, true).await
    }

    pub async fn disable_user(&self, user_id: &str) -> Result<()> {
        self.set_monitoring(user_id, false).await
    }

    /// Sets Monitoring_status; `UnknownUser` when there is no such user.
    pub async fn set_monitoring(&self, user_id: &str, monitored: bool) -> Result<()> {
        // Only `user_id` decides whether the user exists: MySQL reports 0 affected rows when the
        // value does not change, so check existence separately.
        if self.get_user(user_id).await?.is_none() {
            return Err(StoreError::UnknownUser(user_id.to_string()));
        }
        let sql = "UPDATE config SET Monitoring_status = ?, updated_at = ? WHERE user_id = ?";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(i64::from(monitored))
            .bind(now())
            .bind(user_id)
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Changes a user's alert threshold.
    pub async fn set_threshold(&self, user_id: &str, threshold: u32) -> Result<()> {
        let sql = "UPDATE config SET threshold = ?, updated_at = ? WHERE user_id = ?";
        let affected = on_pool!(self, pool => sqlx::query(sql)
            .bind(i64::from(threshold))
            .bind(now())
            .bind(user_id)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?;
        if affected == 0 && self.get_user(user_id).await?.is_none() {
            return Err(StoreError::UnknownUser(user_id.to_string()));
        }
        Ok(())
    }

    /// Sets (or with `None` clears) a user's job configuration; `UnknownUser` when there is no
    /// such user. The configuration is checked again before it is written.
    pub async fn set_tracking(
        &self,
        user_id: &str,
        config: Option<&footfall_tracking::JobConfig>,
    ) -> Result<()> {
        let text = match config {
            None => None,
            Some(config) => {
                config.validate().map_err(|e| StoreError::Invalid {
                    field: "tracking",
                    reason: e.to_string(),
                })?;
                Some(config.to_json())
            }
        };
        if self.get_user(user_id).await?.is_none() {
            return Err(StoreError::UnknownUser(user_id.to_string()));
        }
        let sql = "UPDATE config SET tracking = ?, updated_at = ? WHERE user_id = ?";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(text)
            .bind(now())
            .bind(user_id)
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Whether the user's debounced alert rule is armed, as the last run left it (`None`:
    /// never stored).
    pub async fn alert_armed(&self, user_id: &UserId) -> Result<Option<bool>> {
        let sql = "SELECT armed FROM alert_rule_state WHERE user_id = ?";
        let armed = on_pool!(self, pool => sqlx::query_scalar::<_, i64>(sql)
            .bind(user_id.as_str())
            .fetch_optional(pool)
            .await)?;
        Ok(armed.map(|a| a != 0))
    }

    /// Stores the rule's state after the run whose result was taken at `at`; a state stored
    /// by a later run is kept (a re-run of an older tick does not roll it back).
    pub async fn set_alert_armed(
        &self,
        user_id: &UserId,
        armed: bool,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let at = at.trunc_subsecs(0);
        let update = "UPDATE alert_rule_state SET armed = ?, taken_at = ? WHERE user_id = ? AND taken_at <= ?";
        let insert = "INSERT INTO alert_rule_state (user_id, armed, taken_at) VALUES (?, ?, ?)";
        // No upsert (as `record_alert`): update, else insert; a concurrent insert makes ours a
        // unique violation, then update again.
        for _ in 0..2 {
            let updated = on_pool!(self, pool => sqlx::query(update)
                .bind(i64::from(armed))
                .bind(at)
                .bind(user_id.as_str())
                .bind(at)
                .execute(pool)
                .await
                .map(|done| done.rows_affected()))?;
            // MySQL counts an unchanged row as 0 affected; a row from a later run stays too.
            if updated > 0 || self.alert_armed(user_id).await?.is_some() {
                return Ok(());
            }
            let inserted = on_pool!(self, pool => sqlx::query(insert)
                .bind(user_id.as_str())
                .bind(i64::from(armed))
                .bind(at)
                .execute(pool)
                .await
                .map(|_| ()));
            match inserted {
                Ok(()) => return Ok(()),
                Err(error) if is_unique_violation(&error) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Ok(())
    }

    /// Removes a user and their alert rule's state (their results stay); `UnknownUser` when
    /// there is no such user.
    pub async fn remove_user(&self, user_id: &str) -> Result<()> {
        let sql = "DELETE FROM config WHERE user_id = ?";
        let affected = on_pool!(self, pool => sqlx::query(sql)
            .bind(user_id)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?;
        if affected == 0 {
            return Err(StoreError::UnknownUser(user_id.to_string()));
        }
        // The alert rule's state goes with the user (a user added again under this id starts
        // armed); their results and alert history stay.
        let sql = "DELETE FROM alert_rule_state WHERE user_id = ?";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(user_id)
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Inserts a result; `false` when (run_id, user_id) was already stored (a retried job).
    /// `taken_at` is stored at whole-second precision.
    pub async fn insert_result(&self, record: &ResultRecord) -> Result<bool> {
        // Run and user ids are valid by type (footfall-domain), within the columns' 64.
        validate_len("source", &record.source, 2048)?;
        if let Some(image) = &record.image_ref {
            validate_len("image_ref", image, 1024)?;
        }
        let sql = concat!(
            "INSERT INTO result (",
            result_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        );
        let inserted = on_pool!(self, pool => sqlx::query(sql)
            .bind(record.run_id.as_str())
            .bind(record.user_id.as_str())
            .bind(record.taken_at.trunc_subsecs(0))
            .bind(record.people_count.map(i64::from))
            .bind(record.health.as_str())
            .bind(i64::from(record.frames))
            .bind(&record.source)
            .bind(&record.image_ref)
            .execute(pool)
            .await
            .map(|_| ()));
        match inserted {
            Ok(()) => Ok(true),
            Err(error) if is_unique_violation(&error) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// A user's results, oldest first.
    pub async fn results_for(&self, user_id: &str) -> Result<Vec<ResultRecord>> {
        let sql = concat!(
            "SELECT ",
            result_columns!(),
            " FROM result WHERE user_id = ? ORDER BY taken_at, run_id"
        );
        let rows = on_pool!(self, pool => sqlx::query_as::<_, ResultRow>(sql)
            .bind(user_id)
            .fetch_all(pool)
            .await)?;
        rows.into_iter().map(ResultRecord::try_from).collect()
    }

    /// Retention: deletes results taken before `cutoff`, and settled alerts (sent, failed,
    /// unknown) queued before it. Returns (results, alerts) deleted.
    pub async fn prune_before(&self, cutoff: DateTime<Utc>) -> Result<(u64, u64)> {
        let cutoff = cutoff.trunc_subsecs(0);
        let results = on_pool!(self, pool => sqlx::query("DELETE FROM result WHERE taken_at < ?")
            .bind(cutoff)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?;
        let alerts = on_pool!(self, pool => sqlx::query(
            "DELETE FROM alert_outbox WHERE state IN ('sent', 'failed', 'unknown') AND created_at < ?",
        )
            .bind(cutoff)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?;
        Ok((results, alerts))
    }

    /// When the last alert for `user_id` went out (the `alert_cooldown` table).
    pub async fn last_alert(&self, user_id: &UserId) -> Result<Option<DateTime<Utc>>> {
        let sql = "SELECT last_alert_at FROM alert_cooldown WHERE user_id = ?";
        Ok(
            on_pool!(self, pool => sqlx::query_scalar::<_, DateTime<Utc>>(sql)
            .bind(user_id.as_str())
            .fetch_optional(pool)
            .await)?,
        )
    }

    /// Records that an alert for `user_id` went out for the result taken at `at`. Kept in the
    /// database so the cooldown holds across processes (`run-schedule --once` under cron).
    pub async fn record_alert(&self, user_id: &UserId, at: DateTime<Utc>) -> Result<()> {
        let at = at.trunc_subsecs(0);
        // No upsert (its syntax differs between the two databases): update, else insert; a
        // concurrent insert of the same user makes ours a unique violation, then update again.
        let update = "UPDATE alert_cooldown SET last_alert_at = ? WHERE user_id = ?";
        let insert = "INSERT INTO alert_cooldown (user_id, last_alert_at) VALUES (?, ?)";
        for _ in 0..2 {
            let updated = on_pool!(self, pool => sqlx::query(update)
                .bind(at)
                .bind(user_id.as_str())
                .execute(pool)
                .await
                .map(|done| done.rows_affected()))?;
            // MySQL counts a row whose value did not change as 0 affected: check it exists.
            if updated > 0 || self.last_alert(user_id).await?.is_some() {
                return Ok(());
            }
            let inserted = on_pool!(self, pool => sqlx::query(insert)
                .bind(user_id.as_str())
                .bind(at)
                .execute(pool)
                .await
                .map(|_| ()));
            match inserted {
                Ok(()) => return Ok(()),
                Err(error) if is_unique_violation(&error) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Ok(())
    }
}

impl footfall_domain::sinks::ResultSink for Store {
    fn store<'a>(
        &'a self,
        record: &'a ResultRecord,
    ) -> BoxFuture<'a, std::result::Result<Stored, SinkError>> {
        Box::pin(async move {
            match self.insert_result(record).await {
                Ok(true) => Ok(Stored::Inserted),
                Ok(false) => Ok(Stored::AlreadyStored),
                Err(error) => Err(error.into_sink_error("db")),
            }
        })
    }
}

impl footfall_domain::sinks::CooldownStore for Store {
    fn last_alert<'a>(
        &'a self,
        user_id: &'a UserId,
    ) -> BoxFuture<'a, std::result::Result<Option<DateTime<Utc>>, SinkError>> {
        Box::pin(async move {
            Store::last_alert(self, user_id)
                .await
                .map_err(|e| e.into_sink_error("cooldown"))
        })
    }

    fn record_alert<'a>(
        &'a self,
        user_id: &'a UserId,
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, std::result::Result<(), SinkError>> {
        Box::pin(async move {
            Store::record_alert(self, user_id, at)
                .await
                .map_err(|e| e.into_sink_error("cooldown"))
        })
    }
}

impl footfall_domain::sinks::AlertStateStore for Store {
    fn alert_armed<'a>(
        &'a self,
        user_id: &'a UserId,
    ) -> BoxFuture<'a, std::result::Result<Option<bool>, SinkError>> {
        Box::pin(async move {
            Store::alert_armed(self, user_id)
                .await
                .map_err(|e| e.into_sink_error("alert_state"))
        })
    }

    fn set_alert_armed<'a>(
        &'a self,
        user_id: &'a UserId,
        armed: bool,
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, std::result::Result<(), SinkError>> {
        Box::pin(async move {
            Store::set_alert_armed(self, user_id, armed, at)
                .await
                .map_err(|e| e.into_sink_error("alert_state"))
        })
    }
}

fn now() -> DateTime<Utc> {
    // Both databases then hold exactly what was written (MySQL DATETIME has whole seconds).
    Utc::now().trunc_subsecs(0)
}

/// Makes aws-lc-rs the process's rustls provider unless one is set. sqlx builds its TLS
/// client with an explicit provider, but `ssl-mode=VERIFY_CA` goes through rustls' process
/// default, which rustls 0.23 refuses to guess (a panic) when both ring and aws-lc-rs are
/// compiled in, as in this workspace.
fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Another thread may have installed one meanwhile: either provider is fine then.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    }
}

/// What to change for the usual reasons a MySQL server refuses a connection over TLS.
fn connect_hint(error: &sqlx::Error, ssl_mode: MySqlSslMode) -> &'static str {
    // A refused certificate comes back as an I/O error carrying rustls' error (the handshake
    // runs inside sqlx's socket), a bad ssl-ca file as `Tls`.
    let tls_refused = |io: &std::io::Error| {
        io.get_ref()
            .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
    };
    const TLS: &str = " (TLS: ssl-ca must name the PEM file of the CA that signed the server's \
                       certificate, and with ssl-mode=VERIFY_IDENTITY the URL's host must be one \
                       of the certificate's names)";
    let number = match error {
        sqlx::Error::Tls(_) => return TLS,
        sqlx::Error::Io(io) if tls_refused(io) => return TLS,
        sqlx::Error::Database(database) => database
            .try_downcast_ref::<MySqlDatabaseError>()
            .map(MySqlDatabaseError::number),
        _ => None,
    };
    match number {
        // MySQL: ER_SECURE_TRANSPORT_REQUIRED ("Connections using insecure transport are
        // prohibited while --require_secure_transport=ON").
        Some(3159) => {
            " (the server requires TLS: add ?ssl-mode=VERIFY_IDENTITY&ssl-ca=/path/to/ca.pem \
             to the URL)"
        }
        // MariaDB answers a connection without TLS to a server that requires secure transport
        // with the same "Access denied" as a wrong password.
        Some(1045) if matches!(ssl_mode, MySqlSslMode::Disabled) => {
            " (the URL has ssl-mode=DISABLED: if the server requires secure transport, as RDS \
             and MariaDB with require_secure_transport=ON do, this is how MariaDB refuses it; \
             use ssl-mode=VERIFY_IDENTITY&ssl-ca=/path/to/ca.pem)"
        }
        _ => "",
    }
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .is_some_and(|database| database.is_unique_violation())
}

/// User ids become file names (`results/{user_id}.csv`): the domain's one rule.
pub fn validate_user_id(user_id: &str) -> Result<()> {
    UserId::parse(user_id)
        .map(|_| ())
        .map_err(|e| StoreError::Invalid {
            field: "user_id",
            reason: e.to_string(),
        })
}

fn validate_len(field: &'static str, value: &str, max: usize) -> Result<()> {
    if value.is_empty() || value.len() > max {
        return Err(StoreError::Invalid {
            field,
            reason: format!("must be 1 to {max} bytes long"),
        });
    }
    Ok(())
}
