//! The test queue of a sharded job, shared by its shards on different agents: the first
//! shard to post the ids it listed opens it (first wins; every shard must have listed the
//! same ids), and each shard then pulls batches (`next`, one round trip per batch, carrying
//! the last batch's completion) until the queue is drained. Every call is made under the
//! shard's lease; a shard holds at most one batch, so a request that is retried (its answer
//! lost) or comes from a new attempt gives back what the shard held. A shard whose lease is not live (its agent died) has its batches given
//! back at the next request of any shard, so another shard runs them.

use axum::extract::State;
use railyard_split::{Batcher, Next, QueueState, Timings};
use railyard_store::{Claim, OpenedQueue, ShardOf};
use railyard_types::api::{GiveBackTests, NextTests, OpenTests};
use railyard_types::{AgentId, JobId, Millis};
use sha2::Digest;

use super::pools::AgentToken;
use super::{ApiResult, Body, Params, Reply};
use crate::AppState;
use crate::error::ApiError;
use crate::protocol::*;

/// How long a shard waits before asking again while other shards hold the last batches.
const WAIT_MS: u64 = 250;

pub(super) async fn open(
    State(state): State<AppState>,
    token: AgentToken,
    Params(id): Params<OpenTests>,
    Body(body): Body<OpenTests>,
) -> ApiResult<Reply<OpenTests>> {
    let (claim, of) = shard_lease(&state, &token, &id, &body.agent_id, body.attempt).await?;
    if body.tests.is_empty() {
        return Err(ApiError::BadRequest(
            "`tests` is empty: a shard posts the ids it listed".into(),
        ));
    }
    let mut ids = body.tests.clone();
    ids.sort();
    ids.dedup();
    let mut hasher = sha2::Sha256::new();
    for id in &ids {
        hasher.update(id.as_bytes());
        hasher.update([0]);
    }
    let tests_hash = hex::encode(hasher.finalize());
    let stored = state.store().timings(&claim.project).await?;
    let mut timings: Vec<(String, f64)> = ids
        .iter()
        .filter_map(|id| stored.get(id).map(|(secs, _)| (id.clone(), *secs)))
        .collect();
    timings.sort_by(|a, b| a.0.cmp(&b.0));
    let queue = QueueState::new(Batcher::new(
        &body.tests,
        &to_timings(&timings),
        of.shards as usize,
    ));
    let mine = OpenedQueue {
        tests_hash,
        timings,
    };
    let opened = state
        .store()
        .open_test_queue(
            &claim.run_id,
            &of.job,
            of.shards,
            &mine,
            &queue,
            Millis::now(),
        )
        .await?;
    if opened.tests_hash != mine.tests_hash {
        return Err(ApiError::Conflict(format!(
            "shard {} of `{}` listed other tests ({} ids) than the shard that opened the job's \
             queue: every shard must list the same ids",
            of.shard,
            of.job,
            ids.len()
        )));
    }
    Ok(Reply::new(TestsOpened {
        timings: opened.timings,
    }))
}

pub(super) async fn next(
    State(state): State<AppState>,
    token: AgentToken,
    Params(id): Params<NextTests>,
    Body(body): Body<NextTests>,
) -> ApiResult<Reply<NextTests>> {
    let (claim, of) = shard_lease(&state, &token, &id, &body.agent_id, body.attempt).await?;
    check_shard(body.shard, &of)?;
    let shard = body.shard;
    let next = state
        .store()
        .change_test_queue(&claim.run_id, &of.job, Millis::now(), |queue, live| {
            if let Some(done) = body.done {
                queue.complete(shard, done);
            }
            // A shard asks only once its batch is done: any batch it still holds was lost
            // (an earlier attempt's, or an answer that never reached it) and goes back.
            queue.give_back(shard);
            for holder in queue.holders() {
                if holder != shard && !live.contains(&holder) {
                    queue.give_back(holder);
                }
            }
            queue.next(shard)
        })
        .await?
        .ok_or_else(|| not_open(&id, &of))?;
    Ok(Reply::new(match next {
        Next::Batch(batch) => NextAnswer {
            batch: Some(batch),
            wait_ms: None,
        },
        Next::Wait => NextAnswer {
            batch: None,
            wait_ms: Some(WAIT_MS),
        },
        Next::Drained => NextAnswer::default(),
    }))
}

pub(super) async fn give_back(
    State(state): State<AppState>,
    token: AgentToken,
    Params(id): Params<GiveBackTests>,
    Body(body): Body<GiveBackTests>,
) -> ApiResult<Reply<GiveBackTests>> {
    let (claim, of) = shard_lease(&state, &token, &id, &body.agent_id, body.attempt).await?;
    check_shard(body.shard, &of)?;
    let given = state
        .store()
        .change_test_queue(&claim.run_id, &of.job, Millis::now(), |queue, _| {
            queue.give_back(body.shard)
        })
        .await?
        .ok_or_else(|| not_open(&id, &of))?;
    tracing::info!(run = %claim.run_id, job = %of.job, shard = body.shard, batches = given, "batches given back");
    Ok(Reply::new(()))
}

/// The shard job `id`, when this agent holds its lease: 404 for an unknown job, 410 for a
/// lost lease, 400 for a job that is not a shard.
async fn shard_lease(
    state: &AppState,
    token: &AgentToken,
    id: &JobId,
    agent_id: &AgentId,
    attempt: i64,
) -> ApiResult<(Claim, ShardOf)> {
    token
        .check(state, agent_id, |_| ApiError::LeaseLost(id.to_string()))
        .await?;
    let Some((claim, _)) = state.store().leased_job(id, agent_id, attempt).await? else {
        if state.store().queued_job_exists(id).await? {
            return Err(ApiError::LeaseLost(id.to_string()));
        }
        return Err(ApiError::NotFound(format!("job `{id}`")));
    };
    let Some(of) = claim.shard.clone() else {
        return Err(ApiError::BadRequest(format!(
            "job `{}` ({id}) is not a shard of a `parallel` job: it has no shared test queue",
            claim.job
        )));
    };
    Ok((claim, of))
}

fn check_shard(shard: u32, of: &ShardOf) -> ApiResult<()> {
    if !(1..=of.shards).contains(&shard) {
        return Err(ApiError::BadRequest(format!(
            "`shard`: {shard} is out of range: `{}` has shards 1 to {}",
            of.job, of.shards
        )));
    }
    if shard != of.shard {
        return Err(ApiError::BadRequest(format!(
            "`shard`: {shard} is not the shard this lease holds ({} of `{}`)",
            of.shard, of.job
        )));
    }
    Ok(())
}

fn not_open(id: &str, of: &ShardOf) -> ApiError {
    ApiError::Conflict(format!(
        "the test queue of `{}` is not open: post the listed ids to /api/v1/jobs/{id}/tests first",
        of.job
    ))
}

fn to_timings(pairs: &[(String, f64)]) -> Timings {
    let mut timings = Timings::new();
    for (id, secs) in pairs {
        timings.insert(id.clone(), *secs);
    }
    timings
}
