//! The task's configuration, from the environment.

use std::time::Duration;

use payloads::{Source, TaskPayload, ValidationPolicy};

use crate::TaskError;
use crate::retry::Backoff;

/// Everything the task needs (environment variable names in brackets).
#[derive(Debug, Clone)]
pub struct TaskConfig {
    /// The job: [`payloads::TASK_PAYLOAD_ENV`] (`FOOTFALL_PAYLOAD`), validated.
    pub payload: TaskPayload,
    /// `RESULTS_BUCKET`: bucket of `{user_id}.csv` (EVENTBRIDGE runs).
    pub results_bucket: Option<String>,
    /// `DATABASE_URL`: the results database (EVENTBRIDGE runs), `mysql://...` or `sqlite:...`.
    pub database_url: Option<String>,
    /// `CALLBACK_URL`: where API_GATEWAY results are POSTed (the EC2 FastAPI endpoint).
    pub callback_url: Option<String>,
    /// `CALLBACK_TIMEOUT_SECONDS` (default 10) per attempt.
    pub callback_timeout: Duration,
    /// `NOTIFY_FUNCTION_NAME`: the notification Lambda (name or ARN).
    pub notify_function: Option<String>,
    /// `ALERT_THRESHOLD` (default 15): alert when `people_count` exceeds it, for payloads that
    /// carry no per-user `threshold`.
    pub default_threshold: u32,
    /// `MAX_ALERT_PAYLOAD_BYTES` (default 262144, Lambda's async invoke limit).
    pub max_alert_payload_bytes: usize,
    /// `ERROR_TOPIC_ARN`: SNS topic for persistent failures.
    pub error_topic_arn: Option<String>,
    /// `RETRY_ATTEMPTS` (default 5) and `RETRY_BASE_MS` (default 500): backoff of every sink
    /// and of the job.
    pub backoff: Backoff,
    /// `CSV_APPEND_ATTEMPTS` (default 30): conditional-write attempts of one CSV append.
    pub csv_append_attempts: u32,
    /// Stream URL policy; `FOOTFALL_ALLOW_PRIVATE_STREAMS=true` allows loopback/private hosts.
    pub policy: ValidationPolicy,
}

impl TaskConfig {
    pub fn from_env() -> Result<Self, TaskError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, TaskError> {
        let opt = |k: &str| {
            get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let num = |k: &str, d: u64| -> Result<u64, TaskError> {
            match opt(k) {
                None => Ok(d),
                Some(v) => v
                    .parse()
                    .map_err(|_| TaskError::Config(format!("{k} must be a non-negative integer"))),
            }
        };
        let policy = ValidationPolicy {
            allow_private_hosts: opt("FOOTFALL_ALLOW_PRIVATE_STREAMS")
                .map(|v| matches!(v.as_str(), "1" | "true" | "yes"))
                .unwrap_or(false),
            ..ValidationPolicy::default()
        };
        let raw = opt(payloads::TASK_PAYLOAD_ENV).ok_or_else(|| {
            TaskError::Config(format!("{} is not set", payloads::TASK_PAYLOAD_ENV))
        })?;
        let payload = TaskPayload::parse(&raw, &policy)?;
        let cfg = Self {
            payload,
            results_bucket: opt("RESULTS_BUCKET"),
            database_url: opt("DATABASE_URL"),
            callback_url: opt("CALLBACK_URL"),
            callback_timeout: Duration::from_secs(num("CALLBACK_TIMEOUT_SECONDS", 10)?.max(1)),
            notify_function: opt("NOTIFY_FUNCTION_NAME"),
            default_threshold: num("ALERT_THRESHOLD", 15)?.min(u64::from(payloads::MAX_PEOPLE))
                as u32,
            max_alert_payload_bytes: num("MAX_ALERT_PAYLOAD_BYTES", 256 * 1024)? as usize,
            error_topic_arn: opt("ERROR_TOPIC_ARN"),
            backoff: Backoff {
                attempts: num("RETRY_ATTEMPTS", 5)?.clamp(1, 50) as u32,
                base: Duration::from_millis(num("RETRY_BASE_MS", 500)?),
                max: Duration::from_secs(30),
            },
            csv_append_attempts: num("CSV_APPEND_ATTEMPTS", 30)?.clamp(1, 200) as u32,
            policy,
        };
        cfg.check()?;
        Ok(cfg)
    }

    /// The sinks the payload's source needs must be configured: fail before running the job.
    pub fn check(&self) -> Result<(), TaskError> {
        match self.payload.source {
            Source::EventBridge => {
                if self.results_bucket.is_none() {
                    return Err(TaskError::Config(
                        "RESULTS_BUCKET is required for EVENTBRIDGE runs".into(),
                    ));
                }
                if self.database_url.is_none() {
                    return Err(TaskError::Config(
                        "DATABASE_URL is required for EVENTBRIDGE runs".into(),
                    ));
                }
            }
            Source::ApiGateway => {
                let Some(url) = &self.callback_url else {
                    return Err(TaskError::Config(
                        "CALLBACK_URL is required for API_GATEWAY runs".into(),
                    ));
                };
                match url::Url::parse(url) {
                    Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                    _ => {
                        return Err(TaskError::Config(
                            "CALLBACK_URL must be an http(s) URL".into(),
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}
