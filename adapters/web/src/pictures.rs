//! The annotated pictures the local runner keeps at `{data_dir}/images/{user_id}/{run_id}.jpg`
//! (the result's `image_ref` is that path relative to the data folder).
//!
//! Only ids that parse as the domain's [`UserId`] / [`RunId`] are looked up, only the picture
//! the store names for that run is served, and only when its real path (symlinks and `..`
//! resolved) lies under `{data_dir}/images`. On AWS `image_ref` is an S3 key
//! (`pictures/{user}/{run}.jpg`): not served yet, answered with a 404 that says so.

use std::path::{Path, PathBuf};

use axum::extract::{Path as UrlPath, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use footfall_domain::{ResultRecord, RunId, UserId};

use crate::AppState;
use crate::api::ApiError;

fn not_found(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, message)
}

/// The file `image_ref` names, if it is a picture under `{data_dir}/images`.
pub(crate) fn resolve(data_dir: &Path, image_ref: &str) -> Result<PathBuf, ApiError> {
    let reference = Path::new(image_ref);
    let images = data_dir.join("images");
    let lexical = if reference.is_absolute() {
        reference.to_path_buf()
    } else {
        data_dir.join(reference)
    };
    if !lexical.starts_with(&images) {
        return Err(not_found(format!(
            "picture `{image_ref}` is not a local file under the data folder's images/ \
             (pictures kept in S3 are not served yet)"
        )));
    }
    if lexical.extension().and_then(|e| e.to_str()) != Some("jpg") {
        return Err(not_found(format!("picture `{image_ref}` is not a .jpg")));
    }
    let (Ok(images), Ok(real)) = (images.canonicalize(), lexical.canonicalize()) else {
        return Err(not_found(format!(
            "picture `{image_ref}` is no longer on disk (pictures are pruned after some days)"
        )));
    };
    if !real.starts_with(&images) || !real.is_file() {
        return Err(not_found(format!(
            "picture `{image_ref}` is not a file under images/"
        )));
    }
    Ok(real)
}

async fn send(state: &AppState, record: Option<ResultRecord>, immutable: bool) -> Response {
    let result = async {
        let Some(data_dir) = state.inner.data_dir.clone() else {
            return Err(not_found(
                "this server has no data folder (--data-dir), so it serves no pictures",
            ));
        };
        let Some(image_ref) = record.and_then(|r| r.image_ref) else {
            return Err(not_found("no picture was kept for this run"));
        };
        let path = resolve(&data_dir, &image_ref)?;
        let bytes = tokio::task::spawn_blocking(move || std::fs::read(path))
            .await
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
            .map_err(|_| not_found(format!("picture `{image_ref}` could not be read")))?;
        Ok(bytes)
    }
    .await;
    match result {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, "image/jpeg"),
                (
                    header::CACHE_CONTROL,
                    if immutable {
                        "private, max-age=86400"
                    } else {
                        "no-cache"
                    },
                ),
            ],
            bytes,
        )
            .into_response(),
        Err(error) => error.into_response(),
    }
}

/// `GET /api/users/{id}/latest.jpg`: the newest picture kept for the user.
pub(crate) async fn latest(
    State(state): State<AppState>,
    UrlPath(user_id): UrlPath<String>,
) -> Response {
    let Ok(id) = UserId::parse(&user_id) else {
        return not_found(format!("unknown user `{user_id}`")).into_response();
    };
    match state.store().latest_picture(id.as_str()).await {
        Ok(record) => send(&state, record, false).await,
        Err(error) => ApiError::from(error).into_response(),
    }
}

/// `GET /api/users/{id}/runs/{run_id}.jpg`: the picture of one run.
pub(crate) async fn run(
    State(state): State<AppState>,
    UrlPath((user_id, file)): UrlPath<(String, String)>,
) -> Response {
    let ids = UserId::parse(&user_id).ok().zip(
        file.strip_suffix(".jpg")
            .and_then(|run| RunId::parse(run).ok()),
    );
    let Some((user, run)) = ids else {
        return not_found("no such picture: expected /api/users/{user_id}/runs/{run_id}.jpg")
            .into_response();
    };
    match state
        .store()
        .result_of_run(user.as_str(), run.as_str())
        .await
    {
        Ok(record) => send(&state, record, true).await,
        Err(error) => ApiError::from(error).into_response(),
    }
}
