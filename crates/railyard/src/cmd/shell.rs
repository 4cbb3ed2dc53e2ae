//! `railyard shell [JOB]`: an interactive shell in a job's environment, with its workspace
//! and services up, torn down on exit.

use super::Expected;
use crate::cli::{Global, ShellArgs};
use crate::project;
use railyard_docker::ExecSpec;
use railyard_runner::{Event, RunOptions, names, shell::JobSession};
use railyard_types::Millis;
use tokio::sync::mpsc;

/// Prefers bash when the image has it.
const SHELL: &str = "if command -v bash >/dev/null 2>&1; then exec bash; else exec sh; fi";

pub async fn run(g: &Global, args: ShellArgs) -> anyhow::Result<i32> {
    let project = project::find(g.directory.as_deref(), g.file.as_deref())?;
    let pipeline = project.load_pipeline()?;
    let job = match args.job {
        Some(job) => {
            pipeline.select(std::slice::from_ref(&job))?;
            if !pipeline.jobs.contains_key(&job) {
                let names: Vec<_> = pipeline
                    .jobs
                    .values()
                    .filter(|j| j.base_name == job)
                    .map(|j| format!("`{}`", j.name))
                    .collect();
                return Err(Expected::Input(format!(
                    "`{job}` is a matrix job: name one of its expansions, e.g. {}",
                    names.join(", ")
                ))
                .into());
            }
            job
        }
        None => pipeline
            .jobs
            .keys()
            .next()
            .cloned()
            .ok_or_else(|| Expected::Input("the pipeline has no job".into()))?,
    };
    let docker = super::docker().await?;
    let run_id = format!(
        "shell-{}",
        ulid::Ulid::from_datetime(std::time::SystemTime::now())
            .to_string()
            .to_ascii_lowercase()
    );
    // A shell is a look at the work tree as it is: its own git state, nothing pretended.
    let context = project.run_context(&Default::default());
    let run_variables = project::Project::run_variables(&context, &run_id);
    let opts = RunOptions {
        run_id,
        owner: names::owner(),
        project: project.key().into_string(),
        repo_root: project.root.clone(),
        jobs: vec![job.clone()],
        rule_skipped: Default::default(),
        max_parallel: 1,
        artifacts_dir: std::env::temp_dir(),
        timings: Default::default(),
        env_check: None,
        secrets: super::secrets(&pipeline)?,
        networks: g.network_pool,
        run_variables,
        allowance: Default::default(),
        registry: None,
        env_lease: None,
        caches: Default::default(),
    };
    let (tx, mut rx) = mpsc::unbounded_channel::<Event>();
    let printer = tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            match event {
                Event::EnvOutput { line, .. } => eprintln!("  {line}"),
                Event::JobPhase { phase, .. } => eprintln!("railyard: {phase}"),
                Event::Output { line, .. } => eprintln!("railyard: {line}"),
                _ => {}
            }
        }
    });
    let started = Millis::now().as_i64();
    // A signal while the environment comes up (a slow `ready`) or while a non-interactive
    // command runs still tears everything down.
    let mut signals = super::Signals::new()?;
    let run_id = opts.run_id.clone();
    let session = tokio::select! {
        s = JobSession::open(&docker, &pipeline, &opts, &job, &tx) => s,
        _ = signals.next() => {
            eprintln!("railyard: interrupted; removing the job's containers");
            railyard_runner::cleanup::remove_run(&docker, &run_id).await?;
            return Ok(railyard_types::exit_codes::CANCELLED);
        }
    };
    // The session keeps a sender for its teardown messages; the printer ends with it.
    drop(tx);
    let session = session?;
    eprintln!(
        "railyard: shell in job `{job}` ({} to start); the workspace is /workspace; exit to tear down",
        railyard_split::duration((Millis::now().as_i64() - started) as f64 / 1000.0)
    );
    let spec = ExecSpec {
        cmd: vec![
            "sh".into(),
            "-c".into(),
            args.command.unwrap_or_else(|| SHELL.into()),
        ],
        env: vec![],
        working_dir: Some(railyard_runner::workspace::WORKSPACE_DIR.into()),
        user: None,
    };
    let result = tokio::select! {
        r = docker.exec_interactive(&session.container, &spec) => Some(r),
        _ = signals.next() => None,
    };
    let closed = session.close().await;
    let _ = printer.await;
    closed?;
    match result {
        Some(code) => Ok(code? as i32),
        None => Ok(railyard_types::exit_codes::CANCELLED),
    }
}
