//! Jobs split into shards: `parallel: N` copies, each in its own job container with its
//! own services, and (with `tests:`) the job's tests listed once and shared among them by
//! measured timings, statically or through a queue.

use crate::batches::{ShardTests, Work};
use crate::errors::RunnerError;
use crate::events::{Event, ShardForecast};
use crate::job::JobContext;
use crate::run::{JobResult, run_job};
use indexmap::IndexMap;
use railyard_pipeline::{Job, SplitMode, TestList, TestsSpec};
use railyard_split::{LocalQueue, RemoteTests, TestQueue, Timings};
use railyard_types::JobStatus;
use railyard_types::error::chain;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Whether a job runs as shards (several copies, or tests to split).
pub fn is_sharded(job: &Job) -> bool {
    job.parallel > 1 || job.tests.is_some()
}

/// The name a shard is shown and stored under: `test [2/4]`.
pub fn shard_name(job: &str, shard: u32, shards: u32) -> String {
    railyard_types::shard_name(job, shard, shards)
}

/// One shard of a job to run alone, its other shards running elsewhere (see
/// [`crate::run_one_shard`]).
#[derive(Clone)]
pub struct OneShard {
    /// 1-based, at most the job's `parallel`.
    pub shard: u32,
    /// Where the job's tests are opened and, in queue mode, its batches come from.
    pub tests: Arc<dyn RemoteTests>,
}

impl std::fmt::Debug for OneShard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OneShard")
            .field("shard", &self.shard)
            .finish_non_exhaustive()
    }
}

impl JobContext {
    /// The context of one shard of this job.
    fn for_shard(&self, shard: u32, shards: u32) -> JobContext {
        let mut ctx = self.clone();
        // Each shard prepares its own caches (the same volumes, mounted by each).
        ctx.caches = Default::default();
        if shards > 1 {
            ctx.job.name = shard_name(&self.job.name, shard, shards);
            ctx.names = self.names.for_job(&ctx.job.name);
            ctx.artifacts_dir = self.artifacts_dir.join(format!("shard-{shard}"));
        }
        for (key, value) in &mut ctx.env {
            match key.as_str() {
                "RAILYARD_SHARD" => *value = shard.to_string(),
                "RAILYARD_SHARDS" => *value = shards.to_string(),
                _ => {}
            }
        }
        ctx
    }
}

/// Runs a sharded job: lists its tests (no shard starts when that fails), splits them,
/// runs every shard at once, and reports the job as the worst of its shards. With `one`,
/// runs only that shard, its share taken from the tests opened on `one.tests`, and reports
/// the shard's own result as the job's.
pub(crate) async fn run_sharded_job(
    ctx: JobContext,
    timeout: Duration,
    cancel: CancellationToken,
    timings: Arc<Timings>,
    repo_root: PathBuf,
    one: Option<OneShard>,
) -> (String, JobResult) {
    let job = ctx.job.clone();
    let shards = job.parallel.max(1);
    if let Some(one) = &one
        && !(1..=shards).contains(&one.shard)
    {
        let why = format!("shard {} of a job with {shards} shard(s)", one.shard);
        return (
            job.name.clone(),
            JobResult {
                status: JobStatus::Failed,
                image_id: Some(ctx.image_id.clone()),
                error: Some(why),
                image: None,
            },
        );
    }
    let started = Instant::now();
    // Ends the job as a whole (a single shard that ran reports itself instead). The error is
    // masked here too: it may quote the list command's output, which sees the secrets.
    let finish = |status: JobStatus, error: Option<String>| {
        let error = error.map(|e| ctx.mask.mask(&e));
        ctx.emit(Event::JobFinished {
            job: job.name.clone(),
            status,
            duration_ms: started.elapsed().as_millis() as u64,
            error: error.clone(),
            image_id: Some(ctx.image_id.clone()),
        });
        let result = JobResult {
            status,
            image_id: Some(ctx.image_id.clone()),
            error,
            image: None,
        };
        (job.name.clone(), result)
    };
    if shards > 1 && one.is_none() {
        ctx.emit(Event::JobStarted {
            job: job.name.clone(),
        });
    }

    let works: Vec<Option<Work>> = match &job.tests {
        None => vec![None; shards as usize],
        Some(spec) => {
            // The list runs under the job's timeout and the run's cancel, like the shards. A
            // shard running alone lists under its own name (`test [2/4] (list)`): the other
            // shards list too, maybe on the same engine.
            let list_ctx = match &one {
                Some(one) => ctx.for_shard(one.shard, shards),
                None => ctx.clone(),
            };
            let listed = tokio::select! {
                r = list_tests(&list_ctx, spec, &repo_root) => r,
                _ = cancel.cancelled() => return finish(JobStatus::Cancelled, Some("cancelled".into())),
                _ = tokio::time::sleep(timeout) => return finish(
                    JobStatus::TimedOut,
                    Some(format!("timed out after {} while listing the tests", crate::run::humanize(timeout))),
                ),
            };
            let ids = match listed {
                Ok(ids) => ids,
                Err(e) => return finish(JobStatus::Failed, Some(chain(&e))),
            };
            match &one {
                None => split(&ctx, spec, &ids, &timings, shards),
                Some(one) => {
                    let opened = tokio::select! {
                        r = one.tests.open(&ids) => r,
                        _ = cancel.cancelled() => return finish(JobStatus::Cancelled, Some("cancelled".into())),
                    };
                    let timings = match opened {
                        Ok(timings) => timings,
                        Err(e) => return finish(JobStatus::Failed, Some(chain(&e))),
                    };
                    let queue: Arc<dyn TestQueue> = one.tests.clone();
                    split_for(&ctx, spec, &ids, &timings, shards, Some(queue))
                }
            }
        }
    };

    let runs = works.into_iter().enumerate().filter_map(|(i, work)| {
        let shard = i as u32 + 1;
        if one.as_ref().is_some_and(|o| o.shard != shard) {
            return None;
        }
        let shard_ctx = ctx.for_shard(shard, shards);
        let tests = job.tests.clone().zip(work).map(|(spec, work)| ShardTests {
            spec,
            job: job.name.clone(),
            shard,
            work,
            retry_failed: job.retry_failed,
        });
        Some(run_job(shard_ctx, None, timeout, cancel.clone(), tests))
    });
    let results: IndexMap<String, JobResult> = futures_util::future::join_all(runs)
        .await
        .into_iter()
        .collect();
    if shards == 1 || one.is_some() {
        let (_, result) = results.into_iter().next().expect("one shard ran");
        return (job.name.clone(), result);
    }
    let shards = results.iter().map(|(name, r)| ((name, r), r.status));
    match railyard_run_model::speaking_shard(shards) {
        Some(((name, r), status)) if status != JobStatus::Success => {
            let error = r.error.as_ref().map(|e| format!("{name}: {e}"));
            finish(status, error)
        }
        _ => finish(JobStatus::Success, None),
    }
}

/// Shares the ids among the shards and announces the plan.
fn split(
    ctx: &JobContext,
    spec: &TestsSpec,
    ids: &[String],
    timings: &Timings,
    shards: u32,
) -> Vec<Option<Work>> {
    split_for(ctx, spec, ids, timings, shards, None)
}

/// [`split`], with the queue the shards share in queue mode (a new local one when `None`).
fn split_for(
    ctx: &JobContext,
    spec: &TestsSpec,
    ids: &[String],
    timings: &Timings,
    shards: u32,
    queue: Option<Arc<dyn TestQueue>>,
) -> Vec<Option<Work>> {
    let n = shards as usize;
    match spec.mode {
        SplitMode::Static => {
            let plan = railyard_split::partition(ids, timings, n);
            ctx.emit(Event::TestsPlanned {
                job: ctx.job.name.clone(),
                tests: ids.len(),
                mode: "static".into(),
                shards: plan
                    .shards
                    .iter()
                    .enumerate()
                    .map(|(i, s)| ShardForecast {
                        shard: i as u32 + 1,
                        tests: s.tests.len(),
                        predicted_secs: s.predicted_secs,
                    })
                    .collect(),
            });
            plan.shards
                .into_iter()
                .map(|s| Some(Work::Static(s.tests, s.predicted_secs)))
                .collect()
        }
        SplitMode::Queue => {
            let queue = queue.unwrap_or_else(|| Arc::new(LocalQueue::new(ids, timings, n)));
            ctx.emit(Event::TestsPlanned {
                job: ctx.job.name.clone(),
                tests: ids.len(),
                mode: "queue".into(),
                shards: vec![],
            });
            (0..n).map(|_| Some(Work::Queue(queue.clone()))).collect()
        }
    }
}

/// The job's test ids: a glob over the repository's files, or the `list` command run once
/// in the job's environment (its own container, no services).
async fn list_tests(
    ctx: &JobContext,
    spec: &TestsSpec,
    repo_root: &std::path::Path,
) -> Result<Vec<String>, RunnerError> {
    let job = ctx.job.name.clone();
    let fail = |reason: String| RunnerError::TestList {
        job: job.clone(),
        reason,
    };
    let ids = match &spec.list {
        TestList::Files(glob) => {
            let matcher = globset::GlobBuilder::new(glob)
                .literal_separator(true)
                .build()
                .map_err(|e| fail(format!("`files: {glob}` is not a valid glob: {e}")))?
                .compile_matcher();
            let files = crate::workspace::files(repo_root)?;
            files
                .into_iter()
                .map(|f| f.rel)
                .filter(|rel| matcher.is_match(rel))
                .collect::<Vec<_>>()
        }
        TestList::Command(command) => {
            let mut list_ctx = ctx.clone();
            list_ctx.job.name = format!("{} (list)", ctx.job.name);
            list_ctx.job.services.clear();
            list_ctx.names = ctx.names.for_job(&list_ctx.job.name);
            ctx.emit(Event::JobPhase {
                job: ctx.job.name.clone(),
                phase: "listing tests".into(),
            });
            let listed = async {
                list_ctx.prepare().await?;
                let container = list_ctx.setup().await?;
                list_ctx.capture(&container, command).await
            }
            .await;
            let _ = list_ctx.teardown().await;
            let (code, stdout, stderr) = listed?;
            if code != 0 {
                let tail: Vec<&str> = std::str::from_utf8(&stderr)
                    .unwrap_or("")
                    .lines()
                    .rev()
                    .take(10)
                    .collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                return Err(fail(format!(
                    "`list: {command}` exited with code {code}{}",
                    if tail.is_empty() {
                        String::new()
                    } else {
                        format!(":\n    {}", tail.join("\n    "))
                    }
                )));
            }
            String::from_utf8_lossy(&stdout)
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect()
        }
    };
    if ids.is_empty() {
        let what = match &spec.list {
            TestList::Files(glob) => format!("`files: {glob}` matches no file"),
            TestList::Command(c) => format!("`list: {c}` printed no test id"),
        };
        return Err(fail(what));
    }
    Ok(ids)
}

/// The plan `railyard split --explain` shows: the job's tests listed in its environment and
/// split over its shards by the given timings, without running them.
pub async fn plan_tests(
    docker: &railyard_docker::Docker,
    pipeline: &railyard_pipeline::Pipeline,
    opts: &crate::run::RunOptions,
    job: &str,
    events: &tokio::sync::mpsc::UnboundedSender<Event>,
) -> Result<(Vec<String>, railyard_split::Plan), RunnerError> {
    let spec = pipeline.jobs[job]
        .tests
        .clone()
        .ok_or_else(|| RunnerError::TestList {
            job: job.to_string(),
            reason: "the job has no `tests` block".into(),
        })?;
    let ctx = crate::shell::context_for(docker, pipeline, opts, job, events).await?;
    let ids = list_tests(&ctx, &spec, &opts.repo_root).await?;
    let shards = pipeline.jobs[job].parallel.max(1) as usize;
    let plan = railyard_split::partition(&ids, &opts.timings, shards);
    Ok((ids, plan))
}
