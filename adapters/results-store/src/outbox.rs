//! The alert outbox (`alert_outbox` table): alerts the job queued, delivered later by a sender
//! with backoff, at most once. See the migration for the states.

use chrono::{DateTime, SubsecRound, Utc};
use footfall_domain::{RunId, UserId};

use crate::{Pool, Result, Store, StoreError, column, now, validate_len};

/// One queued alert: what the email says, and where its picture is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxAlert {
    pub run_id: RunId,
    pub user_id: UserId,
    pub email: String,
    pub people: u32,
    pub threshold: u32,
    /// The stream, as shown (without credentials).
    pub source: String,
    pub taken_at: DateTime<Utc>,
    /// The annotated picture (a path under the data folder), if one was kept.
    pub image_ref: Option<String>,
    /// Attempts so far, this one included once claimed.
    pub attempts: u32,
    /// What `people` counts when the rule watches a zone or a line; `None`: people.
    pub metric: Option<String>,
}

/// How many alerts are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    /// Waiting for their first or next attempt.
    pub pending: u64,
    /// Being sent now (or by a process that was killed, until [`Store::abandon_interrupted_alerts`]).
    pub sending: u64,
    pub sent: u64,
    /// Refused, or out of attempts.
    pub failed: u64,
    /// A send was interrupted: it may or may not have gone out, and is not sent again.
    pub unknown: u64,
}

impl OutboxCounts {
    /// Alerts not delivered yet that still may be.
    pub fn undelivered(&self) -> u64 {
        self.pending + self.sending
    }
}

#[derive(sqlx::FromRow)]
struct OutboxRow {
    run_id: String,
    user_id: String,
    email: String,
    people: i64,
    threshold: i64,
    source: String,
    taken_at: DateTime<Utc>,
    image_ref: Option<String>,
    attempts: i64,
    metric: Option<String>,
}

impl TryFrom<OutboxRow> for OutboxAlert {
    type Error = StoreError;
    fn try_from(row: OutboxRow) -> Result<Self> {
        Ok(Self {
            run_id: column("run_id", RunId::parse(&row.run_id))?,
            user_id: column("user_id", UserId::parse(&row.user_id))?,
            email: row.email,
            people: column("people", u32::try_from(row.people))?,
            threshold: column("threshold", u32::try_from(row.threshold))?,
            source: row.source,
            taken_at: row.taken_at,
            image_ref: row.image_ref,
            attempts: u32::try_from(row.attempts).unwrap_or(u32::MAX),
            metric: row.metric,
        })
    }
}

macro_rules! outbox_columns {
    () => {
        "run_id, user_id, email, people, threshold, source, taken_at, image_ref, attempts, metric"
    };
}

/// Error texts are kept short enough for the column.
fn clip(error: &str) -> &str {
    let mut end = error.len().min(1000);
    while !error.is_char_boundary(end) {
        end -= 1;
    }
    &error[..end]
}

impl Store {
    /// Queues an alert, due now. `false` when this (run_id, user_id) was queued before (a
    /// re-run): nothing changes.
    pub async fn enqueue_alert(&self, alert: &OutboxAlert) -> Result<bool> {
        validate_len("email", &alert.email, 320)?;
        validate_len("source", &alert.source, 2048)?;
        if let Some(metric) = &alert.metric {
            validate_len("metric", metric, 160)?;
        }
        let now = now();
        let sql = concat!(
            "INSERT INTO alert_outbox (",
            outbox_columns!(),
            ", state, next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, 'pending', ?, ?, ?)"
        );
        let inserted = on_pool!(self, pool => sqlx::query(sql)
            .bind(alert.run_id.as_str())
            .bind(alert.user_id.as_str())
            .bind(&alert.email)
            .bind(i64::from(alert.people))
            .bind(i64::from(alert.threshold))
            .bind(&alert.source)
            .bind(alert.taken_at.trunc_subsecs(0))
            .bind(&alert.image_ref)
            .bind(&alert.metric)
            .bind(now)
            .bind(now)
            .bind(now)
            .execute(pool)
            .await
            .map(|_| ()));
        match inserted {
            Ok(()) => Ok(true),
            Err(error) if crate::is_unique_violation(&error) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// Claims the oldest alert due at `at` for one attempt (state `sending`, attempts + 1).
    /// Another process claiming the same row first makes this one take the next.
    pub async fn claim_due_alert(&self, at: DateTime<Utc>) -> Result<Option<OutboxAlert>> {
        let select = concat!(
            "SELECT ",
            outbox_columns!(),
            " FROM alert_outbox WHERE state = 'pending' AND next_attempt_at <= ?",
            " ORDER BY next_attempt_at, created_at, run_id, user_id LIMIT 1"
        );
        let claim = "UPDATE alert_outbox SET state = 'sending', attempts = attempts + 1, updated_at = ? \
                     WHERE run_id = ? AND user_id = ? AND state = 'pending'";
        // A lost race costs one more round; a bounded number of them ends the search.
        for _ in 0..16 {
            let row = on_pool!(self, pool => sqlx::query_as::<_, OutboxRow>(select)
                .bind(at.trunc_subsecs(0))
                .fetch_optional(pool)
                .await)?;
            let Some(row) = row else { return Ok(None) };
            let claimed = on_pool!(self, pool => sqlx::query(claim)
                .bind(now())
                .bind(&row.run_id)
                .bind(&row.user_id)
                .execute(pool)
                .await
                .map(|done| done.rows_affected()))?;
            if claimed == 1 {
                let mut alert = OutboxAlert::try_from(row)?;
                alert.attempts = alert.attempts.saturating_add(1);
                return Ok(Some(alert));
            }
        }
        Ok(None)
    }

    /// The claimed alert went out.
    pub async fn alert_sent(&self, run_id: &RunId, user_id: &UserId) -> Result<()> {
        self.settle(run_id, user_id, "sent", None, None).await
    }

    /// The claimed alert's attempt failed for certain (nothing was accepted): try again at `at`.
    pub async fn alert_retry_at(
        &self,
        run_id: &RunId,
        user_id: &UserId,
        at: DateTime<Utc>,
        error: &str,
    ) -> Result<()> {
        self.settle(run_id, user_id, "pending", Some(at), Some(error))
            .await
    }

    /// The claimed alert will not be sent: refused, or out of attempts.
    pub async fn alert_failed(&self, run_id: &RunId, user_id: &UserId, error: &str) -> Result<()> {
        self.settle(run_id, user_id, "failed", None, Some(error))
            .await
    }

    /// The claimed alert's attempt ended without knowing whether it went out (a deadline hit
    /// after the server took the message): never sent again.
    pub async fn alert_unknown(&self, run_id: &RunId, user_id: &UserId, error: &str) -> Result<()> {
        self.settle(run_id, user_id, "unknown", None, Some(error))
            .await
    }

    async fn settle(
        &self,
        run_id: &RunId,
        user_id: &UserId,
        state: &'static str,
        next_attempt_at: Option<DateTime<Utc>>,
        error: Option<&str>,
    ) -> Result<()> {
        let now = now();
        let sql = "UPDATE alert_outbox SET state = ?, next_attempt_at = ?, last_error = ?, updated_at = ? \
                   WHERE run_id = ? AND user_id = ? AND state = 'sending'";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(state)
            .bind(next_attempt_at.map_or(now, |t| t.trunc_subsecs(0)))
            .bind(error.map(clip))
            .bind(now)
            .bind(run_id.as_str())
            .bind(user_id.as_str())
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Alerts left `sending` since before `claimed_before` (their process was killed mid-send)
    /// become `unknown`: they may have gone out, so they are not sent again. Returns how many.
    pub async fn abandon_interrupted_alerts(&self, claimed_before: DateTime<Utc>) -> Result<u64> {
        let sql = "UPDATE alert_outbox SET state = 'unknown', last_error = ?, updated_at = ? \
                   WHERE state = 'sending' AND updated_at < ?";
        let abandoned = on_pool!(self, pool => sqlx::query(sql)
            .bind("the sending process stopped during the attempt")
            .bind(now())
            .bind(claimed_before.trunc_subsecs(0))
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(abandoned)
    }

    /// How many alerts are in each state.
    pub async fn outbox_counts(&self) -> Result<OutboxCounts> {
        let sql = "SELECT state, COUNT(*) FROM alert_outbox GROUP BY state";
        let rows = on_pool!(self, pool => sqlx::query_as::<_, (String, i64)>(sql)
            .fetch_all(pool)
            .await)?;
        let mut counts = OutboxCounts::default();
        for (state, n) in rows {
            let n = u64::try_from(n).unwrap_or_default();
            match state.as_str() {
                "pending" => counts.pending += n,
                "sending" => counts.sending += n,
                "sent" => counts.sent += n,
                "failed" => counts.failed += n,
                _ => counts.unknown += n,
            }
        }
        Ok(counts)
    }

    /// The state, attempts and last error of one alert (for reports and tests).
    pub async fn alert_state(
        &self,
        run_id: &RunId,
        user_id: &UserId,
    ) -> Result<Option<(String, u32, Option<String>)>> {
        let sql =
            "SELECT state, attempts, last_error FROM alert_outbox WHERE run_id = ? AND user_id = ?";
        let row = on_pool!(self, pool => sqlx::query_as::<_, (String, i64, Option<String>)>(sql)
            .bind(run_id.as_str())
            .bind(user_id.as_str())
            .fetch_optional(pool)
            .await)?;
        Ok(row.map(|(state, attempts, error)| {
            (state, u32::try_from(attempts).unwrap_or(u32::MAX), error)
        }))
    }
}
