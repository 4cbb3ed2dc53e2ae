//! What a server tidies every ten minutes: chunks of artifact uploads a crash cut, agents
//! gone for a day, commit statuses sent a week ago, and the logs and artifacts of runs past
//! their project's retention.

use railyard_types::Millis;
use std::time::Duration;

use railyard_store::{ORPHAN_CHUNK_AGE_MS, PRUNE_BATCH};

use crate::AppState;

const EVERY_MS: i64 = 10 * 60 * 1000;

/// Agents not seen for this long (and holding no lease) are forgotten: each start of an agent
/// registers anew, so the list (and `railyard_agents`) would otherwise keep every agent that
/// ever ran. One that comes back registers again.
pub(crate) const FORGET_AGENTS_AFTER_MS: i64 = 24 * 60 * 60 * 1000;

/// How long a webhook's delivery id is kept, so that a replay of it starts no run: a day. A
/// forge redelivers within hours; a replay after this starts a run again (of a commit built
/// already).
pub(crate) const DELIVERY_WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

pub(crate) async fn run(state: AppState) {
    // Everything old enough once at start, then only what came of age since (with overlap),
    // so that a sweep does not read every chunk ever stored.
    let mut from = Millis(0);
    loop {
        let now = Millis::now().as_i64();
        let before = Millis(now - ORPHAN_CHUNK_AGE_MS);
        match state.store().sweep_artifact_chunks(from, before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!("deleted {n} chunk(s) of artifact uploads cut by a crash"),
            Err(e) => tracing::error!(
                "deleting cut artifact uploads: {}",
                railyard_types::error::Chain(&e)
            ),
        }
        from = Millis(before.as_i64() - EVERY_MS);
        match state
            .store()
            .forget_agents(Millis(now - FORGET_AGENTS_AFTER_MS))
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!("forgot {n} agent(s) not seen for a day"),
            Err(e) => tracing::error!("forgetting agents: {}", railyard_types::error::Chain(&e)),
        }
        match (state.store())
            .forget_deliveries(Millis(now - DELIVERY_WINDOW_MS))
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::debug!("forgot {n} webhook deliveries older than a day"),
            Err(e) => tracing::error!(
                "forgetting webhook deliveries: {}",
                railyard_types::error::Chain(&e)
            ),
        }
        let sent_before = Millis(now - crate::commit_statuses::KEEP_SENT_MS);
        match state.store().forget_commit_statuses(sent_before).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!("forgot {n} commit status(es) sent over a week ago"),
            Err(e) => tracing::error!(
                "forgetting sent commit statuses: {}",
                railyard_types::error::Chain(&e)
            ),
        }
        if let Err(e) = prune(&state, Millis(now)).await {
            tracing::error!(
                "pruning logs and artifacts past their retention: {}",
                railyard_types::error::Chain(&e)
            );
        }
        tokio::time::sleep(Duration::from_millis(EVERY_MS as u64)).await;
    }
}

/// Marks the runs past their project's retention at `now`, then deletes what they hold, each
/// step a transaction of at most [`PRUNE_BATCH`] rows, yielding between them so that other
/// writers (claims, log chunks) take SQLite's write lock in between. Several servers on one
/// database may prune at once: each batch deletes what is still there.
pub(crate) async fn prune(
    state: &AppState,
    now: Millis,
) -> Result<(u64, u64), railyard_store::StoreError> {
    let store = state.store();
    let mut runs = 0;
    loop {
        let marked = store.mark_expired_runs(now, PRUNE_BATCH).await?;
        runs += marked;
        if marked < PRUNE_BATCH as u64 {
            break;
        }
        tokio::task::yield_now().await;
    }
    let mut rows = 0;
    loop {
        let deleted = store.purge_pruned(PRUNE_BATCH).await?;
        rows += deleted;
        if deleted == 0 {
            break;
        }
        tokio::task::yield_now().await;
    }
    if runs > 0 || rows > 0 {
        tracing::info!(
            "retention: pruned the logs and artifacts of {runs} run(s), {rows} row(s) deleted"
        );
    }
    Ok((runs, rows))
}
