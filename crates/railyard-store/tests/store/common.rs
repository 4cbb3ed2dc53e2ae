//! Helpers: temp SQLite stores, fresh PostgreSQL databases, a clock.

use railyard_store::{NewRun, QueuedJob, Store};
pub use railyard_test_support::pg::PgDb;
use railyard_types::{Millis, ProjectName, RunId};

/// A fresh, empty SQLite data folder.
pub fn data_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("railyard-store-")
        .tempdir()
        .expect("temp dir")
}

pub fn now_ms() -> i64 {
    railyard_types::Millis::now().as_i64()
}

pub fn new_run(project: &str, owner: &str, jobs: &[&str]) -> NewRun {
    NewRun {
        project: project.into(),
        pipeline_path: ".railyard.yml".into(),
        commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
        owner: owner.into(),
        jobs: jobs.iter().map(|j| j.to_string()).collect(),
        started_at: Millis::now(),
        context: None,
    }
}

/// Queues `jobs` of `run` now, each tried at most `attempts` times, at commit `abc` of
/// `file:///r.git`.
pub async fn enqueue(store: &Store, run: &RunId, project: &str, jobs: &[QueuedJob], attempts: i64) {
    let project = ProjectName::from(project);
    let (repo, commit, now) = ("file:///r.git", "abc", Millis::now());
    store
        .enqueue_run(run, &project, repo, commit, jobs, attempts, now)
        .await
        .unwrap();
}

/// Opens a Postgres store with its logs in `logs`.
pub async fn open_pg(url: &str, logs: &std::path::Path) -> Store {
    let options = railyard_store::StoreOptions {
        logs_dir: Some(logs.to_path_buf()),
        ..Default::default()
    };
    Store::open_with(url, &options)
        .await
        .expect("open PostgreSQL store")
}
