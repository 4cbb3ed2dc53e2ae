//! Cron schedules: add (a maintainer), list (whoever may see the project), remove (a
//! maintainer). Everything is checked before anything is stored: a bad cron, ref or name is
//! a 400 naming the field, an unknown project a 404, a name taken a 409.

use axum::extract::State;
use railyard_store::{NewSchedule, ScheduleAdded};
use railyard_types::Millis;
use railyard_types::api::{AddSchedule, ListSchedules, RemoveSchedule};
use railyard_types::schedules::{default_name, name_problem, ref_problem};

use super::caller::Caller;
use super::secrets::hidden;
use super::{ApiResult, Body, Params, Query, Reply};
use crate::AppState;
use crate::error::ApiError;

pub(super) async fn add(
    State(state): State<AppState>,
    caller: Caller<AddSchedule>,
    Params(project): Params<AddSchedule>,
    Body(body): Body<AddSchedule>,
) -> ApiResult<Reply<AddSchedule>> {
    caller
        .require(&state, &project, || hidden(&project))
        .await?;
    if let Some(problem) = ref_problem(&body.git_ref) {
        return Err(ApiError::BadRequest(problem));
    }
    let name = body.name.unwrap_or_else(|| default_name(&body.git_ref));
    if let Some(problem) = name_problem(&name) {
        return Err(ApiError::BadRequest(problem));
    }
    let store = state.store();
    // By the database's clock, as every server fires by it.
    let now = store.now().await?;
    let min_interval = state.config().min_schedule_interval;
    let cron =
        crate::schedules::parse(&body.cron, min_interval, now).map_err(ApiError::BadRequest)?;
    let next_at = crate::schedules::next_after(&cron, now).map_err(ApiError::BadRequest)?;
    let actor = caller.who.actor();
    let new = NewSchedule {
        project: &project,
        name: &name,
        cron: body.cron.trim(),
        git_ref: &body.git_ref,
        next_at,
        created_by: &actor,
        created_at: Millis::now(),
    };
    let info = match store.add_schedule(&new).await? {
        ScheduleAdded::Added(info) => *info,
        ScheduleAdded::NameTaken => {
            return Err(ApiError::Conflict(format!(
                "name: project `{project}` has a schedule `{name}`: give another --name, or \
                 remove it first (`railyard schedule rm {project} {name}`)"
            )));
        }
        ScheduleAdded::NoProject => return Err(hidden(&project)),
    };
    state.schedules_changed().notify_one();
    tracing::info!(%project, schedule = %name, cron = %info.cron, "schedule added");
    let detail = format!("cron `{}`, ref `{}`", info.cron, info.git_ref);
    super::audit::record(
        &state,
        actor,
        "schedule.add",
        Some(&project),
        Some(name),
        Some(detail),
    )
    .await?;
    Ok(Reply::new(info))
}

pub(super) async fn list(
    State(state): State<AppState>,
    caller: Caller<ListSchedules>,
    Query(q): Query<ListSchedules>,
) -> ApiResult<Reply<ListSchedules>> {
    let visible = caller.who.visible(&state, q.project.as_ref()).await?;
    let Some(seen) = visible.seen() else {
        return Ok(Reply::new(Vec::new()));
    };
    Ok(Reply::new(state.store().schedules_seen(seen).await?))
}

pub(super) async fn remove(
    State(state): State<AppState>,
    caller: Caller<RemoveSchedule>,
    Params((project, name)): Params<RemoveSchedule>,
) -> ApiResult<Reply<RemoveSchedule>> {
    caller
        .require(&state, &project, || hidden(&project))
        .await?;
    if !state.store().remove_schedule(&project, &name).await? {
        return Err(ApiError::NotFound(format!(
            "schedule `{name}` of project `{project}` (see `railyard schedule list {project}`)"
        )));
    }
    tracing::info!(%project, schedule = %name, "schedule removed");
    super::audit::record(
        &state,
        caller.who.actor(),
        "schedule.remove",
        Some(&project),
        Some(name),
        None,
    )
    .await?;
    Ok(Reply::new(()))
}
