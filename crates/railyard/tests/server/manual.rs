//! Manual jobs on a real server, agent and CLI: a `manual: true` job waits for a person's
//! approval (its dependent with it, the run open), a developer approves it with `railyard
//! approve`, it runs and the run succeeds; refusals are clear (409 naming the state, 403 for
//! a viewer, 404 for someone without access). SQLite and PostgreSQL.

use std::time::{Duration, Instant};

use crate::fleet::*;
use crate::people::{as_person, member_of};

const PIPELINE: &str = "env: { image: busybox }
jobs:
  build: { script: [echo built] }
  deploy: { script: [echo deployed by hand], needs: [build], manual: true }
  after: { script: [echo after], needs: [deploy] }
";

#[test]
fn a_manual_job_waits_for_approval_then_runs() {
    manual_job(Fleet::start(PIPELINE));
}

#[test]
fn a_manual_job_waits_for_approval_then_runs_on_postgres() {
    let Some(db) = PgDb::create() else {
        return;
    };
    manual_job(Fleet::start_on(PIPELINE, Some(&db.url)));
}

/// The run's detail once `deploy` awaits approval (up to 120 s).
fn wait_awaiting(fleet: &Fleet, run: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (status, body) = fleet.get(&format!("/api/v1/runs/{run}"));
        assert_eq!(status, 200, "{body}");
        let detail: serde_json::Value = serde_json::from_str(&body).unwrap();
        let deploy = detail["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["name"] == "deploy");
        if deploy.is_some_and(|j| j["awaiting_approval"] == true) {
            return detail;
        }
        assert!(
            Instant::now() < deadline,
            "deploy never awaited approval: {body}\n{}",
            fleet.diagnostics()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn job<'a>(detail: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    detail["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == name)
        .unwrap()
}

fn manual_job(mut fleet: Fleet) {
    fleet.agent("a1");
    let run = trigger(&fleet);
    fleet.cli_ok(&["project", "add", "elsewhere", "--repo", &fleet.repo_url()]);
    let alice = member_of(&fleet, "alice", "demo", "developer");
    let vic = member_of(&fleet, "vic", "demo", "viewer");
    let olga = member_of(&fleet, "olga", "elsewhere", "developer");

    let detail = wait_awaiting(&fleet, &run);
    assert_eq!(job(&detail, "build")["status"], "success", "{detail}");
    assert_eq!(job(&detail, "after")["status"], "pending", "{detail}");
    assert!(detail["run"]["finished_at"].is_null(), "{detail}");
    let waiting = job(&detail, "deploy")["waiting"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        waiting.contains(&format!("railyard approve {run} deploy")),
        "{waiting}"
    );
    let shown = fleet.cli_ok(&["runs", &run]);
    assert!(shown.contains("awaiting approval"), "{shown}");

    // Refusals: a viewer (403), someone without access to the project (404), a job that is
    // not manual (409, saying so).
    let out = as_person(&fleet, &vic, &["approve", &run, "deploy"]);
    let err = text(&out.stderr);
    assert!(
        !out.status.success() && err.contains("403") && err.contains("developer"),
        "{err}"
    );
    let out = as_person(&fleet, &olga, &["approve", &run, "deploy"]);
    let err = text(&out.stderr);
    assert!(!out.status.success() && err.contains("404"), "{err}");
    let out = as_person(&fleet, &alice, &["approve", &run, "build"]);
    let err = text(&out.stderr);
    assert!(
        !out.status.success() && err.contains("409") && err.contains("not a manual job"),
        "{err}"
    );
    let out = as_person(&fleet, &alice, &["approve", &run, "nope"]);
    assert!(
        !out.status.success() && text(&out.stderr).contains("404"),
        "{}",
        text(&out.stderr)
    );
    // Still waiting after all that.
    wait_awaiting(&fleet, &run);

    let out = as_person(&fleet, &alice, &["approve", &run, "deploy"]);
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stderr),
        fleet.diagnostics()
    );
    assert!(
        text(&out.stdout).contains("job `deploy` approved"),
        "{}",
        text(&out.stdout)
    );
    // A second approval is refused, naming where the job stands.
    let out = as_person(&fleet, &alice, &["approve", &run, "deploy"]);
    let err = text(&out.stderr);
    assert!(
        !out.status.success() && err.contains("409") && err.contains("not awaiting approval"),
        "{err}"
    );

    fleet.wait_success(&run, 120);
    assert!(fleet.log(&run, "deploy").contains("deployed by hand"));
    assert!(fleet.log(&run, "after").contains("after"));
    let audit = fleet.cli_ok(&["audit", "--json"]);
    let entries: Vec<serde_json::Value> = serde_json::from_str(&audit).unwrap();
    assert!(
        entries
            .iter()
            .any(|e| e["actor"] == "user:alice" && e["action"] == "job.approve"),
        "{audit}"
    );
    drop(fleet);
    assert_nothing_left(&run);
}
