//! Persistence behind one interface: runs, jobs, steps and their logs, and (for the scanner)
//! image inventories and advisories. SQLite file by default, PostgreSQL for a fleet, one set of
//! run-time-checked queries over sqlx's `AnyPool` (placeholders `$N`, times as i64 ms since the
//! epoch, ids and JSON as text, keys made by the app).
//!
//! The schema lives in numbered migrations, one folder per backend (`migrations/sqlite/`,
//! `migrations/postgres/`), applied by [`Store::open`]; every module adds its own numbered file
//! to both. A local run's logs are plain files (`<logs>/<run id>/<job>.log`) beside the
//! database, so a crash loses at most what was not yet appended, and `tail -f` works on them;
//! a server run's logs and artifacts are chunks in the database (`job_logs`, `artifacts`),
//! shared by every server on it.
#![warn(missing_docs)]

mod advisories;
mod artifacts;
mod audit;
mod caches;
mod chunks;
mod connect;
mod deployments;
mod env_images;
mod errors;
mod fleet;
mod inventory;
mod job_logs;
mod logs;
mod people;
mod queries;
mod queue;
mod records;
mod retention;
mod run_events;
mod runs;
mod scans;
mod schedules;
mod secrets;
mod statuses;
#[cfg(test)]
use railyard_test_support::pg as test_pg;
pub mod timings;
mod tokens;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sqlx::AnyPool;

pub use advisories::{AffectedImage, ImportCounts, RematchCounts};
pub use artifacts::{ARTIFACT_CHUNK_BYTES, ArtifactUpload, ORPHAN_CHUNK_AGE_MS, StoredArtifact};
pub use caches::{CacheEntry, CacheUpload, StoredCache};
pub use connect::Backend;
pub use errors::StoreError;
pub use fleet::{AgentInfo, WAIT_BOUNDS_MS, WaitHistogram};
pub use inventory::{PackageHolder, StoredScan};
pub use job_logs::{ChunkOutcome, LogChunkRow};
pub use logs::{LogWriter, log_file_name};
pub use people::Credentials;
pub use queries::Seen;
pub use queue::Delivered;
pub use queue::{AgentCaller, AgentFit, DEFAULT_POOL};
pub use queue::{Approval, Rerun};
pub use queue::{
    Claim, GroupWait, Lapsed, OpenedQueue, Project, ProjectRemoval, QueueStats, QueuedJob, ShardOf,
};
pub use railyard_types::records::Deployment;
pub use railyard_types::{JobStatus, RunStatus, StepStatus};
pub use records::{JobRecord, NewRun, RunDetail, RunRecord, StepRecord};
pub use retention::{DEFAULT_KEEP_DAYS, DEFAULT_KEEP_RUNS, PRUNE_BATCH};
pub use scans::SCAN_LIST_LIMIT;
pub use schedules::{NewSchedule, ScheduleAdded};
pub use secrets::SealedSecret;
pub use statuses::{GiveUp, OutboxStatus};
pub use tokens::{TokenHolder, TokenInfo};

/// The file name of the SQLite database inside a data folder.
pub const DB_FILE_NAME: &str = "railyard.db";
/// The folder of job logs inside a data folder (or beside an SQLite file).
pub const LOGS_DIR_NAME: &str = "logs";

/// How to open a store, beyond its URL.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Where job logs go. Default: `logs/` beside the SQLite file; for PostgreSQL,
    /// `railyard-logs/` in the current directory at open time (a server should set this to
    /// its data folder).
    pub logs_dir: Option<PathBuf>,
    /// A job log stops growing past this many bytes (a marker line says so). Default 1 GiB.
    pub max_log_bytes: u64,
    /// Pool size. Default 4 for SQLite (writes take turns anyway), 10 for PostgreSQL.
    pub max_connections: Option<u32>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            logs_dir: None,
            max_log_bytes: 1 << 30,
            max_connections: None,
        }
    }
}

/// The run history: a database plus a folder of log files. Cheap to clone (shared pool).
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    pool: AnyPool,
    backend: Backend,
    /// The SQLite path or the URL with its password hidden, for error messages.
    location: String,
    logs_dir: PathBuf,
    max_log_bytes: u64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.inner.backend)
            .field("location", &self.inner.location)
            .field("logs_dir", &self.inner.logs_dir)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens `sqlite:/path/to/file.db`, a bare path (SQLite), or `postgres://…`, with default
    /// [`StoreOptions`]. Creates the SQLite file and its folder; applies migrations.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        Store::open_with(url, &StoreOptions::default()).await
    }

    /// The SQLite store of a data folder: `<dir>/railyard.db`, logs under `<dir>/logs/`.
    pub async fn open_in(data_dir: &Path) -> Result<Store, StoreError> {
        let options = StoreOptions {
            logs_dir: Some(data_dir.join(LOGS_DIR_NAME)),
            ..StoreOptions::default()
        };
        let db = data_dir.join(DB_FILE_NAME);
        let target = connect::Target::Sqlite { path: db };
        connect::open(target, &options).await
    }

    /// Like [`Store::open`], with options (where logs go, pool size, log size limit).
    pub async fn open_with(url: &str, options: &StoreOptions) -> Result<Store, StoreError> {
        let target = connect::parse_target(url)?;
        connect::open(target, options).await
    }

    /// Which database this store is on (some queries, like queue claims, differ).
    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    /// The SQLite file or the URL with its password hidden.
    pub fn location(&self) -> &str {
        &self.inner.location
    }

    /// The folder that holds job logs.
    pub fn logs_dir(&self) -> &Path {
        &self.inner.logs_dir
    }

    /// Waits for queries in flight and closes every connection (checkpoints SQLite's WAL).
    pub async fn close(&self) {
        self.inner.pool.close().await;
    }

    /// The connection pool, for the modules that add their own tables (inventory, advisories).
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.inner.pool
    }

    /// Maps a driver error to [`StoreError::Query`] naming this database and the action.
    pub(crate) fn query_error(
        &self,
        doing: &'static str,
    ) -> impl Fn(sqlx::Error) -> StoreError + '_ {
        move |source| StoreError::Query {
            location: self.inner.location.clone(),
            doing,
            source,
        }
    }

    pub(crate) fn not_found(&self, what: String) -> StoreError {
        StoreError::NotFound {
            what,
            location: self.inner.location.clone(),
        }
    }
}
