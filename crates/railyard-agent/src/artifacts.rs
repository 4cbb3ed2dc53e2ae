//! Sends a finished job's artifacts to the server, one file per `PUT`, each streamed from
//! disk and resent until the server answers (the server replaces a file with the same path, so
//! a resend after an unseen answer stores it once).

use std::path::Path;

use railyard_types::AgentId;
use railyard_types::api::UploadArtifact;
use railyard_types::protocol::{Claim, UploadQuery};

use crate::retry::until_answered;
use crate::{AgentError, Client};

/// Uploads every file under `dir` (the job's artifacts folder); a missing folder is no
/// artifacts. Returns how many files went up; stops at the first file the server refuses
/// (too large, lease lost) with its error.
pub(crate) async fn upload_all(
    client: &Client,
    agent_id: &AgentId,
    claim: &Claim,
    dir: &Path,
) -> Result<usize, AgentError> {
    let mut sent = 0;
    if !dir.is_dir() {
        return Ok(0);
    }
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.map_err(|e| AgentError::Workspace(format!("reading artifacts: {e}")))?;
        if !entry.file_type().is_file() {
            continue;
        }
        let Ok(relative) = entry.path().strip_prefix(dir) else {
            continue;
        };
        let parts: Vec<String> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let path = (claim.job_id.clone(), parts.join("/"));
        let lease = UploadQuery {
            agent_id: agent_id.clone(),
            attempt: claim.attempt,
        };
        // Resent until the server answers, however long it is away: its lease is renewed
        // meanwhile, and a starting server gives it a whole lease again.
        let what = format!("uploading {}", relative.display());
        until_answered(&what, || {
            client.put_file::<UploadArtifact>(&path, &lease, entry.path())
        })
        .await?;
        sent += 1;
    }
    Ok(sent)
}
