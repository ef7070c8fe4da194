//! Error notifications (SNS) for failures that persisted.

use crate::TaskError;

/// Publish one error message.
pub async fn publish(
    sns: &aws_sdk_sns::Client,
    topic_arn: &str,
    subject: &str,
    message: &str,
) -> Result<String, TaskError> {
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
            TaskError::sink(
                "sns-error",
                format!("Publish: {}", aws_sdk_sns::error::DisplayErrorContext(&e)),
                true,
            )
        })?;
    Ok(out.message_id().unwrap_or_default().to_string())
}
