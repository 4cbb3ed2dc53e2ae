//! `railyard run [JOB…]`: the pipeline (or the named jobs and what they need) in containers
//! on the local engine, recorded in the store, shown live.

use super::Expected;
use crate::cli::{Global, RunArgs};
use crate::project;
use crate::report::{json, recorder::Recorder, terminal::Terminal};
use railyard_runner::{Event, RunOptions, names};
use railyard_store::NewRun;
use railyard_types::Millis;
use railyard_types::{RunStatus, exit_codes};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub async fn run(g: &Global, args: RunArgs) -> anyhow::Result<i32> {
    let project = project::find(g.directory.as_deref(), g.file.as_deref())?;
    if args.max_jobs == 0 {
        return Err(Expected::Input("--max-jobs must be at least 1".into()).into());
    }
    let limits = railyard_pipeline::Limits {
        max_jobs: args.max_jobs,
    };
    let mut pipeline = project.load_pipeline_with(&limits)?;
    approve(&mut pipeline, &args.approve)?;
    let pipeline = Arc::new(pipeline);
    let jobs = pipeline.select(&args.jobs)?;
    let context = project.run_context(&args.context);
    let rule_skipped = rule_skipped(&pipeline, &jobs, &context);
    let secrets = super::secrets(&pipeline)?;
    let parallel = match args.parallel {
        Some(0) => return Err(Expected::Input("--jobs must be at least 1".into()).into()),
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(2, |n| n.get()),
    };
    // Independent: connect to the engine while the store opens.
    let (docker, store) = tokio::join!(super::docker(), super::store(g));
    let (docker, store) = (docker?, store?);
    let owner = names::owner();
    let record = store
        .create_run(&NewRun {
            project: project.key(),
            pipeline_path: project.display_file().display().to_string(),
            commit: project.git(&["rev-parse", "HEAD"]),
            owner: owner.clone(),
            jobs: jobs.clone(),
            started_at: Millis::now(),
            context: None,
        })
        .await?;
    store
        .set_run_status(&record.id, RunStatus::Running, None)
        .await?;
    let mut timings = railyard_split::Timings::new();
    for (id, (secs, _)) in store.timings(&project.key()).await? {
        timings.insert(id, secs);
    }
    // Without any, a static split's "prediction" is a default per test: not shown as one.
    let measured = !timings.is_empty();
    let data_dir = project::data_dir(g.data_dir.as_deref());
    let artifacts_dir = data_dir
        .join("runs")
        .join(record.id.as_str())
        .join("artifacts");

    let (tx, mut rx) = mpsc::unbounded_channel::<Event>();
    let cancel = CancellationToken::new();
    // Every name that shows in the output: jobs, and the shards of sharded jobs.
    let mut steps: Vec<(String, usize)> = Vec::new();
    for name in &jobs {
        let job = &pipeline.jobs[name];
        steps.push((name.clone(), job.script.len()));
        if job.parallel > 1 {
            for shard in 1..=job.parallel {
                let shard = railyard_runner::shards::shard_name(name, shard, job.parallel);
                steps.push((shard, 0));
            }
        }
    }
    let mut terminal = (!args.json).then(|| Terminal::new(&steps, measured));
    if args.json {
        json::run_started(&record.id, record.number, &jobs);
    }
    let started = std::time::Instant::now();
    let options = RunOptions {
        run_id: record.id.to_string(),
        owner,
        project: project.key().into_string(),
        repo_root: project.root.clone(),
        jobs,
        rule_skipped: rule_skipped.into_iter().collect(),
        max_parallel: parallel,
        artifacts_dir: artifacts_dir.clone(),
        timings: Arc::new(timings),
        env_check: Some(Arc::new(super::envscan::EnvScan {
            docker: docker.clone(),
            inventory: super::envscan::Inventory::Local(store.clone()),
            project: project.key().into_string(),
            run_id: record.id.clone(),
            ignore_file: project.root.join(".railyard-ignore.yml"),
        })),
        secrets,
        networks: g.network_pool,
        run_variables: project::Project::run_variables(&context, record.id.as_str()),
        // A person's own machine: what the pipeline's `resources` ask, no default or maximum;
        // artifacts bounded as on an agent (DEFAULT_MAX_ARTIFACT_BYTES and _FILES).
        allowance: Default::default(),
        registry: super::credentials::registry_with_auth(
            args.registry.clone(),
            args.registry_auth_file.as_deref(),
        )?,
        // No server: a key the registry lacks is built under this host's lock, and pushed.
        env_lease: None,
        caches: Default::default(),
    };
    // Jobs with an `environment`: the recorder records their deployments.
    let environments = (pipeline.jobs.values())
        .filter_map(|j| Some((j.name.clone(), (j.environment.clone()?, j.needs.clone()))))
        .collect();
    let runner = tokio::spawn({
        let docker = docker.clone();
        let cancel = cancel.clone();
        async move { railyard_runner::run_pipeline(&docker, pipeline, options, tx, cancel).await }
    });

    let mut recorder = Recorder::new(store.clone(), record.id.clone(), project.key(), measured)
        .with_environments(environments);
    let mut signals = super::Signals::new()?;
    let mut interrupts = 0;
    loop {
        tokio::select! {
            event = rx.recv() => {
                let Some(event) = event else { break };
                recorder.record(&event).await;
                match &mut terminal {
                    Some(t) => t.handle(&event),
                    None => json::event(&event),
                }
            }
            _ = signals.next() => {
                interrupts += 1;
                if interrupts > 1 {
                    // The user insists: leave now; the next run or `railyard clean` reaps.
                    eprintln!("railyard: stopping at once; `railyard clean` removes what is left");
                    std::process::exit(exit_codes::CANCELLED);
                }
                cancel.cancel();
                if let Some(t) = &terminal {
                    t.notice("cancelling: stopping steps and removing containers (again to force)");
                }
            }
        }
    }
    recorder.finish().await;
    let outcome = runner.await?;
    store
        .set_run_status(&record.id, outcome.status, Some(Millis::now()))
        .await?;
    if let Some(t) = &mut terminal {
        t.summary(
            &outcome,
            record.number,
            started.elapsed().as_millis() as u64,
            Some(&artifacts_dir),
        );
    }
    Ok(match outcome.status {
        RunStatus::Success => exit_codes::OK,
        RunStatus::Cancelled => exit_codes::CANCELLED,
        _ => exit_codes::JOBS_FAILED,
    })
}

/// The selected jobs whose `when:` rule does not match the local run's context, with why
/// (the same judgement as a server's when it queues a run).
fn rule_skipped(
    pipeline: &railyard_pipeline::Pipeline,
    jobs: &[String],
    context: &railyard_types::context::RunContext,
) -> Vec<(String, String)> {
    (jobs.iter())
        .filter_map(|name| {
            let rule = pipeline.jobs.get(name)?.when.as_ref()?;
            Some((name.clone(), rule.check(context).err()?))
        })
        .collect()
}

/// `--approve JOB`: the named manual jobs (a matrix job's name approves its combinations)
/// run like any other; a name that is no manual job is refused before anything runs.
fn approve(pipeline: &mut railyard_pipeline::Pipeline, names: &[String]) -> Result<(), Expected> {
    for name in names {
        let mut found = false;
        for job in pipeline.jobs.values_mut() {
            if &job.name != name && &job.base_name != name {
                continue;
            }
            if !job.manual {
                return Err(Expected::Input(format!(
                    "--approve {name}: job `{}` is not manual (`manual: true`): it runs without approval",
                    job.name
                )));
            }
            job.manual = false;
            found = true;
        }
        if !found {
            return Err(Expected::Input(format!(
                "--approve {name}: the pipeline has no job `{name}`"
            )));
        }
    }
    Ok(())
}
