//! The controller Lambda: validates the incoming event and starts one ECS task per user; it
//! also serves the signed picture links of alert emails ([`pictures`]).
//!
//! [`handle`] is a plain async function (testable without Lambda); `main.rs` only wires it to
//! `lambda_runtime`.
//!
//! Idempotency: every run has a run id (API Gateway request id, EventBridge event id, or the Lambda
//! request id, which Lambda keeps across its own retries of an async invocation). Each
//! (run id, user) pair gets a deterministic key; the task is started with
//! `startedBy = "ffs-"/"ffa-" + key` (scheduled / ad-hoc) and `clientToken = key`, and before
//! starting, ListTasks by that `startedBy` finds a task an earlier attempt already started.

pub mod pictures;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, ContainerOverride, DesiredStatus, KeyValuePair,
    LaunchType, NetworkConfiguration, TaskOverride,
};
use footfall_runtime::env::{ALLOW_PRIVATE_STREAMS, ConfigError, Env};
use footfall_runtime::retry::{Backoff, log_failure, retry};
use payloads::{ControllerEvent, PayloadError, Source, TaskPayload, UserConfig, ValidationPolicy};
pub use pictures::PictureLinks;
use serde::Serialize;
use serde_json::{Value, json};

/// Errors of the controller.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    #[error("bad payload: {0}")]
    BadPayload(#[from] PayloadError),
    #[error("configuration: {0}")]
    Config(String),
    #[error("could not list users: {0}")]
    Users(String),
    /// Some users' tasks could not be started. The report says which; retrying the invocation
    /// (same run id) starts only the missing ones.
    #[error("{} of {} tasks failed to start: {}", .0.failed.len(), .0.failed.len() + .0.started.len(), .0.failure_summary())]
    PartialFailure(Box<RunReport>),
}

/// The controller's configuration (one typed struct, read from the environment by [`Self::from_env`]).
#[derive(Debug, Clone)]
pub struct ControllerConfig {
    /// `ECS_CLUSTER`
    pub cluster: String,
    /// `TASK_DEFINITION_SCHEDULED`: task definition (`family[:revision]` or ARN) for EventBridge runs.
    pub task_definition_scheduled: String,
    /// `TASK_DEFINITION_ADHOC`: task definition for API Gateway runs.
    pub task_definition_adhoc: String,
    /// `TASK_CONTAINER_NAME`: the container that receives the payload override.
    pub container_name: String,
    /// `TASK_SUBNETS` (comma separated)
    pub subnets: Vec<String>,
    /// `TASK_SECURITY_GROUPS` (comma separated)
    pub security_groups: Vec<String>,
    /// `TASK_ASSIGN_PUBLIC_IP` (default false)
    pub assign_public_ip: bool,
    /// `TASK_LAUNCH_TYPE`: FARGATE (default) or EC2 (GPU capacity; Fargate has no GPUs).
    pub launch_type: String,
    /// `RUN_TASK_ATTEMPTS` (default 3): attempts per user when RunTask reports a failure.
    pub run_task_attempts: u32,
    /// `MAX_CONCURRENT_STARTS` (default 8)
    pub max_concurrent_starts: usize,
    /// `FOOTFALL_ALLOW_PRIVATE_STREAMS=true` accepts private/loopback stream hosts (tests only).
    pub policy: ValidationPolicy,
    /// `DATABASE_URL`: the results store holding the `config` table (scheduled events without a
    /// user list). `sqlite:...` locally; in AWS the URL comes from `database_secret_arn`.
    pub database_url: Option<String>,
    /// `DATABASE_SECRET_ARN`: a Secrets Manager secret whose JSON has the `url`, read at start
    /// ([`database_url`]) so the URL and its password never sit in the function's environment.
    pub database_secret_arn: Option<String>,
    /// `PICTURES_BUCKET` and `LINK_SECRET_ARN`: serve the signed picture links of alert emails
    /// ([`pictures`]); both or neither.
    pub pictures_bucket: Option<String>,
    pub link_secret_arn: Option<String>,
    /// `RESULT_RETENTION_DAYS` (default 365, 0 keeps all): each scheduled run deletes results
    /// older than this from the results store, as the bucket's lifecycle expires objects.
    pub result_retention_days: u64,
}

impl ControllerConfig {
    pub fn from_env() -> Result<Self, ControllerError> {
        Self::from_config(&Env::process())
    }

    /// Build from any key lookup (the environment in production, a map in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ControllerError> {
        Self::from_config(&Env::new(get))
    }

    /// Build from a configuration view (the one parser of every footfall binary).
    pub fn from_config(env: &Env<'_>) -> Result<Self, ControllerError> {
        let cfg = |e: ConfigError| ControllerError::Config(e.to_string());
        let req = |k: &str| env.req(k).map_err(cfg);
        // Required lists: set, with at least one item.
        let list = |k: &str| -> Result<Vec<String>, ControllerError> {
            req(k)?;
            Ok(env.list(k))
        };
        let flag = |k: &str| env.flag(k).map_err(cfg);
        let num = |k: &str, d: u64| env.num(k, d).map_err(cfg);
        let launch_type = env
            .opt("TASK_LAUNCH_TYPE")
            .unwrap_or_else(|| "FARGATE".into());
        if !matches!(launch_type.as_str(), "FARGATE" | "EC2") {
            return Err(ControllerError::Config(
                "TASK_LAUNCH_TYPE must be FARGATE or EC2".into(),
            ));
        }
        if env.opt("PICTURES_BUCKET").is_some() != env.opt("LINK_SECRET_ARN").is_some() {
            return Err(ControllerError::Config(
                "PICTURES_BUCKET and LINK_SECRET_ARN are set together (picture links need both)"
                    .into(),
            ));
        }
        Ok(Self {
            cluster: req("ECS_CLUSTER")?,
            task_definition_scheduled: req("TASK_DEFINITION_SCHEDULED")?,
            task_definition_adhoc: req("TASK_DEFINITION_ADHOC")?,
            container_name: req("TASK_CONTAINER_NAME")?,
            subnets: list("TASK_SUBNETS")?,
            security_groups: list("TASK_SECURITY_GROUPS")?,
            assign_public_ip: flag("TASK_ASSIGN_PUBLIC_IP")?,
            launch_type,
            run_task_attempts: num("RUN_TASK_ATTEMPTS", 3)?.clamp(1, 10) as u32,
            max_concurrent_starts: num("MAX_CONCURRENT_STARTS", 8)?.clamp(1, 64) as usize,
            policy: ValidationPolicy {
                allow_private_hosts: flag(ALLOW_PRIVATE_STREAMS)?,
                ..ValidationPolicy::default()
            },
            database_url: env.opt("DATABASE_URL"),
            database_secret_arn: env.opt("DATABASE_SECRET_ARN"),
            pictures_bucket: env.opt("PICTURES_BUCKET"),
            link_secret_arn: env.opt("LINK_SECRET_ARN"),
            result_retention_days: num("RESULT_RETENTION_DAYS", 365)?,
        })
    }
}

/// The results store's URL: `DATABASE_URL` when set (local runs, tests), else the `url` of the
/// secret `DATABASE_SECRET_ARN`, read once at start; `None` when neither is configured.
pub async fn database_url(
    config: &ControllerConfig,
    secrets: &aws_sdk_secretsmanager::Client,
) -> Result<Option<String>, ControllerError> {
    match (&config.database_url, &config.database_secret_arn) {
        (Some(url), _) => Ok(Some(url.clone())),
        (None, Some(arn)) => aws_sinks::secrets::read(secrets, arn, Some("url"))
            .await
            .map(Some)
            .map_err(|e| ControllerError::Config(format!("DATABASE_SECRET_ARN: {e}"))),
        (None, None) => Ok(None),
    }
}

/// The picture route's key and bucket, when configured (the key read from `LINK_SECRET_ARN`).
pub async fn picture_links(
    config: &ControllerConfig,
    s3: aws_sdk_s3::Client,
    secrets: &aws_sdk_secretsmanager::Client,
) -> Result<Option<PictureLinks>, ControllerError> {
    let (Some(bucket), Some(arn)) = (&config.pictures_bucket, &config.link_secret_arn) else {
        return Ok(None);
    };
    let text = aws_sinks::secrets::read(secrets, arn, None)
        .await
        .map_err(|e| ControllerError::Config(format!("LINK_SECRET_ARN: {e}")))?;
    let key = aws_sinks::SigningKey::new(&text)
        .map_err(|e| ControllerError::Config(format!("LINK_SECRET_ARN: {e}")))?;
    Ok(Some(PictureLinks {
        s3,
        bucket: bucket.clone(),
        key,
    }))
}

/// Where a scheduled event without a user list gets its users: the `config` table
/// (rows with `Monitoring_status` true), through the shared results store.
pub trait UserSource: Send + Sync {
    fn monitored_users(&self) -> impl Future<Output = Result<Vec<UserConfig>, String>> + Send;

    /// Retention: deletes results taken before `cutoff` where results are kept; returns how
    /// many. Sources without results delete nothing.
    fn prune_results_before(
        &self,
        _cutoff: chrono::DateTime<chrono::Utc>,
    ) -> impl Future<Output = Result<u64, String>> + Send {
        async { Ok(0) }
    }
}

/// The `config` table through the shared results store (`results-store`). Connects on first
/// use, so events with a user list never need the database. On MySQL the connection checks the
/// schema rather than migrating (`footfall db migrate` does, at deploy time).
pub struct StoreUsers {
    url: Option<String>,
    store: tokio::sync::OnceCell<results_store::Store>,
}

impl StoreUsers {
    pub fn new(url: Option<String>) -> Self {
        Self {
            url,
            store: tokio::sync::OnceCell::new(),
        }
    }
}

impl StoreUsers {
    async fn store(&self) -> Result<&results_store::Store, String> {
        let url = self.url.as_deref().ok_or(
            "DATABASE_URL is not set (scheduled events without a user list read the config table)",
        )?;
        self.store
            .get_or_try_init(|| {
                results_store::Store::connect_with_timeout(url, Duration::from_secs(10))
            })
            .await
            .map_err(|e| format!("results store: {e}"))
    }
}

impl UserSource for StoreUsers {
    async fn prune_results_before(
        &self,
        cutoff: chrono::DateTime<chrono::Utc>,
    ) -> Result<u64, String> {
        let (results, _) = self
            .store()
            .await?
            .prune_before(cutoff)
            .await
            .map_err(|e| format!("results store: {e}"))?;
        Ok(results)
    }

    async fn monitored_users(&self) -> Result<Vec<UserConfig>, String> {
        let store = self.store().await?;
        let users = store
            .monitored_users()
            .await
            .map_err(|e| format!("results store: {e}"))?;
        Ok(users
            .into_iter()
            .map(|u| {
                // A stored configuration refused now (written by hand, or by a later release):
                // the user's task runs the plain job, as the local runner does, loudly.
                let tracking = u.job_config().unwrap_or_else(|error| {
                    tracing::error!(user_id = %u.user_id, %error,
                        "the user's job configuration is refused: running the plain job");
                    None
                });
                UserConfig {
                    monitoring_status: u.monitored(),
                    threshold: u32::try_from(u.threshold.max(0)).ok(),
                    tracking,
                    user_id: u.user_id,
                    streaming_url: u.streaming_url,
                    email: u.email,
                }
            })
            .collect())
    }
}

/// One started (or found) task.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Started {
    pub user_id: String,
    pub task_arn: String,
    /// True when an earlier attempt of the same run had already started it.
    pub reused: bool,
}

/// One user whose task could not be started.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Failed {
    pub user_id: String,
    pub error: String,
}

/// One user that was skipped (e.g. `Monitoring_status` false in a scheduled run).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Skipped {
    pub user_id: String,
    pub reason: String,
}

/// What a controller invocation did, per user.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RunReport {
    pub run_id: String,
    pub source: Source,
    pub started: Vec<Started>,
    pub skipped: Vec<Skipped>,
    pub failed: Vec<Failed>,
}

impl RunReport {
    fn failure_summary(&self) -> String {
        self.failed
            .iter()
            .map(|f| format!("{}: {}", f.user_id, f.error))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// The controller's dependencies.
pub struct Controller<U> {
    /// The picture route (`None`: not configured, it answers 404).
    pub pictures: Option<PictureLinks>,
    pub ecs: aws_sdk_ecs::Client,
    pub config: ControllerConfig,
    pub users: U,
}

/// The Lambda's answer: for API Gateway proxy events an HTTP response object, otherwise the
/// report itself.
pub async fn handle<U: UserSource>(
    ctl: &Controller<U>,
    event: Value,
    lambda_request_id: &str,
) -> Result<Value, ControllerError> {
    let is_proxy = event.get("requestContext").is_some() || event.get("httpMethod").is_some();
    if is_proxy && pictures::is_picture_request(&event) {
        return Ok(pictures::answer(
            ctl.pictures.as_ref(),
            &event,
            chrono::Utc::now().timestamp(),
        )
        .await);
    }
    let parsed = match ControllerEvent::parse(&event, &ctl.config.policy) {
        Ok(p) => p,
        Err(e) if is_proxy => {
            tracing::warn!(error = %e, field = e.field(), "rejected API request");
            return Ok(http_response(
                e.status_code(),
                &json!({"error": e.to_string(), "field": e.field()}),
            ));
        }
        Err(e) => {
            tracing::warn!(error = %e, field = e.field(), "rejected event");
            return Err(e.into());
        }
    };
    match run(ctl, parsed, lambda_request_id).await {
        Ok(report) if is_proxy => Ok(http_response(202, &to_value(&report))),
        Ok(report) => Ok(to_value(&report)),
        Err(ControllerError::PartialFailure(report)) if is_proxy => {
            Ok(http_response(502, &to_value(&report)))
        }
        Err(e) => Err(e),
    }
}

fn to_value<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn http_response(status: u16, body: &Value) -> Value {
    json!({
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "isBase64Encoded": false,
        "body": body.to_string(),
    })
}

/// Make any id usable as a run id (`[A-Za-z0-9_.:-]`, at most
/// [`footfall_domain::MAX_RUN_ID_LEN`] characters: the domain's [`footfall_domain::RunId`]).
pub fn sanitize_run_id(raw: &str) -> String {
    let s: String = raw
        .chars()
        .take(footfall_domain::MAX_RUN_ID_LEN)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() { "run".into() } else { s }
}

/// Start the tasks of a parsed event.
pub async fn run<U: UserSource>(
    ctl: &Controller<U>,
    event: ControllerEvent,
    lambda_request_id: &str,
) -> Result<RunReport, ControllerError> {
    let source = event.source();
    // A scheduled event's `time` is its tick: results and cooldowns go by it, not by when a
    // task happened to finish.
    let scheduled_at = match &event {
        ControllerEvent::Scheduled { time, .. } => chrono::DateTime::parse_from_rfc3339(time)
            .ok()
            .map(|t| payloads::format_date_time(t.with_timezone(&chrono::Utc))),
        _ => None,
    };
    let (run_id, users) = match event {
        ControllerEvent::ApiGateway { user, request_id } => (
            request_id.unwrap_or_else(|| lambda_request_id.to_string()),
            vec![user],
        ),
        ControllerEvent::EventBridge { users, event_id } => (
            event_id.unwrap_or_else(|| lambda_request_id.to_string()),
            users,
        ),
        ControllerEvent::Scheduled { event_id, .. } => {
            let mut users = ctl
                .users
                .monitored_users()
                .await
                .map_err(ControllerError::Users)?;
            // Rows from the table are validated like any payload; a bad row is reported, not run.
            users.sort_by(|a, b| a.user_id.cmp(&b.user_id));
            // Retention, once per scheduled run: results past the window go, as the bucket's
            // lifecycle expires objects. A failure is logged; the run goes on.
            let days = ctl.config.result_retention_days;
            if days > 0 {
                let cutoff = chrono::Utc::now()
                    - chrono::Duration::days(i64::try_from(days).unwrap_or(i64::MAX).min(36_500));
                match ctl.users.prune_results_before(cutoff).await {
                    Ok(0) => {}
                    Ok(deleted) => tracing::info!(deleted, days, "old results deleted"),
                    Err(error) => tracing::error!(%error, "old results could not be deleted"),
                }
            }
            let id = if event_id.is_empty() {
                lambda_request_id.to_string()
            } else {
                event_id
            };
            (id, users)
        }
    };
    let run_id = sanitize_run_id(&run_id);
    let mut report = RunReport {
        run_id: run_id.clone(),
        source,
        started: vec![],
        skipped: vec![],
        failed: vec![],
    };

    let sem = Arc::new(tokio::sync::Semaphore::new(
        ctl.config.max_concurrent_starts,
    ));
    let mut jobs = Vec::new();
    for user in users {
        if source == Source::EventBridge && !user.monitoring_status {
            report.skipped.push(Skipped {
                user_id: user.user_id.clone(),
                reason: "Monitoring_status is false".into(),
            });
            continue;
        }
        if let Err(e) = user.validate("", &ctl.config.policy) {
            report.failed.push(Failed {
                user_id: user.user_id.clone(),
                error: e.to_string(),
            });
            continue;
        }
        let mut payload = TaskPayload::new(source, &run_id, &user);
        payload.scheduled_at = scheduled_at.clone();
        let sem = sem.clone();
        jobs.push(async move {
            let _permit = sem.acquire().await;
            let r = start_task(ctl, &payload).await;
            (payload.user_id, r)
        });
    }
    for (user_id, r) in futures::future::join_all(jobs).await {
        match r {
            Ok((task_arn, reused)) => {
                tracing::info!(%user_id, %task_arn, reused, run_id = %run_id, "task started");
                report.started.push(Started {
                    user_id,
                    task_arn,
                    reused,
                })
            }
            Err(error) => {
                tracing::error!(%user_id, %error, run_id = %run_id, "task not started");
                report.failed.push(Failed { user_id, error })
            }
        }
    }
    if report.failed.is_empty() {
        Ok(report)
    } else {
        Err(ControllerError::PartialFailure(Box::new(report)))
    }
}

/// The `startedBy` value of a (run, user) pair: `ffs-`/`ffa-` + 32 hex digits (36 characters,
/// ECS's limit). Scheduled and ad-hoc runs never share a value.
pub fn started_by(source: Source, run_id: &str, user_id: &str) -> String {
    let prefix = match source {
        Source::EventBridge => "ffs-",
        Source::ApiGateway => "ffa-",
    };
    format!("{prefix}{}", payloads::run_user_key(run_id, user_id))
}

/// The ECS task group of a source.
pub fn task_group(source: Source) -> &'static str {
    match source {
        Source::EventBridge => "footfall-scheduled",
        Source::ApiGateway => "footfall-adhoc",
    }
}

/// Start (or find) the task of one user. Returns the task ARN and whether it already existed.
async fn start_task<U>(ctl: &Controller<U>, p: &TaskPayload) -> Result<(String, bool), String> {
    let cfg = &ctl.config;
    let started_by = started_by(p.source, &p.run_id, &p.user_id);

    // An earlier attempt of this run may have started it already.
    if let Some(arn) = find_started(ctl, &started_by).await? {
        return Ok((arn, true));
    }

    let task_definition = match p.source {
        Source::EventBridge => &cfg.task_definition_scheduled,
        Source::ApiGateway => &cfg.task_definition_adhoc,
    };
    let overrides = TaskOverride::builder()
        .container_overrides(
            ContainerOverride::builder()
                .name(&cfg.container_name)
                .environment(
                    KeyValuePair::builder()
                        .name(payloads::TASK_PAYLOAD_ENV)
                        .value(p.to_json())
                        .build(),
                )
                .build(),
        )
        .build();
    let network = NetworkConfiguration::builder()
        .awsvpc_configuration(
            AwsVpcConfiguration::builder()
                .set_subnets(Some(cfg.subnets.clone()))
                .set_security_groups(Some(cfg.security_groups.clone()))
                .assign_public_ip(if cfg.assign_public_ip {
                    AssignPublicIp::Enabled
                } else {
                    AssignPublicIp::Disabled
                })
                .build()
                .map_err(|e| format!("network configuration: {e}"))?,
        )
        .build();

    let backoff = Backoff {
        attempts: cfg.run_task_attempts,
        base: Duration::from_millis(400),
        max: Duration::from_millis(6400),
    };
    let what = format!("RunTask {}", p.user_id);
    retry(
        &backoff,
        &what,
        |e: &StartError| e.retryable,
        log_failure,
        |attempt| {
            let started_by = &started_by;
            let network = &network;
            let overrides = &overrides;
            async move {
                if attempt > 0 {
                    // The failed call may have started the task anyway (e.g. a timeout after
                    // ECS accepted it): look before starting another one.
                    if let Some(arn) = find_started(ctl, started_by)
                        .await
                        .map_err(StartError::permanent)?
                    {
                        return Ok((arn, true));
                    }
                }
                let out = ctl
                    .ecs
                    .run_task()
                    .cluster(&cfg.cluster)
                    .task_definition(task_definition)
                    .launch_type(LaunchType::from(cfg.launch_type.as_str()))
                    .count(1)
                    .started_by(started_by)
                    .group(task_group(p.source))
                    .client_token(payloads::run_user_key(&p.run_id, &p.user_id))
                    .network_configuration(network.clone())
                    .overrides(overrides.clone())
                    .send()
                    .await
                    .map_err(|e| {
                        use aws_sdk_ecs::operation::run_task::RunTaskError as E;
                        // Client errors (bad task definition, access denied) do not get better.
                        let permanent = e.as_service_error().is_some_and(|se| {
                            matches!(
                                se,
                                E::InvalidParameterException(_)
                                    | E::AccessDeniedException(_)
                                    | E::ClusterNotFoundException(_)
                            )
                        });
                        StartError {
                            message: format!(
                                "RunTask: {}",
                                aws_sdk_ecs::error::DisplayErrorContext(&e)
                            ),
                            retryable: !permanent,
                        }
                    })?;
                if let Some(arn) = out.tasks().first().and_then(|t| t.task_arn()) {
                    return Ok((arn.to_string(), false));
                }
                let mut message = out
                    .failures()
                    .iter()
                    .map(|f| {
                        format!(
                            "{} {}",
                            f.reason().unwrap_or("unknown"),
                            f.detail().unwrap_or("")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                if message.is_empty() {
                    message = "RunTask returned no task".into();
                }
                // ECS failures (capacity, resources) are often transient.
                Err(StartError {
                    message,
                    retryable: true,
                })
            }
        },
    )
    .await
    .map_err(|e| e.message)
}

/// A failed start attempt.
#[derive(Debug)]
struct StartError {
    message: String,
    retryable: bool,
}

impl StartError {
    fn permanent(message: String) -> Self {
        Self {
            message,
            retryable: false,
        }
    }
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The task already started for this `startedBy` value, if any (running or stopped).
async fn find_started<U>(ctl: &Controller<U>, started_by: &str) -> Result<Option<String>, String> {
    for status in [DesiredStatus::Running, DesiredStatus::Stopped] {
        let listed = ctl
            .ecs
            .list_tasks()
            .cluster(&ctl.config.cluster)
            .started_by(started_by)
            .desired_status(status)
            .send()
            .await
            .map_err(|e| format!("ListTasks: {}", aws_sdk_ecs::error::DisplayErrorContext(&e)))?;
        if let Some(arn) = listed.task_arns().first() {
            return Ok(Some(arn.clone()));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![
            ("ECS_CLUSTER", "c"),
            ("TASK_DEFINITION_SCHEDULED", "s"),
            ("TASK_DEFINITION_ADHOC", "a"),
            ("TASK_CONTAINER_NAME", "task"),
            ("TASK_SUBNETS", "subnet-1, subnet-2,"),
            ("TASK_SECURITY_GROUPS", "sg-1"),
        ]
    }

    #[test]
    fn config_flags_and_lists_parse_one_way() {
        let mut pairs = base();
        pairs.push((ALLOW_PRIVATE_STREAMS, "TRUE"));
        pairs.push(("TASK_ASSIGN_PUBLIC_IP", "Yes"));
        let c = ControllerConfig::from_config(&Env::from_pairs(&pairs)).unwrap();
        assert!(c.policy.allow_private_hosts);
        assert!(c.assign_public_ip);
        assert_eq!(c.subnets, ["subnet-1", "subnet-2"]);
        assert_eq!(c.launch_type, "FARGATE");
        // A typo is an error naming the variable, not a silent "false".
        let mut pairs = base();
        pairs.push((ALLOW_PRIVATE_STREAMS, "ture"));
        let e = ControllerConfig::from_config(&Env::from_pairs(&pairs)).unwrap_err();
        assert!(e.to_string().contains(ALLOW_PRIVATE_STREAMS), "{e}");
        let pairs: Vec<_> = base()
            .into_iter()
            .filter(|(k, _)| *k != "TASK_SUBNETS")
            .collect();
        assert!(ControllerConfig::from_config(&Env::from_pairs(&pairs)).is_err());
    }

    #[test]
    fn run_ids_fit_the_domain() {
        let long = sanitize_run_id(&"x/".repeat(100));
        assert_eq!(long.len(), footfall_domain::MAX_RUN_ID_LEN);
        footfall_domain::RunId::parse(&long).unwrap();
    }
}
