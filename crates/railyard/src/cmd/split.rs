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
        project: project.key(),
        repo_root: project.root.clone(),
        jobs: vec![job.clone()],
        max_parallel: 1,
        artifacts_dir: std::env::temp_dir(),
        timings: Arc::new(timings),
        env_check: None,
        secrets: vec![],
        networks: g.network_pool,
        run_variables: vec![],
        allowance: Default::default(),
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
    if args.json {
        println!("{}", serde_json::to_string_pretty(&plan)?);
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
