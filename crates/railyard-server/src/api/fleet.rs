//! The agents as operators see them.

use axum::Json;
use axum::extract::State;

use super::{Admin, ApiResult};
use crate::AppState;

pub(super) async fn list_agents(
    State(state): State<AppState>,
    _auth: Admin,
) -> ApiResult<Json<Vec<railyard_store::AgentInfo>>> {
    Ok(Json(state.store().agents().await?))
}
