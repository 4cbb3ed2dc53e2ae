//! Sharded test jobs with a real test tool (pytest from Debian, in an env image built from
//! debian:bookworm-slim), timings fed back into the store, and matrix jobs.

use crate::common::{Project, text};

const TESTS: &str = r#"import time

def test_fast_one():
    assert 1 + 1 == 2

def test_fast_two():
    assert "rail" in "railyard"

def test_slow():
    time.sleep(0.6)

def test_medium():
    time.sleep(0.3)

class TestGroup:
    def test_in_class(self):
        time.sleep(0.2)

    def test_other_in_class(self):
        assert True
"#;

#[test]
fn pytest_runs_split_over_two_shards_and_its_junit_feeds_the_timings() {
    let p = Project::new(
        r#"
env: { dockerfile: ci/Dockerfile }
jobs:
  test:
    parallel: 2
    tests:
      list: python3 -m pytest --collect-only -q tests | grep '::'
      run: python3 -m pytest -q -p no:cacheprovider --junitxml=report.xml {tests}
      junit: report.xml
      format: pytest
"#,
    );
    p.write(
        "ci/Dockerfile",
        "FROM debian:bookworm-slim\nRUN apt-get update && apt-get install -y --no-install-recommends python3-pytest && rm -rf /var/lib/apt/lists/*\n",
    );
    p.write("tests/test_sample.py", TESTS);
    let out = p.run(&["run"]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("test: 6 tests, split static"), "{stdout}");
    assert!(
        stdout.contains("slowest tests: tests/test_sample.py::test_slow"),
        "{stdout}"
    );

    let timings: Vec<serde_json::Value> =
        serde_json::from_slice(&p.run(&["tests", "--json"]).stdout).unwrap();
    assert_eq!(timings.len(), 6, "{timings:?}");
    let slow = timings
        .iter()
        .find(|t| t["test_id"] == "tests/test_sample.py::test_slow")
        .expect("the slow test is known by its listed id");
    assert!(slow["avg_secs"].as_f64().unwrap() >= 0.5, "{slow}");
    let in_class = timings
        .iter()
        .any(|t| t["test_id"] == "tests/test_sample.py::TestGroup::test_in_class");
    assert!(in_class, "class tests map too: {timings:?}");

    // The next split balances by those timings: the slow test is alone on one side.
    let explain = p.run(&["split", "test", "--explain"]);
    let plan = text(&explain.stdout);
    assert!(
        explain.status.success(),
        "{plan}\n{}",
        text(&explain.stderr)
    );
    assert!(plan.contains("6 tests over 2 shard(s)"), "{plan}");
}

#[test]
fn a_matrix_job_runs_every_combination_and_needs_wait_for_all() {
    let p = Project::new(
        r#"
env: { image: busybox }
jobs:
  test:
    matrix: { V: [a, b] }
    script: [echo "V=$V"]
  after:
    needs: [test]
    script: [echo after]
"#,
    );
    let out = p.run(&["run", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let events: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let line = |job: &str| {
        events
            .iter()
            .find(|e| e["event"] == "output" && e["job"] == job)
            .map(|e| e["line"].as_str().unwrap().to_string())
    };
    assert_eq!(line("test (V=a)").as_deref(), Some("V=a"));
    assert_eq!(line("test (V=b)").as_deref(), Some("V=b"));
    let pos = |pred: &dyn Fn(&serde_json::Value) -> bool| events.iter().position(pred).unwrap();
    let after_started = pos(&|e| e["event"] == "job_started" && e["job"] == "after");
    for v in ["test (V=a)", "test (V=b)"] {
        assert!(pos(&|e| e["event"] == "job_finished" && e["job"] == v) < after_started);
    }
}

/// A project's first run has no test timings: its static split is by count, and showing
/// each shard's count times a default ("predicted 3m04s" for 184 tests never measured) made
/// a guess look like a prediction. The next run predicts from the first one's timings.
#[test]
fn a_first_split_says_there_are_no_timings_yet() {
    let p = Project::new(
        r#"
env: { image: busybox }
jobs:
  test:
    parallel: 2
    tests:
      list: "for i in 1 2 3 4; do echo t$i; done"
      run: sh ci/pass.sh {tests}
      junit: report.xml
      format: "{name}"
"#,
    );
    p.write(
        "ci/pass.sh",
        r#"echo '<testsuites><testsuite name="t">' > report.xml
for t in "$@"; do
  echo "<testcase classname=\"t\" name=\"$t\" time=\"0.2\"/>" >> report.xml
done
echo '</testsuite></testsuites>' >> report.xml
"#,
    );
    let explain = text(&p.run(&["split", "test", "--explain"]).stdout);
    assert!(
        explain.contains("split by count: no test has a timing yet"),
        "{explain}"
    );

    let first = p.run(&["run"]);
    let stdout = text(&first.stdout);
    assert!(first.status.success(), "{stdout}\n{}", text(&first.stderr));
    assert!(
        stdout.contains("shard 1: 2 tests, no timings yet"),
        "{stdout}"
    );
    assert!(!stdout.contains("predicted 2.00s"), "{stdout}");
    let row = stdout
        .lines()
        .find(|l| l.starts_with("│ test   1 "))
        .unwrap_or_else(|| panic!("no shard row:\n{stdout}"));
    assert!(row.contains("no timings yet"), "{row}");
    let log = text(&p.run(&["logs", "1", "test"]).stdout);
    assert!(log.contains(", no timings yet to predict from"), "{log}");

    let second = p.run(&["run"]);
    let stdout = text(&second.stdout);
    assert!(
        second.status.success(),
        "{stdout}\n{}",
        text(&second.stderr)
    );
    assert!(
        stdout.contains("shard 1: 2 tests, predicted 0.40s"),
        "{stdout}"
    );
    assert!(!stdout.contains("no timings yet"), "{stdout}");
}
