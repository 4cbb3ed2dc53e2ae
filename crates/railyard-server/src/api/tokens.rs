//! Tokens for people and agents: created (the token shown once, only its SHA-256 stored),
//! listed, revoked. Admin only.

use axum::extract::State;
use railyard_types::Millis;
use railyard_types::api::{CreateToken, ListTokens, RevokeToken};
use railyard_types::protocol::CreatedToken;

use super::caller::Caller;
use super::pools::pool_problem;
use super::{ApiResult, Body, Params, Reply};
use crate::error::ApiError;
use crate::{AppState, TokenHash};
use railyard_types::Role;

/// A token's or a person's name (`what`): 1 to 64 letters, digits, `.`, `_`, `-` (it
/// appears in audit lines as `user:NAME`, so no `:` or spaces).
pub(super) fn check_name(what: &str, name: &str) -> ApiResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::BadRequest(format!(
            "{what} `{name}`: use 1 to 64 letters, digits, `.`, `_` or `-`"
        )))
    }
}

/// A new token: 256 random bits, `ry_` and hex.
pub(super) fn new_token() -> ApiResult<String> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret)
        .map_err(|e| ApiError::Internal(format!("no randomness for a token: {e}")))?;
    Ok(format!("ry_{}", hex::encode(secret)))
}

pub(super) async fn create(
    State(state): State<AppState>,
    caller: Caller<CreateToken>,
    Body(body): Body<CreateToken>,
) -> ApiResult<Reply<CreateToken>> {
    check_name("token name", &body.name)?;
    if body.role == Role::User {
        return Err(ApiError::BadRequest(
            "a `user` token belongs to a person: they make it themselves (`railyard login`, then `railyard me token-create`)".into(),
        ));
    }
    let token = new_token()?;
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
    let detail = body.pool.as_ref().map(|p| format!("pool {p}"));
    super::audit::record(
        &state,
        caller.who.actor(),
        "token.create",
        None,
        Some(format!("{} ({})", body.name, body.role)),
        detail,
    )
    .await?;
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
    caller: Caller<RevokeToken>,
    Params(name): Params<RevokeToken>,
) -> ApiResult<Reply<RevokeToken>> {
    if state.store().revoke_token(&name, Millis::now()).await? {
        super::audit::record(
            &state,
            caller.who.actor(),
            "token.revoke",
            None,
            Some(name.to_string()),
            None,
        )
        .await?;
        Ok(Reply::new(()))
    } else {
        Err(ApiError::NotFound(format!(
            "live token `{name}` (see `railyard token list`)"
        )))
    }
}
