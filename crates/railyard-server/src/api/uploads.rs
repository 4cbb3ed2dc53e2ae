//! What agents send back besides logs and the result: a job's artifacts, kept in the
//! database as chunks (see `railyard_store::ArtifactUpload`), so that every server on one
//! PostgreSQL serves them; listed and downloaded through the API.
//!
//! An upload is `PUT /api/v1/jobs/{job_id}/artifacts/{path}?agent_id=…&attempt=…` with the
//! file as the body, under the job's lease. It is streamed into chunks under its own id and
//! becomes the artifact once whole, so a retried upload (the agent did not see the answer)
//! replaces the file with the same bytes, and a cut one leaves nothing that shows. The store
//! hashes the bytes as they are written: each artifact's row carries its SHA-256, which agents
//! check when they fetch the artifacts of a job's `needs` (see `inputs`).

use railyard_types::path::{UnsafePath, plain_relative};
use railyard_types::{Millis, RunId};
use std::path::PathBuf;

use axum::body::Body as RawBody;
use axum::extract::State;
use axum::http::header;
use futures_util::StreamExt;
use railyard_types::api::{DownloadArtifact, ListArtifacts, UploadArtifact};

use super::caller::Caller;
use super::pools::AgentToken;
use super::retention::{Quota, not_pruned};
use super::{ApiResult, Params, Query, Raw, Reply, Upload};
use crate::AppState;
use crate::error::ApiError;
use crate::protocol::ArtifactEntry;
use railyard_store::{ARTIFACT_CHUNK_BYTES, ArtifactUpload, StoredArtifact};
use railyard_types::api::Endpoint;

/// `path` as a relative path of plain names, or why not: nothing may climb out of the job's
/// folder (`..`, an absolute path, a drive) or hide in an empty or `.` component.
pub fn safe_relative(path: &str) -> Result<PathBuf, String> {
    plain_relative(path).map_err(|why| match why {
        UnsafePath::Empty => "the artifact path is empty".to_owned(),
        why => format!(
            "artifact path `{path}` is not a plain name: {why} (no `..`, no absolute paths, no empty parts)"
        ),
    })
}

/// Why an artifact of `size` bytes (or more) is refused.
fn over_limit(name: &str, limit: u64) -> ApiError {
    ApiError::TooLarge(format!(
        "artifact `{name}` is over the server's limit of {limit} bytes ({} MiB): keep large \
         outputs elsewhere (an image, a package registry) or leave them out of `artifacts`",
        limit >> 20
    ))
}

/// Where an upload's chunks go: an artifact's or a cache's upload in the store.
pub(super) trait Chunks {
    /// Bytes stored so far.
    fn stored(&self) -> i64;
    /// Stores the next chunk.
    async fn put(&mut self, bytes: &[u8]) -> ApiResult<()>;
}

impl Chunks for ArtifactUpload {
    fn stored(&self) -> i64 {
        self.size()
    }
    async fn put(&mut self, bytes: &[u8]) -> ApiResult<()> {
        Ok(self.write(bytes, Millis::now()).await?)
    }
}

impl Chunks for railyard_store::CacheUpload {
    fn stored(&self) -> i64 {
        self.size()
    }
    async fn put(&mut self, bytes: &[u8]) -> ApiResult<()> {
        Ok(self.write(bytes, Millis::now()).await?)
    }
}

/// Streams `body` into `upload` in chunks of [`ARTIFACT_CHUNK_BYTES`]; `check` sees the
/// running total before each chunk is kept and refuses past a bound. Returns the total.
pub(super) async fn write_chunks(
    upload: &mut impl Chunks,
    body: RawBody,
    check: impl Fn(u64) -> ApiResult<()>,
) -> ApiResult<u64> {
    let mut stream = body.into_data_stream();
    let mut pending: Vec<u8> = Vec::with_capacity(ARTIFACT_CHUNK_BYTES);
    let mut total: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadRequest(format!("the upload was cut: {e}")))?;
        total += chunk.len() as u64;
        check(total)?;
        pending.extend_from_slice(&chunk);
        if pending.len() >= ARTIFACT_CHUNK_BYTES {
            upload.put(&pending).await?;
            pending.clear();
        }
    }
    if !pending.is_empty() || upload.stored() == 0 {
        upload.put(&pending).await?;
    }
    Ok(total)
}

/// Streams `body` into `upload`, refusing more than `limit` bytes, or more than the
/// project's `quota` has room for.
async fn write_body(
    upload: &mut ArtifactUpload,
    name: &str,
    body: RawBody,
    limit: u64,
    quota: Option<&Quota>,
) -> ApiResult<()> {
    write_chunks(upload, body, |total| {
        if total > limit {
            return Err(over_limit(name, limit));
        }
        match quota {
            Some(quota) if total > quota.room() => Err(quota.refuse(total)),
            _ => Ok(()),
        }
    })
    .await?;
    Ok(())
}

pub(super) async fn upload(
    State(state): State<AppState>,
    token: AgentToken,
    Params((id, path)): Params<UploadArtifact>,
    Query(lease): Query<UploadArtifact>,
    Upload { body, length, .. }: Upload<UploadArtifact>,
) -> ApiResult<Reply<UploadArtifact>> {
    safe_relative(&path).map_err(ApiError::BadRequest)?;
    let name = path.rsplit('/').next().unwrap_or(&path).to_string();
    let limit = state.config().max_artifact_bytes;
    // Declared too large: refused before the lease is read or a byte stored.
    if length.is_some_and(|n| n > limit) {
        return Err(over_limit(&name, limit));
    }
    token
        .check(&state, &lease.agent_id, |_| {
            ApiError::LeaseLost(id.to_string())
        })
        .await?;
    let (claim, _) = state
        .store()
        .leased_job(&id, &lease.agent_id, lease.attempt)
        .await?
        .ok_or_else(|| ApiError::LeaseLost(id.to_string()))?;
    // The project's quota, before a byte is stored: a declared length over it is refused at
    // once, a body without one when it gets there. Concurrent uploads of one project each
    // see the usage at their start, so together they may pass the quota by their sizes.
    let replacing = state
        .store()
        .artifact(&claim.run_id, &claim.job, &path)
        .await?
        .map_or(0, |a| a.size.max(0) as u64);
    let quota = Quota::of(&state, &claim.project, replacing).await?;
    if let (Some(quota), Some(n)) = (&quota, length)
        && n > quota.room()
    {
        return Err(quota.refuse(n));
    }
    let mut upload = state.store().begin_artifact();
    if let Err(e) = write_body(&mut upload, &name, body, limit, quota.as_ref()).await {
        if let Err(gone) = upload.abandon().await {
            tracing::warn!(
                "deleting a refused upload of `{path}`: {}",
                railyard_types::error::Chain(&gone)
            );
        }
        return Err(e);
    }
    let stored = upload
        .finish(&id, &lease.agent_id, lease.attempt, &path, Millis::now())
        .await?;
    if !stored {
        return Err(ApiError::LeaseLost(id.into_string()));
    }
    tracing::info!(job = %claim.job, run = %claim.run_id, %path, "artifact stored");
    Ok(Reply::new(()))
}

/// The run's id from an id, id prefix or number; 410 when its artifacts were pruned.
async fn run_id<E: Endpoint>(state: &AppState, caller: &Caller<E>, id: &str) -> ApiResult<RunId> {
    let run = caller.run(state, id).await?.run;
    not_pruned(state, &run, "artifacts").await?;
    Ok(run.id)
}

pub(super) async fn list(
    State(state): State<AppState>,
    caller: Caller<ListArtifacts>,
    Params((id, job)): Params<ListArtifacts>,
) -> ApiResult<Reply<ListArtifacts>> {
    let run_id = run_id(&state, &caller, &id).await?;
    let stored = state.store().artifacts(&run_id, &job).await?;
    Ok(Reply::new(
        stored
            .into_iter()
            .map(|a| ArtifactEntry {
                path: a.path,
                size: a.size as u64,
                sha256: a.sha256,
            })
            .collect(),
    ))
}

pub(super) async fn download(
    State(state): State<AppState>,
    caller: Caller<DownloadArtifact>,
    Params((id, job, path)): Params<DownloadArtifact>,
) -> ApiResult<Raw<DownloadArtifact>> {
    safe_relative(&path).map_err(ApiError::BadRequest)?;
    let run_id = run_id(&state, &caller, &id).await?;
    let Some(stored) = state.store().artifact(&run_id, &job, &path).await? else {
        return Err(ApiError::NotFound(format!(
            "artifact `{path}` of job `{job}` of run {id}"
        )));
    };
    Ok(Raw::new(stream(&state, stored)))
}

/// The bytes of a stored artifact as a streamed answer, with its length.
pub(super) fn stream(
    state: &AppState,
    stored: StoredArtifact,
) -> impl axum::response::IntoResponse {
    let octets = (header::CONTENT_TYPE, "application/octet-stream".to_owned());
    let length = (header::CONTENT_LENGTH, stored.size.to_string());
    // One chunk in memory at a time. A resend that replaces the file meanwhile ends the
    // stream early: the length header lets the client see it was cut.
    let store = state.store().clone();
    let chunks = futures_util::stream::unfold(0i64, move |seq| {
        let (store, upload) = (store.clone(), stored.upload_id.clone());
        async move {
            if seq >= stored.chunks {
                return None;
            }
            match store.artifact_chunk(&upload, seq).await {
                Ok(Some(bytes)) => Some((Ok(bytes), seq + 1)),
                Ok(None) => None,
                Err(e) => Some((Err(std::io::Error::other(e)), stored.chunks)),
            }
        }
    });
    ([octets, length], RawBody::from_stream(chunks))
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
}
