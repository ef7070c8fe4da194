//! The HTML pages: overview, tile fragments (live updates), stream page, CSV export, managing
//! users, sign-in and errors. Templates are in `templates/` (askama: compiled in, every value
//! HTML-escaped unless marked `|safe`, which only the server-drawn SVG is).

use askama::Template;
use axum::extract::{Path, Query, RawForm, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{Duration, Utc};
use footfall_domain::csv::{RESULT_CSV_HEADER, result_csv_line};
use footfall_domain::{UserId, redact_url};
use results_store::{NewUser, StoreError};

use crate::AppState;
use crate::svg;
use crate::validate::{parse_threshold, validate_email, validate_stream_url};
use crate::view::{self, Range, RunRow, Tile};

/// Rows the runs table shows at most (the CSV export has the whole range).
const MAX_TABLE_ROWS: usize = 500;

/// A page that could not be shown, as an HTML error page.
#[derive(Debug)]
pub(crate) struct PageError {
    pub status: StatusCode,
    pub message: String,
}

impl PageError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

impl From<StoreError> for PageError {
    fn from(error: StoreError) -> Self {
        let status = match &error {
            StoreError::UnknownUser(_) => StatusCode::NOT_FOUND,
            StoreError::UserExists(_) => StatusCode::CONFLICT,
            StoreError::Invalid { .. } => StatusCode::BAD_REQUEST,
            _ => {
                tracing::error!(%error, "store failed while serving a page");
                return Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The database could not be read; see the server log.",
                );
            }
        };
        Self::new(status, error.to_string())
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    message: &'a str,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let page = ErrorPage {
            status: self.status.as_u16(),
            message: &self.message,
        };
        (self.status, render(&page)).into_response()
    }
}

/// A template as an HTML response (a 500 if it cannot render, which a test would catch).
pub(crate) fn render(template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(error) => {
            tracing::error!(%error, "template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "template error").into_response()
        }
    }
}

/// A user id from a path, or 404 (an id that cannot exist names no user).
pub(crate) fn path_user(text: &str) -> Result<UserId, PageError> {
    UserId::parse(text)
        .map_err(|_| PageError::new(StatusCode::NOT_FOUND, format!("No user `{text}`.")))
}

async fn known_user(state: &AppState, text: &str) -> Result<results_store::User, PageError> {
    let id = path_user(text)?;
    state
        .store()
        .get_user(id.as_str())
        .await?
        .ok_or_else(|| PageError::new(StatusCode::NOT_FOUND, format!("No user `{text}`.")))
}

fn pictures(state: &AppState) -> bool {
    state.inner.data_dir.is_some()
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    tiles: Vec<Tile>,
    now: String,
}

pub(crate) async fn overview(State(state): State<AppState>) -> Result<Response, PageError> {
    let now = Utc::now();
    let tiles = view::tiles(state.store(), pictures(&state), now).await?;
    Ok(render(&OverviewPage {
        tiles,
        now: now.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    }))
}

#[derive(Template)]
#[template(path = "tile_fragment.html")]
struct TileFragment {
    tile: Tile,
}

/// One tile, for the overview's live updates.
pub(crate) async fn tile(
    State(state): State<AppState>,
    Path(user_id): Path<String>,
) -> Result<Response, PageError> {
    let user = known_user(&state, &user_id).await?;
    let tile = view::tile(state.store(), &user, pictures(&state), Utc::now()).await?;
    Ok(render(&TileFragment { tile }))
}

#[derive(serde::Deserialize)]
pub(crate) struct RangeQuery {
    range: Option<String>,
}

fn range_of(query: &RangeQuery) -> Result<Range, PageError> {
    Range::parse(query.range.as_deref()).ok_or_else(|| {
        PageError::new(
            StatusCode::BAD_REQUEST,
            "Unknown range: use hour, day, week, month or year.",
        )
    })
}

#[derive(Template)]
#[template(path = "stream.html")]
struct StreamPage {
    tile: Tile,
    email: String,
    ranges: Vec<&'static str>,
    range: &'static str,
    chart: String,
    summary: String,
    from: String,
    to: String,
    runs: Vec<RunRow>,
    truncated: bool,
}

pub(crate) async fn stream(
    State(state): State<AppState>,
    Path(user_id): Path<String>,
    Query(query): Query<RangeQuery>,
) -> Result<Response, PageError> {
    let range = range_of(&query)?;
    let user = known_user(&state, &user_id).await?;
    let store = state.store();
    let now = Utc::now();
    let from = now - range.span();
    let pics = pictures(&state);
    let to = now + Duration::minutes(1);
    // The chart needs times and counts of the whole range; the table only its newest rows.
    let (tile, counts, newest) = futures::try_join!(
        view::tile(store, &user, pics, now),
        store.counts_between(&user.user_id, Some(from), Some(to)),
        store.results_between(
            &user.user_id,
            Some(from),
            Some(to),
            Some(MAX_TABLE_ROWS as u32)
        ),
    )?;
    let threshold = tile.threshold;
    let points: Vec<svg::Point> = counts
        .iter()
        .map(|&(t, people)| svg::Point { t, people })
        .collect();
    let chart = svg::chart(&points, from, now, threshold);
    let with_data: Vec<u32> = counts.iter().filter_map(|&(_, n)| n).collect();
    let summary = if counts.is_empty() {
        "No runs".to_string()
    } else {
        let mean =
            with_data.iter().map(|&n| f64::from(n)).sum::<f64>() / with_data.len().max(1) as f64;
        format!(
            "{} runs, {} with data, max {}, mean {:.1}",
            counts.len(),
            with_data.len(),
            with_data
                .iter()
                .max()
                .map_or("–".to_string(), |m| m.to_string()),
            mean
        )
    };
    let runs: Vec<RunRow> = newest
        .iter()
        .rev()
        .map(|r| view::run_row(r, threshold, pics))
        .collect();
    let page = StreamPage {
        email: user.email.clone(),
        ranges: Range::ALL.iter().map(|r| r.name()).collect(),
        range: range.name(),
        chart,
        summary,
        from: from.format("%Y-%m-%d %H:%M").to_string(),
        to: now.format("%Y-%m-%d %H:%M").to_string(),
        truncated: counts.len() > runs.len(),
        runs,
        tile,
    };
    Ok(render(&page))
}

/// The range's results in the results-CSV columns (stream URLs without credentials).
pub(crate) async fn export_csv(
    State(state): State<AppState>,
    Path(user_id): Path<String>,
    Query(query): Query<RangeQuery>,
) -> Result<Response, PageError> {
    let range = range_of(&query)?;
    let user = known_user(&state, &user_id).await?;
    let now = Utc::now();
    let records = state
        .store()
        .results_between(
            &user.user_id,
            Some(now - range.span()),
            Some(now + Duration::minutes(1)),
            None,
        )
        .await?;
    let mut body = String::with_capacity(64 + records.len() * 96);
    body.push_str(RESULT_CSV_HEADER);
    body.push('\n');
    for mut record in records {
        record.source = redact_url(&record.source).into_owned();
        body.push_str(&result_csv_line(&record));
    }
    let disposition = format!(
        "attachment; filename=\"{}-{}-{}.csv\"",
        user.user_id,
        range.name(),
        now.format("%Y%m%dT%H%M%SZ")
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

struct UserRow {
    user_id: String,
    source: String,
    email: String,
    monitored: bool,
    threshold: i64,
}

/// The add form's values, kept when it is refused so nothing has to be typed again.
#[derive(Default)]
struct AddForm {
    user_id: String,
    url: String,
    email: String,
    threshold: String,
    monitored: bool,
}

#[derive(Template)]
#[template(path = "manage.html")]
struct ManagePage {
    users: Vec<UserRow>,
    csrf: String,
    error: Option<String>,
    notice: Option<String>,
    form: AddForm,
}

async fn manage_page(
    state: &AppState,
    status: StatusCode,
    error: Option<String>,
    notice: Option<String>,
    form: AddForm,
) -> Result<Response, PageError> {
    let users = state
        .store()
        .list_users()
        .await?
        .into_iter()
        .map(|u| UserRow {
            source: redact_url(&u.streaming_url).into_owned(),
            monitored: u.monitored(),
            user_id: u.user_id,
            email: u.email,
            threshold: u.threshold,
        })
        .collect();
    let page = ManagePage {
        users,
        csrf: state.inner.auth.csrf_token(),
        error,
        notice,
        form,
    };
    Ok((status, render(&page)).into_response())
}

#[derive(serde::Deserialize)]
pub(crate) struct ManageQuery {
    done: Option<String>,
    user: Option<String>,
}

pub(crate) async fn manage(
    State(state): State<AppState>,
    Query(query): Query<ManageQuery>,
) -> Result<Response, PageError> {
    let user = query.user.unwrap_or_default();
    let notice = match query.done.as_deref() {
        Some("added") => Some(format!("Added {user}.")),
        Some("enabled") => Some(format!("Monitoring {user}.")),
        Some("disabled") => Some(format!("Stopped monitoring {user}.")),
        Some("threshold") => Some(format!("Threshold of {user} changed.")),
        _ => None,
    };
    let form = AddForm {
        threshold: results_store::DEFAULT_THRESHOLD.to_string(),
        monitored: true,
        ..AddForm::default()
    };
    manage_page(&state, StatusCode::OK, None, notice, form).await
}

/// The fields of a posted form, after its CSRF token was checked (403 without a valid one).
fn checked_form(state: &AppState, form: &RawForm) -> Result<Vec<(String, String)>, PageError> {
    let fields: Vec<(String, String)> = url::form_urlencoded::parse(&form.0).into_owned().collect();
    let csrf = fields
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str());
    if !csrf.is_some_and(|token| state.inner.auth.csrf_valid(token)) {
        return Err(PageError::new(
            StatusCode::FORBIDDEN,
            "This form is out of date or did not come from this server (CSRF check). Reload the page and try again.",
        ));
    }
    Ok(fields)
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn done(what: &str, user: &str) -> Response {
    let user: String = url::form_urlencoded::byte_serialize(user.as_bytes()).collect();
    Redirect::to(&format!("/manage?done={what}&user={user}")).into_response()
}

pub(crate) async fn add_user(
    State(state): State<AppState>,
    form: RawForm,
) -> Result<Response, PageError> {
    let fields = checked_form(&state, &form)?;
    let form = AddForm {
        user_id: field(&fields, "user_id").unwrap_or("").trim().to_string(),
        url: field(&fields, "url").unwrap_or("").to_string(),
        email: field(&fields, "email").unwrap_or("").trim().to_string(),
        threshold: field(&fields, "threshold").unwrap_or("").to_string(),
        monitored: field(&fields, "monitored").is_some_and(|v| v == "1" || v == "on"),
    };
    let checked = (|| -> Result<NewUser, String> {
        UserId::parse(&form.user_id).map_err(|e| e.to_string())?;
        let url = validate_stream_url(&form.url)?;
        validate_email(&form.email)?;
        let threshold = if form.threshold.trim().is_empty() {
            results_store::DEFAULT_THRESHOLD
        } else {
            parse_threshold(&form.threshold)?
        };
        Ok(NewUser {
            user_id: form.user_id.clone(),
            streaming_url: url,
            email: form.email.clone(),
            threshold,
            monitored: form.monitored,
        })
    })();
    let user = match checked {
        Ok(user) => user,
        Err(reason) => {
            return manage_page(&state, StatusCode::BAD_REQUEST, Some(reason), None, form).await;
        }
    };
    match state.store().add_user(&user).await {
        Ok(_) => Ok(done("added", &user.user_id)),
        Err(error @ (StoreError::UserExists(_) | StoreError::Invalid { .. })) => {
            let status = if matches!(error, StoreError::UserExists(_)) {
                StatusCode::CONFLICT
            } else {
                StatusCode::BAD_REQUEST
            };
            manage_page(&state, status, Some(error.to_string()), None, form).await
        }
        Err(error) => Err(error.into()),
    }
}

pub(crate) async fn set_monitoring(
    State(state): State<AppState>,
    Path(user_id): Path<String>,
    form: RawForm,
) -> Result<Response, PageError> {
    let fields = checked_form(&state, &form)?;
    let id = path_user(&user_id)?;
    let monitored = match field(&fields, "monitored") {
        Some("1") => true,
        Some("0") => false,
        _ => {
            return Err(PageError::new(
                StatusCode::BAD_REQUEST,
                "monitored must be 1 or 0",
            ));
        }
    };
    state.store().set_monitoring(id.as_str(), monitored).await?;
    Ok(done(
        if monitored { "enabled" } else { "disabled" },
        id.as_str(),
    ))
}

pub(crate) async fn set_threshold(
    State(state): State<AppState>,
    Path(user_id): Path<String>,
    form: RawForm,
) -> Result<Response, PageError> {
    let fields = checked_form(&state, &form)?;
    let id = path_user(&user_id)?;
    let threshold = parse_threshold(field(&fields, "threshold").unwrap_or(""))
        .map_err(|reason| PageError::new(StatusCode::BAD_REQUEST, reason))?;
    state.store().set_threshold(id.as_str(), threshold).await?;
    Ok(done("threshold", id.as_str()))
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    error: Option<&'a str>,
}

pub(crate) fn login_page(error: Option<&str>) -> Response {
    render(&LoginPage { error })
}

pub(crate) async fn not_found() -> PageError {
    PageError::new(StatusCode::NOT_FOUND, "Nothing here.")
}

const CSS: &str = include_str!("../static/app.css");
const JS: &str = include_str!("../static/app.js");

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        body,
    )
        .into_response()
}

pub(crate) async fn css() -> Response {
    asset("text/css; charset=utf-8", CSS)
}

pub(crate) async fn js() -> Response {
    asset("text/javascript; charset=utf-8", JS)
}
