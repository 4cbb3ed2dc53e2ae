//! The routes under `/api/v1`: authentication and bodies here, handlers per area.

mod agents;
mod fleet;
mod health;
mod logs;
mod metrics;
mod projects;
mod runs;
mod shares;
mod tests_queue;
pub(crate) mod tokens;
mod uploads;

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{
    DefaultBodyLimit, FromRequest, FromRequestParts, OptionalFromRequest, Request,
};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, Uri, header};
use axum::routing::{get, patch, post, put};
use axum::{Json, Router};

use crate::error::ApiError;
use crate::{AppState, TokenHash};
use railyard_types::Role;

pub(crate) use agents::sweep_leases;
pub(crate) use projects::start_run;

pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// The most a JSON body may hold (axum's default limit, named here for its error message).
const BODY_LIMIT: usize = 2 << 20;

/// The most a job's result (`complete`) or a shard's test list (`tests`) may hold: real
/// suites are large. 100,000 test ids of 100 characters are 10.3 MB as a list and 12.5 MB as
/// timings. Refused past it with 413 (the agent then reports the job failed without its
/// timings, never drops it).
pub(crate) const RESULT_LIMIT: usize = 16 << 20;

/// The body limit of a route, when it is not [`BODY_LIMIT`]: the route's layers set it for
/// the framework and, as this extension, for the 413's message.
#[derive(Debug, Clone, Copy)]
struct BodyLimit(usize);

/// A route's layers for a body limit of `bytes`.
fn limited<S: Clone + Send + Sync + 'static>(
    route: axum::routing::MethodRouter<S>,
    bytes: usize,
) -> axum::routing::MethodRouter<S> {
    use std::convert::Infallible;
    route
        .layer::<_, Infallible>(DefaultBodyLimit::max(bytes))
        .layer::<_, Infallible>(axum::Extension(BodyLimit(bytes)))
}

pub(crate) fn router(state: AppState) -> Router {
    // The envelope goes around the whole router, not each route: a route's 405 gets its
    // `Allow` header from the router after the route's own layers ran.
    Router::new()
        .fallback_service(routes(state))
        .layer(axum::middleware::from_fn(crate::error::envelope))
}

fn routes(state: AppState) -> Router {
    Router::new()
        .route(
            "/api/v1/projects",
            post(projects::add_project).get(projects::list_projects),
        )
        .route("/api/v1/projects/{name}", patch(shares::update_project))
        .route("/api/v1/projects/{name}/trigger", post(projects::trigger))
        .route(
            "/api/v1/projects/{name}/remove",
            post(projects::remove_project),
        )
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
        .route(
            "/api/v1/jobs/{id}/complete",
            limited(post(agents::complete), RESULT_LIMIT),
        )
        .route(
            "/api/v1/jobs/{id}/tests",
            limited(post(tests_queue::open), RESULT_LIMIT),
        )
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
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .fallback(|method: Method, uri: Uri| async move {
            ApiError::NoRoute {
                method,
                path: uri.path().to_owned(),
            }
        })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
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
        Some(r) if r == role => Ok(()),
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

/// A JSON body. Every way it can be wrong is our error, in the envelope: 415 without a JSON
/// `Content-Type`, 413 over the body limit, 400 for text that is not JSON or does not fit
/// the route's body (serde names the field and the place).
pub(crate) struct Body<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> ApiResult<Self> {
        let route = format!("{} {}", req.method(), req.uri().path());
        read_json(req, state).await?.map(Body).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "{route} takes a JSON body and got none (GET /api/v1/openapi.json describes it)"
            ))
        })
    }
}

/// A body that may be left out (a trigger's): an empty body is `None`, anything else is read
/// as [`Body`] reads it.
impl<T: serde::de::DeserializeOwned, S: Send + Sync> OptionalFromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> ApiResult<Option<Self>> {
        Ok(read_json(req, state).await?.map(Body))
    }
}

/// The request's body as JSON of `T`; `None` when it is empty.
async fn read_json<T: serde::de::DeserializeOwned, S: Send + Sync>(
    req: Request,
    state: &S,
) -> ApiResult<Option<T>> {
    let route = format!("{} {}", req.method(), req.uri().path());
    let limit = req
        .extensions()
        .get::<BodyLimit>()
        .map_or(BODY_LIMIT, |l| l.0);
    let declared = req.headers().get(header::CONTENT_TYPE).map(|v| {
        String::from_utf8_lossy(v.as_bytes())
            .chars()
            .take(100)
            .collect::<String>()
    });
    let bytes = Bytes::from_request(req, state)
        .await
        .map_err(|e| match e.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge(format!(
                "the request body is over the server's limit of {} MiB for {route}",
                limit >> 20
            )),
            _ => ApiError::BadRequest(format!("reading the request body: {}", e.body_text())),
        })?;
    if bytes.is_empty() {
        return Ok(None);
    }
    let json = declared.as_deref().is_some_and(|t| {
        let essence = t
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        essence == "application/json"
            || essence.starts_with("application/") && essence.ends_with("+json")
    });
    if !json {
        let sent = match declared {
            Some(t) => format!("a `{t}` body"),
            None => "a body without `Content-Type`".to_string(),
        };
        return Err(ApiError::UnsupportedMediaType(format!(
            "{route} got {sent}: send JSON with `Content-Type: application/json`"
        )));
    }
    match Json::<T>::from_bytes(&bytes) {
        Ok(Json(value)) => Ok(Some(value)),
        Err(rejection) => {
            // axum's text is "<what failed>: <serde's report>"; serde's report names the
            // field and the line and column.
            let text = rejection.body_text();
            let detail = text.split_once(": ").map_or(text.as_str(), |(_, d)| d);
            Err(ApiError::BadRequest(match rejection {
                JsonRejection::JsonSyntaxError(_) => {
                    format!("the request body is not valid JSON: {detail}")
                }
                _ => format!("the request body does not fit {route}: {detail}"),
            }))
        }
    }
}
