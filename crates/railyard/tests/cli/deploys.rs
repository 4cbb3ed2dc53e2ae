//! Deploy jobs in a local run (issue 13): jobs of one run sharing a `concurrency` group run
//! one at a time however many jobs may run at once (checked from their recorded start and end
//! times), others beside them; `railyard deployments ENV` lists what the jobs with an
//! `environment` deployed, from this machine's run history.

use crate::common::{Project, assert_nothing_left, text};

#[test]
fn jobs_of_one_group_run_one_at_a_time_and_are_listed_as_deployments() {
    let p = Project::new(
        "env: { image: busybox }
jobs:
  eu:
    concurrency: production
    environment: production
    script: [sleep 1]
  us:
    concurrency: { group: production, cancel_pending: true }
    environment: production
    script: [sleep 1]
  docs:
    script: [sleep 1]
",
    );
    let out = p.run(&["run", "-j", "3"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let run = &p.runs()[0];
    let id = run["id"].as_str().unwrap();
    let out = p.run(&["runs", id, "--json"]);
    let detail: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let span = |name: &str| {
        let job = detail["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["name"] == name)
            .unwrap_or_else(|| panic!("no job {name}: {detail}"));
        let (start, end) = (job["started_at"].as_i64(), job["finished_at"].as_i64());
        (start.unwrap(), end.unwrap())
    };
    let (mut eu, mut us) = (span("eu"), span("us"));
    if us < eu {
        std::mem::swap(&mut eu, &mut us);
    }
    assert!(eu.1 <= us.0, "the two deploys overlapped: {detail}");

    let out = p.run(&["deployments", "production", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listed: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let mut jobs: Vec<&str> = listed.iter().map(|d| d["job"].as_str().unwrap()).collect();
    jobs.sort();
    assert_eq!(jobs, ["eu", "us"], "{listed:?}");
    for d in &listed {
        assert_eq!(
            (d["run_id"].as_str(), &d["status"]),
            (Some(id), &"success".into())
        );
    }
    let table = text(&p.run(&["deployments", "production"]).stdout);
    assert!(table.contains(id) && table.contains("eu"), "{table}");
    assert_nothing_left(id);
}
