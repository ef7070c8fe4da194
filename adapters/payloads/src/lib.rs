//! The public payload contracts of the footfall AWS deployment, with validation.
//!
//! Field names follow the original design exactly (`streaming_URL`, `Monitoring_status`,
//! `DATE-TIME`, `processed_detection_image`): other systems send and read them.
//!
//! * [`ControllerEvent::parse`]: what the controller Lambda receives (API Gateway direct or proxy
//!   event, EventBridge with users, plain EventBridge scheduled event).
//! * [`TaskPayload`]: controller -> ECS task (env var [`TASK_PAYLOAD_ENV`]).
//! * [`NotificationPayload`]: task -> notification Lambda.
//! * [`JobResult`]: the result record (callback body, CSV line, database row).
//!
//! Every error names the offending field ([`PayloadError::field`]).

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

pub mod validate;

pub use validate::ValidationPolicy;

/// The container environment variable that carries the [`TaskPayload`] JSON.
pub const TASK_PAYLOAD_ENV: &str = "FOOTFALL_PAYLOAD";

/// A rejected payload. `field` names the JSON field (dotted path, e.g. `users[2].email`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("invalid field `{field}`: {reason}")]
    Invalid { field: String, reason: String },
    #[error("missing field `{field}`")]
    Missing { field: String },
    #[error("field `{field}` too large: {size} bytes (limit {limit})")]
    TooLarge {
        field: String,
        size: usize,
        limit: usize,
    },
    #[error("field `{field}`: malformed JSON: {reason}")]
    Json { field: String, reason: String },
}

impl PayloadError {
    pub fn invalid(field: &str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.to_string(),
            reason: reason.into(),
        }
    }
    pub fn missing(field: &str) -> Self {
        Self::Missing {
            field: field.to_string(),
        }
    }
    /// The JSON field the error is about.
    pub fn field(&self) -> &str {
        match self {
            Self::Invalid { field, .. }
            | Self::Missing { field }
            | Self::TooLarge { field, .. }
            | Self::Json { field, .. } => field,
        }
    }
    /// The HTTP status an API caller should see (always a client error).
    pub fn status_code(&self) -> u16 {
        match self {
            Self::TooLarge { .. } => 413,
            _ => 400,
        }
    }
}

/// Which entry point started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Source {
    #[serde(rename = "API_GATEWAY")]
    ApiGateway,
    #[serde(rename = "EVENTBRIDGE")]
    EventBridge,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ApiGateway => "API_GATEWAY",
            Self::EventBridge => "EVENTBRIDGE",
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The largest job configuration (`tracking`, compact JSON) a payload may carry. The task
/// payload travels in an ECS container override, and RunTask takes at most 8192 characters of
/// overrides in all: this leaves room for the rest of the payload.
pub const MAX_TRACKING_JSON_BYTES: usize = 4096;

/// One user's monitoring configuration (a row of the `config` table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserConfig {
    pub user_id: String,
    #[serde(rename = "streaming_URL")]
    pub streaming_url: String,
    pub email: String,
    #[serde(rename = "Monitoring_status")]
    pub monitoring_status: bool,
    /// Alert when the count exceeds this many people; `None`: the task's default
    /// (`ALERT_THRESHOLD`). The `config` table's `threshold` column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<u32>,
    /// The user's job configuration (tracking rate, lines, zones, debounced alert rule; the
    /// `config` table's `tracking` column); `None`: the plain job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking: Option<footfall_tracking::JobConfig>,
}

/// The largest alert threshold or people count a payload may carry.
pub const MAX_PEOPLE: u32 = 1_000_000;

impl UserConfig {
    /// Validate every field; `prefix` is prepended to field names (`users[3].`).
    pub fn validate(&self, prefix: &str, policy: &ValidationPolicy) -> Result<(), PayloadError> {
        validate::user_id(&format!("{prefix}user_id"), &self.user_id)?;
        validate::stream_url(
            &format!("{prefix}streaming_URL"),
            &self.streaming_url,
            policy,
        )?;
        validate::email(&format!("{prefix}email"), &self.email)?;
        if let Some(tracking) = &self.tracking {
            validate_tracking(&format!("{prefix}tracking"), tracking)?;
        }
        Ok(())
    }

    fn from_object(obj: &Map<String, Value>, prefix: &str) -> Result<Self, PayloadError> {
        Ok(Self {
            user_id: get_str(obj, prefix, "user_id")?,
            streaming_url: get_str(obj, prefix, "streaming_URL")?,
            email: get_str(obj, prefix, "email")?,
            monitoring_status: get_bool(obj, prefix, "Monitoring_status")?,
            threshold: get_opt_people(obj, prefix, "threshold")?,
            tracking: get_opt_tracking(obj, prefix)?,
        })
    }
}

/// `tracking`: absent/null, or a job configuration object checked by
/// [`footfall_tracking::JobConfig`] (limits, names that refer to configured lines and zones),
/// at most [`MAX_TRACKING_JSON_BYTES`] of JSON.
fn get_opt_tracking(
    obj: &Map<String, Value>,
    prefix: &str,
) -> Result<Option<footfall_tracking::JobConfig>, PayloadError> {
    let field = format!("{prefix}tracking");
    match obj.get("tracking") {
        None | Some(Value::Null) => Ok(None),
        Some(value @ Value::Object(_)) => {
            let text = value.to_string();
            if text.len() > MAX_TRACKING_JSON_BYTES {
                return Err(PayloadError::TooLarge {
                    field,
                    size: text.len(),
                    limit: MAX_TRACKING_JSON_BYTES,
                });
            }
            footfall_tracking::JobConfig::from_json(&text)
                .map(Some)
                .map_err(|e| tracking_error(&field, e))
        }
        Some(_) => Err(PayloadError::invalid(&field, "must be an object")),
    }
}

fn tracking_error(field: &str, e: footfall_tracking::JobConfigError) -> PayloadError {
    // The configuration's own field (`alert.k`), below the payload's (`users[2].tracking`).
    let inner = if e.field == "tracking" {
        field.to_string()
    } else {
        format!("{field}.{}", e.field)
    };
    PayloadError::invalid(&inner, e.reason)
}

/// A job configuration built in code (a database row, a decoded task payload): the same checks
/// and size limit as one parsed from an event.
pub fn validate_tracking(
    field: &str,
    tracking: &footfall_tracking::JobConfig,
) -> Result<(), PayloadError> {
    let text = tracking.to_json();
    if text.len() > MAX_TRACKING_JSON_BYTES {
        return Err(PayloadError::TooLarge {
            field: field.to_string(),
            size: text.len(),
            limit: MAX_TRACKING_JSON_BYTES,
        });
    }
    tracking.validate().map_err(|e| tracking_error(field, e))
}

/// What the controller was asked to do, after parsing and validation.
#[derive(Debug, Clone, PartialEq)]
pub enum ControllerEvent {
    /// An ad-hoc run for one user (API Gateway, direct or proxy). `request_id` is API Gateway's
    /// request id when the call came through a proxy integration.
    ApiGateway {
        user: UserConfig,
        request_id: Option<String>,
    },
    /// A scheduled run for the listed users.
    EventBridge {
        users: Vec<UserConfig>,
        event_id: Option<String>,
    },
    /// A plain EventBridge scheduled event: run every user whose `Monitoring_status` is true in
    /// the `config` table.
    Scheduled { event_id: String, time: String },
}

impl ControllerEvent {
    /// Parse raw event bytes (size checked before parsing).
    pub fn parse_slice(bytes: &[u8], policy: &ValidationPolicy) -> Result<Self, PayloadError> {
        if bytes.len() > policy.max_event_bytes {
            return Err(PayloadError::TooLarge {
                field: "event".into(),
                size: bytes.len(),
                limit: policy.max_event_bytes,
            });
        }
        let v: Value = serde_json::from_slice(bytes).map_err(|e| PayloadError::Json {
            field: "event".into(),
            reason: e.to_string(),
        })?;
        Self::parse(&v, policy)
    }

    /// Parse and validate an event the Lambda runtime already decoded.
    pub fn parse(v: &Value, policy: &ValidationPolicy) -> Result<Self, PayloadError> {
        let obj = v
            .as_object()
            .ok_or_else(|| PayloadError::invalid("event", "must be a JSON object"))?;

        // API Gateway proxy event (REST v1 or HTTP v2): the design's JSON is in `body`.
        if obj.contains_key("requestContext") || obj.contains_key("httpMethod") {
            let body = match obj.get("body") {
                Some(Value::String(s)) => s,
                Some(Value::Null) | None => return Err(PayloadError::missing("body")),
                Some(_) => return Err(PayloadError::invalid("body", "must be a string")),
            };
            let b64 = matches!(obj.get("isBase64Encoded"), Some(Value::Bool(true)));
            let raw: Vec<u8> = if b64 {
                if body.len() / 4 * 3 > policy.max_event_bytes {
                    return Err(PayloadError::TooLarge {
                        field: "body".into(),
                        size: body.len() / 4 * 3,
                        limit: policy.max_event_bytes,
                    });
                }
                base64::engine::general_purpose::STANDARD
                    .decode(body)
                    .map_err(|e| PayloadError::invalid("body", format!("bad base64: {e}")))?
            } else {
                body.as_bytes().to_vec()
            };
            if raw.len() > policy.max_event_bytes {
                return Err(PayloadError::TooLarge {
                    field: "body".into(),
                    size: raw.len(),
                    limit: policy.max_event_bytes,
                });
            }
            let inner: Value = serde_json::from_slice(&raw).map_err(|e| PayloadError::Json {
                field: "body".into(),
                reason: e.to_string(),
            })?;
            let request_id = obj
                .get("requestContext")
                .and_then(|c| c.get("requestId"))
                .and_then(Value::as_str)
                .map(str::to_string);
            if inner.get("requestContext").is_some() || inner.get("httpMethod").is_some() {
                return Err(PayloadError::invalid(
                    "body",
                    "nested proxy events are not accepted",
                ));
            }
            return match Self::parse(&inner, policy)? {
                Self::ApiGateway { user, .. } => Ok(Self::ApiGateway { user, request_id }),
                _ => Err(PayloadError::invalid(
                    "source",
                    "the API route accepts only source API_GATEWAY",
                )),
            };
        }

        // Plain EventBridge scheduled event.
        if obj.get("source").and_then(Value::as_str) == Some("aws.events") {
            let detail_type = obj.get("detail-type").and_then(Value::as_str).unwrap_or("");
            if detail_type != "Scheduled Event" {
                return Err(PayloadError::invalid(
                    "detail-type",
                    format!("unsupported EventBridge detail-type {detail_type:?}"),
                ));
            }
            let event_id = get_str(obj, "", "id")?;
            if event_id.is_empty() || event_id.len() > 128 {
                return Err(PayloadError::invalid("id", "must be 1..=128 characters"));
            }
            let time = obj
                .get("time")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            return Ok(Self::Scheduled { event_id, time });
        }

        match obj.get("source") {
            None => Err(PayloadError::missing("source")),
            Some(Value::String(s)) if s == "API_GATEWAY" => {
                let user = UserConfig::from_object(obj, "")?;
                user.validate("", policy)?;
                Ok(Self::ApiGateway {
                    user,
                    request_id: None,
                })
            }
            Some(Value::String(s)) if s == "EVENTBRIDGE" => {
                let event_id = match obj.get("id") {
                    Some(Value::String(s)) if !s.is_empty() && s.len() <= 128 => Some(s.clone()),
                    None | Some(Value::Null) => None,
                    Some(_) => {
                        return Err(PayloadError::invalid("id", "must be 1..=128 characters"));
                    }
                };
                match obj.get("users") {
                    // No user list: the same as a plain scheduled event.
                    None | Some(Value::Null) => Ok(Self::Scheduled {
                        event_id: event_id.unwrap_or_default(),
                        time: String::new(),
                    }),
                    Some(Value::Array(list)) => {
                        if list.len() > policy.max_users {
                            return Err(PayloadError::TooLarge {
                                field: "users".into(),
                                size: list.len(),
                                limit: policy.max_users,
                            });
                        }
                        let mut users = Vec::with_capacity(list.len());
                        let mut seen = std::collections::HashSet::new();
                        for (i, u) in list.iter().enumerate() {
                            let prefix = format!("users[{i}].");
                            let o = u.as_object().ok_or_else(|| {
                                PayloadError::invalid(&format!("users[{i}]"), "must be an object")
                            })?;
                            let user = UserConfig::from_object(o, &prefix)?;
                            user.validate(&prefix, policy)?;
                            if !seen.insert(user.user_id.clone()) {
                                return Err(PayloadError::invalid(
                                    &format!("{prefix}user_id"),
                                    "duplicate user_id in one event",
                                ));
                            }
                            users.push(user);
                        }
                        Ok(Self::EventBridge { users, event_id })
                    }
                    Some(_) => Err(PayloadError::invalid("users", "must be an array")),
                }
            }
            Some(Value::String(s)) => Err(PayloadError::invalid(
                "source",
                format!("unknown source {s:?} (expected API_GATEWAY or EVENTBRIDGE)"),
            )),
            Some(_) => Err(PayloadError::invalid("source", "must be a string")),
        }
    }

    pub fn source(&self) -> Source {
        match self {
            Self::ApiGateway { .. } => Source::ApiGateway,
            _ => Source::EventBridge,
        }
    }
}

/// Controller -> ECS task. Carried as JSON in the container environment ([`TASK_PAYLOAD_ENV`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskPayload {
    pub source: Source,
    pub run_id: String,
    pub user_id: String,
    #[serde(rename = "streaming_URL")]
    pub streaming_url: String,
    pub email: String,
    #[serde(rename = "Monitoring_status", default = "default_true")]
    pub monitoring_status: bool,
    /// The user's alert threshold; `None`: the task's `ALERT_THRESHOLD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<u32>,
    /// The schedule's tick this run belongs to (`DATE-TIME` form), from the scheduled event's
    /// `time`: the result is stored under it and the alert cooldown compares it, so jobs of
    /// consecutive hourly ticks are an hour apart whatever their durations. `None` (ad-hoc
    /// runs): the task's start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_at: Option<String>,
    /// The user's job configuration (from the `config` table, or an ad-hoc run's own),
    /// validated; `None`: the plain job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking: Option<footfall_tracking::JobConfig>,
}

fn default_true() -> bool {
    true
}

impl TaskPayload {
    pub fn new(source: Source, run_id: &str, user: &UserConfig) -> Self {
        Self {
            source,
            run_id: run_id.to_string(),
            user_id: user.user_id.clone(),
            streaming_url: user.streaming_url.clone(),
            email: user.email.clone(),
            monitoring_status: user.monitoring_status,
            threshold: user.threshold,
            scheduled_at: None,
            tracking: user.tracking.clone(),
        }
    }

    /// The tick time, if the run has one.
    pub fn scheduled_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.scheduled_at
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&chrono::Utc))
    }

    /// Parse and validate the task's payload (the task trusts nothing it is given).
    pub fn parse(s: &str, policy: &ValidationPolicy) -> Result<Self, PayloadError> {
        if s.len() > 64 * 1024 {
            return Err(PayloadError::TooLarge {
                field: TASK_PAYLOAD_ENV.into(),
                size: s.len(),
                limit: 64 * 1024,
            });
        }
        let p: Self = serde_json::from_str(s).map_err(|e| PayloadError::Json {
            field: TASK_PAYLOAD_ENV.into(),
            reason: e.to_string(),
        })?;
        validate_run_id("run_id", &p.run_id)?;
        validate::user_id("user_id", &p.user_id)?;
        validate::stream_url("streaming_URL", &p.streaming_url, policy)?;
        validate::email("email", &p.email)?;
        if let Some(at) = &p.scheduled_at {
            validate_date_time("scheduled_at", at)?;
        }
        if p.threshold.is_some_and(|t| t > MAX_PEOPLE) {
            return Err(PayloadError::invalid(
                "threshold",
                format!("must be an integer 0..={MAX_PEOPLE}"),
            ));
        }
        // Decoding checked it already (`JobConfig`'s own rules); the size limit is the payload's.
        if let Some(tracking) = &p.tracking {
            validate_tracking("tracking", tracking)?;
        }
        Ok(p)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn user_config(&self) -> UserConfig {
        UserConfig {
            user_id: self.user_id.clone(),
            streaming_url: self.streaming_url.clone(),
            email: self.email.clone(),
            monitoring_status: self.monitoring_status,
            threshold: self.threshold,
            tracking: self.tracking.clone(),
        }
    }
}

/// Run ids: the domain's rule ([`footfall_domain::RunId::parse`]: 1..=64 characters from
/// `[A-Za-z0-9_.:-]`), so no payload carries a run id the results table would refuse.
pub fn validate_run_id(field: &str, v: &str) -> Result<(), PayloadError> {
    footfall_domain::RunId::parse(v)
        .map(|_| ())
        .map_err(|e| PayloadError::invalid(field, e.reason))
}

/// A deterministic 32-hex-digit key for (run id, user id): used as ECS `startedBy` suffix and
/// client token so a retried controller invocation finds the task it already started.
pub fn run_user_key(run_id: &str, user_id: &str) -> String {
    let mut h = Sha256::new();
    h.update(run_id.as_bytes());
    h.update([0u8]);
    h.update(user_id.as_bytes());
    let d = h.finalize();
    d[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// The notification's copy of the user's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationConfig {
    #[serde(rename = "Monitoring_status")]
    pub monitoring_status: bool,
    #[serde(rename = "streaming_URL")]
    pub streaming_url: String,
    pub email: String,
    /// The threshold the count exceeded (for the email text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<u32>,
}

/// `result` of a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountResult {
    pub people_count: u32,
}

/// Task -> notification Lambda.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationPayload {
    /// The run that counted (so the notification's logs and message name it); optional for
    /// senders of the original contract.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    pub user_id: String,
    #[serde(rename = "DATE-TIME")]
    pub date_time: String,
    pub config: NotificationConfig,
    pub result: CountResult,
    /// The picture inline (base64 JPEG, the original contract); empty when `image_key` is set.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub processed_detection_image: String,
    /// The picture already stored by the task in the results bucket
    /// ([`picture_key`]): how the task sends it, so no picture size meets the 256 KiB
    /// asynchronous-invoke limit. Exactly one of the two is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_key: Option<String>,
    /// What `result.people_count` counts when the user's rule watches a zone or a line
    /// (`people in zone queue`); absent: people. At most [`MAX_METRIC_LABEL_CHARS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
}

/// Longest `metric` label of a notification.
pub const MAX_METRIC_LABEL_CHARS: usize = 160;

impl NotificationPayload {
    /// Parse raw bytes, rejecting oversized input before parsing.
    pub fn parse_slice(bytes: &[u8], policy: &ValidationPolicy) -> Result<Self, PayloadError> {
        let limit = policy.max_image_base64_len + 64 * 1024;
        if bytes.len() > limit {
            return Err(PayloadError::TooLarge {
                field: "processed_detection_image".into(),
                size: bytes.len(),
                limit,
            });
        }
        let v: Value = serde_json::from_slice(bytes).map_err(|e| PayloadError::Json {
            field: "event".into(),
            reason: e.to_string(),
        })?;
        Self::parse(&v, policy)
    }

    /// Parse and validate a decoded event. The image length is checked before anything is
    /// copied or decoded.
    pub fn parse(v: &Value, policy: &ValidationPolicy) -> Result<Self, PayloadError> {
        let obj = v
            .as_object()
            .ok_or_else(|| PayloadError::invalid("event", "must be a JSON object"))?;
        let img = match obj.get("processed_detection_image") {
            Some(Value::String(s)) => s.as_str(),
            None | Some(Value::Null) => "",
            Some(_) => {
                return Err(PayloadError::invalid(
                    "processed_detection_image",
                    "must be a base64 string",
                ));
            }
        };
        if img.len() > policy.max_image_base64_len {
            return Err(PayloadError::TooLarge {
                field: "processed_detection_image".into(),
                size: img.len(),
                limit: policy.max_image_base64_len,
            });
        }
        let user_id = get_str(obj, "", "user_id")?;
        validate::user_id("user_id", &user_id)?;
        let image_key = match obj.get("image_key") {
            None | Some(Value::Null) => None,
            Some(_) => {
                let key = get_str(obj, "", "image_key")?;
                if !is_picture_key_of(&key, &user_id) {
                    return Err(PayloadError::invalid(
                        "image_key",
                        format!("must be {PICTURE_PREFIX}{user_id}/RUN_ID.jpg"),
                    ));
                }
                Some(key)
            }
        };
        match (img.is_empty(), &image_key) {
            (true, None) => {
                return Err(PayloadError::missing(
                    "processed_detection_image (or image_key)",
                ));
            }
            (false, Some(_)) => {
                return Err(PayloadError::invalid(
                    "image_key",
                    "send processed_detection_image or image_key, not both",
                ));
            }
            _ => {}
        }
        let run_id = match obj.get("run_id") {
            None | Some(Value::Null) => None,
            Some(_) => {
                let r = get_str(obj, "", "run_id")?;
                validate_run_id("run_id", &r)?;
                Some(r)
            }
        };
        let date_time = get_str(obj, "", "DATE-TIME")?;
        validate_date_time("DATE-TIME", &date_time)?;
        let cfg = obj
            .get("config")
            .and_then(Value::as_object)
            .ok_or_else(|| PayloadError::missing("config"))?;
        let config = NotificationConfig {
            monitoring_status: get_bool(cfg, "config.", "Monitoring_status")?,
            streaming_url: get_str(cfg, "config.", "streaming_URL")?,
            email: get_str(cfg, "config.", "email")?,
            threshold: get_opt_people(cfg, "config.", "threshold")?,
        };
        validate::stream_url("config.streaming_URL", &config.streaming_url, policy)?;
        validate::email("config.email", &config.email)?;
        let res = obj
            .get("result")
            .and_then(Value::as_object)
            .ok_or_else(|| PayloadError::missing("result"))?;
        let people_count = get_opt_people(res, "result.", "people_count")?
            .ok_or_else(|| PayloadError::missing("result.people_count"))?;
        let metric = match obj.get("metric") {
            None | Some(Value::Null) => None,
            Some(_) => {
                let label = get_str(obj, "", "metric")?;
                if label.is_empty()
                    || label.chars().count() > MAX_METRIC_LABEL_CHARS
                    || label.chars().any(char::is_control)
                {
                    return Err(PayloadError::invalid(
                        "metric",
                        format!(
                            "must be 1 to {MAX_METRIC_LABEL_CHARS} characters without control characters"
                        ),
                    ));
                }
                Some(label)
            }
        };
        Ok(Self {
            run_id,
            user_id,
            date_time,
            config,
            result: CountResult { people_count },
            processed_detection_image: img.to_string(),
            image_key,
            metric,
        })
    }

    /// Decode the image (after [`Self::parse`] bounded its size).
    pub fn decode_image(&self) -> Result<Vec<u8>, PayloadError> {
        base64::engine::general_purpose::STANDARD
            .decode(self.processed_detection_image.as_bytes())
            .map_err(|e| {
                PayloadError::invalid("processed_detection_image", format!("bad base64: {e}"))
            })
    }
}

/// `DATE-TIME`: RFC 3339 in UTC with a `Z` suffix and whole seconds, e.g. `2024-01-01T12:00:00Z`
/// (it becomes part of an S3 key).
pub fn validate_date_time(field: &str, v: &str) -> Result<(), PayloadError> {
    if v.len() != 20 || !v.ends_with('Z') {
        return Err(PayloadError::invalid(
            field,
            "must look like 2024-01-01T12:00:00Z (UTC, whole seconds)",
        ));
    }
    chrono::DateTime::parse_from_rfc3339(v)
        .map_err(|e| PayloadError::invalid(field, format!("not RFC 3339: {e}")))?;
    Ok(())
}

/// Format a UTC time the way `DATE-TIME` wants it.
pub fn format_date_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Where run pictures live in the results bucket (the notification Lambda reads only below it).
pub const PICTURE_PREFIX: &str = "pictures/";

/// The key of a run's picture, `pictures/{user_id}/{run_id}.jpg`. User and run ids are
/// restricted to `[A-Za-z0-9_.:-]` by the domain, so the key needs no escaping.
pub fn picture_key(user_id: &str, run_id: &str) -> String {
    format!("{PICTURE_PREFIX}{user_id}/{run_id}.jpg")
}

/// Whether `key` is a picture key of `user_id`: a payload cannot point at another user's
/// picture, or at anything outside `pictures/`.
pub fn is_picture_key_of(key: &str, user_id: &str) -> bool {
    key.strip_prefix(PICTURE_PREFIX)
        .and_then(|rest| rest.strip_prefix(user_id))
        .and_then(|rest| rest.strip_prefix('/'))
        .and_then(|name| name.strip_suffix(".jpg"))
        .is_some_and(|run| !run.starts_with('.') && footfall_domain::RunId::parse(run).is_ok())
}

/// The body POSTed to an ad-hoc run's callback URL: the [`JobResult`] fields, the stream's
/// health, and the annotated picture of the busiest frame (base64 JPEG, as the original
/// receiver reads it; absent when no frame could be annotated). Signed with
/// `Footfall-Signature` (see `aws_sinks::signing`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallbackBody {
    #[serde(flatten)]
    pub result: JobResult,
    /// `ok`, `ended_early`, `stalled`, `unavailable`, ... (the stored `result.health`).
    pub health: String,
    /// Where the picture is stored (`pictures/{user_id}/{run_id}.jpg` in the results bucket),
    /// when the run stores its result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processed_detection_image: Option<String>,
}

/// The result of one job: the callback body, the CSV line and the database row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobResult {
    pub run_id: String,
    pub user_id: String,
    pub source: Source,
    #[serde(rename = "DATE-TIME")]
    pub date_time: String,
    #[serde(rename = "streaming_URL")]
    pub streaming_url: String,
    pub people_count: u32,
    pub frames_analyzed: u32,
}

fn get_str(obj: &Map<String, Value>, prefix: &str, key: &str) -> Result<String, PayloadError> {
    match obj.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        None | Some(Value::Null) => Err(PayloadError::missing(&format!("{prefix}{key}"))),
        Some(_) => Err(PayloadError::invalid(
            &format!("{prefix}{key}"),
            "must be a string",
        )),
    }
}

fn get_bool(obj: &Map<String, Value>, prefix: &str, key: &str) -> Result<bool, PayloadError> {
    match obj.get(key) {
        Some(Value::Bool(b)) => Ok(*b),
        // Tolerate the string forms some senders use; anything else is an error.
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
        None | Some(Value::Null) => Err(PayloadError::missing(&format!("{prefix}{key}"))),
        Some(_) => Err(PayloadError::invalid(
            &format!("{prefix}{key}"),
            "must be true or false",
        )),
    }
}

/// An optional people count (threshold, count): an integer `0..=MAX_PEOPLE` or absent/null.
fn get_opt_people(
    obj: &Map<String, Value>,
    prefix: &str,
    key: &str,
) -> Result<Option<u32>, PayloadError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .filter(|&n| n <= u64::from(MAX_PEOPLE))
            .map(|n| Some(n as u32))
            .ok_or_else(|| {
                PayloadError::invalid(
                    &format!("{prefix}{key}"),
                    format!("must be an integer 0..={MAX_PEOPLE}"),
                )
            }),
        Some(_) => Err(PayloadError::invalid(
            &format!("{prefix}{key}"),
            "must be an integer",
        )),
    }
}

#[cfg(test)]
mod tests;
