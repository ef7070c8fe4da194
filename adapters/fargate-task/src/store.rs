//! The `result` table (MySQL in AWS) as the job's [`ResultSink`], connecting on first use, so a
//! database that is down when the task starts is retried by the job's backoff like any other
//! failure, and API Gateway runs never connect. The connection checks the schema and never
//! migrates (the task's login has no DDL rights): `footfall db migrate` runs at deploy time, and
//! until it has, each attempt fails with the error that says so.

use std::time::Duration;

use footfall_domain::ResultRecord;
use footfall_domain::sinks::{BoxFuture, ResultSink, SinkError, Stored};
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

impl ResultSink for LazyStore {
    fn store<'a>(&'a self, record: &'a ResultRecord) -> BoxFuture<'a, Result<Stored, SinkError>> {
        Box::pin(async move {
            let store = self
                .store
                .get_or_try_init(|| Store::connect_with_timeout(&self.url, self.timeout))
                .await
                .map_err(|e| SinkError::retryable("db", format!("connect: {e}")))?;
            store.store(record).await
        })
    }
}
