//! The fleet's image inventory end to end: agents scan each env image once into the
//! server's inventory, the server's advisories (imported with `railyard advisories import
//! --server`) are matched there, and `env.scan.fail_on` stops every job of the run before
//! its steps; the CLI's `scan`, `inventory who-has` and `advisories affected` answer from
//! the server.

use crate::fleet::*;

const PIPELINE: &str = r#"env:
  dockerfile: ci/Dockerfile
  scan: { fail_on: high }
jobs:
  one:
    script: ["echo STEP-RAN"]
  two:
    script: ["echo STEP-RAN"]
"#;

/// An advisory against bash, of high severity: every Debian image holds bash.
fn advisory(id: &str, package: &str) -> String {
    serde_json::json!({
        "id": id,
        "modified": "2026-01-01T00:00:00Z",
        "summary": format!("a test advisory against {package}"),
        "affected": [{
            "package": { "ecosystem": "Debian:12", "name": package },
            "ranges": [{ "type": "ECOSYSTEM", "events": [{ "introduced": "0" }] }]
        }],
        "database_specific": { "severity": "HIGH" }
    })
    .to_string()
}

#[test]
fn fail_on_stops_a_fleet_run_with_a_vulnerable_env_image_scanned_once_on_the_server() {
    stops_the_run(None);
}

/// The same on PostgreSQL.
#[test]
fn fail_on_stops_a_fleet_run_with_a_vulnerable_env_image_on_postgres() {
    let Some(db) = PgDb::create() else {
        return;
    };
    stops_the_run(Some(&db.url));
}

fn stops_the_run(database: Option<&str>) {
    let mut fleet = Fleet::start_on(PIPELINE, database);
    // In a folder of its own: a context holding the checkout's `.git` hashes to another key
    // (another image ID) in each checkout. Of this test alone (its own image, removed at
    // the end), since the tests on SQLite and PostgreSQL may run at once.
    let nonce = format!("{}-{}", std::process::id(), database.is_some());
    fleet.push_file(
        "ci/Dockerfile",
        &format!("FROM debian:bookworm-slim\nLABEL test=fleet-scan-{nonce}\n"),
    );
    let bash = fleet.dir.path().join("bash.json");
    std::fs::write(&bash, advisory("RY-TEST-0161", "bash")).unwrap();
    let imported = fleet.cli_ok(&["advisories", "import", bash.to_str().unwrap()]);
    assert!(imported.contains("1 added"), "{imported}");
    fleet.agent("scanner");
    let run = trigger(&fleet);
    let detail = fleet.wait_run(&run, 300);
    let _image = EnvImage(detail["jobs"][0]["env_key"].as_str().map(str::to_owned));
    let (one, two) = (fleet.log(&run, "one"), fleet.log(&run, "two"));
    assert_eq!(detail["run"]["status"], "failed", "{detail}\n{one}\n{two}");
    for (job, log) in [("one", &one), ("two", &two)] {
        assert!(
            log.contains("RY-TEST-0161") && log.contains("env.scan.fail_on"),
            "{job}: {log}"
        );
        assert!(!log.contains("STEP-RAN"), "{job} ran its steps: {log}");
    }
    // The first job scanned the image; the second found it on the server.
    let logs = [&one, &two];
    let scanned = logs.iter().filter(|l| l.contains("(sent to the server)"));
    let reused = (logs.iter()).filter(|l| l.contains("(once already: the server's inventory)"));
    assert_eq!((scanned.count(), reused.count()), (1, 1), "{one}\n{two}");
    for job in detail["jobs"].as_array().unwrap() {
        assert_eq!(job["status"], "failed", "{detail}");
    }
    assert_nothing_left(&run);

    // The inventory is the server's: the CLI answers from it.
    let (status, scans) = fleet.get("/api/v1/scans");
    assert_eq!(status, 200, "{scans}");
    let scans: serde_json::Value = serde_json::from_str(&scans).unwrap();
    assert_eq!(scans.as_array().unwrap().len(), 1, "{scans}");
    assert_eq!(scans[0]["project"], "demo");
    assert_eq!(scans[0]["run_id"], run.as_str());
    let reference = scans[0]["reference"].as_str().unwrap().to_owned();
    assert!(reference.starts_with("railyard-env:"), "{reference}");
    let shown = fleet.cli_ok(&["scan", &reference]);
    assert!(
        shown.contains("bash") && shown.contains("RY-TEST-0161"),
        "{shown}"
    );
    let listed = fleet.cli_ok(&["scan", "--list"]);
    assert!(listed.contains("demo"), "{listed}");
    let holders = fleet.cli_ok(&["inventory", "who-has", "bash"]);
    assert!(holders.contains("of demo"), "{holders}");
    let hit = fleet.cli_ok(&["advisories", "affected", "RY-TEST-0161"]);
    assert!(hit.contains("RY-TEST-0161 (high) hits"), "{hit}");
    // A new advisory against another package of the image: the project is newly affected.
    let dash = fleet.dir.path().join("dash.json");
    std::fs::write(&dash, advisory("RY-TEST-0162", "dash")).unwrap();
    let imported = fleet.cli_ok(&["advisories", "import", dash.to_str().unwrap()]);
    assert!(
        imported.contains(&format!(
            "newly affected: demo by RY-TEST-0162 in {reference}"
        )),
        "{imported}"
    );
    let again = fleet.cli_ok(&["advisories", "import", dash.to_str().unwrap()]);
    assert!(!again.contains("newly affected"), "{again}");
}

/// Removes the env image of this key, whatever the test's end.
struct EnvImage(Option<String>);

impl Drop for EnvImage {
    fn drop(&mut self) {
        let Some(key) = &self.0 else { return };
        let filter = format!("label=io.railyard.env-key={key}");
        let listed = std::process::Command::new("docker")
            .args(["images", "-q", "--filter", &filter])
            .output();
        for id in listed.iter().flat_map(|o| {
            text(&o.stdout)
                .split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        }) {
            let _ = std::process::Command::new("docker")
                .args(["rmi", "-f", &id])
                .output();
        }
    }
}
