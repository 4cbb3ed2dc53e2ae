//! Ctrl-C/SIGTERM cancel cleanly; after `kill -9`, `railyard clean` reaps.

use crate::common::{Project, anything_left, assert_nothing_left, text};
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};

/// Starts `railyard run --json` and waits until the long step has started; returns the
/// process and its run id.
fn start_long_run(p: &Project) -> (Child, String) {
    let mut child = p
        .cmd(&["run", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut run_id = None;
    for line in lines.by_ref() {
        let event: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        if event["event"] == "run_started" {
            run_id = event["run_id"].as_str().map(String::from);
        }
        if event["event"] == "step_started" && event["index"] == 1 {
            break;
        }
    }
    // Keep draining so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, run_id.expect("the run announced itself"))
}

const LONG: &str = "env: { image: busybox }\njobs:\n  long:\n    services:\n      side: { image: busybox, command: sleep 600 }\n    script: [echo go, sleep 600]\n";

fn signal(child: &Child, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

#[test]
fn sigterm_stops_the_step_tears_down_and_records_the_run_as_cancelled() {
    let p = Project::new(LONG);
    let (mut child, run_id) = start_long_run(&p);
    assert!(anything_left(&run_id), "the job is running");
    signal(&child, "-TERM");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert_nothing_left(&run_id);
    let runs = p.runs();
    assert_eq!(runs[0]["status"], "cancelled");
    let log = text(&p.run(&["logs", "1", "long"]).stdout);
    assert!(log.contains("job cancelled"), "{log}");
}

#[test]
fn after_kill_9_clean_reaps_the_leftovers_and_the_run_is_abandoned() {
    let p = Project::new(LONG);
    let (mut child, run_id) = start_long_run(&p);
    signal(&child, "-KILL");
    child.wait().unwrap();
    // kill -9 leaves the containers behind (another test's run may already be reaping them,
    // since any run reaps what dead processes left: so no assertion on them here).
    let out = p.run(&["clean"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("removed"),
        "{}",
        text(&out.stdout)
    );
    assert_nothing_left(&run_id);
    assert_eq!(p.runs()[0]["status"], "abandoned");
}

/// `railyard run 2>&1 | head`: once the reader is gone every write to stderr fails. Logging
/// must not panic then (a panic in the store's worker left the database locked and the run
/// hung for good), and the run must finish and clean up.
#[test]
fn closed_output_pipes_neither_hang_nor_lose_the_run() {
    let p = Project::new(
        "env: { image: busybox }\njobs:\n  chatty:\n    script: [echo one, echo two, echo three]\n",
    );
    let mut child = p
        .cmd(&["run"])
        .env("RAILYARD_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read one line of each, then close both pipes.
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    drop(err);
    drop(child.stdout.take());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("railyard run hung after its output pipes closed");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(status.success(), "{status:?}");
    let runs = p.runs();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["status"], "success", "{runs:?}");
    assert_nothing_left(runs[0]["id"].as_str().unwrap());
}

/// Agents in containers on one engine (as an autoscaler starts them; CI containers on one
/// build host) may share a host name while each has its own PID namespace. A `railyard
/// clean` (which every run and agent job also does) in such a container must not take a
/// live run of this namespace for dead because its PID means nothing there.
#[test]
fn a_clean_in_another_pid_namespace_with_our_host_name_leaves_a_live_run_alone() {
    let p = Project::new(LONG);
    let (mut child, run_id) = start_long_run(&p);
    let host = std::process::Command::new("hostname")
        .output()
        .map(|o| text(&o.stdout).trim().to_string())
        .unwrap();
    let socket = std::env::var("DOCKER_HOST")
        .ok()
        .and_then(|h| h.strip_prefix("unix://").map(String::from))
        .unwrap_or_else(|| "/var/run/docker.sock".into());
    let out = std::process::Command::new("docker")
        .args(["run", "--rm", "--hostname", &host, "-v"])
        .arg(format!("{socket}:/var/run/docker.sock"))
        .arg("-v")
        .arg(format!(
            "{}:/usr/local/bin/railyard:ro",
            env!("CARGO_BIN_EXE_railyard")
        ))
        .args(["debian:bookworm-slim", "railyard", "clean"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "clean in a container: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let running = std::process::Command::new("docker")
        .args(["ps", "-q", "--filter"])
        .arg(format!("label=io.railyard.run={run_id}"))
        .output()
        .unwrap();
    assert_eq!(
        text(&running.stdout).lines().count(),
        2,
        "the run's job and service containers still run after the other namespace's clean"
    );
    signal(&child, "-TERM");
    assert_eq!(child.wait().unwrap().code(), Some(130));
    assert_nothing_left(&run_id);
    assert_eq!(p.runs()[0]["status"], "cancelled");
}
