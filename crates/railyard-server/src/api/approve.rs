//! A person approves a `manual` job awaiting approval (developer role, audited).

use axum::extract::State;
use railyard_store::Approval;
use railyard_types::api::ApproveJob;
use railyard_types::{Millis, RunId};

use super::caller::Caller;
use super::{ApiResult, Params, Reply};
use crate::AppState;
use crate::error::ApiError;

pub(super) async fn approve_job(
    State(state): State<AppState>,
    caller: Caller<ApproveJob>,
    Params((id, job)): Params<ApproveJob>,
) -> ApiResult<Reply<ApproveJob>> {
    let found = caller.run(&state, &id).await?;
    let (run_id, now) = (RunId::from(found.run.id.as_str()), Millis::now());
    match state.store().approve_job(&run_id, &job, now).await? {
        Approval::Approved => {}
        Approval::NoSuchJob => {
            return Err(ApiError::NotFound(format!(
                "job `{job}` in run {}",
                found.run.id
            )));
        }
        Approval::Refused(why) => {
            return Err(ApiError::Conflict(format!("{why} (run {})", found.run.id)));
        }
    }
    state.work().notify_waiters();
    tracing::info!(run = %found.run.id, job = %job, "job approved");
    super::audit::record(
        &state,
        caller.who.actor(),
        "job.approve",
        Some(&found.run.project),
        Some(format!("#{} {} {job}", found.run.number, found.run.id)),
        None,
    )
    .await?;
    let detail = super::agents::fresh_detail(&state, &found.run.id).await?;
    Ok(Reply::new(detail))
}
