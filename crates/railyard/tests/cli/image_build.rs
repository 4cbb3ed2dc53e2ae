//! `image_build` through the binary: `railyard run --registry` builds the job's image from
//! its workspace, scans it into the inventory, pushes it to a real registry and records its
//! digest, shown by `railyard runs RUN`; `scan: { fail_on: high }` stops a vulnerable image
//! before its push.

use crate::common::{Project, assert_nothing_left, text};
use railyard_test_support::registry::Registry;
use std::process::Command;

const PIPELINE: &str = "\
env: { image: busybox }
jobs:
  package:
    script:
      - mkdir -p out && echo \"app of run $RAILYARD_RUN_ID\" > out/app.txt
    image_build:
      dockerfile: Dockerfile
      context: .
      tags: [\"app:{run}\"]
      push: true
      scan: { fail_on: high }
";

const ADVISORY: &str = r#"{
  "id": "RY-TEST-0013",
  "modified": "2026-01-01T00:00:00Z",
  "summary": "a test advisory against bash",
  "affected": [{
    "package": { "ecosystem": "Debian:12", "name": "bash" },
    "ranges": [{ "type": "ECOSYSTEM", "events": [{ "introduced": "0" }] }]
  }],
  "database_specific": { "severity": "HIGH" }
}"#;

fn project() -> Project {
    let p = Project::new(PIPELINE);
    p.write(
        "Dockerfile",
        "FROM debian:bookworm-slim\nCOPY out/app.txt /app.txt\n",
    );
    p
}

/// Removes the images this run built (the runner keeps them: they are the job's product).
fn remove_image(reference: &str) {
    let _ = Command::new("docker")
        .args(["rmi", "-f", reference])
        .output();
}

#[test]
fn an_app_image_is_pushed_its_digest_recorded_and_its_packages_inventoried() {
    let Some(registry) = Registry::start() else {
        return;
    };
    let p = project();
    let url = format!("http://{}/ci", registry.host);
    let out = p.run(&["run", "--registry", &url]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("image pushed: "), "{stdout}");

    let runs = p.runs();
    let run_id = runs[0]["id"].as_str().unwrap().to_string();
    assert_nothing_left(&run_id);
    let shown = text(&p.run(&["runs", "1"]).stdout);
    let line = shown
        .lines()
        .find_map(|l| l.strip_prefix("image of package: "))
        .unwrap_or_else(|| panic!("no image line in {shown}"));
    let (reference, digest) = line.split_once('@').unwrap();
    let path = reference
        .strip_prefix(&format!("{}/", registry.host))
        .unwrap();
    let (repository, tag) = path.rsplit_once(':').unwrap();
    assert!(repository.starts_with("ci/"), "{repository}");
    assert!(repository.ends_with("/app"), "{repository}");
    assert_eq!(tag, run_id, "{{run}} is the run's id");
    eprintln!(
        "DEBUG {:?} {:?} {repository:?} {tag:?}",
        registry.tags(repository),
        registry.manifest_digest(repository, tag)
    );
    assert_eq!(registry.tags(repository), vec![tag.to_string()]);
    assert_eq!(
        registry.manifest_digest(repository, tag).as_deref(),
        Some(digest)
    );
    // `runs --json` carries the same record.
    let json: serde_json::Value =
        serde_json::from_slice(&p.run(&["runs", "1", "--json"]).stdout).unwrap();
    let job = &json["jobs"][0];
    assert_eq!(job["image"]["reference"], reference);
    assert_eq!(job["image"]["digest"], digest);
    // Scanned into the inventory under its reference: who has bash names the app image.
    let who = text(&p.run(&["inventory", "who-has", "bash"]).stdout);
    assert!(who.contains(reference), "{who}");
    remove_image(reference);
}

#[test]
fn a_vulnerable_app_image_is_stopped_before_its_push() {
    let Some(registry) = Registry::start() else {
        return;
    };
    let p = project();
    p.write("advisory.json", ADVISORY);
    let import = p.run(&["advisories", "import", "advisory.json"]);
    assert!(import.status.success(), "{}", text(&import.stderr));
    let url = format!("http://{}/ci", registry.host);
    let out = p.run(&["run", "--registry", &url]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("RY-TEST-0013")
            && stdout.contains("image_build.scan.fail_on")
            && stdout.contains("the image was not pushed"),
        "{stdout}"
    );
    let runs = p.runs();
    let run_id = runs[0]["id"].as_str().unwrap().to_string();
    assert_nothing_left(&run_id);
    let shown = text(&p.run(&["runs", "1"]).stdout);
    assert!(!shown.contains("image of package"), "{shown}");
    // Nothing reached the registry: its catalog is empty.
    assert_eq!(registry.repositories(), Vec::<String>::new());
    // Built and scanned here, never pushed: removed by the label of its tag.
    let ids = Command::new("docker")
        .args([
            "images",
            "-q",
            "--filter",
            &format!("label=io.railyard.app-image=app:{run_id}"),
        ])
        .output()
        .unwrap();
    for id in text(&ids.stdout).lines() {
        remove_image(id);
    }
}

#[test]
fn push_without_a_registry_tells_the_user_to_pass_one() {
    let p = project();
    let out = p.run(&["run"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("pass `--registry http://HOST:PORT/PREFIX`"),
        "{stdout}"
    );
}
