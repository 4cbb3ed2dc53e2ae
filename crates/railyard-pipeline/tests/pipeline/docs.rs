//! The reference page and the examples stay true: they parse, and the graph shown in the
//! docs is what `render_graph` prints.

use railyard_pipeline::{load, parse};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The fenced blocks of a markdown text with the given info string.
fn blocks<'a>(markdown: &'a str, info: &str) -> Vec<&'a str> {
    let fence = format!("```{info}\n");
    markdown
        .split(&fence)
        .skip(1)
        .map(|rest| rest.split("```").next().unwrap())
        .collect()
}

#[test]
fn the_complete_example_of_the_reference_parses_and_renders_as_shown() {
    let doc = std::fs::read_to_string(repo().join("docs/pipeline.md")).unwrap();
    let example = blocks(&doc, "yaml")[0];
    let pipeline = parse(Path::new(".railyard.yml"), example).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(pipeline.jobs.len(), 3);
    assert_eq!(pipeline.render_graph(), blocks(&doc, "text")[0]);
}

#[test]
fn the_job_and_service_snippets_of_the_reference_parse() {
    let doc = std::fs::read_to_string(repo().join("docs/pipeline.md")).unwrap();
    let snippets = blocks(&doc, "yaml");
    assert!(snippets.len() > 10);
    for snippet in &snippets[1..] {
        // Snippets are one part of a file: give each what it lacks to be a whole pipeline.
        let source = if snippet.starts_with("env:") {
            format!("{snippet}jobs: {{ a: {{ script: [x] }} }}\n")
        } else if (snippet.starts_with("variables:") && !snippet.contains("RUST_LOG"))
            || snippet.starts_with("secrets:")
        {
            format!("env: {{ image: busybox }}\n{snippet}jobs: {{ a: {{ script: [x] }} }}\n")
        } else if snippet.starts_with("jobs:") {
            format!("env: {{ image: busybox }}\n{snippet}")
        } else if snippet.starts_with("script:") {
            let body = snippet.replace('\n', "\n    ");
            format!("env: {{ image: busybox }}\njobs:\n  a:\n    {body}")
        } else {
            let body = snippet.replace('\n', "\n    ");
            let needs_jobs = "  build: { script: [x] }\n  lint: { script: [x] }\n";
            format!(
                "env: {{ image: busybox }}\njobs:\n{needs_jobs}  a:\n    script: [x]\n    {body}"
            )
        };
        if let Err(e) = parse(Path::new("snippet.yml"), &source) {
            panic!("snippet does not parse:\n{snippet}\nas\n{source}\n{e}");
        }
    }
}

#[test]
fn the_examples_parse() {
    for example in ["hello", "webapp"] {
        let path = repo().join("examples").join(example).join(".railyard.yml");
        let pipeline = load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(!pipeline.jobs.is_empty());
    }
}

#[test]
fn the_matrix_example_renders_as_shown() {
    let doc = std::fs::read_to_string(repo().join("docs/pipeline.md")).unwrap();
    let example = blocks(&doc, "yaml")
        .into_iter()
        .find(|b| b.starts_with("jobs:") && b.contains("matrix:"))
        .unwrap();
    let source = format!("env: {{ image: busybox }}\n{example}");
    let pipeline = parse(Path::new(".railyard.yml"), &source).unwrap_or_else(|e| panic!("{e}"));
    let graph = blocks(&doc, "text")
        .into_iter()
        .find(|b| b.contains("matrix PYTHON × DB"))
        .unwrap();
    assert_eq!(pipeline.render_graph(), graph);
    // The names the text gives, in its order.
    assert!(doc.contains(
        "`test (PYTHON=3.11, DB=postgres)`,\n`test (PYTHON=3.11, DB=sqlite)`, `test (PYTHON=3.12, DB=postgres)`,\n`test (PYTHON=3.12, DB=sqlite)`"
    ));
    let tests: Vec<&str> = pipeline
        .jobs
        .keys()
        .filter(|k| k.starts_with("test ("))
        .map(String::as_str)
        .collect();
    assert_eq!(
        tests,
        [
            "test (PYTHON=3.11, DB=postgres)",
            "test (PYTHON=3.11, DB=sqlite)",
            "test (PYTHON=3.12, DB=postgres)",
            "test (PYTHON=3.12, DB=sqlite)"
        ]
    );
    assert_eq!(pipeline.jobs["deploy"].needs, tests);
}

#[test]
fn the_sharded_example_gives_the_model_it_describes() {
    let doc = std::fs::read_to_string(repo().join("docs/pipeline.md")).unwrap();
    let example = blocks(&doc, "yaml")
        .into_iter()
        .find(|b| b.starts_with("jobs:") && b.contains("parallel: 4"))
        .unwrap();
    let source = format!("env: {{ image: busybox }}\n{example}");
    let pipeline = parse(Path::new(".railyard.yml"), &source).unwrap_or_else(|e| panic!("{e}"));
    let test = &pipeline.jobs["test"];
    assert_eq!((test.parallel, test.retry_failed), (4, 2));
    assert_eq!(test.script.len(), 1);
    let tests = test.tests.as_ref().unwrap();
    assert_eq!(
        tests.list,
        railyard_pipeline::TestList::Command("cargo nextest list --message-format oneline".into())
    );
    assert!(tests.run.ends_with("{tests}"));
    assert_eq!(tests.junit, ["target/nextest/default/junit.xml"]);
    assert_eq!(tests.mode, railyard_pipeline::SplitMode::Static);
    assert_eq!(tests.id_format.as_deref(), Some("nextest"));
}

#[test]
fn the_build_to_deploy_pipeline_parses_with_its_hand_overs_image_and_lock() {
    let doc = std::fs::read_to_string(repo().join("docs/build-to-deploy.md")).unwrap();
    let source = blocks(&doc, "yaml")[0];
    let pipeline = parse(Path::new(".railyard.yml"), source).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<_> = pipeline.jobs.keys().map(String::as_str).collect();
    assert_eq!(names, ["build", "test", "report", "package", "deploy"]);
    let test = &pipeline.jobs["test"];
    assert_eq!(test.parallel, 4);
    assert!(test.hands_over(), "its merged JUnit reports");
    let package = &pipeline.jobs["package"];
    assert!(package.takes_artifacts_from("build"));
    assert!(!package.takes_artifacts_from("test"));
    let image = package.image_build.as_ref().unwrap();
    assert!(image.push);
    assert_eq!(image.tags, ["app:{commit}", "app:latest"]);
    let deploy = &pipeline.jobs["deploy"];
    assert_eq!(deploy.environment.as_deref(), Some("production"));
    assert_eq!(deploy.concurrency.as_ref().unwrap().group, "production");
}
