//! What agents send back besides logs and the result: a job's artifacts, kept under the data
//! folder (`<data>/artifacts/<run id>/<job>/<path>`), listed and downloaded through the API.
//!
//! An upload is `PUT /api/v1/jobs/{job_id}/artifacts/{path}?agent_id=…&attempt=…` with the
//! file as the body, under the job's lease. It is streamed to a temporary file beside its
//! place and renamed there once whole, so a retried upload (the agent did not see the answer)
//! replaces the file with the same bytes, and a cut one leaves nothing.

use std::path::{Component, Path as FsPath, PathBuf};

use axum::Json;
use axum::body::Body as RawBody;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::Deserialize;
use tokio::io::AsyncWriteExt;

use super::{Admin, AgentAuth, ApiResult};
use crate::AppState;
use crate::error::ApiError;
use crate::protocol::ArtifactEntry;

/// The largest artifact file the server takes.
pub const MAX_ARTIFACT_BYTES: u64 = 256 << 20;

/// The lease an upload is made under.
#[derive(Debug, Deserialize)]
pub(super) struct UploadQuery {
    agent_id: String,
    attempt: i64,
}

/// Where the server keeps artifacts: `artifacts/` beside the mirrors, in the data folder.
fn artifacts_root(state: &AppState) -> PathBuf {
    state.config().mirrors_dir.with_file_name("artifacts")
}

/// The folder of one job's artifacts.
fn job_dir(state: &AppState, run_id: &str, job: &str) -> PathBuf {
    artifacts_root(state)
        .join(run_id)
        .join(railyard_store::log_file_name(job).trim_end_matches(".log"))
}

/// `path` as a relative path of plain names, or why not: nothing may climb out of the job's
/// folder (`..`, an absolute path, a drive) or hide in an empty or `.` component.
pub fn safe_relative(path: &str) -> Result<PathBuf, String> {
    if path.is_empty() {
        return Err("the artifact path is empty".into());
    }
    let mut out = PathBuf::new();
    for part in path.split('/') {
        let mut components = FsPath::new(part).components();
        match (components.next(), components.next()) {
            (Some(Component::Normal(name)), None) if part != "." => out.push(name),
            _ => {
                return Err(format!(
                    "artifact path `{path}`: `{part}` is not a plain name (no `..`, no absolute paths, no empty parts)"
                ));
            }
        }
    }
    Ok(out)
}

/// How the temporary file of an upload in progress is named. A server killed mid-upload
/// leaves one behind; listings skip them.
const UPLOAD_PREFIX: &str = ".railyard-upload-";

/// Streams `body` into `dest` (through a temporary file beside it, renamed once whole),
/// refusing more than `limit` bytes.
pub async fn store_file(
    dest: &FsPath,
    body: RawBody,
    limit: u64,
) -> Result<(), (StatusCode, String)> {
    let internal = |e: std::io::Error| {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("writing {}: {e}", dest.display()),
        )
    };
    let parent = dest.parent().expect("a job folder holds the file");
    tokio::fs::create_dir_all(parent).await.map_err(internal)?;
    let temp = tempfile::Builder::new()
        .prefix(UPLOAD_PREFIX)
        .tempfile_in(parent)
        .map_err(internal)?;
    let (std_file, temp_path) = temp.into_parts();
    let mut file = tokio::fs::File::from_std(std_file);
    let mut stream = body.into_data_stream();
    let mut written: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| (StatusCode::BAD_REQUEST, format!("the upload was cut: {e}")))?;
        written += chunk.len() as u64;
        if written > limit {
            return Err((
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "artifact `{}` is over the server's limit of {limit} bytes: keep large outputs elsewhere or leave them out of `artifacts`",
                    dest.file_name().unwrap_or_default().to_string_lossy()
                ),
            ));
        }
        file.write_all(&chunk).await.map_err(internal)?;
    }
    file.flush().await.map_err(internal)?;
    file.sync_all().await.map_err(internal)?;
    temp_path.persist(dest).map_err(|e| internal(e.error))?;
    Ok(())
}

pub(super) async fn upload(
    State(state): State<AppState>,
    _auth: AgentAuth,
    Path((id, path)): Path<(String, String)>,
    Query(lease): Query<UploadQuery>,
    body: RawBody,
) -> ApiResult<StatusCode> {
    let relative = safe_relative(&path).map_err(ApiError::BadRequest)?;
    let (claim, _) = state
        .store()
        .leased_job(&id, &lease.agent_id, lease.attempt)
        .await?
        .ok_or_else(|| ApiError::LeaseLost(id.clone()))?;
    let dest = job_dir(&state, &claim.run_id, &claim.job).join(&relative);
    match store_file(&dest, body, MAX_ARTIFACT_BYTES).await {
        Ok(()) => {}
        Err((StatusCode::PAYLOAD_TOO_LARGE, message)) => return Err(ApiError::TooLarge(message)),
        Err((StatusCode::BAD_REQUEST, message)) => return Err(ApiError::BadRequest(message)),
        Err((_, message)) => return Err(ApiError::Internal(message)),
    }
    tracing::info!(job = %claim.job, run = %claim.run_id, %path, "artifact stored");
    Ok(StatusCode::NO_CONTENT)
}

/// The run's id from an id, id prefix or number.
async fn run_id(state: &AppState, id: &str) -> ApiResult<String> {
    Ok(state
        .store()
        .find_run(None, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("run `{id}`")))?
        .run
        .id)
}

pub(super) async fn list(
    State(state): State<AppState>,
    _auth: Admin,
    Path((id, job)): Path<(String, String)>,
) -> ApiResult<Json<Vec<ArtifactEntry>>> {
    let dir = job_dir(&state, &run_id(&state, &id).await?, &job);
    let entries = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        for entry in walkdir::WalkDir::new(&dir).sort_by_file_name() {
            let Ok(entry) = entry else { continue };
            if !entry.file_type().is_file()
                || entry
                    .file_name()
                    .to_string_lossy()
                    .starts_with(UPLOAD_PREFIX)
            {
                continue;
            }
            let Ok(rel) = entry.path().strip_prefix(&dir) else {
                continue;
            };
            let parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push(ArtifactEntry {
                path: parts.join("/"),
                size: entry.metadata().map(|m| m.len()).unwrap_or(0),
            });
        }
        out
    })
    .await
    .map_err(|e| ApiError::Internal(format!("listing artifacts: {e}")))?;
    Ok(Json(entries))
}

pub(super) async fn download(
    State(state): State<AppState>,
    _auth: Admin,
    Path((id, job, path)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let relative = safe_relative(&path).map_err(ApiError::BadRequest)?;
    let file = job_dir(&state, &run_id(&state, &id).await?, &job).join(relative);
    let opened = match tokio::fs::File::open(&file).await {
        Ok(f) if f.metadata().await.is_ok_and(|m| m.is_file()) => f,
        _ => {
            return Err(ApiError::NotFound(format!(
                "artifact `{path}` of job `{job}` of run {id}"
            )));
        }
    };
    let body = RawBody::from_stream(tokio_util::io::ReaderStream::new(opened));
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], body).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_paths_pass() {
        assert_eq!(safe_relative("a/b.txt").unwrap(), PathBuf::from("a/b.txt"));
        for bad in ["", "../x", "a/../../x", "/etc/passwd", "a//b", "./a", "a/."] {
            let e = safe_relative(bad).unwrap_err();
            assert!(
                e.contains("not a plain name") || e.contains("empty"),
                "{bad}: {e}"
            );
        }
    }

    #[tokio::test]
    async fn a_file_over_the_limit_is_refused_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("job/big.bin");
        let (status, message) = store_file(&dest, RawBody::from(vec![7u8; 1025]), 1024)
            .await
            .unwrap_err();
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(
            message.contains("over the server's limit of 1024 bytes"),
            "{message}"
        );
        let left: Vec<_> = std::fs::read_dir(dir.path().join("job")).unwrap().collect();
        assert!(left.is_empty(), "the temporary file is gone");
        // At the limit it is stored; a resend replaces it with the same bytes.
        for _ in 0..2 {
            store_file(&dest, RawBody::from(vec![7u8; 1024]), 1024)
                .await
                .unwrap();
        }
        assert_eq!(std::fs::read(&dest).unwrap(), vec![7u8; 1024]);
    }
}
