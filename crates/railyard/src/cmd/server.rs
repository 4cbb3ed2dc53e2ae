//! `railyard server`: the HTTP API and the job queue, on an SQLite file in the data folder
//! or on PostgreSQL (`--database postgres://…`). Prints the bound address on stdout, so a
//! script (or a test on port 0) can read it.

use anyhow::Context;
use clap::Args;
use railyard_server::{AppState, ServerConfig, TokenHash};
use std::io::Write;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(
        long,
        env = "RAILYARD__SERVER__LISTEN",
        default_value = "127.0.0.1:8470"
    )]
    pub listen: String,
    /// `postgres://USER:PASSWORD@HOST/DB` [default: an SQLite file in the data folder].
    #[arg(long, env = "RAILYARD__SERVER__DATABASE", value_name = "URL")]
    pub database: Option<String>,
    /// The admin token (projects, triggers, runs). Kept only as a hash.
    #[arg(long, env = "RAILYARD__SERVER__ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: String,
    /// The agents' token (register, claim, report). Kept only as a hash.
    #[arg(long, env = "RAILYARD__SERVER__AGENT_TOKEN", hide_env_values = true)]
    pub agent_token: String,
    /// Seconds a job's lease lasts without a heartbeat.
    #[arg(long, env = "RAILYARD__SERVER__LEASE_SECS", default_value_t = 30)]
    pub lease_secs: u64,
    /// How many agents may try a job whose lease lapsed before it fails as `agent lost`.
    #[arg(long, env = "RAILYARD__SERVER__MAX_ATTEMPTS", default_value_t = 3)]
    pub max_attempts: i64,
}

pub async fn run(g: &crate::cli::Global, args: ServerArgs) -> anyhow::Result<i32> {
    if args.admin_token.is_empty() || args.agent_token.is_empty() {
        return Err(
            super::Expected::Input("the admin and agent tokens must not be empty".into()).into(),
        );
    }
    let data_dir = crate::project::data_dir(g.data_dir.as_deref());
    let store = match &args.database {
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
        admin_token: TokenHash::of(&args.admin_token),
        agent_token: TokenHash::of(&args.agent_token),
        lease: Duration::from_secs(args.lease_secs.max(1)),
        max_attempts: args.max_attempts.max(1),
        mirrors_dir: data_dir.join("mirrors"),
        max_wait: Duration::from_secs(30),
    };
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
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
