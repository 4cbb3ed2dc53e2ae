//! Before a job runs: the artifacts of the jobs it `needs`, fetched from the server (they ran
//! earlier in the run, usually on other agents) into the job's artifacts folder, laid out as a
//! local run leaves them: `<artifacts_dir>/<artifacts_folder(need)>/PATH`, and
//! `…/shard-N/PATH` for a need with `parallel > 1`. The runner hands them over from there into
//! the job's workspace. The job's own artifacts go to its own folder, which is all the agent
//! uploads afterwards: what it fetched is never sent back as the job's own.
//!
//! Each file is streamed to disk (never whole in memory) and checked against the size and
//! SHA-256 the server listed; a file that comes short, long or different is fetched again a
//! few times, then fails the job naming the need, the path and what differed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use railyard_types::AgentId;
use railyard_types::api::{DownloadInput, ListInputs};
use railyard_types::path::plain_relative;
use railyard_types::protocol::{Claim, InputArtifact, UploadQuery};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::client::CALL_TIMEOUT;
use crate::retry::until_answered;
use crate::{AgentError, Client};

/// How many times one file is fetched before a difference (or a cut stream) fails the job.
const TRIES: u32 = 3;

/// What was fetched for one need.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Fetched {
    /// Files written.
    pub files: usize,
    /// Their bytes.
    pub bytes: u64,
}

/// The most a job may be handed from its needs (the agent's allowance): checked on the
/// listing, before a byte is fetched, so that a need's artifacts never fill the agent's disk.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Bounds {
    /// Bytes in all.
    pub bytes: Option<u64>,
    /// Files in all.
    pub files: Option<u64>,
}

/// Fetches the artifacts of `needs` (the needs the job takes artifacts from) into
/// `artifacts_dir`; what was fetched for each need, in `needs`' order. No need, no call.
pub(crate) async fn fetch(
    client: &Client,
    agent_id: &AgentId,
    claim: &Claim,
    (needs, bounds): (&[String], Bounds),
    artifacts_dir: &Path,
) -> Result<Vec<(String, Fetched)>, AgentError> {
    if needs.is_empty() {
        return Ok(Vec::new());
    }
    let lease = UploadQuery {
        agent_id: agent_id.clone(),
        attempt: claim.attempt,
    };
    let listed = until_answered("listing the artifacts of the job's needs", || {
        client.call_query::<ListInputs>(&claim.job_id, &lease, &())
    })
    .await?;
    let wanted: Vec<&InputArtifact> = listed
        .iter()
        .filter(|i| needs.contains(&i.pipeline_job))
        .collect();
    check_bounds(&wanted, needs, bounds)?;
    let mut fetched: BTreeMap<&str, Fetched> = BTreeMap::new();
    for input in wanted {
        let Some(need) = needs.iter().find(|n| **n == input.pipeline_job) else {
            continue;
        };
        let to = destination(artifacts_dir, input)?;
        fetch_one(client, claim, &lease, input, &to).await?;
        let done = fetched.entry(need).or_default();
        done.files += 1;
        done.bytes += input.size;
    }
    Ok(needs
        .iter()
        .map(|n| {
            (
                n.clone(),
                fetched.get(n.as_str()).copied().unwrap_or_default(),
            )
        })
        .collect())
}

/// An error when `wanted` holds more than `bounds` allow, naming the needs and the bound.
fn check_bounds(
    wanted: &[&InputArtifact],
    needs: &[String],
    bounds: Bounds,
) -> Result<(), AgentError> {
    let bytes: u64 = wanted.iter().map(|i| i.size).sum();
    let files = wanted.len() as u64;
    let over = match (bounds.bytes, bounds.files) {
        (Some(max), _) if bytes > max => Some(format!("{bytes} bytes, over the agent's {max}")),
        (_, Some(max)) if files > max => Some(format!("{files} files, over the agent's {max}")),
        _ => None,
    };
    match over {
        None => Ok(()),
        Some(over) => Err(AgentError::Workspace(format!(
            "the artifacts of {} hold {over} a job may be handed: keep fewer or smaller \
             artifacts, or raise the agent's artifact limits",
            needs.join(", ")
        ))),
    }
}

/// Where `input` goes: its need's folder as a local run names it, its shard's folder for a
/// sharded need, then its path, which must be plain names (nothing climbs out).
fn destination(artifacts_dir: &Path, input: &InputArtifact) -> Result<PathBuf, AgentError> {
    let relative = plain_relative(&input.path).map_err(|why| {
        AgentError::Workspace(format!(
            "artifact `{}` of `{}` has a path the agent will not write: {why}",
            input.path, input.job
        ))
    })?;
    let mut to = artifacts_dir.join(railyard_runner::names::artifacts_folder(
        &input.pipeline_job,
    ));
    if let (Some(shard), true) = (input.shard, input.shards > 1) {
        to = to.join(format!("shard-{shard}"));
    }
    Ok(to.join(relative))
}

/// Fetches `input` to `to`, up to [`TRIES`] times until its bytes are the ones listed.
async fn fetch_one(
    client: &Client,
    claim: &Claim,
    lease: &UploadQuery,
    input: &InputArtifact,
    to: &Path,
) -> Result<(), AgentError> {
    if let Some(parent) = to.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| AgentError::Workspace(format!("creating {}: {e}", parent.display())))?;
    }
    let path = (claim.job_id.clone(), input.job.clone(), input.path.clone());
    let mut why = String::new();
    for _ in 0..TRIES {
        let what = format!("fetching `{}` of `{}`", input.path, input.job);
        let response =
            until_answered(&what, || client.open::<DownloadInput>(&path, lease, &())).await?;
        match write(response, to).await {
            Ok(got) => match differs(input, &got) {
                None => return Ok(()),
                Some(d) => why = d,
            },
            Err(e) => why = e,
        }
        tracing::warn!(job = %claim.job, "{what}: {why}; fetching it again");
    }
    Err(AgentError::Workspace(format!(
        "artifact `{}` of need `{}` (job `{}`) did not arrive whole after {TRIES} tries: {why}",
        input.path, input.pipeline_job, input.job
    )))
}

/// What a fetch wrote: its byte count and SHA-256.
#[derive(Debug)]
pub(crate) struct Got {
    pub size: u64,
    pub sha256: String,
}

/// How what arrived differs from what was listed, if it does.
fn differs(input: &InputArtifact, got: &Got) -> Option<String> {
    if got.size != input.size {
        return Some(format!(
            "received {} bytes, the server listed {}",
            got.size, input.size
        ));
    }
    match &input.sha256 {
        Some(listed) if !listed.eq_ignore_ascii_case(&got.sha256) => Some(format!(
            "received bytes with SHA-256 {}, the server listed {listed}",
            got.sha256
        )),
        _ => None,
    }
}

/// Streams the answer's body into `to` (replacing it), hashing as it goes; a stream that
/// stops sending for [`CALL_TIMEOUT`] counts as cut.
pub(crate) async fn write(response: reqwest::Response, to: &Path) -> Result<Got, String> {
    let file = tokio::fs::File::create(to)
        .await
        .map_err(|e| format!("creating {}: {e}", to.display()))?;
    // The network hands over small pieces: written to disk by the MiB, not each on its own.
    let mut file = tokio::io::BufWriter::with_capacity(1 << 20, file);
    let mut stream = response.bytes_stream();
    let mut digest = Sha256::new();
    let mut size = 0u64;
    loop {
        let next = tokio::time::timeout(CALL_TIMEOUT, stream.next())
            .await
            .map_err(|_| format!("the server sent nothing for {} s", CALL_TIMEOUT.as_secs()))?;
        let Some(chunk) = next else { break };
        let chunk = chunk.map_err(|e| format!("the download was cut after {size} bytes: {e}"))?;
        digest.update(&chunk);
        size += chunk.len() as u64;
        file.write_all(&chunk)
            .await
            .map_err(|e| format!("writing {}: {e}", to.display()))?;
    }
    file.flush()
        .await
        .map_err(|e| format!("writing {}: {e}", to.display()))?;
    Ok(Got {
        size,
        sha256: hex::encode(digest.finalize()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(path: &str, shard: Option<u32>, shards: u32) -> InputArtifact {
        InputArtifact {
            job: "test [2/4]".into(),
            pipeline_job: "test".into(),
            shard,
            shards,
            path: path.into(),
            size: 3,
            sha256: Some(hex::encode(Sha256::digest(b"abc"))),
        }
    }

    #[test]
    fn inputs_go_where_a_local_run_leaves_them() {
        let dir = Path::new("/w/artifacts");
        assert_eq!(
            destination(dir, &input("r/j.xml", Some(2), 4)).unwrap(),
            dir.join("test/shard-2/r/j.xml")
        );
        assert_eq!(
            destination(dir, &input("a.txt", None, 1)).unwrap(),
            dir.join("test/a.txt")
        );
        for bad in ["../x", "/etc/passwd", "a/../../x", "", "a//b"] {
            let e = destination(dir, &input(bad, None, 1))
                .unwrap_err()
                .to_string();
            assert!(e.contains("will not write"), "{bad}: {e}");
        }
    }

    /// A server that lists one file of `build` and answers every download of it with
    /// `answer` (status line, headers and body as sent); counts the downloads.
    async fn lying_server(
        answer: &'static str,
    ) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let downloads = std::sync::Arc::new(AtomicUsize::new(0));
        let counted = downloads.clone();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && conn.read(&mut byte).await.unwrap_or(0) == 1 {
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let reply = if head.starts_with("GET /api/v1/jobs/7/inputs?") {
                    let listed = serde_json::to_string(&[input("dist/app.txt", None, 1)]).unwrap();
                    let listed = listed
                        .replace("test [2/4]", "build")
                        .replace("\"test\"", "\"build\"");
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{listed}",
                        listed.len()
                    )
                } else {
                    counted.fetch_add(1, Ordering::SeqCst);
                    answer.to_string()
                };
                let _ = conn.write_all(reply.as_bytes()).await;
                let _ = conn.shutdown().await;
            }
        });
        (base, downloads)
    }

    fn claim() -> Claim {
        Claim {
            job_id: "7".into(),
            run_id: "r".into(),
            job: "test".into(),
            project: "p".into(),
            repo_url: String::new(),
            commit: String::new(),
            git_ref: None,
            attempt: 1,
            lease_until: railyard_types::Millis(0),
            shard: None,
            secrets: Vec::new(),
            repo_credential: None,
            context: None,
            run_url: None,
            run_attempt: None,
            cache_scope: None,
        }
    }

    /// Bytes that differ from the listing, or a stream cut short, are fetched again, then
    /// fail the job naming the need, the path and what differed.
    #[tokio::test]
    async fn a_file_that_never_arrives_whole_fails_naming_it() {
        use std::sync::atomic::Ordering;
        let other = "HTTP/1.1 200 OK\r\ncontent-length: 3\r\nconnection: close\r\n\r\nabd";
        let cut = "HTTP/1.1 200 OK\r\ncontent-length: 30\r\nconnection: close\r\n\r\nab";
        for (answer, says) in [(other, "SHA-256"), (cut, "cut")] {
            let (base, downloads) = lying_server(answer).await;
            let dir = tempfile::tempdir().unwrap();
            let client = Client::new(&base, "t");
            let needs = ["build".to_string()];
            let needs = (&needs[..], Bounds::default());
            let e = fetch(&client, &"a".into(), &claim(), needs, dir.path())
                .await
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("artifact `dist/app.txt` of need `build`") && e.contains("3 tries"),
                "{e}"
            );
            assert!(e.contains(says), "{e}");
            assert_eq!(downloads.load(Ordering::SeqCst), TRIES as usize);
        }
    }

    /// The listed bytes land in the need's folder, once.
    #[tokio::test]
    async fn a_file_that_arrives_whole_lands_in_its_needs_folder() {
        use std::sync::atomic::Ordering;
        let right = "HTTP/1.1 200 OK\r\ncontent-length: 3\r\nconnection: close\r\n\r\nabc";
        let (base, downloads) = lying_server(right).await;
        let dir = tempfile::tempdir().unwrap();
        let client = Client::new(&base, "t");
        let needs = ["build".to_string(), "lint".to_string()];
        let needs = (&needs[..], Bounds::default());
        let got = fetch(&client, &"a".into(), &claim(), needs, dir.path())
            .await
            .unwrap();
        let one = Fetched { files: 1, bytes: 3 };
        assert_eq!(
            got,
            [("build".into(), one), ("lint".into(), Fetched::default())]
        );
        let file = dir.path().join("build/dist/app.txt");
        assert_eq!(std::fs::read(file).unwrap(), b"abc");
        assert_eq!(downloads.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn needs_over_the_agents_bounds_are_refused_before_fetching() {
        let (a, b) = (input("a", None, 1), input("b", None, 1));
        let needs = ["test".to_string()];
        let bounds = |bytes, files| Bounds { bytes, files };
        assert!(check_bounds(&[&a, &b], &needs, bounds(Some(6), Some(2))).is_ok());
        let e = check_bounds(&[&a, &b], &needs, bounds(Some(5), None));
        let e = e.unwrap_err().to_string();
        assert!(
            e.contains("the artifacts of test hold 6 bytes, over the agent's 5"),
            "{e}"
        );
        let e = check_bounds(&[&a, &b], &needs, bounds(None, Some(1)));
        assert!(
            e.unwrap_err()
                .to_string()
                .contains("2 files, over the agent's 1")
        );
    }

    #[test]
    fn a_short_or_different_file_is_named() {
        let want = input("a.txt", None, 1);
        let right = hex::encode(Sha256::digest(b"abc"));
        let ok = Got {
            size: 3,
            sha256: right,
        };
        assert_eq!(differs(&want, &ok), None);
        let short = Got {
            size: 2,
            sha256: ok.sha256.clone(),
        };
        assert!(differs(&want, &short).unwrap().contains("received 2 bytes"));
        let other = Got {
            size: 3,
            sha256: hex::encode(Sha256::digest(b"abd")),
        };
        assert!(differs(&want, &other).unwrap().contains("SHA-256"));
    }
}
