//! Artifacts of `needs` handed to the jobs that need them: at the same paths of their
//! workspace before their first step, shards merged, opt-outs, `when`, and the bounds.

use crate::common::{Ran, Repo, run, run_configured};
use railyard_types::JobStatus;

fn error(ran: &Ran, job: &str) -> String {
    ran.outcome.jobs[job].error.clone().unwrap_or_default()
}

/// The issue's pipeline, as a new user writes it.
#[tokio::test]
async fn a_needs_artifacts_are_in_the_dependents_workspace() {
    let repo = Repo::new(
        r#"
env: { image: busybox }
jobs:
  build:
    script: ["mkdir -p dist && echo built > dist/app.txt"]
    artifacts: [dist/app.txt]
  test:
    needs: [build]
    script: [cat dist/app.txt]
"#,
    );
    let ran = run(&repo).await;
    assert_eq!(
        ran.status("test"),
        JobStatus::Success,
        "{}",
        error(&ran, "test")
    );
    let out = ran.output("test");
    assert!(out.contains(&"built".to_string()), "{out:?}");
    assert!(
        out.contains(&"artifacts of build: 1 file(s), 6 B".to_string()),
        "{out:?}"
    );
}

/// `needs: [{ job: build, artifacts: false }]`: the dependent still waits for `build`, but
/// gets none of its files; another need in the same list still hands over.
#[tokio::test]
async fn a_need_without_artifacts_hands_over_nothing() {
    let repo = Repo::new(
        r#"
env: { image: busybox }
jobs:
  build:
    script: ["mkdir -p dist && echo built > dist/app.txt"]
    artifacts: [dist]
  docs:
    script: ["echo docs > docs.txt"]
    artifacts: docs.txt
  test:
    needs: [{ job: build, artifacts: false }, docs]
    script: ["test ! -e dist/app.txt", "cat docs.txt"]
"#,
    );
    let ran = run(&repo).await;
    assert_eq!(ran.status("build"), JobStatus::Success);
    assert_eq!(
        ran.status("test"),
        JobStatus::Success,
        "{:?}",
        ran.output("test")
    );
    assert!(ran.output("test").contains(&"docs".to_string()));
    assert!(ran.artifacts.join("build/dist/app.txt").exists());
}

/// A sharded test job whose batches write their JUnit report into the folder `{DIR}`, and
/// a dependent that reads `{READ}`.
fn sharded(dir: &str, read: &str) -> Repo {
    let repo = Repo::new(
        &r#"
env: { image: busybox }
jobs:
  test:
    parallel: 2
    tests:
      list: printf 'a\nb\n'
      run: sh ci/tests.sh {DIR} {tests}
      junit: report.xml
      format: "{name}"
    artifacts: [reports]
  report:
    needs: [test]
    script:
      - cat {READ}
      - test ! -e railyard-junit.xml
      - ls railyard-junit && cat railyard-junit/test-1-2.xml railyard-junit/test-2-2.xml
"#
        .replace("{DIR}", dir)
        .replace("{READ}", read),
    );
    repo.write(
        "ci/tests.sh",
        r#"dir=$1; shift
{ echo "<testsuites><testsuite name='s'>"
  for t in "$@"; do echo "<testcase classname='c' name='$t' time='0.01'/>"; done
  echo "</testsuite></testsuites>"; } > report.xml
mkdir -p "$dir" && cp report.xml "$dir/junit.xml"
"#,
    );
    repo
}

/// Each shard writes its report under `reports/$RAILYARD_SHARD/`: the dependent reads both,
/// and Railyard's merged report of each shard under `railyard-junit/`, named by the shard.
#[tokio::test]
async fn every_shards_report_reaches_a_dependent() {
    let repo = sharded(
        "reports/$RAILYARD_SHARD",
        "reports/1/junit.xml reports/2/junit.xml",
    );
    let ran = run(&repo).await;
    assert_eq!(
        ran.status("test"),
        JobStatus::Success,
        "{}",
        error(&ran, "test")
    );
    // Railyard's merged report is in each shard's folder, handed over by the shard's name.
    assert!(
        ran.artifacts
            .join("test/shard-1")
            .join(railyard_runner::handover::MERGED_JUNIT)
            .exists()
    );
    assert_eq!(
        ran.status("report"),
        JobStatus::Success,
        "{:?}",
        ran.output("report")
    );
    let out = ran.output("report").join("\n");
    assert!(
        out.contains("name='a'") && out.contains("name='b'"),
        "{out}"
    );
    // Each shard's report and its merged one.
    assert!(out.contains("artifacts of test: 4 file(s)"), "{out}");
    assert!(out.contains(r#"<testsuites name="test [2/2]""#), "{out}");
}

/// Two shards writing the same path: the dependent fails before its first step, naming
/// both shards and the path.
#[tokio::test]
async fn two_shards_holding_one_path_fail_the_dependent_naming_both() {
    let repo = sharded("reports", "reports/junit.xml");
    let ran = run(&repo).await;
    assert_eq!(
        ran.status("test"),
        JobStatus::Success,
        "{}",
        error(&ran, "test")
    );
    assert_eq!(ran.status("report"), JobStatus::Failed);
    let error = error(&ran, "report");
    assert!(
        error.contains(
            "artifacts of `test [1/2]` and `test [2/2]` both hold reports/junit.xml: write each shard's files under a name of its own, e.g. reports/$RAILYARD_SHARD/"
        ),
        "{error}"
    );
    assert!(
        !ran.events.iter().any(
            |e| matches!(e, railyard_runner::Event::StepStarted { job, .. } if job == "report")
        ),
        "a step of `report` ran"
    );
}

/// `artifacts: { when: on_failure }`: a failing job keeps its report and hands it to a
/// dependent that runs anyway (`allow_failure`); a passing one keeps nothing.
#[tokio::test]
async fn a_failing_job_keeps_its_report_when_asked() {
    let repo = Repo::new(
        r#"
env: { image: busybox }
jobs:
  test:
    allow_failure: true
    script: ["echo failed > report.txt", "exit 3"]
    artifacts: { paths: [report.txt], when: on_failure }
  fine:
    script: ["echo fine > report.txt"]
    artifacts: { paths: report.txt, when: on_failure }
  summary:
    needs: [test]
    script: [cat report.txt]
"#,
    );
    let ran = run(&repo).await;
    assert_eq!(ran.status("test"), JobStatus::FailedAllowed);
    assert_eq!(
        std::fs::read_to_string(ran.artifacts.join("test/report.txt")).unwrap(),
        "failed\n"
    );
    assert_eq!(ran.status("fine"), JobStatus::Success);
    assert!(!ran.artifacts.join("fine/report.txt").exists());
    assert_eq!(ran.status("summary"), JobStatus::Success);
    assert!(ran.output("summary").contains(&"failed".to_string()));
}

/// An artifact of 2 GB (sparse: quick to make) is refused under the default bound of
/// 1 GiB, naming the job, the path and the bound; what was unpacked of it is removed and
/// nothing else is written.
#[tokio::test]
async fn an_artifact_of_2_gb_is_refused() {
    let repo = Repo::new(
        r#"
env: { image: busybox }
jobs:
  build:
    script:
      - mkdir -p out && echo small > out/a.txt
      - dd if=/dev/zero of=out/big.bin bs=1M count=0 seek=2048
      - echo kept > kept.txt
    artifacts: [kept.txt, out]
"#,
    );
    let ran = run(&repo).await;
    assert_eq!(ran.status("build"), JobStatus::Failed);
    let error = error(&ran, "build");
    assert!(
        error.contains("artifact `out` of job `build`")
            && error.contains("out/big.bin")
            && error.contains("1.0 GiB"),
        "{error}"
    );
    assert!(ran.artifacts.join("build/kept.txt").exists());
    assert!(!ran.artifacts.join("build/out").exists());
    let on_disk: Vec<_> = walk(&ran.artifacts);
    assert_eq!(on_disk, ["build", "build/kept.txt"]);
}

/// Needs each within the bound, together past it: the dependent is refused before its
/// first step.
#[tokio::test]
async fn the_hand_over_is_refused_past_the_bound() {
    let repo = Repo::new(
        r#"
env: { image: busybox }
jobs:
  a:
    script: ["dd if=/dev/zero of=a.bin bs=1000 count=1"]
    artifacts: [a.bin]
  b:
    script: ["dd if=/dev/zero of=b.bin bs=1000 count=1"]
    artifacts: [b.bin]
  c:
    needs: [a, b]
    script: ["true"]
"#,
    );
    let ran = run_configured(&repo, &[], None, |opts| {
        opts.allowance.max_artifact_bytes = Some(1500);
    })
    .await;
    assert_eq!(ran.status("a"), JobStatus::Success);
    assert_eq!(ran.status("b"), JobStatus::Success);
    assert_eq!(ran.status("c"), JobStatus::Failed);
    let error = error(&ran, "c");
    assert!(
        error.contains("handed to job `c`") && error.contains("b.bin") && error.contains("1.5 kB"),
        "{error}"
    );
}

fn walk(root: &std::path::Path) -> Vec<String> {
    let mut found: Vec<String> = walkdir::WalkDir::new(root)
        .min_depth(1)
        .into_iter()
        .map(|e| {
            let e = e.unwrap();
            e.path().strip_prefix(root).unwrap().display().to_string()
        })
        .collect();
    found.sort();
    found
}

/// A test job whose tests fail keeps its reports with `when: always`, and a dependent that
/// runs anyway (`allow_failure`) reads every shard's.
#[tokio::test]
async fn failing_tests_still_hand_over_their_reports() {
    let repo = Repo::new(
        r#"
env: { image: busybox }
jobs:
  test:
    parallel: 2
    allow_failure: true
    tests:
      list: printf 'ok\nfails\n'
      run: sh ci/tests.sh {tests}
      junit: report.xml
      format: "{name}"
    artifacts: { paths: [reports], when: always }
  report:
    needs: [test]
    script: ["cat reports/*/junit.xml"]
"#,
    );
    repo.write(
        "ci/tests.sh",
        r#"status=0
{ echo "<testsuites><testsuite name='s'>"
  for t in "$@"; do
    if [ "$t" = fails ]; then
      echo "<testcase classname='c' name='$t' time='0.01'><failure message='boom'/></testcase>"
      status=1
    else
      echo "<testcase classname='c' name='$t' time='0.01'/>"
    fi
  done
  echo "</testsuite></testsuites>"; } > report.xml
mkdir -p reports/$RAILYARD_SHARD && cp report.xml reports/$RAILYARD_SHARD/junit.xml
exit $status
"#,
    );
    let ran = run(&repo).await;
    assert_eq!(
        ran.status("test"),
        JobStatus::FailedAllowed,
        "{}",
        error(&ran, "test")
    );
    assert_eq!(
        ran.status("report"),
        JobStatus::Success,
        "{:?}",
        ran.output("report")
    );
    let out = ran.output("report").join("\n");
    assert!(
        out.contains("name='ok'") && out.contains("<failure"),
        "{out}"
    );
}
