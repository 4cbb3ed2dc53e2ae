//! `select`, `stages` and `render_graph`.

use crate::ok;
use railyard_pipeline::{Pipeline, PipelineError};

/// build, lint -> test (needs build), package (needs build, lint) -> deploy (needs test,
/// package), plus docs on its own.
fn diamond() -> Pipeline {
    ok(r#"
env: { image: busybox }
jobs:
  build: { script: [make] }
  test:
    needs: [build]
    script: [make test]
    services: { db: postgres, cache: redis }
  lint: { script: [make lint], allow_failure: true }
  package: { needs: [build, lint], script: [make dist] }
  deploy: { needs: [package, test], script: [make deploy] }
  docs: { script: [make docs] }
"#)
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn select_adds_what_the_jobs_need_in_file_order() {
    let p = diamond();
    assert_eq!(p.select(&names(&["test"])).unwrap(), ["build", "test"]);
    assert_eq!(
        p.select(&names(&["deploy"])).unwrap(),
        ["build", "test", "lint", "package", "deploy"]
    );
    assert_eq!(
        p.select(&names(&["docs", "lint"])).unwrap(),
        ["lint", "docs"]
    );
    assert_eq!(
        p.select(&names(&["test", "build", "test"])).unwrap(),
        ["build", "test"]
    );
}

#[test]
fn select_nothing_means_every_job() {
    let p = diamond();
    assert_eq!(
        p.select(&[]).unwrap(),
        ["build", "test", "lint", "package", "deploy", "docs"]
    );
}

#[test]
fn select_an_unknown_job() {
    let p = diamond();
    let e = p.select(&names(&["tset"])).unwrap_err();
    assert!(matches!(&e, PipelineError::UnknownJob { suggestion: Some(s), .. } if s == "test"));
    assert_eq!(e.to_string(), "unknown job `tset` in `.railyard.yml`");
    let help = miette::Diagnostic::help(&e).unwrap().to_string();
    assert_eq!(help, "did you mean `test`?");

    let e = p.select(&names(&["release"])).unwrap_err();
    let help = miette::Diagnostic::help(&e).unwrap().to_string();
    assert_eq!(
        help,
        "the jobs of this pipeline: build, test, lint, package, deploy, docs"
    );
}

#[test]
fn stages_put_each_job_after_what_it_needs() {
    let p = diamond();
    assert_eq!(
        p.stages(),
        vec![
            names(&["build", "lint", "docs"]),
            names(&["test", "package"]),
            names(&["deploy"]),
        ]
    );
}

#[test]
fn stages_follow_the_longest_chain() {
    // `c` needs `a` directly and through `b`: it must wait for `b`.
    let p = ok(
        "env: { image: busybox }\njobs:\n  c: { needs: [a, b], script: [x] }\n  b: { needs: a, script: [x] }\n  a: { script: [x] }\n",
    );
    assert_eq!(
        p.stages(),
        vec![names(&["a"]), names(&["b"]), names(&["c"])]
    );
}

#[test]
fn stages_survive_a_hand_built_cycle() {
    let mut p = ok(
        "env: { image: busybox }\njobs:\n  a: { script: [x] }\n  b: { script: [x] }\n  c: { script: [x] }\n",
    );
    p.jobs["b"].needs = names(&["c"]);
    p.jobs["c"].needs = names(&["b"]);
    assert_eq!(p.stages(), vec![names(&["a"]), names(&["b", "c"])]);
}

#[test]
fn render_graph_shows_stages_needs_and_services() {
    insta::assert_snapshot!(diamond().render_graph());
}

#[test]
fn render_graph_of_one_job() {
    let p = ok("env: { image: busybox }\njobs:\n  hello: { script: [echo hello] }\n");
    assert_eq!(
        p.render_graph(),
        ".railyard.yml: 1 job in 1 stage\n\nstage 1\n  └─ hello\n"
    );
}

#[test]
fn render_graph_shows_images_locks_and_environments() {
    let p = ok(r#"
env: { image: busybox }
jobs:
  build: { script: [make], artifacts: { paths: [dist/], when: always } }
  package:
    needs: [{ job: build, artifacts: true }]
    script: [make dist]
    image_build: { dockerfile: Dockerfile, tags: ["app:{commit}", "app:{ref}"], push: true }
  deploy:
    needs: [{ job: package, artifacts: false }]
    script: [make deploy]
    concurrency: { group: production, cancel_pending: true }
    environment: production
"#);
    let graph = p.render_graph();
    assert!(
        graph.contains("package   needs build · builds and pushes app:{commit}, app:{ref}"),
        "{graph}"
    );
    assert!(
        graph.contains(
            "deploy    needs package · one at a time in production (newest waiting wins) · deploys to production"
        ),
        "{graph}"
    );
}
