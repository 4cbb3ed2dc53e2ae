//! Env images through a registry: the build lease of an env key (one agent builds and pushes
//! it, the others wait and pull), the digest its builder reports, and the operators' list of
//! keys for garbage collection. Every agent call is made under a claimed job's lease, and the
//! project is that job's: an agent never names one.

use axum::extract::State;
use railyard_types::api::{EnvBuildLease, EnvImageBuilt, ListEnvImages, RemoveEnvImage};
use railyard_types::env_images::{EnvLeaseAnswer, is_digest, is_env_key};
use railyard_types::{AgentId, JobId, Millis};

use super::pools::AgentToken;
use super::{ApiResult, Body, Params, Query, Reply};
use crate::AppState;
use crate::error::ApiError;

pub(super) async fn lease(
    State(state): State<AppState>,
    token: AgentToken,
    Params(id): Params<EnvBuildLease>,
    Body(body): Body<EnvBuildLease>,
) -> ApiResult<Reply<EnvBuildLease>> {
    let claim = job_lease(&state, &token, &id, &body.agent_id, body.attempt).await?;
    check_key(&body.key)?;
    let now = state.store().now().await?;
    let lease_ms = state.config().lease.as_millis() as i64;
    let holder = holder(&body.agent_id, &id, body.attempt);
    let answer = state
        .store()
        .env_build_lease(&claim.project, &body.key, &holder, now, lease_ms)
        .await?;
    if let EnvLeaseAnswer::Build { .. } = answer {
        tracing::debug!(project = %claim.project, key = %body.key, holder, "env build lease held");
    }
    Ok(Reply::new(answer))
}

pub(super) async fn built(
    State(state): State<AppState>,
    token: AgentToken,
    Params(id): Params<EnvImageBuilt>,
    Body(body): Body<EnvImageBuilt>,
) -> ApiResult<Reply<EnvImageBuilt>> {
    let claim = job_lease(&state, &token, &id, &body.agent_id, body.attempt).await?;
    check_key(&body.key)?;
    if !is_digest(&body.digest) {
        return Err(ApiError::BadRequest(format!(
            "`digest`: `{}` is not a manifest digest (`sha256:` and 64 hex digits)",
            body.digest.chars().take(80).collect::<String>()
        )));
    }
    if body.reference.len() > 512 || !body.reference.ends_with(&format!(":{}", body.key)) {
        return Err(ApiError::BadRequest(format!(
            "`reference` must be the env key's reference in the registry, ending in `:{}`",
            body.key
        )));
    }
    let now = state.store().now().await?;
    let holder = holder(&body.agent_id, &id, body.attempt);
    let recorded = state
        .store()
        .env_image_built(
            &claim.project,
            &body.key,
            &holder,
            (&body.reference, &body.digest),
            now,
        )
        .await?;
    if recorded {
        tracing::info!(project = %claim.project, key = %body.key, digest = %body.digest, "env image pushed");
    }
    // What the key stands at now: the caller's digest, or another builder's.
    let answer = state
        .store()
        .env_build_lease(&claim.project, &body.key, &holder, now, 0)
        .await?;
    Ok(Reply::new(answer))
}

pub(super) async fn list(
    State(state): State<AppState>,
    Query(query): Query<ListEnvImages>,
) -> ApiResult<Reply<ListEnvImages>> {
    let since = query
        .unused_days
        .map(|days| Millis(Millis::now().as_i64() - i64::from(days) * 86_400_000));
    Ok(Reply::new(state.store().env_images(since).await?))
}

pub(super) async fn remove(
    State(state): State<AppState>,
    Params((project, key)): Params<RemoveEnvImage>,
    Body(body): Body<RemoveEnvImage>,
) -> ApiResult<Reply<RemoveEnvImage>> {
    check_key(&key)?;
    if !is_digest(&body.digest) {
        return Err(ApiError::BadRequest(
            "`digest` is not a manifest digest (`sha256:` and 64 hex digits)".into(),
        ));
    }
    if !state
        .store()
        .remove_env_image(&project, &key, &body.digest)
        .await?
    {
        return Err(ApiError::NotFound(format!(
            "env image {key} of `{project}` with digest {}",
            body.digest
        )));
    }
    tracing::info!(project = %project, key = %key, digest = %body.digest, "env image forgotten");
    Ok(Reply::new(()))
}

/// The claimed job the call is made under; 410 when its lease is gone.
async fn job_lease(
    state: &AppState,
    token: &AgentToken,
    id: &JobId,
    agent_id: &AgentId,
    attempt: i64,
) -> ApiResult<railyard_store::Claim> {
    token
        .check(state, agent_id, |_| ApiError::LeaseLost(id.to_string()))
        .await?;
    match state.store().leased_job(id, agent_id, attempt).await? {
        Some((claim, _)) => Ok(claim),
        None => Err(ApiError::LeaseLost(id.to_string())),
    }
}

fn check_key(key: &str) -> ApiResult<()> {
    if is_env_key(key) {
        return Ok(());
    }
    Err(ApiError::BadRequest(format!(
        "`key`: `{}` is not an env cache key (64 lower-case hex digits)",
        key.chars().take(80).collect::<String>()
    )))
}

/// Who holds a build lease: one attempt of one job, so two slots of one agent are apart.
fn holder(agent: &AgentId, job: &JobId, attempt: i64) -> String {
    format!("{agent}/{job}#{attempt}")
}
