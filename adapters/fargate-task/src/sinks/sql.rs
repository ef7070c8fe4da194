//! The database sink over the shared results store (`adapters/results-store`): MySQL in AWS,
//! SQLite locally. Connects lazily, so a database that is down when the task starts is retried by
//! the task's backoff like any other failure.

use std::time::Duration;

use payloads::JobResult;
use results_store::{ResultRecord, Store};
use tokio::sync::OnceCell;

use crate::TaskError;
use crate::sinks::ResultStore;

/// `insert_result` through [`results_store::Store`] (idempotent by run_id + user_id).
pub struct SqlResultStore {
    url: String,
    timeout: Duration,
    store: OnceCell<Store>,
}

impl SqlResultStore {
    pub fn new(url: &str, timeout: Duration) -> Self {
        Self {
            url: url.to_string(),
            timeout,
            store: OnceCell::new(),
        }
    }
}

/// The `result` row of a job result.
pub fn record_of(r: &JobResult) -> Result<ResultRecord, TaskError> {
    let taken_at = chrono::DateTime::parse_from_rfc3339(&r.date_time)
        .map_err(|e| TaskError::sink("db", format!("DATE-TIME {}: {e}", r.date_time), false))?
        .with_timezone(&chrono::Utc);
    Ok(ResultRecord {
        run_id: r.run_id.clone(),
        user_id: r.user_id.clone(),
        taken_at,
        people_count: Some(i64::from(r.people_count)),
        health: "ok".into(),
        frames: i64::from(r.frames_analyzed),
        source: r.source.as_str().into(),
        image_ref: None,
    })
}

impl ResultStore for SqlResultStore {
    async fn insert_result(&self, r: &JobResult) -> Result<(), TaskError> {
        let record = record_of(r)?;
        let store = self
            .store
            .get_or_try_init(|| Store::connect_with_timeout(&self.url, self.timeout))
            .await
            .map_err(|e| TaskError::sink("db", format!("connect: {e}"), true))?;
        store
            .insert_result(&record)
            .await
            .map(|_| ())
            .map_err(|e| TaskError::sink("db", format!("insert result: {e}"), true))
    }
}
