//! Artifacts of `needs` on the fleet: a job gets the files its needs kept, fetched by its
//! agent from the server (checked against their size and digest) although the needs ran on
//! another agent, at the same paths of its workspace; a sharded need's reports all reach it;
//! and what a job fetched is not stored again as its own artifacts.

use crate::fleet::*;

const BUILD_THEN_TEST: &str = r#"env: { image: busybox }
jobs:
  build:
    runs_on: [builder]
    script: ["mkdir -p dist && echo built > dist/app.txt"]
    artifacts: [dist/app.txt]
  test:
    needs: [build]
    runs_on: [tester]
    script: [cat dist/app.txt]
"#;

/// The name of the agent that ran each job of `run` (the queue row keeps the agent that held
/// its last lease), from the server's SQLite file.
fn agents_of(fleet: &Fleet, run: &str) -> Vec<(String, String)> {
    let db = fleet.dir.path().join("data").join("railyard.db");
    let sql = format!(
        "PRAGMA busy_timeout = 5000; SELECT q.job_name, a.name FROM queue q \
         JOIN agents a ON a.id = q.agent_id WHERE q.run_id = '{run}' ORDER BY q.job_name;"
    );
    let out = std::process::Command::new("sqlite3")
        .arg(&db)
        .arg(sql)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('|'))
        .map(|(job, agent)| (job.to_string(), agent.to_string()))
        .collect()
}

#[test]
fn a_needs_artifacts_reach_it_from_another_agent() {
    let (fleet, run) = build_then_test(Fleet::start(BUILD_THEN_TEST));
    assert_eq!(
        agents_of(&fleet, &run),
        [
            ("build".into(), "one".into()),
            ("test".into(), "two".into())
        ],
        "build and test ran on different agents"
    );
}

/// The same on PostgreSQL, where every server reads the artifacts any server stored.
#[test]
fn a_needs_artifacts_reach_it_from_another_agent_on_postgres() {
    let Some(db) = PgDb::create() else {
        return;
    };
    build_then_test(Fleet::start_on(BUILD_THEN_TEST, Some(&db.url)));
}

/// Runs [`BUILD_THEN_TEST`] with `build` on agent `one` and `test` on agent `two` (their
/// `runs_on` labels), and checks that `test` read what `build` made.
fn build_then_test(mut fleet: Fleet) -> (Fleet, String) {
    fleet.agent_with("one", &["--labels", "builder"]);
    fleet.agent_with("two", &["--labels", "tester"]);
    let run = trigger(&fleet);
    fleet.wait_success(&run, 180);
    let log = fleet.log(&run, "test");
    assert!(
        log.contains("[railyard] artifacts of build: 1 file(s), 0.0 MB fetched"),
        "{log}"
    );
    assert!(log.lines().any(|l| l.trim_end() == "built"), "{log}");
    // What test fetched is not its own artifact.
    let (status, body) = fleet.get(&format!("/api/v1/runs/{run}/artifacts/test"));
    assert_eq!((status, body.as_str()), (200, "[]"));
    assert_nothing_left(&run);
    (fleet, run)
}

const SHARDED_REPORTS: &str = r#"env: { image: busybox }
jobs:
  unit:
    parallel: 2
    script:
      - mkdir -p reports/$RAILYARD_SHARD
      - "printf '<testsuite name=\"s%s\"/>\n' $RAILYARD_SHARD > reports/$RAILYARD_SHARD/junit.xml"
    artifacts: [reports]
  report:
    needs: [unit]
    script: [cat reports/1/junit.xml reports/2/junit.xml]
"#;

#[test]
fn a_sharded_jobs_reports_reach_its_dependent() {
    let mut fleet = Fleet::start(SHARDED_REPORTS);
    fleet.agent("one");
    fleet.agent("two");
    let run = trigger(&fleet);
    fleet.wait_success(&run, 180);
    let log = fleet.log(&run, "report");
    for shard in [1, 2] {
        assert!(
            log.contains(&format!("<testsuite name=\"s{shard}\"/>")),
            "shard {shard}'s report: {log}"
        );
    }
    assert!(
        log.contains("[railyard] artifacts of unit: 2 file(s)"),
        "{log}"
    );
    assert_nothing_left(&run);
}

const SHARDED_TESTS: &str = r#"env: { image: busybox }
jobs:
  unit:
    parallel: 2
    tests:
      list: printf 'a\nb\n'
      run: "for t in {tests}; do echo \"<testcase classname='c' name='$t'/>\"; done | sed '1i <testsuite name=\"s\">' | sed '$a </testsuite>' > report.xml"
      junit: report.xml
      format: "{name}"
  report:
    needs: [unit]
    script: [cat railyard-junit/unit-1-2.xml railyard-junit/unit-2-2.xml]
"#;

/// A `tests:` job's own reports are read and removed batch by batch: its shards' merged
/// reports reach the dependent, on another agent, each under its shard's name.
#[test]
fn a_test_jobs_merged_reports_reach_its_dependent() {
    let mut fleet = Fleet::start(SHARDED_TESTS);
    fleet.agent("one");
    fleet.agent("two");
    let run = trigger(&fleet);
    fleet.wait_success(&run, 180);
    let log = fleet.log(&run, "report");
    for shard in [1, 2] {
        assert!(
            log.contains(&format!("<testsuites name=\"unit [{shard}/2]\"")),
            "shard {shard}'s merged report: {log}"
        );
    }
    for test in ["a", "b"] {
        assert!(log.contains(&format!("name=\"{test}\"")), "{log}");
    }
    assert_nothing_left(&run);
}

const TOO_BIG: &str = r#"env: { image: busybox }
jobs:
  build:
    script: ["dd if=/dev/zero of=big.bin bs=1048576 count=2 2>/dev/null"]
    artifacts: [big.bin]
  test:
    needs: [build]
    script: [ls -l big.bin]
"#;

/// The artifact limit is the server's setting (`--max-artifact-mb`): a file over it fails the
/// job that kept it, saying which file and which limit, and its dependent never runs.
#[test]
fn an_artifact_over_the_servers_limit_fails_its_job() {
    let mut fleet = Fleet::start(TOO_BIG);
    fleet.restart_server_with(None, &["--max-artifact-mb", "1"]);
    fleet.agent("one");
    let run = trigger(&fleet);
    let detail = fleet.wait_ended_as(&run, 180, "failed");
    let jobs = detail["jobs"].as_array().unwrap();
    let build = jobs.iter().find(|j| j["name"] == "build").unwrap();
    assert_eq!(build["status"], "failed", "{detail}");
    let error = build["error"].as_str().unwrap();
    assert!(
        error.contains("artifact `big.bin` is over the server's limit of 1048576 bytes (1 MiB)"),
        "{error}"
    );
    let test = jobs.iter().find(|j| j["name"] == "test").unwrap();
    assert_eq!(test["status"], "skipped", "{detail}");
    let (status, body) = fleet.get(&format!("/api/v1/runs/{run}/artifacts/build"));
    assert_eq!((status, body.as_str()), (200, "[]"));
    assert_nothing_left(&run);
}
