//! The routes under `/api/v1`: authentication and bodies here, handlers per area.

mod agents;
mod fleet;
mod logs;
mod metrics;
mod projects;
mod runs;
mod shares;
mod tests_queue;
pub(crate) mod tokens;
mod uploads;

use axum::extract::DefaultBodyLimit;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use axum::routing::{get, patch, post, put};
use axum::{Json, Router};

use crate::error::ApiError;
use crate::{AppState, TokenHash};

pub(crate) use agents::sweep_leases;
pub(crate) use projects::start_run;

pub(crate) type ApiResult<T> = Result<T, ApiError>;

pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/api/v1/projects",
            post(projects::add_project).get(projects::list_projects),
        )
        .route("/api/v1/projects/{name}", patch(shares::update_project))
        .route("/api/v1/projects/{name}/trigger", post(projects::trigger))
        .route(
            "/api/v1/projects/{name}/webhook",
            post(crate::webhook::push),
        )
        .route("/api/v1/runs", get(runs::list_runs))
        .route("/api/v1/runs/{id}", get(runs::run_detail))
        .route("/api/v1/runs/{id}/cancel", post(runs::cancel_run))
        .route("/api/v1/runs/{id}/logs/{job}", get(logs::job_log))
        .route(
            "/api/v1/runs/{id}/logs/{job}/follow",
            get(crate::follow::follow),
        )
        .route("/api/v1/agents/register", post(agents::register))
        .route("/api/v1/agents/claim", post(agents::claim))
        .route("/api/v1/jobs/{id}/heartbeat", post(agents::heartbeat))
        .route("/api/v1/jobs/{id}/logs", post(logs::log_chunk))
        .route("/api/v1/jobs/{id}/complete", post(agents::complete))
        .route("/api/v1/jobs/{id}/tests", post(tests_queue::open))
        .route("/api/v1/jobs/{id}/tests/next", post(tests_queue::next))
        .route(
            "/api/v1/jobs/{id}/tests/give-back",
            post(tests_queue::give_back),
        )
        .route("/api/v1/agents", get(fleet::list_agents))
        .route("/api/v1/tokens", post(tokens::create).get(tokens::list))
        .route("/api/v1/tokens/{name}/revoke", post(tokens::revoke))
        .route("/api/v1/openapi.json", get(crate::openapi::document))
        .route(
            "/api/v1/jobs/{id}/artifacts/{*path}",
            // The body limit is the upload's own, counted while streaming.
            put(uploads::upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/v1/runs/{id}/artifacts/{job}", get(uploads::list))
        .route(
            "/api/v1/runs/{id}/artifacts/{job}/{*path}",
            get(uploads::download),
        )
        .route("/metrics", get(metrics::metrics))
        .fallback(|| async { ApiError::NotFound("no such endpoint".into()) })
        .with_state(state)
}

/// Which kind of token a route takes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Admin,
    Agent,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Agent => "agent",
        }
    }
}

/// The bootstrap token of the flags (in memory, constant time), else a stored live token of
/// that role: one lookup by its SHA-256 on a unique index, so a revoked token fails on the
/// next request, on every server of the database. A store failure answers 500, never lets
/// the request through.
async fn authorize(parts: &Parts, state: &AppState, role: Role) -> ApiResult<()> {
    let given = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .filter(|t| !t.is_empty())
        .ok_or(ApiError::Unauthorized(role.as_str()))?;
    let bootstrap = match role {
        Role::Admin => Some(&state.config().admin_token),
        Role::Agent => state.config().agent_token.as_ref(),
    };
    if bootstrap.is_some_and(|t| t.matches(given)) {
        return Ok(());
    }
    match state
        .store()
        .token_role(&TokenHash::of(given).hex())
        .await?
    {
        Some(r) if r == role.as_str() => Ok(()),
        _ => Err(ApiError::Unauthorized(role.as_str())),
    }
}

/// A request made with an admin token; checked before the body is read, so a bad token
/// gets 401 whatever the body.
pub(crate) struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        authorize(parts, state, Role::Admin).await.map(|_| Admin)
    }
}

/// A request made with an agent token.
pub(crate) struct AgentAuth;

impl FromRequestParts<AppState> for AgentAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        authorize(parts, state, Role::Agent)
            .await
            .map(|_| AgentAuth)
    }
}

/// A JSON body whose rejection (malformed, wrong type) is our JSON error with status 400.
pub(crate) struct Body<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> ApiResult<Self> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(Body(value)),
            Err(rejection) => Err(ApiError::BadRequest(format!(
                "malformed request body: {}",
                rejection.body_text()
            ))),
        }
    }
}
