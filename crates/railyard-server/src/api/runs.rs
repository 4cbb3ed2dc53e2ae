//! Runs for people: list, detail, cancel (a job's log is in `logs`).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use railyard_types::{Millis, RunId};

use super::{Admin, ApiResult};
use crate::AppState;
use crate::error::ApiError;
use crate::protocol::*;

pub(super) async fn list_runs(
    State(state): State<AppState>,
    _auth: Admin,
    Query(q): Query<RunsQuery>,
) -> ApiResult<Json<Vec<RunRecord>>> {
    let runs = state
        .store()
        .list_runs(q.project.as_deref(), q.limit.unwrap_or(20))
        .await?;
    Ok(Json(runs))
}

pub(super) async fn run_detail(
    State(state): State<AppState>,
    _auth: Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<RunDetail>> {
    let mut detail = state
        .store()
        .find_run(None, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("run `{id}`")))?;
    super::agents::explain_waiting(&state, &mut detail).await?;
    Ok(Json(detail))
}

pub(super) async fn cancel_run(
    State(state): State<AppState>,
    _auth: Admin,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<RunDetail>)> {
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
    Ok((StatusCode::ACCEPTED, Json(detail)))
}
