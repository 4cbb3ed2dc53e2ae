//! The routes under `/api/v1`: authentication and bodies here, handlers per area.

mod agents;
mod metrics;
mod projects;
mod runs;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::routing::{get, post};
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
        .route("/api/v1/projects/{name}/trigger", post(projects::trigger))
        .route(
            "/api/v1/projects/{name}/webhook",
            post(crate::webhook::push),
        )
        .route("/api/v1/runs", get(runs::list_runs))
        .route("/api/v1/runs/{id}", get(runs::run_detail))
        .route("/api/v1/runs/{id}/cancel", post(runs::cancel_run))
        .route("/api/v1/runs/{id}/logs/{job}", get(runs::job_log))
        .route(
            "/api/v1/runs/{id}/logs/{job}/follow",
            get(crate::follow::follow),
        )
        .route("/api/v1/agents/register", post(agents::register))
        .route("/api/v1/agents/claim", post(agents::claim))
        .route("/api/v1/jobs/{id}/heartbeat", post(agents::heartbeat))
        .route("/api/v1/jobs/{id}/logs", post(agents::log_chunk))
        .route("/api/v1/jobs/{id}/complete", post(agents::complete))
        .route("/metrics", get(metrics::metrics))
        .fallback(|| async { ApiError::NotFound("no such endpoint".into()) })
        .with_state(state)
}

fn authorize(headers: &HeaderMap, token: &TokenHash, kind: &'static str) -> ApiResult<()> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(t) if token.matches(t) => Ok(()),
        _ => Err(ApiError::Unauthorized(kind)),
    }
}

/// A request made with the admin token; checked before the body is read, so a bad token
/// gets 401 whatever the body.
pub(crate) struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        authorize(&parts.headers, &state.config().admin_token, "admin").map(|_| Admin)
    }
}

/// A request made with the agents' token.
pub(crate) struct AgentAuth;

impl FromRequestParts<AppState> for AgentAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        authorize(&parts.headers, &state.config().agent_token, "agent").map(|_| AgentAuth)
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
