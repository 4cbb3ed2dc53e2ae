//! What one pipeline may ask of a shared server: the jobs it expands to are capped (the
//! arithmetic in the 422, nothing stored), the largest allowed one is queued without holding
//! the database from another project's agent (its heartbeats all answered, quickly, on SQLite
//! and PostgreSQL), a job named like a shard is refused by name, and a run with its queue is
//! stored whole or not at all, with no server path in a 500.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::fleet::*;

/// The issue's pipeline: 5 KB that queued 81,920 rows in one transaction.
fn huge() -> String {
    let values: Vec<String> = (0..16).map(|v| v.to_string()).collect();
    let values = values.join(", ");
    let mut out = "env: { image: busybox }\njobs:\n".to_string();
    for j in 0..5 {
        out.push_str(&format!(
            "  job{j}:\n    matrix: {{ A: [{values}], B: [{values}] }}\n    parallel: 64\n    script: [x]\n"
        ));
    }
    assert!(out.len() < 5_000);
    out
}

/// The largest a server takes by default: 1,000 jobs, 930 of them needing 64 shards each and
/// 6 needing those 930, with labels.
fn largest() -> String {
    let values: Vec<String> = (0..15).map(|v| v.to_string()).collect();
    let mut out = format!(
        "env: {{ image: busybox }}\njobs:\n  build:\n    parallel: 64\n    runs_on: [linux, x86]\n    script: [x]\n  test:\n    needs: build\n    matrix: {{ PART: [{}] }}\n    parallel: 62\n    runs_on: linux\n    script: [x]\n",
        values.join(", ")
    );
    for k in 0..6 {
        out.push_str(&format!("  report{k}:\n    needs: test\n    script: [x]\n"));
    }
    out
}

const SMALL: &str = "env: { image: busybox }\njobs:\n  long:\n    script: [sleep 600]\n";

/// Commits `pipeline` on a new branch of the fleet's repository.
fn push_branch(fleet: &Fleet, branch: &str, pipeline: &str) {
    let work = fleet.dir.path().join("work");
    git(&work, &["checkout", "-q", "-B", branch, "main"]);
    std::fs::write(work.join(".railyard.yml"), pipeline).unwrap();
    git(&work, &["commit", "-qam", branch]);
    git(&work, &["push", "-q", "../repo.git", branch]);
    git(&work, &["checkout", "-q", "main"]);
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

fn trigger_ref(fleet: &Fleet, project: &str, git_ref: &str) -> (u16, String, Duration) {
    let started = Instant::now();
    let (status, body) = http(
        &fleet.url,
        "POST",
        &format!("/api/v1/projects/{project}/trigger"),
        Some(ADMIN),
        &format!("{{\"ref\": \"{git_ref}\"}}"),
    );
    (status, body, started.elapsed())
}

/// Another project's job held by an agent of ours, its lease renewed every 20 ms while the
/// big project triggers: (status, time) of every heartbeat.
struct Beats {
    stop: Arc<AtomicBool>,
    beats: std::thread::JoinHandle<Vec<(u16, Duration, String)>>,
}

impl Beats {
    fn start(fleet: &Fleet) -> Beats {
        fleet.cli_ok(&["project", "add", "other", "--repo", &fleet.repo_url()]);
        let (status, body, _) = trigger_ref(fleet, "other", "small");
        assert_eq!(status, 201, "{body}");
        let (status, body) = http(
            &fleet.url,
            "POST",
            "/api/v1/agents/register",
            Some(AGENT),
            r#"{"name": "beating", "slots": 1}"#,
        );
        assert_eq!(status, 200, "{body}");
        let agent = json(&body)["agent_id"].as_str().unwrap().to_owned();
        let (status, body) = http(
            &fleet.url,
            "POST",
            "/api/v1/agents/claim",
            Some(AGENT),
            &format!(r#"{{"agent_id": "{agent}", "wait_ms": 10000}}"#),
        );
        assert_eq!(status, 200, "{body}");
        let claim = json(&body);
        assert_eq!(claim["project"], "other", "{claim}");
        let path = format!(
            "/api/v1/jobs/{}/heartbeat",
            claim["job_id"].as_str().unwrap()
        );
        let beat = format!(
            r#"{{"agent_id": "{agent}", "attempt": {}}}"#,
            claim["attempt"]
        );
        let stop = Arc::new(AtomicBool::new(false));
        let url = fleet.url.clone();
        let beats = std::thread::spawn({
            let stop = stop.clone();
            move || {
                let mut out = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    let started = Instant::now();
                    let (status, body) = http(&url, "POST", &path, Some(AGENT), &beat);
                    out.push((status, started.elapsed(), body));
                    std::thread::sleep(Duration::from_millis(20));
                }
                out
            }
        });
        Beats { stop, beats }
    }

    /// Stops beating; asserts that every beat was answered 200 within a third of the
    /// fleet's 3 s lease (an agent's heartbeat gives up after that long); returns the slowest.
    fn check(self) -> Duration {
        std::thread::sleep(Duration::from_millis(200));
        self.stop.store(true, Ordering::SeqCst);
        let beats = self.beats.join().unwrap();
        assert!(beats.len() > 10, "{} heartbeats", beats.len());
        let failed: Vec<_> = beats.iter().filter(|(s, _, _)| *s != 200).collect();
        assert!(failed.is_empty(), "heartbeats refused: {failed:?}");
        let slowest = beats.iter().map(|(_, t, _)| *t).max().unwrap();
        assert!(
            slowest < Duration::from_secs(1),
            "a heartbeat took {slowest:?}: an agent's beat gives up after 1 s"
        );
        slowest
    }
}

#[test]
fn a_trigger_is_capped_and_never_holds_the_database_on_sqlite() {
    capped(Fleet::start(&huge()));
}

#[test]
fn a_trigger_is_capped_and_never_holds_the_database_on_postgres() {
    let Some(db) = PgDb::create() else {
        return;
    };
    capped(Fleet::start_on(&huge(), Some(&db.url)));
}

fn capped(fleet: Fleet) {
    push_branch(&fleet, "small", SMALL);
    push_branch(&fleet, "largest", &largest());
    fleet.cli_ok(&["project", "add", "big", "--repo", &fleet.repo_url()]);
    let beats = Beats::start(&fleet);
    let (huge_status, huge_body, _) = trigger_ref(&fleet, "big", "main");
    let (status, body, took) = trigger_ref(&fleet, "big", "largest");
    let slowest = beats.check();
    eprintln!("largest allowed pipeline triggered in {took:?}; slowest heartbeat {slowest:?}");

    // The 81,920 jobs: refused where the file says it, with the arithmetic; nothing stored.
    assert_eq!(huge_status, 422, "{huge_body}");
    let error = &json(&huge_body)["error"];
    assert_eq!(error["code"], "pipeline", "{error}");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains(
            ".railyard.yml:2:1: too many jobs: 5 jobs × matrix 256 × parallel 64 = 81,920 > 1,000"
        ),
        "{message}"
    );
    // The largest allowed is taken whole.
    assert_eq!(status, 201, "{body}");
    let triggered = json(&body);
    assert_eq!(triggered["jobs"].as_array().unwrap().len(), 1_000);
    let (_, runs) = fleet.get("/api/v1/runs?project=big");
    let runs = json(&runs);
    assert_eq!(runs.as_array().unwrap().len(), 1, "{runs}");
    assert_eq!(runs[0]["id"], triggered["run"]["id"]);
    assert_eq!(runs[0]["ref"], "refs/heads/largest");
    // `railyard trigger` says the same, as bad input.
    let out = output_within(fleet.cli(&["trigger", "big", "--ref", "main"]), 60);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("= 81,920 > 1,000"),
        "{}",
        text(&out.stderr)
    );
}

/// A job named like a shard of another validated, then its trigger failed (500, naming the
/// database file) after recording a run that stayed open for ever; now the file is refused
/// by name, and a store failure in the middle of a trigger leaves nothing and shows no path.
#[test]
fn a_half_made_run_is_never_left() {
    let colliding = "env: { image: busybox }\njobs:\n  \"test [1/2]\": { script: [x] }\n  test:\n    parallel: 2\n    script: [y]\n";
    let labelled = "env: { image: busybox }\njobs:\n  a:\n    runs_on: linux\n    script: [x]\n";
    let fleet = Fleet::start(colliding);
    push_branch(&fleet, "labelled", labelled);
    fleet.cli_ok(&["project", "add", "demo", "--repo", &fleet.repo_url()]);
    let (status, body, _) = trigger_ref(&fleet, "demo", "main");
    assert_eq!(status, 422, "{body}");
    let message = json(&body)["error"]["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains(
            ".railyard.yml:3:3: invalid job name `test [1/2]`: job `test` has `parallel: 2`, \
             and its shards are named `test [1/2]` to `test [2/2]`"
        ),
        "{message}"
    );
    let (_, runs) = fleet.get("/api/v1/runs?project=demo");
    assert_eq!(json(&runs), serde_json::json!([]));

    // The database fails half-way (its labels table gone): the run, its jobs and queue rows
    // go back with it, and the answer names no file of the server.
    let db = fleet.dir.path().join("data").join("railyard.db");
    let out = std::process::Command::new("sqlite3")
        .arg(&db)
        .arg("PRAGMA busy_timeout = 5000; DROP TABLE job_labels;")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (status, body, _) = trigger_ref(&fleet, "demo", "labelled");
    assert_eq!(status, 500, "{body}");
    let error = &json(&body)["error"];
    assert_eq!(error["code"], "internal");
    let message = error["message"].as_str().unwrap();
    let data = fleet.dir.path().to_string_lossy().into_owned();
    assert!(
        !message.contains(&data) && !message.contains("railyard.db"),
        "{message}"
    );
    assert!(
        message.starts_with(
            "the server's database failed while queueing a run; the server's log says why (error "
        ),
        "{message}"
    );
    let id = message
        .split("(error ")
        .nth(1)
        .unwrap()
        .split(')')
        .next()
        .unwrap();
    let log = std::fs::read_to_string(fleet.dir.path().join("server.err")).unwrap();
    assert!(
        log.lines()
            .any(|l| l.contains(id) && l.contains("job_labels")),
        "the log has the cause under {id}: {log}"
    );
    let (_, runs) = fleet.get("/api/v1/runs?project=demo");
    assert_eq!(json(&runs), serde_json::json!([]));
    let (_, metrics) = http(&fleet.url, "GET", "/metrics", None, "");
    assert!(
        !metrics
            .lines()
            .any(|l| l.starts_with("railyard_jobs{project=\"demo\"")),
        "{metrics}"
    );
}

/// The limit is the server's setting: `--max-jobs` (or `max_jobs` in its configuration
/// file), below or above the default.
#[test]
fn the_limit_is_the_servers_to_set() {
    let mut fleet = Fleet::start(
        "env: { image: busybox }\njobs:\n  a: { script: [x] }\n  t: { parallel: 4, script: [x] }\n",
    );
    fleet.cli_ok(&["project", "add", "demo", "--repo", &fleet.repo_url()]);
    fleet.restart_server_with(None, &["--max-jobs", "4"]);
    let (status, body, _) = trigger_ref(&fleet, "demo", "main");
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains("too many jobs: 1 job + 1 job × parallel 4 = 5 > 4"),
        "{body}"
    );
    let config = fleet.dir.path().join("railyard.toml");
    std::fs::write(&config, "[server]\nmax_jobs = 5\n").unwrap();
    fleet.restart_server_with(None, &["--config", config.to_str().unwrap()]);
    let (status, body, _) = trigger_ref(&fleet, "demo", "main");
    assert_eq!(status, 201, "{body}");
    assert_eq!(json(&body)["jobs"].as_array().unwrap().len(), 5);
}
