//! One module per command; `dispatch` picks it and turns its result into an exit code.

pub mod advisories;
mod advisories_remote;
pub mod agent;
pub mod agents;
pub mod approve;
pub mod cancel;
mod clean;
pub mod config;
mod credentials;
pub mod deployments;
pub mod env_images;
mod envscan;
mod fleetscan;
mod follow;
mod graph;
pub mod inventory;
mod logs;
pub mod me;
pub mod people;
pub mod project;
pub mod rerun;
mod run;
mod run_context;
pub mod runs;
pub mod scan;
mod scan_remote;
pub mod schedule;
pub mod secret;
pub mod server;
mod shell;
mod split;
mod tests;
mod tls;
pub mod token;
pub mod trigger;
mod validate;

use crate::cli::{Cli, Command};
use railyard_types::exit_codes;

/// Errors that are the user's to fix, with their documented exit code.
#[derive(Debug, thiserror::Error)]
pub enum Expected {
    /// Bad input: a flag, a job name, a file.
    #[error("{0}")]
    Input(String),
    /// Bad input, as the library that read it says (its causes are shown below it).
    #[error(transparent)]
    Invalid(Box<dyn std::error::Error + Send + Sync>),
}

impl Expected {
    /// The exit code this error ends the process with.
    pub fn exit_code(&self) -> i32 {
        match self {
            Expected::Input(_) | Expected::Invalid(_) => exit_codes::INVALID_INPUT,
        }
    }
}

/// Runs the command; returns the process exit code.
pub async fn dispatch(cli: Cli) -> i32 {
    let g = &cli.global();
    let result = match cli.command {
        Command::Run(args) => run::run(g, args).await,
        Command::Validate(_) => validate::run(g).await,
        Command::Graph(_) => graph::run(g).await,
        Command::Shell(args) => shell::run(g, args).await,
        Command::Clean(args) => clean::run(args).await,
        Command::Runs(args) => runs::run(g, args).await,
        Command::Deployments(args) => deployments::run(g, args).await,
        Command::Logs(args) => logs::run(g, args).await,
        Command::Scan(args) => scan::run(g, args).await,
        Command::Inventory(args) => inventory::run(g, args).await,
        Command::Advisories(args) => advisories::run(g, args).await,
        Command::Split(args) => split::run(g, args).await,
        Command::Tests(args) => tests::run(g, args).await,
        Command::Server(args) => server::run(g, args).await,
        Command::Agent(args) => agent::run(args, g).await,
        Command::Project(args) => project::run(args).await,
        Command::Trigger(args) => trigger::run(args).await,
        Command::Cancel(args) => cancel::run(args).await,
        Command::Approve(args) => approve::run(args).await,
        Command::Rerun(args) => rerun::run(args).await,
        Command::Agents(args) => agents::run(args).await,
        Command::EnvImages(args) => env_images::run(args).await,
        Command::Token(args) => token::run(args).await,
        Command::User(args) => people::run_user(args).await,
        Command::Member(args) => people::run_member(args).await,
        Command::Login(args) => me::login(args).await,
        Command::Me(args) => me::me(args).await,
        Command::Audit(args) => me::audit(args).await,
        Command::Secret(args) => secret::run(args).await,
        Command::Schedule(args) => schedule::run(args).await,
    };
    match result {
        Ok(code) => code,
        Err(err) => crate::report_error(err),
    }
}

/// Connects to Docker, turning failure into the message users need.
pub async fn docker() -> anyhow::Result<railyard_docker::Docker> {
    Ok(railyard_docker::Docker::connect().await?)
}

/// Opens the store of the data folder. Runs whose process died (a `kill -9`, a crash) are
/// marked abandoned on the way, so history never shows a dead run as running.
pub async fn store(g: &crate::cli::Global) -> anyhow::Result<railyard_store::Store> {
    use anyhow::Context;
    let dir = crate::project::data_dir(g.data_dir.as_deref());
    let mut options = railyard_store::StoreOptions {
        logs_dir: Some(dir.join(railyard_store::LOGS_DIR_NAME)),
        ..Default::default()
    };
    // A job's log stops growing past this size (default 1 GiB): a runaway step cannot fill
    // the disk.
    if let Some(limit) = std::env::var("RAILYARD_MAX_LOG_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        options.max_log_bytes = limit;
    }
    let db = dir.join(railyard_store::DB_FILE_NAME);
    let store = railyard_store::Store::open_with(&db.display().to_string(), &options)
        .await
        .with_context(|| format!("opening the run history in {}", dir.display()))?;
    store
        .abandon_dead_runs(&railyard_runner::names::owner_is_alive)
        .await?;
    Ok(store)
}

/// The values of the pipeline's `secrets`, read from this process's environment.
pub fn secrets(pipeline: &railyard_pipeline::Pipeline) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for name in &pipeline.secrets {
        match std::env::var(name) {
            Ok(value) if !value.is_empty() => out.push((name.clone(), value)),
            _ => {
                return Err(Expected::Input(format!(
                    "secret `{name}` is not set: export it in the environment that runs railyard \
                     (secrets never come from the pipeline file)"
                ))
                .into());
            }
        }
    }
    Ok(out)
}

/// Ctrl-C, SIGTERM and SIGHUP as one stream.
pub struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    /// Starts listening (from now on the signals no longer kill the process).
    pub fn new() -> anyhow::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    /// Waits for the next one.
    pub async fn next(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
            _ = self.hup.recv() => {}
        }
    }
}
