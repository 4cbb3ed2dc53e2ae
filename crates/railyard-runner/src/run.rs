//! A whole run: the env images first (each built or pulled once, whatever number of jobs use
//! it), then the jobs as their `needs` allow, at most `max_parallel` at a time, each torn down
//! whatever ends it; then a last sweep of everything labelled with the run.

use crate::cleanup;
use crate::env_image::{self, EnvImage};
use crate::errors::RunnerError;
use crate::events::Event;
use crate::job::{CurrentStep, JobContext, StepsOutcome};
use crate::lines::LineBuffer;
use crate::names::{self, JobNames};
use crate::workspace;
use indexmap::IndexMap;
use railyard_docker::Docker;
use railyard_pipeline::{EnvSource, Pipeline};
use railyard_run_model::{Change, Event as RunEvent, Job, JobState, Run, RunBuilder, Transitions};
use railyard_split::Timings;
use railyard_types::error::{Chain, chain};
use railyard_types::{JobStatus, RunStatus, StepStatus};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

/// How long a job may run when it sets no `timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3600);

/// What a run is asked to do.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The run's ID (labels, names).
    pub run_id: String,
    /// `host:pid` of the process that owns the run's objects.
    pub owner: String,
    /// The project, for env image labels.
    pub project: String,
    /// The repository root: the workspace and the paths of `env` are relative to it.
    pub repo_root: PathBuf,
    /// The jobs to run (with everything they need), in file order.
    pub jobs: Vec<String>,
    /// Jobs of [`RunOptions::jobs`] whose `when:` rule does not match the run, with why:
    /// they end skipped before anything starts (no env image is prepared for them), and
    /// the run model skips the jobs that need them.
    pub rule_skipped: IndexMap<String, String>,
    /// How many jobs may run at once.
    pub max_parallel: usize,
    /// The run's artifacts folder; each job gets a subfolder.
    pub artifacts_dir: PathBuf,
    /// Measured test times of the project, by test id: what static splits balance.
    pub timings: Arc<Timings>,
    /// A check of each env image before any job starts (the CLI scans built images and
    /// applies `env.scan`); `None` checks nothing.
    pub env_check: Option<Arc<dyn EnvCheck>>,
    /// Secrets (name, value): set in every job container, masked in every line it reports,
    /// never given to image builds.
    pub secrets: Vec<(String, String)>,
    /// Where each job's network takes its addresses.
    pub networks: crate::NetworkPool,
    /// What every job is told about the run beside Railyard's own variables: the commit and
    /// ref it builds (`RAILYARD_COMMIT`, `RAILYARD_REF`), set by the caller, which knows them.
    pub run_variables: Vec<(String, String)>,
    /// The memory and CPUs each job may have, and its env builds' memory.
    pub allowance: crate::Allowance,
    /// Where images built by jobs (`image_build` with `push: true`) are pushed; without one,
    /// such a job fails before building.
    pub registry: Option<crate::Registry>,
    /// With a registry, the fleet's build lease of env keys (an agent's, asking its server);
    /// `None` builds a key the registry lacks under this host's lock (a local run).
    pub env_lease: Option<Arc<dyn crate::EnvLease>>,
    /// How the jobs' `cache`s are kept: their scope and the remote beyond this engine.
    pub caches: crate::cache::Options,
}

impl RunOptions {
    /// A name for one call of the runner, new at each call: the run, the owner and the jobs
    /// it was given, and a count of the process's calls. Whatever the call creates is
    /// labelled with it and its last sweep removes by it, so two slots of one agent running
    /// shards of one job (same run, owner and job) never remove each other's objects.
    pub fn new_invocation(&self) -> String {
        static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut hasher = blake3::Hasher::new();
        for part in [&self.run_id, &self.owner].into_iter().chain(&self.jobs) {
            hasher.update(part.as_bytes());
            hasher.update(&[0]);
        }
        hasher.update(&call.to_le_bytes());
        hasher.finalize().to_hex()[..16].to_string()
    }
}

/// A check of an env image before any job of the run starts.
#[async_trait::async_trait]
pub trait EnvCheck: Send + Sync {
    /// Returns lines to show (what was found), or why no job may start.
    async fn check(
        &self,
        image_id: &str,
        env: &railyard_pipeline::EnvSpec,
    ) -> Result<Vec<String>, crate::EnvCheckError>;

    /// Checks an image a job built (`image_build`) before it is pushed: returns lines to
    /// show, or why it may not be pushed (the job then fails). By default nothing is checked.
    async fn check_built(
        &self,
        image_id: &str,
        image: &crate::BuiltImageCheck<'_>,
    ) -> Result<Vec<String>, crate::EnvCheckError> {
        let _ = (image_id, image);
        Ok(vec![])
    }
}

impl std::fmt::Debug for dyn EnvCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EnvCheck")
    }
}

/// How a job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobResult {
    /// Its final status.
    pub status: JobStatus,
    /// The env image it ran in.
    pub image_id: Option<String>,
    /// Why it failed outside its steps.
    pub error: Option<String>,
    /// The image it built (`image_build`), and where it was pushed.
    pub image: Option<crate::BuiltImage>,
}

/// How the run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutcome {
    /// The run's status.
    pub status: RunStatus,
    /// Every selected job's result, in file order.
    pub jobs: IndexMap<String, JobResult>,
}

/// Runs the selected jobs of `pipeline`. Never prints: everything goes out as [`Event`]s.
/// Cancelling `cancel` stops running steps, tears everything down and marks the run cancelled.
pub async fn run_pipeline(
    docker: &Docker,
    pipeline: Arc<Pipeline>,
    opts: RunOptions,
    events: UnboundedSender<Event>,
    cancel: CancellationToken,
) -> RunOutcome {
    run_pipeline_with(docker, pipeline, opts, None, events, cancel).await
}

/// Runs one shard of the one job in `opts.jobs` (a `parallel: N` job whose other shards run
/// elsewhere, as on a fleet's agents), by the same code as a local run's shards: the job's
/// tests are listed here, opened on `shard.tests`, and this shard's share run (the static
/// plan's, or batches from the shared queue). The job's result is the shard's.
pub async fn run_one_shard(
    docker: &Docker,
    pipeline: Arc<Pipeline>,
    opts: RunOptions,
    shard: crate::shards::OneShard,
    events: UnboundedSender<Event>,
    cancel: CancellationToken,
) -> RunOutcome {
    run_pipeline_with(docker, pipeline, opts, Some(shard), events, cancel).await
}

async fn run_pipeline_with(
    docker: &Docker,
    pipeline: Arc<Pipeline>,
    opts: RunOptions,
    one_shard: Option<crate::shards::OneShard>,
    events: UnboundedSender<Event>,
    cancel: CancellationToken,
) -> RunOutcome {
    let started = Instant::now();
    let invocation = opts.new_invocation();
    let mut results: IndexMap<String, JobResult> = IndexMap::new();
    let emit = |e: Event| {
        let _ = events.send(e);
    };

    // Work that does not wait on the env images starts now, beside them: reaping what dead
    // processes left, packing the workspace, and the networks and volumes of the first jobs
    // (network creation is the slowest call of a job's setup).
    let reaper = tokio::spawn({
        let docker = docker.clone();
        async move { cleanup::reap_dead_owners(&docker).await }
    });
    let packing = tokio::task::spawn_blocking({
        let root = opts.repo_root.clone();
        move || workspace::pack(&root)
    });
    let mut prepared: HashMap<String, JoinHandle<Result<(), RunnerError>>> = HashMap::new();
    for name in &opts.jobs {
        if let Some(why) = opts.rule_skipped.get(name) {
            let why = Some(why.clone());
            finish_unstarted(name, JobStatus::Skipped, why, &mut results, &emit);
        }
    }
    // The first jobs: those the run model queues at once (a sharded job makes its own).
    let first = run_model(&pipeline, &opts.jobs, &results).apply(RunEvent::Check);
    for name in (first.changes.iter())
        .filter_map(|c| match c {
            Change::Queue(i) => Some(&opts.jobs[*i]),
            _ => None,
        })
        .filter(|n| !crate::shards::is_sharded(&pipeline.jobs[*n]))
        .take(opts.max_parallel.max(1))
    {
        let names = JobNames::new(&opts.run_id, name, &opts.owner).in_invocation(&invocation);
        let docker = docker.clone();
        let (networks, cancel, events) = (opts.networks, cancel.clone(), events.clone());
        let job = name.clone();
        prepared.insert(
            name.clone(),
            tokio::spawn(async move {
                let mut waiting = |phase: String| {
                    let _ = events.send(Event::JobPhase {
                        job: job.clone(),
                        phase,
                    });
                };
                crate::job::prepare(&docker, &names, &networks, &cancel, &mut waiting).await
            }),
        );
    }

    let images = prepare_envs(docker, &pipeline, &opts, &events, &cancel, &mut results).await;
    let workspace = match packing.await {
        Ok(Ok(packed)) => Some(packed),
        Ok(Err(e)) => {
            fail_remaining(&opts, &mut results, &chain(&e), &emit);
            None
        }
        Err(e) => {
            fail_remaining(&opts, &mut results, &e.to_string(), &emit);
            None
        }
    };

    // The run model decides what starts, what is skipped or cancelled, and the run's status;
    // this loop starts jobs (at most `max_parallel`, the earliest in the file first) and
    // reports what it decided.
    let mut model = run_model(&pipeline, &opts.jobs, &results);
    let mut ready: BTreeSet<usize> = BTreeSet::new();
    let mut running = JoinSet::new();
    let mut tasks: HashMap<tokio::task::Id, String> = HashMap::new();
    let mut told_cancel = false;
    let mut ended: Option<(String, JobStatus)> = None;
    // Manual jobs not approved on the command line, and the jobs skipped because of them.
    let mut held: HashSet<String> = HashSet::new();
    loop {
        // A cancel first: the jobs it finds unstarted are cancelled, not skipped.
        if cancel.is_cancelled() && !told_cancel {
            told_cancel = true;
            let decided = model.apply(RunEvent::RunCancelled);
            carry_out(&model, &decided, &mut ready, &mut results, &emit);
        }
        let decided = match &ended {
            Some((name, status)) => model.apply(RunEvent::JobEnded(name, *status)),
            None => model.apply(RunEvent::Check),
        };
        carry_out(&model, &decided, &mut ready, &mut results, &emit);
        let out = (&mut ready, &mut results, &mut held);
        hold_manual(&mut model, &decided, out, &emit);
        while running.len() < opts.max_parallel.max(1) {
            // A job whose env image or workspace is missing never starts (its needs never
            // finish, as the end says); one whose `concurrency` group a running job holds
            // waits for it.
            let startable = ready.iter().copied().find(|&i| {
                let name = &model.job(i).name;
                images.contains_key(name)
                    && workspace.is_some()
                    && !group_held(&pipeline, &results, name)
            });
            let (Some(i), Some(workspace)) = (startable, workspace.clone()) else {
                break;
            };
            ready.remove(&i);
            let name = model.job(i).name.clone();
            model.apply(RunEvent::JobStarted(&name));
            let image_id = images[&name].clone();
            let job = &pipeline.jobs[&name];
            results.insert(
                name.clone(),
                JobResult {
                    status: JobStatus::Running,
                    image_id: Some(image_id.clone()),
                    error: None,
                    image: None,
                },
            );
            let ctx = job_context(
                docker,
                (&pipeline, &opts, &invocation),
                &name,
                image_id,
                workspace,
                &events,
            );
            let timeout = job.timeout.unwrap_or(DEFAULT_TIMEOUT);
            let early = prepared.remove(&name);
            let task = if crate::shards::is_sharded(job) {
                running.spawn(crate::shards::run_sharded_job(
                    ctx,
                    timeout,
                    cancel.clone(),
                    opts.timings.clone(),
                    opts.repo_root.clone(),
                    one_shard.clone(),
                ))
            } else {
                running.spawn(run_job(ctx, early, timeout, cancel.clone(), None))
            };
            tasks.insert(task.id(), name);
        }
        let Some(done) = running.join_next_with_id().await else {
            break;
        };
        ended = match done {
            Ok((_, (name, result))) => {
                let status = result.status;
                results.insert(name.clone(), result);
                Some((name, status))
            }
            // A bug, not the user's: the job still ends, as failed, and its dependents skip.
            Err(e) => tasks.get(&e.id()).map(|name| {
                let why = format!("Railyard failed running this job: {e} (please report it)");
                finish_unstarted(name, JobStatus::Failed, Some(why), &mut results, &emit);
                (name.clone(), JobStatus::Failed)
            }),
        };
    }
    // Jobs that could never start (a need that never ended) are skipped, not lost.
    let decided = model.apply(RunEvent::Stalled);
    carry_out(&model, &decided, &mut ready, &mut results, &emit);

    match reaper.await {
        Ok(Err(e)) => tracing::warn!("could not reap leftovers of earlier runs: {}", Chain(&e)),
        Err(e) => tracing::warn!("the reaper failed: {e}"),
        Ok(Ok(_)) => {}
    }
    // Anything the jobs' own teardown missed (networks made early for jobs that never
    // started, a panic, an engine hiccup) goes now.
    for (_, early) in prepared {
        let _ = early.await;
    }
    if let Err(e) = cleanup::remove_invocation(docker, &opts.run_id, &invocation).await {
        tracing::warn!(
            "could not remove every object of run {}: {}",
            opts.run_id,
            Chain(&e)
        );
    }

    // Every job has ended by now, so the model has closed the run. Jobs held for approval
    // do not fail it: the person chose not to run them.
    let status = match model.closed() {
        Some(RunStatus::Failed)
            if !held.is_empty()
                && (results.iter())
                    .all(|(n, r)| r.status.lets_dependents_run() || held.contains(n)) =>
        {
            RunStatus::Success
        }
        status => status.unwrap_or(RunStatus::Failed),
    };
    emit(Event::RunFinished {
        status,
        duration_ms: started.elapsed().as_millis() as u64,
    });
    let jobs = opts
        .jobs
        .iter()
        .filter_map(|n| results.get(n).map(|r| (n.clone(), r.clone())))
        .collect();
    RunOutcome { status, jobs }
}

/// The context of job `name` in one call of the runner (`invocation`).
pub(crate) fn job_context(
    docker: &Docker,
    (pipeline, opts, invocation): (&Pipeline, &RunOptions, &str),
    name: &str,
    image_id: String,
    workspace: workspace::Packed,
    events: &UnboundedSender<Event>,
) -> JobContext {
    let job = pipeline.jobs[name].clone();
    let handed_from = (job.needs.iter())
        .filter(|need| job.takes_artifacts_from(need))
        .filter_map(|need| pipeline.jobs.get(need))
        .filter(|need| need.hands_over())
        .cloned()
        .collect();
    let mut env: IndexMap<String, String> = IndexMap::new();
    env.insert("CI".into(), "true".into());
    // git refuses a work tree owned by another user ("dubious ownership"): the workspace's
    // files are root's, and an image may run its steps as someone else. A pipeline may set
    // its own git configuration over this.
    env.insert("GIT_CONFIG_COUNT".into(), "1".into());
    env.insert("GIT_CONFIG_KEY_0".into(), "safe.directory".into());
    env.insert("GIT_CONFIG_VALUE_0".into(), workspace::WORKSPACE_DIR.into());
    for (k, v) in pipeline.job_variables(&job) {
        env.insert(k, v);
    }
    env.insert("RAILYARD".into(), "true".into());
    env.insert("RAILYARD_RUN_ID".into(), opts.run_id.clone());
    env.insert("RAILYARD_JOB".into(), name.to_string());
    env.insert("RAILYARD_WORKSPACE".into(), workspace::WORKSPACE_DIR.into());
    for (k, v) in &opts.run_variables {
        env.insert(k.clone(), v.clone());
    }
    env.insert("RAILYARD_SHARD".into(), "1".into());
    env.insert("RAILYARD_SHARDS".into(), "1".into());
    if job.tests.is_some() {
        env.insert(
            "RAILYARD_TESTS_FILE".into(),
            crate::batches::TESTS_FILE.into(),
        );
    }
    for (name, value) in &opts.secrets {
        env.insert(name.clone(), value.clone());
    }
    JobContext {
        mask: Arc::new(crate::mask::Masker::new(
            opts.secrets.iter().map(|(_, v)| v.as_str()),
        )),
        docker: docker.clone(),
        names: JobNames::new(&opts.run_id, name, &opts.owner).in_invocation(invocation),
        job,
        image_id,
        env: env.into_iter().collect(),
        workspace,
        artifacts_dir: opts.artifacts_dir.join(names::artifacts_folder(name)),
        run_artifacts_dir: opts.artifacts_dir.clone(),
        handed_from,
        events: events.clone(),
        networks: opts.networks,
        allowance: opts.allowance,
        image_build: crate::image_build::Setup {
            project: opts.project.clone(),
            registry: opts.registry.clone(),
            check: opts.env_check.clone(),
        },
        cache: crate::cache::Setup {
            project: opts.project.clone(),
            repo_root: opts.repo_root.clone(),
            options: opts.caches.clone(),
        },
        caches: Default::default(),
    }
}

/// Runs one job under its timeout and the run's cancel, and always tears it down.
/// `early` is the creation of its network and volume when the run started it ahead.
/// `tests` is this job's (or shard's) share of the job's tests, run after its steps.
pub(crate) async fn run_job(
    ctx: JobContext,
    early: Option<JoinHandle<Result<(), RunnerError>>>,
    timeout: Duration,
    cancel: CancellationToken,
    tests: Option<crate::batches::ShardTests>,
) -> (String, JobResult) {
    let name = ctx.job.name.clone();
    let started = Instant::now();
    let _ = ctx.events.send(Event::JobStarted { job: name.clone() });
    let current: CurrentStep = Default::default();
    let built = std::sync::OnceLock::new();

    enum End {
        Done(Result<StepsOutcome, RunnerError>),
        Cancelled,
        TimedOut,
    }
    // The early creation stays ours until it has finished: a cancel or timeout that drops
    // the body must not leave it running unseen while teardown lists the job's objects.
    let mut early = early;
    let body = async {
        match early.as_mut() {
            Some(handle) => {
                let created = handle.await;
                early = None;
                created.map_err(|e| RunnerError::Io {
                    doing: "creating the job's network".into(),
                    source: std::io::Error::other(e),
                })??
            }
            None => ctx.prepare().await?,
        }
        let container = ctx.setup().await?;
        ctx.hand_over(&container).await?;
        let mut outcome = ctx.run_steps(&container, &current).await;
        if let (StepsOutcome::Passed, Some(tests)) = (&outcome, &tests) {
            let first = ctx.job.script.len() as u32;
            let result = ctx.run_tests(&container, &current, tests, first).await?;
            if !result.failed.is_empty() {
                outcome = StepsOutcome::TestsFailed {
                    failed: result.failed,
                };
            }
        }
        // Kept as `artifacts: { when }` says: a failing test job may hand over its
        // reports. Not on a cancel or a timeout: this body is dropped then, the container
        // with it.
        let passed = outcome == StepsOutcome::Passed;
        if ctx.job.artifacts_when.keeps(passed) {
            let collected = ctx.collect_artifacts(&container).await;
            match collected {
                Err(e) if !passed => {
                    // The job's failure stays its steps'; what the artifacts met is told.
                    ctx.say(format!("artifacts not kept: {}", Chain(&e)));
                }
                other => other?,
            }
        }
        if outcome == StepsOutcome::Passed
            && let Some(image) = crate::image_build::after_steps(&ctx, &container).await?
        {
            let _ = built.set(image);
        }
        if outcome == StepsOutcome::Passed {
            ctx.save_caches(&container).await;
        }
        Ok(outcome)
    };
    let end = tokio::select! {
        r = body => End::Done(r),
        _ = cancel.cancelled() => End::Cancelled,
        _ = tokio::time::sleep(timeout) => End::TimedOut,
    };
    if matches!(end, End::Cancelled | End::TimedOut)
        && let Some((index, step_started)) = current.lock().unwrap().take()
    {
        let _ = ctx.events.send(Event::StepFinished {
            job: name.clone(),
            index,
            status: StepStatus::Cancelled,
            exit_code: None,
            duration_ms: step_started.elapsed().as_millis() as u64,
        });
    }
    let _ = ctx.events.send(Event::JobPhase {
        job: name.clone(),
        phase: "cleaning up".into(),
    });
    if let Some(handle) = early {
        let _ = handle.await;
    }
    let teardown = ctx.teardown().await.err();

    let (mut status, mut error) = match end {
        End::Done(Ok(StepsOutcome::Passed)) => (JobStatus::Success, None),
        End::Done(Ok(StepsOutcome::TestsFailed { failed })) => (
            JobStatus::Failed,
            Some(format!(
                "{} test(s) failed: {}{}",
                failed.len(),
                failed
                    .iter()
                    .take(5)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
                if failed.len() > 5 { ", …" } else { "" }
            )),
        ),
        End::Done(Ok(StepsOutcome::Failed { index, exit_code })) => (
            JobStatus::Failed,
            Some(match exit_code {
                Some(code) => format!("step {} exited with code {code}", index + 1),
                None => format!("step {} could not run", index + 1),
            }),
        ),
        End::Done(Err(e)) => (JobStatus::Failed, Some(chain(&e))),
        End::Cancelled => (JobStatus::Cancelled, Some("cancelled".into())),
        End::TimedOut => (
            JobStatus::TimedOut,
            Some(format!("timed out after {}", humanize(timeout))),
        ),
    };
    if ctx.job.allow_failure && matches!(status, JobStatus::Failed | JobStatus::TimedOut) {
        status = JobStatus::FailedAllowed;
    }
    if let Some(e) = teardown {
        let note = format!("cleanup failed: {} (run `railyard clean`)", Chain(&e));
        error = Some(match error {
            Some(prev) => format!("{prev}; {note}"),
            None => note,
        });
    }
    let error = error.map(|e| ctx.mask.mask(&e));
    ctx.emit(Event::JobFinished {
        job: name.clone(),
        status,
        duration_ms: started.elapsed().as_millis() as u64,
        error: error.clone(),
        image_id: Some(ctx.image_id.clone()),
    });
    (
        name,
        JobResult {
            status,
            image_id: Some(ctx.image_id.clone()),
            error,
            image: built.into_inner(),
        },
    )
}

/// Builds or finds every env image the selected jobs use, each once. Jobs whose env failed
/// are finished as failed in `results`; the map returned gives the image of every other job.
async fn prepare_envs(
    docker: &Docker,
    pipeline: &Pipeline,
    opts: &RunOptions,
    events: &UnboundedSender<Event>,
    cancel: &CancellationToken,
    results: &mut IndexMap<String, JobResult>,
) -> IndexMap<String, String> {
    let emit = |e: Event| {
        let _ = events.send(e);
    };
    let mut groups: Vec<(EnvSource, railyard_pipeline::EnvSpec, Vec<String>)> = Vec::new();
    // Jobs ended already (skipped by their rule) need no image.
    for name in &opts.jobs {
        if results.contains_key(name) {
            continue;
        }
        let job = &pipeline.jobs[name];
        let Some(env) = pipeline.job_env(job) else {
            let error = RunnerError::NoEnv { job: name.clone() }.to_string();
            finish_unstarted(name, JobStatus::Failed, Some(error), results, &emit);
            continue;
        };
        match groups.iter_mut().find(|(s, _, _)| *s == env.source) {
            Some((_, _, jobs)) => jobs.push(name.clone()),
            None => groups.push((env.source.clone(), env.clone(), vec![name.clone()])),
        }
    }
    let mut images = IndexMap::new();
    let mut refused: Option<String> = None;
    for (source, spec, jobs) in groups {
        let env = env_image::describe(&source);
        emit(Event::EnvPreparing {
            env: env.clone(),
            jobs: jobs.clone(),
        });
        let started = Instant::now();
        let mut lines = LineBuffer::default();
        let mut emit_line = |line: String| {
            emit(Event::EnvOutput {
                env: env.clone(),
                line,
            })
        };
        // Whole lines come without their newline: each is ended here (fed as chunks, a
        // build's output became one endless line).
        let mut on_output = |s: &str| {
            lines.push(s.as_bytes(), &mut emit_line);
            lines.push(b"\n", &mut emit_line);
        };
        let sharing = opts.registry.as_ref().map(|registry| env_image::Sharing {
            registry,
            lease: opts.env_lease.as_deref(),
        });
        let ensuring = env_image::ensure(
            docker,
            (&opts.repo_root, &opts.project),
            &source,
            opts.allowance.build_memory,
            sharing,
            &mut on_output,
        );
        let ensured = tokio::select! {
            r = ensuring => Some(r),
            _ = cancel.cancelled() => None,
        };
        lines.finish(&mut emit_line);
        match ensured {
            Some(Ok(EnvImage {
                id,
                key,
                cached,
                origin,
                reference,
                digest,
            })) => {
                emit(Event::EnvReady {
                    env: env.clone(),
                    jobs: jobs.clone(),
                    image_id: id.clone(),
                    cache_key: key,
                    cached,
                    origin,
                    reference,
                    digest,
                    duration_ms: started.elapsed().as_millis() as u64,
                });
                if let Some(check) = &opts.env_check {
                    match check.check(&id, &spec).await {
                        Ok(lines) => lines.into_iter().for_each(&mut emit_line),
                        Err(reason) => {
                            let reason = chain(&reason);
                            emit_line(reason.clone());
                            refused.get_or_insert(format!("env {env}: {reason}"));
                        }
                    }
                }
                for job in jobs {
                    images.insert(job, id.clone());
                }
            }
            Some(Err(e)) => {
                let error = chain(&e);
                for job in jobs {
                    finish_unstarted(&job, JobStatus::Failed, Some(error.clone()), results, &emit);
                }
            }
            None => return images,
        }
    }
    // A refused env image stops the whole run before any job starts.
    if let Some(reason) = refused {
        for name in &opts.jobs {
            if !results.contains_key(name) {
                finish_unstarted(
                    name,
                    JobStatus::Failed,
                    Some(reason.clone()),
                    results,
                    &emit,
                );
            }
        }
        images.clear();
    }
    images
}

fn finish_unstarted(
    name: &str,
    status: JobStatus,
    error: Option<String>,
    results: &mut IndexMap<String, JobResult>,
    emit: &impl Fn(Event),
) {
    emit(Event::JobFinished {
        job: name.to_string(),
        status,
        duration_ms: 0,
        error: error.clone(),
        image_id: None,
    });
    results.insert(
        name.to_string(),
        JobResult {
            status,
            image_id: None,
            error,
            image: None,
        },
    );
}

/// Whether job `name` has a `concurrency` group that a running job of the run holds: jobs
/// of one group run one at a time, as the server's claim does across runs.
fn group_held(pipeline: &Pipeline, results: &IndexMap<String, JobResult>, name: &str) -> bool {
    let group = |job: &str| {
        let concurrency = pipeline.jobs.get(job)?.concurrency.as_ref();
        concurrency.map(|c| c.group.as_str())
    };
    let Some(mine) = group(name) else {
        return false;
    };
    (results.iter()).any(|(job, r)| r.status == JobStatus::Running && group(job) == Some(mine))
}

/// The run model of the selected jobs, those that already ended (their env image failed)
/// with their status. Only needs among `jobs` are waited for: a local run selects every job
/// a selected one needs, and an agent runs one job whose needs the server already ran
/// elsewhere (it keeps `needs`, so that their artifacts are handed over).
fn run_model(pipeline: &Pipeline, jobs: &[String], results: &IndexMap<String, JobResult>) -> Run {
    let mut run = RunBuilder::new();
    let selected: std::collections::HashSet<&String> = jobs.iter().collect();
    for name in jobs {
        let needs = (pipeline.jobs[name].needs.iter())
            .filter(|need| selected.contains(need))
            .cloned()
            .collect();
        let needs = run.needs(needs);
        let state = match results.get(name) {
            Some(r) => JobState::Ended(r.status),
            None => JobState::Waiting,
        };
        let mut job = Job::new(name, needs, state);
        job.manual = pipeline.jobs[name].manual;
        run.job(job);
    }
    run.build()
}

/// Reports what the model decided: skipped and cancelled jobs end now (in the order decided),
/// queued ones wait for a slot. Running jobs asked to stop hear it from the cancel token.
fn carry_out(
    model: &Run,
    decided: &Transitions,
    ready: &mut BTreeSet<usize>,
    results: &mut IndexMap<String, JobResult>,
    emit: &impl Fn(Event),
) {
    for change in &decided.changes {
        match change {
            Change::Queue(i) => {
                ready.insert(*i);
            }
            Change::Skip(i, why) => {
                ready.remove(i);
                let why = Some(why.clone());
                finish_unstarted(&model.job(*i).name, JobStatus::Skipped, why, results, emit);
            }
            Change::Cancel(i) => {
                ready.remove(i);
                finish_unstarted(
                    &model.job(*i).name,
                    JobStatus::Cancelled,
                    None,
                    results,
                    emit,
                );
            }
            // Held manual jobs are `hold_manual`'s; no local job is asked to stop one by one
            // or run again.
            Change::Stop(_) | Change::AwaitApproval(_) | Change::Retry(_) => {}
        }
    }
}

/// A `manual` job whose needs let it run does not run locally (a caller that approved it,
/// `railyard run --approve JOB` or an agent given it by the server, cleared its `manual`):
/// it ends skipped with how to run it, and the jobs skipped because of it say it too. All
/// of them are added to `held`.
fn hold_manual(
    model: &mut Run,
    decided: &Transitions,
    (ready, results, held): (
        &mut BTreeSet<usize>,
        &mut IndexMap<String, JobResult>,
        &mut HashSet<String>,
    ),
    emit: &impl Fn(Event),
) {
    for change in &decided.changes {
        let Change::AwaitApproval(i) = change else {
            continue;
        };
        let name = model.job(*i).name.clone();
        let hint = format!("`{name}` is manual: run it with `railyard run --approve {name}`");
        let why = Some(format!("skipped: {hint}"));
        finish_unstarted(&name, JobStatus::Skipped, why, results, emit);
        held.insert(name.clone());
        let mut then = model.apply(RunEvent::JobEnded(&name, JobStatus::Skipped));
        for change in &mut then.changes {
            if let Change::Skip(j, why) = change {
                why.push_str(&format!(" ({hint})"));
                held.insert(model.job(*j).name.clone());
            }
        }
        carry_out(model, &then, ready, results, emit);
    }
}

fn fail_remaining(
    opts: &RunOptions,
    results: &mut IndexMap<String, JobResult>,
    error: &str,
    emit: &impl Fn(Event),
) {
    for name in &opts.jobs {
        if !results.contains_key(name) {
            finish_unstarted(
                name,
                JobStatus::Failed,
                Some(error.to_string()),
                results,
                emit,
            );
        }
    }
}

/// `1h30m`, `20m`, `45s`.
pub fn humanize(d: Duration) -> String {
    let s = d.as_secs();
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}
