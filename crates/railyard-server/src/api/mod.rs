//! The routes under `/api/v1`: each endpoint of [`railyard_types::api`] with its handler,
//! checked against its declaration (see `endpoint`); tokens and JSON bodies here, handlers
//! per area.

mod agents;
mod approve;
mod audit;
mod caches;
mod caller;
mod commit_statuses;
mod deployments;
mod endpoint;
mod env_images;
mod fleet;
mod health;
mod inputs;
mod logs;
mod me;
mod metrics;
mod passwords;
mod people;
mod pools;
mod projects;
mod rerun;
mod retention;
mod rules;
mod run_events;
mod runs;
mod scans;
mod schedules;
mod secrets;
mod shares;
mod start_run;
mod tests_queue;
mod tokens;
mod uploads;

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Request};
use axum::handler::Handler;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::routing::{MethodFilter, MethodRouter, on};
use axum::{Json, Router};

use crate::error::ApiError;
use crate::{AppState, TokenHash};
use railyard_types::Role;
use railyard_types::api::{self, Endpoint};

pub(crate) use agents::sweep_leases;
pub(crate) use audit::record as audit;
pub(crate) use caller::Caller;
use endpoint::{Authorized, Serves};
pub(crate) use endpoint::{Body, Params, Payload, Query, Raw, Reply, Upload};
pub(crate) use start_run::{RunRequest, start_run};

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
fn limited(route: MethodRouter<AppState>, bytes: usize) -> MethodRouter<AppState> {
    use std::convert::Infallible;
    route
        .layer::<_, Infallible>(DefaultBodyLimit::max(bytes))
        .layer::<_, Infallible>(axum::Extension(BodyLimit(bytes)))
}

pub(crate) fn router(state: AppState) -> Router {
    // The envelope goes around the whole router, not each route: a route's 405 gets its
    // `Allow` header from the router after the route's own layers ran.
    Router::new()
        .fallback_service(routes().router.with_state(state))
        .layer(axum::middleware::from_fn(crate::error::envelope))
}

/// The router being built, with the endpoints it serves: routes are added only through
/// [`Routes::at`], by their declaration in [`railyard_types::api`].
pub(crate) struct Routes {
    router: Router<AppState>,
    /// The (method, path) of every endpoint served, in the order added.
    pub(crate) served: Vec<(api::Method, &'static str)>,
}

impl Routes {
    /// Serves endpoint `E` with `handler`, a handler of `E` and of no other endpoint.
    fn at<E, H, A, T>(self, e: E, handler: H) -> Self
    where
        E: Endpoint + 'static,
        H: Serves<E, A> + Handler<T, AppState>,
        T: 'static,
    {
        self.at_with(e, handler, |r| r)
    }

    /// Serves endpoint `E` with `handler`, its route passed through `layers` (a body limit).
    fn at_with<E, H, A, T>(
        mut self,
        _: E,
        handler: H,
        layers: impl FnOnce(MethodRouter<AppState>) -> MethodRouter<AppState>,
    ) -> Self
    where
        E: Endpoint + 'static,
        H: Serves<E, A> + Handler<T, AppState>,
        T: 'static,
    {
        endpoint::check::<E, A, H>();
        let filter = match E::METHOD {
            api::Method::Get => MethodFilter::GET,
            api::Method::Post => MethodFilter::POST,
            api::Method::Put => MethodFilter::PUT,
            api::Method::Patch => MethodFilter::PATCH,
        };
        let route = on(filter, Authorized::<E, H>::new(handler));
        self.router = self.router.route(E::PATH, layers(route));
        self.served.push((E::METHOD, E::PATH));
        self
    }
}

/// Every endpoint with its handler.
pub(crate) fn routes() -> Routes {
    let routes = Routes {
        router: Router::new(),
        served: Vec::new(),
    };
    let mut routes = routes
        .at(api::AddProject, projects::add_project)
        .at(api::ListProjects, projects::list_projects)
        .at(api::UpdateProject, shares::update_project)
        .at(api::Trigger, projects::trigger)
        .at(api::RemoveProject, projects::remove_project)
        .at(api::Webhook, crate::webhook::push)
        .at(api::ListRuns, runs::list_runs)
        .at(api::GetRun, runs::run_detail)
        .at(api::GetJob, runs::job_detail)
        .at(api::CancelRun, runs::cancel_run)
        .at(api::ApproveJob, approve::approve_job)
        .at(api::RerunRun, rerun::rerun)
        .at(api::ListDeployments, deployments::list_deployments)
        .at(api::JobLog, logs::job_log)
        .at(api::FollowLog, crate::follow::follow)
        .at(api::ListAgents, fleet::list_agents)
        .at(api::Register, agents::register)
        .at(api::ClaimJob, agents::claim)
        .at(api::Heartbeat, agents::heartbeat)
        .at(api::SendLog, logs::log_chunk)
        .at_with(api::Complete, agents::complete, |r| {
            limited(r, RESULT_LIMIT)
        })
        .at(api::EnvBuildLease, env_images::lease)
        .at(api::EnvImageBuilt, env_images::built)
        .at(api::ListEnvImages, env_images::list)
        .at(api::RemoveEnvImage, env_images::remove)
        .at_with(api::OpenTests, tests_queue::open, |r| {
            limited(r, RESULT_LIMIT)
        })
        .at(api::NextTests, tests_queue::next)
        .at(api::GiveBackTests, tests_queue::give_back)
        .at_with(api::UploadArtifact, uploads::upload, |r| {
            // The body limit is the upload's own, counted while streaming.
            r.layer(DefaultBodyLimit::disable())
        })
        .at(api::ListInputs, inputs::list)
        .at(api::DownloadInput, inputs::download)
        .at(api::ListCaches, caches::list)
        .at(api::LookupCache, caches::lookup)
        .at(api::DownloadCache, caches::download)
        .at_with(api::UploadCache, caches::upload, |r| {
            // The body limit is the project's cache budget, counted while streaming.
            r.layer(DefaultBodyLimit::disable())
        })
        .at(api::ListArtifacts, uploads::list)
        .at(api::DownloadArtifact, uploads::download)
        .at(api::CreateToken, tokens::create)
        .at(api::ListTokens, tokens::list)
        .at(api::RevokeToken, tokens::revoke)
        .at(api::SetSecret, secrets::set)
        .at(api::ListSecrets, secrets::list)
        .at(api::RemoveSecret, secrets::remove)
        .at(api::AddSchedule, schedules::add)
        .at(api::ListSchedules, schedules::list)
        .at(api::RemoveSchedule, schedules::remove)
        .at(api::ListCommitStatuses, commit_statuses::list)
        .at(api::AddUser, people::add_user)
        .at(api::ListUsers, people::list_users)
        .at(api::RemoveUser, people::remove_user)
        .at(api::ListMembers, people::list_members)
        .at(api::SetMember, people::set_member)
        .at(api::RemoveMember, people::remove_member)
        .at(api::Login, me::login)
        .at(api::WhoAmI, me::who_am_i)
        .at(api::CreatePersonalToken, me::create_token)
        .at(api::ListPersonalTokens, me::list_tokens)
        .at(api::RevokePersonalToken, me::revoke_token)
        .at(api::ListAudit, audit::list)
        .at(api::LookupImageScan, scans::lookup)
        .at_with(api::UploadImageScan, scans::upload, |r| {
            limited(r, scans::SCAN_LIMIT)
        })
        .at(api::ListScans, scans::list)
        .at(api::GetScan, scans::detail)
        .at(api::WhoHas, scans::who_has)
        .at(api::AdvisoryAffected, scans::affected)
        .at_with(api::ImportAdvisories, scans::import, |r| {
            // The body limit is the upload's own, counted while streaming.
            r.layer(DefaultBodyLimit::disable())
        })
        .at(api::RematchAdvisories, scans::rematch)
        .at(api::OpenApi, crate::openapi::document)
        .at(api::Healthz, health::healthz)
        .at(api::Readyz, health::readyz)
        .at(api::Metrics, metrics::metrics);
    routes.router = routes
        .router
        .fallback(|method: Method, uri: Uri| async move {
            ApiError::NoRoute {
                method,
                path: uri.path().to_owned(),
            }
        })
        .layer(DefaultBodyLimit::max(BODY_LIMIT));
    routes
}

/// An agent's token: the bootstrap `--agent-token` (in memory, constant time), else a stored
/// live agent token: one lookup by its SHA-256 on a unique index, so a revoked token fails
/// on the next request, on every server of the database. A store failure answers 500, never
/// lets the request through. (People and admins: [`caller::authenticate`].)
async fn authorize_agent(headers: &HeaderMap, state: &AppState) -> ApiResult<()> {
    let refused = || ApiError::Unauthorized(Role::Agent.as_str());
    let given = caller::bearer(headers).ok_or_else(refused)?;
    let bootstrap = state.config().agent_token.as_ref();
    if bootstrap.is_some_and(|t| t.matches(given)) {
        return Ok(());
    }
    match state
        .store()
        .token_role(&TokenHash::of(given).hex())
        .await?
    {
        Some(Role::Agent) => Ok(()),
        _ => Err(refused()),
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
