//! Projects and triggers: add, list, start a run for a ref.

use axum::extract::State;
use railyard_store::ProjectRemoval;
use railyard_types::Millis;
use railyard_types::api::{AddProject, ListProjects, RemoveProject, Trigger};

use super::caller::{Caller, Visible};
use super::start_run::{RunRequest, start_run};
use super::{ApiResult, Body, Params, Reply};
use crate::error::ApiError;
use crate::protocol::*;
use crate::{AppState, git};

/// Names safe as a mirror folder and a label value.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.')
}

pub(super) async fn add_project(
    State(state): State<AppState>,
    Body(body): Body<AddProject>,
) -> ApiResult<Reply<AddProject>> {
    if !valid_name(&body.name) {
        return Err(ApiError::BadRequest(format!(
            "invalid project name `{}`: use letters, digits, `-`, `_` and `.`",
            body.name
        )));
    }
    if body.repo.trim().is_empty() {
        return Err(ApiError::BadRequest("the repository URL is empty".into()));
    }
    super::shares::check(&body.share)?;
    // Before reaching out to the repository, which may take a while.
    if state.store().project(&body.name).await?.is_some() {
        return Err(ApiError::Conflict(format!(
            "project `{}` exists",
            body.name
        )));
    }
    // A credential in the URL goes into the project's `@repo` secret, never into the row.
    let (repo, credential) = super::secrets::split_repo(&state, &body.repo)?;
    let auth = (credential.as_ref()).map_or_else(Default::default, crate::git_auth::RepoAuth::of);
    crate::git_auth::with(auth, git::check_remote(&repo)).await?;
    if !state
        .store()
        .add_project(&body.name, &repo, Millis::now())
        .await?
    {
        return Err(ApiError::Conflict(format!(
            "project `{}` exists",
            body.name
        )));
    }
    if let Some(secret) = body.webhook_secret.as_deref().filter(|s| !s.is_empty()) {
        state
            .store()
            .set_webhook_secret(&body.name, Some(secret))
            .await?;
    }
    if let Some(credential) = &credential {
        super::secrets::store_repo_credential(&state, &body.name, credential).await?;
    }
    super::shares::apply(&state, &body.name, &body.share).await?;
    let project = state
        .store()
        .project(&body.name)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("project `{}`", body.name)))?;
    Ok(Reply::new(project))
}

pub(super) async fn list_projects(
    State(state): State<AppState>,
    caller: Caller<ListProjects>,
) -> ApiResult<Reply<ListProjects>> {
    let mut projects = state.store().projects().await?;
    match caller.who.visible(&state, None).await? {
        Visible::All => {}
        Visible::Nothing => projects.clear(),
        Visible::Project(only) => projects.retain(|p| p.name == only),
        Visible::Member(user) => {
            let mine = state.store().memberships(None, Some(&user)).await?;
            projects.retain(|p| mine.iter().any(|m| m.project == p.name));
        }
    }
    Ok(Reply::new(projects))
}

pub(super) async fn trigger(
    State(state): State<AppState>,
    caller: Caller<Trigger>,
    Params(name): Params<Trigger>,
    body: Option<Body<Trigger>>,
) -> ApiResult<Reply<Trigger>> {
    caller
        .require(&state, &name, || {
            ApiError::NotFound(format!("project `{name}`"))
        })
        .await?;
    let request = body.map(|Body(b)| b).unwrap_or_default();
    let git_ref = request.git_ref.as_deref().unwrap_or("HEAD");
    let asked = RunRequest::triggered(git_ref, caller.who.actor());
    let triggered = start_run(&state, &name, asked)
        .await?
        .ok_or_else(|| ApiError::Internal("a trigger was taken for a webhook delivery".into()))?;
    super::audit::record(
        &state,
        caller.who.actor(),
        "run.trigger",
        Some(&name),
        Some(format!("#{} {}", triggered.run.number, triggered.run.id)),
        Some(git_ref.to_owned()),
    )
    .await?;
    Ok(Reply::new(triggered))
}

/// Removes a project with everything stored for it (see [`Store::remove_project`]), then
/// its mirror on this server. Refused with 409 while runs of it are unfinished, unless
/// forced.
///
/// [`Store::remove_project`]: railyard_store::Store::remove_project
pub(super) async fn remove_project(
    State(state): State<AppState>,
    Params(name): Params<RemoveProject>,
    body: Option<Body<RemoveProject>>,
) -> ApiResult<Reply<RemoveProject>> {
    let force = body.is_some_and(|Body(b)| b.force);
    let (runs, unfinished) = match state.store().remove_project(&name, force).await? {
        ProjectRemoval::NotFound => {
            return Err(ApiError::NotFound(format!("project `{name}`")));
        }
        ProjectRemoval::Unfinished(runs) => {
            let numbers: Vec<String> = runs.iter().map(|r| format!("#{}", r.number)).collect();
            return Err(ApiError::Conflict(format!(
                "project `{name}` has {} unfinished run(s) ({}): wait for them or cancel them \
                 (`railyard cancel RUN`), or remove it with --force (`{{\"force\": true}}`), \
                 which stops them",
                runs.len(),
                numbers.join(", ")
            )));
        }
        ProjectRemoval::Removed { runs, unfinished } => (runs, unfinished),
    };
    if unfinished > 0 {
        // Their jobs are gone from the queue: claims and agents waiting on it move on.
        state.work().notify_waiters();
    }
    // What lives on this server's disk: the mirror. Another server's mirror is refreshed
    // from the project's URL at its next fetch, whatever it holds.
    let dir = state.config().mirrors_dir.join(format!("{name}.git"));
    match tokio::fs::remove_dir_all(&dir).await {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!("removing {}: {e} (delete it by hand)", dir.display()),
    }
    tracing::info!(project = %name, runs = runs.len(), unfinished, "project removed");
    Ok(Reply::new(RemovedProject {
        name,
        runs: runs.len() as u64,
        unfinished: unfinished as u64,
    }))
}
