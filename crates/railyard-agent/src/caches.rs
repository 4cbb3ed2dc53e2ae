//! The runner's [`RemoteCache`] on a fleet: the server's caches, reached under the job's
//! lease. The server decides the scope from the leased job's run; the agent only names the
//! cache and key. A download is checked against the digest of the lookup; an answer that
//! differs is a miss.

use std::path::Path;

use async_trait::async_trait;
use railyard_runner::cache::RemoteCache;
use railyard_types::api::{DownloadCache, LookupCache, UploadCache};
use railyard_types::error::Chain;
use railyard_types::protocol::{CacheLookup, CacheUploadQuery, Claim, UploadQuery};
use railyard_types::{AgentId, JobId};

use crate::Client;

/// The server's caches for one leased job.
pub(crate) struct ServerCache {
    client: Client,
    job_id: JobId,
    lease: UploadQuery,
}

impl ServerCache {
    pub(crate) fn new(client: &Client, agent_id: &AgentId, claim: &Claim) -> ServerCache {
        ServerCache {
            client: client.clone(),
            job_id: claim.job_id.clone(),
            lease: UploadQuery {
                agent_id: agent_id.clone(),
                attempt: claim.attempt,
            },
        }
    }
}

#[async_trait]
impl RemoteCache for ServerCache {
    async fn fetch(
        &self,
        name: &str,
        key: &str,
        prefix: Option<&str>,
        into: &Path,
    ) -> Result<Option<String>, String> {
        let query = CacheLookup {
            agent_id: self.lease.agent_id.clone(),
            attempt: self.lease.attempt,
            key: key.to_owned(),
            prefix: prefix.map(str::to_owned),
        };
        let answer = self
            .client
            .call_query::<LookupCache>(&(self.job_id.clone(), name.to_owned()), &query, &())
            .await
            .map_err(|e| Chain(&e).to_string())?;
        let Some(found) = answer.found else {
            return Ok(None);
        };
        let path = (self.job_id.clone(), name.to_owned(), found.key.clone());
        let response = self
            .client
            .open::<DownloadCache>(&path, &self.lease, &())
            .await
            .map_err(|e| Chain(&e).to_string())?;
        let got = crate::inputs::write(response, into).await?;
        if got.size != found.size || !got.sha256.eq_ignore_ascii_case(&found.sha256) {
            return Err(format!(
                "the archive of key {} arrived as {} bytes with SHA-256 {}, the server listed {} \
                 bytes with {}",
                found.key, got.size, got.sha256, found.size, found.sha256
            ));
        }
        Ok(Some(format!("{} of {}", found.key, found.scope)))
    }

    async fn store(
        &self,
        name: &str,
        key: &str,
        prefix: Option<&str>,
        archive: &Path,
    ) -> Result<(), String> {
        let query = CacheUploadQuery {
            agent_id: self.lease.agent_id.clone(),
            attempt: self.lease.attempt,
            prefix: prefix.map(str::to_owned),
        };
        let path = (self.job_id.clone(), name.to_owned(), key.to_owned());
        self.client
            .put_file::<UploadCache>(&path, &query, archive)
            .await
            .map_err(|e| Chain(&e).to_string())
    }
}
