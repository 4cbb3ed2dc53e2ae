//! Job logs: the agent's numbered chunks in, a job's whole log out. Both go through the
//! database (see the store's `job_logs`), so every server on one database serves the same
//! log.

use axum::body::Body as RawBody;
use axum::extract::State;
use axum::http::header;
use railyard_store::ChunkOutcome;
use railyard_types::api::{JobLog, SendLog};

use super::pools::AgentToken;
use super::{ApiResult, Body, Params, Raw, Reply};
use crate::AppState;
use crate::error::ApiError;
use crate::protocol::*;

/// `POST /jobs/{id}/logs`: stores chunk `seq` of the attempt once (a resend is acknowledged
/// again; one after chunks the database lost, after a line naming them) and refuses one from
/// an agent that lost the lease (410).
pub(super) async fn log_chunk(
    State(state): State<AppState>,
    token: AgentToken,
    Params(id): Params<SendLog>,
    Body(chunk): Body<SendLog>,
) -> ApiResult<Reply<SendLog>> {
    token
        .check(&state, &chunk.agent_id, |_| {
            ApiError::LeaseLost(id.to_string())
        })
        .await?;
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

/// `GET /runs/{id}/logs/{job}`: the job's log as stored so far, streamed a page of chunks at
/// a time (see the store's `log_page`), so that a reader holds about 1 MiB of the server's
/// memory whatever the log's size (a log may reach the store's 1 GiB limit). A log its
/// project's retention deleted answers 410 saying so.
pub(super) async fn job_log(
    State(state): State<AppState>,
    caller: super::caller::Caller<JobLog>,
    Params((id, job)): Params<JobLog>,
) -> ApiResult<Raw<JobLog>> {
    let run = caller.run(&state, &id).await?;
    let run = run.run;
    super::retention::not_pruned(&state, &run, "logs").await?;
    let first = state.store().log_page(&run.id, &job, 0).await?;
    if first.is_empty() {
        return Err(ApiError::NotFound(format!(
            "log of job `{job}` of run {}",
            run.id
        )));
    }
    let store = state.store().clone();
    let run_id = run.id.clone();
    // (the first page, read above; the last chunk id sent): one page in memory at a time,
    // the next read once this one went out. `None`: the stream is over.
    let pages = futures_util::stream::unfold(Some((Some(first), 0i64)), move |state| {
        let (store, run_id, job) = (store.clone(), run_id.clone(), job.clone());
        async move {
            let (first, last) = state?;
            let page = match first {
                Some(page) => page,
                None => match store.log_page(&run_id, &job, last).await {
                    Ok(page) => page,
                    Err(e) => {
                        // The status line went out already: a cut body is all a client sees.
                        tracing::error!(
                            "streaming the log of job `{job}` of run {run_id}: {}",
                            railyard_types::error::Chain(&e)
                        );
                        return Some((Err(std::io::Error::other(e)), None));
                    }
                },
            };
            let last = page.last()?.id;
            let mut out = Vec::with_capacity(page.iter().map(|c| c.bytes.len()).sum());
            for chunk in page {
                // Chunks arrive as JSON strings, so a stored log is UTF-8 but where the size
                // limit cut a chunk: that character becomes U+FFFD, as the whole log read did.
                out.extend_from_slice(String::from_utf8_lossy(&chunk.bytes).as_bytes());
            }
            Some((Ok::<_, std::io::Error>(out), Some((None, last))))
        }
    });
    let text = (header::CONTENT_TYPE, "text/plain; charset=utf-8");
    Ok(Raw::new(([text], RawBody::from_stream(pages))))
}
