//! `manual: true` in a local `railyard run`: held (skipped, with its dependents, saying how
//! to run it; the run still succeeds) unless named with `--approve JOB`; a wrong name is
//! refused before anything runs.

use crate::common::{Project, assert_nothing_left, text};

const PIPELINE: &str = "env: { image: busybox }
jobs:
  build: { script: [echo built] }
  deploy: { script: [echo deployed by hand], needs: [build], manual: true }
  after: { script: [echo after deploy], needs: [deploy] }
";

/// `railyard ARGS`, which must exit 0: its stdout.
fn succeeds(p: &Project, args: &[&str]) -> String {
    let out = p.run(args);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    stdout
}

#[test]
fn a_manual_job_runs_only_when_approved_on_the_command_line() {
    let p = Project::new(PIPELINE);
    let stdout = succeeds(&p, &["run"]);
    assert!(stdout.contains("built"), "{stdout}");
    assert!(!stdout.contains("deployed by hand"), "{stdout}");
    assert!(
        stdout.contains("`deploy` is manual: run it with `railyard run --approve deploy`"),
        "{stdout}"
    );
    assert!(stdout.contains("after skipped"), "{stdout}");
    assert_eq!(p.runs()[0]["status"], "success");

    let stdout = succeeds(&p, &["run", "--approve", "deploy"]);
    assert!(stdout.contains("deployed by hand"), "{stdout}");
    assert!(stdout.contains("after deploy"), "{stdout}");
    assert!(!stdout.contains("is manual"), "{stdout}");
    let runs = p.runs();
    assert_eq!(runs[0]["status"], "success");
    assert_nothing_left(runs[0]["id"].as_str().unwrap());

    for (name, says) in [("build", "is not manual"), ("nope", "has no job `nope`")] {
        let out = p.run(&["run", "--approve", name]);
        assert_eq!(out.status.code(), Some(2));
        let stderr = text(&out.stderr);
        assert!(stderr.contains(says), "{stderr}");
    }
    assert_eq!(p.runs().len(), 2, "nothing is recorded for a refused run");
}
