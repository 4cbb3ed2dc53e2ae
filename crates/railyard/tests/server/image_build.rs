//! `image_build` on the fleet: an agent started with `--registry` builds the job's image from
//! its workspace after its steps, pushes it to a real registry, and reports the reference and
//! digest with the job's result; the server stores them on the job and shows them.

use crate::fleet::*;
use railyard_test_support::docker::RemoveImages;
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
    // Removed however the test ends: the pushed reference and the local tag.
    let _images = RemoveImages::new([
        format!("{}/fleet/demo/app:{run}", registry.host),
        format!("demo/app:{run}"),
    ]);
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
}

const SCANNED: &str = r#"env: { image: busybox }
jobs:
  package:
    script: ["mkdir -p out && echo fleet > out/app.txt"]
    image_build:
      dockerfile: Dockerfile
      tags: ["app:{run}"]
      push: true
      scan: { fail_on: high }
"#;

/// An advisory against bash, of high severity: every Debian image holds bash.
const ADVISORY: &str = r#"{
  "id": "RY-TEST-0113",
  "modified": "2026-01-01T00:00:00Z",
  "summary": "a test advisory against bash",
  "affected": [{
    "package": { "ecosystem": "Debian:12", "name": "bash" },
    "ranges": [{ "type": "ECOSYSTEM", "events": [{ "introduced": "0" }] }]
  }],
  "database_specific": { "severity": "HIGH" }
}"#;

/// On an agent, as in a local run, the image is scanned into the server's inventory with the
/// advisories imported there, and `scan.fail_on` stops the job before its push.
#[test]
fn an_agent_stops_a_vulnerable_image_before_its_push() {
    let Some(registry) = Registry::start() else {
        return;
    };
    let mut fleet = Fleet::start(SCANNED);
    fleet.push_file(
        "Dockerfile",
        "FROM debian:bookworm-slim\nCOPY out/app.txt /app.txt\n",
    );
    let file = fleet.dir.path().join("advisory.json");
    std::fs::write(&file, ADVISORY).unwrap();
    fleet.cli_ok(&["advisories", "import", file.to_str().unwrap()]);
    let url = format!("http://{}/fleet", registry.host);
    fleet.agent_with("scanner", &["--registry", &url]);
    let run = trigger(&fleet);
    // Built and tagged for the registry, scanned, refused: never pushed, removed here.
    let _images = RemoveImages::new([
        format!("{}/fleet/demo/app:{run}", registry.host),
        format!("demo/app:{run}"),
    ]);
    let detail = fleet.wait_run(&run, 180);
    let log = fleet.log(&run, "package");
    assert_eq!(detail["run"]["status"], "failed", "{detail}\n{log}");
    assert!(
        log.contains("RY-TEST-0113")
            && log.contains("image_build.scan.fail_on")
            && log.contains("the image was not pushed"),
        "{log}"
    );
    assert_eq!(registry.repositories(), Vec::<String>::new());
    assert_nothing_left(&run);
}
