//! A person runs a finished run again as its next attempt (developer role, audited): every
//! job, or only those that failed (a sharded job's failed shards) and what they skipped.

use axum::extract::State;
use railyard_store::Rerun;
use railyard_types::api::RerunRun;
use railyard_types::{Millis, RunId};

use super::caller::Caller;
use super::{ApiResult, Body, Params, Reply};
use crate::AppState;
use crate::error::ApiError;

pub(super) async fn rerun(
    State(state): State<AppState>,
    caller: Caller<RerunRun>,
    Params(id): Params<RerunRun>,
    body: Option<Body<RerunRun>>,
) -> ApiResult<Reply<RerunRun>> {
    let failed_only = body.is_some_and(|Body(b)| b.failed_only);
    let found = caller.run(&state, &id).await?;
    let run_id = RunId::from(found.run.id.as_str());
    let (attempt, jobs) = match state
        .store()
        .rerun(&run_id, failed_only, Millis::now())
        .await?
    {
        Rerun::Started { attempt, jobs } => (attempt, jobs),
        Rerun::NoSuchRun => return Err(ApiError::NotFound(format!("run `{id}`"))),
        Rerun::Unfinished => {
            return Err(ApiError::Conflict(format!(
                "run {} has not finished: wait for it, or cancel it (`railyard cancel {}`) \
                 and run it again",
                found.run.id, found.run.id
            )));
        }
        Rerun::NothingFailed => {
            return Err(ApiError::Conflict(format!(
                "run {} has no failed job to run again: run every job again without \
                 --failed (`\"failed_only\": false`)",
                found.run.id
            )));
        }
    };
    state.work().notify_waiters();
    tracing::info!(run = %found.run.id, attempt, jobs = jobs.len(), failed_only, "run started again");
    super::audit::record(
        &state,
        caller.who.actor(),
        "run.rerun",
        Some(&found.run.project),
        Some(format!("#{} {}", found.run.number, found.run.id)),
        Some(format!(
            "attempt {attempt}{}: {}",
            if failed_only { ", failed only" } else { "" },
            jobs.join(", ")
        )),
    )
    .await?;
    let detail = super::agents::fresh_detail(&state, &found.run.id).await?;
    Ok(Reply::new(detail))
}
