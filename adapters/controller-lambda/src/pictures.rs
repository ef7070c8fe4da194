//! `GET /pictures/{user_id}/{run_id}.jpg?expires=..&signature=..`: the link in an alert email.
//!
//! The notification Lambda signs each link with a key from Secrets Manager
//! (`aws_sinks::signing`); this route checks the signature and the expiry and answers with a
//! redirect to an S3 URL presigned for a few minutes, at click time. A presigned URL put in the
//! email itself would die with the role session that signed it (hours), whatever lifetime the
//! email promised; this link lives exactly as long as it says.

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sinks::signing::{SignatureError, SigningKey};
use serde_json::Value;

/// How long the S3 URL behind a checked link stays valid (one page load, with slack).
const REDIRECT_LIFETIME: Duration = Duration::from_secs(300);

/// What the route needs: the bucket the pictures are in and the link key.
#[derive(Debug, Clone)]
pub struct PictureLinks {
    pub s3: aws_sdk_s3::Client,
    /// `PICTURES_BUCKET`: the results bucket.
    pub bucket: String,
    /// From `LINK_SECRET_ARN`, the same secret the notification Lambda signs with.
    pub key: SigningKey,
}

/// Whether an API Gateway proxy event (REST v1 or HTTP v2) is a GET of this route.
pub fn is_picture_request(event: &Value) -> bool {
    let method = event
        .get("httpMethod")
        .or_else(|| event.pointer("/requestContext/http/method"))
        .and_then(Value::as_str);
    method.is_some_and(|m| m.eq_ignore_ascii_case("GET")) && picture_key(event).is_some()
}

/// The object key a request names: `pictures/` + the `{proxy+}` path parameter (or the path
/// after `/pictures/`).
fn picture_key(event: &Value) -> Option<String> {
    let rest = match event
        .pointer("/pathParameters/proxy")
        .and_then(Value::as_str)
    {
        Some(proxy) => proxy.to_string(),
        None => {
            let path = event
                .get("path")
                .or_else(|| event.get("rawPath"))
                .and_then(Value::as_str)?;
            path.split_once("/pictures/")?.1.to_string()
        }
    };
    Some(format!("{}{rest}", payloads::PICTURE_PREFIX))
}

fn query<'a>(event: &'a Value, name: &str) -> Option<&'a str> {
    event
        .get("queryStringParameters")
        .and_then(|q| q.get(name))
        .and_then(Value::as_str)
}

fn text(status: u16, body: &str) -> Value {
    serde_json::json!({
        "statusCode": status,
        "headers": {"content-type": "text/plain; charset=utf-8", "cache-control": "no-store"},
        "isBase64Encoded": false,
        "body": body,
    })
}

/// Answers one picture request: 302 to the picture, 403 for a wrong or missing signature, 410
/// for an expired link, 404 where links are not configured or the key is not a picture's.
pub async fn answer(links: Option<&PictureLinks>, event: &Value, now: i64) -> Value {
    let Some(links) = links else {
        return text(404, "picture links are not configured on this deployment");
    };
    let Some(key) = picture_key(event) else {
        return text(404, "no such picture");
    };
    // Only pictures (`pictures/{user}/{run}.jpg`); the user part is checked by the signature.
    let user = key
        .strip_prefix(payloads::PICTURE_PREFIX)
        .and_then(|rest| rest.split_once('/'))
        .map(|(user, _)| user);
    if !user.is_some_and(|u| payloads::is_picture_key_of(&key, u)) {
        return text(404, "no such picture");
    }
    let (Some(expires), Some(signature)) = (query(event, "expires"), query(event, "signature"))
    else {
        return text(403, "this link is not signed");
    };
    let Ok(expires) = expires.parse::<i64>() else {
        return text(403, "this link is not signed");
    };
    match links.key.verify_picture(&key, expires, signature, now) {
        Ok(()) => {}
        Err(SignatureError::Expired(_)) => {
            return text(410, "this link has expired");
        }
        Err(error) => {
            tracing::warn!(%key, %error, "picture link refused");
            return text(403, "this link is not valid");
        }
    }
    let presigned = match PresigningConfig::expires_in(REDIRECT_LIFETIME) {
        Ok(config) => links
            .s3
            .get_object()
            .bucket(&links.bucket)
            .key(&key)
            .response_cache_control("private, max-age=300")
            .presigned(config)
            .await
            .map(|p| p.uri().to_string())
            .map_err(|e| aws_sdk_s3::error::DisplayErrorContext(&e).to_string()),
        Err(e) => Err(e.to_string()),
    };
    match presigned {
        Ok(url) => serde_json::json!({
            "statusCode": 302,
            "headers": {"location": url, "cache-control": "no-store"},
            "isBase64Encoded": false,
            "body": "",
        }),
        Err(error) => {
            tracing::error!(%key, %error, "could not presign the picture");
            text(503, "the picture cannot be served right now")
        }
    }
}
