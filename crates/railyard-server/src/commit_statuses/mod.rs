//! The deliverer of commit statuses: a background task of every server that sends the
//! outbox's rows (written by the store's triggers with each state change, see the store's
//! `statuses`) to each project's forge.
//!
//! - **Once at a time, in order.** A row is taken under a lease on the database's clock, so two
//!   servers never send one row at once, and only when it is the oldest unfinished row of its
//!   `(run, context)`: a later state is never sent before an earlier one was delivered or
//!   given up. Every state is sent (none is skipped for a newer one), so after an outage a
//!   context's states arrive in order and the last one the forge shows is the newest.
//! - **Delivered after a 2xx only.** A crash between the forge's answer and the mark sends
//!   the row once more when its lease lapses; a forge takes a repeated status as a no-op.
//! - **Retries.** A 5xx, 408, 429 or a network error is tried again after 1 s, doubling to
//!   60 s, with jitter, for [`HORIZON_MS`] (a day); then the row is given up as `expired`. A
//!   4xx other than 408 and 429 (a wrong token, a repository the token cannot see) will not
//!   change by trying again: the row is given up as `refused`, with the forge's answer.
//!   Both are logged and listed for the operator.
//! - **The token** is the project's `@forge` secret, opened for each send and never logged:
//!   errors are scrubbed of it before they are stored or printed.

mod forge;

use std::time::Duration;

use railyard_store::{GiveUp, OutboxStatus};
use railyard_types::Millis;
use railyard_types::secrets::FORGE_TOKEN;

use crate::AppState;

/// How long a deliverer holds a row it sends: far past the request's timeout.
const LEASE_MS: i64 = 60_000;
/// A send that takes longer failed (and is tried again).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a row is tried before it is given up as `expired`: a day of forge outage.
pub(crate) const HORIZON_MS: i64 = 24 * 60 * 60 * 1000;
/// The first retry's delay, doubled each time up to [`MAX_BACKOFF_MS`].
const FIRST_BACKOFF_MS: i64 = 1_000;
const MAX_BACKOFF_MS: i64 = 60_000;
/// How often an idle deliverer looks for new rows.
const IDLE: Duration = Duration::from_millis(250);
/// Deliverers per server: a slow forge holds one, the others go on.
const WORKERS: usize = 4;
/// Sent rows are kept this long for the operator to see, then deleted.
pub(crate) const KEEP_SENT_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// Runs the deliverers until the server stops (the task is aborted).
pub(crate) async fn run(state: AppState) {
    let client = match reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .user_agent(concat!("railyard/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("commit statuses: no HTTP client ({e}): none will be sent");
            return;
        }
    };
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| tokio::spawn(worker(state.clone(), client.clone())))
        .collect();
    // Aborting this task drops the guard, which aborts the workers.
    let _guard = Workers(workers);
    std::future::pending::<()>().await;
}

struct Workers(Vec<tokio::task::JoinHandle<()>>);

impl Drop for Workers {
    fn drop(&mut self) {
        for w in &self.0 {
            w.abort();
        }
    }
}

async fn worker(state: AppState, client: reqwest::Client) {
    loop {
        match deliver_one(&state, &client).await {
            Ok(true) => {}
            Ok(false) => tokio::time::sleep(IDLE).await,
            Err(e) => {
                tracing::error!("commit statuses: {}", railyard_types::error::Chain(&e));
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// What one send came to.
enum Sent {
    Delivered,
    /// Worth trying again: why.
    Failed(String),
    /// Never worth trying again: why.
    Refused(String),
}

/// Sends the next row due, if any; false when none was.
async fn deliver_one(
    state: &AppState,
    client: &reqwest::Client,
) -> Result<bool, railyard_store::StoreError> {
    let store = state.store();
    let now = store.now().await?;
    let Some(row) = store.claim_commit_status(now, LEASE_MS).await? else {
        return Ok(false);
    };
    let sent = send(state, client, &row).await?;
    let now = store.now().await?;
    match sent {
        Sent::Delivered => store.commit_status_delivered(row.id, now).await?,
        Sent::Refused(why) => {
            tracing::warn!(
                project = %row.project, run = %row.run_id, context = %row.context,
                "commit status refused, not sent again: {why}"
            );
            store
                .commit_status_given_up(row.id, now, GiveUp::Refused, &why)
                .await?;
        }
        Sent::Failed(why) if now.as_i64() - row.created_at.as_i64() > HORIZON_MS => {
            tracing::warn!(
                project = %row.project, run = %row.run_id, context = %row.context,
                "commit status given up after a day of failed sends: {why}"
            );
            store
                .commit_status_given_up(row.id, now, GiveUp::Expired, &why)
                .await?;
        }
        Sent::Failed(why) => {
            let next = Millis(now.as_i64() + backoff_ms(row.attempts));
            tracing::info!(
                project = %row.project, run = %row.run_id, context = %row.context,
                attempt = row.attempts, "commit status not delivered, tried again later: {why}"
            );
            store.commit_status_retry(row.id, next, &why).await?;
        }
    }
    Ok(true)
}

/// The delay before the try after `attempts` sends: 1 s doubling to 60 s, less up to a
/// quarter (jitter, so that rows failed together do not come back together).
fn backoff_ms(attempts: i64) -> i64 {
    let shift = attempts.clamp(1, 16) - 1;
    let full = (FIRST_BACKOFF_MS << shift).min(MAX_BACKOFF_MS);
    let jitter = getrandom::u64().unwrap_or(0) % (full as u64 / 4 + 1);
    full - jitter as i64
}

/// One send of `row` to its project's forge.
async fn send(
    state: &AppState,
    client: &reqwest::Client,
    row: &OutboxStatus,
) -> Result<Sent, railyard_store::StoreError> {
    let store = state.store();
    let project = &row.project;
    let Some(forge) = store.project_forge(project).await? else {
        return Ok(Sent::Refused(format!(
            "project `{project}` has no forge any more"
        )));
    };
    if row.commit.is_empty() || !row.commit.chars().all(|c| c.is_ascii_hexdigit()) {
        return Ok(Sent::Refused(format!(
            "`{}` is not a commit id",
            row.commit.chars().take(80).collect::<String>()
        )));
    }
    let Some(sealed) = store.sealed_secret(project, FORGE_TOKEN).await? else {
        return Ok(Sent::Failed(format!(
            "project `{project}` has no forge token: set it with `railyard secret set \
             {project} {FORGE_TOKEN}`"
        )));
    };
    let Some(keys) = state.secret_keys() else {
        return Ok(Sent::Failed(
            "this server has no secrets key to open the forge token: start it with \
             --secrets-key-file"
                .into(),
        ));
    };
    let token = match keys.open(&sealed) {
        Ok(t) => t,
        Err(e) => return Ok(Sent::Failed(e.to_string())),
    };
    let target_url = match &row.job {
        Some(job) => state.config().job_url(&row.run_id, job),
        None => state.config().run_url(&row.run_id),
    };
    let status = forge::forge_status(forge.kind, &row.status, row.description.as_deref());
    let request = forge::request(&forge, &row.commit, &row.context, &status, &target_url);
    let mut value = match reqwest::header::HeaderValue::from_str(&format!(
        "{}{}",
        request.token_prefix,
        token.expose()
    )) {
        Ok(v) => v,
        Err(_) => {
            return Ok(Sent::Refused(format!(
                "project `{project}`'s forge token is not a valid header value: set it again"
            )));
        }
    };
    value.set_sensitive(true);
    let scrub = |text: String| text.replace(token.expose(), "***");
    let answer = client
        .post(&request.url)
        .header(request.header, value)
        .header("accept", "application/json")
        .json(&request.body)
        .send()
        .await;
    let response = match answer {
        Ok(r) => r,
        Err(e) => {
            return Ok(Sent::Failed(scrub(format!(
                "{} {}: {}",
                forge.kind.as_str(),
                request.url,
                railyard_types::error::Chain(&e)
            ))));
        }
    };
    let code = response.status();
    if code.is_success() {
        return Ok(Sent::Delivered);
    }
    let body = response.text().await.unwrap_or_default();
    let why = scrub(format!(
        "{} answered {code} to POST {}: {}",
        forge.kind.as_str(),
        request.url,
        body.chars().take(300).collect::<String>()
    ));
    let retry = code.is_server_error() || code.as_u16() == 408 || code.as_u16() == 429;
    Ok(if retry || !code.is_client_error() {
        Sent::Failed(why)
    } else {
        Sent::Refused(why)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_one_second_to_a_minute_with_jitter() {
        for (attempts, full) in [
            (1, 1_000),
            (2, 2_000),
            (3, 4_000),
            (7, 60_000),
            (40, 60_000),
        ] {
            let d = backoff_ms(attempts);
            assert!(d <= full && d >= full - full / 4, "{attempts}: {d}");
        }
    }
}
