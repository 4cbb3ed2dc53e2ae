//! `railyard validate` and `railyard graph`: errors that name the place.

use crate::common::{Project, text};

#[test]
fn a_valid_pipeline_is_confirmed() {
    let p = Project::new(
        "env: { image: busybox }\njobs:\n  a: { script: [echo] }\n  b: { needs: [a], script: [echo] }\n",
    );
    let out = p.run(&["validate"]);
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), ".railyard.yml is valid: 2 jobs\n");
}

#[test]
fn an_unknown_key_names_file_line_and_column_with_a_suggestion() {
    let p = Project::new("env: { image: busybox }\njobs:\n  build:\n    scirpt: [make]\n");
    let out = p.run(&["validate"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains(".railyard.yml:4:5"), "{stderr}");
    assert!(
        stderr.contains("scirpt") && stderr.contains("script"),
        "{stderr}"
    );
}

#[test]
fn a_cycle_is_named() {
    let p = Project::new(
        "env: { image: busybox }\njobs:\n  a: { needs: [b], script: [echo] }\n  b: { needs: [a], script: [echo] }\n",
    );
    let out = p.run(&["run"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("a -> b -> a") || stderr.contains("b -> a -> b"),
        "{stderr}"
    );
    assert!(p.runs().is_empty(), "an invalid pipeline records no run");
}

#[test]
fn malformed_yaml_names_the_place() {
    let p = Project::new("env: { image: busybox\njobs:\n  a: { script: [echo] }\n");
    let out = p.run(&["validate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains(".railyard.yml:"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn no_pipeline_file_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_railyard"))
        .args(["-C", dir.path().to_str().unwrap(), "validate"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("no .railyard.yml") && stderr.contains("docs/pipeline.md"),
        "{stderr}"
    );
}

#[test]
fn graph_shows_stages() {
    let p = Project::new(
        "env: { image: busybox }\njobs:\n  build: { script: [echo] }\n  test: { needs: [build], script: [echo] }\n",
    );
    let out = p.run(&["graph"]);
    assert!(out.status.success());
    let stdout = text(&out.stdout);
    let build = stdout.find("build").unwrap();
    let test = stdout.find("test").unwrap();
    assert!(build < test, "{stdout}");
}

/// The jobs a pipeline expands to are counted against a limit, 1,000 unless `railyard run
/// --max-jobs` says otherwise: the sum is in the error, at `jobs:`, and nothing runs.
#[test]
fn a_pipeline_over_the_job_limit_is_refused_with_the_sum() {
    let values: Vec<String> = (0..16).map(|v| v.to_string()).collect();
    let mut huge = "env: { image: busybox }\njobs:\n".to_string();
    for j in 0..5 {
        huge.push_str(&format!(
            "  job{j}:\n    matrix: {{ A: [{0}], B: [{0}] }}\n    parallel: 64\n    script: [x]\n",
            values.join(", ")
        ));
    }
    let p = Project::new(&huge);
    let out = p.run(&["validate"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    // The terminal's width may wrap the line.
    assert!(
        stderr.contains(".railyard.yml:2:1: too many jobs: 5 jobs × matrix 256 × parallel 64 =")
            && stderr.contains("81,920 > 1,000"),
        "{stderr}"
    );

    let p =
        Project::new("env: { image: busybox }\njobs:\n  t:\n    parallel: 3\n    script: [true]\n");
    let out = p.run(&["run", "--max-jobs", "2"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("too many jobs: 1 job × parallel 3 = 3 > 2"),
        "{stderr}"
    );
    assert!(p.runs().is_empty(), "nothing ran");
    let out = p.run(&["run", "--max-jobs", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--max-jobs must be at least 1"));
    let out = p.run(&["run", "--max-jobs", "3"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}
