//! Steps, exit codes, `needs`, skipping and `allow_failure`.

use crate::common::{Repo, run, run_with};
use railyard_runner::Event;
use railyard_types::{JobStatus, RunStatus, StepStatus};

#[tokio::test]
async fn three_steps_run_in_order_in_the_workspace_with_variables() {
    let repo = Repo::new(
        r#"
env: { image: busybox }
variables: { GREETING: hello }
jobs:
  hello:
    variables: { NAME: world }
    script:
      - echo "$GREETING $NAME"
      - pwd
      - cat note.txt; echo "CI=$CI job=$RAILYARD_JOB"
"#,
    );
    repo.write("note.txt", "from the repo\n");
    let ran = run(&repo).await;
    assert_eq!(ran.outcome.status, RunStatus::Success);
    assert_eq!(
        ran.output("hello"),
        [
            "hello world",
            "/workspace",
            "from the repo",
            "CI=true job=hello"
        ]
    );
    let finished: Vec<_> = ran
        .events
        .iter()
        .filter_map(|e| match e {
            Event::StepFinished {
                index,
                status,
                exit_code,
                ..
            } => Some((*index, *status, *exit_code)),
            _ => None,
        })
        .collect();
    assert_eq!(
        finished,
        [
            (0, StepStatus::Success, Some(0)),
            (1, StepStatus::Success, Some(0)),
            (2, StepStatus::Success, Some(0))
        ]
    );
}

#[tokio::test]
async fn a_failing_step_stops_the_job_and_skips_its_dependents() {
    let repo = Repo::new(
        r#"
env: { image: busybox }
jobs:
  build:
    script:
      - echo before
      - sh -c 'echo oops >&2; exit 3'
      - echo never
  test:
    needs: [build]
    script: [echo never]
  lint:
    script: [echo lint ok]
"#,
    );
    let ran = run(&repo).await;
    assert_eq!(ran.outcome.status, RunStatus::Failed);
    assert_eq!(ran.status("build"), JobStatus::Failed);
    assert_eq!(ran.status("test"), JobStatus::Skipped);
    assert_eq!(ran.status("lint"), JobStatus::Success);
    assert_eq!(ran.output("build"), ["before", "oops"]);
    assert!(
        ran.outcome.jobs["build"]
            .error
            .as_deref()
            .unwrap()
            .contains("step 2 exited with code 3")
    );
    assert!(
        ran.outcome.jobs["test"]
            .error
            .as_deref()
            .unwrap()
            .contains("`build`")
    );
}

#[tokio::test]
async fn a_missing_command_exits_127_with_a_hint() {
    let repo =
        Repo::new("env: { image: busybox }\njobs:\n  j:\n    script: [no-such-command --flag]\n");
    let ran = run(&repo).await;
    assert_eq!(ran.status("j"), JobStatus::Failed);
    assert!(
        ran.outcome.jobs["j"]
            .error
            .as_deref()
            .unwrap()
            .contains("code 127")
    );
    assert!(
        ran.output("j")
            .iter()
            .any(|l| l.contains("command not found in the env image"))
    );
}

#[tokio::test]
async fn allow_failure_lets_dependents_run() {
    let repo = Repo::new(
        r#"
env: { image: busybox }
jobs:
  flaky:
    allow_failure: true
    script: [exit 1]
  after:
    needs: [flaky]
    script: [echo ran]
"#,
    );
    let ran = run(&repo).await;
    assert_eq!(ran.status("flaky"), JobStatus::FailedAllowed);
    assert_eq!(ran.status("after"), JobStatus::Success);
    assert_eq!(ran.outcome.status, RunStatus::Success);
}

#[tokio::test]
async fn needs_order_jobs_and_independent_jobs_overlap() {
    let repo = Repo::new(
        r#"
env: { image: busybox }
jobs:
  a: { script: [sleep 1] }
  b: { script: [sleep 1] }
  c: { needs: [a, b], script: [echo c] }
"#,
    );
    let ran = run(&repo).await;
    assert_eq!(ran.outcome.status, RunStatus::Success);
    let pos = |pred: &dyn Fn(&Event) -> bool| ran.events.iter().position(pred).unwrap();
    let started =
        |job: &'static str| move |e: &Event| matches!(e, Event::JobStarted { job: j } if j == job);
    let finished = |job: &'static str| move |e: &Event| matches!(e, Event::JobFinished { job: j, .. } if j == job);
    // a and b both start before either finishes; c starts after both finished.
    assert!(pos(&started("b")) < pos(&finished("a")));
    assert!(pos(&started("a")) < pos(&finished("b")));
    assert!(pos(&started("c")) > pos(&finished("a")));
    assert!(pos(&started("c")) > pos(&finished("b")));
}

#[tokio::test]
async fn selecting_a_job_runs_what_it_needs_only() {
    let repo = Repo::new(
        r#"
env: { image: busybox }
jobs:
  a: { script: [echo a] }
  b: { needs: [a], script: [echo b] }
  other: { script: [echo other] }
"#,
    );
    let ran = run_with(&repo, &["b"], None).await;
    assert_eq!(ran.outcome.jobs.keys().collect::<Vec<_>>(), ["a", "b"]);
}

#[tokio::test]
async fn a_step_running_past_the_timeout_times_the_job_out() {
    let repo = Repo::new(
        "env: { image: busybox }\njobs:\n  slow:\n    timeout: 2s\n    script: [echo start, sleep 60]\n",
    );
    let started = std::time::Instant::now();
    let ran = run(&repo).await;
    assert_eq!(ran.status("slow"), JobStatus::TimedOut);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "the timeout did not stop the step"
    );
    assert!(ran.events.iter().any(|e| matches!(
        e,
        Event::StepFinished {
            index: 1,
            status: StepStatus::Cancelled,
            ..
        }
    )));
}
