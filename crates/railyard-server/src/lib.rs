//! Railyard's server: projects, triggers, and the job queue that agents draw from.
//!
//! A trigger resolves the commit in a bare mirror of the project's repository, reads the
//! pipeline there with `git show`, records a run and queues its jobs (a job waits until its
//! `needs` are done). Agents register, long-poll `claim`, hold each job under a lease they
//! renew by heartbeat, send the log in numbered chunks and report the result; the server
//! stores all of it through `railyard-store` and releases dependents. A background sweep puts
//! jobs whose lease lapsed back in the queue. The server never talks to Docker.
//!
//! [`serve`] takes a bound listener and a shutdown future, so tests start it on port 0.
#![warn(missing_docs)]

mod api;
mod commit_statuses;
mod error;
mod follow;
mod git;
mod git_auth;
mod housekeeping;
mod openapi;
pub mod protocol;
mod schedules;
mod secrets;
mod tls;
mod webhook;

use railyard_types::{AgentId, Millis, RunId};
use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use railyard_store::Store;
use sha2::{Digest, Sha256};

use tokio::net::TcpListener;
use tokio::sync::Notify;

pub use error::ApiError;
pub use schedules::DEFAULT_MIN_INTERVAL as DEFAULT_MIN_SCHEDULE_INTERVAL;
pub use secrets::{KeyError, SecretKeys, prepare as prepare_secrets};
pub use tls::{Tls, TlsError, install_crypto_provider};

/// A token as the server keeps it: only its SHA-256, so a dump of memory or config files
/// written from it never shows the token.
#[derive(Clone)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// Hashes a token.
    pub fn of(token: &str) -> TokenHash {
        TokenHash(Sha256::digest(token.as_bytes()).into())
    }

    /// The hash in lowercase hex, as the store keeps stored tokens.
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Compares in constant time (over the hashes).
    pub fn matches(&self, token: &str) -> bool {
        let other = TokenHash::of(token);
        self.0
            .iter()
            .zip(other.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenHash(***)")
    }
}

/// How the server behaves.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The bootstrap admin token (projects, triggers, runs, tokens); stored admin tokens
    /// are checked in the database beside it.
    pub admin_token: TokenHash,
    /// The bootstrap agent token (register, claim, report), if any; stored agent tokens are
    /// checked in the database beside it.
    pub agent_token: Option<TokenHash>,
    /// How long a lease lasts without a heartbeat.
    pub lease: Duration,
    /// How many times a job is handed out before a lapsed lease fails it as `agent lost`.
    pub max_attempts: i64,
    /// The most jobs one pipeline may expand to ([`railyard_pipeline::Limits`]): a trigger
    /// over it is refused before anything is stored.
    pub max_jobs: usize,
    /// Where the bare mirrors of the projects' repositories live.
    pub mirrors_dir: PathBuf,
    /// The longest a claim waits for work.
    pub max_wait: Duration,
    /// The largest artifact file an agent may upload (413 over it), in bytes:
    /// [`DEFAULT_MAX_ARTIFACT_BYTES`] unless the operator says otherwise.
    pub max_artifact_bytes: u64,
    /// The address people and forges reach this server at (`https://ci.example.com`, no
    /// trailing slash): the base of `RAILYARD_RUN_URL` and of commit statuses' `target_url`.
    pub public_url: String,
    /// The shortest time a cron schedule may leave between two fires (a schedule firing more
    /// often is refused): [`DEFAULT_MIN_SCHEDULE_INTERVAL`] unless the operator says
    /// otherwise; under a minute, a seconds field is allowed.
    pub min_schedule_interval: Duration,
    /// The most bytes of dependency caches (`cache:`) each project may keep on the server:
    /// an upload past it drops the project's least recently used caches
    /// ([`DEFAULT_CACHE_BUDGET_BYTES`] unless the operator says otherwise).
    pub cache_budget_bytes: u64,
}

impl ServerConfig {
    /// Where a run is shown: its API address until the web UI exists.
    pub fn run_url(&self, run: &RunId) -> String {
        format!("{}/api/v1/runs/{run}", self.public_url)
    }

    /// Where a job of a run is shown: its API address until the web UI exists.
    pub fn job_url(&self, run: &RunId, job: &str) -> String {
        let job = percent_encoding::utf8_percent_encode(job, percent_encoding::NON_ALPHANUMERIC);
        format!("{}/api/v1/runs/{run}/jobs/{job}", self.public_url)
    }
}

/// The largest artifact file the server takes by default: 1 GiB (a build's output; larger
/// things belong in an image or a package registry).
pub const DEFAULT_MAX_ARTIFACT_BYTES: u64 = 1 << 30;

/// The default of [`ServerConfig::cache_budget_bytes`]: 2 GiB a project.
pub const DEFAULT_CACHE_BUDGET_BYTES: u64 = 2 << 30;

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    store: Store,
    config: ServerConfig,
    /// Woken whenever a job enters the queue, so waiting claims answer at once.
    work: Notify,
    /// Woken when a schedule is added through this server, so the scheduler looks again.
    schedules: Notify,
    /// When this server last noted each agent as seen (see [`AppState::note_agent`]).
    noted: Mutex<HashMap<AgentId, i64>>,
    /// The key secrets are sealed under (`--secrets-key-file`); none: secrets cannot be set
    /// and jobs naming any fail.
    secret_keys: std::sync::OnceLock<SecretKeys>,
}

impl AppState {
    /// A server's state over a store.
    pub fn new(store: Store, config: ServerConfig) -> AppState {
        AppState {
            inner: Arc::new(Shared {
                store,
                config,
                work: Notify::new(),
                schedules: Notify::new(),
                noted: Default::default(),
                secret_keys: Default::default(),
            }),
        }
    }

    pub(crate) fn store(&self) -> &Store {
        &self.inner.store
    }

    pub(crate) fn config(&self) -> &ServerConfig {
        &self.inner.config
    }

    /// Gives the server its secrets keys (before it serves; see [`prepare_secrets`]).
    pub fn with_secret_keys(self, keys: SecretKeys) -> AppState {
        // A new state's lock is empty: this cannot fail.
        let _ = self.inner.secret_keys.set(keys);
        self
    }

    pub(crate) fn secret_keys(&self) -> Option<&SecretKeys> {
        self.inner.secret_keys.get()
    }

    pub(crate) fn work(&self) -> &Notify {
        &self.inner.work
    }

    /// The scheduler waits on this; `notify_one` keeps a wake-up given while it was busy.
    pub(crate) fn schedules_changed(&self) -> &Notify {
        &self.inner.schedules
    }

    /// Notes an agent as seen at `now` ([`Store::touch_agent`]) unless this server did so less
    /// than `every_ms` ago: a claim then costs no look-up of the agent (on SQLite each
    /// statement is a hand-off to sqlx's worker thread, the claim's main cost). False when no
    /// such agent is registered.
    pub(crate) async fn note_agent(
        &self,
        id: &AgentId,
        now: Millis,
        every_ms: i64,
    ) -> Result<bool, railyard_store::StoreError> {
        let now = now.as_i64();
        let fresh = |noted: &HashMap<AgentId, i64>| {
            noted.get(id.as_str()).is_some_and(|at| now - at < every_ms)
        };
        if fresh(&self.noted()) {
            return Ok(true);
        }
        if !self.store().touch_agent(id, Millis(now), every_ms).await? {
            return Ok(false);
        }
        let mut noted = self.noted();
        if noted.len() >= 4096 {
            // Agents gone for good (each registration has its own id) fall out.
            noted.retain(|_, at| now - *at < every_ms);
        }
        noted.insert(id.clone(), now);
        Ok(true)
    }

    fn noted(&self) -> MutexGuard<'_, HashMap<AgentId, i64>> {
        self.inner.noted.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Serves the API on `listener` until `shutdown` completes, with the lease sweep beside it.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, state, None, shutdown).await
}

/// [`serve`], over HTTPS with `tls`'s certificate when given (plain HTTP without).
pub async fn serve_with(
    listener: TcpListener,
    state: AppState,
    tls: Option<Tls>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // A server that stopped between recording a job's end and releasing its dependents left
    // them waiting: move every unfinished run on once before serving.
    match state.store().unfinished_queued_runs().await {
        Ok(runs) => {
            for run in runs {
                if let Err(e) = state.store().advance_run(&run, Millis::now()).await {
                    tracing::error!(
                        "moving run {run} on at start: {}",
                        railyard_types::error::Chain(&e)
                    );
                }
            }
        }
        Err(e) => tracing::error!(
            "listing unfinished runs at start: {}",
            railyard_types::error::Chain(&e)
        ),
    }
    // While no server answered, agents could not renew their leases: give each held lease a
    // whole lease from now, so a restart does not hand running jobs on.
    // By the database's clock, like every lease (see the store's `clock`).
    let now = state.store().now().await.unwrap_or_else(|_| Millis::now());
    match state
        .store()
        .extend_leases(now.plus(state.config().lease))
        .await
    {
        Ok(0) => {}
        Ok(n) => tracing::info!("{n} held lease(s) extended by one lease at start"),
        Err(e) => tracing::error!(
            "extending held leases at start: {}",
            railyard_types::error::Chain(&e)
        ),
    }
    let sweep = tokio::spawn(api::sweep_leases(state.clone()));
    let housekeeping = tokio::spawn(housekeeping::run(state.clone()));
    let scheduler = tokio::spawn(schedules::run(state.clone()));
    let statuses = tokio::spawn(commit_statuses::run(state.clone()));
    let app = api::router(state);
    let result = match tls {
        None => {
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
        }
        Some(tls) => tls::serve(listener, app, tls, shutdown).await,
    };
    sweep.abort();
    housekeeping.abort();
    scheduler.abort();
    statuses.abort();
    result
}
