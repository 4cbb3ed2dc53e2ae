//! Agent pools on real processes (issue 14): two pools, each with an agent started with a
//! token of its pool, two projects each allowing one pool. Each project's job runs on its
//! pool's agent only; pool B's agent, declaring every label the job asks for and more, never
//! gets project A's job, nor can its token act for A's agent.

use std::process::Stdio;

use crate::fleet::*;

const PIPELINE: &str =
    "env: { image: busybox }\njobs:\n  build:\n    runs_on: [gpu]\n    script: [echo built]\n";

/// Makes an agent token of `pool` through the CLI; returns it.
fn token(fleet: &Fleet, name: &str, pool: &str) -> String {
    let out = output_within(
        fleet.cli(&["token", "create", name, "--role", "agent", "--pool", pool]),
        30,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(&format!("pool {pool}")),
        "{}",
        text(&out.stderr)
    );
    text(&out.stdout).trim().to_string()
}

/// Starts an agent with `token` and `labels`; its log goes to `<name>.err`.
fn agent(fleet: &mut Fleet, name: &str, token: &str, labels: &str) {
    let child = bin()
        .env("RAILYARD_HOME", fleet.agent_home(name))
        .args([
            "agent", "--server", &fleet.url, "--token", token, "--name", name,
        ])
        .args(["--labels", labels])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(fleet.dir.path().join(format!("{name}.err"))).unwrap())
        .spawn()
        .unwrap();
    fleet.agents.push(child);
}

/// The run's `build` job's status.
fn build_status(fleet: &Fleet, run: &str) -> String {
    let (status, body) = fleet.get(&format!("/api/v1/runs/{run}"));
    assert_eq!(status, 200, "{body}");
    let detail: serde_json::Value = serde_json::from_str(&body).unwrap();
    detail["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == "build")
        .map(|j| j["status"].as_str().unwrap().to_string())
        .unwrap()
}

fn run_of(fleet: &Fleet, project: &str) -> String {
    let out = fleet.cli_ok(&["trigger", project, "--ref", "main", "--json"]);
    let triggered: serde_json::Value = serde_json::from_str(&out).unwrap();
    triggered["run"]["id"].as_str().unwrap().to_string()
}

/// The id of the registered agent named `name` (waits for its registration).
fn agent_id(fleet: &Fleet, name: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (_, body) = fleet.get("/api/v1/agents");
        let agents: serde_json::Value = serde_json::from_str(&body).unwrap();
        if let Some(a) = agents
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
        {
            return a["id"].as_str().unwrap().to_string();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{name} never registered\n{}",
            fleet.diagnostics()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

#[test]
fn each_pools_jobs_run_on_its_own_agents_only() {
    let mut fleet = Fleet::start(PIPELINE);
    let repo = fleet.repo_url();
    fleet.cli_ok(&["project", "add", "pa", "--repo", &repo, "--pools", "a"]);
    fleet.cli_ok(&["project", "add", "pb", "--repo", &repo]);
    let set = fleet.cli_ok(&["project", "set", "pb", "--pools", "b"]);
    assert!(set.contains("pools b"), "{set}");
    let listed = fleet.cli_ok(&["project", "list"]);
    assert!(listed.contains("pools a"), "{listed}");

    // Hostile settings, each refused with what to do.
    for (args, says) in [
        (&["project", "set", "pb", "--pools", ""][..], "`pools`"),
        (
            &["project", "set", "pb", "--pools", "a b"][..],
            "pool `a b`",
        ),
        (
            &["token", "create", "x", "--role", "admin", "--pool", "a"][..],
            "`pool` is for agent tokens",
        ),
        (
            &["token", "create", "y", "--role", "agent", "--pool", "../a"][..],
            "pool `../a`",
        ),
    ] {
        let out = output_within(fleet.cli(args), 30);
        assert!(!out.status.success(), "{args:?} was taken");
        assert!(
            text(&out.stderr).contains(says),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }

    let a_token = token(&fleet, "pool-a", "a");
    let b_token = token(&fleet, "pool-b", "b");
    // B's agent declares every label there is, `a` included: labels are no boundary.
    agent(&mut fleet, "b1", &b_token, "gpu,linux,a,default,x86");
    let b1 = agent_id(&fleet, "b1");

    // A's run first, so its job is the oldest queued: were it visible to b1, b1 would take
    // it before B's (fair share ties go to the oldest job).
    let run_a = run_of(&fleet, "pa");
    let run_b = run_of(&fleet, "pb");
    fleet.wait_success(&run_b, 180);
    assert_eq!(
        build_status(&fleet, &run_a),
        "pending",
        "b1 ran B's job and left A's\n{}",
        fleet.diagnostics()
    );

    // b1's token cannot act for A's agent: not claim for it, not renew its lease.
    agent(&mut fleet, "a1", &a_token, "gpu");
    let a1 = agent_id(&fleet, "a1");
    let claim = format!(r#"{{"agent_id":"{a1}","wait_ms":0}}"#);
    let (status, body) = http(
        &fleet.url,
        "POST",
        "/api/v1/agents/claim",
        Some(&b_token),
        &claim,
    );
    assert_eq!(status, 404, "{body}");
    assert!(
        body.contains("not registered in this token's pool"),
        "{body}"
    );
    let beat = format!(r#"{{"agent_id":"{a1}","attempt":1}}"#);
    let (status, body) = http(
        &fleet.url,
        "POST",
        "/api/v1/jobs/01J00000000000000000000000/heartbeat",
        Some(&b_token),
        &beat,
    );
    assert_eq!(status, 410, "{body}");
    // Nor can the bootstrap token (pool `default`).
    let own = format!(r#"{{"agent_id":"{b1}","wait_ms":0}}"#);
    let (status, body) = http(
        &fleet.url,
        "POST",
        "/api/v1/agents/claim",
        Some(AGENT),
        &own,
    );
    assert_eq!(status, 404, "{body}");

    fleet.wait_success(&run_a, 180);
    let a_log = std::fs::read_to_string(fleet.dir.path().join("a1.err")).unwrap();
    let b_log = std::fs::read_to_string(fleet.dir.path().join("b1.err")).unwrap();
    assert!(a_log.contains(&run_a), "a1 ran A's job\n{a_log}");
    assert!(!a_log.contains(&run_b), "a1 never ran B's job\n{a_log}");
    assert!(b_log.contains(&run_b), "b1 ran B's job\n{b_log}");
    assert!(!b_log.contains(&run_a), "b1 never ran A's job\n{b_log}");
}
