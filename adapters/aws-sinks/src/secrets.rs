//! Secrets read from AWS Secrets Manager at start-up, so that no database URL or signing key
//! sits in a Lambda's or task definition's plaintext environment.

use aws_sdk_secretsmanager::error::DisplayErrorContext;

/// Why a secret could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("GetSecretValue {id}: {message}")]
    Fetch { id: String, message: String },
    #[error("secret {id} has no SecretString (binary secrets are not supported)")]
    NotText { id: String },
    #[error("secret {id}: expected a JSON object with a string \"{key}\"")]
    MissingKey { id: String, key: String },
}

/// The secret's text; with `key`, the secret is a JSON object (as RDS and the stack's database
/// secret are) and the value of that key is returned.
pub async fn read(
    client: &aws_sdk_secretsmanager::Client,
    id: &str,
    key: Option<&str>,
) -> Result<String, SecretError> {
    let out = client
        .get_secret_value()
        .secret_id(id)
        .send()
        .await
        .map_err(|e| SecretError::Fetch {
            id: id.to_string(),
            message: DisplayErrorContext(&e).to_string(),
        })?;
    let text = out
        .secret_string()
        .ok_or_else(|| SecretError::NotText { id: id.to_string() })?;
    let Some(key) = key else {
        return Ok(text.to_string());
    };
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v.get(key).and_then(|v| v.as_str()).map(str::to_string))
        .ok_or_else(|| SecretError::MissingKey {
            id: id.to_string(),
            key: key.to_string(),
        })
}
