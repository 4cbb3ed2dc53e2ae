//! `railyard split JOB --explain`: the job's tests listed in its environment and split over
//! its shards by the project's measured timings, without running them.

use super::Expected;
use crate::cli::{Global, SplitArgs};
use crate::project;
use railyard_runner::{Event, RunOptions, names};
use std::sync::Arc;
use tokio::sync::mpsc;

pub async fn run(g: &Global, args: SplitArgs) -> anyhow::Result<i32> {
    let project = project::find(g.directory.as_deref(), g.file.as_deref())?;
    let pipeline = project.load_pipeline()?;
    let job = pipeline.select(std::slice::from_ref(&args.job))?;
    let job = job
        .iter()
        .find(|j| **j == args.job)
        .cloned()
        .ok_or_else(|| {
            Expected::Input(format!(
                "`{}` names a matrix job: name one expansion",
                args.job
            ))
        })?;
    if pipeline.jobs[&job].tests.is_none() {
        return Err(Expected::Input(format!(
            "job `{job}` has no `tests` block: nothing to split"
        ))
        .into());
    }
    let (docker, store) = tokio::join!(super::docker(), super::store(g));
    let (docker, store) = (docker?, store?);
    let mut timings = railyard_split::Timings::new();
    for (id, (secs, _)) in store.timings(&project.key()).await? {
        timings.insert(id, secs);
    }
    let opts = RunOptions {
        run_id: format!(
            "split-{}",
            ulid::Ulid::new().to_string().to_ascii_lowercase()
        ),
        owner: names::owner(),
        project: project.key().into_string(),
        repo_root: project.root.clone(),
        jobs: vec![job.clone()],
        rule_skipped: Default::default(),
        max_parallel: 1,
        artifacts_dir: std::env::temp_dir(),
        timings: Arc::new(timings),
        env_check: None,
        secrets: vec![],
        networks: g.network_pool,
        run_variables: vec![],
        allowance: Default::default(),
        registry: None,
        env_lease: None,
        caches: Default::default(),
    };
    let (tx, mut rx) = mpsc::unbounded_channel::<Event>();
    let printer = tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            if let Event::EnvOutput { line, .. } = event {
                eprintln!("  {line}");
            }
        }
    });
    let planned = railyard_runner::shards::plan_tests(&docker, &pipeline, &opts, &job, &tx).await;
    drop(tx);
    let _ = printer.await;
    let (ids, plan) = planned?;
    let queue = pipeline.jobs[&job]
        .tests
        .as_ref()
        .is_some_and(|t| t.mode == railyard_pipeline::SplitMode::Queue);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&plan)?);
    } else if queue {
        print!("{}", explain_queue(&job, ids.len(), &plan));
    } else {
        println!(
            "job `{job}`: {} tests over {} shard(s)",
            ids.len(),
            plan.shards.len()
        );
        print!("{}", plan.explain());
    }
    Ok(0)
}

/// What `--explain` says of a queue-mode job: the work the queue hands out, and no plan
/// per shard (it printed a static plan, which is not what such a job's run does).
fn explain_queue(job: &str, tests: usize, plan: &railyard_split::Plan) -> String {
    use railyard_split::duration;
    let mut out = format!(
        "job `{job}`: {} over {} shard(s) through a queue (`mode: queue`)\n\
         no plan per shard: each shard takes batches of the longest tests left, smaller as the\n\
         queue empties, until none is left; which shard runs which test is settled as they run\n",
        crate::report::plural(tests, "test", "tests"),
        plan.shards.len(),
    );
    if tests > 0 && plan.estimated == tests {
        out.push_str(
            "no test has a timing yet: the queue hands them out by count (a run of the job \
             measures them)\n",
        );
        return out;
    }
    out.push_str(&format!(
        "predicted work {} in all: {} a shard at best (the longest test {})\n",
        duration(plan.total_secs()),
        duration(plan.ideal_secs()),
        duration(plan.longest_secs),
    ));
    if plan.estimated > 0 {
        out.push_str(&format!(
            "{} without a timing yet, estimated at the median known time\n",
            crate::report::plural(plan.estimated, "test", "tests")
        ));
    }
    out
}
