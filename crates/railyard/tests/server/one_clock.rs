//! One clock (issue 14): two servers on one PostgreSQL, one of them with a clock 60 s ahead
//! (`faketime`). A job's lease, renewed through the correct server, is not taken by the fast
//! one's sweep: both read lease deadlines by the database's clock, not their host's.

use std::process::Command;

use crate::fleet::*;

/// `sleep 8`: long enough for the fast server's sweep (every second with the 3 s lease) to
/// look at the lease several times while the job runs.
const PIPELINE: &str =
    "env: { image: busybox }\njobs:\n  slow:\n    script: ['sleep 8', 'echo slept']\n";

/// `railyard server` on the fleet's database under `faketime -f +60s`: its clock runs 60 s
/// ahead of the host's (and of PostgreSQL's).
fn fast_server(fleet: &Fleet, database: &str) -> (std::process::Child, String) {
    let mut cmd = Command::new("faketime");
    let home = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("home-{}", std::process::id()));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("NO_COLOR", "1")
        .env("RAILYARD_LOG", "info")
        .env("RAILYARD_HOME", fleet.dir.path().join("fast-data"))
        .args(["-f", "+60s", env!("CARGO_BIN_EXE_railyard"), "server"])
        .args(["--listen", "127.0.0.1:0", "--admin-token", ADMIN])
        .args(["--agent-token", AGENT, "--lease-secs", "3"])
        .args(["--database", database])
        .stderr(std::fs::File::create(fleet.dir.path().join("fast-server.err")).unwrap());
    start_printing_address(&mut cmd)
}

#[test]
fn a_server_whose_clock_runs_ahead_takes_no_lease_renewed_through_another() {
    if Command::new("faketime").arg("--version").output().is_err() {
        railyard_test_support::skip("faketime is not installed (apt-get install faketime)");
        return;
    }
    let Some(db) = PgDb::create() else {
        return;
    };
    let mut fleet = Fleet::start_on(PIPELINE, Some(&db.url));
    let (mut fast, fast_url) = fast_server(&fleet, &db.url);

    // The fast server's clock is ahead: a run it records starts a minute from now.
    let repo = fleet.repo_url();
    fleet.cli_ok(&["project", "add", "demo", "--repo", &repo]);
    let probe = railyard_types::Millis::now().as_i64();
    let (status, body) = http(
        &fast_url,
        "POST",
        "/api/v1/projects/demo/trigger",
        Some(ADMIN),
        r#"{"ref":"main"}"#,
    );
    assert_eq!(status, 201, "{body}");
    let triggered: serde_json::Value = serde_json::from_str(&body).unwrap();
    let started = triggered["run"]["started_at"].as_i64().unwrap();
    assert!(
        started - probe > 50_000,
        "faketime did not move the server's clock: the run started at {started}, {probe} here"
    );
    let run = triggered["run"]["id"].as_str().unwrap().to_string();

    // The agent talks to the correct server only: its heartbeats renew the lease there.
    fleet.agent("a1");
    let detail = fleet.wait_success(&run, 180);
    assert_eq!(detail["run"]["status"], "success", "{detail}");
    let log = fleet.log(&run, "slow");
    assert!(log.contains("slept"), "{log}");
    assert!(
        !log.contains("attempt 2"),
        "the job was handed out again: its lease was taken\n{log}"
    );
    let fast_log =
        std::fs::read_to_string(fleet.dir.path().join("fast-server.err")).unwrap_or_default();
    assert!(
        !fast_log.contains("lease lapsed"),
        "the fast server swept a live lease\n{fast_log}"
    );
    let _ = fast.kill();
    let _ = fast.wait();
    drop(fleet);
    drop(db);
}
