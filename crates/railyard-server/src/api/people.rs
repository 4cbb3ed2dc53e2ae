//! People and their roles: an admin adds and removes users; a project's maintainers give
//! and take roles in it.

use axum::extract::State;
use railyard_types::Millis;
use railyard_types::api::{AddUser, ListMembers, ListUsers, RemoveMember, RemoveUser, SetMember};
use railyard_types::people::UserInfo;

use super::audit::record;
use super::caller::Caller;
use super::{ApiResult, Body, Params, Reply};
use crate::AppState;
use crate::error::ApiError;

pub(super) async fn add_user(
    State(state): State<AppState>,
    caller: Caller<AddUser>,
    Body(body): Body<AddUser>,
) -> ApiResult<Reply<AddUser>> {
    super::tokens::check_name("user name", &body.name)?;
    let hash = match body.password {
        Some(password) => Some(super::passwords::hash(password).await?),
        None => None,
    };
    let now = Millis::now();
    if !state
        .store()
        .add_user(&body.name, body.admin, hash.as_deref(), now)
        .await?
    {
        return Err(ApiError::Conflict(format!(
            "a user named `{}` exists (a removed user's name stays taken)",
            body.name
        )));
    }
    let detail = body.admin.then(|| "server admin".to_owned());
    record(
        &state,
        caller.who.actor(),
        "user.add",
        None,
        Some(body.name.to_string()),
        detail,
    )
    .await?;
    Ok(Reply::new(UserInfo {
        name: body.name,
        admin: body.admin,
        has_password: hash.is_some(),
        created_at: now,
        disabled_at: None,
        roles: Vec::new(),
    }))
}

pub(super) async fn list_users(State(state): State<AppState>) -> ApiResult<Reply<ListUsers>> {
    Ok(Reply::new(state.store().users().await?))
}

pub(super) async fn remove_user(
    State(state): State<AppState>,
    caller: Caller<RemoveUser>,
    Params(name): Params<RemoveUser>,
) -> ApiResult<Reply<RemoveUser>> {
    if !state.store().disable_user(&name, Millis::now()).await? {
        return Err(ApiError::NotFound(format!(
            "user `{name}` (see `railyard user list`)"
        )));
    }
    record(
        &state,
        caller.who.actor(),
        "user.remove",
        None,
        Some(name.to_string()),
        None,
    )
    .await?;
    Ok(Reply::new(()))
}

pub(super) async fn list_members(
    State(state): State<AppState>,
    caller: Caller<ListMembers>,
    Params(project): Params<ListMembers>,
) -> ApiResult<Reply<ListMembers>> {
    let hidden = || ApiError::NotFound(format!("project `{project}`"));
    caller.require(&state, &project, hidden).await?;
    if state.store().project(&project).await?.is_none() {
        return Err(hidden());
    }
    Ok(Reply::new(
        state.store().memberships(Some(&project), None).await?,
    ))
}

pub(super) async fn set_member(
    State(state): State<AppState>,
    caller: Caller<SetMember>,
    Params((project, user)): Params<SetMember>,
    Body(grant): Body<SetMember>,
) -> ApiResult<Reply<SetMember>> {
    let hidden = || ApiError::NotFound(format!("project `{project}`"));
    caller.require(&state, &project, hidden).await?;
    if state.store().project(&project).await?.is_none() {
        return Err(hidden());
    }
    let membership = state
        .store()
        .set_project_role(&project, &user, grant.role, Millis::now())
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "user `{user}` (an admin adds people: `railyard user add`)"
            ))
        })?;
    record(
        &state,
        caller.who.actor(),
        "role.set",
        Some(&project),
        Some(user.to_string()),
        Some(grant.role.to_string()),
    )
    .await?;
    Ok(Reply::new(membership))
}

pub(super) async fn remove_member(
    State(state): State<AppState>,
    caller: Caller<RemoveMember>,
    Params((project, user)): Params<RemoveMember>,
) -> ApiResult<Reply<RemoveMember>> {
    let hidden = || ApiError::NotFound(format!("project `{project}`"));
    caller.require(&state, &project, hidden).await?;
    if !state.store().remove_project_role(&project, &user).await? {
        return Err(ApiError::NotFound(format!(
            "a role of `{user}` in project `{project}`"
        )));
    }
    record(
        &state,
        caller.who.actor(),
        "role.remove",
        Some(&project),
        Some(user.to_string()),
        None,
    )
    .await?;
    Ok(Reply::new(()))
}
