//! `railyard run`: exit codes, the display, `--json`, and the examples.

use crate::common::{Project, assert_nothing_left, text};

#[test]
fn a_passing_pipeline_exits_0_prints_its_output_and_a_summary() {
    let p = Project::new(
        "env: { image: busybox }\njobs:\n  hello:\n    script: [echo hello from railyard, echo second]\n",
    );
    let out = p.run(&["run"]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(
        stdout.contains("$ echo hello from railyard\nhello from railyard\n"),
        "{stdout}"
    );
    assert!(stdout.contains("run #1 success"), "{stdout}");
    assert!(
        !stdout.contains('\u{1b}'),
        "NO_COLOR and a pipe mean no escape codes"
    );
    let runs = p.runs();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["status"], "success");
    assert_nothing_left(runs[0]["id"].as_str().unwrap());
}

#[test]
fn a_failing_job_exits_1_and_its_dependents_are_skipped() {
    let p = Project::new(
        "env: { image: busybox }\njobs:\n  a:\n    script: [exit 4]\n  b:\n    needs: [a]\n    script: [echo b]\n",
    );
    let out = p.run(&["run"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("a failed"), "{stdout}");
    assert!(
        stdout.contains("b skipped: skipped: `a` did not succeed") || stdout.contains("b skipped"),
        "{stdout}"
    );
    assert_eq!(p.runs()[0]["status"], "failed");
}

#[test]
fn several_jobs_prefix_their_lines_with_the_job() {
    let p = Project::new(
        "env: { image: busybox }\njobs:\n  first:\n    script: [echo one]\n  second:\n    script: [echo two]\n",
    );
    let out = p.run(&["run", "-j", "2"]);
    let stdout = text(&out.stdout);
    assert!(stdout.contains(" first │ one"), "{stdout}");
    assert!(stdout.contains("second │ two"), "{stdout}");
}

#[test]
fn json_prints_one_event_a_line_from_start_to_finish() {
    let p = Project::new("env: { image: busybox }\njobs:\n  j:\n    script: [echo out]\n");
    let out = p.run(&["run", "--json"]);
    assert!(out.status.success());
    let events: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"run_started"));
    assert_eq!(kinds.last(), Some(&"run_finished"));
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "output" && e["line"] == "out" && e["stream"] == "stdout")
    );
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "step_finished" && e["exit_code"] == 0)
    );
}

#[test]
fn unknown_job_names_are_refused_with_a_suggestion() {
    let p = Project::new("env: { image: busybox }\njobs:\n  build:\n    script: [echo]\n");
    let out = p.run(&["run", "biuld"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("biuld") && stderr.contains("build"),
        "{stderr}"
    );
    assert!(p.runs().is_empty(), "nothing is recorded for a refused run");
}

#[test]
fn an_unreachable_docker_engine_is_named() {
    let p = Project::new("env: { image: busybox }\njobs:\n  j:\n    script: [echo]\n");
    let out = p
        .cmd(&["run"])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("cannot reach Docker at unix:///nonexistent/docker.sock")
            && stderr.contains("is the daemon running?"),
        "{stderr}"
    );
}

/// Runs `railyard run` in `examples/NAME` with a data folder of its own; returns the output
/// (success checked) and that folder.
fn run_example(name: &str) -> (String, tempfile::TempDir) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name);
    let home = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_railyard"))
        .args(["-C", root.to_str().unwrap(), "run"])
        .env("RAILYARD_HOME", home.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    (stdout, home)
}

#[test]
fn the_hello_example_runs() {
    let (stdout, _home) = run_example("hello");
    assert!(
        stdout.contains("the workspace holds the repository"),
        "{stdout}"
    );
}

#[test]
fn the_webapp_example_builds_its_env_tests_against_its_service_and_keeps_its_artifact() {
    let (stdout, home) = run_example("webapp");
    assert!(
        stdout.contains("test_fetch_from_service") && stdout.contains("OK"),
        "{stdout}"
    );
    // `test` ran the tests of the package `build` handed over.
    assert!(stdout.contains("artifacts of build: 1 file(s)"), "{stdout}");
    let artifacts: Vec<_> = walk(home.path())
        .into_iter()
        .filter(|p| p.ends_with("artifacts/build/dist/greeter.tar.gz"))
        .collect();
    assert_eq!(
        artifacts.len(),
        1,
        "the build job's artifact is kept: {stdout}"
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
