//! `image_build` on the fleet: an agent started with `--registry` builds the job's image from
//! its workspace after its steps, pushes it to a real registry, and reports the reference and
//! digest with the job's result; the server stores them on the job and shows them.

use crate::fleet::*;
use railyard_test_support::registry::Registry;

const PIPELINE: &str = r#"env: { image: busybox }
jobs:
  package:
    script: ["mkdir -p out && echo \"fleet $RAILYARD_RUN_ID\" > out/app.txt"]
    image_build:
      dockerfile: Dockerfile
      tags: ["app:{run}"]
      push: true
"#;

#[test]
fn an_agent_pushes_the_image_and_the_server_records_its_digest() {
    pushes_and_records(None);
}

/// The same on PostgreSQL (migration 0020's columns there).
#[test]
fn an_agent_pushes_the_image_and_the_server_records_its_digest_on_postgres() {
    let Some(db) = PgDb::create() else {
        return;
    };
    pushes_and_records(Some(&db.url));
}

fn pushes_and_records(database: Option<&str>) {
    let Some(registry) = Registry::start() else {
        return;
    };
    let mut fleet = Fleet::start_on(PIPELINE, database);
    fleet.push_file("Dockerfile", "FROM busybox\nCOPY out/app.txt /app.txt\n");
    let url = format!("http://{}/fleet", registry.host);
    fleet.agent_with("one", &["--registry", &url]);
    let run = trigger(&fleet);
    fleet.wait_success(&run, 180);
    assert_nothing_left(&run);

    let (status, body) = fleet.get(&format!("/api/v1/runs/{run}"));
    assert_eq!(status, 200, "{body}");
    let detail: serde_json::Value = serde_json::from_str(&body).unwrap();
    let job = &detail["jobs"][0];
    let reference = job["image"]["reference"]
        .as_str()
        .expect("an image")
        .to_string();
    let digest = job["image"]["digest"]
        .as_str()
        .expect("a digest")
        .to_string();
    let expected = format!("{}/fleet/demo/app:{run}", registry.host);
    assert_eq!(reference, expected);
    let repository = "fleet/demo/app";
    assert_eq!(registry.tags(repository), vec![run.clone()]);
    assert_eq!(
        registry.manifest_digest(repository, &run).as_deref(),
        Some(digest.as_str())
    );
    let shown = fleet.cli_ok(&["runs", &run]);
    assert!(
        shown.contains(&format!("image of package: {reference}@{digest}")),
        "{shown}"
    );
    let _ = std::process::Command::new("docker")
        .args(["rmi", "-f", &reference])
        .output();
}
