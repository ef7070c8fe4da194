//! The result POSTed to the caller's callback URL (API Gateway runs) as the job's [`Callback`].
//! The body is a [`CallbackBody`] (the count, the stream's health and the annotated picture),
//! signed with HMAC-SHA256 in the `Footfall-Signature` header ([`crate::signing`]) so the
//! receiver can refuse anything the task did not send.

use std::time::Duration;

use base64::Engine;
use footfall_domain::ResultRecord;
use footfall_domain::sinks::{BoxFuture, Callback, SinkError};
use payloads::{CallbackBody, JobResult, Source};

use crate::signing::{SIGNATURE_HEADER, SigningKey};

const SINK: &str = "callback";

/// POSTs results to one URL.
#[derive(Debug, Clone)]
pub struct HttpCallback {
    http: reqwest::Client,
    url: String,
    /// The entry point that started the run (part of the body).
    source: Source,
    /// Signs each body (`None` only where no receiver checks it, e.g. a local test).
    key: Option<SigningKey>,
}

/// An HTTP client for callbacks with a per-request timeout (no redirects: the URL is ours).
pub fn client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .redirect(reqwest::redirect::Policy::none())
        .build()
}

/// The callback body of a record.
pub fn job_result(record: &ResultRecord, source: Source) -> Result<JobResult, SinkError> {
    // The pipeline posts only counted results; a record without a count has no body to send.
    let Some(people_count) = record.people_count else {
        return Err(SinkError::permanent(SINK, "no people count to post"));
    };
    Ok(JobResult {
        run_id: record.run_id.to_string(),
        user_id: record.user_id.to_string(),
        source,
        date_time: record.taken_at_text(),
        streaming_url: record.source.clone(),
        people_count,
        frames_analyzed: record.frames,
    })
}

/// The whole body: result, health, picture.
pub fn callback_body(
    record: &ResultRecord,
    source: Source,
    jpeg: Option<&[u8]>,
) -> Result<CallbackBody, SinkError> {
    Ok(CallbackBody {
        result: job_result(record, source)?,
        health: record.health.to_string(),
        image_ref: record.image_ref.clone(),
        processed_detection_image: jpeg
            .map(|j| base64::engine::general_purpose::STANDARD.encode(j)),
    })
}

impl HttpCallback {
    pub fn new(
        http: reqwest::Client,
        url: impl Into<String>,
        source: Source,
        key: Option<SigningKey>,
    ) -> Self {
        Self {
            http,
            url: url.into(),
            source,
            key,
        }
    }

    /// One POST attempt of a serialized JSON body, signed at send time (a retry carries a
    /// fresh timestamp). 2xx is success; 408, 429 and 5xx, timeouts and connection errors are
    /// retryable; other statuses (a refused signature: 401) are permanent.
    pub async fn post(&self, body: Vec<u8>) -> Result<u16, SinkError> {
        let url = &self.url;
        let mut request = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        if let Some(key) = &self.key {
            request = request.header(
                SIGNATURE_HEADER,
                key.callback_header(chrono::Utc::now().timestamp(), &body),
            );
        }
        match request.body(body).send().await {
            Ok(r) => {
                let s = r.status().as_u16();
                if r.status().is_success() {
                    Ok(s)
                } else {
                    Err(SinkError {
                        sink: SINK,
                        message: format!("{url} answered {s}"),
                        retryable: s >= 500 || s == 429 || s == 408,
                    })
                }
            }
            Err(e) => Err(SinkError::retryable(
                SINK,
                format!(
                    "{url}: {}",
                    if e.is_timeout() {
                        "timed out".to_string()
                    } else {
                        e.to_string()
                    }
                ),
            )),
        }
    }
}

impl Callback for HttpCallback {
    fn deliver<'a>(
        &'a self,
        record: &'a ResultRecord,
        jpeg: Option<&'a [u8]>,
    ) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            let body = serde_json::to_vec(&callback_body(record, self.source, jpeg)?)
                .map_err(|e| SinkError::permanent(SINK, format!("encode body: {e}")))?;
            self.post(body).await.map(|_| ())
        })
    }
}
