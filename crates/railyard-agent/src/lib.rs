//! Railyard's agent: registers with a server, long-polls it for jobs, and runs each one
//! with the same runner as `railyard run`, in a fresh checkout of the job's commit.
//!
//! Each slot is one loop: claim, run, report. While a job runs, a heartbeat renews its
//! lease; if the server says the lease is gone (it lapsed and the job went to another
//! agent), the job is cancelled and its result discarded. Log lines go to the server in
//! numbered chunks, each resent until acknowledged (the server stores a chunk once), from a
//! task of their own: past 1 MiB waiting, lines wait in a file in the job's folder. Chunks,
//! artifacts and the result are resent until the server answers, however long it is away.
#![warn(missing_docs)]

mod artifacts;
pub mod client;
mod errors;
mod job;
mod report;
mod retry;
mod ship;
mod spool;
mod tests_queue;

use std::time::Duration;

use railyard_docker::Docker;
use railyard_types::protocol::{Claim, ClaimRequest, RegisterRequest, Registered};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use client::Client;
pub use errors::AgentError;

/// How an agent runs.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// The server, `http://host:port`.
    pub server: String,
    /// The agents' token.
    pub token: String,
    /// How many jobs at once.
    pub slots: u32,
    /// A name for people.
    pub name: String,
    /// Its labels: it takes only jobs whose `runs_on` labels it all has.
    pub labels: Vec<String>,
}

/// Registers and works until `shutdown` is cancelled or the server refuses the token. A
/// cancelled agent drains: it claims nothing more and returns once the jobs it holds have
/// finished and been reported.
pub async fn run(
    config: AgentConfig,
    docker: Docker,
    shutdown: CancellationToken,
) -> Result<(), AgentError> {
    let client = Client::new(&config.server, &config.token);
    let registered: Registered = client
        .post(
            "/api/v1/agents/register",
            &RegisterRequest {
                name: config.name.clone(),
                slots: config.slots,
                labels: config.labels.clone(),
            },
        )
        .await?
        .ok_or_else(|| AgentError::Workspace("the server did not register the agent".into()))?;
    tracing::info!(agent = %registered.agent_id, "registered");
    let mut slots = JoinSet::new();
    for _ in 0..config.slots.max(1) {
        slots.spawn(slot(
            client.clone(),
            docker.clone(),
            registered.clone(),
            shutdown.clone(),
        ));
    }
    let mut result = Ok(());
    while let Some(done) = slots.join_next().await {
        if let Ok(Err(e)) = done {
            shutdown.cancel();
            result = Err(e);
        }
    }
    result
}

async fn slot(
    client: Client,
    docker: Docker,
    me: Registered,
    shutdown: CancellationToken,
) -> Result<(), AgentError> {
    let wait = Duration::from_secs(20);
    let request = ClaimRequest {
        agent_id: me.agent_id.clone(),
        wait_ms: Some(wait.as_millis() as u64),
    };
    while !shutdown.is_cancelled() {
        let claimed = tokio::select! {
            r = client.post_waiting::<_, Claim>("/api/v1/agents/claim", &request, wait) => r,
            _ = shutdown.cancelled() => break,
        };
        match claimed {
            Ok(Some(claim)) => job::run(&client, &docker, &me, claim).await,
            Ok(None) => {}
            Err(e) if e.is_unauthorized() => return Err(e),
            Err(e) => {
                tracing::warn!("claiming a job: {e}; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
    Ok(())
}
