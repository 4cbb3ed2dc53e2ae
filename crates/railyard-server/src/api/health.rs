//! For load balancers and process supervisors, without a token: `/healthz` says the process
//! answers, `/readyz` that it can serve (its database answers and holds every migration).

use std::time::Duration;

use axum::extract::State;
use railyard_types::api::{Healthz, Readyz};

use super::{ApiResult, Reply};
use crate::AppState;
use crate::error::ApiError;
use crate::protocol::Health;

/// How long `/readyz` waits for the database: a probe must get an answer well within its own
/// timeout, and a database that takes longer is not ready either.
const READY_WITHIN: Duration = Duration::from_secs(5);

/// The process is up and serving HTTP; it asks nothing else, so a slow database never makes
/// a supervisor restart a server that is fine.
pub(super) async fn healthz() -> ApiResult<Reply<Healthz>> {
    Ok(Reply::new(Health {
        status: "ok".into(),
    }))
}

/// Ready when one query reaches the database within [`READY_WITHIN`] and finds every
/// migration of this build applied; otherwise 503 `unavailable` saying which.
pub(super) async fn readyz(State(state): State<AppState>) -> ApiResult<Reply<Readyz>> {
    let store = state.store();
    let missing = tokio::time::timeout(READY_WITHIN, store.missing_migrations())
        .await
        .map_err(|_| {
            ApiError::Unavailable(format!(
                "the database {} did not answer within {} s",
                store.location(),
                READY_WITHIN.as_secs()
            ))
        })?
        .map_err(|e| {
            ApiError::Unavailable(format!(
                "the database does not answer: {}",
                railyard_types::error::Chain(&e)
            ))
        })?;
    if !missing.is_empty() {
        let versions: Vec<String> = missing.iter().map(i64::to_string).collect();
        return Err(ApiError::Unavailable(format!(
            "the database {} lacks migration(s) {} of this server: restart it to apply them",
            store.location(),
            versions.join(", ")
        )));
    }
    Ok(Reply::new(Health {
        status: "ok".into(),
    }))
}
