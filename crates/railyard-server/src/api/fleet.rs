//! The agents as operators see them.

use axum::extract::State;
use railyard_types::api::ListAgents;

use super::{ApiResult, Reply};
use crate::AppState;

pub(super) async fn list_agents(State(state): State<AppState>) -> ApiResult<Reply<ListAgents>> {
    Ok(Reply::new(state.store().agents().await?))
}
