//! What ends a job early: a killed agent, a restarted server, a cancel, a drained agent.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::fleet::*;

#[test]
fn a_killed_agents_job_finishes_on_another_agent() {
    let mut fleet = Fleet::start(
        "env: { image: busybox }\njobs:\n  slow:\n    script:\n      - echo started\n      - sleep 8\n      - echo finished\n",
    );
    let first = fleet.agent("first");
    let run = trigger(&fleet);
    // Wait until the first agent is inside the `sleep`.
    fleet.wait_for_log(&run, "slow", "$ sleep 8");
    fleet.agent("second");
    fleet.agents[first].kill().unwrap(); // SIGKILL
    let _ = fleet.agents[first].wait();
    let detail = fleet.wait_run(&run, 240);
    assert_eq!(
        detail["run"]["status"],
        "success",
        "{detail}\n{}",
        fleet.diagnostics()
    );
    let log = std::fs::read_to_string(fleet.log_path(&run, "slow")).unwrap();
    assert!(log.contains("attempt 2"), "{log}");
    assert_eq!(log.lines().filter(|l| *l == "started").count(), 2, "{log}");
    assert_eq!(log.lines().filter(|l| *l == "finished").count(), 1, "{log}");
    assert_nothing_left(&run);
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
    let detail = fleet.wait_run(&run, 240);
    assert_eq!(
        detail["run"]["status"],
        "success",
        "{detail}\n{}",
        fleet.diagnostics()
    );
    let log = std::fs::read_to_string(fleet.log_path(&run, "slow")).unwrap();
    for line in ["before", "after"] {
        assert_eq!(log.lines().filter(|l| *l == line).count(), 1, "{log}");
    }
    let next = std::fs::read_to_string(fleet.log_path(&run, "next")).unwrap();
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
    let asked = Instant::now();
    let (status, body) = http(
        &fleet.url,
        "POST",
        &format!("/api/v1/runs/{run}/cancel"),
        Some(ADMIN),
        "",
    );
    assert_eq!(status, 202, "{body}");
    let detail = fleet.wait_run(&run, 60);
    let took = asked.elapsed();
    assert_eq!(
        detail["run"]["status"],
        "cancelled",
        "{detail}\n{}",
        fleet.diagnostics()
    );
    // Heartbeats come every second; the rest is stopping the step and removing the container.
    assert!(took < Duration::from_secs(15), "the cancel took {took:?}");
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
    let detail = fleet.wait_run(&run, 120);
    assert_eq!(
        detail["run"]["status"],
        "success",
        "{detail}\n{}",
        fleet.diagnostics()
    );
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
    let log = std::fs::read_to_string(fleet.log_path(&run, "held")).unwrap();
    assert_eq!(log.lines().filter(|l| *l == "kept").count(), 1, "{log}");
    assert_nothing_left(&run);
}
