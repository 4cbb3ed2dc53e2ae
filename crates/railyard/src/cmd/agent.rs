//! `railyard agent`: takes jobs from a server and runs them on this machine's Docker engine.

use clap::Args;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Args)]
pub struct AgentArgs {
    /// The server, `http://host:port`.
    #[arg(long, env = "RAILYARD__AGENT__SERVER")]
    pub server: String,
    /// The agents' token.
    #[arg(long, env = "RAILYARD__AGENT__TOKEN", hide_env_values = true)]
    pub token: String,
    /// How many jobs to run at once.
    #[arg(long, env = "RAILYARD__AGENT__SLOTS", default_value_t = 1)]
    pub slots: u32,
    /// A name for people [default: host:pid].
    #[arg(long, env = "RAILYARD__AGENT__NAME")]
    pub name: Option<String>,
}

pub async fn run(args: AgentArgs) -> anyhow::Result<i32> {
    if args.slots == 0 {
        return Err(super::Expected::Input("--slots must be at least 1".into()).into());
    }
    let docker = super::docker().await?;
    let shutdown = CancellationToken::new();
    tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            use tokio::signal::unix::{SignalKind, signal};
            let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
            let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            // First signal: drain (claim nothing more, finish the jobs held). Second: leave at
            // once; the server hands those jobs on when their leases lapse.
            eprintln!("railyard agent: draining; signal again to stop at once");
            shutdown.cancel();
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            std::process::exit(railyard_types::exit_codes::CANCELLED);
        }
    });
    let config = railyard_agent::AgentConfig {
        server: args.server,
        token: args.token,
        slots: args.slots,
        name: args.name.unwrap_or_else(railyard_runner::names::owner),
    };
    railyard_agent::run(config, docker, shutdown).await?;
    Ok(0)
}
