//! The queue at fleet scale, with real server processes and agents simulated over HTTP (the
//! claim, hold, complete of an agent without Docker, so many can run on two cores): two
//! servers on one PostgreSQL share the work, and fair share between projects.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::fleet::*;

/// One claim as the simulated agent saw it.
#[derive(Debug, Clone)]
struct Claimed {
    server: usize,
    run: String,
    job: String,
    attempt: i64,
}

fn post(base: &str, token: &str, path: &str, body: &Value) -> (u16, String) {
    http(base, "POST", path, Some(token), &body.to_string())
}

fn add_project(base: &str, name: &str, repo: &str) {
    let (status, body) = post(
        base,
        ADMIN,
        "/api/v1/projects",
        &json!({"name": name, "repo": repo}),
    );
    assert_eq!(status, 201, "{body}");
}

fn trigger_ref(base: &str, project: &str, git_ref: &str) -> String {
    let (status, body) = post(
        base,
        ADMIN,
        &format!("/api/v1/projects/{project}/trigger"),
        &json!({"ref": git_ref}),
    );
    assert_eq!(status, 201, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    v["run"]["id"].as_str().unwrap().to_string()
}

/// An agent of one slot on `base`: claims, holds each job for `hold`, completes it with
/// success and pushes it to `seen`, until `stop`.
fn sim_agent(
    base: String,
    server: usize,
    hold: Duration,
    seen: Arc<Mutex<Vec<Claimed>>>,
    stop: Arc<AtomicBool>,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let (status, body) = post(
            &base,
            AGENT,
            "/api/v1/agents/register",
            &json!({"name": format!("sim-{server}"), "slots": 1}),
        );
        assert_eq!(status, 200, "{body}");
        let reg: Value = serde_json::from_str(&body).unwrap();
        let id = reg["agent_id"].as_str().unwrap().to_string();
        while !stop.load(Ordering::SeqCst) {
            let claim = json!({"agent_id": id, "wait_ms": 200});
            let (status, body) = post(&base, AGENT, "/api/v1/agents/claim", &claim);
            if status == 204 {
                continue;
            }
            assert_eq!(status, 200, "claim: {body}");
            let job: Value = serde_json::from_str(&body).unwrap();
            seen.lock().unwrap().push(Claimed {
                server,
                run: job["run_id"].as_str().unwrap().into(),
                job: job["job"].as_str().unwrap().into(),
                attempt: job["attempt"].as_i64().unwrap(),
            });
            thread::sleep(hold);
            let done = json!({"agent_id": id, "attempt": job["attempt"], "status": "success"});
            let path = format!("/api/v1/jobs/{}/complete", job["job_id"].as_str().unwrap());
            let (status, body) = post(&base, AGENT, &path, &done);
            assert_eq!(status, 204, "complete: {body}");
        }
    })
}

/// `count` independent jobs `j0…`, and `last` needing the first ten.
fn wide_pipeline(count: usize) -> String {
    let mut p = String::from("env: { image: busybox }\njobs:\n");
    for i in 0..count {
        p.push_str(&format!("  j{i}: {{ script: [\"true\"] }}\n"));
    }
    let needs: Vec<String> = (0..10).map(|i| format!("j{i}")).collect();
    p.push_str(&format!(
        "  last: {{ needs: [{}], script: [\"true\"] }}\n",
        needs.join(", ")
    ));
    p
}

#[test]
fn two_servers_on_one_postgres_hand_out_every_job_exactly_once() {
    let Some(db) = PgDb::create() else {
        return;
    };
    let fleet = Fleet::start_on(&wide_pipeline(40), Some(&db.url));
    let (mut second, second_url) = spawn_server(fleet.dir.path(), "127.0.0.1:0", Some(&db.url));
    let servers = [fleet.url.clone(), second_url.clone()];
    add_project(&servers[0], "demo", &fleet.repo_url());
    // Runs triggered on either server are one queue.
    let runs = [
        trigger_ref(&servers[0], "demo", "main"),
        trigger_ref(&servers[1], "demo", "main"),
        trigger_ref(&servers[0], "demo", "main"),
    ];
    let expected = runs.len() * 41;

    let seen = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let agents: Vec<_> = (0..8)
        .map(|i| {
            sim_agent(
                servers[i % 2].clone(),
                i % 2,
                Duration::ZERO,
                seen.clone(),
                stop.clone(),
            )
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    while seen.lock().unwrap().len() < expected && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(100));
    }
    // A moment more, in which a job handed out twice would show.
    thread::sleep(Duration::from_millis(600));
    stop.store(true, Ordering::SeqCst);
    for a in agents {
        a.join().expect("a simulated agent failed");
    }
    let _ = second.kill();
    let _ = second.wait();

    let seen = seen.lock().unwrap().clone();
    let mut pairs: Vec<(String, String)> = seen
        .iter()
        .map(|c| (c.run.clone(), c.job.clone()))
        .collect();
    pairs.sort();
    let before = pairs.len();
    pairs.dedup();
    assert_eq!(before, pairs.len(), "a job was handed out twice: {seen:?}");
    assert_eq!(pairs.len(), expected, "jobs lost: {seen:?}");
    assert!(seen.iter().all(|c| c.attempt == 1), "{seen:?}");
    for server in 0..2 {
        assert!(
            seen.iter().any(|c| c.server == server),
            "server {server} handed out no job"
        );
    }
    for run in &runs {
        let (status, body) = fleet.get(&format!("/api/v1/runs/{run}"));
        assert_eq!(status, 200, "{body}");
        let detail: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(detail["run"]["status"], "success", "{detail}");
        let jobs = detail["jobs"].as_array().unwrap();
        assert_eq!(jobs.len(), 41, "{detail}");
        let job = |name: &str| jobs.iter().find(|j| j["name"] == name).unwrap();
        let needs_done = (0..10)
            .map(|i| job(&format!("j{i}"))["finished_at"].as_i64().unwrap())
            .max()
            .unwrap();
        assert!(
            job("last")["started_at"].as_i64().unwrap() >= needs_done,
            "`last` started before its needs ended: {detail}"
        );
    }
}

/// The fairness case, through the server: project A queues 200 jobs on four busy
/// agents, then project B queues one. B's job must start at the next free slot, before each
/// agent takes another of A's jobs (that is, within one job length); in queue order it would
/// wait for all 200.
#[test]
fn one_job_of_a_small_project_starts_before_a_large_project_takes_every_slot_again() {
    let fleet = Fleet::start(&wide_pipeline(199));
    // Project B: the same repository at a branch whose pipeline has one job.
    let work = fleet.dir.path().join("work");
    git(&work, &["checkout", "-qb", "one"]);
    std::fs::write(
        work.join(".railyard.yml"),
        "env: { image: busybox }\njobs:\n  only: { script: [\"true\"] }\n",
    )
    .unwrap();
    git(&work, &["commit", "-qam", "one job"]);
    git(&work, &["push", "-q", "../repo.git", "one"]);
    add_project(&fleet.url, "a", &fleet.repo_url());
    add_project(&fleet.url, "b", &fleet.repo_url());

    let agents_n = 4;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let agents: Vec<_> = (0..agents_n)
        .map(|_| {
            sim_agent(
                fleet.url.clone(),
                0,
                Duration::from_millis(150),
                seen.clone(),
                stop.clone(),
            )
        })
        .collect();
    let a_run = trigger_ref(&fleet.url, "a", "main");
    // Every agent busy with A's jobs, then B queues one.
    let busy = Instant::now() + Duration::from_secs(60);
    while seen.lock().unwrap().len() < agents_n * 2 && Instant::now() < busy {
        thread::sleep(Duration::from_millis(20));
    }
    let b_run = trigger_ref(&fleet.url, "b", "one");
    // Counted once B is queued: every later claim statement must take B's job, but claims
    // already in flight (at most one per agent) may still land after this count.
    let b_queued_at = seen.lock().unwrap().len();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut b_at = None;
    while b_at.is_none() && Instant::now() < deadline {
        b_at = seen.lock().unwrap().iter().position(|c| c.run == b_run);
        thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::SeqCst);
    for a in agents {
        a.join().expect("a simulated agent failed");
    }
    let seen = seen.lock().unwrap().clone();
    let b_at = b_at.unwrap_or_else(|| panic!("B's job never started: {seen:?}"));
    assert_eq!(seen[b_at].job, "only");
    // In queue order B would wait for about 190 of A's jobs; with fair share only the
    // claims in flight when it was queued come first.
    let a_between = seen[b_queued_at.min(b_at)..b_at]
        .iter()
        .filter(|c| c.run == a_run)
        .count();
    assert!(
        a_between <= agents_n,
        "{a_between} of A's jobs started after B's job was queued and before it; \
         claims: {seen:?}"
    );
}
