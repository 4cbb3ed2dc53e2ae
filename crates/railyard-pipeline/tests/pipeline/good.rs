use crate::ok;
use indexmap::IndexMap;
use railyard_pipeline::*;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

#[test]
fn minimal_pipeline() {
    let p = ok("env: { image: busybox }\njobs:\n  hello:\n    script: echo hello\n");
    assert_eq!(p.path, PathBuf::from(".railyard.yml"));
    assert_eq!(
        p.env,
        Some(EnvSpec {
            source: EnvSource::Image("busybox".into()),
            scan: None
        })
    );
    let job = &p.jobs["hello"];
    assert_eq!(
        job,
        &Job {
            name: "hello".into(),
            script: vec!["echo hello".into()],
            needs: vec![],
            env: None,
            variables: IndexMap::new(),
            services: IndexMap::new(),
            timeout: None,
            allow_failure: false,
            when: None,
            manual: false,
            artifacts: vec![],
            artifacts_when: ArtifactsWhen::OnSuccess,
            needs_without_artifacts: vec![],
            caches: vec![],
            image_build: None,
            concurrency: None,
            environment: None,
            resources: Resources::default(),
            base_name: "hello".into(),
            matrix: IndexMap::new(),
            parallel: 1,
            tests: None,
            retry_failed: 0,
            runs_on: vec![],
        }
    );
}

const FULL: &str = r#"
env:
  dockerfile: ci/Dockerfile
  args: { RUST_VERSION: 1.80, DEBUG: true }
  target: dev
  scan: { fail_on: high }

variables:
  CARGO_TERM_COLOR: always
  RETRIES: 3
  RATIO: 1.10

jobs:
  build:
    script:
      - cargo build --locked
      - |
        echo multi
        echo line
    artifacts: [target/debug/app]
    resources: { cpus: 1.5, memory: 1.5G }
  test:
    needs: build
    script: cargo test
    variables: { RETRIES: 5, DATABASE_URL: "postgres://db/test" }
    services:
      db:
        image: postgres:16
        variables: { POSTGRES_PASSWORD: test }
        command: postgres -c fsync=off
        ready: pg_isready -h db
        ready_timeout: 2m
      cache: redis:7
      queue:
        image: rabbitmq
        command: [rabbitmq-server, --verbose]
    timeout: 1h30m
    allow_failure: true
    resources: { cpus: 2, memory: 4g }
  lint:
    env: { image: "debian:bookworm-slim" }
    script: [make lint]
    resources: { memory: 536870912 }
"#;

#[test]
fn full_pipeline() {
    let p = ok(FULL);
    assert_eq!(
        p.env,
        Some(EnvSpec {
            source: EnvSource::Build(BuildSpec {
                dockerfile: "ci/Dockerfile".into(),
                context: "ci".into(),
                args: BTreeMap::from([
                    ("DEBUG".into(), "true".into()),
                    ("RUST_VERSION".into(), "1.80".into()),
                ]),
                target: Some("dev".into()),
            }),
            scan: Some(ScanPolicy {
                fail_on: Some("high".into())
            }),
        })
    );
    let vars: Vec<(&str, &str)> = p
        .variables
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        vars,
        [
            ("CARGO_TERM_COLOR", "always"),
            ("RETRIES", "3"),
            ("RATIO", "1.10")
        ]
    );
    assert_eq!(p.jobs.keys().collect::<Vec<_>>(), ["build", "test", "lint"]);

    let build = &p.jobs["build"];
    assert_eq!(
        build.script,
        ["cargo build --locked", "echo multi\necho line\n"]
    );
    assert_eq!(build.artifacts, ["target/debug/app"]);
    assert_eq!(
        build.resources,
        Resources {
            cpus: Some(1.5),
            memory: Some(3 << 29)
        }
    );

    let test = &p.jobs["test"];
    assert_eq!(test.needs, ["build"]);
    assert_eq!(test.timeout, Some(Duration::from_secs(5400)));
    assert!(test.allow_failure);
    assert_eq!(
        test.resources,
        Resources {
            cpus: Some(2.0),
            memory: Some(4 << 30)
        }
    );
    let job_vars = p.job_variables(test);
    assert_eq!(job_vars["RETRIES"], "5");
    assert_eq!(job_vars["CARGO_TERM_COLOR"], "always");
    assert_eq!(job_vars["DATABASE_URL"], "postgres://db/test");

    let db = &test.services["db"];
    assert_eq!(db.image, "postgres:16");
    assert_eq!(db.variables["POSTGRES_PASSWORD"], "test");
    assert_eq!(
        db.command.as_deref(),
        Some(
            &[
                "sh".to_string(),
                "-c".into(),
                "postgres -c fsync=off".into()
            ][..]
        )
    );
    assert_eq!(db.ready.as_deref(), Some("pg_isready -h db"));
    assert_eq!(db.ready_timeout, Duration::from_secs(120));
    let cache = &test.services["cache"];
    assert_eq!(cache.image, "redis:7");
    assert_eq!(cache.command, None);
    assert_eq!(cache.ready_timeout, DEFAULT_READY_TIMEOUT);
    assert_eq!(
        test.services["queue"].command,
        Some(vec!["rabbitmq-server".into(), "--verbose".into()])
    );

    let lint = &p.jobs["lint"];
    assert_eq!(
        p.job_env(lint).map(|e| &e.source),
        Some(&EnvSource::Image("debian:bookworm-slim".into()))
    );
    assert_eq!(p.job_env(build), p.env.as_ref());
    assert_eq!(lint.resources.memory, Some(512 << 20));
}

#[test]
fn context_defaults_to_the_dockerfile_folder() {
    let p = ok("env: { dockerfile: Dockerfile }\njobs: { a: { script: [x] } }\n");
    let Some(EnvSpec {
        source: EnvSource::Build(b),
        ..
    }) = &p.env
    else {
        panic!()
    };
    assert_eq!(b.context, PathBuf::from("."));
    let p =
        ok("env: { dockerfile: ci/docker/Dockerfile, context: . }\njobs: { a: { script: [x] } }\n");
    let Some(EnvSpec {
        source: EnvSource::Build(b),
        ..
    }) = &p.env
    else {
        panic!()
    };
    assert_eq!(b.context, PathBuf::from("."));
}

#[test]
fn env_in_every_job_is_enough() {
    let p = ok(
        "jobs:\n  a: { env: { image: busybox }, script: [x] }\n  b: { env: { dockerfile: ci/Dockerfile }, script: [y] }\n",
    );
    assert_eq!(p.env, None);
    assert!(p.jobs.values().all(|j| p.job_env(j).is_some()));
}

#[test]
fn empty_values_mean_unset() {
    let p = ok(
        "env: { image: busybox }\nvariables:\njobs:\n  a:\n    script: [x]\n    needs:\n    timeout:\n",
    );
    assert!(p.variables.is_empty());
    assert_eq!(p.jobs["a"].timeout, None);
}

#[test]
fn anchors_and_merge_keys_work() {
    let p = ok(r#"
env: { image: busybox }
.defaults: &defaults
  timeout: 10m
  allow_failure: true
jobs:
  a:
    <<: *defaults
    script: [x]
"#);
    // Top-level keys starting with `.` are ignored: they hold anchors.
    assert_eq!(p.jobs["a"].timeout, Some(Duration::from_secs(600)));
    assert!(p.jobs["a"].allow_failure);
}

#[test]
fn a_job_overrides_what_it_merges() {
    let p = ok(r#"
env: { image: busybox }
.defaults: &defaults { timeout: 10m, script: [make] }
jobs:
  a:
    <<: *defaults
    timeout: 5m
  b: { <<: *defaults }
"#);
    assert_eq!(p.jobs["a"].timeout, Some(Duration::from_secs(300)));
    assert_eq!(p.jobs["b"].timeout, Some(Duration::from_secs(600)));
    assert_eq!(p.jobs["b"].script, ["make"]);
}

#[test]
fn load_reads_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".railyard.yml");
    std::fs::write(
        &path,
        "env: { image: busybox }\njobs: { a: { script: [x] } }\n",
    )
    .unwrap();
    let p = load(&path).unwrap();
    assert_eq!(p.path, path);
    assert_eq!(p.jobs.len(), 1);
}

#[test]
fn load_names_a_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".railyard.yml");
    let e = load(&path).unwrap_err();
    assert!(
        matches!(&e, PipelineError::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    );
    // The message says what failed; its cause is the source, said once by the report.
    assert_eq!(
        e.to_string(),
        format!("cannot read pipeline file `{}`", path.display())
    );
    let cause = std::error::Error::source(&e).unwrap().to_string();
    assert_eq!(cause, "No such file or directory (os error 2)");
    let help = miette::Diagnostic::help(&e).unwrap().to_string();
    assert!(help.contains("`.railyard.yml`"), "{help}");
}

#[test]
fn a_job_serialized_before_sharding_reads_as_one_plain_shard() {
    let p = ok("env: { image: busybox }\njobs:\n  a: { script: [x] }\n");
    let mut json = serde_json::to_value(&p.jobs["a"]).unwrap();
    let object = json.as_object_mut().unwrap();
    for key in ["matrix", "parallel", "tests", "retry_failed"] {
        object.remove(key);
    }
    let job: Job = serde_json::from_value(json).unwrap();
    assert_eq!(job, p.jobs["a"]);
}

#[test]
fn runs_on_takes_a_label_or_a_list_each_once() {
    let p = ok(
        "env: { image: busybox }\njobs:\n  a: { script: [x], runs_on: gpu }\n  b: { script: [x], runs_on: [linux, \"arch:arm64\", linux] }\n  c: { script: [x] }\n",
    );
    assert_eq!(p.jobs["a"].runs_on, ["gpu"]);
    assert_eq!(p.jobs["b"].runs_on, ["linux", "arch:arm64"]);
    assert!(p.jobs["c"].runs_on.is_empty());
}

#[test]
fn artifacts_take_a_path_a_list_or_paths_and_when() {
    let p = ok(r#"
env: { image: busybox }
jobs:
  one: { script: [x], artifacts: dist/app }
  list: { script: [x], artifacts: [dist/app, "reports/"] }
  map:
    script: [x]
    artifacts: { paths: [reports/junit.xml, coverage], when: always }
  failure: { script: [x], artifacts: { paths: logs, when: on_failure } }
  success: { script: [x], artifacts: { paths: [out], when: on_success } }
  default: { script: [x], artifacts: { paths: [out] } }
  none: { script: [x] }
"#);
    let got = |name: &str| {
        let job = &p.jobs[name];
        (job.artifacts.clone(), job.artifacts_when)
    };
    use ArtifactsWhen::*;
    assert_eq!(got("one"), (vec!["dist/app".into()], OnSuccess));
    assert_eq!(
        got("list"),
        (vec!["dist/app".into(), "reports/".into()], OnSuccess)
    );
    assert_eq!(
        got("map"),
        (vec!["reports/junit.xml".into(), "coverage".into()], Always)
    );
    assert_eq!(got("failure"), (vec!["logs".into()], OnFailure));
    assert_eq!(got("success"), (vec!["out".into()], OnSuccess));
    assert_eq!(got("default"), (vec!["out".into()], OnSuccess));
    assert_eq!(got("none"), (vec![], OnSuccess));
    assert!(Always.keeps(false) && OnFailure.keeps(false) && !OnSuccess.keeps(false));
}

#[test]
fn needs_mix_names_and_maps_that_leave_artifacts() {
    let p = ok(r#"
env: { image: busybox }
jobs:
  build: { script: [x] }
  lint: { script: [x] }
  docs: { script: [x] }
  test:
    needs:
      - build
      - { job: lint, artifacts: false }
      - job: docs
        artifacts: true
      - build
    script: [x]
  alone: { needs: { job: build, artifacts: false }, script: [x] }
  same: { needs: [{ job: lint, artifacts: false }, { job: lint, artifacts: false }], script: [x] }
"#);
    let test = &p.jobs["test"];
    assert_eq!(test.needs, ["build", "lint", "docs"]);
    assert_eq!(test.needs_without_artifacts, ["lint"]);
    assert!(test.takes_artifacts_from("build"));
    assert!(!test.takes_artifacts_from("lint"));
    assert!(test.takes_artifacts_from("docs"));
    assert!(!test.takes_artifacts_from("alone"), "not a need at all");
    let alone = &p.jobs["alone"];
    assert_eq!(
        (alone.needs.clone(), alone.needs_without_artifacts.clone()),
        (vec!["build".into()], vec!["build".into()])
    );
    assert_eq!(p.jobs["same"].needs_without_artifacts, ["lint"]);
}

#[test]
fn image_build_reads_like_an_env_build_with_tags_push_and_scan() {
    let p = ok(r#"
env: { image: busybox }
jobs:
  package:
    script: [make dist]
    image_build:
      dockerfile: deploy/Dockerfile
      context: .
      target: prod
      args: { VERSION: 1.10 }
      tags: ["app:{commit}", "app:{ref}", "tools/app", "app:{commit}"]
      push: true
      scan: { fail_on: high }
  minimal:
    script: [x]
    image_build: { dockerfile: deploy/app/Dockerfile, tags: "web:latest" }
"#);
    assert_eq!(
        p.jobs["package"].image_build,
        Some(ImageBuild {
            build: BuildSpec {
                dockerfile: "deploy/Dockerfile".into(),
                context: ".".into(),
                args: BTreeMap::from([("VERSION".into(), "1.10".into())]),
                target: Some("prod".into()),
            },
            tags: vec![
                "app:{commit}".into(),
                "app:{ref}".into(),
                "tools/app".into()
            ],
            push: true,
            scan: Some(ScanPolicy {
                fail_on: Some("high".into())
            }),
        })
    );
    // The context defaults to the Dockerfile's folder, as an env's does; nothing is pushed
    // unless asked.
    assert_eq!(
        p.jobs["minimal"].image_build,
        Some(ImageBuild {
            build: BuildSpec {
                dockerfile: "deploy/app/Dockerfile".into(),
                context: "deploy/app".into(),
                args: BTreeMap::new(),
                target: None,
            },
            tags: vec!["web:latest".into()],
            push: false,
            scan: None,
        })
    );
    assert_eq!(p.jobs["package"].parallel, 1);
}

#[test]
fn image_build_with_parallel_1_is_one_builder() {
    let p = ok(
        "env: { image: busybox }\njobs:\n  a:\n    script: [x]\n    parallel: 1\n    image_build: { dockerfile: Dockerfile, tags: [app] }\n",
    );
    assert_eq!(
        p.jobs["a"].image_build.as_ref().unwrap().build.context,
        PathBuf::from(".")
    );
}

#[test]
fn tags_expand_commit_run_and_the_slug_of_the_ref() {
    let commit = "0123456789abcdef0123456789abcdef01234567";
    let values = |git_ref| TagValues {
        commit,
        run: "01J0000000000000000000000A",
        git_ref,
    };
    assert_eq!(
        expand_tag(
            "app:{short_commit}-{ref}",
            &values(Some("refs/heads/feature/Login_v2"))
        ),
        "app:0123456789ab-feature-login-v2"
    );
    assert_eq!(
        expand_tag("tools/app:{commit}", &values(None)),
        format!("tools/app:{commit}")
    );
    assert_eq!(
        expand_tag("app:{run}", &values(None)),
        "app:01J0000000000000000000000A"
    );
    // Without a ref (a run for a commit), `{ref}` is the short commit.
    assert_eq!(expand_tag("app:{ref}", &values(None)), "app:0123456789ab");
    assert_eq!(
        expand_tag("app:{ref}", &values(Some("refs/tags/v1.2"))),
        "app:v1-2"
    );
}

#[test]
fn concurrency_and_environment_take_a_name_or_a_map() {
    let p = ok(r#"
env: { image: busybox }
jobs:
  short: { script: [x], concurrency: production, environment: production }
  long:
    script: [x]
    concurrency: { group: "deploy eu/1", cancel_pending: true }
    environment: { name: Staging }
  waits: { script: [x], concurrency: { group: production } }
  sharded: { script: [x], parallel: 2, concurrency: db, environment: review }
  none: { script: [x] }
"#);
    let short = &p.jobs["short"];
    assert_eq!(
        short.concurrency,
        Some(Concurrency {
            group: "production".into(),
            cancel_pending: false
        })
    );
    assert_eq!(short.environment.as_deref(), Some("production"));
    let long = &p.jobs["long"];
    assert_eq!(
        long.concurrency,
        Some(Concurrency {
            group: "deploy eu/1".into(),
            cancel_pending: true
        })
    );
    assert_eq!(long.environment.as_deref(), Some("Staging"));
    assert_eq!(
        p.jobs["waits"]
            .concurrency
            .as_ref()
            .map(|c| c.cancel_pending),
        Some(false)
    );
    assert_eq!(p.jobs["sharded"].environment.as_deref(), Some("review"));
    assert_eq!(
        (
            p.jobs["none"].concurrency.as_ref(),
            p.jobs["none"].environment.as_ref()
        ),
        (None, None)
    );
    let longest = "x".repeat(MAX_DEPLOY_NAME_LEN);
    let p = ok(&format!(
        "env: {{ image: busybox }}\njobs: {{ a: {{ script: [x], concurrency: {longest} }} }}\n"
    ));
    assert_eq!(p.jobs["a"].concurrency.as_ref().unwrap().group, longest);
}
