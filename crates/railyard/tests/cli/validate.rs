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
