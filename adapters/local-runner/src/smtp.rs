//! Alert delivery on one machine: an email with the count and the annotated picture through
//! SMTP (lettre) when configured, otherwise a warning log line.

use footfall_domain::sinks::{Alert, BoxFuture, Delivery, Notifier, SinkError};
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

/// Alert emails through SMTP, or `WARN` log lines when no server is configured. The
/// threshold and cooldown are the job's business (footfall-job); this only delivers.
pub struct SmtpNotifier {
    smtp: Option<(AsyncSmtpTransport<Tokio1Executor>, Mailbox)>,
}

impl SmtpNotifier {
    pub fn new(smtp: Option<SmtpSettings>) -> Result<Self, AlertError> {
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
        Ok(Self { smtp })
    }

    pub fn smtp_configured(&self) -> bool {
        self.smtp.is_some()
    }

    async fn deliver(&self, alert: Alert<'_>) -> Result<Delivery, AlertError> {
        let record = alert.record;
        match &self.smtp {
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
            Some((transport, from)) => {
                let message = build_message(from, &alert)?;
                transport
                    .send(message)
                    .await
                    .map_err(|err| AlertError::Send(err.to_string()))?;
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
                // A bad address or message will not get better; a server that did not answer may.
                retryable: matches!(error, AlertError::Send(_)),
                message: error.to_string(),
            })
        })
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
    let record = alert.record;
    let to = parse_mailbox(alert.email)?;
    let subject = format!(
        "footfall: {} people at {} (threshold {})",
        alert.people, record.user_id, alert.threshold
    );
    let text = format!(
        "{} people were counted on {} at {} (UTC), above the threshold of {}.\n",
        alert.people,
        record.source,
        record.taken_at.format("%Y-%m-%d %H:%M:%S"),
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
                record.user_id,
                record.taken_at.format("%Y%m%dT%H%M%SZ")
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
