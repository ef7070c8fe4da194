//! The task's orchestration: run the job, deliver the result, alert, report.

use payloads::{CountResult, JobResult, NotificationConfig, NotificationPayload, Source};
use serde::Serialize;
use serde_json::{Value, json};

use crate::TaskError;
use crate::config::TaskConfig;
use crate::job::JobRunner;
use crate::log::JsonLog;
use crate::retry::retry;
use crate::sinks::{self, ResultStore};

/// Everything [`run_task`] uses.
pub struct TaskDeps<J, S> {
    pub config: TaskConfig,
    pub job: J,
    pub store: S,
    pub s3: aws_sdk_s3::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub sns: aws_sdk_sns::Client,
    pub http: reqwest::Client,
    pub log: JsonLog,
}

impl<J: JobRunner, S: ResultStore> TaskDeps<J, S> {
    /// Clients from an SDK configuration (S3 with path-style addressing).
    pub fn new(
        sdk: &aws_config::SdkConfig,
        config: TaskConfig,
        job: J,
        store: S,
        log: JsonLog,
    ) -> Result<Self, TaskError> {
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(sdk)
                .force_path_style(true)
                .build(),
        );
        let http = sinks::callback::client(config.callback_timeout)?;
        Ok(Self {
            s3,
            lambda: aws_sdk_lambda::Client::new(sdk),
            sns: aws_sdk_sns::Client::new(sdk),
            http,
            config,
            job,
            store,
            log,
        })
    }
}

/// The state of one delivery step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Done,
    AlreadyDone,
    Skipped(String),
    Failed(String),
}

/// What a task run did.
#[derive(Debug, Clone, Serialize)]
pub struct TaskReport {
    pub result: Option<JobResult>,
    /// (step name, state) in order: `job`, `db`, `csv`, `callback`, `notify`, `error_notification`.
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

/// Run the job for the configured payload and deliver its result.
pub async fn run_task<J: JobRunner, S: ResultStore>(d: &TaskDeps<J, S>) -> TaskReport {
    let cfg = &d.config;
    let p = &cfg.payload;
    let log = &d.log;
    let mut report = TaskReport {
        result: None,
        steps: vec![],
    };
    let started = std::time::Instant::now();
    log.event(
        "info",
        "job_started",
        json!({"source": p.source, "streaming_URL": p.streaming_url}),
    );

    // DNS-rebinding defence: the host must still resolve to public addresses right now.
    let url_check = match url::Url::parse(&p.streaming_url) {
        Ok(u) => {
            let policy = cfg.policy.clone();
            tokio::task::spawn_blocking(move || {
                payloads::validate::check_resolved("streaming_URL", &u, &policy)
            })
            .await
            .unwrap_or_else(|e| {
                Err(payloads::PayloadError::invalid(
                    "streaming_URL",
                    e.to_string(),
                ))
            })
        }
        Err(e) => Err(payloads::PayloadError::invalid(
            "streaming_URL",
            e.to_string(),
        )),
    };
    let job = match url_check {
        Err(e) => Err(TaskError::from(e)),
        Ok(()) => {
            retry(&cfg.backoff, log, "job", |_| async {
                d.job.run(p).await.map_err(TaskError::Job)
            })
            .await
        }
    };
    let out = match job {
        Ok(o) => {
            report.steps.push(("job".into(), Step::Done));
            o
        }
        Err(e) => {
            report
                .steps
                .push(("job".into(), Step::Failed(e.to_string())));
            finish(d, &mut report, started).await;
            return report;
        }
    };

    let result = JobResult {
        run_id: p.run_id.clone(),
        user_id: p.user_id.clone(),
        source: p.source,
        date_time: payloads::format_date_time(chrono::Utc::now()),
        streaming_url: p.streaming_url.clone(),
        people_count: out.people_count,
        frames_analyzed: out.frames_analyzed,
    };
    report.result = Some(result.clone());

    match p.source {
        Source::EventBridge => {
            let db = retry(&cfg.backoff, log, "db", |_| d.store.insert_result(&result)).await;
            report
                .steps
                .push(("db".into(), step_of(db.map(|_| Step::Done))));
            let bucket = cfg.results_bucket.clone().unwrap_or_default();
            let suffix = format!(",{}", result.run_id);
            let line = result.csv_line();
            let csv = retry(&cfg.backoff, log, "csv", |_| {
                sinks::csv::append_line(
                    &d.s3,
                    &bucket,
                    &result.user_id,
                    JobResult::CSV_HEADER,
                    &line,
                    &suffix,
                    cfg.csv_append_attempts,
                )
            })
            .await
            .map(|a| match a {
                sinks::csv::Appended::Written { .. } => Step::Done,
                sinks::csv::Appended::AlreadyPresent => Step::AlreadyDone,
            });
            report.steps.push(("csv".into(), step_of(csv)));
        }
        Source::ApiGateway => {
            let url = cfg.callback_url.clone().unwrap_or_default();
            let body = serde_json::to_value(&result).unwrap_or(Value::Null);
            let cb = retry(&cfg.backoff, log, "callback", |_| {
                sinks::callback::post(&d.http, &url, &body)
            })
            .await;
            report
                .steps
                .push(("callback".into(), step_of(cb.map(|_| Step::Done))));
        }
    }

    // The user's own threshold (the `config` table's column) wins over the task's default.
    let threshold = p.threshold.unwrap_or(cfg.default_threshold);
    let notify = if out.people_count <= threshold {
        Step::Skipped(format!("people_count does not exceed {threshold}"))
    } else if !p.monitoring_status {
        Step::Skipped("Monitoring_status is false".into())
    } else if let Some(function) = &cfg.notify_function {
        match &out.detection_jpeg {
            None => Step::Failed("the job produced no detection image for the alert".into()),
            Some(jpeg) => {
                use base64::Engine;
                let payload = NotificationPayload {
                    run_id: Some(p.run_id.clone()),
                    user_id: p.user_id.clone(),
                    date_time: result.date_time.clone(),
                    config: NotificationConfig {
                        monitoring_status: p.monitoring_status,
                        streaming_url: p.streaming_url.clone(),
                        email: p.email.clone(),
                        threshold: Some(threshold),
                    },
                    result: CountResult {
                        people_count: out.people_count,
                    },
                    processed_detection_image: base64::engine::general_purpose::STANDARD
                        .encode(jpeg),
                };
                step_of(
                    retry(&cfg.backoff, log, "notify", |_| {
                        sinks::alert::invoke(
                            &d.lambda,
                            function,
                            &payload,
                            cfg.max_alert_payload_bytes,
                        )
                    })
                    .await
                    .map(|_| Step::Done),
                )
            }
        }
    } else {
        Step::Failed("threshold exceeded but NOTIFY_FUNCTION_NAME is not configured".into())
    };
    report.steps.push(("notify".into(), notify));
    finish(d, &mut report, started).await;
    report
}

fn step_of(r: Result<Step, TaskError>) -> Step {
    r.unwrap_or_else(|e| Step::Failed(e.to_string()))
}

/// The job's JSON log line, and on persistent failure the error notification (with the full
/// result, so nothing is lost even when every store failed).
async fn finish<J, S>(d: &TaskDeps<J, S>, report: &mut TaskReport, started: std::time::Instant) {
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
    }))
    .unwrap_or_default();
    let r = retry(&d.config.backoff, &d.log, "error_notification", |_| {
        sinks::errors::publish(&d.sns, topic, &subject, &message)
    })
    .await;
    report
        .steps
        .push(("error_notification".into(), step_of(r.map(|_| Step::Done))));
}
