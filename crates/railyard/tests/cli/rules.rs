//! `when:` rules in a local `railyard run`: the run's context comes from the work tree's git
//! state (or `--event`), jobs see it as `RAILYARD_*`, and a job whose rule does not match is
//! skipped with the reason, its dependents too, without failing the run.

use crate::common::{Project, assert_nothing_left, text};
use std::process::Command;

const PIPELINE: &str = r#"env: { image: busybox }
jobs:
  context:
    script: ['echo "seen event=$RAILYARD_EVENT branch=${RAILYARD_BRANCH:-none} pr=${RAILYARD_PR:-none} run=$RAILYARD_RUN"']
  pr-only:
    when: { event: pull_request, branch: [main, "release/*"] }
    script: [echo pr-only ran]
  after-pr:
    needs: [pr-only]
    script: [echo after-pr ran]
  push-only:
    when: { event: push }
    script: [echo push-only ran]
"#;

/// The run's jobs as `railyard runs ID --json` shows them: name → (status, error).
fn jobs(p: &Project, id: &str) -> std::collections::HashMap<String, (String, String)> {
    let out = p.run(&["runs", id, "--json"]);
    let detail: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    (detail["jobs"].as_array().unwrap().iter())
        .map(|j| {
            let error = j["error"].as_str().unwrap_or_default().to_owned();
            let name = j["name"].as_str().unwrap().to_owned();
            (name, (j["status"].as_str().unwrap().to_owned(), error))
        })
        .collect()
}

#[test]
fn rules_pick_the_jobs_of_the_work_trees_event_and_of_the_one_pretended() {
    let p = Project::new(PIPELINE);
    let ok = Command::new("git")
        .args(["checkout", "-q", "-b", "main"])
        .current_dir(p.root())
        .status()
        .unwrap();
    assert!(ok.success());

    // A push of `main`: the pull-request job and its dependent skip, with why.
    let out = p.run(&["run"]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("run #1 success"), "{stdout}");
    let runs = p.runs();
    let id = runs[0]["id"].as_str().unwrap().to_owned();
    assert!(
        stdout.contains(&format!("seen event=push branch=main pr=none run={id}")),
        "{stdout}"
    );
    assert!(stdout.contains("push-only ran"), "{stdout}");
    assert!(!stdout.contains("pr-only ran"), "{stdout}");
    let why = "skipped: `when` wants event `pull_request`; this run's is `push`";
    assert!(stdout.contains(why), "the reason is shown: {stdout}");
    let recorded = jobs(&p, &id);
    assert_eq!(recorded["pr-only"], ("skipped".into(), why.into()));
    assert_eq!(
        recorded["after-pr"],
        (
            "skipped".into(),
            "skipped: `pr-only` did not succeed".into()
        )
    );
    assert_eq!(recorded["push-only"].0, "success");
    assert_eq!(runs[0]["status"], "success");
    assert_nothing_left(&id);

    // Pretending a pull request into `main` flips them.
    let out = p.run(&["run", "--event", "pull_request"]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(
        stdout.contains("seen event=pull_request branch=main pr=1 "),
        "{stdout}"
    );
    assert!(stdout.contains("pr-only ran"), "{stdout}");
    assert!(stdout.contains("after-pr ran"), "{stdout}");
    assert!(!stdout.contains("push-only ran"), "{stdout}");
    let id = p.runs()[0]["id"].as_str().unwrap().to_owned();
    let recorded = jobs(&p, &id);
    assert_eq!(
        recorded["push-only"],
        (
            "skipped".into(),
            "skipped: `when` wants event `push`; this run's is `pull_request`".into()
        )
    );
    // A pull request into a branch the rule does not name: skipped for its branch.
    let out = p.run(&["run", "--pr", "9", "--branch", "dev"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("seen event=pull_request branch=dev pr=9 "),
        "{stdout}"
    );
    assert!(
        stdout.contains("skipped: `when` wants branch `main` or `release/*`; this run's is `dev`"),
        "{stdout}"
    );
    assert_nothing_left(&id);
}

#[test]
fn an_unknown_event_is_refused_with_the_events() {
    let p = Project::new(PIPELINE);
    let out = p.run(&["run", "--event", "merge_request"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(
            "unknown event `merge_request`; the events: push, tag, pull_request, schedule, trigger"
        ),
        "{stderr}"
    );
}
