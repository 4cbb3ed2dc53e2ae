//! `image_build`: an image built on the engine from the job's workspace after its steps,
//! scanned through the run's check, pushed to a real registry (Debian's `docker-registry`).

use crate::common::{Repo, assert_nothing_left, docker, run_id};
use railyard_pipeline::{BuildSpec, ImageBuild, Pipeline, ScanPolicy};
use railyard_runner::{
    BuiltImageCheck, EnvCheck, EnvCheckError, Event, RunOptions, RunOutcome, run_pipeline,
};
use railyard_test_support::registry::Registry;
use railyard_types::JobStatus;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const PIPELINE: &str = "\
env: { image: busybox }
jobs:
  package:
    script:
      - mkdir -p out && echo \"built by $RAILYARD_JOB at $RAILYARD_COMMIT\" > out/app.txt
      - echo $RAILYARD_RUN_ID > out/run.txt
";

/// `out/run.txt` first: each test's layers are its own, so that one test removing its image
/// never removes a layer another test's build takes from the builder's cache.
const DOCKERFILE: &str = "FROM busybox\nCOPY out/run.txt /run.txt\nCOPY out/app.txt /app.txt\nCMD [\"cat\", \"/app.txt\"]\n";

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

fn image_build(tag: &str, push: bool) -> ImageBuild {
    ImageBuild {
        build: BuildSpec {
            dockerfile: PathBuf::from("Dockerfile"),
            context: PathBuf::from("."),
            args: Default::default(),
            target: None,
        },
        tags: vec![tag.to_string()],
        push,
        scan: None,
    }
}

struct Ran {
    outcome: RunOutcome,
    events: Vec<Event>,
}

impl Ran {
    fn error(&self) -> String {
        self.outcome.jobs["package"]
            .error
            .clone()
            .unwrap_or_default()
    }
}

/// Runs `package` with its `image_build` set to `build` (the file's syntax is another
/// change's), with `registry` and `check`.
async fn run(
    repo: &Repo,
    build: ImageBuild,
    registry: Option<&Registry>,
    check: Option<Arc<dyn EnvCheck>>,
) -> Ran {
    let docker = docker().await;
    let build_tag_without_commit = build.tags.iter().any(|t| t.starts_with("nocommit:"));
    let mut pipeline: Pipeline = repo.pipeline();
    pipeline.jobs["package"].image_build = Some(build);
    let pipeline = Arc::new(pipeline);
    let run_id = run_id();
    let artifacts = tempfile::tempdir().unwrap();
    let opts = RunOptions {
        run_id: run_id.clone(),
        owner: railyard_runner::names::owner(),
        project: "Shop App".into(),
        repo_root: repo.root().to_path_buf(),
        jobs: pipeline.select(&[]).unwrap(),
        rule_skipped: Default::default(),
        max_parallel: 2,
        artifacts_dir: artifacts.path().to_path_buf(),
        timings: Default::default(),
        env_check: check,
        secrets: vec![],
        networks: Default::default(),
        // A tag `nocommit:…` stands for a run outside git: no commit to name.
        run_variables: match build_tag_without_commit {
            true => vec![],
            false => vec![("RAILYARD_COMMIT".into(), COMMIT.into())],
        },
        allowance: Default::default(),
        registry: registry.map(|r| format!("http://{}/ci", r.host).parse().unwrap()),
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
    assert_nothing_left(&docker, &run_id).await;
    Ran { outcome, events }
}

/// The images labelled as built by this test's tag, removed (the product is kept by the
/// runner; the test cleans its own).
fn remove_images_of(tag: &str) -> usize {
    let out = Command::new("docker")
        .args([
            "images",
            "-q",
            "--filter",
            &format!("label=io.railyard.app-image={tag}"),
        ])
        .output()
        .unwrap();
    let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    let mut unique = ids.clone();
    unique.dedup();
    for id in &unique {
        let _ = Command::new("docker").args(["rmi", "-f", id]).output();
    }
    unique.len()
}

/// A check that refuses every built image, as a scan with `fail_on: high` finding a
/// vulnerability would (the CLI's real scan is tested through the binary).
struct Refuse;

#[async_trait::async_trait]
impl EnvCheck for Refuse {
    async fn check(
        &self,
        _: &str,
        _: &railyard_pipeline::EnvSpec,
    ) -> Result<Vec<String>, EnvCheckError> {
        Ok(vec![])
    }

    async fn check_built(
        &self,
        _: &str,
        image: &BuiltImageCheck<'_>,
    ) -> Result<Vec<String>, EnvCheckError> {
        assert_eq!(
            image.policy.and_then(|p| p.fail_on.as_deref()),
            Some("high")
        );
        Err(EnvCheckError::Refused(format!(
            "1 known vulnerability at or above `high` in {}",
            image.reference
        )))
    }
}

#[tokio::test]
async fn an_image_built_after_the_steps_holds_their_output_and_is_pushed_with_its_digest() {
    let Some(registry) = Registry::start() else {
        return;
    };
    let repo = Repo::new(PIPELINE);
    repo.write("Dockerfile", DOCKERFILE);
    let tag = format!("app:{}", run_id());
    let ran = run(&repo, image_build(&tag, true), Some(&registry), None).await;
    let result = &ran.outcome.jobs["package"];
    assert_eq!(result.status, JobStatus::Success, "{:?}", result.error);
    let image = result.image.clone().expect("the job reports its image");
    let (tag_name, tag_value) = tag.split_once(':').unwrap();
    let repository = format!("ci/shop-app/{tag_name}");
    let reference = format!("{}/{repository}:{tag_value}", registry.host);
    assert_eq!(image.tags, vec![reference.clone()]);
    assert_eq!(image.pushed.len(), 1);
    assert_eq!(image.pushed[0].reference, reference);
    // The registry holds the tag, under the digest the job recorded.
    assert_eq!(registry.tags(&repository), vec![tag_value.to_string()]);
    assert_eq!(
        registry.manifest_digest(&repository, tag_value).as_deref(),
        Some(image.pushed[0].digest.as_str())
    );
    assert!(ran.events.iter().any(|e| matches!(
        e,
        Event::ImageBuilt { job, pushed, .. } if job == "package" && pushed[0].1 == image.pushed[0].digest
    )));
    // Built after the steps, from the workspace: the step's file is in the image.
    let out = Command::new("docker")
        .args(["run", "--rm", &image.image_id])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("built by package at {COMMIT}\n"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(remove_images_of(&tag), 1);
}

#[tokio::test]
async fn a_tag_expands_the_commit_and_without_push_stays_local() {
    let repo = Repo::new(PIPELINE);
    repo.write("Dockerfile", DOCKERFILE);
    let ran = run(&repo, image_build("app:{short_commit}", false), None, None).await;
    let result = &ran.outcome.jobs["package"];
    assert_eq!(result.status, JobStatus::Success, "{:?}", result.error);
    let image = result.image.clone().unwrap();
    assert_eq!(image.tags, vec!["shop-app/app:0123456789ab".to_string()]);
    assert!(image.pushed.is_empty());
    let _ = Command::new("docker")
        .args(["rmi", "-f", &image.image_id])
        .output();
}

#[tokio::test]
async fn a_refused_scan_stops_the_job_before_its_push() {
    let Some(registry) = Registry::start() else {
        return;
    };
    let repo = Repo::new(PIPELINE);
    repo.write("Dockerfile", DOCKERFILE);
    let tag = format!("app:{}", run_id());
    let mut build = image_build(&tag, true);
    build.scan = Some(ScanPolicy {
        fail_on: Some("high".into()),
    });
    let ran = run(&repo, build, Some(&registry), Some(Arc::new(Refuse))).await;
    let result = &ran.outcome.jobs["package"];
    assert_eq!(result.status, JobStatus::Failed);
    let error = ran.error();
    assert!(
        error.contains("was not pushed") && error.contains("known vulnerability"),
        "{error}"
    );
    assert!(result.image.is_none());
    assert!(registry.tags("ci/shop-app/app").is_empty());
    assert!(
        !ran.events
            .iter()
            .any(|e| matches!(e, Event::ImageBuilt { .. }))
    );
    // Built and kept locally (it was scanned), never pushed.
    remove_images_of(&tag);
}

#[tokio::test]
async fn a_context_link_leading_out_is_refused_by_name_and_nothing_is_built() {
    for (link, target) in [
        ("ctx/root", "/"),
        ("ctx/passwd", "/etc/passwd"),
        ("ctx/up", "../secret.txt"),
    ] {
        let Some(registry) = Registry::start() else {
            return;
        };
        let repo = Repo::new(&format!(
            "env: {{ image: busybox }}\njobs:\n  package:\n    script:\n      - mkdir -p ctx && echo s > secret.txt && ln -s {target} {link}\n"
        ));
        repo.write("ctx/Dockerfile", "FROM busybox\nCOPY . /ctx\n");
        let tag = format!("app:{}", run_id());
        let mut build = image_build(&tag, true);
        build.build.context = "ctx".into();
        build.build.dockerfile = "ctx/Dockerfile".into();
        let ran = run(&repo, build, Some(&registry), None).await;
        assert_eq!(ran.outcome.jobs["package"].status, JobStatus::Failed);
        let error = ran.error();
        assert!(
            error.contains(&format!("{link} -> {target}"))
                && error.contains("leads out of the context")
                && error.contains("Nothing was built"),
            "{error}"
        );
        assert_eq!(remove_images_of(&tag), 0, "an image was built for {link}");
        assert!(registry.tags("ci/shop-app/app").is_empty());
    }
    // The whole workspace as the context: the link is named by its path in it.
    let repo = Repo::new(
        "env: { image: busybox }\njobs:\n  package:\n    script:\n      - mkdir -p ctx && ln -s / ctx/root\n",
    );
    repo.write("Dockerfile", "FROM busybox\nCOPY . /ctx\n");
    let tag = format!("app:{}", run_id());
    let ran = run(&repo, image_build(&tag, false), None, None).await;
    let error = ran.error();
    assert!(error.contains("holds `ctx/root -> /`"), "{error}");
    assert_eq!(remove_images_of(&tag), 0);
}

/// A context of 2 GB (a sparse file a step made) is refused at the entry that passes the
/// bound, as an artifact would be: nothing is built.
#[tokio::test]
async fn a_context_of_2_gb_is_refused_and_nothing_is_built() {
    let repo = Repo::new(
        "env: { image: busybox }\njobs:\n  package:\n    script:\n      - mkdir -p ctx && dd if=/dev/zero of=ctx/big.bin bs=1M count=0 seek=2048\n",
    );
    repo.write("ctx/Dockerfile", "FROM busybox\nCOPY . /ctx\n");
    let tag = format!("app:{}", run_id());
    let mut build = image_build(&tag, false);
    build.build.context = "ctx".into();
    build.build.dockerfile = "ctx/Dockerfile".into();
    let ran = run(&repo, build, None, None).await;
    assert_eq!(ran.outcome.jobs["package"].status, JobStatus::Failed);
    let error = ran.error();
    assert!(
        error.contains("big.bin") && error.contains("1.0 GiB"),
        "{error}"
    );
    assert_eq!(remove_images_of(&tag), 0);
}

#[tokio::test]
async fn a_dockerfile_climbing_out_of_the_workspace_is_refused() {
    let repo = Repo::new(PIPELINE);
    let tag = format!("app:{}", run_id());
    let mut build = image_build(&tag, false);
    build.build.dockerfile = "../x".into();
    let ran = run(&repo, build, None, None).await;
    assert_eq!(ran.outcome.jobs["package"].status, JobStatus::Failed);
    let error = ran.error();
    assert!(
        error.contains("`image_build.dockerfile: ../x`") && error.contains("inside the workspace"),
        "{error}"
    );
    assert_eq!(remove_images_of(&tag), 0);
}

#[tokio::test]
async fn push_without_a_registry_is_refused_before_building() {
    let repo = Repo::new(PIPELINE);
    repo.write("Dockerfile", DOCKERFILE);
    let tag = format!("app:{}", run_id());
    let ran = run(&repo, image_build(&tag, true), None, None).await;
    assert_eq!(ran.outcome.jobs["package"].status, JobStatus::Failed);
    let error = ran.error();
    assert!(
        error.contains("push: true") && error.contains("--registry http://HOST:PORT/PREFIX"),
        "{error}"
    );
    assert_eq!(remove_images_of(&tag), 0);
}

#[tokio::test]
async fn a_tag_naming_the_commit_of_a_run_without_one_says_so() {
    let repo = Repo::new(PIPELINE);
    repo.write("Dockerfile", DOCKERFILE);
    let ran = run(
        &repo,
        image_build("nocommit:{short_commit}", false),
        None,
        None,
    )
    .await;
    assert_eq!(ran.outcome.jobs["package"].status, JobStatus::Failed);
    let error = ran.error();
    assert!(
        error.contains("names the commit, but this run has none") && error.contains("{run}"),
        "{error}"
    );
}
