//! Starting a run: resolve the ref in the project's mirror, read the pipeline there, record
//! the run with its queue and its context in one transaction. Triggers, webhooks and
//! schedules all come through [`start_run`].

use railyard_store::{Delivered, NewRun};
use railyard_types::context::{PullRequest, RunContext, RunEvent};
use railyard_types::{Millis, ProjectName};

use super::ApiResult;
use crate::error::ApiError;
use crate::protocol::*;
use crate::{AppState, git};

/// What a run is asked for, and by whom.
#[derive(Debug, Clone)]
pub(crate) struct RunRequest<'a> {
    /// What to resolve in the mirror: a ref, a branch or a commit.
    pub git_ref: &'a str,
    /// The full ref a forge named (a webhook's); else found from `git_ref`.
    pub pushed_ref: Option<&'a str>,
    /// The event; `None` reads it from the ref (a tag's is `tag`, else `push`).
    pub event: Option<RunEvent>,
    /// The pull request, for a `pull_request` event.
    pub pull_request: Option<PullRequest>,
    /// Who asked (an audit actor: `user:ann`, `webhook:github`, `schedule:nightly`).
    pub started_by: String,
    /// A webhook's delivery id, recorded in the run's transaction (a replay queues nothing).
    pub delivery: Option<&'a str>,
}

impl<'a> RunRequest<'a> {
    /// A run asked for through the API (`railyard trigger`).
    pub fn triggered(git_ref: &'a str, started_by: String) -> Self {
        RunRequest {
            git_ref,
            pushed_ref: None,
            event: Some(RunEvent::Trigger),
            pull_request: None,
            started_by,
            delivery: None,
        }
    }
}

/// Resolves the request's ref in the project's mirror, reads the pipeline there, and records
/// the run with its queue in one transaction. A webhook names the ref it pushed
/// (`pushed_ref`), a trigger's is found from `git_ref` (none for a commit). With a webhook's
/// `delivery` id, the delivery is recorded in the run's transaction; `None` when it was
/// handled before (a replay), with nothing queued.
pub(crate) async fn start_run(
    state: &AppState,
    name: &ProjectName,
    asked: RunRequest<'_>,
) -> ApiResult<Option<Triggered>> {
    let RunRequest {
        git_ref,
        pushed_ref,
        event,
        pull_request,
        started_by,
        delivery,
    } = asked;
    let project = state
        .store()
        .project(name)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("project `{name}`")))?;
    let auth = crate::git_auth::RepoAuth::for_project(state, &project.name).await?;
    let (mirror, commit) = crate::git_auth::with(
        auth,
        git::resolve(
            &state.config().mirrors_dir,
            &project.name,
            &project.repo_url,
            git_ref,
        ),
    )
    .await?;
    let text = git::pipeline_at(&mirror, &commit).await?;
    let full_ref = match pushed_ref {
        Some(pushed) => Some(pushed.to_owned()),
        None => git::full_ref(&mirror, git_ref).await,
    };
    let context = RunContext {
        event: event.unwrap_or_else(|| RunEvent::of_ref(full_ref.as_deref())),
        git_ref: full_ref.clone(),
        commit: commit.clone(),
        pull_request,
        started_by: Some(started_by),
    };
    let limits = railyard_pipeline::Limits {
        max_jobs: state.config().max_jobs,
    };
    // Off the async workers, which serve every agent's heartbeats: a large file takes a
    // while (0.25 s for 480 KB).
    let parsed = tokio::task::spawn_blocking(move || {
        let file = std::path::Path::new(railyard_pipeline::FILE_NAME);
        railyard_pipeline::parse_with(file, &text, &limits).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| ApiError::Internal(format!("reading the pipeline at {commit}: {e}")))?;
    let pipeline = parsed.map_err(|message| ApiError::Pipeline {
        commit: commit.clone(),
        message,
    })?;
    // Before the run is queued, so that no claim of its jobs comes before them.
    if !pipeline.secrets.is_empty() {
        (state.store())
            .set_commit_secrets(&project.name, &commit, &pipeline.secrets)
            .await?;
    }
    let jobs: Vec<railyard_store::QueuedJob> = pipeline
        .jobs
        .values()
        .map(|j| railyard_store::QueuedJob {
            name: j.name.clone(),
            skipped: super::rules::skipped(j, &context),
            needs: j.needs.clone(),
            runs_on: j.runs_on.clone(),
            shards: j.parallel,
            concurrency_group: j.concurrency.as_ref().map(|c| c.group.clone()),
            cancel_pending: j.concurrency.as_ref().is_some_and(|c| c.cancel_pending),
            environment: j.environment.clone(),
            manual: j.manual,
        })
        .collect();
    // A sharded job is recorded as its shards, each claimed (and shown) on its own.
    let names: Vec<String> = jobs.iter().flat_map(|j| j.queued_names()).collect();
    let new = NewRun {
        project: project.name.clone(),
        pipeline_path: railyard_pipeline::FILE_NAME.into(),
        commit: Some(commit.clone()),
        // Not a `host:pid`: the run belongs to the queue, not to a process, so no local
        // `abandon_dead_runs` may take it for a crashed one.
        owner: "railyard-server:queue".into(),
        jobs: names.clone(),
        started_at: Millis::now(),
        context: Some(context.clone()),
    };
    let (store, max_attempts) = (state.store(), state.config().max_attempts);
    let queued = match delivery {
        None => {
            store
                .queue_run(
                    &new,
                    full_ref.as_deref(),
                    &project.repo_url,
                    &jobs,
                    max_attempts,
                )
                .await?
        }
        Some(delivery) => {
            let url = &project.repo_url;
            match store
                .queue_delivered_run(
                    &new,
                    full_ref.as_deref(),
                    url,
                    &jobs,
                    max_attempts,
                    delivery,
                )
                .await?
            {
                Delivered::Queued(run) => Some(*run),
                Delivered::AlreadyHandled => return Ok(None),
                Delivered::ProjectGone => None,
            }
        }
    };
    // Removed while its repository was fetched: nothing was queued.
    let run = queued.ok_or_else(|| {
        ApiError::NotFound(format!(
            "project `{name}` (removed while the run was being queued)"
        ))
    })?;
    state.work().notify_waiters();
    super::run_events::cancel_superseded(state, project.cancel_superseded, &run).await?;
    tracing::info!(
        run = %run.id, project = %project.name, %commit, event = %context.event,
        started_by = context.started_by.as_deref().unwrap_or_default(), jobs = names.len(),
        "run queued"
    );
    Ok(Some(Triggered { run, jobs: names }))
}
