//! Alert emails through SMTP (lettre): the address rule, the message, and a deadline on every
//! send.
//!
//! lettre's own `timeout` covers only the TCP connect in its tokio transport: a server that
//! accepts and never greets (a plain `smtp://` URL pointed at an implicit-TLS port 465 does
//! exactly that) would hold a send forever. [`Mailer::send`] puts one deadline over the whole
//! conversation.
//!
//! [`SmtpNotifier`] sends on the job's path (or logs when no server is configured); the
//! scheduler queues alerts in the outbox instead ([`crate::outbox`]) and sends them off that
//! path with this same [`Mailer`].

use std::time::Duration;

use chrono::{DateTime, Utc};
use footfall_domain::sinks::{Alert, BoxFuture, Delivery, Notifier, SinkError};
use footfall_domain::{RunId, UserId};
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// The whole SMTP conversation of one alert (connect, greeting, every command) ends within this
/// unless configured otherwise.
pub const DEFAULT_SEND_DEADLINE: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlertError {
    #[error("invalid SMTP URL: {0}")]
    SmtpUrl(String),
    #[error("invalid email address `{address}`: {reason}")]
    Address { address: String, reason: String },
    #[error("could not build the alert email: {0}")]
    Build(String),
    /// The server refused the message for good (a 5xx reply).
    #[error("SMTP server refused the alert: {0}")]
    Refused(String),
    #[error("SMTP delivery failed: {0}")]
    Send(String),
    #[error(
        "SMTP server did not finish within {0:?} (wrong port or TLS setting, or a hung server)"
    )]
    Deadline(Duration),
}

impl AlertError {
    /// Worth another attempt later: the server was unreachable, slow or answered 4xx. A bad
    /// address, a message that cannot be built or a 5xx refusal will not change.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Send(_) | Self::Deadline(_))
    }
}

/// The one rule for an alert recipient, used when a user is added and when an alert is sent: a
/// single plain address (`local@domain`), without a display name, quotes, spaces, commas or
/// line breaks, that lettre accepts.
pub fn parse_address(text: &str) -> Result<Address, AlertError> {
    let refuse = |reason: &str| AlertError::Address {
        address: text.escape_debug().to_string(),
        reason: reason.to_string(),
    };
    if text.is_empty() {
        return Err(refuse("empty"));
    }
    if let Some(c) = text
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || matches!(c, ',' | ';' | '"' | '<' | '>'))
    {
        return Err(refuse(&format!(
            "one plain address (local@domain) is expected; `{}` is not allowed",
            c.escape_debug()
        )));
    }
    text.parse::<Address>()
        .map_err(|err| refuse(&err.to_string()))
}

/// SMTP settings: `url` as lettre understands it (`smtp://host:port` plain,
/// `smtp://user:pass@host:587?tls=required` for STARTTLS, `smtps://host:465` for TLS), `from`
/// the sender address, `deadline` for one whole send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    pub url: String,
    pub from: String,
    pub deadline: Duration,
}

impl SmtpSettings {
    pub fn new(url: impl Into<String>, from: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            from: from.into(),
            deadline: DEFAULT_SEND_DEADLINE,
        }
    }
}

/// What one alert email says.
#[derive(Debug, Clone, Copy)]
pub struct AlertEmail<'a> {
    pub run_id: &'a RunId,
    pub user_id: &'a UserId,
    pub to: &'a str,
    pub people: u32,
    pub threshold: u32,
    /// The stream as shown (without credentials).
    pub source: &'a str,
    pub taken_at: DateTime<Utc>,
    pub jpeg: Option<&'a [u8]>,
    /// What `people` counts when the rule watches a zone or a line; `None`: people.
    pub metric: Option<&'a str>,
}

impl<'a> AlertEmail<'a> {
    pub fn from_alert(alert: &Alert<'a>) -> Self {
        Self {
            run_id: &alert.record.run_id,
            user_id: &alert.record.user_id,
            to: alert.email,
            people: alert.people,
            threshold: alert.threshold,
            source: &alert.record.source,
            taken_at: alert.record.taken_at,
            jpeg: alert.jpeg,
            metric: alert.metric,
        }
    }
}

/// An SMTP connection setup and sender address.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    deadline: Duration,
}

impl Mailer {
    pub fn new(settings: &SmtpSettings) -> Result<Self, AlertError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&settings.url)
            .map_err(|err| AlertError::SmtpUrl(err.to_string()))?
            .timeout(Some(settings.deadline))
            .build();
        // The operator's sender may carry a name (`Footfall <alerts@example.com>`).
        let from: Mailbox =
            settings
                .from
                .parse()
                .map_err(|err: lettre::address::AddressError| AlertError::Address {
                    address: settings.from.clone(),
                    reason: err.to_string(),
                })?;
        Ok(Self {
            transport,
            from,
            deadline: settings.deadline,
        })
    }

    /// Sends one alert, within the deadline.
    pub async fn send(&self, email: &AlertEmail<'_>) -> Result<(), AlertError> {
        let message = build_message(&self.from, email)?;
        match tokio::time::timeout(self.deadline, self.transport.send(message)).await {
            Err(_) => Err(AlertError::Deadline(self.deadline)),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) if error.is_permanent() => Err(AlertError::Refused(error.to_string())),
            Ok(Err(error)) => Err(AlertError::Send(error.to_string())),
        }
    }
}

/// Alert emails sent on the job's path through SMTP, or `WARN` log lines when no server is
/// configured. The threshold and cooldown are the job's business (footfall-job); this only
/// delivers.
pub struct SmtpNotifier {
    mailer: Option<Mailer>,
}

impl SmtpNotifier {
    pub fn new(smtp: Option<SmtpSettings>) -> Result<Self, AlertError> {
        Ok(Self {
            mailer: smtp.as_ref().map(Mailer::new).transpose()?,
        })
    }

    pub fn smtp_configured(&self) -> bool {
        self.mailer.is_some()
    }

    async fn deliver(&self, alert: Alert<'_>) -> Result<Delivery, AlertError> {
        let record = alert.record;
        match &self.mailer {
            None => {
                tracing::warn!(
                    user_id = %record.user_id,
                    email = alert.email,
                    people = alert.people,
                    threshold = alert.threshold,
                    source = %record.source,
                    "ALERT: people count above threshold (SMTP not configured, no email sent)"
                );
                Ok(Delivery::Logged)
            }
            Some(mailer) => {
                mailer.send(&AlertEmail::from_alert(&alert)).await?;
                tracing::info!(user_id = %record.user_id, email = alert.email,
                    people = alert.people, "alert email sent");
                Ok(Delivery::Sent)
            }
        }
    }
}

impl Notifier for SmtpNotifier {
    fn notify<'a>(&'a self, alert: Alert<'a>) -> BoxFuture<'a, Result<Delivery, SinkError>> {
        Box::pin(async move {
            self.deliver(alert).await.map_err(|error| SinkError {
                sink: "notify",
                retryable: error.is_retryable(),
                message: error.to_string(),
            })
        })
    }
}

/// The email: subject and text with the count, the annotated picture attached, a Date and a
/// Message-ID that names the run and user (so a copy delivered twice is recognisable).
pub fn build_message(from: &Mailbox, email: &AlertEmail<'_>) -> Result<Message, AlertError> {
    let to = Mailbox::new(None, parse_address(email.to)?);
    let what = email.metric.unwrap_or("people");
    let subject = format!(
        "footfall: {} {what} at {} (threshold {})",
        email.people, email.user_id, email.threshold
    );
    let counted = match email.metric {
        None => format!("{} people were counted", email.people),
        Some(metric) => format!("{metric}: {}", email.people),
    };
    let mut text = format!(
        "{counted} on {} at {} (UTC), above the threshold of {}.\n",
        email.source,
        email.taken_at.format("%Y-%m-%d %H:%M:%S"),
        email.threshold
    );
    if email.jpeg.is_none() {
        text.push_str("The annotated picture is not available.\n");
    }
    let message_id = format!(
        "<footfall.{}.{}@{}>",
        email.run_id,
        email.user_id,
        from.email.domain()
    );
    let builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(subject)
        .date_now()
        .message_id(Some(message_id));
    let message = match email.jpeg {
        Some(jpeg) => {
            let name = format!(
                "footfall-{}-{}.jpg",
                email.user_id,
                email.taken_at.format("%Y%m%dT%H%M%SZ")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_plain_address_or_a_clear_refusal() {
        for good in [
            "a@example.com",
            "first.last+tag@sub.example.org",
            "x@127.0.0.1",
        ] {
            assert!(parse_address(good).is_ok(), "{good}");
        }
        for (bad, why) in [
            ("a@b.c, evil@x.com", "`,`"),
            ("a@b.com\r\nBcc: evil@x.com", "`\\r`"),
            ("\"quoted local\"@example.com", "`\\\"` is not allowed"),
            ("Alice <a@example.com>", "` `"),
            ("no-at-sign", "Missing domain or user"),
            ("", "empty"),
        ] {
            let error = parse_address(bad).unwrap_err().to_string();
            assert!(error.contains(why), "{bad:?}: {error}");
        }
    }

    #[test]
    fn the_message_has_a_date_and_a_message_id() {
        let from = Mailbox::new(None, parse_address("footfall@alerts.example").unwrap());
        let run = RunId::parse("2026-11-30T10-00-00Z").unwrap();
        let user = UserId::parse("alice").unwrap();
        let email = AlertEmail {
            run_id: &run,
            user_id: &user,
            to: "alice@example.com",
            people: 12,
            threshold: 5,
            source: "http://***@cam/live.m3u8",
            taken_at: DateTime::from_timestamp(1_795_000_000, 0).unwrap(),
            jpeg: None,
            metric: None,
        };
        let text = String::from_utf8(build_message(&from, &email).unwrap().formatted()).unwrap();
        assert!(
            text.contains("Subject: footfall: 12 people at alice (threshold 5)"),
            "{text}"
        );
        assert!(text.contains("12 people were counted on"), "{text}");
        // A zone or line rule's alert says what its value counts.
        let zone = AlertEmail {
            metric: Some("people in zone queue"),
            ..email
        };
        let zoned = String::from_utf8(build_message(&from, &zone).unwrap().formatted()).unwrap();
        assert!(
            zoned.contains("Subject: footfall: 12 people in zone queue at alice (threshold 5)"),
            "{zoned}"
        );
        assert!(
            zoned.contains("people in zone queue: 12 on http://"),
            "{zoned}"
        );
        assert!(text.contains("\r\nDate: "), "{text}");
        assert!(
            text.contains("Message-ID: <footfall.2026-11-30T10-00-00Z.alice@alerts.example>"),
            "{text}"
        );
        assert!(text.contains("http://***@cam/live.m3u8"));
        // A recipient that the rule refuses never reaches the wire.
        let bad = AlertEmail {
            to: "a@b.com\r\nBcc: evil@x.com",
            ..email
        };
        assert!(matches!(
            build_message(&from, &bad),
            Err(AlertError::Address { .. })
        ));
    }
}
