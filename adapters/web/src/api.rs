//! The JSON API and `/healthz`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use footfall_domain::{ResultRecord, UserId, redact_url};
use results_store::StoreError;

use crate::AppState;

/// Results one request returns at most.
pub const MAX_LIMIT: u32 = 10_000;
/// Results returned when no `limit` is given.
pub const DEFAULT_LIMIT: u32 = 1_000;

/// An API failure, as `{"error": "..."}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match &error {
            StoreError::UnknownUser(_) => Self::new(StatusCode::NOT_FOUND, error.to_string()),
            StoreError::Invalid { .. } => Self::new(StatusCode::BAD_REQUEST, error.to_string()),
            _ => {
                tracing::error!(%error, "store failed while serving the API");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the database could not be read",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(serde_json::json!({ "error": self.message })),
        )
            .into_response()
    }
}

/// A result as the API shows it: the record (stream without credentials) and the URL of its
/// picture.
#[derive(Debug, serde::Serialize)]
pub(crate) struct ApiResult {
    run_id: String,
    user_id: String,
    taken_at: DateTime<Utc>,
    /// `null` when the run had no data (never 0 for that).
    people_count: Option<u32>,
    health: footfall_domain::Health,
    frames: u32,
    source: String,
    image_ref: Option<String>,
    picture: Option<String>,
}

impl ApiResult {
    fn new(record: ResultRecord, pictures: bool) -> Self {
        let picture = (pictures && record.image_ref.is_some())
            .then(|| format!("/api/users/{}/runs/{}.jpg", record.user_id, record.run_id));
        Self {
            source: redact_url(&record.source).into_owned(),
            run_id: record.run_id.into(),
            user_id: record.user_id.into(),
            taken_at: record.taken_at,
            people_count: record.people_count,
            health: record.health,
            frames: record.frames,
            image_ref: record.image_ref,
            picture,
        }
    }
}

#[derive(Debug, serde::Serialize)]
pub(crate) struct ApiUser {
    user_id: String,
    /// Without credentials.
    streaming_url: String,
    email: String,
    monitored: bool,
    threshold: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    latest: Option<ApiResult>,
    last_alert_at: Option<DateTime<Utc>>,
}

fn unknown(user_id: &str) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, format!("unknown user `{user_id}`"))
}

pub(crate) async fn users(State(state): State<AppState>) -> Result<Json<Vec<ApiUser>>, ApiError> {
    let store = state.store();
    let pictures = state.inner.data_dir.is_some();
    let users = store.list_users().await?;
    let out = futures::future::try_join_all(users.into_iter().map(|u| async move {
        let latest = store.latest_result(&u.user_id).await?;
        let last_alert = match UserId::parse(&u.user_id) {
            Ok(id) => store.last_alert(&id).await?,
            Err(_) => None,
        };
        Ok::<_, StoreError>(ApiUser {
            streaming_url: redact_url(&u.streaming_url).into_owned(),
            monitored: u.monitored(),
            user_id: u.user_id,
            email: u.email,
            threshold: u.threshold,
            created_at: u.created_at,
            updated_at: u.updated_at,
            latest: latest.map(|r| ApiResult::new(r, pictures)),
            last_alert_at: last_alert,
        })
    }))
    .await?;
    Ok(Json(out))
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct ResultsQuery {
    from: Option<String>,
    to: Option<String>,
    limit: Option<String>,
}

/// RFC 3339 (`2026-12-01T10:00:00Z`) or a date (`2026-12-01`, midnight UTC).
fn parse_time(name: &str, text: &str) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc());
    }
    Err(ApiError::new(
        StatusCode::BAD_REQUEST,
        format!("`{name}` must be RFC 3339 (2026-12-01T10:00:00Z) or a date (2026-12-01)"),
    ))
}

#[derive(Debug, serde::Serialize)]
pub(crate) struct ResultsBody {
    user_id: String,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    limit: u32,
    /// Oldest first; the newest `limit` of the range when it holds more.
    results: Vec<ApiResult>,
}

/// `GET /api/users/{id}/results?from=&to=&limit=`: results taken in `[from, to)`.
pub(crate) async fn results(
    State(state): State<AppState>,
    Path(user_id): Path<String>,
    Query(query): Query<ResultsQuery>,
) -> Result<Json<ResultsBody>, ApiError> {
    let id = UserId::parse(&user_id).map_err(|_| unknown(&user_id))?;
    let from = query
        .from
        .as_deref()
        .map(|t| parse_time("from", t))
        .transpose()?;
    let to = query
        .to
        .as_deref()
        .map(|t| parse_time("to", t))
        .transpose()?;
    let limit = match query.limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!("`limit` must be a whole number from 1 to {MAX_LIMIT}"),
                )
            })?,
    };
    if let (Some(from), Some(to)) = (from, to)
        && from > to
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "`from` is after `to`",
        ));
    }
    let store = state.store();
    if store.get_user(id.as_str()).await?.is_none() {
        return Err(unknown(&user_id));
    }
    let pictures = state.inner.data_dir.is_some();
    let records = store
        .results_between(id.as_str(), from, to, Some(limit))
        .await?;
    Ok(Json(ResultsBody {
        user_id: id.into(),
        from,
        to,
        limit,
        results: records
            .into_iter()
            .map(|r| ApiResult::new(r, pictures))
            .collect(),
    }))
}

/// `200 {"status":"ok"}` when the database answers, 503 otherwise. Needs no token.
pub(crate) async fn healthz(State(state): State<AppState>) -> Response {
    let store = state.store();
    match store.list_users().await {
        Ok(users) => Json(serde_json::json!({
            "status": "ok",
            "database": store.backend().to_string(),
            "users": users.len(),
        }))
        .into_response(),
        Err(error) => {
            tracing::warn!(%error, "health check: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({ "status": "database unreachable" })),
            )
                .into_response()
        }
    }
}
