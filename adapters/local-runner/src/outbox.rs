//! Alerts through the outbox (`alert_outbox`, results-store): the job only queues its alert
//! ([`OutboxNotifier`]), and [`AlertSender`] sends the queued ones with backoff, off the path
//! that stores results. So a slow, silent or down SMTP server delays no result, a failed send is
//! tried again (by this process or the next `--once`), and a kill loses no alert.
//!
//! Delivery is at most once: an alert is claimed (`sending`) before its SMTP conversation; one
//! whose process was killed mid-send becomes `unknown` and is not sent again. Only a definite
//! failure (refused connection, 4xx, deadline) goes back to `pending`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use footfall_domain::sinks::{Alert, BoxFuture, Delivery, Notifier, SinkError};
use results_store::{OutboxAlert, OutboxCounts, Store};
use tokio::sync::Notify;

use crate::shutdown::Shutdown;
use crate::smtp::{AlertEmail, Mailer};

/// How queued alerts are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxPolicy {
    /// Wait after the first failed attempt; doubled after each further one, up to `max_retry`.
    pub first_retry: Duration,
    pub max_retry: Duration,
    /// Attempts before an alert is given up (`failed`).
    pub max_attempts: u32,
    /// An alert `sending` for longer than this belongs to a process that died mid-send.
    pub interrupted_after: Duration,
}

impl Default for OutboxPolicy {
    fn default() -> Self {
        // 30 s, 1 min, 2 min ... 1 h: ten attempts cover about five hours of SMTP outage.
        Self {
            first_retry: Duration::from_secs(30),
            max_retry: Duration::from_secs(3600),
            max_attempts: 10,
            interrupted_after: Duration::from_secs(600),
        }
    }
}

impl OutboxPolicy {
    /// The wait after `attempts` failed attempts.
    pub fn retry_after(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(20);
        self.first_retry
            .saturating_mul(1 << doublings)
            .min(self.max_retry)
    }
}

/// The job's [`Notifier`] in the scheduler: queues the alert and wakes the sender. If the
/// database cannot take it (down), the alert is sent at once instead, within the mailer's
/// deadline, so an outage loses no alert either.
pub struct OutboxNotifier {
    pub store: Store,
    pub mailer: Arc<Mailer>,
    pub wake: Arc<Notify>,
}

impl Notifier for OutboxNotifier {
    fn notify<'a>(&'a self, alert: Alert<'a>) -> BoxFuture<'a, Result<Delivery, SinkError>> {
        Box::pin(async move {
            let record = alert.record;
            let queued = OutboxAlert {
                run_id: record.run_id.clone(),
                user_id: record.user_id.clone(),
                email: alert.email.to_string(),
                people: alert.people,
                threshold: alert.threshold,
                source: record.source.clone(),
                taken_at: record.taken_at,
                image_ref: record.image_ref.clone(),
                attempts: 0,
                metric: alert.metric.map(str::to_string),
            };
            match self.store.enqueue_alert(&queued).await {
                Ok(_) => {
                    tracing::info!(user_id = %record.user_id, run_id = %record.run_id,
                        people = alert.people, "alert queued");
                    self.wake.notify_one();
                    Ok(Delivery::Queued)
                }
                Err(error) => {
                    tracing::warn!(user_id = %record.user_id, %error,
                        "alert outbox unavailable; sending the alert now");
                    self.mailer
                        .send(&AlertEmail::from_alert(&alert))
                        .await
                        .map(|()| Delivery::Sent)
                        .map_err(|e| SinkError {
                            sink: "notify",
                            retryable: e.is_retryable(),
                            message: e.to_string(),
                        })
                }
            }
        })
    }
}

/// What one round of sending did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendReport {
    pub sent: u32,
    /// Failed for now; due again later.
    pub retry_later: u32,
    /// Given up: refused, or out of attempts.
    pub failed: u32,
    /// Left `sending` by a process that died: not sent again.
    pub abandoned: u64,
    /// The outbox could not be read or updated.
    pub store_error: Option<String>,
}

/// Sends the queued alerts.
pub struct AlertSender {
    pub store: Store,
    pub mailer: Arc<Mailer>,
    /// Picture references are relative to it.
    pub data_dir: PathBuf,
    pub policy: OutboxPolicy,
}

impl AlertSender {
    /// Sends every alert due now, one at a time, until none is due or `budget` is spent (an
    /// alert already claimed still gets its whole send deadline). An alert that fails is not
    /// tried again in the same round, however short its backoff.
    pub async fn send_due(&self, budget: Duration) -> SendReport {
        self.send_due_until(budget, &Shutdown::never()).await
    }

    /// [`AlertSender::send_due`] that claims no further alert once `shutdown` is requested (the
    /// one being sent finishes, within the mailer's deadline, so it is never left half-done).
    pub async fn send_due_until(&self, budget: Duration, shutdown: &Shutdown) -> SendReport {
        let started = tokio::time::Instant::now();
        let due_at = Utc::now();
        let mut report = SendReport::default();
        let interrupted = chrono::Duration::from_std(self.policy.interrupted_after)
            .unwrap_or(chrono::Duration::MAX);
        match self
            .store
            .abandon_interrupted_alerts(Utc::now() - interrupted)
            .await
        {
            Ok(0) => {}
            Ok(n) => {
                tracing::warn!(
                    alerts = n,
                    "alerts interrupted mid-send by a stopped process are not sent again (they may have gone out)"
                );
                report.abandoned = n;
            }
            Err(error) => {
                report.store_error = Some(error.to_string());
                return report;
            }
        }
        while started.elapsed() < budget && !shutdown.is_requested() {
            let alert = match self.store.claim_due_alert(due_at).await {
                Ok(Some(alert)) => alert,
                Ok(None) => break,
                Err(error) => {
                    tracing::error!(%error, "alert outbox unavailable");
                    report.store_error = Some(error.to_string());
                    break;
                }
            };
            self.send_one(&alert, &mut report).await;
        }
        report
    }

    async fn send_one(&self, alert: &OutboxAlert, report: &mut SendReport) {
        let jpeg = match &alert.image_ref {
            Some(image) => {
                let path = self.data_dir.join(image);
                match tokio::fs::read(&path).await {
                    Ok(bytes) => Some(bytes),
                    Err(error) => {
                        tracing::warn!(path = %path.display(), %error, "alert picture unavailable; sending without it");
                        None
                    }
                }
            }
            None => None,
        };
        let email = AlertEmail {
            run_id: &alert.run_id,
            user_id: &alert.user_id,
            to: &alert.email,
            people: alert.people,
            threshold: alert.threshold,
            source: &alert.source,
            taken_at: alert.taken_at,
            jpeg: jpeg.as_deref(),
            metric: alert.metric.as_deref(),
        };
        let (run, user) = (&alert.run_id, &alert.user_id);
        let settled = match self.mailer.send(&email).await {
            Ok(()) => {
                tracing::info!(user_id = %user, run_id = %run, email = %alert.email,
                    people = alert.people, attempt = alert.attempts, "alert email sent");
                report.sent += 1;
                self.store.alert_sent(run, user).await
            }
            Err(error) if error.is_retryable() && alert.attempts < self.policy.max_attempts => {
                let wait = self.policy.retry_after(alert.attempts);
                let at =
                    Utc::now() + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
                tracing::warn!(user_id = %user, run_id = %run, attempt = alert.attempts,
                    of = self.policy.max_attempts, retry_in_s = wait.as_secs(), %error,
                    "alert email not sent; will retry");
                report.retry_later += 1;
                self.store
                    .alert_retry_at(run, user, at, &error.to_string())
                    .await
            }
            Err(error) => {
                tracing::error!(user_id = %user, run_id = %run, attempt = alert.attempts,
                    %error, "alert email given up");
                report.failed += 1;
                self.store.alert_failed(run, user, &error.to_string()).await
            }
        };
        if let Err(error) = settled {
            // The row stays `sending` and is abandoned later: at most once still holds.
            tracing::error!(user_id = %user, run_id = %run, %error, "alert outcome not recorded");
            report.store_error = Some(error.to_string());
        }
    }

    /// Sends queued alerts until `shutdown`: whenever one is queued (`wake`), and every
    /// `interval` for those due again.
    pub async fn run(&self, wake: Arc<Notify>, interval: Duration, shutdown: Shutdown) {
        loop {
            if shutdown.is_requested() {
                return;
            }
            self.send_due_until(Duration::from_secs(300), &shutdown)
                .await;
            tokio::select! {
                () = shutdown.requested() => return,
                () = wake.notified() => {}
                () = tokio::time::sleep(interval) => {}
            }
        }
    }

    /// How many alerts are in each state.
    pub async fn counts(&self) -> Result<OutboxCounts, results_store::StoreError> {
        self.store.outbox_counts().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = OutboxPolicy::default();
        let waits: Vec<u64> = (1..=9).map(|n| policy.retry_after(n).as_secs()).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(policy.retry_after(u32::MAX).as_secs(), 3600);
    }
}
