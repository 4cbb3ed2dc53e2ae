//! Re-runs on a real server, agent and CLI: a sharded job's one failed shard is run again
//! alone (`railyard rerun RUN --failed`), then the job that needs it; the other shards are
//! not run again; the first attempt's results and log stay readable. An open run, a run
//! with nothing failed and a viewer are refused. SQLite and PostgreSQL.

use crate::fleet::*;
use crate::people::{as_person, member_of};

/// Shard 2 fails on the run's first attempt only.
const PIPELINE: &str = r#"env: { image: busybox }
jobs:
  build: { script: [echo built] }
  test:
    needs: [build]
    parallel: 3
    script:
      - echo "shard $RAILYARD_SHARD on attempt $RAILYARD_RUN_ATTEMPT"
      - test "$RAILYARD_SHARD" != 2 || test "$RAILYARD_RUN_ATTEMPT" -gt 1
  report: { script: [echo reported], needs: [test] }
"#;

#[test]
fn the_failed_shard_alone_runs_again() {
    failed_shard_again(Fleet::start(PIPELINE));
}

#[test]
fn the_failed_shard_alone_runs_again_on_postgres() {
    let Some(db) = PgDb::create() else {
        return;
    };
    failed_shard_again(Fleet::start_on(PIPELINE, Some(&db.url)));
}

fn job<'a>(detail: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    (detail["jobs"].as_array().unwrap().iter())
        .find(|j| j["name"] == name)
        .unwrap_or_else(|| panic!("no job {name}: {detail}"))
}

fn failed_shard_again(mut fleet: Fleet) {
    let run = trigger(&fleet);
    let alice = member_of(&fleet, "alice", "demo", "developer");
    let vic = member_of(&fleet, "vic", "demo", "viewer");
    // Not finished yet (no agent): refused, saying so.
    let out = as_person(&fleet, &alice, &["rerun", &run, "--failed"]);
    let err = text(&out.stderr);
    assert!(
        !out.status.success() && err.contains("409") && err.contains("has not finished"),
        "{err}"
    );
    fleet.agent("a1");
    let first = fleet.wait_ended_as(&run, 180, "failed");
    assert_eq!(job(&first, "test [2/3]")["status"], "failed", "{first}");
    assert_eq!(job(&first, "report")["status"], "skipped", "{first}");
    let shard_one_ended = job(&first, "test [1/3]")["finished_at"].clone();

    let out = as_person(&fleet, &vic, &["rerun", &run, "--failed"]);
    let err = text(&out.stderr);
    assert!(
        !out.status.success() && err.contains("403") && err.contains("developer"),
        "{err}"
    );
    let out = as_person(&fleet, &alice, &["rerun", &run, "--failed"]);
    let said = text(&out.stdout);
    assert!(out.status.success(), "{}\n{said}", text(&out.stderr));
    assert!(
        said.contains("attempt 2 started: test [2/3], report"),
        "{said}"
    );

    let second = fleet.wait_success(&run, 180);
    assert_eq!(second["run"]["attempt"], 2, "{second}");
    // The other shards kept their first attempt's end: they did not run again.
    assert_eq!(job(&second, "test [1/3]")["finished_at"], shard_one_ended);
    assert!(!fleet.log(&run, "test [1/3]").contains("on attempt 2"));
    assert!(!fleet.log(&run, "build").is_empty());
    // The shard's log holds both attempts; the run's history keeps the first one's end.
    let log = fleet.log(&run, "test [2/3]");
    assert!(log.contains("shard 2 on attempt 1"), "{log}");
    assert!(log.contains("shard 2 on attempt 2"), "{log}");
    assert!(fleet.log(&run, "report").contains("reported"));
    let earlier = second["earlier_attempts"].as_array().unwrap();
    assert!(
        earlier
            .iter()
            .any(|a| a["attempt"] == 1 && a["job"] == "test [2/3]" && a["status"] == "failed"),
        "{second}"
    );

    // Nothing failed any more: a failed-only re-run is refused, naming what to do.
    let out = as_person(&fleet, &alice, &["rerun", &run, "--failed"]);
    let err = text(&out.stderr);
    assert!(
        !out.status.success() && err.contains("409") && err.contains("without"),
        "{err}"
    );
    let audit = fleet.cli_ok(&["audit", "--json"]);
    let entries: Vec<serde_json::Value> = serde_json::from_str(&audit).unwrap();
    assert!(
        (entries.iter()).any(|e| e["actor"] == "user:alice" && e["action"] == "run.rerun"),
        "{audit}"
    );
    drop(fleet);
    assert_nothing_left(&run);
}
