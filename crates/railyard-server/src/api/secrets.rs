//! Project secrets: set, list (names only), remove; and the claim's share of them: the
//! secrets the job's pipeline names, opened for that claim alone, or the job failed before it
//! starts when one is missing or kept from its ref.

use axum::extract::State;
use railyard_types::api::{ListSecrets, RemoveSecret, SetSecret};
use railyard_types::protocol::Claim;
use railyard_types::secrets::{
    FORGE_TOKEN, REPO_CREDENTIAL, pattern_problem, ref_allowed, valid_name,
};
use railyard_types::{AgentId, JobStatus, Millis, ProjectName};

use super::caller::Caller;
use super::{ApiResult, Body, Params, Reply};
use crate::AppState;
use crate::error::ApiError;

/// The most bytes a secret's value may hold: a key file or a certificate chain fits.
const MAX_VALUE_BYTES: usize = 64 << 10;

async fn known_project(state: &AppState, project: &ProjectName) -> ApiResult<()> {
    match state.store().project(project).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::NotFound(format!("project `{project}`"))),
    }
}

pub(super) async fn set(
    State(state): State<AppState>,
    caller: Caller<SetSecret>,
    Params((project, name)): Params<SetSecret>,
    Body(body): Body<SetSecret>,
) -> ApiResult<Reply<SetSecret>> {
    caller
        .require(&state, &project, || hidden(&project))
        .await?;
    if !valid_name(&name) {
        return Err(ApiError::BadRequest(format!(
            "invalid secret name `{name}`: a secret is an environment variable (letters, digits \
             and `_`, not starting with a digit), `{REPO_CREDENTIAL}` for the repository \
             credential, or `{FORGE_TOKEN}` for the token commit statuses are sent with"
        )));
    }
    if body.value.expose().is_empty() || body.value.expose().len() > MAX_VALUE_BYTES {
        return Err(ApiError::BadRequest(format!(
            "secret `{name}`: a value of 1 to {MAX_VALUE_BYTES} bytes"
        )));
    }
    if let Some(problem) = body.protected_refs.iter().find_map(|p| pattern_problem(p)) {
        return Err(ApiError::BadRequest(problem));
    }
    let keys = state.secret_keys().ok_or_else(|| {
        ApiError::BadRequest(
            "this server has no secrets key: start it with --secrets-key-file FILE \
             (docs/server.md, Secrets)"
                .into(),
        )
    })?;
    known_project(&state, &project).await?;
    let body_refs = body.protected_refs.clone();
    let sealed = keys.seal(&project, &name, &body.value, body.protected_refs);
    state.store().set_secret(&sealed, Millis::now()).await?;
    tracing::info!(project = %project, secret = %name, "secret set");
    let refs = (!body_refs.is_empty()).then(|| format!("protected refs: {}", body_refs.join(", ")));
    super::audit::record(
        &state,
        caller.who.actor(),
        "secret.set",
        Some(&project),
        Some(name.clone()),
        refs,
    )
    .await?;
    let info = (state.store().secret_infos(&project).await?)
        .into_iter()
        .find(|s| s.name == name)
        .ok_or_else(|| ApiError::NotFound(format!("project `{project}` (removed meanwhile)")))?;
    Ok(Reply::new(info))
}

pub(super) async fn list(
    State(state): State<AppState>,
    caller: Caller<ListSecrets>,
    Params(project): Params<ListSecrets>,
) -> ApiResult<Reply<ListSecrets>> {
    caller
        .require(&state, &project, || hidden(&project))
        .await?;
    known_project(&state, &project).await?;
    Ok(Reply::new(state.store().secret_infos(&project).await?))
}

pub(super) async fn remove(
    State(state): State<AppState>,
    caller: Caller<RemoveSecret>,
    Params((project, name)): Params<RemoveSecret>,
) -> ApiResult<Reply<RemoveSecret>> {
    caller
        .require(&state, &project, || hidden(&project))
        .await?;
    if state.store().remove_secret(&project, &name).await? {
        tracing::info!(project = %project, secret = %name, "secret removed");
        super::audit::record(
            &state,
            caller.who.actor(),
            "secret.remove",
            Some(&project),
            Some(name),
            None,
        )
        .await?;
        Ok(Reply::new(()))
    } else {
        Err(ApiError::NotFound(format!(
            "secret `{name}` of project `{project}` (see `railyard secret list {project}`)"
        )))
    }
}

/// The 404 of a project the caller may not see, as of one that does not exist.
pub(super) fn hidden(project: &ProjectName) -> ApiError {
    ApiError::NotFound(format!("project `{project}`"))
}

/// Fills the claim with the secrets its pipeline names and the repository credential.
/// `Some(why)` when the job must not start: a secret missing, kept from the run's ref, or not
/// to be opened with this server's key.
pub(super) async fn fill_claim(state: &AppState, claim: &mut Claim) -> ApiResult<Option<String>> {
    let store = state.store();
    let names = store.commit_secrets(&claim.project, &claim.commit).await?;
    let repo = store.sealed_secret(&claim.project, REPO_CREDENTIAL).await?;
    if names.is_empty() && repo.is_none() {
        return Ok(None);
    }
    let project = &claim.project;
    let Some(keys) = state.secret_keys() else {
        return Ok(Some(format!(
            "the pipeline names secrets ({}) or the project has a repository credential, and \
             this server has no secrets key: start it with --secrets-key-file",
            names.join(", ")
        )));
    };
    let mut secrets = Vec::with_capacity(names.len());
    for name in &names {
        let Some(sealed) = store.sealed_secret(project, name).await? else {
            return Ok(Some(format!(
                "secret `{name}` is not set for project `{project}`: set it with \
                 `railyard secret set {project} {name}`, then run again"
            )));
        };
        if let Some(why) = super::run_events::kept_from_pull_request(claim, &sealed, name) {
            return Ok(Some(why));
        }
        if !ref_allowed(&sealed.protected_refs, claim.git_ref.as_deref()) {
            return Ok(Some(format!(
                "secret `{name}` of project `{project}` is only for runs of {}, and this run \
                 is of {}: run a protected ref, or widen it with `railyard secret set \
                 --protected-refs`",
                sealed.protected_refs.join(", "),
                claim.git_ref.as_deref().unwrap_or("a commit (no ref)")
            )));
        }
        match keys.open(&sealed) {
            Ok(value) => secrets.push((name.clone(), value)),
            Err(e) => return Ok(Some(e.to_string())),
        }
    }
    if let Some(sealed) = repo {
        match keys.open(&sealed) {
            Ok(value) => claim.repo_credential = Some(value),
            Err(e) => return Ok(Some(e.to_string())),
        }
    }
    claim.secrets = secrets;
    Ok(None)
}

/// Ends a claimed job failed before it started (its log says why), and moves its run on.
pub(super) async fn fail_claim(
    state: &AppState,
    claim: &Claim,
    agent: &AgentId,
    why: &str,
) -> ApiResult<()> {
    let store = state.store();
    let note = format!("[railyard] not started: {why}\n");
    if let Err(e) = (store.append_log_note(&claim.job_id, agent, claim.attempt, &note)).await {
        tracing::warn!(job = %claim.job, "noting why the job did not start: {}", railyard_types::error::Chain(&e));
    }
    let now = Millis::now();
    store
        .finish_leased_job(
            &claim.job_id,
            agent,
            claim.attempt,
            JobStatus::Failed,
            now,
            Some(why),
        )
        .await?;
    store.advance_run(&claim.run_id, now).await?;
    state.work().notify_waiters();
    tracing::warn!(job = %claim.job, run = %claim.run_id, "job not started: {why}");
    Ok(())
}

/// A new project's URL without its credential, and the credential: refused when it has one
/// and this server has no key to keep it under.
pub(super) fn split_repo(
    state: &AppState,
    url: &str,
) -> ApiResult<(String, Option<railyard_types::secrets::SecretValue>)> {
    match railyard_types::secrets::split_url_credential(url) {
        None => Ok((url.to_owned(), None)),
        Some(_) if state.secret_keys().is_none() => Err(ApiError::BadRequest(
            "the repository URL carries a credential, which this server keeps only as a \
             sealed secret, and it has no secrets key: start it with --secrets-key-file, or \
             give the URL without the credential"
                .into(),
        )),
        Some((clean, credential)) => Ok((clean, Some(credential))),
    }
}

/// Stores a project's repository credential as its `@repo` secret.
pub(super) async fn store_repo_credential(
    state: &AppState,
    project: &ProjectName,
    credential: &railyard_types::secrets::SecretValue,
) -> ApiResult<()> {
    let keys = (state.secret_keys())
        .ok_or_else(|| ApiError::Internal("the secrets key went away".into()))?;
    let sealed = keys.seal(project, REPO_CREDENTIAL, credential, Vec::new());
    state.store().set_secret(&sealed, Millis::now()).await?;
    Ok(())
}
