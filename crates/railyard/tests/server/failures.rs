//! What ends a job early: a killed agent, a restarted server, a cancel, a drained agent.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::fleet::*;

const SLOW: &str = "env: { image: busybox }\njobs:\n  slow:\n    script:\n      - echo started\n      - sleep 8\n      - echo finished\n";

#[test]
fn a_killed_agents_job_finishes_on_another_agent() {
    killed_agent(Fleet::start(SLOW));
}

/// The same on PostgreSQL, when `RAILYARD_TEST_POSTGRES_URL` is set.
#[test]
fn a_killed_agents_job_finishes_on_another_agent_on_postgres() {
    let Some(db) = PgDb::create() else {
        return;
    };
    killed_agent(Fleet::start_on(SLOW, Some(&db.url)));
}

fn killed_agent(mut fleet: Fleet) {
    let first = fleet.agent("first");
    let run = trigger(&fleet);
    // Wait until the first agent is inside the `sleep`.
    fleet.wait_for_log(&run, "slow", "$ sleep 8");
    fleet.agent("second");
    fleet.agents[first].kill().unwrap(); // SIGKILL
    let _ = fleet.agents[first].wait();
    second_attempt_ended(&fleet, &run);
}

/// Waits for the run of [`SLOW`] to succeed on its second attempt: both attempts started,
/// only the second one's end is in the log, nothing is left.
fn second_attempt_ended(fleet: &Fleet, run: &str) {
    fleet.wait_success(run, 240);
    let log = fleet.log(run, "slow");
    assert!(log.contains("attempt 2"), "{log}");
    assert_eq!(log.lines().filter(|l| *l == "started").count(), 2, "{log}");
    assert_eq!(log.lines().filter(|l| *l == "finished").count(), 1, "{log}");
    assert_nothing_left(run);
}

#[test]
fn a_server_restart_mid_run_loses_nothing() {
    let mut fleet = Fleet::start(
        "env: { image: busybox }\njobs:\n  slow:\n    script:\n      - echo before\n      - sleep 4\n      - echo after\n  next:\n    needs: [slow]\n    script: [echo next]\n",
    );
    fleet.agent("steady");
    let run = trigger(&fleet);
    fleet.wait_for_log(&run, "slow", "$ sleep 4");
    fleet.restart_server(None);
    fleet.wait_success(&run, 240);
    let log = fleet.log(&run, "slow");
    for line in ["before", "after"] {
        assert_eq!(log.lines().filter(|l| *l == line).count(), 1, "{log}");
    }
    let next = fleet.log(&run, "next");
    assert!(next.lines().any(|l| l == "next"), "{next}");
    assert_nothing_left(&run);
}

#[test]
fn cancel_reaches_the_agent_and_ends_the_run() {
    let mut fleet = Fleet::start(
        "env: { image: busybox }\njobs:\n  long:\n    script: [echo waiting, sleep 60]\n  after:\n    needs: [long]\n    script: [echo never]\n",
    );
    fleet.agent("busy");
    let run = trigger(&fleet);
    fleet.wait_for_log(&run, "long", "$ sleep 60");
    // While it runs, the metrics count it and its agent, also once more than a lease (3 s)
    // has passed since its one slot last claimed: its heartbeats keep it live.
    std::thread::sleep(std::time::Duration::from_secs(4));
    let (_, metrics) = http(&fleet.url, "GET", "/metrics", None, "");
    for line in [
        "railyard_running_jobs{project=\"demo\"} 1",
        "railyard_jobs{project=\"demo\",state=\"leased\"} 1",
        "railyard_jobs{project=\"demo\",state=\"waiting\"} 1",
        "railyard_agents_live 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line}\n{metrics}");
    }
    let (status, body) = http(
        &fleet.url,
        "POST",
        &format!("/api/v1/runs/{run}/cancel"),
        Some(ADMIN),
        "",
    );
    assert_eq!(status, 202, "{body}");
    // The step sleeps 60 s and the wait gives up sooner: the run ends only because the
    // cancel reached the agent, through its heartbeat (once a second; speed: bench/server).
    let detail = fleet.wait_ended_as(&run, 45, "cancelled");
    let agent = std::fs::read_to_string(fleet.dir.path().join("busy.err")).unwrap();
    assert!(
        agent.contains("the run was cancelled: stopping the job"),
        "{agent}"
    );
    let jobs = detail["jobs"].as_array().unwrap();
    assert!(jobs.iter().all(|j| j["status"] == "cancelled"), "{detail}");
    let (status, _) = http(
        &fleet.url,
        "POST",
        &format!("/api/v1/runs/{run}/cancel"),
        Some(ADMIN),
        "",
    );
    assert_eq!(status, 409, "a finished run cannot be cancelled again");
    assert_nothing_left(&run);
}

#[test]
fn a_terminated_agent_drains_its_job() {
    let mut fleet = Fleet::start(
        "env: { image: busybox }\njobs:\n  held:\n    script: [echo held, sleep 3, echo kept]\n",
    );
    let agent = fleet.agent("draining");
    let run = trigger(&fleet);
    fleet.wait_for_log(&run, "held", "$ sleep 3");
    let pid = fleet.agents[agent].id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    fleet.wait_success(&run, 120);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = fleet.agents[agent].try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the agent did not exit after draining"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status:?}\n{}", fleet.diagnostics());
    let log = fleet.log(&run, "held");
    assert_eq!(log.lines().filter(|l| *l == "kept").count(), 1, "{log}");
    assert_nothing_left(&run);
}

/// Sends a signal to a child process by pid.
fn signal(child: &std::process::Child, sig: &str) {
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args([sig, &pid])
            .status()
            .unwrap()
            .success()
    );
}

/// Waits (up to 120 s) until the agent's log holds `needle`.
fn wait_agent_log(fleet: &Fleet, name: &str, needle: &str) {
    let path = fleet.dir.path().join(format!("{name}.err"));
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let log = std::fs::read_to_string(&path).unwrap_or_default();
        if log.contains(needle) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name} never logged `{needle}`\n{}",
            fleet.diagnostics()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn an_agent_back_after_its_lease_lapsed_discards_the_job() {
    let mut fleet = Fleet::start(SLOW);
    let paused = fleet.agent("paused");
    let run = trigger(&fleet);
    fleet.wait_for_log(&run, "slow", "$ sleep 8");
    // Frozen (a stalled VM, a cut network): no heartbeat, the lease lapses, the job goes on.
    signal(&fleet.agents[paused], "-STOP");
    fleet.agent("second");
    wait_agent_log(&fleet, "second", "job claimed");
    signal(&fleet.agents[paused], "-CONT");
    // Back, it learns the lease is gone, stops its copy and reports nothing.
    wait_agent_log(&fleet, "paused", "lease lost: result discarded");
    second_attempt_ended(&fleet, &run);
    assert!(
        fleet.agents[paused].try_wait().unwrap().is_none(),
        "the agent that came back keeps working"
    );
}
