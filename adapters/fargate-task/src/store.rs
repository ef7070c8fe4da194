//! The `result` table (MySQL in AWS) as the job's [`ResultSink`], connecting on first use, so a
//! database that is down when the task starts is retried by the job's backoff like any other
//! failure, and API Gateway runs never connect. The connection checks the schema and never
//! migrates (the task's login has no DDL rights): `footfall db migrate` runs at deploy time, and
//! until it has, each attempt fails with the error that says so.

use std::time::Duration;

use chrono::{DateTime, Utc};
use footfall_domain::sinks::{AlertStateStore, BoxFuture, ResultSink, SinkError, Stored};
use footfall_domain::{ResultRecord, UserId};
use results_store::Store;
use tokio::sync::OnceCell;

pub struct LazyStore {
    url: String,
    timeout: Duration,
    store: OnceCell<Store>,
}

impl LazyStore {
    pub fn new(url: &str, timeout: Duration) -> Self {
        Self {
            url: url.to_string(),
            timeout,
            store: OnceCell::new(),
        }
    }
}

impl LazyStore {
    /// The connected store; a failed connection is a retryable error of `sink`.
    async fn connected(&self, sink: &'static str) -> Result<&Store, SinkError> {
        self.store
            .get_or_try_init(|| Store::connect_with_timeout(&self.url, self.timeout))
            .await
            .map_err(|e| SinkError::retryable(sink, format!("connect: {e}")))
    }
}

impl ResultSink for LazyStore {
    fn store<'a>(&'a self, record: &'a ResultRecord) -> BoxFuture<'a, Result<Stored, SinkError>> {
        Box::pin(async move { self.connected("db").await?.store(record).await })
    }
}

/// The debounced rule's state of users with a job configuration (`alert_rule_state`, issue 12), so
/// a breach that lasts several scheduled tasks alerts once.
impl AlertStateStore for LazyStore {
    fn alert_armed<'a>(
        &'a self,
        user_id: &'a UserId,
    ) -> BoxFuture<'a, Result<Option<bool>, SinkError>> {
        Box::pin(async move {
            let store = self.connected("alert_state").await?;
            AlertStateStore::alert_armed(store, user_id).await
        })
    }

    fn set_alert_armed<'a>(
        &'a self,
        user_id: &'a UserId,
        armed: bool,
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            let store = self.connected("alert_state").await?;
            AlertStateStore::set_alert_armed(store, user_id, armed, at).await
        })
    }
}
