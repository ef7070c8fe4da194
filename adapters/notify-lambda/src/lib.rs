//! The notification Lambda: stores the detection image and sends an email-ready SNS alert.
//!
//! [`handle`] is a plain async function; `main.rs` only wires it to `lambda_runtime`.
//!
//! Steps: validate the payload (size bounded before decoding), re-check the threshold and
//! `Monitoring_status`, decode and check the JPEG (magic, end marker, dimensions), claim the
//! per-user cooldown (a small state object `alerts/{user_id}/cooldown.json` written with
//! `If-None-Match`/`If-Match`, so concurrent invocations cannot both alert), store
//! `alerts/{user_id}/{DATE-TIME}.jpg` (or read the picture the task stored,
//! `pictures/{user_id}/{run_id}.jpg`), make sure the user's email is subscribed with a filter on
//! its `user_id` ([`subscription`]), publish to SNS with a signed picture link (or a presigned S3
//! URL, with the lifetime it really has) and the `user_id`
//! attribute, and mark the alert published. A retry of the same alert (same `DATE-TIME`) resumes
//! instead of being throttled.

pub mod subscription;

use std::time::Duration;

use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sns::types::MessageAttributeValue;
use aws_sinks::cas::{Cas, Settled, compare_and_set};
use aws_sinks::signing::SigningKey;
use chrono::{DateTime, Utc};
use footfall_domain::{AlertDecision, AlertInput, decide};
use footfall_runtime::env::{ALLOW_PRIVATE_STREAMS, ConfigError, Env};
use footfall_runtime::retry::Backoff;
use payloads::{NotificationPayload, PayloadError, ValidationPolicy};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("bad payload: {0}")]
    BadPayload(#[from] PayloadError),
    #[error("configuration: {0}")]
    Config(String),
    #[error("S3 {op} {key}: {message}")]
    S3 {
        op: &'static str,
        key: String,
        message: String,
    },
    #[error("SNS publish: {0}")]
    Sns(String),
}

/// Notification Lambda configuration (environment variables in brackets).
#[derive(Debug, Clone)]
pub struct NotifyConfig {
    /// `ALERT_BUCKET`: bucket for `alerts/{user_id}/{DATE-TIME}.jpg`.
    pub bucket: String,
    /// `ALERT_TOPIC_ARN`
    pub topic_arn: String,
    /// `ALERT_THRESHOLD` (default 15): alert when `people_count` exceeds it, for payloads
    /// without the user's own `config.threshold`.
    pub default_threshold: u32,
    /// `ALERT_COOLDOWN_SECONDS` (default 3600): at most one alert per user in this window.
    pub cooldown: Duration,
    /// `PICTURE_LINK_BASE`: the API stage URL (`https://{api}/{stage}`; links are
    /// `{base}/pictures/{user_id}/{run_id}.jpg?...`). With
    /// `LINK_SECRET_ARN`, emails carry links signed by this Lambda and checked by the API, valid
    /// for `link_lifetime` whatever the credentials that signed them (see `aws_sinks::signing`).
    pub picture_link_base: Option<String>,
    /// `LINK_SECRET_ARN`: the Secrets Manager secret holding the link signing key.
    pub link_secret_arn: Option<String>,
    /// `PICTURE_LINK_DAYS` (default 30, at most 365, the bucket's retention).
    pub link_lifetime: Duration,
    /// `PRESIGN_EXPIRY_SECONDS` (default 86400, at most 7 days): without a link base, emails
    /// carry a presigned S3 URL, valid for this long or until this Lambda's role credentials
    /// expire, whichever is first; the email states the lifetime it really has.
    pub presign_expiry: Duration,
    /// `MAX_IMAGE_BYTES` (default 16 MiB) JPEG size limit (a 4K frame's JPEG is a few MB).
    pub max_image_bytes: usize,
    /// `MAX_IMAGE_DIMENSION` (default 8192) pixels per side.
    pub max_dimension: u32,
    /// Payload validation; `FOOTFALL_ALLOW_PRIVATE_STREAMS=true` for loopback tests.
    pub policy: ValidationPolicy,
}

impl NotifyConfig {
    pub fn from_env() -> Result<Self, NotifyError> {
        Self::from_config(&Env::process())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, NotifyError> {
        Self::from_config(&Env::new(get))
    }

    /// From a configuration view (the one parser of every footfall binary).
    pub fn from_config(env: &Env<'_>) -> Result<Self, NotifyError> {
        let cfg = |e: ConfigError| NotifyError::Config(e.to_string());
        let num = |k: &str, d: u64| env.num(k, d).map_err(cfg);
        let max_image_bytes = num("MAX_IMAGE_BYTES", 16 * 1024 * 1024)? as usize;
        let picture_link_base = env.opt("PICTURE_LINK_BASE");
        let link_secret_arn = env.opt("LINK_SECRET_ARN");
        if picture_link_base.is_some() != link_secret_arn.is_some() {
            return Err(NotifyError::Config(
                "PICTURE_LINK_BASE and LINK_SECRET_ARN are set together (signed links need both)"
                    .into(),
            ));
        }
        if let Some(base) = &picture_link_base
            && !base.starts_with("https://")
            && !base.starts_with("http://")
        {
            return Err(NotifyError::Config(
                "PICTURE_LINK_BASE must be an http(s) URL".into(),
            ));
        }
        Ok(Self {
            picture_link_base,
            link_secret_arn,
            link_lifetime: Duration::from_secs(
                num("PICTURE_LINK_DAYS", 30)?.clamp(1, 365) * 86_400,
            ),
            bucket: env.req("ALERT_BUCKET").map_err(cfg)?,
            topic_arn: env.req("ALERT_TOPIC_ARN").map_err(cfg)?,
            default_threshold: num("ALERT_THRESHOLD", 15)?.min(u64::from(u32::MAX)) as u32,
            cooldown: Duration::from_secs(num("ALERT_COOLDOWN_SECONDS", 3600)?),
            presign_expiry: Duration::from_secs(
                num("PRESIGN_EXPIRY_SECONDS", 86400)?.clamp(60, 604_800),
            ),
            max_image_bytes,
            max_dimension: num("MAX_IMAGE_DIMENSION", 8192)?.min(u64::from(u32::MAX)) as u32,
            policy: ValidationPolicy {
                allow_private_hosts: env.flag(ALLOW_PRIVATE_STREAMS).map_err(cfg)?,
                max_image_base64_len: max_image_bytes.div_ceil(3) * 4,
                ..ValidationPolicy::default()
            },
        })
    }
}

pub struct Notifier {
    pub s3: aws_sdk_s3::Client,
    pub sns: aws_sdk_sns::Client,
    pub config: NotifyConfig,
    /// Signs picture links (with `config.picture_link_base`); read from `LINK_SECRET_ARN`.
    pub link_key: Option<SigningKey>,
    /// The credentials presigned URLs are made with, to state how long such a URL lives.
    pub credentials: Option<SharedCredentialsProvider>,
}

impl Notifier {
    /// Clients from an SDK configuration (path-style S3 addressing, as S3 stand-ins need).
    pub fn new(sdk: &aws_config::SdkConfig, config: NotifyConfig) -> Self {
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(sdk)
                .force_path_style(true)
                .build(),
        );
        Self {
            s3,
            sns: aws_sdk_sns::Client::new(sdk),
            config,
            link_key: None,
            credentials: sdk.credentials_provider(),
        }
    }

    /// With the key that signs picture links.
    pub fn with_link_key(mut self, key: SigningKey) -> Self {
        self.link_key = Some(key);
        self
    }

    /// Reads the link signing key from `LINK_SECRET_ARN` when links are configured. Called at
    /// start, so a missing or weak secret stops the Lambda's init, loudly, not an alert.
    pub async fn load_link_key(
        self,
        secrets: &aws_sdk_secretsmanager::Client,
    ) -> Result<Self, NotifyError> {
        let Some(arn) = self.config.link_secret_arn.clone() else {
            return Ok(self);
        };
        let text = aws_sinks::secrets::read(secrets, &arn, None)
            .await
            .map_err(|e| NotifyError::Config(e.to_string()))?;
        let key = SigningKey::new(&text)
            .map_err(|e| NotifyError::Config(format!("LINK_SECRET_ARN: {e}")))?;
        Ok(self.with_link_key(key))
    }

    /// The link the email carries for a stored picture, and how long it stays valid.
    async fn picture_link(&self, key: &str) -> Result<(String, Duration), NotifyError> {
        let cfg = &self.config;
        if let (Some(base), Some(signer)) = (&cfg.picture_link_base, &self.link_key) {
            let expires = Utc::now().timestamp()
                + i64::try_from(cfg.link_lifetime.as_secs()).unwrap_or(i64::MAX / 2);
            return Ok((signer.picture_link(base, key, expires), cfg.link_lifetime));
        }
        // A presigned URL is dead once the credentials that signed it expire (a role
        // session's), so the lifetime stated is the shorter of the two.
        let mut lifetime = cfg.presign_expiry;
        if let Some(provider) = &self.credentials {
            use aws_credential_types::provider::ProvideCredentials;
            if let Ok(creds) = provider.provide_credentials().await
                && let Some(left) = creds
                    .expiry()
                    .and_then(|t| t.duration_since(std::time::SystemTime::now()).ok())
            {
                lifetime = lifetime.min(left);
            }
        }
        let presign = PresigningConfig::expires_in(lifetime.max(Duration::from_secs(1)))
            .map_err(|e| NotifyError::Config(format!("presign expiry: {e}")))?;
        let url = self
            .s3
            .get_object()
            .bucket(&cfg.bucket)
            .key(key)
            .presigned(presign)
            .await
            .map_err(|e| s3_err("presign GetObject", key, e))?
            .uri()
            .to_string();
        Ok((url, lifetime))
    }
}

/// What happened to one notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    Sent {
        message_id: String,
        image_key: String,
        image_url: String,
        /// How long `image_url` stays valid, in seconds (what the email says).
        link_valid_s: u64,
    },
    /// Not an alert (below threshold, monitoring off, in cooldown, or already sent).
    Skipped { reason: String },
}

/// The cooldown state object of a user.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct CooldownState {
    date_time: String,
    published: bool,
}

/// JPEG checks: SOI magic, EOI at the end, a frame header with sane dimensions.
/// Returns (width, height).
pub fn check_jpeg(
    bytes: &[u8],
    max_bytes: usize,
    max_dim: u32,
) -> Result<(u32, u32), PayloadError> {
    const F: &str = "processed_detection_image";
    let bad = |r: &str| PayloadError::invalid(F, r);
    if bytes.len() > max_bytes {
        return Err(PayloadError::TooLarge {
            field: F.into(),
            size: bytes.len(),
            limit: max_bytes,
        });
    }
    if bytes.len() < 4 || bytes[..3] != [0xFF, 0xD8, 0xFF] {
        return Err(bad("not a JPEG (missing FF D8 FF magic)"));
    }
    // Some encoders pad after EOI; allow a little trailing slack.
    let tail = &bytes[bytes.len().saturating_sub(64)..];
    if !tail.windows(2).any(|w| w == [0xFF, 0xD9]) {
        return Err(bad("truncated JPEG (no end-of-image marker)"));
    }
    let mut i = 2usize;
    loop {
        // Skip to the next marker.
        if bytes.get(i) != Some(&0xFF) {
            return Err(bad("corrupt JPEG marker structure"));
        }
        while i < bytes.len() && bytes[i] == 0xFF {
            i += 1;
        }
        let Some(&m) = bytes.get(i) else {
            return Err(bad("JPEG ended before a frame header"));
        };
        i += 1;
        if m == 0x01 || (0xD0..=0xD7).contains(&m) {
            continue;
        }
        if m == 0xD9 || m == 0xDA {
            return Err(bad("JPEG has no frame header before the scan"));
        }
        let (Some(&hi), Some(&lo)) = (bytes.get(i), bytes.get(i + 1)) else {
            return Err(bad("JPEG segment header truncated"));
        };
        let len = u16::from_be_bytes([hi, lo]) as usize;
        if len < 2 || i + len > bytes.len() {
            return Err(bad("JPEG segment length out of range"));
        }
        let is_sof = (0xC0..=0xCF).contains(&m) && !matches!(m, 0xC4 | 0xC8 | 0xCC);
        if is_sof {
            if len < 8 {
                return Err(bad("JPEG frame header too short"));
            }
            let h = u16::from_be_bytes([bytes[i + 3], bytes[i + 4]]) as u32;
            let w = u16::from_be_bytes([bytes[i + 5], bytes[i + 6]]) as u32;
            if w < 8 || h < 8 || w > max_dim || h > max_dim {
                return Err(bad(&format!(
                    "JPEG dimensions {w}x{h} outside 8..={max_dim} pixels"
                )));
            }
            return Ok((w, h));
        }
        i += len;
    }
}

/// The image key of an alert.
pub fn image_key(user_id: &str, date_time: &str) -> String {
    format!("alerts/{user_id}/{date_time}.jpg")
}

/// Conditional writes of one cooldown claim before giving up (the invocation then fails and
/// Lambda retries it).
const CLAIM_CONFLICTS: Backoff = Backoff {
    attempts: 30,
    base: Duration::from_millis(20),
    max: Duration::from_millis(1000),
};

/// What the cooldown state says about this alert.
#[derive(Debug)]
enum Claim {
    /// Not to be sent (already sent, or inside another alert's window).
    Skip(String),
    /// This alert owns the window (claimed now, or by an earlier attempt of the same alert).
    Mine,
}

/// The cooldown decision on the current state object: a retry of the same `DATE-TIME` resumes
/// (or stops if it was published); another alert inside the window is skipped ([`decide`]);
/// otherwise the window is claimed with an unpublished state.
fn claim_cooldown(
    current: Option<&[u8]>,
    p: &NotificationPayload,
    now: DateTime<Utc>,
    threshold: u32,
    cooldown: Duration,
) -> Cas<Claim> {
    // An unreadable state object is treated as "no cooldown" and overwritten.
    let state: Option<CooldownState> = current.and_then(|b| serde_json::from_slice(b).ok());
    if let Some(state) = &state {
        if state.date_time == p.date_time {
            return Cas::Stop(if state.published {
                Claim::Skip("alert already sent (retry of the same DATE-TIME)".into())
            } else {
                Claim::Mine
            });
        }
        if let Ok(last) = DateTime::parse_from_rfc3339(&state.date_time) {
            // The result's own time (the schedule's tick), not when this Lambda runs: two
            // consecutive hourly ticks are an hour apart however long their jobs took.
            let taken_at = DateTime::parse_from_rfc3339(&p.date_time)
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or(now);
            let decision = decide(AlertInput {
                people: Some(p.result.people_count),
                threshold,
                monitored: p.config.monitoring_status,
                taken_at,
                last_alert: Some(last.with_timezone(&Utc)),
                cooldown: chrono::Duration::from_std(cooldown).unwrap_or(chrono::Duration::MAX),
            });
            if let AlertDecision::CoolingDown { .. } = decision {
                return Cas::Stop(Claim::Skip(format!(
                    "cooldown: last alert for this user at {} (window {} s)",
                    state.date_time,
                    cooldown.as_secs()
                )));
            }
        }
    }
    let claimed = CooldownState {
        date_time: p.date_time.clone(),
        published: false,
    };
    Cas::Write(
        serde_json::to_vec(&claimed).unwrap_or_default(),
        Claim::Mine,
    )
}

fn cooldown_key(user_id: &str) -> String {
    format!("alerts/{user_id}/cooldown.json")
}

fn s3_err<E: std::error::Error + 'static>(
    op: &'static str,
    key: &str,
    e: aws_sdk_s3::error::SdkError<E>,
) -> NotifyError {
    NotifyError::S3 {
        op,
        key: key.to_string(),
        message: aws_sdk_s3::error::DisplayErrorContext(&e).to_string(),
    }
}

/// Handle one invocation event.
pub async fn handle(n: &Notifier, event: Value) -> Result<Value, NotifyError> {
    let payload = NotificationPayload::parse(&event, &n.config.policy).inspect_err(|error| {
        tracing::error!(user_id = ?event.get("user_id"), %error, "notification payload refused");
    })?;
    // A failed invocation is retried by Lambda (asynchronous invocations: twice); a retry of
    // the same alert resumes where this one stopped. Senders of the original contract send no
    // run id: then user and DATE-TIME identify the run.
    let run_id = payload.run_id.as_deref().unwrap_or("-");
    let outcome = notify(n, &payload).await.inspect_err(|error| {
        tracing::error!(run_id, user_id = %payload.user_id, date_time = %payload.date_time,
            people_count = payload.result.people_count, %error,
            "notification failed; the invocation fails so that Lambda retries it");
    })?;
    tracing::info!(run_id, user_id = %payload.user_id, date_time = %payload.date_time,
        people_count = payload.result.people_count, outcome = ?outcome, "notification handled");
    Ok(serde_json::to_value(&outcome).unwrap_or(Value::Null))
}

/// Process a validated payload.
pub async fn notify(n: &Notifier, p: &NotificationPayload) -> Result<Outcome, NotifyError> {
    let cfg = &n.config;
    if !p.config.monitoring_status {
        return Ok(Outcome::Skipped {
            reason: "Monitoring_status is false".into(),
        });
    }
    let threshold = p.config.threshold.unwrap_or(cfg.default_threshold);
    if p.result.people_count <= threshold {
        return Ok(Outcome::Skipped {
            reason: format!(
                "people_count {} does not exceed threshold {}",
                p.result.people_count, threshold
            ),
        });
    }
    // The picture: stored by the task (read back, to check it and to know its size), or inline
    // (senders of the original contract), stored here.
    let (image, key, stored) = match &p.image_key {
        Some(key) => (get_picture(n, key).await?, key.clone(), true),
        None => (
            p.decode_image()?,
            image_key(&p.user_id, &p.date_time),
            false,
        ),
    };
    let (w, h) = check_jpeg(&image, cfg.max_image_bytes, cfg.max_dimension)?;
    let now: DateTime<Utc> = DateTime::parse_from_rfc3339(&p.date_time)
        .map_err(|e| PayloadError::invalid("DATE-TIME", e.to_string()))?
        .with_timezone(&Utc);

    // Claim the cooldown window (or find that this alert already owns it).
    let ckey = cooldown_key(&p.user_id);
    let claim = compare_and_set(
        &n.s3,
        &cfg.bucket,
        &ckey,
        "application/json",
        &CLAIM_CONFLICTS,
        "cooldown",
        |current| claim_cooldown(current, p, now, threshold, cfg.cooldown),
    )
    .await
    .map_err(|e| NotifyError::S3 {
        op: "compare-and-set",
        key: ckey.clone(),
        message: e.message,
    })?;
    let etag = match claim {
        Settled::Stopped {
            value: Claim::Skip(reason),
            ..
        } => return Ok(Outcome::Skipped { reason }),
        Settled::Stopped { etag, .. } | Settled::Written { etag, .. } => etag,
    };

    if !stored {
        n.s3.put_object()
            .bucket(&cfg.bucket)
            .key(&key)
            .content_type("image/jpeg")
            .body(ByteStream::from(image))
            .send()
            .await
            .map_err(|e| s3_err("PutObject", &key, e))?;
    }
    let (url, lifetime) = n.picture_link(&key).await?;

    // The user's own subscription, filtered to their alerts. A failure here is logged: the
    // alert still goes to the topic, where an existing subscription receives it.
    match subscription::ensure_subscribed(&n.sns, &cfg.topic_arn, &p.config.email, &p.user_id).await
    {
        Ok(subscription::Subscription::Present) => {}
        Ok(done) => tracing::info!(user_id = %p.user_id, email = %p.config.email, ?done,
            "alert subscription updated (a new address must confirm it)"),
        Err(error) => tracing::error!(user_id = %p.user_id, %error,
            "alert subscription could not be checked"),
    }

    let (subject, message) = email_text(p, threshold, &url, lifetime, (w, h));
    let attr = |v: &str| {
        MessageAttributeValue::builder()
            .data_type("String")
            .string_value(v)
            .build()
            .map_err(|e| NotifyError::Sns(e.to_string()))
    };
    let mut publish = n
        .sns
        .publish()
        .topic_arn(&cfg.topic_arn)
        .subject(subject)
        .message(message)
        .message_attributes("user_id", attr(&p.user_id)?)
        .message_attributes("email", attr(&p.config.email)?);
    if let Some(run_id) = &p.run_id {
        publish = publish.message_attributes("run_id", attr(run_id)?);
    }
    let out = publish
        .send()
        .await
        .map_err(|e| NotifyError::Sns(aws_sdk_sns::error::DisplayErrorContext(&e).to_string()))?;
    let message_id = out.message_id().unwrap_or_default().to_string();

    // Mark it published so a retry of this alert does not send it twice.
    let done = CooldownState {
        date_time: p.date_time.clone(),
        published: true,
    };
    let mut put =
        n.s3.put_object()
            .bucket(&cfg.bucket)
            .key(&ckey)
            .content_type("application/json")
            .body(ByteStream::from(
                serde_json::to_vec(&done).unwrap_or_default(),
            ));
    if let Some(etag) = &etag {
        put = put.if_match(etag);
    }
    if let Err(e) = put.send().await {
        // The alert went out; a lost marker only risks a duplicate on retry. Log, do not fail.
        tracing::warn!(key = %ckey, error = %aws_sdk_s3::error::DisplayErrorContext(&e), "could not mark alert published");
    }
    Ok(Outcome::Sent {
        message_id,
        image_key: key,
        image_url: url,
        link_valid_s: lifetime.as_secs(),
    })
}

/// A picture the task stored (`pictures/{user_id}/{run_id}.jpg`, checked by the payload's
/// parser to belong to the payload's user), size-bounded before it is read.
async fn get_picture(n: &Notifier, key: &str) -> Result<Vec<u8>, NotifyError> {
    let out =
        n.s3.get_object()
            .bucket(&n.config.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| s3_err("GetObject", key, e))?;
    let size = out.content_length().unwrap_or(0).max(0) as usize;
    if size > n.config.max_image_bytes {
        return Err(PayloadError::TooLarge {
            field: "image_key".into(),
            size,
            limit: n.config.max_image_bytes,
        }
        .into());
    }
    let bytes = out.body.collect().await.map_err(|e| NotifyError::S3 {
        op: "GetObject",
        key: key.to_string(),
        message: e.to_string(),
    })?;
    Ok(bytes.into_bytes().to_vec())
}

/// A lifetime as people read it: "30 days", "12 h", "45 min".
pub fn lifetime_text(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 2 * 86_400 {
        format!("{} days", s / 86_400)
    } else if s >= 3600 {
        format!("{} h", s / 3600)
    } else {
        format!("{} min", (s / 60).max(1))
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Subject and body of the alert email.
pub fn email_text(
    p: &NotificationPayload,
    threshold: u32,
    url: &str,
    expiry: Duration,
    (w, h): (u32, u32),
) -> (String, String) {
    let subject = format!(
        "Footfall alert: {} {} for {}",
        p.result.people_count,
        p.metric.as_deref().unwrap_or("people"),
        p.user_id
    );
    let valid = lifetime_text(expiry);
    // A zone or line rule's value is not a head count: say what it counts.
    let counted = match &p.metric {
        None => "People counted".to_string(),
        Some(metric) => capitalised(metric),
    };
    let message = format!(
        "Footfall alert for {user}\n\n\
         {counted}: {count} (alert threshold {threshold})\n\
         Time (UTC): {time}\n\
         Stream: {stream}\n\n\
         Detection image ({w}x{h}, link valid for {valid}):\n{url}\n\n\
         You receive this because monitoring is on for {email}.\n",
        user = p.user_id,
        count = p.result.people_count,
        time = p.date_time,
        stream = p.config.streaming_url,
        email = p.config.email,
    );
    (subject, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hour_s() -> Duration {
        Duration::from_secs(3600)
    }

    #[test]
    fn config_flags_parse_like_every_other_binary() {
        // `TRUE` used to read as false here (case-sensitive match) while the controller took it.
        let pairs = [
            ("ALERT_BUCKET", "b"),
            ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:t"),
            (ALLOW_PRIVATE_STREAMS, "TRUE"),
            ("ALERT_COOLDOWN_SECONDS", " 60 "),
        ];
        let c = NotifyConfig::from_config(&Env::from_pairs(&pairs)).unwrap();
        assert!(c.policy.allow_private_hosts);
        assert_eq!(c.cooldown, Duration::from_secs(60));
        let pairs = [
            ("ALERT_BUCKET", "b"),
            ("ALERT_TOPIC_ARN", "t"),
            (ALLOW_PRIVATE_STREAMS, "maybe"),
        ];
        let e = NotifyConfig::from_config(&Env::from_pairs(&pairs)).unwrap_err();
        assert!(e.to_string().contains(ALLOW_PRIVATE_STREAMS), "{e}");
        let e = NotifyConfig::from_config(&Env::from_pairs(&[])).unwrap_err();
        assert!(e.to_string().contains("ALERT_BUCKET"), "{e}");
    }

    #[test]
    fn the_cooldown_compares_result_times_not_the_lambdas_clock() {
        let at = |t: &str| DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc);
        let payload = |date_time: &str| NotificationPayload {
            run_id: None,
            user_id: "alice".into(),
            date_time: date_time.into(),
            config: payloads::NotificationConfig {
                monitoring_status: true,
                streaming_url: "https://cdn.example.com/live.m3u8".into(),
                email: "alice@example.com".into(),
                threshold: Some(5),
            },
            result: payloads::CountResult { people_count: 9 },
            processed_detection_image: String::new(),
            image_key: None,
            metric: None,
        };
        // The email says what the value counts: people, or a zone or line rule's metric.
        let plain = payload("2026-11-30T11:00:00Z");
        let (subject, body) = email_text(&plain, 5, "https://x/p.jpg", hour_s(), (640, 480));
        assert_eq!(subject, "Footfall alert: 9 people for alice");
        assert!(
            body.contains("People counted: 9 (alert threshold 5)"),
            "{body}"
        );
        let zone = NotificationPayload {
            metric: Some("people in zone queue".into()),
            ..plain
        };
        let (subject, body) = email_text(&zone, 5, "https://x/p.jpg", hour_s(), (640, 480));
        assert_eq!(subject, "Footfall alert: 9 people in zone queue for alice");
        assert!(
            body.contains("People in zone queue: 9 (alert threshold 5)"),
            "{body}"
        );

        let last = serde_json::to_vec(&CooldownState {
            date_time: "2026-11-30T10:00:00Z".into(),
            published: true,
        })
        .unwrap();
        let hour = Duration::from_secs(3600);
        // The 11:00 tick's alert, even if this Lambda runs 59 min 59 s after the last one.
        let next_tick = claim_cooldown(
            Some(&last),
            &payload("2026-11-30T11:00:00Z"),
            at("2026-11-30T10:59:59Z"),
            5,
            hour,
        );
        assert!(
            matches!(next_tick, Cas::Write(_, Claim::Mine)),
            "{next_tick:?}"
        );
        // A result taken 59 min 59 s after the last alert's is inside the window, whenever
        // this Lambda runs.
        let inside = claim_cooldown(
            Some(&last),
            &payload("2026-11-30T10:59:59Z"),
            at("2026-11-30T11:30:00Z"),
            5,
            hour,
        );
        assert!(matches!(inside, Cas::Stop(Claim::Skip(_))), "{inside:?}");
    }
}
