//! The task's configuration: one typed struct, from the environment through
//! [`footfall_runtime::Env`] (the parser every footfall process uses).

use std::time::Duration;

use footfall_runtime::env::ALLOW_PRIVATE_STREAMS;
use footfall_runtime::{Backoff, Env};
use payloads::{Source, TaskPayload, ValidationPolicy};

use crate::TaskError;

/// Everything the task needs (environment variable names in brackets).
#[derive(Debug, Clone)]
pub struct TaskConfig {
    /// The job: [`payloads::TASK_PAYLOAD_ENV`] (`FOOTFALL_PAYLOAD`), validated.
    pub payload: TaskPayload,
    /// `RESULTS_BUCKET`: bucket of `{user_id}.csv` (every run that has it; required for
    /// EVENTBRIDGE runs).
    pub results_bucket: Option<String>,
    /// `DATABASE_URL`: the results database, `mysql://...` or `sqlite:...` (every run that has
    /// it; required for EVENTBRIDGE runs).
    pub database_url: Option<String>,
    /// `CALLBACK_URL`: where API_GATEWAY results are POSTed (the EC2 FastAPI endpoint); unset or
    /// empty: the ad-hoc run only stores its result.
    pub callback_url: Option<String>,
    /// `CALLBACK_SECRET_ARN`: the Secrets Manager secret whose text signs each callback body
    /// (`Footfall-Signature`, HMAC-SHA256); required with `CALLBACK_URL`.
    pub callback_secret_arn: Option<String>,
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
    /// and of counting.
    pub backoff: Backoff,
    /// `CSV_APPEND_ATTEMPTS` (default 30): conditional-write attempts of one CSV append.
    pub csv_append_attempts: u32,
    /// `RESULT_RETENTION_DAYS` (default 365, 0 keeps all): CSV lines older than this are
    /// dropped when the task appends to the file (the controller deletes the rows).
    pub result_retention_days: u64,
    /// `FOOTFALL_SAMPLE_EVERY_SECS` (default 1): one sampled frame per this many seconds.
    pub sample_every: Duration,
    /// `WATCH_SECONDS` (default 60): the longest one counting attempt watches the stream,
    /// reconnects included (each task definition sets its group's window).
    pub watch: Duration,
    /// `COUNT_ATTEMPTS` (default 2): counting attempts while no frame could be counted. With
    /// `watch`, this bounds how long a bad stream holds a task (about attempts x watch).
    pub count_attempts: u32,
    /// Stream URL policy; `FOOTFALL_ALLOW_PRIVATE_STREAMS=true` allows loopback/private hosts.
    pub policy: ValidationPolicy,
}

impl TaskConfig {
    pub fn from_env() -> Result<Self, TaskError> {
        Self::from(&Env::process())
    }

    pub fn from(env: &Env<'_>) -> Result<Self, TaskError> {
        let policy = ValidationPolicy {
            allow_private_hosts: env.flag(ALLOW_PRIVATE_STREAMS)?,
            ..ValidationPolicy::default()
        };
        let raw = env.req(payloads::TASK_PAYLOAD_ENV)?;
        let payload = TaskPayload::parse(&raw, &policy)?;
        let every = env.parse_or::<f64>("FOOTFALL_SAMPLE_EVERY_SECS", 1.0)?;
        if !(every > 0.0 && every.is_finite()) {
            return Err(TaskError::Config(
                "FOOTFALL_SAMPLE_EVERY_SECS must be a positive number".into(),
            ));
        }
        let cfg = Self {
            payload,
            results_bucket: env.opt("RESULTS_BUCKET"),
            database_url: env.opt("DATABASE_URL"),
            callback_url: env.opt("CALLBACK_URL"),
            callback_secret_arn: env.opt("CALLBACK_SECRET_ARN"),
            callback_timeout: Duration::from_secs(env.num("CALLBACK_TIMEOUT_SECONDS", 10)?.max(1)),
            notify_function: env.opt("NOTIFY_FUNCTION_NAME"),
            default_threshold: env
                .num("ALERT_THRESHOLD", 15)?
                .min(u64::from(payloads::MAX_PEOPLE)) as u32,
            max_alert_payload_bytes: env.num("MAX_ALERT_PAYLOAD_BYTES", 256 * 1024)? as usize,
            error_topic_arn: env.opt("ERROR_TOPIC_ARN"),
            backoff: Backoff {
                attempts: env.num("RETRY_ATTEMPTS", 5)?.clamp(1, 50) as u32,
                base: Duration::from_millis(env.num("RETRY_BASE_MS", 500)?),
                max: Duration::from_secs(30),
            },
            csv_append_attempts: env.num("CSV_APPEND_ATTEMPTS", 30)?.clamp(1, 200) as u32,
            result_retention_days: env.num("RESULT_RETENTION_DAYS", 365)?,
            sample_every: Duration::from_secs_f64(every),
            watch: Duration::from_secs(env.num("WATCH_SECONDS", 60)?.clamp(5, 3600)),
            count_attempts: env.num("COUNT_ATTEMPTS", 2)?.clamp(1, 10) as u32,
            policy,
        };
        cfg.check()?;
        Ok(cfg)
    }

    /// The sinks the payload's source needs must be configured: fail before running the job.
    pub fn check(&self) -> Result<(), TaskError> {
        let missing = |what: &str| Err(TaskError::Config(what.to_string()));
        match self.payload.source {
            Source::EventBridge => {
                if self.results_bucket.is_none() {
                    return missing("RESULTS_BUCKET is required for EVENTBRIDGE runs");
                }
                if self.database_url.is_none() {
                    return missing("DATABASE_URL is required for EVENTBRIDGE runs");
                }
            }
            // An ad-hoc run posts its result to CALLBACK_URL when one is set, and stores it
            // like a scheduled run when the store is configured; an empty CALLBACK_URL means
            // "store only". It needs at least one of the two.
            Source::ApiGateway => {
                let stores = self.results_bucket.is_some() && self.database_url.is_some();
                match &self.callback_url {
                    None if !stores => {
                        return missing(
                            "API_GATEWAY runs need CALLBACK_URL, or RESULTS_BUCKET and DATABASE_URL to store the result",
                        );
                    }
                    None => {}
                    Some(url) => {
                        match url::Url::parse(url) {
                            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                            _ => return missing("CALLBACK_URL must be an http(s) URL"),
                        }
                        // The receiver accepts only signed results.
                        if self.callback_secret_arn.is_none() {
                            return missing(
                                "CALLBACK_URL needs CALLBACK_SECRET_ARN (the key that signs each result)",
                            );
                        }
                    }
                }
            }
        }
        Ok(())
    }
}
