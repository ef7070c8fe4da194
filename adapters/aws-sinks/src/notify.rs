//! The notification Lambda as the job's [`Notifier`]: one asynchronous invoke
//! (`InvocationType=Event`) with a [`NotificationPayload`] that names the picture stored in S3
//! (inline base64 only where the run stored no picture, within the 256 KiB limit). The Lambda re-checks the alert,
//! claims the per-user cooldown and publishes.

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use base64::Engine;
use footfall_domain::sinks::{Alert, BoxFuture, Delivery, Notifier, SinkError};
use payloads::{CountResult, NotificationConfig, NotificationPayload};

use crate::sdk_status;

const SINK: &str = "notify";

/// Invokes the notification Lambda.
#[derive(Debug, Clone)]
pub struct LambdaNotifier {
    lambda: aws_sdk_lambda::Client,
    /// `None`: not configured; an alert then fails (permanently) instead of vanishing.
    function: Option<String>,
    /// Largest payload (Lambda's async invoke limit is 256 KiB).
    max_bytes: usize,
}

impl LambdaNotifier {
    pub fn new(lambda: aws_sdk_lambda::Client, function: Option<String>, max_bytes: usize) -> Self {
        Self {
            lambda,
            function,
            max_bytes,
        }
    }

    /// Invokes the function with one payload.
    pub async fn invoke(&self, payload: &NotificationPayload) -> Result<(), SinkError> {
        let Some(function) = &self.function else {
            return Err(SinkError::permanent(
                SINK,
                "threshold exceeded but NOTIFY_FUNCTION_NAME is not configured",
            ));
        };
        let body = serde_json::to_vec(payload)
            .map_err(|e| SinkError::permanent(SINK, format!("encode payload: {e}")))?;
        if body.len() > self.max_bytes {
            return Err(SinkError::permanent(
                SINK,
                format!(
                    "payload is {} bytes, over the {}-byte async invoke limit",
                    body.len(),
                    self.max_bytes
                ),
            ));
        }
        let out = self
            .lambda
            .invoke()
            .function_name(function)
            .invocation_type(InvocationType::Event)
            .payload(Blob::new(body))
            .send()
            .await
            .map_err(|e| SinkError {
                sink: SINK,
                message: format!(
                    "Invoke {function}: {}",
                    aws_sdk_lambda::error::DisplayErrorContext(&e)
                ),
                // Throttling, 5xx and no answer may pass; a refused request will not.
                retryable: sdk_status(&e).is_none_or(|s| s >= 500 || s == 429),
            })?;
        // Lambda answers 202 when it queued the event (local emulators may answer 200).
        if !(200..300).contains(&out.status_code()) {
            return Err(SinkError::retryable(
                SINK,
                format!(
                    "Invoke {function}: status {} (expected 202)",
                    out.status_code()
                ),
            ));
        }
        if let Some(err) = out.function_error() {
            return Err(SinkError::permanent(SINK, format!("function error: {err}")));
        }
        Ok(())
    }
}

/// The Lambda's payload for an alert: the stored picture's key when the run stored it (any
/// size), else the picture inline; an error when there is no picture at all.
pub fn notification_payload(alert: &Alert<'_>) -> Result<NotificationPayload, SinkError> {
    let record = alert.record;
    let stored = record
        .image_ref
        .clone()
        .filter(|key| payloads::is_picture_key_of(key, record.user_id.as_str()));
    let inline = match (&stored, alert.jpeg) {
        (Some(_), _) => String::new(),
        (None, Some(jpeg)) => base64::engine::general_purpose::STANDARD.encode(jpeg),
        (None, None) => {
            return Err(SinkError::permanent(
                SINK,
                "the job produced no detection image for the alert",
            ));
        }
    };
    Ok(NotificationPayload {
        run_id: Some(record.run_id.to_string()),
        user_id: record.user_id.to_string(),
        date_time: record.taken_at_text(),
        config: NotificationConfig {
            monitoring_status: alert.monitored,
            streaming_url: record.source.clone(),
            email: alert.email.to_string(),
            threshold: Some(alert.threshold),
        },
        result: CountResult {
            people_count: alert.people,
        },
        processed_detection_image: inline,
        image_key: stored,
        metric: alert.metric.map(str::to_string),
    })
}

impl Notifier for LambdaNotifier {
    fn notify<'a>(&'a self, alert: Alert<'a>) -> BoxFuture<'a, Result<Delivery, SinkError>> {
        Box::pin(async move {
            let payload = notification_payload(&alert)?;
            self.invoke(&payload).await.map(|()| Delivery::Sent)
        })
    }
}
