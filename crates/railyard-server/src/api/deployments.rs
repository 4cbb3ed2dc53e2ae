//! What was deployed to an environment (jobs with `environment`), for people.

use axum::extract::State;
use railyard_types::api::ListDeployments;

use super::caller::Caller;
use super::{ApiResult, Params, Query, Reply};
use crate::AppState;

pub(super) async fn list_deployments(
    State(state): State<AppState>,
    caller: Caller<ListDeployments>,
    Params(environment): Params<ListDeployments>,
    Query(q): Query<ListDeployments>,
) -> ApiResult<Reply<ListDeployments>> {
    let visible = caller.who.visible(&state, None).await?;
    let Some(seen) = visible.seen() else {
        return Ok(Reply::new(Vec::new()));
    };
    let deployments = state
        .store()
        .deployments_seen(&environment, seen, q.limit.unwrap_or(20))
        .await?;
    Ok(Reply::new(deployments))
}
