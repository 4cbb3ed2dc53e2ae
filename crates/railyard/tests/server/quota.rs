//! A project's artifact quota on the fleet: a job whose artifact would take its project over
//! the quota fails, its error and log naming the project, the quota and what to do, and
//! nothing of the file is stored.

use crate::fleet::*;

const PIPELINE: &str = r#"env: { image: busybox }
jobs:
  build:
    script:
      - head -c 3000 /dev/zero > big.bin
    artifacts: [big.bin]
"#;

#[test]
fn a_job_whose_artifact_passes_its_projects_quota_fails_naming_it() {
    let mut fleet = Fleet::start(PIPELINE);
    let repo = fleet.repo_url();
    let added = fleet.cli_ok(&[
        "project",
        "add",
        "demo",
        "--repo",
        &repo,
        "--quota-bytes",
        "1000",
    ]);
    assert!(added.contains("added project demo"), "{added}");
    let listed = fleet.cli_ok(&["project", "list", "--json"]);
    assert!(listed.contains(r#""quota_bytes": 1000"#), "{listed}");
    fleet.agent("q");
    let out = output_within(
        fleet.cli(&["trigger", "demo", "--ref", "main", "--json"]),
        60,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let triggered: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let run = triggered["run"]["id"].as_str().unwrap().to_string();
    let detail = fleet.wait_ended_as(&run, 180, "failed");
    let build = &detail["jobs"][0];
    let error = build["error"].as_str().unwrap_or_default();
    for says in [
        "uploading artifacts",
        "project `demo` is over its storage quota",
        "of its 1000",
        "--quota-bytes",
    ] {
        assert!(error.contains(says), "`{says}` in {build}");
    }
    let log = fleet.log(&run, "build");
    assert!(log.contains("over its storage quota"), "{log}");
    let (status, body) = fleet.get(&format!("/api/v1/runs/{run}/artifacts/build"));
    assert_eq!((status, body.as_str()), (200, "[]"), "nothing of it stored");
}
