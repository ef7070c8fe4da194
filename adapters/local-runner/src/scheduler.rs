//! `run-schedule`: on each tick of an EventBridge schedule, one job per monitored user (up to a
//! concurrency limit); results go to the `result` table and `results/{user_id}.csv`, the busiest
//! annotated frame to `images/{user_id}/{run_id}.jpg` (pruned after a number of days), and alerts
//! go out per user with a cooldown. A user with a job configuration (`config.tracking`) is
//! counted with tracking and alerted by its debounced rule, whose state is kept in
//! `alert_rule_state` between ticks.
//!
//! Failures lose nothing that can be kept: a result the database cannot take (server down) goes
//! to `spool/results.jsonl` and is inserted at the start of the next tick that reaches the
//! database (idempotent by run id). A tick that starts while the database is down runs with the
//! user list of the last tick that read it (`spool/users.json`) and spools its results the same
//! way; a picture or CSV line that cannot be written (disk full,
//! unwritable folder) is reported in the user's outcome and logged, and the other users' results
//! of the tick are still recorded.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use footfall_domain::schedule::Schedule;
use footfall_domain::sinks::{Notifier, Stored};
use footfall_domain::{ResultRecord, RunId, UserId};
use footfall_job::{
    AlertOutcome, Counting, JobOutcome, JobPolicy, JobRequest, JobSinks, Step, run_job,
};
use footfall_runtime::Backoff;
use frame_source::JobOptions;
use futures::stream::{FuturesUnordered, StreamExt};
use results_store::{FlushReport, Spool, Store, User};
use tokio::sync::Semaphore;

use crate::csv_log::CsvFiles;
use crate::pictures::{PictureFiles, write_whole};
use crate::results::SpooledResults;
use crate::retention::{PruneReport, prune_older_than};
use crate::shutdown::Shutdown;

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
    /// At most one alert per user within this window (kept in the database, so it holds
    /// across processes).
    pub alert_cooldown: chrono::Duration,
    /// After a shutdown request, how long running jobs may still finish (their results are
    /// stored); jobs not started by then are not started.
    pub shutdown_grace: std::time::Duration,
    /// Result rows taken more than this many days before the tick (and settled outbox alerts
    /// queued before then) are deleted after each tick, so the database stays bounded (0 keeps
    /// all).
    pub result_retention_days: u32,
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

/// What happened for one user in one tick: the job's outcome, seen from the local runner.
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
    /// Every step of the job.
    pub job: JobOutcome,
}

impl From<JobOutcome> for UserOutcome {
    fn from(job: JobOutcome) -> Self {
        let storage_errors: Vec<String> = ["picture", "db", "csv"]
            .into_iter()
            .filter_map(|name| match job.step(name) {
                Some(Step::Failed(error)) => Some(error.clone()),
                _ => None,
            })
            .collect();
        Self {
            record: job.record.clone(),
            inserted: job.stored == Some(Stored::Inserted),
            spooled: job.stored == Some(Stored::Deferred),
            storage_error: (!storage_errors.is_empty()).then(|| storage_errors.join("; ")),
            alert: job.alert.clone(),
            error: job.error.clone(),
            job,
        }
    }
}

#[derive(Debug, Clone)]
pub struct TickSummary {
    pub run_id: RunId,
    /// Users whose job was not started because shutdown was requested.
    pub not_started: Vec<String>,
    /// Users whose job was still running when the shutdown grace ran out: not stored.
    pub abandoned: Vec<String>,
    /// The database was down at the tick's start: the users came from the last tick's list.
    pub users_from_cache: bool,
    /// Spooled results of earlier ticks written to the database at the start of this one.
    pub flushed: FlushReport,
    pub outcomes: Vec<UserOutcome>,
    pub pruned: PruneReport,
    /// Result rows and settled alerts deleted by the retention.
    pub pruned_rows: (u64, u64),
}

pub struct Scheduler {
    store: Store,
    counting: Counting,
    notifier: Arc<dyn Notifier>,
    config: SchedulerConfig,
    spool: Spool,
}

impl Scheduler {
    pub fn new(
        store: Store,
        counting: Counting,
        notifier: Arc<dyn Notifier>,
        config: SchedulerConfig,
    ) -> Self {
        let spool = Spool::new(config.spool_path());
        Self {
            store,
            counting,
            notifier,
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

    /// Runs until `shutdown` is requested, one tick at each time the schedule names. A request
    /// during a tick lets it end as [`Scheduler::run_tick_until`] describes.
    pub async fn run(
        &self,
        schedule: &Schedule,
        expression: &str,
        shutdown: &Shutdown,
    ) -> Result<(), SchedulerError> {
        let mut after = Utc::now();
        loop {
            let tick = schedule
                .next_after(after)
                .ok_or_else(|| SchedulerError::NoNextTick(expression.to_string()))?;
            tracing::info!(%tick, "waiting for next tick");
            let wait = (tick - Utc::now()).to_std().unwrap_or_default();
            tokio::select! {
                () = shutdown.requested() => {
                    tracing::info!("shutdown requested; scheduler stopped");
                    return Ok(());
                }
                () = tokio::time::sleep(wait) => {}
            }
            // A failing tick (database down) is logged; the next tick tries again.
            match self.run_tick_until(tick, shutdown).await {
                Ok(summary) => {
                    tracing::info!(run_id = %summary.run_id, users = summary.outcomes.len(), "tick done")
                }
                Err(error) => tracing::error!(%error, %tick, "tick failed"),
            }
            if shutdown.is_requested() {
                tracing::info!("shutdown requested; scheduler stopped");
                return Ok(());
            }
            // A tick that overran the next one skips it rather than starting late ticks back to back.
            after = Utc::now().max(tick);
        }
    }

    /// One tick to its end (no shutdown).
    pub async fn run_tick(&self, tick: DateTime<Utc>) -> Result<TickSummary, SchedulerError> {
        self.run_tick_until(tick, &Shutdown::never()).await
    }

    /// One tick: a job per monitored user (through the one job pipeline), then retention. Each
    /// job stores its result, CSV line and alert as it ends, whatever the others do. Once
    /// `shutdown` is requested no further job starts, and running jobs get
    /// [`SchedulerConfig::shutdown_grace`] to finish.
    pub async fn run_tick_until(
        &self,
        tick: DateTime<Utc>,
        shutdown: &Shutdown,
    ) -> Result<TickSummary, SchedulerError> {
        let run_id = RunId::for_tick(tick);
        let (users, users_from_cache) = self.monitored_users(&run_id).await?;
        // The database answers again: first the results it missed.
        let flushed = if users_from_cache {
            FlushReport::default()
        } else {
            self.flush_spool().await
        };
        tracing::info!(%run_id, users = users.len(), "tick started");
        let results = SpooledResults {
            store: self.store.clone(),
            spool: self.spool.clone(),
            database_down: users_from_cache,
        };
        let csv = CsvFiles {
            results_dir: self.config.results_dir(),
        };
        let pictures = PictureFiles {
            data_dir: self.config.data_dir.clone(),
        };
        let policy = JobPolicy {
            frames: self.config.job_options,
            // No retries within a tick: the next tick is the retry, and the spool keeps results.
            count_backoff: Backoff::ONCE,
            sink_backoff: Backoff::ONCE,
            alert_cooldown: self.config.alert_cooldown,
        };
        let permits = Semaphore::new(self.config.concurrency.max(1));
        // Which jobs got going, to tell cut-off jobs from never-started ones at shutdown.
        let started = std::sync::Mutex::new(std::collections::HashSet::<String>::new());
        let mut job_ids = Vec::new();
        let jobs = users.iter().filter_map(|user| {
            // Rows written by older versions may hold ids the domain refuses: skip them loudly.
            let user_id = match UserId::parse(&user.user_id) {
                Ok(id) => id,
                Err(error) => {
                    tracing::error!(%error, "user skipped: invalid user id in the config table");
                    return None;
                }
            };
            // A stored configuration the application refuses now (written by hand, or by a
            // later release): the user's job runs as the plain job, loudly.
            let config = match user.job_config() {
                Ok(config) => config,
                Err(error) => {
                    tracing::error!(user_id = %user_id, %error,
                        "the user's job configuration is refused: running the plain job");
                    None
                }
            };
            let request = JobRequest {
                run_id: run_id.clone(),
                user_id,
                stream_url: user.streaming_url.clone(),
                email: user.email.clone(),
                threshold: u32::try_from(user.threshold.max(0)).unwrap_or(u32::MAX),
                monitored: user.monitored(),
                taken_at: tick,
                config,
            };
            let sinks = JobSinks {
                results: Some(&results),
                csv: Some(&csv),
                pictures: Some(&pictures),
                callback: None,
                notifier: self.notifier.as_ref(),
                cooldown: &self.store,
                alert_state: Some(&self.store),
                on_failure: None,
            };
            let permits = &permits;
            let policy = &policy;
            let counting = &self.counting;
            let started = &started;
            job_ids.push(request.user_id.to_string());
            Some(async move {
                // The semaphore is never closed, so acquiring only waits.
                let _permit = permits.acquire().await.ok();
                if shutdown.is_requested() {
                    return Err(request.user_id);
                }
                if let Ok(mut started) = started.lock() {
                    started.insert(request.user_id.to_string());
                }
                Ok(run_job(&request, counting, sinks, policy).await)
            })
        });
        let mut running: FuturesUnordered<_> = jobs.collect();
        // The jobs that have not ended yet, by user id.
        let mut pending: std::collections::BTreeSet<String> = job_ids.into_iter().collect();
        let mut outcomes = Vec::new();
        let mut not_started = Vec::new();
        let grace = self.config.shutdown_grace;
        let grace_over = async {
            shutdown.requested().await;
            tokio::time::sleep(grace).await;
        };
        tokio::pin!(grace_over);
        loop {
            tokio::select! {
                next = running.next() => match next {
                    Some(Ok(outcome)) => {
                        pending.remove(outcome.record.user_id.as_str());
                        outcomes.push(UserOutcome::from(outcome));
                    }
                    Some(Err(user_id)) => {
                        pending.remove(user_id.as_str());
                        not_started.push(user_id.to_string());
                    }
                    None => break,
                },
                () = &mut grace_over => break,
            }
        }
        drop(running);
        // What the grace cut off: jobs that were running, and jobs still waiting for a slot.
        let started = started.into_inner().unwrap_or_default();
        let (abandoned, waiting): (Vec<String>, Vec<String>) =
            pending.into_iter().partition(|id| started.contains(id));
        not_started.extend(waiting);
        // Stored as they finished; reported in user order.
        outcomes.sort_by(|a, b| a.record.user_id.as_str().cmp(b.record.user_id.as_str()));
        if shutdown.is_requested() {
            tracing::warn!(%run_id, finished = outcomes.len(), not_started = not_started.len(),
                abandoned = abandoned.len(), "tick cut short by shutdown");
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
        let mut pruned_rows = (0, 0);
        if self.config.result_retention_days > 0 && !users_from_cache {
            let cutoff =
                tick - chrono::Duration::days(i64::from(self.config.result_retention_days));
            match self.store.prune_before(cutoff).await {
                Ok(counts) => {
                    pruned_rows = counts;
                    if counts != (0, 0) {
                        tracing::info!(results = counts.0, alerts = counts.1, %cutoff, "old rows deleted");
                    }
                }
                // The next tick tries again.
                Err(error) => tracing::warn!(%error, "old rows could not be deleted"),
            }
        }
        Ok(TickSummary {
            pruned_rows,
            run_id,
            not_started,
            abandoned,
            users_from_cache,
            flushed,
            outcomes,
            pruned,
        })
    }

    /// The monitored users from the database (and a copy on disk), or, while the database is
    /// down, the copy of the last tick that read them. Without a copy the tick fails.
    async fn monitored_users(&self, run_id: &RunId) -> Result<(Vec<User>, bool), SchedulerError> {
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
}

/// Writes the user list next to the spool.
fn write_users_cache(path: &Path, users: &[User]) -> std::io::Result<()> {
    write_whole(
        path,
        &serde_json::to_vec(users).map_err(std::io::Error::other)?,
    )
}
