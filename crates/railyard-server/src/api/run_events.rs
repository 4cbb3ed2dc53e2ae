//! What the server does with a run's context beyond starting it: the claim carries it (and
//! the run's address) to the agent, which gives the job the `RAILYARD_*` variables; and a
//! project with `cancel_superseded` cancels the older unfinished runs of a branch or pull
//! request when a new one starts.

use railyard_store::{RunRecord, SealedSecret};
use railyard_types::Millis;
use railyard_types::context::RunEvent;
use railyard_types::protocol::Claim;

use super::ApiResult;
use crate::AppState;

/// Fills the claim with its run's context and address. A run from before contexts were
/// stored (no event) gets none: the agent then sets `RAILYARD_COMMIT` and `RAILYARD_REF`
/// alone, as it did.
pub(super) async fn fill_claim(state: &AppState, claim: &mut Claim) -> ApiResult<()> {
    if let Some(run) = state.store().run_record(&claim.run_id).await? {
        claim.context = run.context();
        claim.run_attempt = Some(run.attempt);
    }
    claim.cache_scope = Some(super::caches::scope_of(state, claim, claim.context.as_ref()).await?);
    claim.run_url = Some(state.config().run_url(&claim.run_id));
    Ok(())
}

/// Why a secret limited to protected refs is not given to the claimed job: never to a pull
/// request's run, whatever its refs and branch names say (a fork's pull request may come
/// from a branch it named `main`, and its code is whoever opened it). `None` otherwise.
pub(super) fn kept_from_pull_request(
    claim: &Claim,
    sealed: &SealedSecret,
    name: &str,
) -> Option<String> {
    let event = claim.context.as_ref().map(|c| c.event);
    if sealed.protected_refs.is_empty() || event != Some(RunEvent::PullRequest) {
        return None;
    }
    let project = &claim.project;
    Some(format!(
        "secret `{name}` of project `{project}` is only for runs of {}, and a pull request's \
         run never gets it (its code may come from a fork): give the job a secret without \
         --protected-refs, or run the secret's jobs after the merge",
        sealed.protected_refs.join(", ")
    ))
}

/// With the project's `cancel_superseded` on, cancels the unfinished runs `run` supersedes
/// (the older runs of the same branch push or pull request; see the store's
/// `superseded_runs`), as `railyard cancel` does, each audited as a cancel `superseded by
/// #N`. A run that ended meanwhile is left alone.
pub(super) async fn cancel_superseded(
    state: &AppState,
    cancel_superseded: bool,
    run: &RunRecord,
) -> ApiResult<()> {
    if !cancel_superseded {
        return Ok(());
    }
    let store = state.store();
    for old in store.superseded_runs(run).await? {
        let now = Millis::now();
        if !store.cancel_run(&old.id, now).await? {
            continue;
        }
        store.advance_run(&old.id, now).await?;
        tracing::info!(run = %old.id, by = %run.id, "run cancelled: superseded");
        super::audit(
            state,
            run.started_by.clone().unwrap_or_else(|| "server".into()),
            "run.cancel",
            Some(&old.project),
            Some(format!("#{} {}", old.number, old.id)),
            Some(format!("superseded by #{} {}", run.number, run.id)),
        )
        .await?;
    }
    state.work().notify_waiters();
    Ok(())
}
