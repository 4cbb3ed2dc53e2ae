//! Dependency caches on a real server and agent (issue 16): a run of `main` (protected by
//! default) writes the shared cache, on the engine and on the server; a pull request's run
//! starts from a copy, writes only its own scope, and leaves `main`'s cache as it was (the
//! server's archive by its digest, the engine's volume by its bytes); with the engine's
//! volumes gone, each scope restores its own archive from the server.

use std::process::Command;

use serde_json::{Value, json};

use crate::fleet::*;
use crate::forge_events::{Forge, add_project, deliver, forge_only_commit, github_pr};

const PIPELINE: &str = "env: { image: busybox }\njobs:\n  deps:\n    cache:\n      - name: dl\n        key: { files: [lock.txt], prefix: dl- }\n        paths: [.cache/dl]\n    script:\n      - mkdir -p .cache/dl && echo \"seen $RAILYARD_RUN_ID\" >> .cache/dl/runs && cat .cache/dl/runs\n";

/// The server's caches of the project: (scope, key, sha256).
fn server_caches(fleet: &Fleet) -> Vec<(String, String, String)> {
    caches_of(fleet, "demo")
}

/// The server's caches of `project`: (scope, key, sha256).
fn caches_of(fleet: &Fleet, project: &str) -> Vec<(String, String, String)> {
    let (status, body) = fleet.get(&format!("/api/v1/projects/{project}/caches"));
    assert_eq!(status, 200, "{body}");
    let list: Vec<Value> = serde_json::from_str(&body).unwrap();
    let mut out: Vec<_> = list
        .iter()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap().to_owned();
            (s("scope"), s("key"), s("sha256"))
        })
        .collect();
    out.sort();
    out
}

/// The engine's cache volumes of the project: (scope, name).
fn volumes() -> Vec<(String, String)> {
    let out = Command::new("docker")
        .args([
            "volume",
            "ls",
            "--filter",
            "label=io.railyard.project=demo",
            "--filter",
            "label=io.railyard.cache=dl",
            "--format",
            "{{.Label \"io.railyard.cache.scope\"}} {{.Name}}",
        ])
        .output()
        .unwrap();
    let mut v: Vec<(String, String)> = text(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect();
    v.sort();
    v
}

/// The bytes of the `runs` file in a cache volume, read by a throwaway container.
fn volume_runs(volume: &str) -> String {
    let out = Command::new("docker")
        .args([
            "run",
            "--rm",
            "-v",
            &format!("{volume}:/v:ro"),
            "busybox",
            "cat",
            "/v/runs",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
}

/// The run ids a run's job saw in its cache (its own last).
fn seen(fleet: &Fleet, run: &str) -> Vec<String> {
    let log = fleet.log(run, "deps");
    log.lines()
        .filter_map(|l| l.split("seen ").nth(1))
        .map(|s| s.trim().to_owned())
        // Not the step's own command line, shown before its output.
        .filter(|s| s.chars().all(|c| c.is_ascii_alphanumeric()))
        .collect()
}

fn trigger_main(fleet: &Fleet) -> String {
    let out = fleet.cli_ok(&["trigger", "demo", "--ref", "main", "--json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    let run = v["run"]["id"].as_str().unwrap().to_owned();
    fleet.wait_success(&run, 180);
    run
}

fn pull_request(fleet: &Fleet, head: &str, action: &str) -> String {
    let fork = json!({ "full_name": "someone/app" });
    let (status, answer) = deliver(
        fleet,
        Forge::GitHub,
        "pull_request",
        &github_pr(action, 7, head, "main", fork),
    );
    assert_eq!(status, 201, "{answer}\n{}", fleet.diagnostics());
    let run = answer["run"]["id"].as_str().unwrap().to_owned();
    fleet.wait_success(&run, 180);
    run
}

/// Removes the engine's cache volumes of a project when dropped (a failing test too):
/// caches outlive runs by design, and the next test must start without them.
struct EngineCaches(&'static str);

impl Drop for EngineCaches {
    fn drop(&mut self) {
        let project = format!("label=io.railyard.project={}", self.0);
        let out = Command::new("docker")
            .args(["volume", "ls", "-q", "--filter", &project])
            .args(["--filter", "label=io.railyard.cache"])
            .output()
            .unwrap();
        for volume in text(&out.stdout).lines() {
            let _ = Command::new("docker")
                .args(["volume", "rm", volume])
                .output();
        }
    }
}

fn clean_engine_caches(fleet: &Fleet) {
    fleet.cli_ok(&["clean", "--caches", "--project", "demo"]);
    assert!(volumes().is_empty(), "{:?}", volumes());
}

#[test]
fn a_pull_request_reads_mains_cache_and_writes_only_its_own() {
    let _left_over = EngineCaches("demo");
    drop(EngineCaches("demo"));
    let mut fleet = Fleet::start(PIPELINE);
    fleet.push_file("lock.txt", "requests==2.32.3\n");
    add_project(&fleet);
    // A fork's pull request from a branch it named `main`: never the shared scope.
    let head = forge_only_commit(&fleet, &["refs/pull/7/head"]);
    fleet.agent_with("a", &["--clone-depth", "0"]);

    let main = trigger_main(&fleet);
    let log = fleet.log(&main, "deps");
    assert!(log.contains("cache dl: miss (key dl-"), "{log}");
    assert!(log.contains("cache dl: saved to the server"), "{log}");
    let shared = server_caches(&fleet);
    assert_eq!(shared.len(), 1, "{shared:?}");
    assert_eq!(shared[0].0, "shared");
    let engine = volumes();
    assert_eq!(engine.len(), 1, "{engine:?}");
    let main_bytes = volume_runs(&engine[0].1);
    assert_eq!(main_bytes, format!("seen {main}\n"));

    let pr = pull_request(&fleet, &head, "opened");
    let log = fleet.log(&pr, "deps");
    assert!(log.contains("cache dl: copied from shared"), "{log}");
    assert_eq!(seen(&fleet, &pr), vec![main.clone(), pr.clone()]);
    // Main's cache is as it was, on the server (same digest) and on the engine (same bytes);
    // the pull request's is filed apart.
    let after = server_caches(&fleet);
    assert_eq!(after.len(), 2, "{after:?}");
    assert!(after.contains(&shared[0]), "{after:?}");
    assert!(after.iter().any(|c| c.0 == "pr:7"), "{after:?}");
    let engine = volumes();
    let shared_volume = engine.iter().find(|v| v.0 == "shared").unwrap();
    assert_eq!(volume_runs(&shared_volume.1), main_bytes);
    assert!(engine.iter().any(|v| v.0 == "pr:7"), "{engine:?}");

    // Without the engine's volumes, each scope restores its own archive from the server.
    clean_engine_caches(&fleet);
    let main_again = trigger_main(&fleet);
    let log = fleet.log(&main_again, "deps");
    assert!(log.contains("cache dl: restored from the server"), "{log}");
    assert_eq!(
        seen(&fleet, &main_again),
        vec![main.clone(), main_again.clone()]
    );
    clean_engine_caches(&fleet);
    let pr_again = pull_request(&fleet, &head, "reopened");
    let log = fleet.log(&pr_again, "deps");
    assert!(log.contains("of pr:7"), "{log}");
    assert_eq!(seen(&fleet, &pr_again), vec![main, pr, pr_again.clone()]);
    clean_engine_caches(&fleet);
    assert_nothing_left(&pr_again);
}

/// Two jobs, each with a cache of about 600 KiB, the second after the first.
const TWO_CACHES: &str = "env: { image: busybox }\njobs:\n  first:\n    cache: [{ name: one, key: one-v1, paths: [.cache/one] }]\n    script: ['mkdir -p .cache/one && dd if=/dev/urandom of=.cache/one/blob bs=1024 count=600 2>/dev/null']\n  second:\n    needs: [first]\n    cache: [{ name: two, key: two-v1, paths: [.cache/two] }]\n    script: ['mkdir -p .cache/two && dd if=/dev/urandom of=.cache/two/blob bs=1024 count=600 2>/dev/null']\n";

#[test]
fn past_the_budget_the_least_recently_used_cache_is_dropped() {
    // A project of its own: the other test's `demo` caches share this engine.
    let _left_over = EngineCaches("lru");
    let mut fleet = Fleet::start(TWO_CACHES);
    fleet.restart_server_with(None, &["--cache-budget-mb", "1"]);
    fleet.cli_ok(&["project", "add", "lru", "--repo", &fleet.repo_url()]);
    fleet.agent("a");
    let out = fleet.cli_ok(&["trigger", "lru", "--ref", "main", "--json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    let run = v["run"]["id"].as_str().unwrap().to_owned();
    fleet.wait_success(&run, 180);
    assert!(
        fleet
            .log(&run, "first")
            .contains("cache one: saved to the server")
    );
    assert!(
        fleet
            .log(&run, "second")
            .contains("cache two: saved to the server")
    );
    // 1 MiB holds one of them: the older, unused since, went when the second arrived.
    let left: Vec<String> = caches_of(&fleet, "lru").into_iter().map(|c| c.1).collect();
    assert_eq!(left, vec!["two-v1"]);
    fleet.cli_ok(&["clean", "--caches", "--project", "lru"]);
    assert_nothing_left(&run);
}
