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
    /// The most MiB of dependency caches (`cache:`) each project may keep on the server; an
    /// upload past it drops the project's least recently used caches [default: 2048].
    #[arg(long, env = "RAILYARD__SERVER__CACHE_BUDGET_MB", value_name = "MIB")]
    pub cache_budget_mb: Option<u64>,
    /// The address people and forges reach this server at (`https://ci.example.com`): the
    /// base of RAILYARD_RUN_URL and of the links in commit statuses [default: http(s)://LISTEN].
    #[arg(long, env = "RAILYARD__SERVER__PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// The shortest time a cron schedule may leave between two fires, in seconds: a schedule
    /// firing more often is refused; under 60, a seconds field is allowed [default: 60].
    #[arg(long, env = "RAILYARD__SERVER__MIN_SCHEDULE_SECS", value_name = "SECS")]
    pub min_schedule_secs: Option<u64>,
    /// A file holding the bootstrap admin token (trailing newline dropped): unlike the flag
    /// or the variable, it shows in no `ps` or process environment.
    #[arg(long, env = "RAILYARD__SERVER__ADMIN_TOKEN_FILE", value_name = "FILE")]
    pub admin_token_file: Option<PathBuf>,
    /// A file holding the bootstrap agents' token (trailing newline dropped).
    #[arg(long, env = "RAILYARD__SERVER__AGENT_TOKEN_FILE", value_name = "FILE")]
    pub agent_token_file: Option<PathBuf>,
    /// Serve HTTPS with this certificate chain (PEM; with --tls-key). Read again on SIGHUP.
    #[arg(
        long,
        env = "RAILYARD__SERVER__TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert. Read again on SIGHUP.
    #[arg(
        long,
        env = "RAILYARD__SERVER__TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,
    /// The key project secrets are sealed under: 32 random bytes in hex or base64 (make one
    /// with `openssl rand -hex 32 > FILE`). Without it, secrets cannot be set and jobs naming
    /// any fail before they start.
    #[arg(long, env = "RAILYARD__SERVER__SECRETS_KEY_FILE", value_name = "FILE")]
    pub secrets_key_file: Option<PathBuf>,
    /// A rotation: the key the stored secrets were sealed under until now. They are sealed
    /// again under --secrets-key-file at start; then this file is no longer needed.
    #[arg(
        long,
        env = "RAILYARD__SERVER__SECRETS_OLD_KEY_FILE",
        value_name = "FILE",
        requires = "secrets_key_file"
    )]
    pub secrets_old_key_file: Option<PathBuf>,
    #[command(flatten)]
    pub data: crate::cli::DataDir,
}

pub async fn run(g: &crate::cli::Global, args: ServerArgs) -> anyhow::Result<i32> {
    let file = super::config::load(args.config.as_deref())?.server;
    let admin_token_file = args.admin_token_file.or(file.admin_token_file);
    let admin_token = super::credentials::token_from(
        args.admin_token.or(file.admin_token),
        admin_token_file.as_deref(),
        "--admin-token-file",
    )?
    .ok_or_else(|| {
        super::Expected::Input(
            "the admin token is missing or empty: pass --admin-token or --admin-token-file, set \
             RAILYARD__SERVER__ADMIN_TOKEN, or write `admin_token = \"…\"` under [server] in \
             the --config file"
                .into(),
        )
    })?;
    // Without a bootstrap agent token, agents use stored tokens (`railyard token create`).
    let agent_token_file = args.agent_token_file.or(file.agent_token_file);
    let agent_token = super::credentials::token_from(
        args.agent_token.or(file.agent_token),
        agent_token_file.as_deref(),
        "--agent-token-file",
    )?;
    let tls = match (
        args.tls_cert.or(file.tls_cert),
        args.tls_key.or(file.tls_key),
    ) {
        (Some(cert), Some(key)) => Some(
            railyard_server::Tls::load(&cert, &key)
                .map_err(|e| super::Expected::Input(e.to_string()))?,
        ),
        (None, None) => None,
        _ => {
            let e = "--tls-cert and --tls-key go together: give both (or neither, for plain HTTP)";
            return Err(super::Expected::Input(e.into()).into());
        }
    };
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
    let min_schedule_interval = match args.min_schedule_secs.or(file.min_schedule_secs) {
        Some(0) => {
            let e = "--min-schedule-secs must be at least 1";
            return Err(super::Expected::Input(e.into()).into());
        }
        Some(secs) => Duration::from_secs(secs),
        None => railyard_server::DEFAULT_MIN_SCHEDULE_INTERVAL,
    };
    let data_dir = crate::project::data_dir(g.data_dir.as_deref().or(file.data_dir.as_deref()));
    let store = match &database {
        Some(url) => {
            let options = railyard_store::StoreOptions {
                logs_dir: Some(data_dir.join(railyard_store::LOGS_DIR_NAME)),
                ..Default::default()
            };
            railyard_store::Store::open_with(url, &options)
                .await
                .map_err(super::tls::database_error)?
        }
        None => railyard_store::Store::open_in(&data_dir)
            .await
            .context("opening the server's database")?,
    };
    let config = ServerConfig {
        admin_token: TokenHash::of(&admin_token),
        agent_token: agent_token.as_deref().map(TokenHash::of),
        lease: Duration::from_secs(lease_secs.max(1)),
        max_attempts: max_attempts.max(1),
        max_jobs,
        mirrors_dir: data_dir.join("mirrors"),
        max_wait: Duration::from_secs(30),
        max_artifact_bytes,
        // Set once the listener's address is known.
        public_url: String::new(),
        min_schedule_interval,
        cache_budget_bytes: args
            .cache_budget_mb
            .map_or(railyard_server::DEFAULT_CACHE_BUDGET_BYTES, |mib| {
                mib.saturating_mul(1 << 20)
            }),
    };
    // Before listening: a wrong key file stops the start, naming the file.
    let secret_keys = match &args.secrets_key_file {
        Some(file) => Some(
            railyard_server::SecretKeys::load(file, args.secrets_old_key_file.as_deref())
                .map_err(|e| super::Expected::Input(e.to_string()))?,
        ),
        None => None,
    };
    railyard_server::prepare_secrets(&store, secret_keys.as_ref())
        .await
        .map_err(|e| super::Expected::Input(e.to_string()))?;
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let addr = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    if let Some(tls) = &tls {
        super::tls::reload_on_sighup(tls.clone());
    } else if !addr.ip().is_loopback() {
        tracing::warn!(
            "serving plain HTTP on {addr}, beyond this machine: tokens, logs and secrets cross \
             the network readable by anyone on the path; serve HTTPS with --tls-cert and \
             --tls-key (docs/server.md)"
        );
    }
    println!("railyard server listening on {scheme}://{addr}");
    std::io::stdout().flush()?;
    let shutdown = async {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    };
    let public_url = args.public_url.or(file.public_url);
    let public_url = public_url.unwrap_or_else(|| format!("{scheme}://{addr}"));
    let config = ServerConfig {
        public_url: public_url.trim_end_matches('/').to_owned(),
        ..config
    };
    let state = AppState::new(store.clone(), config);
    let state = match secret_keys {
        Some(keys) => state.with_secret_keys(keys),
        None => state,
    };
    railyard_server::serve_with(listener, state, tls, shutdown).await?;
    store.close().await;
    Ok(0)
}
