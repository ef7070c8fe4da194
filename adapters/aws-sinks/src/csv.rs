//! Append a result to `s3://BUCKET/{user_id}.csv` without losing concurrent appends (the
//! [`crate::cas`] loop). The schema is the domain's ([`RESULT_CSV_HEADER`], run id first); a
//! line whose run id is already in the file is not repeated (idempotent retries). Each append
//! also drops the lines past the retention window (365 days by default), as the bucket's
//! lifecycle expires objects and the controller deletes rows: the file stays bounded.

use std::time::Duration;

use footfall_domain::csv::{
    RESULT_CSV_HEADER, prune_result_csv, result_csv_line, result_csv_run_id,
};
use footfall_domain::sinks::{Appended, BoxFuture, CsvLog, SinkError};
use footfall_domain::{ResultRecord, UserId};
use footfall_runtime::retry::Backoff;

use crate::cas::{Cas, Settled, compare_and_set};

/// The object key of a user's CSV.
pub fn csv_key(user_id: &UserId) -> String {
    format!("{user_id}.csv")
}

/// The results CSVs in one bucket.
#[derive(Debug, Clone)]
pub struct S3CsvLog {
    s3: aws_sdk_s3::Client,
    bucket: String,
    /// Conditional-write attempts of one append (conflicts with concurrent writers).
    conflicts: Backoff,
    /// Lines taken more than this many days ago are dropped on append (0 keeps all).
    retention_days: u64,
}

impl S3CsvLog {
    /// `attempts`: conditional writes per append before a conflict is reported (retryable).
    pub fn new(s3: aws_sdk_s3::Client, bucket: impl Into<String>, attempts: u32) -> Self {
        Self {
            s3,
            bucket: bucket.into(),
            conflicts: Backoff {
                attempts: attempts.max(1),
                base: Duration::from_millis(20),
                max: Duration::from_millis(1000),
            },
            retention_days: 365,
        }
    }

    /// Lines taken more than `days` ago go at the next append (0 keeps every line).
    pub fn with_retention_days(mut self, days: u64) -> Self {
        self.retention_days = days;
        self
    }

    /// Appends the record's line, creating the file with the header if needed.
    pub async fn append_record(&self, record: &ResultRecord) -> Result<Appended, SinkError> {
        let key = csv_key(&record.user_id);
        let line = result_csv_line(record);
        let run_id = record.run_id.as_str();
        let cutoff = (self.retention_days > 0).then(|| {
            chrono::Utc::now()
                - chrono::Duration::days(
                    i64::try_from(self.retention_days.min(36_500)).unwrap_or(365),
                )
        });
        let settled = compare_and_set(
            &self.s3,
            &self.bucket,
            &key,
            "text/csv",
            &self.conflicts,
            "csv",
            |current| {
                let mut body = match current {
                    None => format!("{RESULT_CSV_HEADER}\n"),
                    Some(bytes) => String::from_utf8_lossy(bytes).into_owned(),
                };
                if body.lines().any(|l| result_csv_run_id(l) == Some(run_id)) {
                    return Cas::Stop(Appended::AlreadyPresent);
                }
                if let Some(cutoff) = cutoff {
                    let (kept, dropped) = prune_result_csv(&body, cutoff);
                    if dropped > 0 {
                        tracing::info!(key = %key, dropped, "old CSV lines dropped (retention)");
                        body = kept;
                    }
                }
                if !body.is_empty() && !body.ends_with('\n') {
                    body.push('\n');
                }
                body.push_str(&line);
                Cas::Write(body.into_bytes(), Appended::Written)
            },
        )
        .await?;
        Ok(match settled {
            Settled::Written { value, .. } | Settled::Stopped { value, .. } => value,
        })
    }
}

impl CsvLog for S3CsvLog {
    fn append<'a>(
        &'a self,
        record: &'a ResultRecord,
    ) -> BoxFuture<'a, Result<Appended, SinkError>> {
        Box::pin(self.append_record(record))
    }
}
