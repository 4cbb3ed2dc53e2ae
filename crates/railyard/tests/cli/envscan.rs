//! `env.scan`: env images a run builds are scanned and stored; `fail_on` stops the run
//! before any job starts when a known vulnerability of that severity hits the image.

use crate::common::{Project, text};

const PIPELINE: &str = "env:\n  dockerfile: ci/Dockerfile\n  scan: { fail_on: high }\njobs:\n  build:\n    script: [echo job ran]\n";

const ADVISORY: &str = r#"{
  "id": "RY-TEST-0001",
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
        "ci/Dockerfile",
        "FROM debian:bookworm-slim\nRUN echo built > /built\n",
    );
    p
}

#[test]
fn a_clean_env_image_is_scanned_and_the_jobs_run() {
    let p = project();
    let out = p.run(&["run"]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(
        stdout.contains("scanned: ") && stdout.contains("0 known vulnerabilities"),
        "{stdout}"
    );
    assert!(stdout.contains("job ran"), "{stdout}");
    // The scan is stored: the inventory knows which image holds bash.
    let who = p.run(&["inventory", "who-has", "bash"]);
    assert!(text(&who.stdout).contains("bash"), "{}", text(&who.stdout));
}

#[test]
fn a_vulnerable_env_image_fails_the_run_before_any_job_starts() {
    let p = project();
    p.write("advisory.json", ADVISORY);
    let import = p.run(&["advisories", "import", "advisory.json"]);
    assert!(import.status.success(), "{}", text(&import.stderr));
    let out = p.run(&["run"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("RY-TEST-0001") && stdout.contains("no job was started"),
        "{stdout}"
    );
    assert!(!stdout.contains("job ran"), "{stdout}");
}
