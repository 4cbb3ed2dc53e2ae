//! Dependency caches (`cache:`) shared across the fleet through the server, not a registry:
//! the server knows each run's ref and event and decides the trust scope itself (an agent
//! cannot claim one), the per-project budget and least-recently-used eviction are one
//! database transaction, every server on one PostgreSQL serves every cache, and agents need
//! no registry credentials for them.
//!
//! Every call is made under the job's lease: the project and the scope come from the
//! leased job's run, never from the request. A lookup reads the run's own scope, then
//! `shared`; an upload is filed under the run's own scope only, so a pull request can never
//! write what `main`'s runs restore.

use axum::body::Body as RawBody;
use axum::extract::State;
use axum::http::header;
use railyard_pipeline::{CacheWord, cache_word_problem};
use railyard_store::{CacheEntry, Claim, StoredCache};
use railyard_types::api::{DownloadCache, ListCaches, LookupCache, UploadCache};
use railyard_types::cache::CacheScope;
use railyard_types::context::RunContext;
use railyard_types::protocol::{CacheAnswer, CacheFound, CacheInfo, UploadQuery};
use railyard_types::{JobId, Millis};

use super::pools::AgentToken;
use super::{ApiResult, Params, Query, Raw, Reply, Upload};
use crate::AppState;
use crate::error::ApiError;

/// The scope the caches of `claim`'s run are written in: from the project's protected refs
/// and the run's ref and event (`context`, when the run has one).
pub(super) async fn scope_of(
    state: &AppState,
    claim: &Claim,
    context: Option<&RunContext>,
) -> ApiResult<CacheScope> {
    let refs = state.store().protected_refs(&claim.project).await?;
    Ok(CacheScope::of_run(&refs, claim.git_ref.as_deref(), context))
}

/// The leased job and its run's scope.
async fn leased(
    state: &AppState,
    token: &AgentToken,
    id: &JobId,
    lease: &UploadQuery,
) -> ApiResult<(Claim, CacheScope)> {
    let claim = super::inputs::leased(state, token, id, lease).await?;
    let context = match state.store().run_record(&claim.run_id).await? {
        Some(run) => run.context(),
        None => None,
    };
    let scope = scope_of(state, &claim, context.as_ref()).await?;
    Ok((claim, scope))
}

/// A cache's name, key or prefix as the pipeline allows it, or a 400 naming it.
fn checked(text: &str, what: CacheWord) -> ApiResult<()> {
    match cache_word_problem(text, what) {
        None => Ok(()),
        Some(why) => Err(ApiError::BadRequest(format!(
            "cache {} `{}` {why}",
            match what {
                CacheWord::Name => "name",
                CacheWord::Key => "key",
                CacheWord::Prefix => "prefix",
            },
            text.escape_debug()
        ))),
    }
}

pub(super) async fn lookup(
    State(state): State<AppState>,
    token: AgentToken,
    Params((id, name)): Params<LookupCache>,
    Query(query): Query<LookupCache>,
) -> ApiResult<Reply<LookupCache>> {
    checked(&name, CacheWord::Name)?;
    checked(&query.key, CacheWord::Key)?;
    if let Some(prefix) = &query.prefix {
        checked(prefix, CacheWord::Prefix)?;
    }
    let lease = UploadQuery {
        agent_id: query.agent_id.clone(),
        attempt: query.attempt,
    };
    let (claim, scope) = leased(&state, &token, &id, &lease).await?;
    let found = state
        .store()
        .find_cache(
            &claim.project,
            &scope.to_string(),
            &name,
            &query.key,
            query.prefix.as_deref(),
            Millis::now(),
        )
        .await?;
    Ok(Reply::new(CacheAnswer {
        found: found.and_then(|c| {
            Some(CacheFound {
                scope: CacheScope::parse(&c.scope)?,
                key: c.key,
                size: c.size.max(0) as u64,
                sha256: c.sha256,
            })
        }),
    }))
}

pub(super) async fn download(
    State(state): State<AppState>,
    token: AgentToken,
    Params((id, name, key)): Params<DownloadCache>,
    Query(lease): Query<DownloadCache>,
) -> ApiResult<Raw<DownloadCache>> {
    checked(&name, CacheWord::Name)?;
    checked(&key, CacheWord::Key)?;
    let (claim, scope) = leased(&state, &token, &id, &lease).await?;
    let found = state
        .store()
        .find_cache(
            &claim.project,
            &scope.to_string(),
            &name,
            &key,
            None,
            Millis::now(),
        )
        .await?;
    let Some(stored) = found else {
        return Err(ApiError::NotFound(format!(
            "cache `{name}` with key `{key}` for job {id} (scope {scope} or shared)"
        )));
    };
    Ok(Raw::new(stream(&state, stored)))
}

/// The bytes of a stored cache as a streamed answer, with its length; one chunk in memory
/// at a time. An upload that replaces it meanwhile ends the stream early: the length and
/// the digest let the agent see it.
fn stream(state: &AppState, stored: StoredCache) -> impl axum::response::IntoResponse {
    let octets = (header::CONTENT_TYPE, "application/octet-stream".to_owned());
    let length = (header::CONTENT_LENGTH, stored.size.to_string());
    let store = state.store().clone();
    let chunks = futures_util::stream::unfold(Some(0i64), move |seq| {
        let (store, upload) = (store.clone(), stored.upload_id.clone());
        async move {
            let seq = seq?;
            match store.cache_chunk(&upload, seq).await {
                Ok(Some(bytes)) => Some((Ok(bytes), Some(seq + 1))),
                Ok(None) => None,
                Err(e) => Some((Err(std::io::Error::other(e)), None)),
            }
        }
    });
    ([octets, length], RawBody::from_stream(chunks))
}

pub(super) async fn upload(
    State(state): State<AppState>,
    token: AgentToken,
    Params((id, name, key)): Params<UploadCache>,
    Query(query): Query<UploadCache>,
    Upload { body, length, .. }: Upload<UploadCache>,
) -> ApiResult<Reply<UploadCache>> {
    checked(&name, CacheWord::Name)?;
    checked(&key, CacheWord::Key)?;
    if let Some(prefix) = &query.prefix {
        checked(prefix, CacheWord::Prefix)?;
    }
    let budget = state.config().cache_budget_bytes;
    let too_large = || {
        ApiError::TooLarge(format!(
            "cache `{name}` is larger than the project's cache budget of {} MiB: keep less in \
             it, or ask the operator for a larger --cache-budget-mb",
            budget >> 20
        ))
    };
    if length.is_some_and(|n| n > budget) {
        return Err(too_large());
    }
    let lease = UploadQuery {
        agent_id: query.agent_id.clone(),
        attempt: query.attempt,
    };
    let (claim, scope) = leased(&state, &token, &id, &lease).await?;
    let mut upload = state.store().begin_cache();
    let written = super::uploads::write_chunks(&mut upload, body, |total| match total > budget {
        true => Err(too_large()),
        false => Ok(()),
    })
    .await;
    let total = match written {
        Ok(total) => total,
        Err(e) => {
            if let Err(gone) = upload.abandon().await {
                tracing::warn!(
                    "deleting a refused cache upload: {}",
                    railyard_types::error::Chain(&gone)
                );
            }
            return Err(e);
        }
    };
    let scope_text = scope.to_string();
    let entry = CacheEntry {
        project: &claim.project,
        scope: &scope_text,
        name: &name,
        key: &key,
        prefix: query.prefix.as_deref(),
    };
    let Some(dropped) = upload
        .finish(&entry, budget.min(i64::MAX as u64) as i64, Millis::now())
        .await?
    else {
        return Err(too_large());
    };
    for gone in &dropped {
        tracing::info!(project = %claim.project, scope = %gone.scope, cache = %gone.name, key = %gone.key, "cache dropped: least recently used past the project's budget");
    }
    tracing::info!(project = %claim.project, %scope, cache = %name, %key, bytes = total, "cache stored");
    Ok(Reply::new(()))
}

pub(super) async fn list(
    State(state): State<AppState>,
    caller: super::caller::Caller<ListCaches>,
    Params(project): Params<ListCaches>,
) -> ApiResult<Reply<ListCaches>> {
    let hidden = || ApiError::NotFound(format!("project `{project}`"));
    caller.require(&state, &project, hidden).await?;
    if state.store().project(&project).await?.is_none() {
        return Err(hidden());
    }
    let caches = state.store().caches(&project).await?;
    Ok(Reply::new(
        caches
            .into_iter()
            .map(|c| CacheInfo {
                scope: c.scope,
                name: c.name,
                key: c.key,
                size: c.size.max(0) as u64,
                sha256: c.sha256,
                created_at: c.created_at,
                last_used_at: c.last_used_at,
            })
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_keys_that_read_as_paths_are_refused() {
        for (text, what) in [
            ("../x", CacheWord::Name),
            ("a/b", CacheWord::Name),
            ("", CacheWord::Name),
            ("Pip", CacheWord::Name),
            ("../../etc", CacheWord::Key),
            ("k\0", CacheWord::Key),
            ("..", CacheWord::Key),
            ("a/", CacheWord::Prefix),
        ] {
            assert!(checked(text, what).is_err(), "{text:?} passed");
        }
        assert!(checked("pip", CacheWord::Name).is_ok());
        assert!(checked("pip-3f2a", CacheWord::Key).is_ok());
        assert!(checked("", CacheWord::Prefix).is_ok());
    }
}
