//! `GET /api/v1/projects/{name}/statuses`: a project's commit-status outbox for its
//! maintainers: what was sent to the forge, what waits for a retry and why (the forge's last
//! answer, scrubbed of the token), and what was given up (`refused`, `expired`).

use axum::extract::State;
use railyard_types::api::ListCommitStatuses;

use super::caller::Caller;
use super::{ApiResult, Params, Reply};
use crate::AppState;
use crate::error::ApiError;

/// The most rows one listing shows.
const MAX_ROWS: i64 = 500;

pub(super) async fn list(
    State(state): State<AppState>,
    caller: Caller<ListCommitStatuses>,
    Params(project): Params<ListCommitStatuses>,
) -> ApiResult<Reply<ListCommitStatuses>> {
    let hidden = || ApiError::NotFound(format!("project `{project}`"));
    caller.require(&state, &project, hidden).await?;
    if state.store().project(&project).await?.is_none() {
        return Err(hidden());
    }
    let rows = state
        .store()
        .commit_statuses(&project, false, MAX_ROWS)
        .await?;
    Ok(Reply::new(rows))
}
