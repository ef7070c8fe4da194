//! Invoke the notification Lambda asynchronously.

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use payloads::NotificationPayload;

use crate::TaskError;

/// One async invoke (`InvocationType=Event`); Lambda answers 202 when it queued the event
/// (local emulators may answer 200).
pub async fn invoke(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    payload: &NotificationPayload,
    max_bytes: usize,
) -> Result<(), TaskError> {
    let body = serde_json::to_vec(payload)
        .map_err(|e| TaskError::sink("notify", format!("encode payload: {e}"), false))?;
    if body.len() > max_bytes {
        return Err(TaskError::sink(
            "notify",
            format!(
                "payload is {} bytes, over the {max_bytes}-byte async invoke limit",
                body.len()
            ),
            false,
        ));
    }
    let out = lambda
        .invoke()
        .function_name(function)
        .invocation_type(InvocationType::Event)
        .payload(Blob::new(body))
        .send()
        .await
        .map_err(|e| {
            let status = e.raw_response().map(|r| r.status().as_u16());
            TaskError::sink(
                "notify",
                format!(
                    "Invoke {function}: {}",
                    aws_sdk_lambda::error::DisplayErrorContext(&e)
                ),
                status.is_none_or(|s| s >= 500 || s == 429),
            )
        })?;
    if !(200..300).contains(&out.status_code()) {
        return Err(TaskError::sink(
            "notify",
            format!(
                "Invoke {function}: status {} (expected 202)",
                out.status_code()
            ),
            true,
        ));
    }
    if let Some(err) = out.function_error() {
        return Err(TaskError::sink(
            "notify",
            format!("function error: {err}"),
            false,
        ));
    }
    Ok(())
}
