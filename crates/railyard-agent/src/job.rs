//! One claimed job: check out, run under a renewed lease, ship the log, report.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use railyard_docker::Docker;
use railyard_runner::{Event, RunOptions, Stream};
use railyard_types::JobStatus;
use railyard_types::protocol::{
    Claim, Completion, LeaseRef, LogAck, LogChunk, Registered, Renewed,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::report::Gathered;
use crate::tests_queue::ServerQueue;
use crate::{AgentError, Client};
use railyard_runner::shards::OneShard;

/// A chunk is sent when it holds this much, or when the last send is this old.
const CHUNK_BYTES: usize = 32 * 1024;
const CHUNK_EVERY: Duration = Duration::from_millis(300);

pub(crate) async fn run(client: &Client, docker: &Docker, me: &Registered, claim: Claim) {
    tracing::info!(job = %claim.job, run = %claim.run_id, attempt = claim.attempt, "job claimed");
    // Its own token, not the agent's shutdown: a stopping agent drains, finishing the jobs
    // it holds. Only the server (a cancelled run, a lost lease) stops a job.
    let cancel = CancellationToken::new();
    let lost = Arc::new(AtomicBool::new(false));
    let heartbeat = tokio::spawn(heartbeat(
        client.clone(),
        me.clone(),
        claim.clone(),
        cancel.clone(),
        lost.clone(),
    ));
    let mut log = Shipper::new(client.clone(), me.agent_id.clone(), &claim);
    let pipeline_job = claim.shard.as_ref().map_or(&claim.job, |s| &s.job).clone();
    let mut gathered = Gathered::new(&claim.job, &pipeline_job);
    let dir = tempfile::Builder::new().prefix("railyard-job-").tempdir();
    let (mut status, mut error) = match &dir {
        Ok(dir) => {
            let ran = execute(
                client,
                docker,
                (me, &claim),
                dir.path(),
                &mut log,
                &mut gathered,
                cancel,
            )
            .await;
            ran.unwrap_or_else(|e| {
                log.line(&format!("[railyard] {e}"));
                (JobStatus::Failed, Some(e.to_string()))
            })
        }
        Err(e) => {
            let e = format!("creating a workspace folder: {e}");
            log.line(&format!("[railyard] {e}"));
            (JobStatus::Failed, Some(e))
        }
    };
    if let Ok(dir) = &dir {
        let mut folder = dir
            .path()
            .join("artifacts")
            .join(railyard_runner::names::artifacts_folder(&pipeline_job));
        if let Some(s) = &claim.shard {
            // Where the runner puts a shard's artifacts (its `shard-N` folder).
            folder = folder.join(format!("shard-{}", s.shard));
        }
        match crate::artifacts::upload_all(client, &me.agent_id, &claim, &folder).await {
            Ok(0) => {}
            Ok(n) => log.line(&format!(
                "[railyard] {n} artifact file(s) sent to the server"
            )),
            Err(e) if e.is_lease_lost() => {}
            Err(e) => {
                // The job's files did not all reach the server: it cannot count as passed.
                log.line(&format!("[railyard] artifacts: {e}"));
                if status.lets_dependents_run() {
                    status = JobStatus::Failed;
                    error = Some(format!("uploading artifacts: {e}"));
                }
            }
        }
    }
    let shipped = log.flush().await;
    heartbeat.abort();
    if lost.load(Ordering::SeqCst) || shipped.as_ref().is_err_and(|e| e.is_lease_lost()) {
        tracing::warn!(job = %claim.job, run = %claim.run_id, "lease lost: result discarded");
        return;
    }
    let path = format!("/api/v1/jobs/{}/complete", claim.job_id);
    let body = Completion {
        agent_id: me.agent_id.clone(),
        attempt: claim.attempt,
        status,
        error,
        steps: gathered.steps,
        timings: gathered.timings,
        env_image: gathered.env_image,
    };
    for _ in 0..30 {
        match client.post::<_, serde_json::Value>(&path, &body).await {
            Ok(_) => return,
            Err(e) if matches!(e, AgentError::Api { .. }) => {
                tracing::warn!("reporting job {}: {e}", claim.job);
                return;
            }
            Err(e) => {
                tracing::warn!("reporting job {}: {e}; retrying", claim.job);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Checks out the commit and runs the job; its log lines go to `log`.
async fn execute(
    client: &Client,
    docker: &Docker,
    (me, claim): (&Registered, &Claim),
    dir: &Path,
    log: &mut Shipper,
    gathered: &mut Gathered,
    cancel: CancellationToken,
) -> Result<(JobStatus, Option<String>), AgentError> {
    let checkout = dir.join("src");
    log.line(&format!(
        "[railyard] checking out {} at {}",
        claim.repo_url, claim.commit
    ));
    checkout_commit(&claim.repo_url, &claim.commit, &checkout).await?;
    let file = checkout.join(railyard_pipeline::FILE_NAME);
    let mut pipeline = railyard_pipeline::load(&file).map_err(|e| {
        AgentError::Workspace(format!("the pipeline at {} is invalid: {e}", claim.commit))
    })?;
    let name = claim.shard.as_ref().map_or(&claim.job, |s| &s.job).clone();
    let Some(job) = pipeline.jobs.get_mut(&name) else {
        return Err(AgentError::Workspace(format!(
            "no job `{name}` in the pipeline at {}",
            claim.commit
        )));
    };
    if let Some(s) = &claim.shard
        && job.parallel != s.shards
    {
        return Err(AgentError::Workspace(format!(
            "job `{name}` has `parallel: {}` at {}, but the server queued {} shards",
            job.parallel, claim.commit, s.shards
        )));
    }
    // The server already ran what this job needs, maybe on other agents.
    job.needs.clear();
    let options = RunOptions {
        run_id: claim.run_id.clone(),
        owner: railyard_runner::names::owner(),
        project: claim.project.clone(),
        repo_root: checkout.clone(),
        jobs: vec![name.clone()],
        max_parallel: 1,
        artifacts_dir: dir.join("artifacts"),
        timings: Arc::new(railyard_split::Timings::new()),
        env_check: None,
        secrets: Vec::new(),
    };
    // An earlier attempt of this job on this engine whose agent died (kill -9) left its
    // network and containers (named apart from this attempt's, each owner has its own): free
    // them before this attempt makes its own (the runner also reaps, beside its first steps).
    if let Err(e) = railyard_runner::cleanup::reap_dead_owners(docker).await {
        log.line(&format!(
            "[railyard] could not reap what dead agents left: {e}"
        ));
    }
    let (tx, mut rx) = mpsc::unbounded_channel::<Event>();
    // A shard shares its job's tests with the other shards through the server.
    let queue = claim.shard.as_ref().map(|_| {
        Arc::new(ServerQueue::new(
            client,
            &me.agent_id,
            claim,
            cancel.clone(),
        ))
    });
    let runner = tokio::spawn({
        let docker = docker.clone();
        let pipeline = Arc::new(pipeline);
        let one = claim
            .shard
            .as_ref()
            .zip(queue.clone())
            .map(|(s, q)| OneShard {
                shard: s.shard,
                tests: q,
            });
        async move {
            match one {
                Some(one) => {
                    railyard_runner::run_one_shard(&docker, pipeline, options, one, tx, cancel)
                        .await
                }
                None => railyard_runner::run_pipeline(&docker, pipeline, options, tx, cancel).await,
            }
        }
    });
    let mut tick = tokio::time::interval(CHUNK_EVERY);
    loop {
        tokio::select! {
            event = rx.recv() => {
                let Some(event) = event else { break };
                log.event(&event);
                gathered.event(&event);
                if log.pending() >= CHUNK_BYTES {
                    let _ = log.flush().await;
                }
            }
            _ = tick.tick() => { let _ = log.flush().await; }
        }
    }
    let outcome = runner
        .await
        .map_err(|e| AgentError::Workspace(format!("the runner failed: {e}")))?;
    if let Some(why) = queue.and_then(|q| q.failure()) {
        // Some of the shard's tests may not have run: it cannot count as passed.
        log.line(&format!("[railyard] test queue: {why}"));
        return Ok((JobStatus::Failed, Some(format!("test queue: {why}"))));
    }
    Ok(match outcome.jobs.get(&name) {
        Some(r) => (r.status, r.error.clone()),
        None => (
            JobStatus::Failed,
            Some("the runner did not run the job".into()),
        ),
    })
}

async fn checkout_commit(url: &str, commit: &str, into: &Path) -> Result<(), AgentError> {
    let git = |args: Vec<&std::ffi::OsStr>| {
        let mut cmd = tokio::process::Command::new("git");
        cmd.args(args);
        cmd
    };
    let out = git(vec![
        "clone".as_ref(),
        "--quiet".as_ref(),
        "--no-checkout".as_ref(),
        "--".as_ref(),
        url.as_ref(),
        into.as_os_str(),
    ])
    .output()
    .await
    .map_err(|e| AgentError::Workspace(format!("running git: {e} (is git installed?)")))?;
    if !out.status.success() {
        return Err(AgentError::Workspace(format!(
            "cannot clone {url}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let out = git(vec![
        "-C".as_ref(),
        into.as_os_str(),
        "checkout".as_ref(),
        "--quiet".as_ref(),
        "--detach".as_ref(),
        commit.as_ref(),
    ])
    .output()
    .await
    .map_err(|e| AgentError::Workspace(format!("running git: {e}")))?;
    if !out.status.success() {
        return Err(AgentError::Workspace(format!(
            "cannot check out {commit} of {url}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// Renews the lease every third of it (at least every second, so a cancel reaches the job
/// quickly); cancels the job when the server says the run was cancelled or the lease is gone.
async fn heartbeat(
    client: Client,
    me: Registered,
    claim: Claim,
    cancel: CancellationToken,
    lost: Arc<AtomicBool>,
) {
    let every = Duration::from_millis((me.lease_ms / 3).clamp(100, 1_000));
    let path = format!("/api/v1/jobs/{}/heartbeat", claim.job_id);
    let body = LeaseRef {
        agent_id: me.agent_id.clone(),
        attempt: claim.attempt,
    };
    loop {
        tokio::time::sleep(every).await;
        match client.post::<_, Renewed>(&path, &body).await {
            Ok(Some(Renewed { cancel: true, .. })) => {
                tracing::info!(job = %claim.job, "the run was cancelled: stopping the job");
                cancel.cancel();
                // Keep the lease while the job stops and reports.
            }
            Ok(_) => {}
            Err(e) if e.is_lease_lost() => {
                tracing::warn!(job = %claim.job, "lease lost: stopping the job");
                lost.store(true, Ordering::SeqCst);
                cancel.cancel();
                return;
            }
            Err(e) => tracing::warn!("heartbeat: {e}"),
        }
    }
}

/// Gathers log lines and sends them in numbered chunks, each until acknowledged.
struct Shipper {
    client: Client,
    path: String,
    agent_id: String,
    attempt: i64,
    seq: i64,
    buffer: String,
    lost: bool,
}

impl Shipper {
    fn new(client: Client, agent_id: String, claim: &Claim) -> Shipper {
        Shipper {
            client,
            path: format!("/api/v1/jobs/{}/logs", claim.job_id),
            agent_id,
            attempt: claim.attempt,
            seq: 0,
            buffer: String::new(),
            lost: false,
        }
    }

    fn line(&mut self, line: &str) {
        self.buffer.push_str(line);
        self.buffer.push('\n');
    }

    fn pending(&self) -> usize {
        self.buffer.len()
    }

    fn event(&mut self, event: &Event) {
        match event {
            Event::Output { line, stream, .. } => match stream {
                Stream::Railyard => self.line(&format!("[railyard] {line}")),
                _ => self.line(line),
            },
            Event::StepStarted { command, .. } => self.line(&format!("$ {command}")),
            Event::StepFinished {
                index,
                status,
                exit_code,
                ..
            } => self.line(&format!(
                "[railyard] step {} {}{}",
                index + 1,
                status.as_str(),
                exit_code
                    .map(|c| format!(" (exit code {c})"))
                    .unwrap_or_default()
            )),
            Event::EnvOutput { line, .. } => self.line(&format!("[env] {line}")),
            Event::EnvReady {
                env,
                image_id,
                cached,
                ..
            } => self.line(&format!(
                "[railyard] env {env}: {} {image_id}",
                if *cached {
                    "reused image"
                } else {
                    "built image"
                }
            )),
            Event::JobFinished { status, error, .. } => self.line(&format!(
                "[railyard] job {}{}",
                status.as_str(),
                error.as_ref().map(|e| format!(": {e}")).unwrap_or_default()
            )),
            _ => {}
        }
    }

    /// Sends what is buffered as the next chunk, resending until the server acknowledges it
    /// (or says the lease is gone).
    async fn flush(&mut self) -> Result<(), AgentError> {
        if self.buffer.is_empty() || self.lost {
            return Ok(());
        }
        let chunk = LogChunk {
            agent_id: self.agent_id.clone(),
            attempt: self.attempt,
            seq: self.seq + 1,
            text: std::mem::take(&mut self.buffer),
        };
        let mut delay = Duration::from_millis(200);
        loop {
            match self.client.post::<_, LogAck>(&self.path, &chunk).await {
                Ok(_) => {
                    self.seq = chunk.seq;
                    return Ok(());
                }
                Err(e) if e.is_lease_lost() => {
                    self.lost = true;
                    return Err(e);
                }
                Err(
                    e @ AgentError::Api {
                        status: 400..500, ..
                    },
                ) => {
                    tracing::error!("log chunk {} refused: {e}", chunk.seq);
                    return Err(e);
                }
                Err(e) => {
                    tracing::warn!("sending log chunk {}: {e}; retrying", chunk.seq);
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}
