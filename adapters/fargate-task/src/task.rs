//! The task's run: check the stream URL again, run the one job pipeline with the AWS sinks the
//! payload's source needs, report.

use aws_sinks::callback::{HttpCallback, job_result};
use aws_sinks::csv::S3CsvLog;
use aws_sinks::notify::LambdaNotifier;
use aws_sinks::{S3Pictures, SigningKey};
use footfall_domain::sinks::{AlertStateStore, Callback, CsvLog, PictureStore, ResultSink};
use footfall_domain::{RunId, UserId};
use footfall_job::{Counting, FailedAttempt, JobPolicy, JobRequest, JobSinks, Step, run_job};
use footfall_runtime::Backoff;
use frame_source::{JobOptions, SamplingPolicy};
use payloads::{JobResult, Source};
use serde::Serialize;
use serde_json::{Value, json};

use crate::TaskError;
use crate::config::TaskConfig;
use crate::cooldown::DelegatedCooldown;
use crate::log::JsonLog;
use crate::store::LazyStore;

/// Everything [`run_task`] uses.
pub struct TaskDeps {
    pub config: TaskConfig,
    pub counting: Counting,
    /// The result table (EVENTBRIDGE runs).
    pub results: Box<dyn ResultSink>,
    pub s3: aws_sdk_s3::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub sns: aws_sdk_sns::Client,
    pub http: reqwest::Client,
    /// Signs callback bodies (from `CALLBACK_SECRET_ARN`, see [`TaskDeps::load_callback_key`]).
    pub callback_key: Option<SigningKey>,
    pub log: JsonLog,
}

impl TaskDeps {
    /// Clients from an SDK configuration (S3 with path-style addressing), the result table at
    /// `DATABASE_URL`.
    pub fn new(
        sdk: &aws_config::SdkConfig,
        config: TaskConfig,
        counting: Counting,
        log: JsonLog,
    ) -> Result<Self, TaskError> {
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(sdk)
                .force_path_style(true)
                .build(),
        );
        let http = aws_sinks::callback::client(config.callback_timeout)
            .map_err(|e| TaskError::Config(format!("HTTP client: {e}")))?;
        let results = Box::new(LazyStore::new(
            config.database_url.as_deref().unwrap_or_default(),
            std::time::Duration::from_secs(10),
        ));
        Ok(Self {
            s3,
            lambda: aws_sdk_lambda::Client::new(sdk),
            sns: aws_sdk_sns::Client::new(sdk),
            http,
            callback_key: None,
            results,
            counting,
            config,
            log,
        })
    }

    /// Reads the callback signing key from Secrets Manager when the run posts a callback: at
    /// start, so a missing or weak secret fails the task before it counts, not after.
    pub async fn load_callback_key(
        mut self,
        secrets: &aws_sdk_secretsmanager::Client,
    ) -> Result<Self, TaskError> {
        if self.config.callback_url.is_none() {
            return Ok(self);
        }
        let Some(arn) = &self.config.callback_secret_arn else {
            return Ok(self);
        };
        let text = aws_sinks::secrets::read(secrets, arn, None)
            .await
            .map_err(|e| TaskError::Config(format!("CALLBACK_SECRET_ARN: {e}")))?;
        let key = SigningKey::new(&text)
            .map_err(|e| TaskError::Config(format!("CALLBACK_SECRET_ARN: {e}")))?;
        self.callback_key = Some(key);
        Ok(self)
    }
}

/// What a task run did.
#[derive(Debug, Clone, Serialize)]
pub struct TaskReport {
    /// The result as the callback and the error notice carry it (when people were counted).
    pub result: Option<JobResult>,
    /// The stored record's health and count, also when nothing was counted.
    pub record: Option<footfall_domain::ResultRecord>,
    /// (step name, state) in order: `job`, `db`, `csv`, `callback`, `notify`,
    /// `error_notification`.
    pub steps: Vec<(String, Step)>,
}

impl TaskReport {
    pub fn failures(&self) -> Vec<&str> {
        self.steps
            .iter()
            .filter(|(n, s)| matches!(s, Step::Failed(_)) && n != "error_notification")
            .map(|(n, _)| n.as_str())
            .collect()
    }

    /// 0 when every needed step succeeded, 1 when a failure persisted.
    pub fn exit_code(&self) -> u8 {
        if self.failures().is_empty() { 0 } else { 1 }
    }

    pub fn step(&self, name: &str) -> Option<&Step> {
        self.steps.iter().find(|(n, _)| n == name).map(|(_, s)| s)
    }
}

/// Runs the job for the configured payload and delivers its result.
pub async fn run_task(d: &TaskDeps) -> TaskReport {
    let cfg = &d.config;
    let p = &cfg.payload;
    let mut report = TaskReport {
        result: None,
        record: None,
        steps: vec![],
    };
    let started = std::time::Instant::now();
    d.log.event(
        "info",
        "job_started",
        json!({"source": p.source, "streaming_URL": p.streaming_url}),
    );
    if let Err(error) = check_stream_url(cfg).await {
        report.steps.push(("job".into(), Step::Failed(error)));
        finish(d, &mut report, started).await;
        return report;
    }
    // The payload was validated with the domain's rules; a refusal here is a bug upstream.
    let (user_id, run_id) = match (UserId::parse(&p.user_id), RunId::parse(&p.run_id)) {
        (Ok(user), Ok(run)) => (user, run),
        (Err(e), _) | (_, Err(e)) => {
            report
                .steps
                .push(("job".into(), Step::Failed(e.to_string())));
            finish(d, &mut report, started).await;
            return report;
        }
    };
    let request = JobRequest {
        run_id,
        user_id,
        stream_url: p.streaming_url.clone(),
        email: p.email.clone(),
        // The user's own threshold (the `config` table's column) wins over the task's default.
        threshold: p.threshold.unwrap_or(cfg.default_threshold),
        monitored: p.monitoring_status,
        // The schedule's tick when the run has one, so the cooldown compares ticks.
        taken_at: p.scheduled_at().unwrap_or_else(chrono::Utc::now),
        // The user's job configuration (validated with the payload): tracking, lines, zones
        // and the debounced alert rule.
        config: p.tracking.clone(),
    };
    let csv = S3CsvLog::new(
        d.s3.clone(),
        cfg.results_bucket.clone().unwrap_or_default(),
        cfg.csv_append_attempts,
    )
    .with_retention_days(cfg.result_retention_days);
    let callback = HttpCallback::new(
        d.http.clone(),
        cfg.callback_url.clone().unwrap_or_default(),
        p.source,
        d.callback_key.clone(),
    );
    let pictures = S3Pictures::new(d.s3.clone(), cfg.results_bucket.clone().unwrap_or_default());
    let notifier = LambdaNotifier::new(
        d.lambda.clone(),
        cfg.notify_function.clone(),
        cfg.max_alert_payload_bytes,
    );
    // The sinks follow the configuration: a run stores its result where a store is configured
    // (always for scheduled runs, `TaskConfig::check`), and an ad-hoc run posts it to its
    // callback when one is set (none: "store only").
    let stores = cfg.results_bucket.is_some() && cfg.database_url.is_some();
    let posts = p.source == Source::ApiGateway && cfg.callback_url.is_some();
    // The debounced rule's state between scheduled runs is kept in the results database
    // (`alert_rule_state`); an ad-hoc run debounces within itself and leaves the schedule's state
    // alone. Connected only when a rule reads it.
    let alert_state = match (&cfg.database_url, p.source) {
        (Some(url), Source::EventBridge) => {
            Some(LazyStore::new(url, std::time::Duration::from_secs(10)))
        }
        _ => None,
    };
    // Every failed attempt is a JSON event carrying the run and user id (CloudWatch).
    let on_failure = |f: &FailedAttempt| attempt_failed(&d.log, f);
    let sinks = JobSinks {
        results: stores.then_some(d.results.as_ref()),
        csv: stores.then_some(&csv as &dyn CsvLog),
        // The picture goes to S3 with the result; the alert and the row name its key.
        pictures: stores.then_some(&pictures as &dyn PictureStore),
        callback: posts.then_some(&callback as &dyn Callback),
        notifier: &notifier,
        cooldown: &DelegatedCooldown,
        alert_state: alert_state.as_ref().map(|s| s as &dyn AlertStateStore),
        on_failure: Some(&on_failure),
    };
    let policy = JobPolicy {
        frames: JobOptions {
            sampling: SamplingPolicy::Every(cfg.sample_every),
            limits: frame_source::Limits {
                max_job_duration: cfg.watch,
                ..frame_source::Limits::default()
            },
            ..JobOptions::default()
        },
        // A bad stream holds the task about attempts x watch, not RETRY_ATTEMPTS x 300 s.
        count_backoff: Backoff {
            attempts: cfg.count_attempts,
            ..cfg.backoff
        },
        sink_backoff: cfg.backoff,
        // The notification Lambda keeps the cooldown (see `DelegatedCooldown`).
        alert_cooldown: chrono::Duration::zero(),
    };
    let outcome = run_job(&request, &d.counting, sinks, &policy).await;
    report.result = job_result(&outcome.record, p.source).ok();
    report.record = Some(outcome.record.clone());
    report.steps = outcome
        .steps
        .into_iter()
        .map(|(name, step)| (name.to_string(), step))
        .collect();
    finish(d, &mut report, started).await;
    report
}

/// DNS-rebinding defence: the host must still resolve to public addresses right now.
async fn check_stream_url(cfg: &TaskConfig) -> Result<(), String> {
    let url =
        url::Url::parse(&cfg.payload.streaming_url).map_err(|e| format!("streaming_URL: {e}"))?;
    let policy = cfg.policy.clone();
    tokio::task::spawn_blocking(move || {
        payloads::validate::check_resolved("streaming_URL", &url, &policy)
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())
}

/// The job's JSON log line, and on persistent failure the error notice (with the whole
/// result, so nothing is lost even when every store failed).
async fn finish(d: &TaskDeps, report: &mut TaskReport, started: std::time::Instant) {
    let p = &d.config.payload;
    let failures: Vec<String> = report.failures().iter().map(|s| s.to_string()).collect();
    let steps: serde_json::Map<String, Value> = report
        .steps
        .iter()
        .map(|(n, s)| (n.clone(), serde_json::to_value(s).unwrap_or(Value::Null)))
        .collect();
    d.log.event(
        if failures.is_empty() { "info" } else { "error" },
        "job_finished",
        json!({
            "source": p.source,
            "result": report.result,
            "record": report.record,
            "steps": steps,
            "failed": failures,
            "duration_ms": started.elapsed().as_millis() as u64,
        }),
    );
    if failures.is_empty() {
        return;
    }
    let Some(topic) = &d.config.error_topic_arn else {
        d.log.event(
            "error",
            "error_notification_skipped",
            json!({"reason": "ERROR_TOPIC_ARN is not configured"}),
        );
        return;
    };
    let subject = format!(
        "Footfall task failed: {} ({})",
        p.user_id,
        failures.join(", ")
    );
    let message = serde_json::to_string_pretty(&json!({
        "run_id": p.run_id,
        "user_id": p.user_id,
        "source": p.source,
        "failed_steps": failures,
        "steps": steps,
        "result": report.result,
        "record": report.record,
    }))
    .unwrap_or_default();
    let published = footfall_runtime::retry(
        &d.config.backoff,
        "error_notification",
        |e: &footfall_domain::sinks::SinkError| e.retryable,
        |f| {
            attempt_failed(&d.log, &FailedAttempt::from(&f));
            footfall_runtime::retry::log_failure(f)
        },
        |_| aws_sinks::errors::publish(&d.sns, topic, &subject, &message),
    )
    .await;
    report.steps.push((
        "error_notification".into(),
        match published {
            Ok(_) => Step::Done,
            Err(e) => Step::Failed(e.to_string()),
        },
    ));
}

/// The `attempt_failed` event of one failed attempt.
fn attempt_failed(log: &JsonLog, f: &FailedAttempt) {
    log.event(
        if f.last { "error" } else { "warn" },
        "attempt_failed",
        json!({"step": f.step, "attempt": f.attempt, "of": f.of,
               "retryable": f.retryable, "error": f.error}),
    );
}
