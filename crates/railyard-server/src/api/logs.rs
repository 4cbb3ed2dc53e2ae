//! Job logs: the agent's numbered chunks in, a job's whole log out. Both go through the
//! database (see the store's `job_logs`), so every server on one database serves the same
//! log.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use railyard_store::{ChunkOutcome, StoreError};

use super::{Admin, AgentAuth, ApiResult, Body};
use crate::AppState;
use crate::error::ApiError;
use crate::protocol::*;

/// `POST /jobs/{id}/logs`: stores chunk `seq` of the attempt once (a resend is acknowledged
/// again; one after chunks the database lost, after a line naming them) and refuses one from
/// an agent that lost the lease (410).
pub(super) async fn log_chunk(
    State(state): State<AppState>,
    _auth: AgentAuth,
    Path(id): Path<String>,
    Body(chunk): Body<LogChunk>,
) -> ApiResult<Json<LogAck>> {
    let stored = state
        .store()
        .append_log_chunk(
            &id,
            &chunk.agent_id,
            chunk.attempt,
            chunk.seq,
            chunk.text.as_bytes(),
        )
        .await;
    match stored {
        Ok(ChunkOutcome::Stored) => Ok(Json(LogAck { acked: chunk.seq })),
        Ok(ChunkOutcome::AlreadyStored { last }) => Ok(Json(LogAck { acked: last })),
        Ok(ChunkOutcome::LeaseLost) => Err(ApiError::LeaseLost(id)),
        Err(e) => Err(e.into()),
    }
}

/// `GET /runs/{id}/logs/{job}`: the job's log as stored so far.
pub(super) async fn job_log(
    State(state): State<AppState>,
    _auth: Admin,
    Path((id, job)): Path<(String, String)>,
) -> ApiResult<Response> {
    let run = state
        .store()
        .find_run(None, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("run `{id}`")))?;
    match state.store().job_log(&run.run.id, &job).await {
        Ok(bytes) => {
            Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], bytes).into_response())
        }
        Err(StoreError::NoLog { .. }) => Err(ApiError::NotFound(format!(
            "log of job `{job}` of run {}",
            run.run.id
        ))),
        Err(e) => Err(e.into()),
    }
}
