//! Sharded jobs: `parallel` copies, tests split statically by timings or through a queue,
//! failing tests retried, and listing failures stopping everything before any shard starts.

use crate::common::{Repo, docker, run_id};
use railyard_runner::{Event, RunOptions, run_pipeline};
use railyard_split::Timings;
use railyard_types::{JobStatus, RunStatus};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// A `run` that "runs" the batch's tests (each prints its id) and writes a JUnit report for
/// them; a test named `fails*` fails, `flaky*` fails until a marker exists.
const RUN: &str = r#"sh ci/fake-tests.sh {tests}"#;
const FAKE_TESTS: &str = r#"out=report.xml
echo '<testsuites><testsuite name="fake">' > "$out"
status=0
for t in "$@"; do
  echo "ran $t on shard $RAILYARD_SHARD/$RAILYARD_SHARDS"
  if [ "${t#fails}" != "$t" ] || { [ "${t#flaky}" != "$t" ] && [ ! -e /tmp/flaky-$t ]; }; then
    touch /tmp/flaky-$t
    echo "<testcase classname=\"fake\" name=\"$t\" time=\"0.01\"><failure message=\"boom\"/></testcase>" >> "$out"
    status=1
  else
    echo "<testcase classname=\"fake\" name=\"$t\" time=\"0.02\"/>" >> "$out"
  fi
done
echo '</testsuite></testsuites>' >> "$out"
exit $status
"#;

fn repo(tests_block: &str, parallel: u32) -> Repo {
    let repo = Repo::new(&format!(
        "env: {{ image: busybox }}\njobs:\n  test:\n    parallel: {parallel}\n    tests:\n{tests_block}\n"
    ));
    repo.write("ci/fake-tests.sh", FAKE_TESTS);
    repo
}

async fn run_with_timings(
    repo: &Repo,
    timings: Timings,
) -> (railyard_runner::RunOutcome, Vec<Event>) {
    let (outcome, events, _) = run_keeping_artifacts(repo, timings).await;
    (outcome, events)
}

async fn run_keeping_artifacts(
    repo: &Repo,
    timings: Timings,
) -> (railyard_runner::RunOutcome, Vec<Event>, tempfile::TempDir) {
    let docker = docker().await;
    let pipeline = Arc::new(repo.pipeline());
    let run_id = run_id();
    let artifacts = tempfile::tempdir().unwrap();
    let opts = RunOptions {
        run_id: run_id.clone(),
        owner: railyard_runner::names::owner(),
        project: repo.root().display().to_string(),
        repo_root: repo.root().to_path_buf(),
        jobs: pipeline.select(&[]).unwrap(),
        rule_skipped: Default::default(),
        max_parallel: 4,
        artifacts_dir: artifacts.path().to_path_buf(),
        timings: Arc::new(timings),
        env_check: None,
        secrets: vec![],
        networks: Default::default(),
        run_variables: vec![],
        allowance: Default::default(),
        registry: None,
        env_lease: None,
        caches: Default::default(),
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    let collector = tokio::spawn(async move {
        let mut events = Vec::new();
        while let Some(e) = rx.recv().await {
            events.push(e);
        }
        events
    });
    let outcome = run_pipeline(&docker, pipeline, opts, tx, CancellationToken::new()).await;
    let events = collector.await.unwrap();
    crate::common::assert_nothing_left(&docker, &run_id).await;
    (outcome, events, artifacts)
}

/// The ids the shards of `job` report as flaky.
fn flaky_of(events: &[Event], job: &str) -> Vec<String> {
    events
        .iter()
        .flat_map(|e| match e {
            Event::ShardFinished { job: j, flaky, .. } if j == job => flaky.clone(),
            _ => vec![],
        })
        .collect()
}

fn ran_lines(events: &[Event]) -> Vec<String> {
    let mut lines: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            Event::Output { line, .. } if line.starts_with("ran ") => Some(line.clone()),
            _ => None,
        })
        .collect();
    lines.sort();
    lines
}

#[tokio::test]
async fn parallel_copies_each_know_their_shard() {
    let repo = Repo::new(
        "env: { image: busybox }\njobs:\n  copy:\n    parallel: 3\n    script: [echo \"shard $RAILYARD_SHARD of $RAILYARD_SHARDS\"]\n",
    );
    let (outcome, events) = run_with_timings(&repo, Timings::new()).await;
    assert_eq!(outcome.status, RunStatus::Success);
    let mut lines: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::Output { job, line, .. } if line.starts_with("shard") => {
                Some(format!("{job}: {line}"))
            }
            _ => None,
        })
        .collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "copy [1/3]: shard 1 of 3",
            "copy [2/3]: shard 2 of 3",
            "copy [3/3]: shard 3 of 3"
        ]
    );
}

#[tokio::test]
async fn a_static_split_follows_the_timings_and_feeds_new_ones() {
    let repo = repo(
        &format!(
            "      list: printf 'a\\nb\\nc\\nd\\n'\n      run: {RUN}\n      junit: report.xml\n      format: \"{{name}}\""
        ),
        2,
    );
    // a is as long as b, c and d together: the balanced split is {a} and {b, c, d}.
    let mut timings = Timings::new();
    for (id, secs) in [("a", 9.0), ("b", 3.0), ("c", 3.0), ("d", 3.0)] {
        timings.insert(id, secs);
    }
    let (outcome, events) = run_with_timings(&repo, timings).await;
    assert_eq!(outcome.status, RunStatus::Success, "{outcome:?}");
    let planned = events.iter().find_map(|e| match e {
        Event::TestsPlanned { shards, tests, .. } => {
            Some((*tests, shards.iter().map(|s| s.tests).collect::<Vec<_>>()))
        }
        _ => None,
    });
    assert_eq!(planned, Some((4, vec![1, 3])));
    assert_eq!(
        ran_lines(&events),
        [
            "ran a on shard 1/2",
            "ran b on shard 2/2",
            "ran c on shard 2/2",
            "ran d on shard 2/2"
        ]
    );
    let mut measured: Vec<(String, f64)> = events
        .iter()
        .flat_map(|e| match e {
            Event::TestResults { timings, .. } => timings.clone(),
            _ => vec![],
        })
        .collect();
    measured.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        measured,
        [
            ("a".into(), 0.02),
            ("b".into(), 0.02),
            ("c".into(), 0.02),
            ("d".into(), 0.02)
        ]
    );
}

#[tokio::test]
async fn a_queue_hands_every_test_to_exactly_one_shard() {
    let ids: Vec<String> = (1..=12).map(|i| format!("t{i:02}")).collect();
    let repo = repo(
        &format!(
            "      list: printf '{}'\n      run: {RUN}\n      junit: report.xml\n      mode: queue\n      format: \"{{name}}\"",
            ids.iter().map(|i| format!("{i}\\n")).collect::<String>()
        ),
        3,
    );
    let (outcome, events) = run_with_timings(&repo, Timings::new()).await;
    assert_eq!(outcome.status, RunStatus::Success, "{outcome:?}");
    let mut ran: Vec<String> = ran_lines(&events)
        .iter()
        .map(|l| l.split_whitespace().nth(1).unwrap().to_string())
        .collect();
    ran.sort();
    assert_eq!(ran, ids, "each test exactly once");
}

#[tokio::test]
async fn failing_tests_are_retried_and_flaky_ones_pass_with_a_warning() {
    let repo = Repo::new(&format!(
        "env: {{ image: busybox }}\njobs:\n  test:\n    retry_failed: 2\n    tests:\n      list: printf 'ok1\\nflaky1\\n'\n      run: {RUN}\n      junit: report.xml\n      format: \"{{name}}\"\n  broken:\n    retry_failed: 1\n    tests:\n      list: printf 'ok2\\nfails1\\n'\n      run: {RUN}\n      junit: report.xml\n      format: \"{{name}}\"\n"
    ));
    repo.write("ci/fake-tests.sh", FAKE_TESTS);
    let (outcome, events) = run_with_timings(&repo, Timings::new()).await;
    assert_eq!(
        outcome.jobs["test"].status,
        JobStatus::Success,
        "{outcome:?}"
    );
    let flaky = flaky_of(&events, "test");
    assert_eq!(flaky, ["flaky1"]);
    assert_eq!(outcome.jobs["broken"].status, JobStatus::Failed);
    let error = outcome.jobs["broken"].error.clone().unwrap();
    assert!(error.contains("1 test(s) failed: fails1"), "{error}");
}

#[tokio::test]
async fn a_failing_or_empty_list_starts_no_shard() {
    for (list, expected) in [
        ("echo cannot list >&2; exit 5", "exited with code 5"),
        ("true", "printed no test id"),
    ] {
        let repo = repo(
            &format!("      list: {list}\n      run: {RUN}\n      junit: report.xml"),
            2,
        );
        let (outcome, events) = run_with_timings(&repo, Timings::new()).await;
        assert_eq!(outcome.jobs["test"].status, JobStatus::Failed);
        let error = outcome.jobs["test"].error.clone().unwrap();
        assert!(
            error.contains(expected) && error.contains("no shard was started"),
            "{error}"
        );
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, Event::JobStarted { job } if job.contains('['))),
            "a shard started although the list failed"
        );
        if list.contains("cannot list") {
            assert!(
                error.contains("cannot list"),
                "the list's stderr is shown: {error}"
            );
        }
    }
}

fn warnings(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Output {
                line,
                stream: railyard_runner::Stream::Railyard,
                ..
            } if line.starts_with("warning") => Some(line.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_malformed_report_is_named_and_the_job_goes_on() {
    let repo = repo(
        "      list: printf 'a\\nb\\n'\n      run: \"echo '<testsuites><testsuite><testcase name=' > report.xml # {tests}\"\n      junit: report.xml",
        1,
    );
    let (outcome, events) = run_with_timings(&repo, Timings::new()).await;
    assert_eq!(
        outcome.jobs["test"].status,
        JobStatus::Success,
        "{outcome:?}"
    );
    let warned = warnings(&events);
    assert!(
        warned.iter().any(|w| w.contains("report.xml")),
        "{warned:?}"
    );
}

#[tokio::test]
async fn ids_matching_no_junit_case_are_warned_about() {
    let repo = repo(
        "      list: printf 'a\\nb\\n'\n      run: \"echo '<testsuite><testcase classname=\\\"x\\\" name=\\\"other\\\" time=\\\"1\\\"/></testsuite>' > report.xml # {tests}\"\n      junit: report.xml\n      format: \"{name}\"",
        1,
    );
    let (outcome, events) = run_with_timings(&repo, Timings::new()).await;
    assert_eq!(
        outcome.jobs["test"].status,
        JobStatus::Success,
        "{outcome:?}"
    );
    let warned = warnings(&events);
    assert!(
        warned
            .iter()
            .any(|w| w.contains("2 listed test id(s) match no JUnit case")),
        "{warned:?}"
    );
}

#[tokio::test]
async fn a_failed_case_matching_no_id_still_fails_the_job() {
    // The command exits 0 and its report holds a failure, but the format maps the case to
    // `x::a`, no listed id: the failure must not be lost with the match.
    let repo = repo(
        "      list: printf 'a\\nb\\n'\n      run: \"echo '<testsuite><testcase classname=\\\"x\\\" name=\\\"a\\\" time=\\\"1\\\"><failure message=\\\"boom\\\"/></testcase></testsuite>' > report.xml # {tests}\"\n      junit: report.xml\n      format: \"{classname}::{name}\"",
        1,
    );
    let (outcome, events) = run_with_timings(&repo, Timings::new()).await;
    assert_eq!(
        outcome.jobs["test"].status,
        JobStatus::Failed,
        "{outcome:?}"
    );
    let said: Vec<&String> = events
        .iter()
        .filter_map(|e| match e {
            Event::Output {
                line,
                stream: railyard_runner::Stream::Railyard,
                ..
            } => Some(line),
            _ => None,
        })
        .collect();
    assert!(
        said.iter()
            .any(|l| l.contains("1 failed JUnit case(s) match no listed test id")),
        "{said:?}"
    );
}

/// The job's tests as a server would share them, in one process: opened with no timings.
struct Shared(railyard_split::LocalQueue);

#[async_trait::async_trait]
impl railyard_split::TestQueue for Shared {
    async fn next_batch(
        &self,
        shard: u32,
        done: Option<railyard_split::Done>,
    ) -> Option<railyard_split::Batch> {
        self.0.next_batch(shard, done).await
    }
    async fn give_back(&self, shard: u32) {
        self.0.give_back(shard).await
    }
}

#[async_trait::async_trait]
impl railyard_split::RemoteTests for Shared {
    async fn open(&self, _tests: &[String]) -> Result<Timings, railyard_split::OpenError> {
        Ok(Timings::new())
    }
}

/// Two slots of one agent take two shards of one job: same run, same owner, same job. The
/// short shard's end must not tear down the long one (its last sweep once removed every
/// object of the job's shards made by this process).
#[tokio::test]
async fn two_shards_of_one_job_in_one_process_leave_each_other_alone() {
    let repo = Repo::new(
        "env: { image: busybox }\njobs:\n  test:\n    parallel: 2\n    script:\n      - if [ \"$RAILYARD_SHARD\" = 2 ]; then sleep 4; fi\n      - echo \"shard $RAILYARD_SHARD done\"\n",
    );
    let docker = docker().await;
    let pipeline = Arc::new(repo.pipeline());
    let run_id = run_id();
    let artifacts = tempfile::tempdir().unwrap();
    let opts = RunOptions {
        run_id: run_id.clone(),
        owner: railyard_runner::names::owner(),
        project: repo.root().display().to_string(),
        repo_root: repo.root().to_path_buf(),
        jobs: vec!["test".into()],
        rule_skipped: Default::default(),
        max_parallel: 1,
        artifacts_dir: artifacts.path().to_path_buf(),
        timings: Arc::new(Timings::new()),
        env_check: None,
        secrets: vec![],
        networks: Default::default(),
        run_variables: vec![],
        allowance: Default::default(),
        registry: None,
        env_lease: None,
        caches: Default::default(),
    };
    let tests = Arc::new(Shared(railyard_split::LocalQueue::new(
        &[],
        &Timings::new(),
        2,
    )));
    let shard = |k: u32| {
        let (docker, pipeline, opts) = (docker.clone(), pipeline.clone(), opts.clone());
        let one = railyard_runner::shards::OneShard {
            shard: k,
            tests: tests.clone(),
        };
        async move {
            let (tx, mut rx) = mpsc::unbounded_channel();
            let outcome = railyard_runner::run_one_shard(
                &docker,
                pipeline,
                opts,
                one,
                tx,
                CancellationToken::new(),
            )
            .await;
            let mut lines = Vec::new();
            while let Ok(e) = rx.try_recv() {
                if let Event::Output { line, .. } = e {
                    lines.push(line);
                }
            }
            (outcome, lines)
        }
    };
    let ((first, first_lines), (second, second_lines)) = tokio::join!(shard(1), shard(2));
    assert_eq!(
        first.status,
        RunStatus::Success,
        "{first:?}\n{first_lines:?}"
    );
    assert_eq!(
        second.status,
        RunStatus::Success,
        "{second:?}\n{second_lines:?}"
    );
    assert!(
        second_lines.iter().any(|l| l == "shard 2 done"),
        "{second_lines:?}"
    );
    crate::common::assert_nothing_left(&docker, &run_id).await;
}

/// Reports whose case names are not the listed ids (`case-<id>`), with `format` left to
/// detection: a failure cannot be tied to an id, so its batch reruns whole. Tests that passed
/// the first time must not be called flaky, and the mismatch is said once.
#[tokio::test]
async fn a_rerun_of_ids_no_report_names_calls_no_test_flaky() {
    let script = r#"echo '<testsuites><testsuite name="fake">' > report.xml
status=0
for t in "$@"; do
  if [ "${t#flaky}" != "$t" ] && [ ! -e /tmp/flaky-$t ]; then
    touch /tmp/flaky-$t
    echo "<testcase classname=\"suite\" name=\"case-$t\" time=\"0.01\"><failure message=\"boom\"/></testcase>" >> report.xml
    status=1
  else
    echo "<testcase classname=\"suite\" name=\"case-$t\" time=\"0.01\"/>" >> report.xml
  fi
done
echo '</testsuite></testsuites>' >> report.xml
exit $status
"#;
    let repo = Repo::new(
        "env: { image: busybox }\njobs:\n  test:\n    retry_failed: 1\n    tests:\n      list: printf 'ok1\\nok2\\nflaky3\\n'\n      run: sh ci/fake-tests.sh {tests}\n      junit: report.xml\n",
    );
    repo.write("ci/fake-tests.sh", script);
    let (outcome, events) = run_with_timings(&repo, Timings::new()).await;
    assert_eq!(
        outcome.jobs["test"].status,
        JobStatus::Success,
        "{outcome:?}"
    );
    let flaky = flaky_of(&events, "test");
    assert!(flaky.is_empty(), "no test is known to be flaky: {flaky:?}");
    let said: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            Event::Output { line, .. } => Some(line.as_str()),
            _ => None,
        })
        .collect();
    let mismatch = said
        .iter()
        .filter(|l| l.contains("match no JUnit case"))
        .count();
    assert_eq!(mismatch, 1, "said once: {said:#?}");
    assert!(
        said.iter()
            .any(|l| l.contains("which of them failed is unknown")),
        "{said:#?}"
    );
}
