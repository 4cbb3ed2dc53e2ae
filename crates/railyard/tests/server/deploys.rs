//! Deploy jobs on a fleet (issue 13): two runs' deploy jobs in one `concurrency` group, on an
//! agent with slots enough to run them together, never overlap (checked from the start and
//! end times the server recorded), across two projects; `railyard deployments production`
//! lists each with its run and how it ended.

use crate::fleet::*;

const PIPELINE: &str = "env: { image: busybox }
jobs:
  deploy:
    concurrency: production
    environment: production
    script:
      - echo deploying
      - sleep 2
";

/// Triggers a run of `project` (added with the fleet's repository if new); its run ID.
fn trigger_project(fleet: &Fleet, project: &str) -> String {
    let list = fleet.cli_ok(&["project", "list", "--json"]);
    if !list.contains(&format!("\"{project}\"")) {
        fleet.cli_ok(&["project", "add", project, "--repo", &fleet.repo_url()]);
    }
    let out = fleet.cli_ok(&["trigger", project, "--ref", "main", "--json"]);
    let triggered: serde_json::Value = serde_json::from_str(&out).unwrap();
    triggered["run"]["id"].as_str().unwrap().to_string()
}

#[test]
fn deploys_of_one_group_never_overlap_and_are_listed() {
    deploys_never_overlap(None);
}

/// The same on PostgreSQL, where the claim is `FOR UPDATE SKIP LOCKED` and the lock the
/// database's unique index.
#[test]
fn deploys_of_one_group_never_overlap_and_are_listed_on_postgres() {
    let Some(db) = PgDb::create() else {
        return;
    };
    deploys_never_overlap(Some(&db.url));
}

fn deploys_never_overlap(database: Option<&str>) {
    let mut fleet = Fleet::start_on(PIPELINE, database);
    let runs = [
        trigger_project(&fleet, "shop"),
        trigger_project(&fleet, "shop"),
        trigger_project(&fleet, "blog"),
    ];
    // Slots for all three at once: only the lock keeps them apart.
    fleet.agent_with_slots("deployer", 3);
    // While one deploys, a waiting one says why.
    let waiting = wait_for_a_waiting_deploy(&fleet, &runs);
    assert!(
        waiting.starts_with("concurrency group `production` is held by `deploy` of run "),
        "{waiting}"
    );
    let mut spans = Vec::new();
    for run in &runs {
        let detail = fleet.wait_success(run, 240);
        let job = &detail["jobs"][0];
        assert_eq!(job["name"], "deploy", "{detail}");
        let (start, end) = (job["started_at"].as_i64(), job["finished_at"].as_i64());
        spans.push((start.unwrap(), end.unwrap(), run.clone()));
    }
    spans.sort();
    for pair in spans.windows(2) {
        assert!(
            pair[0].1 <= pair[1].0,
            "deploys overlapped: {pair:?}\n{}",
            fleet.diagnostics()
        );
    }

    let listed = fleet.cli_ok(&["deployments", "production", "--json"]);
    let listed: Vec<serde_json::Value> = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed.len(), 3, "{listed:?}");
    for run in &runs {
        let d = listed
            .iter()
            .find(|d| d["run_id"] == run.as_str())
            .unwrap_or_else(|| panic!("run {run} not listed: {listed:?}"));
        assert_eq!(d["job"], "deploy");
        assert_eq!(d["status"], "success");
        assert!(d["ended_at"].as_i64() >= d["started_at"].as_i64(), "{d}");
    }
    let table = fleet.cli_ok(&["deployments", "production"]);
    for run in &runs {
        assert!(table.contains(run.as_str()), "{table}");
    }
    assert!(table.contains("shop") && table.contains("blog"), "{table}");
    let none = fleet.cli_ok(&["deployments", "staging"]);
    assert!(none.contains("nothing deployed to `staging` yet"), "{none}");
    for run in &runs {
        assert_nothing_left(run);
    }
}

/// Polls the runs until one's deploy job says why it waits; its note.
fn wait_for_a_waiting_deploy(fleet: &Fleet, runs: &[String]) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        for run in runs {
            let (status, body) = fleet.get(&format!("/api/v1/runs/{run}"));
            assert_eq!(status, 200, "{body}");
            let detail: serde_json::Value = serde_json::from_str(&body).unwrap();
            if let Some(note) = detail["jobs"][0]["waiting"].as_str() {
                return note.to_string();
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no deploy said why it waits\n{}",
            fleet.diagnostics()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// A deploy after an `image_build` job it needs, on an agent pushing to a real registry: the
/// deployment records the image that job pushed, reference and digest as the registry has it.
#[test]
fn a_deployment_records_the_image_its_needs_pushed() {
    let Some(registry) = railyard_test_support::registry::Registry::start() else {
        return;
    };
    let pipeline = r#"env: { image: busybox }
jobs:
  package:
    script: ["mkdir -p out && echo app > out/app.txt"]
    image_build: { dockerfile: Dockerfile, tags: ["app:{run}"], push: true }
  deploy:
    needs: [package]
    concurrency: production
    environment: production
    script: [echo deploying]
"#;
    let mut fleet = Fleet::start(pipeline);
    fleet.push_file("Dockerfile", "FROM busybox\nCOPY out/app.txt /app.txt\n");
    let url = format!("http://{}/ship", registry.host);
    fleet.agent_with("shipper", &["--registry", &url]);
    let run = trigger(&fleet);
    let _images = railyard_test_support::docker::RemoveImages::new([
        format!("{}/ship/demo/app:{run}", registry.host),
        format!("demo/app:{run}"),
    ]);
    let detail = fleet.wait_success(&run, 180);
    assert_nothing_left(&run);
    let package = (detail["jobs"].as_array().unwrap().iter())
        .find(|j| j["name"] == "package")
        .unwrap();
    let reference = package["image"]["reference"].as_str().expect("an image");
    let digest = package["image"]["digest"].as_str().expect("a digest");
    assert_eq!(
        registry.manifest_digest("ship/demo/app", &run).as_deref(),
        Some(digest)
    );

    let listed = fleet.cli_ok(&["deployments", "production", "--json"]);
    let listed: Vec<serde_json::Value> = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["run_id"], run.as_str());
    assert_eq!(listed[0]["image"], reference);
    assert_eq!(listed[0]["image_digest"], digest);
    let table = fleet.cli_ok(&["deployments", "production"]);
    assert!(table.contains(&format!("{reference}@{digest}")), "{table}");
}

/// `cancel_pending` on a server: while one deploy runs, a second waits for the lock; a third
/// run's deploy drops the second (cancelled, `superseded by run …`, its run cancelled) and
/// goes out after the first.
#[test]
fn a_newer_deploy_drops_the_older_waiting_one() {
    let pipeline = "env: { image: busybox }
jobs:
  deploy:
    concurrency: { group: production, cancel_pending: true }
    environment: production
    script: [sleep 5]
";
    let mut fleet = Fleet::start(pipeline);
    // The first deploy holds the lock for 5 s: time enough to trigger the next two.
    fleet.agent_with_slots("deployer", 2);
    let first = trigger_project(&fleet, "shop");
    wait_for_job_status(&fleet, &first, "running");
    let second = trigger_project(&fleet, "shop");
    let third = trigger_project(&fleet, "shop");
    let dropped = fleet.wait_ended_as(&second, 120, "cancelled");
    let job = &dropped["jobs"][0];
    assert_eq!(job["status"], "cancelled", "{dropped}");
    assert_eq!(
        job["error"],
        format!("superseded by run {third}"),
        "{dropped}"
    );
    fleet.wait_success(&first, 120);
    fleet.wait_success(&third, 120);
    let listed = fleet.cli_ok(&["deployments", "production", "--json"]);
    let listed: Vec<serde_json::Value> = serde_json::from_str(&listed).unwrap();
    let runs: Vec<&str> = listed.iter().filter_map(|d| d["run_id"].as_str()).collect();
    assert_eq!(
        runs,
        [third.as_str(), first.as_str()],
        "newest first: {listed:?}"
    );
    for run in [&first, &second, &third] {
        assert_nothing_left(run);
    }
}

/// Polls the run until its first job has `status`.
fn wait_for_job_status(fleet: &Fleet, run: &str, status: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let (code, body) = fleet.get(&format!("/api/v1/runs/{run}"));
        assert_eq!(code, 200, "{body}");
        let detail: serde_json::Value = serde_json::from_str(&body).unwrap();
        if detail["jobs"][0]["status"] == status {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "run {run}'s job never {status}: {body}\n{}",
            fleet.diagnostics()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
