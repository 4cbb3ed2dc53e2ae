//! Ships one job's log to the server from a task of its own, so the runner's events are
//! taken as fast as they come whatever the server does: lines go into a [`Spool`] (bounded
//! memory, the rest on disk) and the task sends them in numbered chunks, each resent until
//! acknowledged, when a chunk's worth is waiting or every 300 ms.

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use railyard_types::api::{self, Endpoint};
use railyard_types::{AgentId, JobId};

use railyard_runner::{Event, Stream};
use railyard_types::env_images::EnvOrigin;
use railyard_types::error::Chain;
use railyard_types::protocol::{Claim, LogChunk};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::retry::until_answered;
use crate::spool::{CHUNK_BYTES, Spool};
use crate::{AgentError, Client};

/// What is waiting is sent at least this often.
const CHUNK_EVERY: Duration = Duration::from_millis(300);

struct Shared {
    spool: Mutex<Spool>,
    wake: Notify,
    closed: AtomicBool,
}

impl Shared {
    fn spool(&self) -> MutexGuard<'_, Spool> {
        self.spool.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The log of one claimed job: lines in, chunks out.
pub(crate) struct LogShip {
    shared: Arc<Shared>,
    task: Option<JoinHandle<Result<(), AgentError>>>,
    job: String,
    /// Where the server serves the job's artifacts (what the log points to, not this
    /// machine's temporary folder).
    artifacts: String,
}

impl LogShip {
    /// Starts shipping; past the memory cap lines wait in `spool_file`.
    pub(crate) fn start(
        client: Client,
        agent_id: AgentId,
        claim: &Claim,
        spool_file: PathBuf,
    ) -> LogShip {
        let shared = Arc::new(Shared {
            spool: Mutex::new(Spool::new(spool_file)),
            wake: Notify::new(),
            closed: AtomicBool::new(false),
        });
        let task = tokio::spawn(ship(
            shared.clone(),
            client,
            claim.job_id.clone(),
            agent_id,
            claim.attempt,
        ));
        LogShip {
            shared,
            task: Some(task),
            job: claim.job.clone(),
            artifacts: api::ListArtifacts::url(&(claim.run_id.clone(), claim.job.clone()), &()),
        }
    }

    /// Adds a line; never waits for the server.
    pub(crate) fn line(&self, line: &str) {
        self.push([line]);
    }

    /// Adds the log lines the runner's events make (not every event makes one).
    pub(crate) fn events(&self, events: &[Event]) {
        self.push(events.iter().filter_map(|e| match e {
            Event::ArtifactSaved { path, .. } => Some(Cow::Owned(format!(
                "[railyard] artifact `{path}` collected: the server keeps it at {}/{}",
                self.artifacts,
                path.trim_start_matches("./")
            ))),
            _ => event_line(e),
        }));
    }

    fn push<S: AsRef<str>>(&self, lines: impl IntoIterator<Item = S>) {
        let mut spool = self.shared.spool();
        for line in lines {
            if spool.push(line.as_ref()) {
                tracing::warn!(
                    job = %self.job,
                    "the server has not taken the last {} KiB of the log yet: the job's next lines wait in {} until it does",
                    spool.pending() / 1024,
                    spool.path().display()
                );
            }
        }
        if spool.pending() >= CHUNK_BYTES as u64 {
            self.shared.wake.notify_one();
        }
    }

    /// Sends every line left and waits until the server acknowledged them all (however long
    /// it is away), it said the lease is gone, or it refused a chunk.
    pub(crate) async fn finish(mut self) -> Result<(), AgentError> {
        let pending = self.shared.spool().pending();
        if pending > CHUNK_BYTES as u64 {
            tracing::info!(job = %self.job, "sending the last {} KiB of the log", pending / 1024);
        }
        self.shared.closed.store(true, Ordering::SeqCst);
        self.shared.wake.notify_one();
        let Some(task) = self.task.take() else {
            return Ok(());
        };
        task.await
            .unwrap_or_else(|e| Err(AgentError::Workspace(format!("shipping the log: {e}"))))
    }
}

impl Drop for LogShip {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// The log line a runner event makes, if it makes one.
fn event_line(event: &Event) -> Option<Cow<'_, str>> {
    let line = match event {
        Event::Output { line, stream, .. } => match stream {
            Stream::Railyard => format!("[railyard] {line}"),
            _ => return Some(Cow::Borrowed(line)),
        },
        Event::StepStarted { command, .. } => format!("$ {command}"),
        Event::StepFinished {
            index,
            status,
            exit_code,
            ..
        } => format!(
            "[railyard] step {} {}{}",
            index + 1,
            status.as_str(),
            exit_code
                .map(|c| format!(" (exit code {c})"))
                .unwrap_or_default()
        ),
        Event::EnvOutput { line, .. } => format!("[env] {line}"),
        Event::EnvReady {
            env,
            image_id,
            origin,
            reference,
            digest,
            ..
        } => format!(
            "[railyard] env {env}: {}",
            env_ready(image_id, *origin, reference.as_deref(), digest.as_deref())
        ),
        Event::JobFinished { status, error, .. } => format!(
            "[railyard] job {}{}",
            status.as_str(),
            error.as_ref().map(|e| format!(": {e}")).unwrap_or_default()
        ),
        _ => return None,
    };
    Some(Cow::Owned(line))
}

/// The shipping task: waits for a chunk's worth or 300 ms, then sends all that waits.
/// Returns once closed and everything was acknowledged, or at the first final refusal
/// (the lease lost, or a spool file that cannot be read).
async fn ship(
    shared: Arc<Shared>,
    client: Client,
    job: JobId,
    agent_id: AgentId,
    attempt: i64,
) -> Result<(), AgentError> {
    let mut refused = None;
    loop {
        let closing = shared.closed.load(Ordering::SeqCst);
        if !closing {
            tokio::select! {
                _ = shared.wake.notified() => {}
                _ = tokio::time::sleep(CHUNK_EVERY) => {}
            }
        }
        loop {
            let next = shared.spool().next();
            let (seq, text) = match next {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                Err(e) => {
                    let e = AgentError::Workspace(format!(
                        "reading the log kept in {}: {e}",
                        shared.spool().path().display()
                    ));
                    tracing::error!("{}", Chain(&e));
                    shared.spool().discard();
                    return Err(e);
                }
            };
            let chunk = LogChunk {
                agent_id: agent_id.clone(),
                attempt,
                seq,
                text,
            };
            let what = format!("sending log chunk {seq}");
            let sent = until_answered(&what, || client.call::<api::SendLog>(&job, &chunk)).await;
            match sent {
                Ok(_) => shared.spool().acked(),
                Err(e) if e.is_lease_lost() => {
                    shared.spool().discard();
                    return Err(e);
                }
                Err(e) => {
                    tracing::error!("log chunk {seq} refused: {}", Chain(&e));
                    shared.spool().refused();
                    refused = Some(e);
                }
            }
        }
        if closing {
            return refused.map_or(Ok(()), Err);
        }
    }
}

/// What the log says of a ready env image: a reader tells a pull from a build from a reuse.
fn env_ready(
    image_id: &str,
    origin: EnvOrigin,
    reference: Option<&str>,
    digest: Option<&str>,
) -> String {
    match (origin, reference, digest) {
        (EnvOrigin::Pulled, Some(reference), Some(digest)) => {
            format!("pulled {reference} ({digest})")
        }
        (EnvOrigin::Pulled, _, _) => format!("pulled image {image_id}"),
        (EnvOrigin::Built, Some(reference), Some(digest)) => {
            format!("built {reference}, pushed ({digest})")
        }
        (EnvOrigin::Built, _, _) => format!("built image {image_id}"),
        (EnvOrigin::Local, Some(reference), Some(digest)) => {
            format!("reused image {image_id}, present locally ({reference}@{digest})")
        }
        (EnvOrigin::Local, _, _) => format!("reused image {image_id}, present locally"),
    }
}
