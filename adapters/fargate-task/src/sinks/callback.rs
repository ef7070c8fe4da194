//! POST the result JSON to the callback URL (API Gateway runs).

use std::time::Duration;

use crate::TaskError;

/// An HTTP client for callbacks with a per-request timeout.
pub fn client(timeout: Duration) -> Result<reqwest::Client, TaskError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| TaskError::Config(format!("HTTP client: {e}")))
}

/// One POST attempt. 2xx is success; 408, 429 and 5xx, timeouts and connection errors are
/// retryable; other statuses are permanent.
pub async fn post(
    client: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
) -> Result<u16, TaskError> {
    match client.post(url).json(body).send().await {
        Ok(r) => {
            let s = r.status().as_u16();
            if r.status().is_success() {
                Ok(s)
            } else {
                Err(TaskError::sink(
                    "callback",
                    format!("{url} answered {s}"),
                    s >= 500 || s == 429 || s == 408,
                ))
            }
        }
        Err(e) => Err(TaskError::sink(
            "callback",
            format!(
                "{url}: {}",
                if e.is_timeout() {
                    "timed out".to_string()
                } else {
                    e.to_string()
                }
            ),
            true,
        )),
    }
}
