//! Tokens for people and agents: created (the token shown once, only its SHA-256 stored),
//! listed, revoked. Admin only.

use axum::extract::State;
use railyard_types::Millis;
use railyard_types::api::{CreateToken, ListTokens, RevokeToken};
use railyard_types::protocol::CreatedToken;

use super::pools::pool_problem;
use super::{ApiResult, Body, Params, Reply};
use crate::error::ApiError;
use crate::{AppState, TokenHash};
use railyard_types::Role;

pub(super) async fn create(
    State(state): State<AppState>,
    Body(body): Body<CreateToken>,
) -> ApiResult<Reply<CreateToken>> {
    let name_ok = !body.name.is_empty()
        && body.name.len() <= 64
        && body
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !name_ok {
        return Err(ApiError::BadRequest(format!(
            "token name `{}`: use 1 to 64 letters, digits, `.`, `_` or `-`",
            body.name
        )));
    }
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret)
        .map_err(|e| ApiError::BadRequest(format!("no randomness for a token: {e}")))?;
    let token = format!("ry_{}", hex::encode(secret));
    let stored = match (body.role, &body.pool) {
        (Role::Agent, pool) => {
            // Agent tokens carry their pool (see `pools`); `default` unless named.
            let pool = pool.as_deref().unwrap_or(railyard_store::DEFAULT_POOL);
            if let Some(problem) = pool_problem(pool) {
                return Err(ApiError::BadRequest(problem));
            }
            let hash = TokenHash::of(&token).hex();
            state
                .store()
                .add_agent_token(&body.name, pool, &hash, Millis::now())
                .await?
        }
        (role, Some(_)) => {
            return Err(ApiError::BadRequest(format!(
                "`pool` is for agent tokens: a `{role}` token has none (leave it out)"
            )));
        }
        (role, None) => {
            state
                .store()
                .add_token(
                    &body.name,
                    role,
                    &TokenHash::of(&token).hex(),
                    Millis::now(),
                )
                .await?
        }
    };
    if !stored {
        return Err(ApiError::Conflict(format!(
            "a token named `{}` exists: pick another name, or revoke it (names stay taken)",
            body.name
        )));
    }
    let created = CreatedToken {
        name: body.name,
        role: body.role,
        token,
    };
    Ok(Reply::new(created))
}

pub(super) async fn list(State(state): State<AppState>) -> ApiResult<Reply<ListTokens>> {
    Ok(Reply::new(state.store().tokens().await?))
}

pub(super) async fn revoke(
    State(state): State<AppState>,
    Params(name): Params<RevokeToken>,
) -> ApiResult<Reply<RevokeToken>> {
    if state.store().revoke_token(&name, Millis::now()).await? {
        Ok(Reply::new(()))
    } else {
        Err(ApiError::NotFound(format!(
            "live token `{name}` (see `railyard token list`)"
        )))
    }
}
