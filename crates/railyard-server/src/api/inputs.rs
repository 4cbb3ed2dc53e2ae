//! What an agent fetches before a job runs: the artifacts of the jobs it `needs`, which ran
//! earlier in the same run, usually on other agents. Both calls are made under the job's
//! lease and reach only the artifacts of the leased job's own run: the run comes from the
//! lease, never from the request, so no agent token reads another run's or project's files.
//!
//! `GET /api/v1/jobs/{id}/inputs` lists every artifact of the run with the pipeline job (and
//! shard) that stored it, its size and SHA-256; the agent keeps those of the needs the job
//! takes artifacts from and downloads each with `GET /api/v1/jobs/{id}/inputs/{job}/{*path}`,
//! checking the bytes against the listing.

use axum::extract::State;
use railyard_store::Claim;
use railyard_types::JobId;
use railyard_types::api::{DownloadInput, ListInputs};
use railyard_types::protocol::UploadQuery;

use super::pools::AgentToken;
use super::uploads::{safe_relative, stream};
use super::{ApiResult, Params, Query, Raw, Reply};
use crate::AppState;
use crate::error::ApiError;

/// The job `id` as leased by the query's agent and attempt, asked with a token of that
/// agent's pool; a lost lease is refused.
pub(super) async fn leased(
    state: &AppState,
    token: &AgentToken,
    id: &JobId,
    lease: &UploadQuery,
) -> ApiResult<Claim> {
    token
        .check(state, &lease.agent_id, |_| {
            ApiError::LeaseLost(id.to_string())
        })
        .await?;
    Ok(state
        .store()
        .leased_job(id, &lease.agent_id, lease.attempt)
        .await?
        .ok_or_else(|| ApiError::LeaseLost(id.to_string()))?
        .0)
}

pub(super) async fn list(
    State(state): State<AppState>,
    token: AgentToken,
    Params(id): Params<ListInputs>,
    Query(lease): Query<ListInputs>,
) -> ApiResult<Reply<ListInputs>> {
    let claim = leased(&state, &token, &id, &lease).await?;
    Ok(Reply::new(
        state.store().run_artifacts(&claim.run_id).await?,
    ))
}

pub(super) async fn download(
    State(state): State<AppState>,
    token: AgentToken,
    Params((id, job, path)): Params<DownloadInput>,
    Query(lease): Query<DownloadInput>,
) -> ApiResult<Raw<DownloadInput>> {
    safe_relative(&path).map_err(ApiError::BadRequest)?;
    let claim = leased(&state, &token, &id, &lease).await?;
    let Some(stored) = state.store().artifact(&claim.run_id, &job, &path).await? else {
        return Err(ApiError::NotFound(format!(
            "artifact `{path}` of job `{job}` in the run of job {id} (run {})",
            claim.run_id
        )));
    };
    Ok(Raw::new(stream(&state, stored)))
}
