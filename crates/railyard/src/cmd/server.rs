//! `railyard server`: the HTTP API and the job queue, on an SQLite file in the data folder
//! or on PostgreSQL (`--database postgres://…`). Prints the bound address on stdout, so a
//! script (or a test on port 0) can read it. Settings come from `--config FILE` (its
//! `[server]` table), then the environment, then the flags (see `config`).

use anyhow::Context;
use clap::Args;
use railyard_server::{AppState, ServerConfig, TokenHash};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct ServerArgs {
    /// A TOML file whose `[server]` table sets any of these flags (`admin_token = "…"`).
    #[arg(long, env = "RAILYARD_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Address to listen on (port 0 picks a free port) [default: 127.0.0.1:8470].
    #[arg(long, env = "RAILYARD__SERVER__LISTEN")]
    pub listen: Option<String>,
    /// `postgres://USER:PASSWORD@HOST/DB` [default: an SQLite file in the data folder].
    #[arg(long, env = "RAILYARD__SERVER__DATABASE", value_name = "URL")]
    pub database: Option<String>,
    /// The bootstrap admin token (projects, triggers, runs, tokens). Kept only as a hash.
    #[arg(long, env = "RAILYARD__SERVER__ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// The bootstrap agents' token (register, claim, report). Kept only as a hash. Optional:
    /// agents may use stored tokens alone.
    #[arg(long, env = "RAILYARD__SERVER__AGENT_TOKEN", hide_env_values = true)]
    pub agent_token: Option<String>,
    /// Seconds a job's lease lasts without a heartbeat [default: 30].
    #[arg(long, env = "RAILYARD__SERVER__LEASE_SECS")]
    pub lease_secs: Option<u64>,
    /// How many agents may try a job whose lease lapsed before it fails as `agent lost`
    /// [default: 3].
    #[arg(long, env = "RAILYARD__SERVER__MAX_ATTEMPTS")]
    pub max_attempts: Option<i64>,
    /// The most jobs one pipeline may expand to, matrix combinations and shards counted; a
    /// trigger over it is refused [default: 1000].
    #[arg(long, env = "RAILYARD__SERVER__MAX_JOBS", value_name = "N")]
    pub max_jobs: Option<usize>,
    /// The largest artifact file an agent may upload, in MiB; a larger one is refused (413)
    /// and fails its job [default: 1024].
    #[arg(long, env = "RAILYARD__SERVER__MAX_ARTIFACT_MB", value_name = "MIB")]
    pub max_artifact_mb: Option<u64>,
    #[command(flatten)]
    pub data: crate::cli::DataDir,
}

pub async fn run(g: &crate::cli::Global, args: ServerArgs) -> anyhow::Result<i32> {
    let file = super::config::load(args.config.as_deref())?.server;
    let admin_token = args
        .admin_token
        .or(file.admin_token)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            super::Expected::Input(
                "the admin token is missing or empty: pass --admin-token, set \
                 RAILYARD__SERVER__ADMIN_TOKEN, or write `admin_token = \"…\"` under [server] \
                 in the --config file"
                    .into(),
            )
        })?;
    // Without a bootstrap agent token, agents use stored tokens (`railyard token create`).
    let agent_token = args
        .agent_token
        .or(file.agent_token)
        .filter(|t| !t.is_empty());
    let listen = args
        .listen
        .or(file.listen)
        .unwrap_or_else(|| "127.0.0.1:8470".into());
    let database = args.database.or(file.database);
    let lease_secs = args.lease_secs.or(file.lease_secs).unwrap_or(30);
    let max_attempts = args.max_attempts.or(file.max_attempts).unwrap_or(3);
    let max_jobs = args
        .max_jobs
        .or(file.max_jobs)
        .unwrap_or(railyard_pipeline::DEFAULT_MAX_JOBS);
    if max_jobs == 0 {
        return Err(super::Expected::Input("--max-jobs must be at least 1".into()).into());
    }
    let max_artifact_bytes = match args.max_artifact_mb.or(file.max_artifact_mb) {
        Some(0) => {
            let e = "--max-artifact-mb must be at least 1";
            return Err(super::Expected::Input(e.into()).into());
        }
        Some(mib) => mib.saturating_mul(1 << 20),
        None => railyard_server::DEFAULT_MAX_ARTIFACT_BYTES,
    };
    let data_dir = crate::project::data_dir(g.data_dir.as_deref().or(file.data_dir.as_deref()));
    let store = match &database {
        Some(url) => {
            let options = railyard_store::StoreOptions {
                logs_dir: Some(data_dir.join(railyard_store::LOGS_DIR_NAME)),
                ..Default::default()
            };
            railyard_store::Store::open_with(url, &options).await
        }
        None => railyard_store::Store::open_in(&data_dir).await,
    }
    .context("opening the server's database")?;
    let config = ServerConfig {
        admin_token: TokenHash::of(&admin_token),
        agent_token: agent_token.as_deref().map(TokenHash::of),
        lease: Duration::from_secs(lease_secs.max(1)),
        max_attempts: max_attempts.max(1),
        max_jobs,
        mirrors_dir: data_dir.join("mirrors"),
        max_wait: Duration::from_secs(30),
        max_artifact_bytes,
    };
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let addr = listener.local_addr()?;
    println!("railyard server listening on http://{addr}");
    std::io::stdout().flush()?;
    let shutdown = async {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    };
    railyard_server::serve(listener, AppState::new(store.clone(), config), shutdown).await?;
    store.close().await;
    Ok(0)
}
