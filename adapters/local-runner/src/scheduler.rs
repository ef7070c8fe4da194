//! `run-schedule`: on each tick of an EventBridge schedule, one job per monitored user (up to a
//! concurrency limit); results go to the `result` table and `results/{user_id}.csv`, the busiest
//! annotated frame to `images/{user_id}/{run_id}.jpg` (pruned after a number of days), and alerts
//! go out per user with a cooldown.
//!
//! Failures lose nothing that can be kept: a result the database cannot take (server down) goes
//! to `spool/results.jsonl` and is inserted at the start of the next tick that reaches the
//! database (idempotent by run id). A tick that starts while the database is down runs with the
//! user list of the last tick that read it (`spool/users.json`) and spools its results the same
//! way; a picture or CSV line that cannot be written (disk full,
//! unwritable folder) is reported in the user's outcome and logged, and the other users' results
//! of the tick are still recorded.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use frame_source::{JobOptions, SourceSpec, StreamHealth, UrlResolver};
use results_store::{FlushReport, ResultRecord, Spool, Store, User};
use tokio::sync::Semaphore;

use crate::alerts::{Alert, AlertOutcome, Alerter};
use crate::csv_log;
use crate::job::{CountReport, PeopleCounter, run_count_job};
use crate::retention::{PruneReport, prune_older_than};
use crate::schedule::Schedule;

/// Health recorded when the stream was fine but the job itself failed (detector error).
pub const HEALTH_JOB_ERROR: &str = "error";

#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error(transparent)]
    Store(#[from] results_store::StoreError),
    #[error("schedule `{0}` has no future tick")]
    NoNextTick(String),
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// Holds `results/` (CSV) and `images/` (annotated pictures).
    pub data_dir: PathBuf,
    /// Jobs running at once.
    pub concurrency: usize,
    /// Annotated pictures older than this many days are deleted after each tick (0 keeps all).
    pub image_retention_days: u32,
    pub job_options: JobOptions,
}

impl SchedulerConfig {
    pub fn results_dir(&self) -> PathBuf {
        self.data_dir.join("results")
    }
    pub fn images_dir(&self) -> PathBuf {
        self.data_dir.join("images")
    }
    /// Results waiting for the database.
    pub fn spool_path(&self) -> PathBuf {
        self.data_dir.join("spool").join("results.jsonl")
    }
    /// The monitored users as last read from the database, for ticks that start while it is
    /// down.
    pub fn users_cache_path(&self) -> PathBuf {
        self.data_dir.join("spool").join("users.json")
    }
}

/// What happened for one user in one tick.
#[derive(Debug, Clone)]
pub struct UserOutcome {
    pub record: ResultRecord,
    /// False when this (run_id, user_id) was already stored (a re-run tick): nothing was appended.
    pub inserted: bool,
    /// The database was unreachable: the result waits in the spool (CSV line written, alert
    /// considered) and is inserted by the next tick that reaches the database.
    pub spooled: bool,
    /// A picture, CSV line or spool entry that could not be written (disk full, unwritable
    /// folder), with the path.
    pub storage_error: Option<String>,
    pub alert: Option<AlertOutcome>,
    /// Why the job produced no counts, if it did not.
    pub error: Option<String>,
}

#[derive(Debug, Clone)]
pub struct TickSummary {
    pub run_id: String,
    /// The database was down at the tick's start: the users came from the last tick's list.
    pub users_from_cache: bool,
    /// Spooled results of earlier ticks written to the database at the start of this one.
    pub flushed: FlushReport,
    pub outcomes: Vec<UserOutcome>,
    pub pruned: PruneReport,
}

pub struct Scheduler {
    store: Store,
    counter: Arc<dyn PeopleCounter>,
    resolver: Arc<dyn UrlResolver>,
    alerter: Alerter,
    config: SchedulerConfig,
    spool: Spool,
}

/// The run id of a tick: its UTC time, so re-running a tick is idempotent.
pub fn run_id_for(tick: DateTime<Utc>) -> String {
    tick.format("%Y%m%dT%H%M%SZ").to_string()
}

impl Scheduler {
    pub fn new(
        store: Store,
        counter: Arc<dyn PeopleCounter>,
        resolver: Arc<dyn UrlResolver>,
        alerter: Alerter,
        config: SchedulerConfig,
    ) -> Self {
        let spool = Spool::new(config.spool_path());
        Self {
            store,
            counter,
            resolver,
            alerter,
            config,
            spool,
        }
    }

    /// Inserts the results spooled while the database was down. Errors are logged: the records
    /// stay in the spool for the next tick.
    pub async fn flush_spool(&self) -> FlushReport {
        match self.spool.flush(&self.store).await {
            Ok((report, _)) => {
                if report != FlushReport::default() {
                    tracing::info!(
                        inserted = report.inserted,
                        already_stored = report.already_stored,
                        pending = report.pending,
                        refused = report.refused,
                        "results spool flushed"
                    );
                }
                report
            }
            Err(error) => {
                tracing::error!(path = %self.spool.path().display(), %error, "results spool could not be flushed");
                FlushReport::default()
            }
        }
    }

    /// Runs until `shutdown` completes, one tick at each time the schedule names.
    pub async fn run(
        &self,
        schedule: &Schedule,
        expression: &str,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), SchedulerError> {
        tokio::pin!(shutdown);
        let mut after = Utc::now();
        loop {
            let tick = schedule
                .next_after(after)
                .ok_or_else(|| SchedulerError::NoNextTick(expression.to_string()))?;
            tracing::info!(%tick, "waiting for next tick");
            let wait = (tick - Utc::now()).to_std().unwrap_or_default();
            tokio::select! {
                () = &mut shutdown => {
                    tracing::info!("shutdown requested; scheduler stopped");
                    return Ok(());
                }
                () = tokio::time::sleep(wait) => {}
            }
            // A failing tick (database down) is logged; the next tick tries again.
            match self.run_tick(tick).await {
                Ok(summary) => {
                    tracing::info!(run_id = %summary.run_id, users = summary.outcomes.len(), "tick done")
                }
                Err(error) => tracing::error!(%error, %tick, "tick failed"),
            }
            // A tick that overran the next one skips it rather than starting late ticks back to back.
            after = Utc::now().max(tick);
        }
    }

    /// One tick: a job per monitored user, then results, CSV, images, alerts and retention.
    pub async fn run_tick(&self, tick: DateTime<Utc>) -> Result<TickSummary, SchedulerError> {
        let run_id = run_id_for(tick);
        let (users, users_from_cache) = self.monitored_users(&run_id).await?;
        // The database answers again: first the results it missed.
        let flushed = if users_from_cache {
            FlushReport::default()
        } else {
            self.flush_spool().await
        };
        tracing::info!(%run_id, users = users.len(), "tick started");
        let permits = Arc::new(Semaphore::new(self.config.concurrency.max(1)));
        let mut jobs = Vec::with_capacity(users.len());
        for user in &users {
            let permits = Arc::clone(&permits);
            let counter = Arc::clone(&self.counter);
            let resolver = Arc::clone(&self.resolver);
            let options = self.config.job_options;
            let url = user.streaming_url.clone();
            jobs.push(tokio::spawn(async move {
                // The semaphore is never closed, so acquiring only waits.
                let _permit = permits.acquire_owned().await.ok();
                tokio::task::spawn_blocking(move || {
                    count_user(&url, options, counter.as_ref(), resolver.as_ref())
                })
                .await
            }));
        }
        let mut outcomes = Vec::with_capacity(users.len());
        for (user, job) in users.iter().zip(jobs) {
            let result = match job.await {
                Ok(Ok(result)) => result,
                // A panicking job must not lose the other users' results.
                Ok(Err(join)) | Err(join) => Err(format!("job crashed: {join}")),
            };
            outcomes.push(self.record(user, &run_id, tick, result).await?);
        }
        let pruned = if self.config.image_retention_days > 0 {
            let max_age = std::time::Duration::from_secs(
                u64::from(self.config.image_retention_days) * 86_400,
            );
            let images = self.config.images_dir();
            prune_older_than(&images, max_age, std::time::SystemTime::now()).map_err(|source| {
                SchedulerError::Io {
                    path: images,
                    source,
                }
            })?
        } else {
            PruneReport::default()
        };
        Ok(TickSummary {
            run_id,
            users_from_cache,
            flushed,
            outcomes,
            pruned,
        })
    }

    /// The monitored users from the database (and a copy on disk), or, while the database is
    /// down, the copy of the last tick that read them. Without a copy the tick fails.
    async fn monitored_users(&self, run_id: &str) -> Result<(Vec<User>, bool), SchedulerError> {
        let path = self.config.users_cache_path();
        match self.store.monitored_users().await {
            Ok(users) => {
                if let Err(error) = write_users_cache(&path, &users) {
                    // Only a later outage would need it: log and go on.
                    tracing::warn!(path = %path.display(), %error, "could not save the user list");
                }
                Ok((users, false))
            }
            Err(error) => {
                let cached = std::fs::read(&path)
                    .ok()
                    .and_then(|bytes| serde_json::from_slice::<Vec<User>>(&bytes).ok());
                match cached {
                    Some(users) => {
                        tracing::warn!(%run_id, %error, users = users.len(),
                            "database unavailable at tick start; running with the last known users, results go to the spool");
                        Ok((users, true))
                    }
                    None => Err(error.into()),
                }
            }
        }
    }

    async fn record(
        &self,
        user: &User,
        run_id: &str,
        tick: DateTime<Utc>,
        result: Result<(CountReport, Option<Vec<u8>>), String>,
    ) -> Result<UserOutcome, SchedulerError> {
        let (health, people, frames, jpeg, error) = match &result {
            Ok((report, jpeg)) => (
                report.health.as_str().to_string(),
                report.max.map(|n| n as i64),
                report.frames() as i64,
                jpeg.as_deref(),
                report.stream.error.as_ref().map(|e| e.to_string()),
            ),
            Err(error) => {
                let health = if error.starts_with("source:") {
                    StreamHealth::Unavailable.as_str()
                } else {
                    HEALTH_JOB_ERROR
                };
                (health.to_string(), None, 0, None, Some(error.clone()))
            }
        };
        let mut storage_errors = Vec::new();
        let image_ref = match jpeg.map(|jpeg| self.save_image(&user.user_id, run_id, jpeg)) {
            Some(Ok(image_ref)) => Some(image_ref),
            Some(Err(error)) => {
                tracing::error!(user_id = %user.user_id, %run_id, %error, "annotated picture not saved");
                storage_errors.push(error.to_string());
                None
            }
            None => None,
        };
        let record = ResultRecord {
            run_id: run_id.to_string(),
            user_id: user.user_id.clone(),
            taken_at: tick,
            people_count: people,
            health,
            frames,
            source: user.streaming_url.clone(),
            image_ref,
        };
        let (inserted, spooled) = match self.store.insert_result(&record).await {
            Ok(inserted) => (inserted, false),
            Err(error) if error.is_invalid_input() => return Err(error.into()),
            Err(error) => {
                tracing::warn!(user_id = %user.user_id, %run_id, %error,
                    "database unavailable; result kept in the spool until it answers");
                match self.spool.push(&record) {
                    Ok(new) => (false, new),
                    Err(source) => {
                        // Nowhere to keep it: the log line carries the whole result.
                        let error = SchedulerError::Io {
                            path: self.spool.path().to_path_buf(),
                            source,
                        };
                        tracing::error!(user_id = %user.user_id, %run_id, %error, result = ?record,
                            "result neither stored nor spooled");
                        storage_errors.push(error.to_string());
                        (false, false)
                    }
                }
            }
        };
        if inserted || spooled {
            let dir = self.config.results_dir();
            if let Err(source) = csv_log::append_result(&dir, &record) {
                let error = SchedulerError::Io { path: dir, source };
                tracing::error!(user_id = %user.user_id, %run_id, %error, "CSV line not written");
                storage_errors.push(error.to_string());
            }
        }
        if let Some(error) = &error {
            tracing::warn!(user_id = %user.user_id, health = %record.health, %error, "job had no clean result");
        } else {
            tracing::info!(user_id = %user.user_id, people = ?people, frames, "job done");
        }
        let alert = match people {
            Some(people) if inserted || spooled => {
                let alert = Alert {
                    user_id: &user.user_id,
                    email: &user.email,
                    people: people as u64,
                    threshold: user.threshold.max(0) as u64,
                    taken_at: tick,
                    source: &user.streaming_url,
                    jpeg,
                };
                match self.alerter.consider(&alert).await {
                    Ok(outcome) => Some(outcome),
                    Err(error) => {
                        // Delivery problems must not stop the tick; the next tick retries.
                        tracing::error!(user_id = %user.user_id, %error, "alert could not be sent");
                        None
                    }
                }
            }
            _ => None,
        };
        Ok(UserOutcome {
            record,
            inserted,
            spooled,
            storage_error: (!storage_errors.is_empty()).then(|| storage_errors.join("; ")),
            alert,
            error,
        })
    }

    /// Writes the picture to `images/{user_id}/{run_id}.jpg` (via a temporary file and rename, so
    /// readers never see half a file) and returns its path relative to the data folder.
    fn save_image(
        &self,
        user_id: &str,
        run_id: &str,
        jpeg: &[u8],
    ) -> Result<String, SchedulerError> {
        let relative = Path::new("images")
            .join(user_id)
            .join(format!("{run_id}.jpg"));
        let path = self.config.data_dir.join(&relative);
        write_whole(&path, jpeg).map_err(|source| SchedulerError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(relative.display().to_string())
    }
}

/// Writes the user list next to the spool.
fn write_users_cache(path: &Path, users: &[User]) -> std::io::Result<()> {
    write_whole(
        path,
        &serde_json::to_vec(users).map_err(std::io::Error::other)?,
    )
}

/// Writes `bytes` to `path` (creating its folder) through a temporary file and a rename, so
/// readers see the whole old file or the whole new one, never half.
fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".part");
    std::fs::write(&temporary, bytes)?;
    std::fs::rename(&temporary, path)
}

/// One user's job on a blocking thread: parse, resolve, decode and count, annotate the busiest
/// frame. Errors are strings prefixed `source:` when the stream itself is at fault.
fn count_user(
    url: &str,
    options: JobOptions,
    counter: &dyn PeopleCounter,
    resolver: &dyn UrlResolver,
) -> Result<(CountReport, Option<Vec<u8>>), String> {
    let spec = SourceSpec::parse(url)
        .and_then(|spec| spec.resolve(resolver))
        .map_err(|error| format!("source: {error}"))?;
    let report =
        run_count_job(spec, options, counter, &mut |_| {}).map_err(|error| error.to_string())?;
    let jpeg = match &report.busiest {
        Some(busiest) => match counter.annotated_jpeg(&busiest.image) {
            Ok(jpeg) => Some(jpeg),
            Err(error) => {
                tracing::warn!(%error, "could not annotate the busiest frame");
                None
            }
        },
        None => None,
    };
    Ok((report, jpeg))
}
