//! What was deployed to an environment (jobs with `environment`), for people.

use axum::extract::State;
use railyard_types::api::ListDeployments;

use super::{ApiResult, Params, Query, Reply};
use crate::AppState;

pub(super) async fn list_deployments(
    State(state): State<AppState>,
    Params(environment): Params<ListDeployments>,
    Query(q): Query<ListDeployments>,
) -> ApiResult<Reply<ListDeployments>> {
    let deployments = state
        .store()
        .deployments(&environment, q.limit.unwrap_or(20))
        .await?;
    Ok(Reply::new(deployments))
}
