//! One fetch of a mirror at a time in this process. Two `git fetch` into one bare mirror
//! collide on its ref locks (`cannot lock ref`): ten pushes of a project at once failed nine
//! of their triggers with 422. Fetches of a mirror take turns here, and a trigger that waited
//! for a fetch that started after it arrived takes that fetch's result rather than fetching
//! again: the forge had the push before it sent the webhook, so that fetch holds it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Instant;

use crate::error::ApiError;

/// Per mirror folder: when its last successful fetch started.
type Locks = Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<Option<Instant>>>>>;

/// Grows by one entry per project mirror this process fetched: as many as projects.
static LOCKS: LazyLock<Locks> = LazyLock::new(Default::default);

/// Runs `fetch` on `mirror` unless a fetch of it that started after this call did already,
/// one at a time per mirror.
pub(super) async fn fetch<F, Fut>(mirror: &Path, fetch: F) -> Result<(), ApiError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<(), ApiError>>,
{
    let asked = Instant::now();
    let lock = {
        let mut locks = LOCKS.lock().unwrap_or_else(|e| e.into_inner());
        locks.entry(mirror.to_owned()).or_default().clone()
    };
    let mut last = lock.lock().await;
    if last.is_some_and(|started| started > asked) {
        return Ok(());
    }
    let started = Instant::now();
    fetch().await?;
    *last = Some(started);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Ten callers at once: never two fetches at a time, and those that waited for a fetch
    /// started after them share it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn fetches_of_one_mirror_take_turns() {
        let dir = PathBuf::from("/nonexistent/turns.git");
        let running = Arc::new(AtomicUsize::new(0));
        let fetches = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..10 {
            let (dir, running, fetches) = (dir.clone(), running.clone(), fetches.clone());
            tasks.push(tokio::spawn(async move {
                fetch(&dir, || async {
                    assert_eq!(running.fetch_add(1, Ordering::SeqCst), 0, "two at a time");
                    fetches.fetch_add(1, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                    running.fetch_sub(1, Ordering::SeqCst);
                    Ok(())
                })
                .await
            }));
        }
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        let n = fetches.load(Ordering::SeqCst);
        assert!((1..=10).contains(&n), "{n}");
    }

    /// A failed fetch is not taken for a result: the next caller fetches.
    #[tokio::test]
    async fn a_failed_fetch_is_tried_again() {
        let dir = PathBuf::from("/nonexistent/failed.git");
        let failed = fetch(&dir, || async { Err(ApiError::Git("no".into())) }).await;
        assert!(failed.is_err());
        let mut ran = false;
        fetch(&dir, || async {
            ran = true;
            Ok(())
        })
        .await
        .unwrap();
        assert!(ran);
    }
}
