//! Runs for people: list, detail, cancel (a job's log is in `logs`).

use axum::extract::State;
use railyard_types::api::{CancelRun, GetRun, ListRuns};
use railyard_types::{Millis, RunId};

use super::{ApiResult, Params, Query, Reply};
use crate::AppState;
use crate::error::ApiError;

pub(super) async fn list_runs(
    State(state): State<AppState>,
    Query(q): Query<ListRuns>,
) -> ApiResult<Reply<ListRuns>> {
    let runs = state
        .store()
        .list_runs(q.project.as_ref(), q.limit.unwrap_or(20))
        .await?;
    Ok(Reply::new(runs))
}

pub(super) async fn run_detail(
    State(state): State<AppState>,
    Params(id): Params<GetRun>,
) -> ApiResult<Reply<GetRun>> {
    let mut detail = state
        .store()
        .find_run(None, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("run `{id}`")))?;
    super::agents::explain_waiting(&state, &mut detail).await?;
    Ok(Reply::new(detail))
}

pub(super) async fn cancel_run(
    State(state): State<AppState>,
    Params(id): Params<CancelRun>,
) -> ApiResult<Reply<CancelRun>> {
    let found = state
        .store()
        .find_run(None, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("run `{id}`")))?;
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
    Ok(Reply::new(detail))
}
