//! Calls that must reach the server whatever happens to it meanwhile (a restart, a network
//! cut): a job's log chunks, its artifacts and its result are resent until the server answers.

use std::future::Future;
use std::time::Duration;

use railyard_types::error::Chain;
use tokio::time::Instant;

use crate::AgentError;

const FIRST_DELAY: Duration = Duration::from_millis(200);
const LONGEST_DELAY: Duration = Duration::from_secs(5);
/// How long a server may keep answering `500` to the same call before the agent takes it as
/// the answer: a gateway's 502-504 or no answer at all mean the server is away (wait), but
/// its own 500 may be a fault that every resend hits, and retrying for ever would hold the
/// job's lease (the heartbeat goes on) and its run open for ever.
const LONGEST_500S: Duration = Duration::from_secs(600);

/// True when the server did not answer (or answered 5xx, as while it starts): the call may
/// be sent again. Any other answer (accepted, refused with 4xx, `410 lease_lost`) is final.
pub(crate) fn is_transient(e: &AgentError) -> bool {
    matches!(
        e,
        // A certificate refused is retried too: the server's may be changing (SIGHUP), and
        // each miss logs what to do.
        AgentError::Http { .. }
            | AgentError::Certificate { .. }
            | AgentError::Api { status: 500.., .. }
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
    let mut first_500: Option<Instant> = None;
    loop {
        match call().await {
            Err(e @ AgentError::Api { status: 500, .. })
                if first_500.get_or_insert_with(Instant::now).elapsed() >= LONGEST_500S =>
            {
                tracing::error!(
                    "{what}: {}; the server answered 500 for {} s: giving up",
                    Chain(&e),
                    LONGEST_500S.as_secs()
                );
                return Err(e);
            }
            Err(e) if is_transient(&e) => {
                if !matches!(e, AgentError::Api { status: 500, .. }) {
                    first_500 = None;
                }
                misses += 1;
                tracing::warn!(
                    "{what}: {}; retrying in {:.1} s (no answer for {} s, try {misses})",
                    Chain(&e),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16) -> AgentError {
        AgentError::Api {
            path: "/x".into(),
            status,
            code: "c".into(),
            message: "m".into(),
        }
    }

    /// The server's own 500, every time, is taken as its answer after ten minutes; a gateway's
    /// 503 (the server away) is waited out however long.
    #[tokio::test(start_paused = true)]
    async fn a_500_every_time_ends_the_retries_a_503_does_not() {
        let started = Instant::now();
        let mut calls = 0;
        let outcome: Result<(), _> = until_answered("x", || {
            calls += 1;
            async { Err(answer(500)) }
        })
        .await;
        assert!(matches!(outcome, Err(AgentError::Api { status: 500, .. })));
        assert!(started.elapsed() >= LONGEST_500S, "{:?}", started.elapsed());
        assert!(calls > 100, "{calls}");

        let away = until_answered("x", || async { Err::<(), _>(answer(503)) });
        assert!(
            tokio::time::timeout(Duration::from_secs(3_600), away)
                .await
                .is_err(),
            "still retrying after an hour"
        );
        // A 503 between two 500s starts the ten minutes again; an answer ends it at once.
        let mut n = 0;
        let mixed: Result<u32, _> = until_answered("x", || {
            n += 1;
            let k = n;
            async move {
                match k {
                    k if k % 50 == 0 && k < 400 => Err(answer(503)),
                    k if k < 400 => Err(answer(500)),
                    k => Ok(k),
                }
            }
        })
        .await;
        assert_eq!(mixed.unwrap(), 400);
    }
}
