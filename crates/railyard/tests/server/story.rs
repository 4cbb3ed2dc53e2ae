//! The whole way: trigger, queue, agent, logs (stored, over the API, followed), metrics.

use crate::fleet::*;

const TWO_JOBS: &str = "env: { image: busybox }\njobs:\n  build:\n    script:\n      - echo building\n      - for i in 1 2 3 4 5; do echo line-$i; done\n  test:\n    needs: [build]\n    script: [echo testing]\n";

#[test]
fn two_jobs_with_needs_run_on_an_agent_with_whole_logs() {
    two_jobs(Fleet::start(TWO_JOBS));
}

/// The same story on PostgreSQL, in a fresh database, when `RAILYARD_TEST_POSTGRES_URL` is set
/// (see `scripts/postgres-test-db.sh`).
#[test]
fn two_jobs_on_postgres() {
    let Some(db) = PgDb::create() else {
        return;
    };
    two_jobs(Fleet::start_on(TWO_JOBS, Some(&db.url)));
}

fn two_jobs(mut fleet: Fleet) {
    fleet.agent("a1");
    let run = trigger(&fleet);
    let detail = fleet.wait_success(&run, 240);
    let jobs = detail["jobs"].as_array().unwrap();
    let job = |name: &str| jobs.iter().find(|j| j["name"] == name).unwrap().clone();
    assert_eq!(job("build")["status"], "success");
    assert_eq!(job("test")["status"], "success");
    assert!(
        job("test")["started_at"].as_i64().unwrap()
            >= job("build")["finished_at"].as_i64().unwrap(),
        "test started before build ended: {detail}"
    );
    let build = fleet.log(&run, "build");
    for i in 1..=5 {
        let line = format!("line-{i}");
        assert_eq!(build.lines().filter(|l| *l == line).count(), 1, "{build}");
    }
    assert!(build.lines().any(|l| l == "building"), "{build}");
    // The same log through the API.
    let (status, body) = fleet.get(&format!("/api/v1/runs/{run}/logs/test"));
    assert_eq!(status, 200);
    assert!(body.lines().any(|l| l == "testing"), "{body}");
    // Followed over server-sent events: every line, then the end with the job's status.
    let data = follow(&fleet.url, &run, "build");
    assert_eq!(data.len(), build.lines().count() + 1, "{data:?}");
    assert!(data.iter().any(|l| l == "line-3"), "{data:?}");
    assert_eq!(data.last().unwrap(), "success", "{data:?}");
    let (status, metrics) = http(&fleet.url, "GET", "/metrics", None, "");
    assert_eq!(status, 200);
    assert!(
        metrics.lines().any(|l| l == "railyard_agents 1"),
        "{metrics}"
    );
    assert!(
        !metrics.contains("railyard_jobs{"),
        "no job is left in the queue: {metrics}"
    );
    assert_nothing_left(&run);
}
