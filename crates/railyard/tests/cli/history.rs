//! `railyard runs` and `railyard logs`: history that survives the process.

use crate::common::{Project, text};

#[test]
fn logs_of_past_runs_are_kept_per_job() {
    let p = Project::new(
        "env: { image: busybox }\njobs:\n  a:\n    script: [echo alpha]\n  b:\n    script: [echo beta >&2, exit 2]\n",
    );
    assert_eq!(p.run(&["run"]).status.code(), Some(1));
    assert_eq!(p.run(&["run", "a"]).status.code(), Some(0));

    let runs = p.runs();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["number"], 2, "newest first");
    assert_eq!(runs[1]["status"], "failed");

    let a = text(&p.run(&["logs", "1", "a"]).stdout);
    assert!(a.contains("$ echo alpha\nalpha\n"), "{a}");
    let b = text(&p.run(&["logs", "1", "b"]).stdout);
    assert!(b.contains("beta") && b.contains("exit code 2"), "{b}");
    let all = text(&p.run(&["logs", "#1"]).stdout);
    assert!(
        all.contains("==> a <==") && all.contains("==> b <=="),
        "{all}"
    );

    let table = text(&p.run(&["runs"]).stdout);
    assert!(
        table.contains("failed") && table.contains("success"),
        "{table}"
    );
    // One run with its jobs, and an unknown one named.
    let one = text(&p.run(&["runs", "1"]).stdout);
    assert!(one.starts_with("run #1 "), "{one}");
    assert!(
        one.lines()
            .any(|l| l.contains(" b ") && l.contains("failed")),
        "{one}"
    );
    let out = p.run(&["runs", "9"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no run `9`"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn logs_of_an_unknown_run_or_job_say_what_exists() {
    let p = Project::new("env: { image: busybox }\njobs:\n  a:\n    script: [echo]\n");
    assert!(p.run(&["run"]).status.success());
    let out = p.run(&["logs", "9"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("railyard runs"));
    let out = p.run(&["logs", "1", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("its jobs: a"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn secrets_come_from_the_environment_and_never_reach_the_logs() {
    let p = Project::new(
        "env: { image: busybox }\nsecrets: [API_TOKEN]\njobs:\n  deploy:\n    script: [echo \"token is $API_TOKEN\"]\n",
    );
    let missing = p.run(&["run"]);
    assert_eq!(missing.status.code(), Some(2));
    let stderr = text(&missing.stderr);
    assert!(stderr.contains("secret `API_TOKEN` is not set"), "{stderr}");
    assert!(p.runs().is_empty(), "nothing is recorded for a refused run");

    let out = p
        .cmd(&["run"])
        .env("API_TOKEN", "tok-9f8e7d6c")
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("token is ***") && !stdout.contains("tok-9f8e7d6c"),
        "{stdout}"
    );
    let log = text(&p.run(&["logs", "1", "deploy"]).stdout);
    assert!(
        log.contains("token is ***") && !log.contains("tok-9f8e7d6c"),
        "{log}"
    );
}

#[test]
fn an_oversized_log_is_cut_with_a_marker_and_the_run_still_recorded() {
    let p = Project::new(
        "env: { image: busybox }\njobs:\n  noisy:\n    script: [\"seq 1 20000\", echo after the flood]\n",
    );
    let out = p
        .cmd(&["run"])
        .env("RAILYARD_MAX_LOG_BYTES", "4096")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(p.runs()[0]["status"], "success");
    let log = p.run(&["logs", "1", "noisy"]).stdout;
    assert!(
        log.len() < 8192,
        "the log kept growing: {} bytes",
        log.len()
    );
    let log = text(&log);
    assert!(log.starts_with("$ seq 1 20000\n1\n2\n"), "{log}");
    assert!(
        !log.contains("after the flood"),
        "lines past the limit are dropped"
    );
    assert!(
        log.contains("[railyard: log truncated at 4096 bytes]"),
        "{log}"
    );
}

/// A failed job's note names its failing tests: on a terminal `railyard runs RUN` cuts it to
/// the terminal's width and says where it is whole (the table was hundreds of columns wide);
/// piped, it stays whole.
#[test]
fn a_long_note_is_cut_to_the_terminal_width() {
    let p = Project::new(
        r#"
env: { image: busybox }
jobs:
  unit:
    tests:
      list: "for i in 1 2 3 4 5 6; do echo tests/test_a_rather_long_module_name.py::TestSomething::test_case_number_$i; done"
      run: sh ci/fail.sh {tests}
      junit: report.xml
      format: "{name}"
"#,
    );
    p.write(
        "ci/fail.sh",
        r#"echo '<testsuites><testsuite name="t">' > report.xml
for t in "$@"; do
  echo "<testcase classname=\"t\" name=\"$t\" time=\"0.01\"><failure message=\"no\"/></testcase>" >> report.xml
done
echo '</testsuite></testsuites>' >> report.xml
exit 1
"#,
    );
    let out = p.run(&["run"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));

    let shown = p.on_terminal(&["runs", "1"], 100);
    assert!(
        shown.contains("│ unit   failed   ") && shown.contains("6 test(s) failed: tests/test_a"),
        "{shown}"
    );
    let table = shown
        .lines()
        .filter(|l| l.starts_with(['┌', '│', '╞', '└']));
    assert!(table.clone().count() >= 4, "{shown}");
    assert!(table.clone().all(|l| l.chars().count() <= 100), "{shown}");
    assert!(shown.contains("…"), "{shown}");
    assert!(
        shown.contains("notes cut to fit: whole in `railyard runs 1 --json`"),
        "{shown}"
    );

    let piped = text(&p.run(&["runs", "1"]).stdout);
    assert!(piped.contains("test_case_number_5, …"), "{piped}");
    assert!(!piped.contains("cut to fit"), "{piped}");
}
