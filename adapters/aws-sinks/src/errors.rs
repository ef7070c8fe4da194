//! Error notifications (SNS) for failures that persisted.

use footfall_domain::sinks::SinkError;

/// Publishes one error message; returns the message id.
pub async fn publish(
    sns: &aws_sdk_sns::Client,
    topic_arn: &str,
    subject: &str,
    message: &str,
) -> Result<String, SinkError> {
    // SNS subjects: ASCII, no control characters, at most 100 characters.
    let subject: String = subject
        .chars()
        .filter(|c| c.is_ascii() && !c.is_control())
        .take(100)
        .collect();
    let out = sns
        .publish()
        .topic_arn(topic_arn)
        .subject(subject)
        .message(message)
        .send()
        .await
        .map_err(|e| {
            SinkError::retryable(
                "sns-error",
                format!("Publish: {}", aws_sdk_sns::error::DisplayErrorContext(&e)),
            )
        })?;
    Ok(out.message_id().unwrap_or_default().to_string())
}
