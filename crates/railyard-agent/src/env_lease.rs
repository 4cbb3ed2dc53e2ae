//! The build lease of env keys, asked of the server under the claimed job's lease: the runner
//! asks through [`railyard_runner::EnvLease`] and never talks to the server itself. The
//! server takes the project from the job, so an agent cannot build another project's keys.

use std::time::Duration;

use railyard_types::api;
use railyard_types::env_images::{EnvBuiltRequest, EnvLeaseAnswer, EnvLeaseRequest};
use railyard_types::error::Chain;
use railyard_types::protocol::Claim;
use railyard_types::{AgentId, JobId};

use crate::Client;

/// How long one ask may take: past it the runner builds without the lease.
const ASK_TIMEOUT: Duration = Duration::from_secs(20);

/// One claimed job's asks.
pub(crate) struct ServerEnvLease {
    client: Client,
    agent_id: AgentId,
    job_id: JobId,
    attempt: i64,
}

impl ServerEnvLease {
    pub(crate) fn new(client: &Client, agent_id: &AgentId, claim: &Claim) -> ServerEnvLease {
        ServerEnvLease {
            client: client.clone(),
            agent_id: agent_id.clone(),
            job_id: claim.job_id.clone(),
            attempt: claim.attempt,
        }
    }
}

#[async_trait::async_trait]
impl railyard_runner::EnvLease for ServerEnvLease {
    async fn acquire(&self, key: &str) -> Result<EnvLeaseAnswer, String> {
        let body = EnvLeaseRequest {
            agent_id: self.agent_id.clone(),
            attempt: self.attempt,
            key: key.to_string(),
        };
        (self.client)
            .call_within::<api::EnvBuildLease>(&self.job_id, &body, ASK_TIMEOUT)
            .await
            .map_err(|e| Chain(&e).to_string())
    }

    async fn built(&self, key: &str, reference: &str, digest: &str) -> Result<(), String> {
        let body = EnvBuiltRequest {
            agent_id: self.agent_id.clone(),
            attempt: self.attempt,
            key: key.to_string(),
            reference: reference.to_string(),
            digest: digest.to_string(),
        };
        (self.client)
            .call_within::<api::EnvImageBuilt>(&self.job_id, &body, ASK_TIMEOUT)
            .await
            .map(|_| ())
            .map_err(|e| Chain(&e).to_string())
    }
}
