//! A project's life on a real server and agent: a repository the server cannot read is
//! refused when the project is added (422, git's words, credentials masked, nothing stored,
//! nothing run by a hostile URL); a run no agent took yet reads `queued`, then `running`;
//! `railyard project remove` is refused while a run is unfinished, and with `--force` stops
//! it, deletes the project's runs, logs and mirror, and the name starts over.

use crate::fleet::*;

const QUICK: &str = "env: { image: busybox }\njobs:\n  only:\n    script:\n      - echo started\n      - sleep 2\n      - echo finished\n";
const LONG: &str = "env: { image: busybox }\njobs:\n  only:\n    script:\n      - echo started\n      - sleep 60\n";

#[test]
fn projects_are_checked_queued_and_removed() {
    story(Fleet::start(QUICK));
}

/// The same on PostgreSQL, when `RAILYARD_TEST_POSTGRES_URL` is set.
#[test]
fn projects_are_checked_queued_and_removed_on_postgres() {
    let Some(db) = PgDb::create() else {
        return;
    };
    story(Fleet::start_on(QUICK, Some(&db.url)));
}

/// Runs the CLI, expecting it to fail as bad input (exit 2); returns its stderr.
fn refused(fleet: &Fleet, args: &[&str]) -> String {
    let out = output_within(fleet.cli(args), 90);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    stderr
}

fn trigger_json(fleet: &Fleet) -> serde_json::Value {
    let out = fleet.cli_ok(&["trigger", "demo", "--json"]);
    serde_json::from_str(&out).unwrap()
}

fn story(mut fleet: Fleet) {
    // Item 10: checked when added. A hostile URL runs nothing (no `--upload-pack`, no `ext::`).
    let pwned = fleet.dir.path().join("pwned");
    let upload_pack = format!("--repo=--upload-pack=touch {}", pwned.display());
    let ext = format!("--repo=ext::sh -c touch% {}", pwned.display());
    for (repo, said) in [
        (
            "--repo=file:///nonexistent.git",
            "cannot read the repository file:///nonexistent.git: git says: fatal: \
             '/nonexistent.git' does not appear to be a git repository",
        ),
        (upload_pack.as_str(), "strange pathname"),
        (ext.as_str(), "transport 'ext' not allowed"),
    ] {
        let stderr = refused(&fleet, &["project", "add", "bad", repo]);
        assert!(
            stderr.contains("422") && stderr.contains(said),
            "{repo}: {stderr}"
        );
        assert!(
            stderr.contains("check the URL") && !stderr.contains("s3cret"),
            "{stderr}"
        );
    }
    assert!(!pwned.exists(), "a repository URL ran a command");
    // A credential in the URL is kept only as a sealed secret: without a secrets key it is
    // refused before git sees it, and the refusal never shows it.
    let stderr = refused(
        &fleet,
        &[
            "project",
            "add",
            "bad",
            "--repo=https://bob:s3cret@127.0.0.1:1/r.git",
        ],
    );
    assert!(
        stderr.contains("400")
            && stderr.contains("carries a credential")
            && !stderr.contains("s3cret"),
        "{stderr}"
    );
    let body = r#"{"name": "bad", "repo": "file:///nonexistent.git"}"#;
    let (status, answer) = http(&fleet.url, "POST", "/api/v1/projects", Some(ADMIN), body);
    assert_eq!(status, 422, "{answer}");
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["error"]["code"], "git", "{answer}");
    assert_eq!(fleet.cli_ok(&["project", "list", "--json"]).trim(), "[]");

    // Item 11: queued until an agent takes a job, then running, then done.
    fleet.cli_ok(&["project", "add", "demo", "--repo", &fleet.repo_url()]);
    let first = trigger_json(&fleet);
    let run = first["run"]["id"].as_str().unwrap().to_string();
    assert_eq!(first["run"]["status"], "queued", "{first}");
    let shown = fleet.cli_ok(&["runs", &run]);
    let commit = first["run"]["commit"].as_str().unwrap();
    let started = shown
        .split_once(", started ")
        .unwrap()
        .1
        .lines()
        .next()
        .unwrap();
    let shown = shown
        .replace(&run, "<run id>")
        .replace(&commit[..10], "<commit>")
        .replace(started, "<time>");
    insta::assert_snapshot!("queued_run", shown);
    let listed = fleet.cli_ok(&["runs", "--json"]);
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed[0]["status"], "queued", "{listed}");
    fleet.agent("one");
    fleet.wait_for_log(&run, "only", "$ sleep 2");
    let (_, detail) = fleet.get(&format!("/api/v1/runs/{run}"));
    let detail: serde_json::Value = serde_json::from_str(&detail).unwrap();
    assert_eq!(detail["run"]["status"], "running", "{detail}");
    fleet.wait_success(&run, 120);

    // Item 10: removal waits for unfinished runs unless forced; forced, it stops them.
    fleet.push_file(".railyard.yml", LONG);
    let second = trigger_json(&fleet)["run"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    fleet.wait_for_log(&second, "only", "$ sleep 60");
    let stderr = refused(&fleet, &["project", "remove", "demo"]);
    assert!(
        stderr.contains("409") && stderr.contains("1 unfinished run(s) (#2)"),
        "{stderr}"
    );
    assert!(stderr.contains("--force"), "{stderr}");
    assert_eq!(fleet.get(&format!("/api/v1/runs/{second}")).0, 200);
    let removed = fleet.cli_ok(&["project", "remove", "demo", "--force"]);
    assert_eq!(
        removed.trim(),
        "removed project demo: 2 run(s) deleted with their logs and artifacts, \
         1 of them unfinished and stopped"
    );
    for id in [&run, &second] {
        assert_eq!(fleet.get(&format!("/api/v1/runs/{id}")).0, 404);
        assert_eq!(fleet.get(&format!("/api/v1/runs/{id}/logs/only")).0, 404);
    }
    assert_eq!(fleet.cli_ok(&["project", "list", "--json"]).trim(), "[]");
    let mirror = fleet.dir.path().join("data/mirrors/demo.git");
    assert!(!mirror.exists(), "{} is left", mirror.display());
    let stderr = refused(&fleet, &["project", "remove", "demo"]);
    assert!(stderr.contains("project `demo` not found"), "{stderr}");

    // The agent dropped the stopped job (its slot takes the next one); the name starts over.
    fleet.push_file(".railyard.yml", QUICK);
    fleet.cli_ok(&["project", "add", "demo", "--repo", &fleet.repo_url()]);
    let again = trigger_json(&fleet);
    assert_eq!(again["run"]["number"], 1, "{again}");
    let third = again["run"]["id"].as_str().unwrap().to_string();
    fleet.wait_success(&third, 120);
    assert_nothing_left(&second);
    assert_nothing_left(&run);
    let removed = fleet.cli_ok(&["project", "remove", "demo"]);
    assert_eq!(
        removed.trim(),
        "removed project demo: 1 run(s) deleted with their logs and artifacts"
    );
    assert_nothing_left(&third);
}
