//! The agent protocol: register, claim under a lease, heartbeat, complete; and the sweep
//! that puts lapsed leases back. Log chunks are in `logs`.

use railyard_types::Millis;
use std::time::Duration;

use axum::extract::State;
use railyard_types::api::{ClaimJob, Complete, Heartbeat, Register};

use super::pools::AgentToken;
use super::{ApiResult, Body, Params, Reply};
use crate::AppState;
use crate::error::ApiError;
use crate::protocol::*;

pub(super) async fn register(
    State(state): State<AppState>,
    token: AgentToken,
    Body(body): Body<Register>,
) -> ApiResult<Reply<Register>> {
    if body.slots == 0 {
        return Err(ApiError::BadRequest(
            "an agent needs at least one slot".into(),
        ));
    }
    if let Some(problem) = body
        .labels
        .iter()
        .find_map(|l| railyard_pipeline::label_problem(l))
    {
        return Err(ApiError::BadRequest(format!("agent labels: {problem}")));
    }
    // The token's pool, never one the agent names.
    let pool = token.pool(&state).await?;
    let now = state.store().now().await?;
    let id = state
        .store()
        .register_agent_in_pool(&body.name, i64::from(body.slots), &body.labels, &pool, now)
        .await?;
    tracing::info!(agent = %id, name = %body.name, slots = body.slots, labels = ?body.labels, pool = %pool, "agent registered");
    Ok(Reply::new(Registered {
        agent_id: id,
        lease_ms: state.config().lease.as_millis() as u64,
    }))
}

pub(super) async fn claim(
    State(state): State<AppState>,
    token: AgentToken,
    Body(body): Body<ClaimJob>,
) -> ApiResult<Reply<ClaimJob>> {
    token
        .check(&state, &body.agent_id, ApiError::NotFound)
        .await?;
    let wait = Duration::from_millis(body.wait_ms.unwrap_or(20_000)).min(state.config().max_wait);
    let deadline = tokio::time::Instant::now() + wait;
    let lease_ms = state.config().lease.as_millis() as i64;
    let touch_every = touch_every(lease_ms);
    loop {
        let notified = state.work().notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        // The database's clock: the one every server's leases are compared by.
        let now = state.store().now().await?;
        if !state.note_agent(&body.agent_id, now, touch_every).await? {
            return Err(ApiError::NotFound(format!(
                "agent `{}`: register first",
                body.agent_id
            )));
        }
        // The claim marks the job running in the same transaction.
        if let Some(mut claim) = state.store().claim(&body.agent_id, now, lease_ms).await? {
            super::run_events::fill_claim(&state, &mut claim).await?;
            // The secrets its pipeline names, or the job ends failed before it starts.
            if let Some(why) = super::secrets::fill_claim(&state, &mut claim).await? {
                super::secrets::fail_claim(&state, &claim, &body.agent_id, &why).await?;
                continue;
            }
            if claim.attempt > 1 {
                let note = format!(
                    "[railyard: attempt {} on another agent; the previous lease lapsed]\n",
                    claim.attempt
                );
                let noted = state.store().append_log_note(
                    &claim.job_id,
                    &body.agent_id,
                    claim.attempt,
                    &note,
                );
                if let Err(e) = noted.await {
                    tracing::warn!(job = %claim.job, run = %claim.run_id, "noting attempt {} in the log: {}", claim.attempt, railyard_types::error::Chain(&e));
                }
            }
            tracing::info!(job = %claim.job, run = %claim.run_id, agent = %body.agent_id, attempt = claim.attempt, "job leased");
            return Ok(Reply::new(Some(claim)));
        }
        // Woken by a new job here; other servers on the same database are seen by polling.
        tokio::select! {
            _ = &mut notified => {}
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = tokio::time::sleep_until(deadline) => return Ok(Reply::new(None)),
        }
    }
}

/// How stale an agent's `last_seen` may get: live means seen within one lease.
fn touch_every(lease_ms: i64) -> i64 {
    (lease_ms / 4).min(1_000)
}

pub(super) async fn heartbeat(
    State(state): State<AppState>,
    token: AgentToken,
    Params(id): Params<Heartbeat>,
    Body(body): Body<Heartbeat>,
) -> ApiResult<Reply<Heartbeat>> {
    token
        .check(&state, &body.agent_id, |_| {
            ApiError::LeaseLost(id.to_string())
        })
        .await?;
    let now = state.store().now().await?;
    let lease_ms = state.config().lease.as_millis() as i64;
    match state
        .store()
        .renew_lease(&id, &body.agent_id, body.attempt, now, lease_ms)
        .await?
    {
        Some(cancel) => {
            // An agent whose every slot is busy claims nothing: its heartbeats keep it live.
            state
                .note_agent(&body.agent_id, now, touch_every(lease_ms))
                .await?;
            Ok(Reply::new(Renewed {
                lease_until: now.plus(state.config().lease),
                cancel,
            }))
        }
        None => Err(ApiError::LeaseLost(id.into_string())),
    }
}

pub(super) async fn complete(
    State(state): State<AppState>,
    token: AgentToken,
    Params(id): Params<Complete>,
    Body(body): Body<Complete>,
) -> ApiResult<Reply<Complete>> {
    token
        .check(&state, &body.agent_id, |_| {
            ApiError::LeaseLost(id.to_string())
        })
        .await?;
    let (claim, _) = state
        .store()
        .leased_job(&id, &body.agent_id, body.attempt)
        .await?
        .ok_or_else(|| ApiError::LeaseLost(id.to_string()))?;
    if !body.status.is_final() {
        return Err(ApiError::BadRequest(format!(
            "`{}` is not a final job status",
            body.status.as_str()
        )));
    }
    // Steps and image first: recording them again (a resent report) writes the same rows.
    record_steps(&state, &claim, &body.steps).await?;
    if let Some(image) = &body.env_image {
        state
            .store()
            .set_job_env_image(
                &claim.run_id,
                &claim.job,
                image.key.as_deref(),
                (&image.id, image.digest.as_deref()),
            )
            .await?;
        // The key's last use, for garbage collection of keys no run uses.
        if let (Some(key), Some(digest)) = (&image.key, &image.digest)
            && railyard_types::env_images::is_env_key(key)
            && railyard_types::env_images::is_digest(digest)
        {
            let now = state.store().now().await?;
            (state.store())
                .env_image_used(&claim.project, key, digest, now)
                .await?;
        }
    }
    if let Some(built) = &body.image {
        state
            .store()
            .set_job_built_image(
                &claim.run_id,
                &claim.job,
                &built.reference,
                built.digest.as_deref(),
            )
            .await?;
    }
    let now = Millis::now();
    // The lease's end and the job's record in one transaction.
    if !state
        .store()
        .finish_leased_job(
            &id,
            &body.agent_id,
            body.attempt,
            body.status,
            now,
            body.error.as_deref(),
        )
        .await?
    {
        return Err(ApiError::LeaseLost(id.into_string()));
    }
    // After the one transition to done, so a resent report never counts them twice.
    if !body.timings.is_empty() {
        state
            .store()
            .record_timings(&claim.project, &body.timings, now)
            .await?;
    }
    let finished = state.store().advance_run(&claim.run_id, now).await?;
    state.work().notify_waiters();
    tracing::info!(job = %claim.job, run = %claim.run_id, status = body.status.as_str(), "job done");
    if let Some(status) = finished {
        tracing::info!(run = %claim.run_id, status = status.as_str(), "run done");
    }
    Ok(Reply::new(()))
}

/// The run as it stands now, each waiting job saying why (what approve and re-run answer).
pub(super) async fn fresh_detail(state: &AppState, run: &str) -> ApiResult<RunDetail> {
    let mut detail = (state.store().find_run(None, run).await?)
        .ok_or_else(|| ApiError::NotFound(format!("run `{run}`")))?;
    explain_waiting(state, &mut detail).await?;
    Ok(detail)
}

/// Says on each queued job that no live agent (seen within one lease) can take why it waits.
pub(super) async fn explain_waiting(state: &AppState, detail: &mut RunDetail) -> ApiResult<()> {
    if detail.run.finished_at.is_some() {
        return Ok(());
    }
    let live_since = state.store().now().await?.minus(state.config().lease);
    let stuck = state
        .store()
        .unplaceable_jobs(&detail.run.id, live_since)
        .await?;
    for (job, labels) in stuck {
        if let Some(record) = detail.jobs.iter_mut().find(|j| j.name == job) {
            record.waiting = Some(format!(
                "no live agent has every label of its runs_on [{}]: start one with `railyard agent --labels {}`",
                labels.join(", "),
                labels.join(",")
            ));
        }
    }
    for (job, base) in state.store().jobs_awaiting_approval(&detail.run.id).await? {
        if let Some(record) = detail.jobs.iter_mut().find(|j| j.name == job) {
            record.awaiting_approval = true;
            record.waiting = Some(format!(
                "a person's approval: `railyard approve {} {base}`",
                detail.run.id
            ));
        }
    }
    for wait in state
        .store()
        .jobs_waiting_for_groups(&detail.run.id)
        .await?
    {
        if let Some(record) = detail.jobs.iter_mut().find(|j| j.name == wait.job) {
            record.waiting = Some(format!(
                "concurrency group `{}` is held by `{}` of run {}: it starts when that ends",
                wait.group, wait.holder_job, wait.holder_run
            ));
        }
    }
    Ok(())
}

/// Stores the steps an agent reports, like a local run records its own.
async fn record_steps(state: &AppState, claim: &Claim, steps: &[StepReport]) -> ApiResult<()> {
    for step in steps {
        let store = state.store();
        store
            .step_started(
                &claim.run_id,
                &claim.job,
                step.index,
                &step.command,
                step.started_at,
            )
            .await?;
        if let Some(at) = step.finished_at {
            store
                .step_finished(
                    &claim.run_id,
                    &claim.job,
                    step.index,
                    step.status,
                    step.exit_code,
                    at,
                )
                .await?;
        }
    }
    Ok(())
}

/// Every so often: leases that lapsed put their job back (or fail it), and runs move on.
pub(crate) async fn sweep_leases(state: AppState) {
    let every =
        (state.config().lease / 3).clamp(Duration::from_millis(200), Duration::from_secs(5));
    loop {
        tokio::time::sleep(every).await;
        // The database's clock, not this host's: a server whose clock runs ahead must not
        // take leases another just renewed.
        let now = match state.store().now().await {
            Ok(now) => now,
            Err(e) => {
                tracing::error!("sweeping leases: {}", railyard_types::error::Chain(&e));
                continue;
            }
        };
        match state.store().expire_leases(now).await {
            Ok(lapsed) => {
                for l in lapsed {
                    tracing::warn!(run = %l.run_id, job = %l.job, requeued = l.requeued, "lease lapsed");
                    if !l.requeued
                        && let Err(e) = state.store().advance_run(&l.run_id, now).await
                    {
                        tracing::error!(
                            "moving run {} on: {}",
                            l.run_id,
                            railyard_types::error::Chain(&e)
                        );
                    }
                    state.work().notify_waiters();
                }
            }
            Err(e) => tracing::error!("sweeping leases: {}", railyard_types::error::Chain(&e)),
        }
    }
}
