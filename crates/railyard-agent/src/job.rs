//! One claimed job: check out, run under a renewed lease, ship the log, report.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use railyard_types::api;

use railyard_docker::Docker;
use railyard_runner::{Event, RunOptions};
use railyard_types::JobStatus;
use railyard_types::error::{Chain, chain};
use railyard_types::protocol::{Claim, Completion, LeaseRef, Registered, Renewed};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::report::Gathered;
use crate::retry::until_answered;
use crate::ship::LogShip;
use crate::tests_queue::ServerQueue;
use crate::{AgentError, Client};
use railyard_runner::shards::OneShard;

/// How long a job's checkout may take.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(600);

/// The runner's events are taken by batches of at most this many.
const EVENTS_AT_ONCE: usize = 512;

/// How this agent sets up each job.
#[derive(Debug, Clone)]
pub(crate) struct Setup {
    /// Where job networks take their addresses.
    pub networks: railyard_runner::NetworkPool,
    /// Commits of history a checkout fetches (0: everything).
    pub clone_depth: u32,
    /// The memory and CPUs each job may have.
    pub allowance: railyard_runner::Allowance,
    /// Where images built by jobs are pushed (`--registry`).
    pub registry: Option<railyard_runner::Registry>,
    /// Each job's image check.
    pub scanner: Option<Arc<dyn crate::Scanner>>,
    /// How long a job may take to restore a cache from the server.
    pub cache_restore_timeout: Duration,
}

pub(crate) async fn run(
    client: &Client,
    docker: &Docker,
    (me, setup): (&Registered, Setup),
    claim: Claim,
) {
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
    let dir = tempfile::Builder::new().prefix("railyard-job-").tempdir();
    // Past its memory cap the log waits in the job's folder (without one, beside it: made
    // only if needed).
    let spool_file = match &dir {
        Ok(dir) => dir.path().join("log.spool"),
        Err(_) => std::env::temp_dir().join(format!(
            "railyard-log-{}-{}.spool",
            claim.job_id, claim.attempt
        )),
    };
    let log = LogShip::start(client.clone(), me.agent_id.clone(), &claim, spool_file);
    let pipeline_job = claim.shard.as_ref().map_or(&claim.job, |s| &s.job).clone();
    let mut gathered = Gathered::new(&claim.job, &pipeline_job);
    let (mut status, mut error) = match &dir {
        Ok(dir) => {
            let ran = execute(
                client,
                docker,
                (me, &claim, setup),
                dir.path(),
                &log,
                &mut gathered,
                cancel,
            )
            .await;
            ran.unwrap_or_else(|e| {
                let e = chain(&e);
                log.line(&format!("[railyard] {e}"));
                (JobStatus::Failed, Some(e))
            })
        }
        Err(e) => {
            let e = format!("creating a workspace folder: {e}");
            log.line(&format!("[railyard] {e}"));
            (JobStatus::Failed, Some(e))
        }
    };
    tracing::info!(job = %claim.job, run = %claim.run_id, status = status.as_str(), "job ended: sending its artifacts, log and result");
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
                let e = Chain(&e);
                // The job's files did not all reach the server: it cannot count as passed.
                log.line(&format!("[railyard] artifacts: {e}"));
                if status.lets_dependents_run() {
                    status = JobStatus::Failed;
                    error = Some(format!("uploading artifacts: {e}"));
                }
            }
        }
    }
    // The heartbeat goes on until the result is in: the last of a long log and the result
    // may take a while to reach a server that was away.
    let shipped = log.finish().await;
    if lost.load(Ordering::SeqCst) || shipped.as_ref().is_err_and(|e| e.is_lease_lost()) {
        heartbeat.abort();
        tracing::warn!(job = %claim.job, run = %claim.run_id, "lease lost: result discarded");
        return;
    }
    let mut body = Completion {
        agent_id: me.agent_id.clone(),
        attempt: claim.attempt,
        status,
        error,
        steps: gathered.steps,
        timings: gathered.timings,
        env_image: gathered.env_image,
        image: gathered.image,
    };
    let what = format!("reporting job {}", claim.job);
    let mut reported =
        until_answered(&what, || client.call::<api::Complete>(&claim.job_id, &body)).await;
    // A result over the server's limit is reported again without its timings (then without
    // its steps), as failed and saying why: dropped, the job's lease lapsed and it ran
    // again until `agent lost`.
    let timings = body.timings.len();
    for drop_steps in [false, true] {
        let Err(e) = &reported else { break };
        if !e.is_too_large() {
            break;
        }
        let why = format!(
            "the job's result ({} test timings) is too large for the server: its timings{} \
             were dropped and the job counts as failed; spread its tests over more shards \
             (`parallel`) ({})",
            timings,
            if drop_steps { " and steps" } else { "" },
            Chain(e),
        );
        tracing::warn!(job = %claim.job, run = %claim.run_id, "{why}");
        body.status = JobStatus::Failed;
        body.error = Some(why);
        body.timings.clear();
        if drop_steps {
            body.steps.clear();
        }
        reported =
            until_answered(&what, || client.call::<api::Complete>(&claim.job_id, &body)).await;
    }
    heartbeat.abort();
    match reported {
        Ok(_) => {
            tracing::info!(job = %claim.job, run = %claim.run_id, status = body.status.as_str(), "job reported")
        }
        Err(e) if e.is_lease_lost() => tracing::warn!(
            job = %claim.job,
            run = %claim.run_id,
            "the server no longer holds this lease (it lapsed, or an earlier try of this report was recorded): result not resent"
        ),
        Err(e) => tracing::warn!("reporting job {}: {}", claim.job, Chain(&e)),
    }
}

/// Checks out the commit and runs the job; its log lines go to `log`.
async fn execute(
    client: &Client,
    docker: &Docker,
    (me, claim, setup): (&Registered, &Claim, Setup),
    dir: &Path,
    log: &LogShip,
    gathered: &mut Gathered,
    cancel: CancellationToken,
) -> Result<(JobStatus, Option<String>), AgentError> {
    let checkout = dir.join("src");
    log.line(&format!(
        "[railyard] checking out {} at {}",
        claim.repo_url, claim.commit
    ));
    // A checkout stops with the job (a cancelled run, a lost lease) and after
    // CHECKOUT_TIMEOUT: git against a server that never answers would hold the slot and
    // renew the lease for ever.
    let checked_out = tokio::select! {
        r = tokio::time::timeout(
            CHECKOUT_TIMEOUT,
            checkout_commit(
                &claim.repo_url,
                (&claim.commit, claim.git_ref.as_deref(), setup.clone_depth),
                claim.repo_credential.as_ref(),
                &checkout,
            ),
        ) => r,
        _ = cancel.cancelled() => {
            log.line("[railyard] cancelled during the checkout");
            return Ok((JobStatus::Cancelled, Some("cancelled during the checkout".into())));
        }
    };
    checked_out.map_err(|_| {
        AgentError::Workspace(format!(
            "checking out {} took over {} s: is the repository reachable?",
            claim.commit,
            CHECKOUT_TIMEOUT.as_secs()
        ))
    })??;
    let file = checkout.join(railyard_pipeline::FILE_NAME);
    // The server took this pipeline under its own limits already.
    let limits = railyard_pipeline::Limits::none();
    let mut pipeline = railyard_pipeline::load_with(&file, &limits).map_err(|e| {
        AgentError::Workspace(format!("the pipeline at {} is invalid: {e}", claim.commit))
    })?;
    // The server handed this job out, approved if it is manual: the runner holds manual
    // jobs only for a local run.
    for job in pipeline.jobs.values_mut() {
        job.manual = false;
    }
    let name = claim.shard.as_ref().map_or(&claim.job, |s| &s.job).clone();
    // Jobs with `artifacts` (or a test job's merged report) to hand over: a need without
    // any has nothing to fetch.
    let keeping: Vec<String> = (pipeline.jobs.iter())
        .filter(|(_, j)| j.hands_over())
        .map(|(n, _)| n.clone())
        .collect();
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
    // The server already ran what this job needs, maybe on other agents: the runner waits
    // only for needs among the jobs it runs, and keeps `needs` to hand their artifacts over
    // from the artifacts folder, where they are fetched first (those that keep any).
    let takes: Vec<String> = (job.needs.iter())
        .filter(|n| job.takes_artifacts_from(n))
        .filter(|n| keeping.contains(n))
        .cloned()
        .collect();
    let artifacts_dir = dir.join("artifacts");
    let bounds = crate::inputs::Bounds {
        bytes: setup.allowance.max_artifact_bytes,
        files: setup.allowance.max_artifact_files,
    };
    let fetching = crate::inputs::fetch(
        client,
        &me.agent_id,
        claim,
        (&takes, bounds),
        &artifacts_dir,
    );
    let fetched = tokio::select! {
        r = fetching => r?,
        _ = cancel.cancelled() => {
            let why = "cancelled while fetching the artifacts of its needs";
            log.line(&format!("[railyard] {why}"));
            return Ok((JobStatus::Cancelled, Some(why.into())));
        }
    };
    for (need, got) in fetched {
        log.line(&format!(
            "[railyard] artifacts of {need}: {} file(s), {:.1} MB fetched",
            got.files,
            got.bytes as f64 / 1e6
        ));
    }
    let options = RunOptions {
        run_id: claim.run_id.to_string(),
        owner: railyard_runner::names::owner(),
        project: claim.project.to_string(),
        repo_root: checkout.clone(),
        jobs: vec![name.clone()],
        rule_skipped: Default::default(),
        max_parallel: 1,
        artifacts_dir,
        timings: Arc::new(railyard_split::Timings::new()),
        env_check: (setup.scanner.as_ref()).map(|scanner| {
            let lease = LeaseRef {
                agent_id: me.agent_id.clone(),
                attempt: claim.attempt,
            };
            scanner.for_job(claim, &lease, &checkout)
        }),
        // Held in memory only, from the claim: set in the job's containers, masked in its log.
        secrets: (claim.secrets.iter())
            .map(|(name, value)| (name.clone(), value.expose().to_owned()))
            .collect(),
        networks: setup.networks,
        run_variables: run_variables(claim),
        allowance: setup.allowance,
        registry: setup.registry.clone(),
        // The server hands out each env key's build lease, for this job's project only.
        env_lease: setup.registry.as_ref().map(|_| {
            Arc::new(crate::env_lease::ServerEnvLease::new(
                client,
                &me.agent_id,
                claim,
            )) as Arc<dyn railyard_runner::EnvLease>
        }),
        // The scope is the server's word: without one (an older server) the job never
        // writes the shared scope.
        caches: railyard_runner::cache::Options {
            scope: (claim.cache_scope.clone()).unwrap_or(railyard_types::cache::CacheScope::Commit),
            remote: Some(Arc::new(crate::caches::ServerCache::new(
                client,
                &me.agent_id,
                claim,
            ))),
            restore_timeout: setup.cache_restore_timeout,
        },
    };
    // An earlier attempt of this job on this engine whose agent died (kill -9) left its
    // network and containers (named apart from this attempt's, each owner has its own): free
    // them before this attempt makes its own (the runner also reaps, beside its first steps).
    if let Err(e) = railyard_runner::cleanup::reap_dead_owners(docker).await {
        log.line(&format!(
            "[railyard] could not reap what dead agents left: {}",
            Chain(&e)
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
    // Taken as they come, as many as are waiting at once: the log ships from its own task,
    // so a server away holds neither the events nor the memory here.
    let mut events = Vec::with_capacity(EVENTS_AT_ONCE);
    while rx.recv_many(&mut events, EVENTS_AT_ONCE).await > 0 {
        log.events(&events);
        for event in events.drain(..) {
            gathered.event(&event);
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

/// Fetches `commit` of `url` into a new repository at `into` (`depth` commits of history,
/// or every branch and tag when 0) and checks it out detached: the job's workspace is a git
/// work tree at the run's commit.
/// A repository credential from the claim goes to git as a header in its environment
/// ([`railyard_types::secrets::git_auth_env`]): never in the URL, an argument or a file.
async fn checkout_commit(
    url: &str,
    (commit, git_ref, depth): (&str, Option<&str>, u32),
    credential: Option<&railyard_types::secrets::SecretValue>,
    into: &Path,
) -> Result<(), AgentError> {
    let auth = credential.map(railyard_types::secrets::git_auth_env);
    let git = |args: &[&std::ffi::OsStr]| {
        let mut cmd = tokio::process::Command::new("git");
        cmd.envs(auth.iter().flatten().map(|(k, v)| (k, v)));
        cmd.arg("-C")
            .arg(into)
            .args(args)
            // Never wait for a person: no terminal prompt, no credential helper of the
            // agent's user; and die with the checkout when it is dropped (cancel, timeout).
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GCM_INTERACTIVE", "never")
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        async move {
            let out = match cmd.output().await {
                Ok(out) => out,
                Err(e) => {
                    let e = format!("running git: {e} (is git installed?)");
                    return Err(AgentError::Workspace(e));
                }
            };
            Ok(if out.status.success() {
                Ok(())
            } else {
                Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
            })
        }
    };
    std::fs::create_dir_all(into)
        .map_err(|e| AgentError::Workspace(format!("creating {}: {e}", into.display())))?;
    git(&["init".as_ref(), "--quiet".as_ref()])
        .await?
        .map_err(|e| AgentError::Workspace(format!("git init: {e}")))?;
    let depth_arg = format!("--depth={depth}");
    let shallow = if depth > 0 {
        git(&[
            "fetch".as_ref(),
            "--quiet".as_ref(),
            depth_arg.as_ref(),
            "--".as_ref(),
            url.as_ref(),
            commit.as_ref(),
        ])
        .await?
    } else {
        Err(String::new())
    };
    let target = match shallow {
        Ok(()) => "FETCH_HEAD",
        // Depth 0, or a server that refuses a commit asked for by name: everything, and
        // the run's ref when it is neither a branch nor a tag (a pull request's
        // `refs/pull/N/head`), whose commit may be reachable from it alone.
        Err(_) => {
            let forge_ref = forge_refspec(git_ref);
            let mut args: Vec<&std::ffi::OsStr> = vec![
                "fetch".as_ref(),
                "--quiet".as_ref(),
                "--".as_ref(),
                url.as_ref(),
                "+refs/heads/*:refs/remotes/origin/*".as_ref(),
                "+refs/tags/*:refs/tags/*".as_ref(),
            ];
            args.extend(forge_ref.as_deref().map(std::ffi::OsStr::new));
            git(&args)
                .await?
                .map_err(|e| AgentError::Workspace(format!("cannot fetch {url}: {e}")))?;
            commit
        }
    };
    git(&[
        "checkout".as_ref(),
        "--quiet".as_ref(),
        "--detach".as_ref(),
        target.as_ref(),
    ])
    .await?
    .map_err(|e| AgentError::Workspace(format!("cannot check out {commit} of {url}: {e}")))?;
    Ok(())
}

/// The refspec fetching a run's ref that is neither a branch nor a tag (a pull request's
/// `refs/pull/N/head`, GitLab's `refs/merge-requests/N/head`) into the same name: a pull
/// request's head commit may be reachable from that ref alone (a fork's branch).
fn forge_refspec(git_ref: Option<&str>) -> Option<String> {
    let r = git_ref?;
    let ordinary = r.starts_with("refs/heads/") || r.starts_with("refs/tags/");
    let plain = r.starts_with("refs/") && !r.contains([':', '*', '^', '~', ' ', '\\']);
    (plain && !ordinary).then(|| format!("+{r}:{r}"))
}

/// The `RAILYARD_*` variables of the claimed job: its run's context (event, ref, branch or
/// tag, pull request, run and its address); from a server before contexts, the commit and
/// the ref alone.
fn run_variables(claim: &Claim) -> Vec<(String, String)> {
    let attempt = (claim.run_attempt).map(|n| ("RAILYARD_RUN_ATTEMPT".to_string(), n.to_string()));
    let vars: Vec<(String, String)> = match &claim.context {
        Some(context) => context.variables(claim.run_id.as_str(), claim.run_url.as_deref()),
        None => std::iter::once(("RAILYARD_COMMIT".to_string(), claim.commit.clone()))
            .chain(
                claim
                    .git_ref
                    .clone()
                    .map(|r| ("RAILYARD_REF".to_string(), r)),
            )
            .collect(),
    };
    vars.into_iter().chain(attempt).collect()
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
    // A beat stuck on a dead connection must not outlast the lease: after a third of it the
    // next one goes out.
    let beat_timeout = Duration::from_millis((me.lease_ms / 3).max(100));
    let body = LeaseRef {
        agent_id: me.agent_id.clone(),
        attempt: claim.attempt,
    };
    loop {
        tokio::time::sleep(every).await;
        match client
            .call_within::<api::Heartbeat>(&claim.job_id, &body, beat_timeout)
            .await
        {
            Ok(Renewed { cancel: true, .. }) => {
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
            Err(e) => tracing::warn!("heartbeat: {}", Chain(&e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pull request's head commit reachable from `refs/pull/7/head` alone (a fork's
    /// branch, which the repository does not hold): the checkout finds it, shallow or whole.
    #[tokio::test]
    async fn a_pull_requests_commit_is_fetched_by_its_ref() {
        let repo = tempfile::tempdir().unwrap();
        let git = |args: &[&str]| {
            let out = std::process::Command::new("git")
                .arg("-C")
                .arg(repo.path())
                .args([
                    "-c",
                    "user.name=t",
                    "-c",
                    "user.email=t@e",
                    "-c",
                    "commit.gpgsign=false",
                ])
                .args(args)
                .output()
                .unwrap();
            assert!(out.status.success(), "git {args:?}: {out:?}");
            String::from_utf8(out.stdout).unwrap().trim().to_owned()
        };
        git(&["init", "--quiet", "-b", "main"]);
        git(&["commit", "--quiet", "--allow-empty", "-m", "base"]);
        git(&["checkout", "--quiet", "--detach"]);
        git(&["commit", "--quiet", "--allow-empty", "-m", "from a fork"]);
        let head = git(&["rev-parse", "HEAD"]);
        git(&["update-ref", "refs/pull/7/head", &head]);
        git(&["checkout", "--quiet", "main"]);
        let url = format!("file://{}", repo.path().display());
        for depth in [0, 1] {
            let dir = tempfile::tempdir().unwrap();
            let into = dir.path().join("src");
            let at = (head.as_str(), Some("refs/pull/7/head"), depth);
            checkout_commit(&url, at, None, &into).await.unwrap();
            let out = std::process::Command::new("git")
                .arg("-C")
                .arg(&into)
                .args(["rev-parse", "HEAD"])
                .output()
                .unwrap();
            assert_eq!(
                String::from_utf8_lossy(&out.stdout).trim(),
                head,
                "depth {depth}"
            );
        }
        // Without the ref, a whole fetch (branches and tags) never finds it.
        let dir = tempfile::tempdir().unwrap();
        let missed = checkout_commit(&url, (&head, None, 0), None, &dir.path().join("src")).await;
        assert!(missed.is_err(), "{missed:?}");
    }

    #[test]
    fn only_forge_refs_are_fetched_by_name() {
        assert_eq!(
            forge_refspec(Some("refs/pull/7/head")).as_deref(),
            Some("+refs/pull/7/head:refs/pull/7/head")
        );
        assert!(forge_refspec(Some("refs/merge-requests/3/head")).is_some());
        for plain in [
            None,
            Some("refs/heads/main"),
            Some("refs/tags/v1"),
            Some("main"),
        ] {
            assert_eq!(forge_refspec(plain), None, "{plain:?}");
        }
        assert_eq!(forge_refspec(Some("refs/pull/*:refs/x")), None);
    }

    /// A repository server that accepts and never answers: the checkout must end when it is
    /// dropped (a cancelled job), its git killed, not run on.
    #[tokio::test]
    async fn a_checkout_dropped_kills_its_git() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("git://{}/repo", listener.local_addr().unwrap());
        let dir = tempfile::tempdir().unwrap();
        let into = dir.path().join("src");
        let commit = ("0123456789abcdef0123456789abcdef01234567", 1);
        let checkout = checkout_commit(&url, (commit.0, None, commit.1), None, &into);
        let stopped = tokio::time::timeout(Duration::from_millis(1500), checkout).await;
        assert!(
            stopped.is_err(),
            "the silent server held the checkout: {stopped:?}"
        );
        // The git that was talking to it is gone once the checkout is dropped.
        let (socket, _) = listener.accept().unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut buf = [0u8; 4096];
        let mut socket = socket;
        loop {
            match std::io::Read::read(&mut socket, &mut buf) {
                Ok(0) => break,
                Ok(_) => continue,
                Err(e) => {
                    panic!("git still holds the connection after its checkout was dropped: {e}")
                }
            }
        }
    }
}
