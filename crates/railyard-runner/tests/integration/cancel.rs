//! Cancelling a run mid-step, and reaping what a killed process left.

use crate::common::{Repo, docker, run_with};
use railyard_docker::ContainerSpec;
use railyard_runner::{Event, cleanup};
use railyard_types::{JobStatus, RunStatus, StepStatus, labels};
use std::collections::HashMap;

#[tokio::test]
async fn cancelling_stops_the_step_tears_down_and_marks_the_run_cancelled() {
    let repo = Repo::new(
        r#"
env: { image: busybox }
jobs:
  long:
    services:
      side: { image: busybox, command: sleep 600 }
    script: [echo started, sleep 600]
  later:
    needs: [long]
    script: [echo never]
"#,
    );
    let started = std::time::Instant::now();
    // Cancel as soon as the long step starts.
    let ran = run_with(
        &repo,
        &[],
        Some(|e| matches!(e, Event::StepStarted { index: 1, .. })),
    )
    .await;
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
    assert_eq!(ran.outcome.status, RunStatus::Cancelled);
    assert_eq!(ran.status("long"), JobStatus::Cancelled);
    assert_eq!(ran.status("later"), JobStatus::Cancelled);
    assert!(ran.events.iter().any(|e| matches!(
        e,
        Event::StepFinished {
            index: 1,
            status: StepStatus::Cancelled,
            ..
        }
    )));
}

#[tokio::test]
async fn leftovers_of_a_dead_process_are_reaped_and_live_ones_kept() {
    let docker = docker().await;
    let run_id = crate::common::run_id();
    let make = |owner: String, name: String| {
        let docker = docker.clone();
        let run_id = run_id.clone();
        async move {
            let labels = HashMap::from([
                (labels::RUN.to_string(), run_id),
                (labels::OWNER.to_string(), owner),
            ]);
            let spec = ContainerSpec {
                name,
                image: "busybox".into(),
                entrypoint: None,
                cmd: Some(vec!["sleep".into(), "600".into()]),
                env: vec![],
                labels,
                network: None,
                network_aliases: vec![],
                mounts: vec![],
                working_dir: None,
                limits: Default::default(),
                init: true,
            };
            docker.create_container(&spec).await.unwrap()
        }
    };
    let host = railyard_runner::names::hostname();
    let dead = make(format!("{host}:{}", u32::MAX - 7), format!("{run_id}-dead")).await;
    let live = make(railyard_runner::names::owner(), format!("{run_id}-live")).await;
    cleanup::reap_dead_owners(&docker).await.unwrap();
    // Every runner call reaps dead owners too: one in a test running beside this one may be
    // removing the same container (Docker then refuses ours as already in progress), so the
    // container may take a moment to go.
    let mut ids: Vec<String>;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let left = docker
            .list_labelled(&[format!("{}={run_id}", labels::RUN)])
            .await
            .unwrap();
        ids = left.containers.iter().map(|c| c.id.clone()).collect();
        if !ids.contains(&dead) || std::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(
        !ids.contains(&dead),
        "the dead owner's container was not reaped"
    );
    assert!(ids.contains(&live), "a live owner's container was reaped");
    cleanup::remove_run(&docker, &run_id).await.unwrap();
    crate::common::assert_nothing_left(&docker, &run_id).await;
}

/// Two runner calls for jobs of one run on one engine (two agents, or two slots of one):
/// the first to finish must not sweep away the other's containers.
#[tokio::test]
async fn two_calls_for_one_run_leave_each_other_alone() {
    use railyard_runner::{RunOptions, run_pipeline};
    use std::sync::Arc;
    let repo = crate::common::Repo::new(
        "env: { image: busybox }\njobs:\n  quick:\n    script: [echo quick]\n  slow:\n    script: [sleep 3, echo slow done]\n",
    );
    let docker = docker().await;
    let pipeline = Arc::new(repo.pipeline());
    let run_id = crate::common::run_id();
    let call = |job: &str| {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let drain = tokio::spawn(async move {
            let mut lines = Vec::new();
            while let Some(e) = rx.recv().await {
                if let Event::Output { line, .. } = e {
                    lines.push(line);
                }
            }
            lines
        });
        let opts = RunOptions {
            run_id: run_id.clone(),
            owner: railyard_runner::names::owner(),
            project: repo.root().display().to_string(),
            repo_root: repo.root().to_path_buf(),
            jobs: vec![job.to_string()],
            rule_skipped: Default::default(),
            max_parallel: 1,
            artifacts_dir: repo.root().join(".artifacts"),
            timings: Default::default(),
            env_check: None,
            secrets: vec![],
            networks: Default::default(),
            run_variables: vec![],
            allowance: Default::default(),
            registry: None,
            env_lease: None,
            caches: Default::default(),
        };
        let docker = docker.clone();
        let pipeline = pipeline.clone();
        async move {
            let outcome = run_pipeline(&docker, pipeline, opts, tx, Default::default()).await;
            (outcome, drain.await.unwrap())
        }
    };
    let ((quick, _), (slow, slow_lines)) = tokio::join!(call("quick"), call("slow"));
    assert_eq!(quick.status, RunStatus::Success);
    assert_eq!(slow.status, RunStatus::Success, "{slow:?}");
    assert!(
        slow_lines.contains(&"slow done".to_string()),
        "{slow_lines:?}"
    );
    crate::common::assert_nothing_left(&docker, &run_id).await;
}
