//! A [`Server`] in this process, as `railyard server` would run with the fleet tests' flags.

use std::path::PathBuf;
use std::time::Duration;

use railyard_server::{AppState, ServerConfig, TokenHash};
use railyard_store::{Store, StoreOptions};

pub const ADMIN: &str = "admin-secret";
pub const AGENT: &str = "agent-secret";
/// The artifact limit of the test server: small, so that going over it is cheap.
pub const ARTIFACT_LIMIT: u64 = 3 << 20;

/// The server's API on its own runtime and port, until dropped.
pub struct Server {
    pub url: String,
    pub dir: tempfile::TempDir,
    runtime: Option<tokio::runtime::Runtime>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Server {
    /// A server on a SQLite database in a fresh data folder.
    pub fn start() -> Server {
        Server::start_on(None)
    }

    /// A server on the given database URL, or on SQLite in a fresh data folder; its config as
    /// the CLI's defaults with the fleet tests' tokens and a 3 s lease.
    pub fn start_on(database: Option<&str>) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (url, stop) = runtime.block_on(async {
            let store = match database {
                Some(url) => {
                    let options = StoreOptions {
                        logs_dir: Some(data.join(railyard_store::LOGS_DIR_NAME)),
                        ..Default::default()
                    };
                    Store::open_with(url, &options).await
                }
                None => Store::open_in(&data).await,
            }
            .expect("the server's store opens");
            let config = ServerConfig {
                admin_token: TokenHash::of(ADMIN),
                agent_token: Some(TokenHash::of(AGENT)),
                lease: Duration::from_secs(3),
                max_attempts: 3,
                max_jobs: railyard_pipeline::DEFAULT_MAX_JOBS,
                mirrors_dir: data.join("mirrors"),
                max_wait: Duration::from_secs(30),
                max_artifact_bytes: ARTIFACT_LIMIT,
                public_url: String::new(),
                min_schedule_interval: railyard_server::DEFAULT_MIN_SCHEDULE_INTERVAL,
                cache_budget_bytes: railyard_server::DEFAULT_CACHE_BUDGET_BYTES,
            };
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            let config = ServerConfig {
                public_url: url.clone(),
                ..config
            };
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let state = AppState::new(store, config);
            tokio::spawn(async move {
                let shutdown = async {
                    let _ = stopped.await;
                };
                if let Err(e) = railyard_server::serve(listener, state, shutdown).await {
                    panic!("serving: {e}");
                }
            });
            (url, stop)
        });
        Server {
            url,
            dir,
            runtime: Some(runtime),
            stop: Some(stop),
        }
    }

    /// The SQLite file of a server started by [`Server::start`].
    pub fn db_file(&self) -> PathBuf {
        self.dir
            .path()
            .join("data")
            .join(railyard_store::DB_FILE_NAME)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(5));
        }
    }
}
