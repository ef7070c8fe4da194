//! The `result` table with the spool behind it: a result the database cannot take (server down)
//! is kept in `spool/results.jsonl` and inserted by the next tick that reaches the database.

use footfall_domain::ResultRecord;
use footfall_domain::sinks::{BoxFuture, ResultSink, SinkError, Stored};
use results_store::{Spool, Store};

/// [`Store`] first, the [`Spool`] when the database is unreachable.
#[derive(Debug, Clone)]
pub struct SpooledResults {
    pub store: Store,
    pub spool: Spool,
    /// The database was already found down at the tick's start: spool without trying it.
    pub database_down: bool,
}

impl SpooledResults {
    fn spool(&self, record: &ResultRecord) -> Result<Stored, SinkError> {
        match self.spool.push(record) {
            Ok(_) => Ok(Stored::Deferred),
            // Nowhere to keep it: the log line carries the whole result.
            Err(error) => {
                tracing::error!(user_id = %record.user_id, run_id = %record.run_id, %error,
                    result = ?record, "result neither stored nor spooled");
                Err(SinkError::permanent(
                    "db",
                    format!("{}: {error}", self.spool.path().display()),
                ))
            }
        }
    }
}

impl ResultSink for SpooledResults {
    fn store<'a>(&'a self, record: &'a ResultRecord) -> BoxFuture<'a, Result<Stored, SinkError>> {
        Box::pin(async move {
            if self.database_down {
                return self.spool(record);
            }
            match self.store.insert_result(record).await {
                Ok(true) => Ok(Stored::Inserted),
                Ok(false) => Ok(Stored::AlreadyStored),
                Err(error) if error.is_invalid_input() => Err(error.into_sink_error("db")),
                Err(error) => {
                    tracing::warn!(user_id = %record.user_id, run_id = %record.run_id, %error,
                        "database unavailable; result kept in the spool until it answers");
                    self.spool(record)
                }
            }
        })
    }
}
