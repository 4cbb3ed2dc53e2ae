//! Services: reachable by name, awaited through `ready`, and reported when never ready.

use crate::common::{Repo, run};
use railyard_types::JobStatus;

#[tokio::test]
async fn a_service_is_ready_before_the_steps_and_reachable_by_name() {
    let repo = Repo::new(
        r#"
env: { image: busybox }
jobs:
  web:
    services:
      api:
        image: busybox
        variables: { BODY: pong }
        command: mkdir -p /www && echo "$BODY" > /www/ping && exec httpd -f -p 8080 -h /www
        ready: wget -q -O /dev/null http://localhost:8080/ping
    script:
      - wget -q -O - http://api:8080/ping
"#,
    );
    let ran = run(&repo).await;
    assert_eq!(ran.status("web"), JobStatus::Success, "{:?}", ran.outcome);
    assert!(ran.output("web").contains(&"pong".to_string()));
}

#[tokio::test]
async fn a_service_never_ready_fails_the_job_with_its_last_log_lines() {
    let repo = Repo::new(
        r#"
env: { image: busybox }
jobs:
  web:
    services:
      db:
        image: busybox
        command: echo db is starting slowly; sleep 600
        ready: "false"
        ready_timeout: 2s
    script: [echo never]
"#,
    );
    let ran = run(&repo).await;
    assert_eq!(ran.status("web"), JobStatus::Failed);
    let error = ran.outcome.jobs["web"].error.clone().unwrap();
    assert!(
        error.contains("service `db` of job `web` was not ready after 2s"),
        "{error}"
    );
    assert!(error.contains("db is starting slowly"), "{error}");
    assert!(
        ran.output("web").is_empty(),
        "steps ran although the service was not ready"
    );
}

#[tokio::test]
async fn a_service_that_exits_is_reported_with_its_output() {
    let repo = Repo::new(
        r#"
env: { image: busybox }
jobs:
  web:
    services:
      db: { image: busybox, command: echo bad config >&2; exit 1, ready: "false", ready_timeout: 30s }
    script: [echo never]
"#,
    );
    let ran = run(&repo).await;
    assert_eq!(ran.status("web"), JobStatus::Failed);
    let error = ran.outcome.jobs["web"].error.clone().unwrap();
    assert!(
        error.contains("exited before it was ready") && error.contains("bad config"),
        "{error}"
    );
}
