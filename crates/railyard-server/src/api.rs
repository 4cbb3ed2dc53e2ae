//! The routes under `/api/v1` and the lease sweep.

use std::time::Duration;

use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use railyard_store::NewRun;
use serde::Deserialize;

use crate::error::ApiError;
use crate::protocol::*;
use crate::{AppState, TokenHash, git, now_ms};

type ApiResult<T> = Result<T, ApiError>;

pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/projects", post(add_project).get(list_projects))
        .route("/api/v1/projects/{name}/trigger", post(trigger))
        .route(
            "/api/v1/projects/{name}/webhook",
            post(crate::webhook::push),
        )
        .route("/api/v1/runs", get(list_runs))
        .route("/api/v1/runs/{id}", get(run_detail))
        .route("/api/v1/runs/{id}/cancel", post(cancel_run))
        .route("/api/v1/runs/{id}/logs/{job}", get(job_log))
        .route(
            "/api/v1/runs/{id}/logs/{job}/follow",
            get(crate::follow::follow),
        )
        .route("/api/v1/agents/register", post(register))
        .route("/api/v1/agents/claim", post(claim))
        .route("/api/v1/jobs/{id}/heartbeat", post(heartbeat))
        .route("/api/v1/jobs/{id}/logs", post(log_chunk))
        .route("/api/v1/jobs/{id}/complete", post(complete))
        .route("/metrics", get(metrics))
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

/// Names safe as a mirror folder and a label value.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.')
}

async fn add_project(
    State(state): State<AppState>,
    _auth: Admin,
    Body(body): Body<NewProject>,
) -> ApiResult<(StatusCode, Json<Project>)> {
    if !valid_name(&body.name) {
        return Err(ApiError::BadRequest(format!(
            "invalid project name `{}`: use letters, digits, `-`, `_` and `.`",
            body.name
        )));
    }
    if body.repo.trim().is_empty() {
        return Err(ApiError::BadRequest("the repository URL is empty".into()));
    }
    if !state
        .store()
        .add_project(&body.name, &body.repo, now_ms())
        .await?
    {
        return Err(ApiError::Conflict(format!(
            "project `{}` exists",
            body.name
        )));
    }
    if let Some(secret) = body.webhook_secret.as_deref().filter(|s| !s.is_empty()) {
        state
            .store()
            .set_webhook_secret(&body.name, Some(secret))
            .await?;
    }
    let project = state
        .store()
        .project(&body.name)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("project `{}`", body.name)))?;
    Ok((StatusCode::CREATED, Json(project)))
}

async fn list_projects(
    State(state): State<AppState>,
    _auth: Admin,
) -> ApiResult<Json<Vec<Project>>> {
    Ok(Json(state.store().projects().await?))
}

async fn trigger(
    State(state): State<AppState>,
    _auth: Admin,
    Path(name): Path<String>,
    body: Option<Json<TriggerRequest>>,
) -> ApiResult<(StatusCode, Json<Triggered>)> {
    let request = body.map(|Json(b)| b).unwrap_or_default();
    let git_ref = request.git_ref.as_deref().unwrap_or("HEAD");
    let triggered = start_run(&state, &name, git_ref).await?;
    Ok((StatusCode::CREATED, Json(triggered)))
}

/// Resolves `git_ref` in the project's mirror, reads the pipeline there, records the run and
/// queues its jobs. Used by triggers and webhooks.
pub(crate) async fn start_run(state: &AppState, name: &str, git_ref: &str) -> ApiResult<Triggered> {
    let project = state
        .store()
        .project(name)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("project `{name}`")))?;
    let (mirror, commit) = git::resolve(
        &state.config().mirrors_dir,
        &project.name,
        &project.repo_url,
        git_ref,
    )
    .await?;
    let text = git::pipeline_at(&mirror, &commit).await?;
    let file = std::path::Path::new(railyard_pipeline::FILE_NAME);
    let pipeline = railyard_pipeline::parse(file, &text).map_err(|e| ApiError::Pipeline {
        commit: commit.clone(),
        message: e.to_string(),
    })?;
    let jobs: Vec<(String, Vec<String>)> = pipeline
        .jobs
        .values()
        .map(|j| (j.name.clone(), j.needs.clone()))
        .collect();
    let names: Vec<String> = jobs.iter().map(|(n, _)| n.clone()).collect();
    let now = now_ms();
    let run = state
        .store()
        .create_run(&NewRun {
            project: project.name.clone(),
            pipeline_path: railyard_pipeline::FILE_NAME.into(),
            commit: Some(commit.clone()),
            // Not a `host:pid`: the run belongs to the queue, not to a process, so no local
            // `abandon_dead_runs` may take it for a crashed one.
            owner: "railyard-server:queue".into(),
            jobs: names.clone(),
            started_at: now,
        })
        .await?;
    state
        .store()
        .enqueue_run(
            &run.id,
            &project.name,
            &project.repo_url,
            &commit,
            &jobs,
            state.config().max_attempts,
            now,
        )
        .await?;
    state.work().notify_waiters();
    tracing::info!(run = %run.id, project = %project.name, %commit, "run queued");
    Ok(Triggered { run, jobs: names })
}

#[derive(Debug, Deserialize)]
struct RunsQuery {
    project: Option<String>,
    limit: Option<u32>,
}

async fn list_runs(
    State(state): State<AppState>,
    _auth: Admin,
    Query(q): Query<RunsQuery>,
) -> ApiResult<Json<Vec<RunRecord>>> {
    let runs = state
        .store()
        .list_runs(q.project.as_deref(), q.limit.unwrap_or(20))
        .await?;
    Ok(Json(runs))
}

async fn run_detail(
    State(state): State<AppState>,
    _auth: Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<RunDetail>> {
    state
        .store()
        .find_run(None, &id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("run `{id}`")))
}

async fn job_log(
    State(state): State<AppState>,
    _auth: Admin,
    Path((id, job)): Path<(String, String)>,
) -> ApiResult<Response> {
    let run = state
        .store()
        .find_run(None, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("run `{id}`")))?;
    match state.store().read_log(&run.run.id, &job).await {
        Ok(bytes) => {
            Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], bytes).into_response())
        }
        Err(railyard_store::StoreError::NoLog { .. }) => Err(ApiError::NotFound(format!(
            "log of job `{job}` of run {}",
            run.run.id
        ))),
        Err(e) => Err(e.into()),
    }
}

async fn register(
    State(state): State<AppState>,
    _auth: AgentAuth,
    Body(body): Body<RegisterRequest>,
) -> ApiResult<Json<Registered>> {
    if body.slots == 0 {
        return Err(ApiError::BadRequest(
            "an agent needs at least one slot".into(),
        ));
    }
    let id = state
        .store()
        .register_agent(&body.name, i64::from(body.slots), now_ms())
        .await?;
    tracing::info!(agent = %id, name = %body.name, slots = body.slots, "agent registered");
    Ok(Json(Registered {
        agent_id: id,
        lease_ms: state.config().lease.as_millis() as u64,
    }))
}

async fn claim(
    State(state): State<AppState>,
    _auth: AgentAuth,
    Body(body): Body<ClaimRequest>,
) -> ApiResult<Response> {
    let wait = Duration::from_millis(body.wait_ms.unwrap_or(20_000)).min(state.config().max_wait);
    let deadline = tokio::time::Instant::now() + wait;
    let lease_ms = state.config().lease.as_millis() as i64;
    loop {
        let notified = state.work().notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let now = now_ms();
        if !state.store().touch_agent(&body.agent_id, now).await? {
            return Err(ApiError::NotFound(format!(
                "agent `{}`: register first",
                body.agent_id
            )));
        }
        if let Some(claim) = state.store().claim(&body.agent_id, now, lease_ms).await? {
            state
                .store()
                .job_started(&claim.run_id, &claim.job, now)
                .await?;
            if claim.attempt > 1 {
                let mut log = state.store().log_writer(&claim.run_id, &claim.job).await?;
                let note = format!(
                    "[railyard: attempt {} on another agent; the previous lease lapsed]\n",
                    claim.attempt
                );
                let _ = log.append(note.as_bytes()).await;
            }
            tracing::info!(job = %claim.job, run = %claim.run_id, agent = %body.agent_id, attempt = claim.attempt, "job leased");
            return Ok(Json(claim).into_response());
        }
        // Woken by a new job here; other servers on the same database are seen by polling.
        tokio::select! {
            _ = &mut notified => {}
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = tokio::time::sleep_until(deadline) => return Ok(StatusCode::NO_CONTENT.into_response()),
        }
    }
}

async fn heartbeat(
    State(state): State<AppState>,
    _auth: AgentAuth,
    Path(id): Path<String>,
    Body(body): Body<LeaseRef>,
) -> ApiResult<Json<Renewed>> {
    let now = now_ms();
    let lease_ms = state.config().lease.as_millis() as i64;
    match state
        .store()
        .renew_lease(&id, &body.agent_id, body.attempt, now, lease_ms)
        .await?
    {
        Some(cancel) => Ok(Json(Renewed {
            lease_until: now + lease_ms,
            cancel,
        })),
        None => Err(ApiError::LeaseLost(id)),
    }
}

async fn cancel_run(
    State(state): State<AppState>,
    _auth: Admin,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<RunDetail>)> {
    let found = state
        .store()
        .find_run(None, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("run `{id}`")))?;
    let now = now_ms();
    if !state.store().cancel_run(&found.run.id, now).await? {
        return Err(ApiError::Conflict(format!(
            "run {} has already ended",
            found.run.id
        )));
    }
    // Jobs not started are done now; the run ends here if none was running.
    state.store().advance_run(&found.run.id, now).await?;
    let detail = state
        .store()
        .find_run(None, &found.run.id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("run `{id}`")))?;
    tracing::info!(run = %found.run.id, "run cancelled");
    Ok((StatusCode::ACCEPTED, Json(detail)))
}

async fn log_chunk(
    State(state): State<AppState>,
    _auth: AgentAuth,
    Path(id): Path<String>,
    Body(chunk): Body<LogChunk>,
) -> ApiResult<Json<LogAck>> {
    let (claim, last) = state
        .store()
        .leased_job(&id, &chunk.agent_id, chunk.attempt)
        .await?
        .ok_or_else(|| ApiError::LeaseLost(id.clone()))?;
    if chunk.seq <= last {
        // Already stored: the agent did not see our answer. Acknowledge, do not write again.
        return Ok(Json(LogAck { acked: last }));
    }
    if chunk.seq != last + 1 {
        return Err(ApiError::Conflict(format!(
            "log chunk {} of job {id} came before chunk {}: send chunks in order",
            chunk.seq,
            last + 1
        )));
    }
    let mut log = state.store().log_writer(&claim.run_id, &claim.job).await?;
    match log.append(chunk.text.as_bytes()).await {
        Ok(()) | Err(railyard_store::StoreError::LogTooLarge { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    state
        .store()
        .set_log_seq(&id, chunk.attempt, chunk.seq)
        .await?;
    Ok(Json(LogAck { acked: chunk.seq }))
}

async fn complete(
    State(state): State<AppState>,
    _auth: AgentAuth,
    Path(id): Path<String>,
    Body(body): Body<Completion>,
) -> ApiResult<StatusCode> {
    let (claim, _) = state
        .store()
        .leased_job(&id, &body.agent_id, body.attempt)
        .await?
        .ok_or_else(|| ApiError::LeaseLost(id.clone()))?;
    if !body.status.is_final() {
        return Err(ApiError::BadRequest(format!(
            "`{}` is not a final job status",
            body.status.as_str()
        )));
    }
    if !state
        .store()
        .complete_job(&id, &body.agent_id, body.attempt, body.status)
        .await?
    {
        return Err(ApiError::LeaseLost(id));
    }
    let now = now_ms();
    state
        .store()
        .job_finished(
            &claim.run_id,
            &claim.job,
            body.status,
            now,
            body.error.as_deref(),
        )
        .await?;
    let finished = state.store().advance_run(&claim.run_id, now).await?;
    state.work().notify_waiters();
    tracing::info!(job = %claim.job, run = %claim.run_id, status = body.status.as_str(), "job done");
    if let Some(status) = finished {
        tracing::info!(run = %claim.run_id, status = status.as_str(), "run done");
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Prometheus text: jobs per project and state, agents registered and live. Open, like most
/// exporters; put it behind the network's rules.
async fn metrics(State(state): State<AppState>) -> ApiResult<Response> {
    let lease_ms = state.config().lease.as_millis() as i64;
    let stats = state.store().queue_stats(now_ms() - lease_ms).await?;
    let mut out = String::new();
    out.push_str("# HELP railyard_jobs Jobs of unfinished runs by project and queue state.\n");
    out.push_str("# TYPE railyard_jobs gauge\n");
    for (project, st, n) in &stats.jobs {
        let project = project.replace('\\', "\\\\").replace('"', "\\\"");
        out.push_str(&format!(
            "railyard_jobs{{project=\"{project}\",state=\"{st}\"}} {n}\n"
        ));
    }
    out.push_str("# HELP railyard_agents Registered agents.\n# TYPE railyard_agents gauge\n");
    out.push_str(&format!("railyard_agents {}\n", stats.agents));
    out.push_str("# HELP railyard_agents_live Agents seen within one lease.\n# TYPE railyard_agents_live gauge\n");
    out.push_str(&format!("railyard_agents_live {}\n", stats.agents_seen));
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response())
}

/// Every so often: leases that lapsed put their job back (or fail it), and runs move on.
pub(crate) async fn sweep_leases(state: AppState) {
    let every =
        (state.config().lease / 3).clamp(Duration::from_millis(200), Duration::from_secs(5));
    loop {
        tokio::time::sleep(every).await;
        let now = now_ms();
        match state.store().expire_leases(now).await {
            Ok(lapsed) => {
                for l in lapsed {
                    tracing::warn!(run = %l.run_id, job = %l.job, requeued = l.requeued, "lease lapsed");
                    if !l.requeued
                        && let Err(e) = state.store().advance_run(&l.run_id, now).await
                    {
                        tracing::error!("moving run {} on: {e}", l.run_id);
                    }
                    state.work().notify_waiters();
                }
            }
            Err(e) => tracing::error!("sweeping leases: {e}"),
        }
    }
}
