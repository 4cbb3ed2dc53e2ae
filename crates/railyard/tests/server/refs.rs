//! A fleet job sees the ref its run was triggered for as `RAILYARD_REF` (it was set only in
//! local runs): the full name of the branch or tag a trigger or push named, none for a bare
//! commit. The run keeps it (`ref` in the API).

use railyard_test_support::http::request;

use crate::fleet::*;

const PIPELINE: &str = "env: { image: busybox }\njobs:\n  show:\n    script: ['echo \"ref=[${RAILYARD_REF-unset}] commit=[$RAILYARD_COMMIT]\"']\n";
const SECRET: &str = "hook-secret";

/// Runs `railyard trigger demo [--ref REF]`, waits for the run; returns its detail and the
/// line the job printed.
fn triggered(fleet: &Fleet, git_ref: Option<&str>) -> (serde_json::Value, String) {
    let mut args = vec!["trigger", "demo", "--json"];
    if let Some(r) = git_ref {
        args.extend(["--ref", r]);
    }
    let out: serde_json::Value = serde_json::from_str(&fleet.cli_ok(&args)).unwrap();
    shown(fleet, out["run"]["id"].as_str().unwrap())
}

fn shown(fleet: &Fleet, run: &str) -> (serde_json::Value, String) {
    let detail = fleet.wait_success(run, 120);
    let log = fleet.log(run, "show");
    let line = log
        .lines()
        .find(|l| l.starts_with("ref="))
        .unwrap_or_else(|| panic!("{log}"))
        .to_owned();
    (detail, line)
}

/// A GitLab push delivery (the secret as a token).
fn push(fleet: &Fleet, payload: &str) -> (u16, String) {
    let headers = [
        ("X-Gitlab-Token", SECRET),
        ("X-Gitlab-Event", "Push Hook"),
        ("Content-Type", "application/json"),
    ];
    let path = "/api/v1/projects/demo/webhook";
    let reply = request(&fleet.url, "POST", path, &headers, payload);
    (reply.status, reply.body)
}

#[test]
fn fleet_jobs_see_the_ref_of_their_run() {
    let mut fleet = Fleet::start(PIPELINE);
    let work = fleet.dir.path().join("work");
    git(&work, &["tag", "v1"]);
    git(&work, &["push", "-q", "../repo.git", "v1"]);
    let out = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(&work)
        .output()
        .unwrap();
    let commit = text(&out.stdout).trim().to_owned();
    fleet.cli_ok(&[
        "project",
        "add",
        "demo",
        "--repo",
        &fleet.repo_url(),
        "--webhook-secret",
        SECRET,
    ]);
    fleet.agent("a");

    for (given, expected) in [
        (Some("main"), Some("refs/heads/main")),
        (Some("v1"), Some("refs/tags/v1")),
        // The repository's default branch.
        (None, Some("refs/heads/main")),
        (Some(commit.as_str()), None),
    ] {
        let (detail, line) = triggered(&fleet, given);
        let seen = expected.unwrap_or("unset");
        assert_eq!(line, format!("ref=[{seen}] commit=[{commit}]"), "{given:?}");
        match expected {
            Some(r) => assert_eq!(detail["run"]["ref"], r, "{detail}"),
            None => assert!(detail["run"].get("ref").is_none(), "{detail}"),
        }
    }

    // A push names its ref; one that is no ref name is not passed on.
    for (pushed, expected) in [
        ("refs/heads/main", "refs/heads/main"),
        ("refs/heads/x\nEVIL=1", "unset"),
    ] {
        let payload = serde_json::json!({"ref": pushed, "after": commit}).to_string();
        let (status, body) = push(&fleet, &payload);
        assert_eq!(status, 201, "{body}");
        let run: serde_json::Value = serde_json::from_str(&body).unwrap();
        let (_, line) = shown(&fleet, run["run"]["id"].as_str().unwrap());
        assert_eq!(line, format!("ref=[{expected}] commit=[{commit}]"));
    }
}
