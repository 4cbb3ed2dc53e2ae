//! An agent's job works in a git work tree at the run's commit, fetched to the agent's
//! `--clone-depth`, with files dated as a checkout dates them.

use crate::fleet::*;

const PIPELINE: &str = r#"env: { dockerfile: ci/Dockerfile }
jobs:
  package:
    script:
      - test "$(git rev-parse HEAD)" = "$RAILYARD_COMMIT"
      - echo "describe $(git describe --always)"
      - echo "history $(git rev-list --count HEAD)"
      - python3 -m zipfile -c dist.zip ci
"#;

#[test]
fn an_agents_job_has_the_commit_checked_out_to_its_depth() {
    let mut fleet = Fleet::start(PIPELINE);
    fleet.push_file(
        "ci/Dockerfile",
        include_str!("../fixtures/git-python.Dockerfile"),
    );
    fleet.push_file("ci/notes.txt", "three commits in all\n");
    let work = fleet.dir.path().join("work");
    let out = std::process::Command::new("git")
        .args(["-C", work.to_str().unwrap(), "rev-parse", "--short", "HEAD"])
        .output()
        .unwrap();
    let head = text(&out.stdout).trim().to_string();
    fleet.agent_with("a1", &["--clone-depth", "2"]);
    let run = trigger(&fleet);
    fleet.wait_success(&run, 600);
    let log = fleet.log(&run, "package");
    assert!(log.contains(&format!("describe {head}")), "{log}");
    assert!(log.contains("history 2"), "fetched two commits deep: {log}");
    assert_nothing_left(&run);
}
