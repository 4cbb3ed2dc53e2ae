//! A person's own side: signing in for a token, who the token speaks for, and their own
//! tokens (made narrower than themselves, listed, revoked).

use axum::extract::State;
use railyard_types::api::{
    CreatePersonalToken, ListPersonalTokens, Login, RevokePersonalToken, WhoAmI,
};
use railyard_types::people::{Me, PersonalToken, TokenScope};
use railyard_types::{Millis, ProjectName, TokenName, UserName};
use std::time::Duration;

use super::audit::record;
use super::caller::{Caller, Who};
use super::{ApiResult, Body, Params, Reply};
use crate::error::ApiError;
use crate::{AppState, TokenHash};

/// How long a token from signing in lasts.
const LOGIN_DAYS: u64 = 30;

pub(super) async fn login(
    State(state): State<AppState>,
    Body(body): Body<Login>,
) -> ApiResult<Reply<Login>> {
    let credentials = state.store().user_credentials(&body.user).await?;
    let (stored, active) = match credentials {
        Some(c) => (c.password_hash, c.active),
        None => (None, false),
    };
    let matches = super::passwords::verify(body.password, stored).await?;
    if !matches || !active {
        tracing::info!(user = %body.user, "sign-in refused");
        return Err(ApiError::SignInRefused);
    }
    let mut suffix = [0u8; 4];
    getrandom::fill(&mut suffix)
        .map_err(|e| ApiError::Internal(format!("no randomness for a token: {e}")))?;
    let name = TokenName::from(format!("{}-login-{}", body.user, hex::encode(suffix)));
    let token = issue(&state, &body.user, name, body.scope, Some(LOGIN_DAYS)).await?;
    record(
        &state,
        format!("user:{}", body.user),
        "user.login",
        token.scope.project.as_ref(),
        Some(token.name.to_string()),
        None,
    )
    .await?;
    Ok(Reply::new(token))
}

/// Stores a new personal token of `user` and gives it back, shown this once.
async fn issue(
    state: &AppState,
    user: &UserName,
    name: TokenName,
    scope: TokenScope,
    days: Option<u64>,
) -> ApiResult<PersonalToken> {
    super::tokens::check_name("token name", &name)?;
    let token = super::tokens::new_token()?;
    let now = Millis::now();
    let expires_at = days.map(|d| now.plus(Duration::from_secs(d * 86_400)));
    let hash = TokenHash::of(&token).hex();
    if !state
        .store()
        .add_personal_token(&name, user, &scope, &hash, now, expires_at)
        .await?
    {
        return Err(ApiError::Conflict(format!(
            "a token named `{name}` exists: pick another name (names stay taken after a revoke)"
        )));
    }
    Ok(PersonalToken {
        name,
        user: user.clone(),
        scope,
        expires_at,
        token,
    })
}

pub(super) async fn who_am_i(
    State(state): State<AppState>,
    caller: Caller<WhoAmI>,
) -> ApiResult<Reply<WhoAmI>> {
    let actor = caller.who.actor();
    let admin = caller.who.is_admin();
    let me = match caller.who {
        Who::Admin { .. } => Me {
            actor,
            user: None,
            admin,
            scope: TokenScope::default(),
            roles: Vec::new(),
        },
        Who::Person { user, scope, .. } => {
            let mut roles = state.store().memberships(None, Some(&user)).await?;
            roles.retain(|m| scope.project.as_ref().is_none_or(|p| *p == m.project));
            Me {
                actor,
                user: Some(user),
                admin,
                scope,
                roles,
            }
        }
    };
    Ok(Reply::new(me))
}

/// The person behind the caller; a 400 for the admin tokens, which belong to no one.
fn person(who: &Who) -> ApiResult<(&UserName, &TokenScope)> {
    match who {
        Who::Person { user, scope, .. } => Ok((user, scope)),
        Who::Admin { .. } => Err(ApiError::BadRequest(
            "this is an admin token, no person's: personal tokens belong to users (`railyard user add`, then sign in with `railyard login`)".into(),
        )),
    }
}

pub(super) async fn create_token(
    State(state): State<AppState>,
    caller: Caller<CreatePersonalToken>,
    Body(body): Body<CreatePersonalToken>,
) -> ApiResult<Reply<CreatePersonalToken>> {
    let (user, mine) = person(&caller.who)?;
    // A token is never wider than the one that made it.
    let project = narrower(mine.project.as_ref(), body.scope.project.as_ref())?;
    let scope = TokenScope {
        project,
        read_only: mine.read_only || body.scope.read_only,
    };
    let token = issue(
        &state,
        user,
        body.name,
        scope,
        body.expires_in_days.map(u64::from),
    )
    .await?;
    record(
        &state,
        caller.who.actor(),
        "token.create",
        token.scope.project.as_ref(),
        Some(token.name.to_string()),
        token.scope.read_only.then(|| "read-only".to_owned()),
    )
    .await?;
    Ok(Reply::new(token))
}

/// The project a new token is narrowed to: the maker's own narrowing, which a request may
/// not widen.
fn narrower(
    mine: Option<&ProjectName>,
    asked: Option<&ProjectName>,
) -> ApiResult<Option<ProjectName>> {
    match (mine, asked) {
        (Some(m), Some(a)) if m != a => Err(ApiError::Forbidden(format!(
            "this token is narrowed to project `{m}`: it cannot make a token for `{a}`"
        ))),
        (Some(m), _) => Ok(Some(m.clone())),
        (None, a) => Ok(a.cloned()),
    }
}

pub(super) async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller<ListPersonalTokens>,
) -> ApiResult<Reply<ListPersonalTokens>> {
    let (user, _) = person(&caller.who)?;
    Ok(Reply::new(state.store().personal_tokens(user).await?))
}

pub(super) async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller<RevokePersonalToken>,
    Params(name): Params<RevokePersonalToken>,
) -> ApiResult<Reply<RevokePersonalToken>> {
    let (user, _) = person(&caller.who)?;
    if !state
        .store()
        .revoke_personal_token(user, &name, Millis::now())
        .await?
    {
        return Err(ApiError::NotFound(format!(
            "live token `{name}` of yours (see `railyard me tokens`)"
        )));
    }
    record(
        &state,
        caller.who.actor(),
        "token.revoke",
        None,
        Some(name.to_string()),
        None,
    )
    .await?;
    Ok(Reply::new(()))
}
