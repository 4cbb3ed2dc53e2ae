//! The audit trail: every handler that changes state writes who did what here, and people
//! read it back (an admin all of it, a maintainer their project's).

use axum::extract::State;
use railyard_types::api::ListAudit;
use railyard_types::people::{AuditEntry, ProjectRole};
use railyard_types::{Millis, ProjectName};

use super::caller::Caller;
use super::{ApiResult, Query, Reply};
use crate::AppState;
use crate::error::ApiError;

/// Writes one entry. A failed write fails the request: a change nobody can account for is
/// worse than one refused (the change itself was made; the error says so).
pub(crate) async fn record(
    state: &AppState,
    actor: String,
    action: &str,
    project: Option<&ProjectName>,
    target: Option<String>,
    detail: Option<String>,
) -> ApiResult<()> {
    let entry = AuditEntry {
        at: Millis::now(),
        actor,
        action: action.to_owned(),
        project: project.cloned(),
        target,
        detail,
    };
    state.store().record_audit(&entry).await.map_err(|e| {
        ApiError::Internal(format!(
            "{action} was done, but writing it to the audit trail failed: {}",
            railyard_types::error::Chain(&e)
        ))
    })
}

pub(super) async fn list(
    State(state): State<AppState>,
    caller: Caller<ListAudit>,
    Query(q): Query<ListAudit>,
) -> ApiResult<Reply<ListAudit>> {
    let limit = q.limit.unwrap_or(100).min(10_000);
    match &q.project {
        Some(project) => {
            caller
                .who
                .require(&state, project, ProjectRole::Maintainer, || {
                    ApiError::NotFound(format!("project `{project}`"))
                })
                .await?
        }
        None if caller.who.is_admin() => {}
        None => {
            return Err(ApiError::Forbidden(
                "only a server admin reads the whole audit trail: name a project you maintain (`?project=NAME`, `railyard audit --project NAME`)".into(),
            ));
        }
    }
    Ok(Reply::new(
        state.store().audit(q.project.as_ref(), limit).await?,
    ))
}
