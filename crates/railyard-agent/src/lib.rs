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
mod caches;
pub mod client;
mod env_lease;
mod errors;
mod inputs;
mod job;
mod report;
mod retry;
mod ship;
mod spool;
mod tests_queue;

use std::sync::Arc;
use std::time::Duration;

use railyard_types::api;

use railyard_docker::Docker;
use railyard_types::error::Chain;
use railyard_types::protocol::{ClaimRequest, RegisterRequest, Registered};
use tokio::sync::Mutex;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use client::{Client, Trust};
pub use errors::AgentError;

/// How an agent runs.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// The server, `http://host:port`.
    pub server: String,
    /// The agents' token.
    pub token: String,
    /// Which certificates an HTTPS server may show.
    pub trust: client::Trust,
    /// How many jobs at once.
    pub slots: u32,
    /// A name for people.
    pub name: String,
    /// Its labels: it takes only jobs whose `runs_on` labels it all has.
    pub labels: Vec<String>,
    /// Where each job's network takes its addresses.
    pub networks: railyard_runner::NetworkPool,
    /// Commits of history each checkout fetches; 0 for all of every branch and tag.
    pub clone_depth: u32,
    /// The memory and CPUs each job may have, and its env builds' memory.
    pub allowance: railyard_runner::Allowance,
    /// Where images built by jobs (`image_build` with `push: true`) are pushed, and env
    /// images are shared through (pulled, or built under the server's build lease and pushed).
    pub registry: Option<railyard_runner::Registry>,
    /// Scans the images each job runs in and builds, and holds them to the pipeline's
    /// `scan.fail_on`; `None` scans nothing (the job's log says so).
    pub scanner: Option<std::sync::Arc<dyn Scanner>>,
    /// How long a job may take to restore a cache from the server before it is a miss.
    pub cache_restore_timeout: std::time::Duration,
}

/// Gives each claimed job its image check: `railyard agent` wires it to the server's
/// inventory and advisories (each image scanned once, by the first agent that meets it),
/// held to the pipeline's `fail_on` as `railyard run` does for a local run.
pub trait Scanner: Send + Sync {
    /// The check of the images of one job of `claim`, held by this agent under `lease`,
    /// whose checkout is at `checkout`.
    fn for_job(
        &self,
        claim: &railyard_types::protocol::Claim,
        lease: &railyard_types::protocol::LeaseRef,
        checkout: &std::path::Path,
    ) -> std::sync::Arc<dyn railyard_runner::EnvCheck>;
}

impl std::fmt::Debug for dyn Scanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scanner")
    }
}

/// Commits of history a job's checkout fetches unless the agent is told otherwise.
pub const DEFAULT_CLONE_DEPTH: u32 = 50;

/// Registers and works until `shutdown` is cancelled or the server refuses the token. A
/// cancelled agent drains: it claims nothing more and returns once the jobs it holds have
/// finished and been reported.
pub async fn run(
    config: AgentConfig,
    docker: Docker,
    shutdown: CancellationToken,
) -> Result<(), AgentError> {
    let client = Client::with_trust(
        &config.server,
        &config.token,
        client::CALL_TIMEOUT,
        &config.trust,
    );
    let request = RegisterRequest {
        name: config.name.clone(),
        slots: config.slots,
        labels: config.labels.clone(),
    };
    // A server that is not up yet (started together, restarting) is waited for.
    let registration = tokio::select! {
        r = Registration::new(client.clone(), request) => Arc::new(r?),
        _ = shutdown.cancelled() => return Ok(()),
    };
    let mut slots = JoinSet::new();
    for _ in 0..config.slots.max(1) {
        slots.spawn(slot(
            client.clone(),
            docker.clone(),
            registration.clone(),
            shutdown.clone(),
            job::Setup {
                networks: config.networks,
                clone_depth: config.clone_depth,
                allowance: config.allowance,
                registry: config.registry.clone(),
                scanner: config.scanner.clone(),
                cache_restore_timeout: config.cache_restore_timeout,
            },
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

/// The agent's registration, made again when the server forgot it (it forgets agents unseen
/// for a day, and a server on a fresh database knows none).
struct Registration {
    client: Client,
    request: RegisterRequest,
    current: Mutex<Registered>,
}

impl Registration {
    async fn new(client: Client, request: RegisterRequest) -> Result<Registration, AgentError> {
        // A certificate refused at the very first call is this agent's setup (no --ca-cert
        // for a private CA), not a server away: stop and say so rather than wait for ever.
        // Later, a refused certificate is waited out like an absent server (a rotation).
        let first = match client.call::<api::Register>(&(), &request).await {
            Err(e @ AgentError::Certificate { .. }) => return Err(e),
            Ok(registered) => {
                tracing::info!(agent = %registered.agent_id, "registered");
                registered
            }
            Err(_) => register(&client, &request).await?,
        };
        let current = Mutex::new(first);
        Ok(Registration {
            client,
            request,
            current,
        })
    }

    async fn current(&self) -> Registered {
        self.current.lock().await.clone()
    }

    /// Registers again unless another slot already did since `forgotten` was current.
    async fn renew(&self, forgotten: &Registered) -> Result<Registered, AgentError> {
        let mut current = self.current.lock().await;
        if current.agent_id == forgotten.agent_id {
            tracing::warn!(agent = %forgotten.agent_id, "the server does not know this agent any more: registering again");
            *current = register(&self.client, &self.request).await?;
        }
        Ok(current.clone())
    }
}

async fn register(client: &Client, request: &RegisterRequest) -> Result<Registered, AgentError> {
    let registered =
        retry::until_answered("registering", || client.call::<api::Register>(&(), request)).await?;
    tracing::info!(agent = %registered.agent_id, "registered");
    Ok(registered)
}

async fn slot(
    client: Client,
    docker: Docker,
    registration: Arc<Registration>,
    shutdown: CancellationToken,
    setup: job::Setup,
) -> Result<(), AgentError> {
    let wait = Duration::from_secs(20);
    let mut me = registration.current().await;
    while !shutdown.is_cancelled() {
        let request = ClaimRequest {
            agent_id: me.agent_id.clone(),
            wait_ms: Some(wait.as_millis() as u64),
        };
        let claimed = tokio::select! {
            r = client.call_waiting::<api::ClaimJob>(&(), &request, wait) => r,
            _ = shutdown.cancelled() => break,
        };
        match claimed {
            Ok(Some(claim)) => job::run(&client, &docker, (&me, setup.clone()), claim).await,
            Ok(None) => {}
            Err(e) if e.is_unauthorized() => return Err(e),
            Err(AgentError::Api { status: 404, .. }) => {
                me = tokio::select! {
                    r = registration.renew(&me) => r?,
                    _ = shutdown.cancelled() => break,
                };
            }
            Err(e) => {
                tracing::warn!("claiming a job: {}; retrying", Chain(&e));
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
    Ok(())
}
