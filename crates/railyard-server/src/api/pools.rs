//! Agent pools on the agent protocol: which pool an agent call's token is of, and the check
//! that the agent id a call names is registered in that pool. An agent is recorded at
//! registration in its token's pool (the bootstrap `--agent-token`'s is `default`), never
//! in one it names; the claim reads that pool from the agent's row, and every later call
//! about the agent (claim, heartbeat, log, complete, upload, inputs, tests) must come with a
//! token of the same pool, so a machine of one pool that learns another's agent id cannot
//! take, renew or read that agent's jobs.
//!
//! Kept apart from `authorize_agent` (which says whether the token is an agent's at all): the
//! handlers that need the pool take [`AgentToken`] as an argument.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use railyard_store::{AgentCaller, AgentFit};
use railyard_types::AgentId;

use super::ApiResult;
use super::endpoint::{Part, Takes};
use crate::error::ApiError;
use crate::{AppState, TokenHash};

/// The longest a pool's name may be.
const MAX_POOL_LEN: usize = 64;

/// The agent token of a request, as far as pools go (`authorize_agent` has already checked that it
/// is a live agent token).
pub(crate) struct AgentToken(AgentCaller);

impl FromRequestParts<AppState> for AgentToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let given = super::caller::bearer(&parts.headers).ok_or(ApiError::Unauthorized("agent"))?;
        let bootstrap = state.config().agent_token.as_ref();
        Ok(AgentToken(if bootstrap.is_some_and(|t| t.matches(given)) {
            AgentCaller::Bootstrap
        } else {
            AgentCaller::Stored(TokenHash::of(given).hex())
        }))
    }
}

/// The token is not a declared part of any endpoint: it reads nothing the route check knows.
impl<E> Takes<E> for AgentToken {
    const PART: Part = Part::State;
}

impl AgentToken {
    /// The pool an agent registered with this token belongs to.
    pub(crate) async fn pool(&self, state: &AppState) -> ApiResult<String> {
        state
            .store()
            .caller_pool(&self.0)
            .await?
            .ok_or(ApiError::Unauthorized("agent"))
    }

    /// Refuses a call about agent `agent` unless it is registered in this token's pool, with
    /// `refused` of why for an unknown agent or one of another pool: the claim answers 404,
    /// so the agent registers again (with its own token, into its own pool); calls under a
    /// lease answer 410, as for any lease the caller does not hold, so the agent drops the
    /// job.
    pub(crate) async fn check(
        &self,
        state: &AppState,
        agent: &AgentId,
        refused: impl FnOnce(String) -> ApiError,
    ) -> ApiResult<()> {
        match state.store().agent_fits(agent, &self.0).await? {
            AgentFit::Fits => Ok(()),
            AgentFit::Unknown => Err(refused(format!("agent `{agent}`: register first"))),
            AgentFit::OtherPool { agent: pool, .. } => {
                tracing::warn!(agent = %agent, pool = %pool, "a token of another pool named this agent: refused");
                Err(refused(format!(
                    "agent `{agent}` is not registered in this token's pool: register first with this token"
                )))
            }
        }
    }
}

/// Why `name` is no pool name, if it is not: 1 to 64 letters, digits, `.`, `_` or `-`.
pub(crate) fn pool_problem(name: &str) -> Option<String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_POOL_LEN
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    (!ok).then(|| {
        format!(
            "pool `{name}`: use 1 to {MAX_POOL_LEN} letters, digits, `.`, `_` or `-` (the default pool is `default`)"
        )
    })
}

/// Refuses an empty list of pools or a bad name in it, naming the field.
pub(crate) fn check_pools(pools: &[String]) -> ApiResult<()> {
    if pools.is_empty() {
        return Err(ApiError::BadRequest(
            "`pools` is empty: a project needs at least one pool to run its jobs (the default is [\"default\"])".into(),
        ));
    }
    if let Some(problem) = pools.iter().find_map(|p| pool_problem(p)) {
        return Err(ApiError::BadRequest(format!("`pools`: {problem}")));
    }
    Ok(())
}
