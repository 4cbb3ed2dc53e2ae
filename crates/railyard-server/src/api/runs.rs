//! Runs for people: list, detail, cancel (a job's log is in `logs`).

use axum::extract::State;
use railyard_types::api::{CancelRun, GetJob, GetRun, ListRuns};
use railyard_types::{Millis, RunId};

use super::caller::Caller;
use super::{ApiResult, Params, Query, Reply};
use crate::AppState;
use crate::error::ApiError;

pub(super) async fn list_runs(
    State(state): State<AppState>,
    caller: Caller<ListRuns>,
    Query(q): Query<ListRuns>,
) -> ApiResult<Reply<ListRuns>> {
    let visible = caller.who.visible(&state, q.project.as_ref()).await?;
    let Some(seen) = visible.seen() else {
        return Ok(Reply::new(Vec::new()));
    };
    let runs = state
        .store()
        .list_runs_seen(seen, q.limit.unwrap_or(20))
        .await?;
    Ok(Reply::new(runs))
}

pub(super) async fn run_detail(
    State(state): State<AppState>,
    caller: Caller<GetRun>,
    Params(id): Params<GetRun>,
) -> ApiResult<Reply<GetRun>> {
    let mut detail = caller.run(&state, &id).await?;
    super::agents::explain_waiting(&state, &mut detail).await?;
    Ok(Reply::new(detail))
}

pub(super) async fn job_detail(
    State(state): State<AppState>,
    caller: Caller<GetJob>,
    Params((id, job)): Params<GetJob>,
) -> ApiResult<Reply<GetJob>> {
    let mut detail = caller.run(&state, &id).await?;
    super::agents::explain_waiting(&state, &mut detail).await?;
    let found = detail.jobs.into_iter().find(|j| j.name == job);
    let record =
        found.ok_or_else(|| ApiError::NotFound(format!("job `{job}` in run {}", detail.run.id)))?;
    Ok(Reply::new(record))
}

pub(super) async fn cancel_run(
    State(state): State<AppState>,
    caller: Caller<CancelRun>,
    Params(id): Params<CancelRun>,
) -> ApiResult<Reply<CancelRun>> {
    let found = caller.run(&state, &id).await?;
    let (run_id, now) = (RunId::from(found.run.id.as_str()), Millis::now());
    if !state.store().cancel_run(&run_id, now).await? {
        return Err(ApiError::Conflict(format!(
            "run {} has already ended",
            found.run.id
        )));
    }
    // Jobs not started are done now; the run ends here if none was running.
    state.store().advance_run(&run_id, now).await?;
    let detail = state
        .store()
        .find_run(None, &found.run.id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("run `{id}`")))?;
    tracing::info!(run = %found.run.id, "run cancelled");
    super::audit::record(
        &state,
        caller.who.actor(),
        "run.cancel",
        Some(&found.run.project),
        Some(format!("#{} {}", found.run.number, found.run.id)),
        None,
    )
    .await?;
    Ok(Reply::new(detail))
}
