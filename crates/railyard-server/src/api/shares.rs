//! A project's share of the fleet (its weight and its cap on running jobs) and its retention
//! and storage quota, set when the project is added or later with
//! `PATCH /api/v1/projects/{name}`.

use axum::extract::State;
use railyard_types::ProjectName;
use railyard_types::api::UpdateProject;

use super::{ApiResult, Body, Params, Reply};
use crate::AppState;
use crate::error::ApiError;
use crate::protocol::ProjectShare;

/// The most a weight may be: enough to say "this project counts a thousand times more".
const MAX_WEIGHT: i64 = 1000;

/// Refuses a weight under 1 (or absurdly large) and a negative cap, naming the field.
pub(super) fn check(share: &ProjectShare) -> ApiResult<()> {
    let refs = share.protected_refs.iter().flatten();
    if let Some(problem) = refs
        .clone()
        .find_map(|p| railyard_types::secrets::pattern_problem(p))
    {
        return Err(ApiError::BadRequest(problem));
    }
    if let Some(bad) = refs.clone().find(|p| p.contains(',')) {
        return Err(ApiError::BadRequest(format!(
            "protected ref `{bad}` holds a comma: give each ref on its own"
        )));
    }
    if let Some(w) = share.weight
        && !(1..=MAX_WEIGHT).contains(&w)
    {
        return Err(ApiError::BadRequest(format!(
            "`weight` is {w}: give a whole number from 1 to {MAX_WEIGHT} (a project with weight 2 gets twice the running jobs of one with weight 1)"
        )));
    }
    if let Some(n) = share.max_running
        && n < 0
    {
        return Err(ApiError::BadRequest(format!(
            "`max_running` is {n}: give 0 for no cap, or the most jobs the project may run at once"
        )));
    }
    for (field, value, zero) in [
        ("keep_days", share.keep_days, "0: kept for ever"),
        ("keep_runs", share.keep_runs, "0: none past `keep_days`"),
        ("quota_bytes", share.quota_bytes, "0 for no quota"),
    ] {
        if let Some(n) = value
            && n < 0
        {
            return Err(ApiError::BadRequest(format!(
                "`{field}` is {n}: give a whole number, 0 or more ({zero})"
            )));
        }
    }
    if let Some(pools) = &share.pools {
        super::pools::check_pools(pools)?;
    }
    if let Some(forge) = &share.forge {
        forge
            .check()
            .map_err(|p| ApiError::BadRequest(p.to_string()))?;
    }
    Ok(())
}

/// Stores the share given (fields left out keep their value); false when no such project.
pub(super) async fn apply(
    state: &AppState,
    name: &ProjectName,
    share: &ProjectShare,
) -> ApiResult<bool> {
    if let Some(pools) = &share.pools
        && !state.store().set_project_pools(name, pools).await?
    {
        return Ok(false);
    }
    if let Some(forge) = &share.forge {
        // Checked by `check` before: a problem here is a caller that skipped it.
        let forge = forge
            .check()
            .map_err(|p| ApiError::BadRequest(p.to_string()))?;
        if !state
            .store()
            .set_project_forge(name, forge.as_ref())
            .await?
        {
            return Ok(false);
        }
    }
    let mut found = state.store().project(name).await?.is_some();
    if share.weight.is_some() || share.max_running.is_some() {
        found = state
            .store()
            .set_project_share(name, share.weight, share.max_running)
            .await?;
    }
    if share.keep_days.is_some() || share.keep_runs.is_some() || share.quota_bytes.is_some() {
        found = state
            .store()
            .set_project_retention(name, share.keep_days, share.keep_runs, share.quota_bytes)
            .await?;
    }
    if let Some(on) = share.cancel_superseded {
        found = state.store().set_cancel_superseded(name, on).await?;
    }
    if let Some(refs) = &share.protected_refs {
        found = state.store().set_protected_refs(name, refs).await?;
    }
    Ok(found)
}

pub(super) async fn update_project(
    State(state): State<AppState>,
    caller: super::caller::Caller<UpdateProject>,
    Params(name): Params<UpdateProject>,
    Body(share): Body<UpdateProject>,
) -> ApiResult<Reply<UpdateProject>> {
    caller
        .require(&state, &name, || {
            ApiError::NotFound(format!("project `{name}`"))
        })
        .await?;
    check(&share)?;
    if !apply(&state, &name, &share).await? {
        return Err(ApiError::NotFound(format!("project `{name}`")));
    }
    let project = state
        .store()
        .project(&name)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("project `{name}`")))?;
    tracing::info!(
        project = %name,
        weight = project.weight,
        max_running = project.max_running,
        keep_days = project.keep_days,
        keep_runs = project.keep_runs,
        quota_bytes = project.quota_bytes,
        cancel_superseded = project.cancel_superseded,
        "project settings set"
    );
    super::audit::record(
        &state,
        caller.who.actor(),
        "project.update",
        Some(&name),
        None,
        serde_json::to_string(&share).ok(),
    )
    .await?;
    Ok(Reply::new(project))
}
