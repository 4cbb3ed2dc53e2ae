//! Job logs: the agent's numbered chunks in, a job's whole log out. Both go through the
//! database (see the store's `job_logs`), so every server on one database serves the same
//! log.

use axum::extract::State;
use railyard_store::{ChunkOutcome, StoreError};
use railyard_types::api::{JobLog, SendLog};

use super::{ApiResult, Body, Params, Reply};
use crate::AppState;
use crate::error::ApiError;
use crate::protocol::*;

/// `POST /jobs/{id}/logs`: stores chunk `seq` of the attempt once (a resend is acknowledged
/// again; one after chunks the database lost, after a line naming them) and refuses one from
/// an agent that lost the lease (410).
pub(super) async fn log_chunk(
    State(state): State<AppState>,
    Params(id): Params<SendLog>,
    Body(chunk): Body<SendLog>,
) -> ApiResult<Reply<SendLog>> {
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
        Ok(ChunkOutcome::Stored) => Ok(Reply::new(LogAck { acked: chunk.seq })),
        Ok(ChunkOutcome::AlreadyStored { last }) => Ok(Reply::new(LogAck { acked: last })),
        Ok(ChunkOutcome::LeaseLost) => Err(ApiError::LeaseLost(id.into_string())),
        Err(e) => Err(e.into()),
    }
}

/// `GET /runs/{id}/logs/{job}`: the job's log as stored so far.
pub(super) async fn job_log(
    State(state): State<AppState>,
    Params((id, job)): Params<JobLog>,
) -> ApiResult<Reply<JobLog>> {
    let run = state
        .store()
        .find_run(None, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("run `{id}`")))?;
    match state.store().job_log(&run.run.id, &job).await {
        // Chunks arrive as JSON strings, so a stored log is UTF-8.
        Ok(bytes) => {
            Ok(Reply::new(String::from_utf8(bytes).unwrap_or_else(|e| {
                String::from_utf8_lossy(e.as_bytes()).into_owned()
            })))
        }
        Err(StoreError::NoLog { .. }) => Err(ApiError::NotFound(format!(
            "log of job `{job}` of run {}",
            run.run.id
        ))),
        Err(e) => Err(e.into()),
    }
}
