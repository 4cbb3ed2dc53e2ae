//! An agent's image check against the server's inventory: an image is scanned once for the
//! whole fleet. Under the job's lease the agent asks the server whether it holds an
//! inventory of the image ID (the digest of the image's config, the same on every engine);
//! when it does, nothing is read from the image. Otherwise the agent scans it (its data
//! folder's store serving only as the layer cache) and sends the inventory. Either way the
//! server files it under the job's project and run, matches its own advisories and answers
//! the findings, which [`super::envscan::EnvScan`] holds to the pipeline's `fail_on` with
//! the checkout's ignore file, as in a local run.

use super::envscan::failed;
use railyard_advisory::Finding;
use railyard_agent::{AgentError, Client};
use railyard_runner::EnvCheckError;
use railyard_scan::{LayerCache, NoCache};
use railyard_types::inventory::{ScanLookup, ScanUpload, ScanVerdict};
use railyard_types::protocol::LeaseRef;
use railyard_types::{JobId, api};
use std::time::Duration;

/// How long one call may take: an inventory of tens of thousands of packages is tens of MB.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(300);

/// Tries of a call the server did not answer (it restarts, say) before the check fails.
const TRIES: u32 = 4;

/// The server's inventory, for one job.
pub struct FleetInventory {
    /// The agent's client of the server.
    pub client: Client,
    /// The job whose lease the calls are made under.
    pub job_id: JobId,
    /// The lease.
    pub lease: LeaseRef,
    /// The agent's layer cache (its data folder's store), when it could be opened.
    pub cache: Option<railyard_store::Store>,
}

impl FleetInventory {
    /// The server's findings in the image `image_id`, filed as `reference`, with a line
    /// saying where the inventory came from.
    pub async fn findings(
        &self,
        docker: &railyard_docker::Docker,
        image_id: &str,
        reference: &str,
    ) -> Result<(String, Vec<Finding>), EnvCheckError> {
        let lookup = ScanLookup {
            agent_id: self.lease.agent_id.clone(),
            attempt: self.lease.attempt,
            image_id: image_id.to_owned(),
            reference: reference.to_owned(),
        };
        let known = answered(|| (self.client).call::<api::LookupImageScan>(&self.job_id, &lookup))
            .await
            .map_err(|e| failed("asking the server for the image's inventory", e))?;
        let (verdict, how) = match known {
            Some(verdict) => (verdict, "once already: the server's inventory"),
            None => {
                let cache: &dyn LayerCache = match &self.cache {
                    Some(store) => store,
                    None => &NoCache,
                };
                let mut inventory = railyard_scan::scan_image(docker.client(), image_id, cache)
                    .await
                    .map_err(|e| failed("scanning the image", e))?;
                inventory.reference = reference.to_owned();
                let upload = ScanUpload {
                    agent_id: self.lease.agent_id.clone(),
                    attempt: self.lease.attempt,
                    inventory,
                };
                let verdict =
                    answered(|| (self.client).call::<api::UploadImageScan>(&self.job_id, &upload))
                        .await
                        .map_err(|e| failed("sending the image's inventory to the server", e))?;
                (verdict, "sent to the server")
            }
        };
        let ScanVerdict {
            packages, findings, ..
        } = verdict;
        let findings = (findings.into_iter())
            .map(Finding::try_from)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| failed("reading the server's findings", e))?;
        // Worded as a local run's scan, where the inventory came from in brackets.
        let summary = format!(
            "scanned: {packages} packages, {} known vulnerabilit{} ({how})",
            findings.len(),
            if findings.len() == 1 { "y" } else { "ies" }
        );
        Ok((summary, findings))
    }
}

/// `call`'s answer, tried again while the server does not answer or fails on its side
/// (never for a refusal: a lost lease, a bad inventory).
async fn answered<T, F, Fut>(call: F) -> Result<T, AgentError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, AgentError>>,
{
    let mut wait = Duration::from_millis(500);
    let mut tries = 1;
    loop {
        match call().await {
            Err(e @ AgentError::Api { status, .. }) if status < 500 => return Err(e),
            Err(e) if tries < TRIES => {
                tracing::warn!("{}; retrying", railyard_types::error::Chain(&e));
                tokio::time::sleep(wait).await;
                wait *= 2;
                tries += 1;
            }
            other => return other,
        }
    }
}
