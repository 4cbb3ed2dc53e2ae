//! The queue's rules with real processes: `runs_on` labels pick the agent, and a job no
//! agent can take stays queued (and says why) until the run is cancelled.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::fleet::*;

const LABELLED: &str = "env: { image: busybox }\njobs:\n  plain:\n    script: [echo plain]\n  gpu:\n    runs_on: [gpu, linux]\n    script: [echo on-gpu]\n  arm:\n    runs_on: arm64\n    script: [echo never]\n";

/// Starts an agent with `--labels`; its stderr goes to `NAME.err` in the fleet's folder.
fn agent_with_labels(fleet: &mut Fleet, name: &str, labels: &str) {
    let child = bin()
        .args([
            "agent", "--server", &fleet.url, "--token", AGENT, "--name", name, "--labels", labels,
        ])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(fleet.dir.path().join(format!("{name}.err"))).unwrap())
        .spawn()
        .unwrap();
    fleet.agents.push(child);
}

fn agent_log(fleet: &Fleet, name: &str) -> String {
    std::fs::read_to_string(fleet.dir.path().join(format!("{name}.err"))).unwrap()
}

/// Polls the run until `done` holds for its detail.
fn wait_detail(
    fleet: &Fleet,
    run: &str,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (status, body) = fleet.get(&format!("/api/v1/runs/{run}"));
        assert_eq!(status, 200, "{body}");
        let detail: serde_json::Value = serde_json::from_str(&body).unwrap();
        if done(&detail) {
            return detail;
        }
        assert!(Instant::now() < deadline, "{body}\n{}", fleet.diagnostics());
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn status_of(detail: &serde_json::Value, job: &str) -> String {
    detail["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == job)
        .map(|j| j["status"].as_str().unwrap().to_owned())
        .unwrap()
}

#[test]
fn runs_on_labels_pick_the_agent_and_an_unmatched_job_waits() {
    let mut fleet = Fleet::start(LABELLED);
    agent_with_labels(&mut fleet, "cpu", "linux");
    agent_with_labels(&mut fleet, "gpu", "linux,gpu");
    let run = trigger(&fleet);
    let detail = wait_detail(&fleet, &run, |d| {
        status_of(d, "plain") == "success" && status_of(d, "gpu") == "success"
    });
    assert_eq!(status_of(&detail, "arm"), "pending", "{detail}");
    let arm = detail["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == "arm")
        .unwrap();
    assert_eq!(
        arm["waiting"],
        "no live agent has every label of its runs_on [arm64]: start one with `railyard agent --labels arm64`",
        "{detail}"
    );
    assert!(detail["jobs"][0].get("waiting").is_none(), "{detail}");
    // The CLI shows the run's jobs and why `arm` waits.
    let shown = fleet.cli_ok(&["runs", &run]);
    let arm_row = shown.lines().find(|l| l.contains(" arm ")).unwrap_or("");
    assert!(
        arm_row.contains("pending")
            && arm_row.contains("waiting: no live agent has every label of its runs_on [arm64]"),
        "{shown}"
    );
    assert!(
        shown
            .lines()
            .any(|l| l.contains(" gpu ") && l.contains("success")),
        "{shown}"
    );
    let (gpu, cpu) = (agent_log(&fleet, "gpu"), agent_log(&fleet, "cpu"));
    let claimed = |log: &str, job: &str| {
        log.lines()
            .any(|l| l.contains("job claimed") && l.contains(&format!("job={job} ")))
    };
    assert!(claimed(&gpu, "gpu"), "{gpu}");
    assert!(
        !claimed(&cpu, "gpu"),
        "the agent without `gpu` took it: {cpu}"
    );
    assert!(!claimed(&gpu, "arm") && !claimed(&cpu, "arm"));
    // No agent has `arm64`: the job stays queued, and the metrics say so.
    std::thread::sleep(Duration::from_secs(1));
    let (_, metrics) = http(&fleet.url, "GET", "/metrics", None, "");
    assert!(
        metrics.lines().any(|l| l.starts_with("railyard_jobs{")
            && l.contains("state=\"queued\"")
            && l.ends_with(" 1")),
        "{metrics}"
    );
    let (status, body) = http(
        &fleet.url,
        "POST",
        &format!("/api/v1/runs/{run}/cancel"),
        Some(ADMIN),
        "",
    );
    assert_eq!(status, 202, "{body}");
    let detail = fleet.wait_run(&run, 30);
    assert_eq!(detail["run"]["status"], "cancelled", "{detail}");
    assert_eq!(status_of(&detail, "arm"), "cancelled");
    assert_nothing_left(&run);
}

#[test]
fn bad_agent_labels_are_refused_before_registering() {
    let mut agent = bin();
    agent.args([
        "agent",
        "--server",
        "http://127.0.0.1:9",
        "--token",
        AGENT,
        "--labels",
        "linux,has space",
    ]);
    let out = output_within(agent, 30);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("--labels: `has space` may hold only letters, digits"),
        "{err}"
    );
}

const THREE_SLOW: &str = "env: { image: busybox }\njobs:\n  a1: { script: [sleep 1] }\n  a2: { script: [sleep 1] }\n  a3: { script: [sleep 1] }\n";

fn cli_ok(fleet: &Fleet, args: &[&str]) -> String {
    let out = output_within(fleet.cli(args), 60);
    assert!(
        out.status.success(),
        "{args:?}: {}\n{}",
        text(&out.stderr),
        fleet.diagnostics()
    );
    text(&out.stdout)
}

fn times(detail: &serde_json::Value, field: &str) -> Vec<i64> {
    let mut t: Vec<i64> = detail["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j[field].as_i64().unwrap())
        .collect();
    t.sort();
    t
}

/// Project A, capped at one running job, queues three; an agent with two slots runs them one
/// after the other, and B's job, queued while A runs, takes the slot A may not use.
#[test]
fn a_capped_project_leaves_its_slots_to_others() {
    let mut fleet = Fleet::start(THREE_SLOW);
    // B's pipeline: one quick job, on its own branch of the same repository.
    let work = fleet.dir.path().join("work");
    git(&work, &["checkout", "-q", "-b", "small"]);
    std::fs::write(
        work.join(".railyard.yml"),
        "env: { image: busybox }\njobs:\n  b: { script: [echo b] }\n",
    )
    .unwrap();
    git(&work, &["commit", "-qam", "small"]);
    git(&work, &["push", "-q", "../repo.git", "small"]);
    let repo = fleet.repo_url();
    cli_ok(
        &fleet,
        &["project", "add", "a", "--repo", &repo, "--max-running", "3"],
    );
    cli_ok(&fleet, &["project", "add", "b", "--repo", &repo]);
    let set = cli_ok(&fleet, &["project", "set", "a", "--max-running", "1"]);
    assert_eq!(set.trim(), "a: weight 1, at most 1 running");
    let bad = output_within(fleet.cli(&["project", "set", "a", "--weight", "0"]), 30);
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("`weight` is 0: give a whole number from 1"),
        "{}",
        text(&bad.stderr)
    );
    let listed = cli_ok(&fleet, &["project", "list"]);
    assert!(
        listed
            .lines()
            .any(|l| l.contains(" a ") && l.contains("weight 1, at most 1 running")),
        "{listed}"
    );
    let child = bin()
        .args([
            "agent", "--server", &fleet.url, "--token", AGENT, "--slots", "2", "--name", "two",
        ])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(fleet.dir.path().join("two.err")).unwrap())
        .spawn()
        .unwrap();
    fleet.agents.push(child);
    let triggered = |project: &str, git_ref: &str| {
        let out = cli_ok(&fleet, &["trigger", project, "--ref", git_ref, "--json"]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v["run"]["id"].as_str().unwrap().to_owned()
    };
    let run_a = triggered("a", "main");
    wait_detail(&fleet, &run_a, |d| {
        d["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["status"] == "running")
    });
    let run_b = triggered("b", "small");
    let a = fleet.wait_run(&run_a, 120);
    let b = fleet.wait_run(&run_b, 120);
    assert_eq!(a["run"]["status"], "success", "{a}");
    assert_eq!(b["run"]["status"], "success", "{b}");
    let (started, finished) = (times(&a, "started_at"), times(&a, "finished_at"));
    for i in 1..started.len() {
        assert!(
            started[i] >= finished[i - 1],
            "two of A's jobs ran at once under a cap of 1: {a}"
        );
    }
    let b_started = times(&b, "started_at")[0];
    assert!(
        b_started < started[1],
        "B's job waited for A's second job to start: {a}\n{b}"
    );
    assert_nothing_left(&run_a);
    assert_nothing_left(&run_b);
}
