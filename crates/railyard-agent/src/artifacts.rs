//! Sends a finished job's artifacts to the server, one file per `PUT`, each streamed from
//! disk and resent until the server answers (the server replaces a file with the same path, so
//! a resend after an unseen answer stores it once).

use std::path::Path;

use railyard_types::protocol::Claim;

use crate::retry::until_answered;
use crate::{AgentError, Client};

/// Uploads every file under `dir` (the job's artifacts folder); a missing folder is no
/// artifacts. Returns how many files went up; stops at the first file the server refuses
/// (too large, lease lost) with its error.
pub(crate) async fn upload_all(
    client: &Client,
    agent_id: &str,
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
            .map(|c| percent_encode(&c.as_os_str().to_string_lossy()))
            .collect();
        let path = format!(
            "/api/v1/jobs/{}/artifacts/{}?agent_id={}&attempt={}",
            claim.job_id,
            parts.join("/"),
            percent_encode(agent_id),
            claim.attempt
        );
        // Resent until the server answers, however long it is away: its lease is renewed
        // meanwhile, and a starting server gives it a whole lease again.
        let what = format!("uploading {}", relative.display());
        until_answered(&what, || client.put_file(&path, entry.path())).await?;
        sent += 1;
    }
    Ok(sent)
}

/// Escapes what a URL path segment or query value cannot hold as is.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
