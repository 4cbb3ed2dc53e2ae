//! Calls that must reach the server whatever happens to it meanwhile (a restart, a network
//! cut): a job's log chunks, its artifacts and its result are resent until the server answers.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::AgentError;

const FIRST_DELAY: Duration = Duration::from_millis(200);
const LONGEST_DELAY: Duration = Duration::from_secs(5);

/// True when the server did not answer (or answered 5xx, as while it starts): the call may
/// be sent again. Any other answer (accepted, refused with 4xx, `410 lease_lost`) is final.
pub(crate) fn is_transient(e: &AgentError) -> bool {
    matches!(
        e,
        AgentError::Http { .. } | AgentError::Api { status: 500.., .. }
    )
}

/// Calls `call` until the server answers, waiting 0.2 s after the first miss and doubling to
/// 5 s; each miss is logged with how long the server has been away. `what` names the call in
/// those lines ("reporting job build").
pub(crate) async fn until_answered<T, F, Fut>(what: &str, mut call: F) -> Result<T, AgentError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AgentError>>,
{
    let started = Instant::now();
    let mut delay = FIRST_DELAY;
    let mut misses = 0u32;
    loop {
        match call().await {
            Err(e) if is_transient(&e) => {
                misses += 1;
                tracing::warn!(
                    "{what}: {e}; retrying in {:.1} s (no answer for {} s, try {misses})",
                    delay.as_secs_f64(),
                    started.elapsed().as_secs()
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(LONGEST_DELAY);
            }
            answer => {
                if misses > 0 {
                    tracing::info!(
                        "{what}: the server answered after {} s and {misses} missed tries",
                        started.elapsed().as_secs()
                    );
                }
                return answer;
            }
        }
    }
}
