//! Foot-traffic alerts: when a user's count exceeds their threshold, an email with the count and
//! the annotated picture through SMTP (lettre) when configured, otherwise a warning log line. A
//! per-user cooldown keeps a crowd that stays from sending an email every tick.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error("invalid SMTP URL: {0}")]
    SmtpUrl(String),
    #[error("invalid email address `{address}`: {reason}")]
    Address { address: String, reason: String },
    #[error("could not build the alert email: {0}")]
    Build(String),
    #[error("SMTP delivery failed: {0}")]
    Send(String),
}

/// SMTP settings: `url` as lettre understands it (`smtp://host:port` plain, `smtp://user:pass@host:587?tls=required`
/// for STARTTLS, `smtps://host:465` for TLS), `from` the sender address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    pub url: String,
    pub from: String,
}

impl SmtpSettings {
    /// From `FOOTFALL_SMTP_URL` and `FOOTFALL_SMTP_FROM` (default `footfall@localhost`); `None`
    /// when no URL is set.
    pub fn from_env() -> Option<Self> {
        let url = std::env::var("FOOTFALL_SMTP_URL")
            .ok()
            .filter(|u| !u.is_empty())?;
        let from = std::env::var("FOOTFALL_SMTP_FROM")
            .unwrap_or_else(|_| "footfall@localhost".to_string());
        Some(Self { url, from })
    }
}

/// One over-threshold observation.
#[derive(Debug, Clone)]
pub struct Alert<'a> {
    pub user_id: &'a str,
    pub email: &'a str,
    pub people: u64,
    pub threshold: u64,
    /// When the count was taken; the cooldown runs on these times, so tests can use a fake clock.
    pub taken_at: DateTime<Utc>,
    pub source: &'a str,
    /// Annotated picture (JPEG) to attach, if one was made.
    pub jpeg: Option<&'a [u8]>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlertOutcome {
    /// The count did not exceed the threshold.
    BelowThreshold,
    /// An alert went out less than the cooldown ago.
    CoolingDown {
        until: DateTime<Utc>,
    },
    /// No SMTP configured: the alert was logged instead.
    Logged,
    Sent,
}

pub struct Alerter {
    smtp: Option<(AsyncSmtpTransport<Tokio1Executor>, Mailbox)>,
    cooldown: Duration,
    last_alert: Mutex<HashMap<String, DateTime<Utc>>>,
}

impl Alerter {
    pub fn new(smtp: Option<SmtpSettings>, cooldown: Duration) -> Result<Self, AlertError> {
        let smtp = match smtp {
            None => None,
            Some(settings) => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&settings.url)
                    .map_err(|err| AlertError::SmtpUrl(err.to_string()))?
                    .timeout(Some(std::time::Duration::from_secs(30)))
                    .build();
                Some((transport, parse_mailbox(&settings.from)?))
            }
        };
        Ok(Self {
            smtp,
            cooldown,
            last_alert: Mutex::new(HashMap::new()),
        })
    }

    pub fn smtp_configured(&self) -> bool {
        self.smtp.is_some()
    }

    /// Sends (or logs) an alert when `alert.people > alert.threshold` and the user's cooldown has
    /// passed. The cooldown starts only when an alert actually went out, so a failed delivery is
    /// retried on the next tick.
    pub async fn consider(&self, alert: &Alert<'_>) -> Result<AlertOutcome, AlertError> {
        if alert.people <= alert.threshold {
            return Ok(AlertOutcome::BelowThreshold);
        }
        if let Some(until) = self.cooling_until(alert) {
            tracing::info!(user_id = alert.user_id, people = alert.people, %until, "alert suppressed by cooldown");
            return Ok(AlertOutcome::CoolingDown { until });
        }
        let outcome = match &self.smtp {
            None => {
                tracing::warn!(
                    user_id = alert.user_id,
                    email = alert.email,
                    people = alert.people,
                    threshold = alert.threshold,
                    source = alert.source,
                    "ALERT: people count above threshold (SMTP not configured, no email sent)"
                );
                AlertOutcome::Logged
            }
            Some((transport, from)) => {
                let message = build_message(from, alert)?;
                transport
                    .send(message)
                    .await
                    .map_err(|err| AlertError::Send(err.to_string()))?;
                tracing::info!(
                    user_id = alert.user_id,
                    email = alert.email,
                    people = alert.people,
                    "alert email sent"
                );
                AlertOutcome::Sent
            }
        };
        if let Ok(mut last) = self.last_alert.lock() {
            last.insert(alert.user_id.to_string(), alert.taken_at);
        }
        Ok(outcome)
    }

    fn cooling_until(&self, alert: &Alert<'_>) -> Option<DateTime<Utc>> {
        let last = self.last_alert.lock().ok()?.get(alert.user_id).copied()?;
        let until = last + self.cooldown;
        (alert.taken_at < until).then_some(until)
    }
}

fn parse_mailbox(address: &str) -> Result<Mailbox, AlertError> {
    address
        .parse()
        .map_err(|err: lettre::address::AddressError| AlertError::Address {
            address: address.to_string(),
            reason: err.to_string(),
        })
}

fn build_message(from: &Mailbox, alert: &Alert<'_>) -> Result<Message, AlertError> {
    let to = parse_mailbox(alert.email)?;
    let subject = format!(
        "footfall: {} people at {} (threshold {})",
        alert.people, alert.user_id, alert.threshold
    );
    let text = format!(
        "{} people were counted on {} at {} (UTC), above the threshold of {}.\n",
        alert.people,
        alert.source,
        alert.taken_at.format("%Y-%m-%d %H:%M:%S"),
        alert.threshold
    );
    let builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(subject);
    let message = match alert.jpeg {
        Some(jpeg) => {
            let name = format!(
                "footfall-{}-{}.jpg",
                alert.user_id,
                alert.taken_at.format("%Y%m%dT%H%M%SZ")
            );
            let content_type = ContentType::parse("image/jpeg")
                .map_err(|err| AlertError::Build(err.to_string()))?;
            builder.multipart(
                MultiPart::mixed()
                    .singlepart(SinglePart::plain(text))
                    .singlepart(Attachment::new(name).body(jpeg.to_vec(), content_type)),
            )
        }
        None => builder.body(text),
    };
    message.map_err(|err| AlertError::Build(err.to_string()))
}
