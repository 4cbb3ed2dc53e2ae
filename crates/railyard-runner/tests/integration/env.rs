//! Env images: built from the project's Dockerfile once per cache key, ready images used as
//! they are, and clear errors when either cannot be had.

use crate::common::{Repo, docker, run};
use railyard_runner::{Event, env_image};
use railyard_types::{JobStatus, labels};

fn env_ready(events: &[Event]) -> Vec<(bool, Option<String>)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::EnvReady {
                cached, cache_key, ..
            } => Some((*cached, cache_key.clone())),
            _ => None,
        })
        .collect()
}

async fn remove_image(key: &str) {
    let docker = docker().await;
    let _ = docker
        .client()
        .remove_image(
            &env_image::tag_for(key),
            None::<bollard::query_parameters::RemoveImageOptions>,
            None,
        )
        .await;
}

#[tokio::test]
async fn the_env_image_is_built_once_and_reused_until_its_inputs_change() {
    let repo = Repo::new(
        r#"
env:
  dockerfile: ci/Dockerfile
  args: { WHO: tests }
jobs:
  one: { script: [cat /built-by] }
  two: { script: [cat /built-by] }
"#,
    );
    // A unique file makes this test's key its own.
    let nonce = crate::common::run_id();
    repo.write(
        "ci/Dockerfile",
        "FROM busybox\nARG WHO\nCOPY nonce /nonce\nRUN echo \"$WHO\" > /built-by\n",
    );
    repo.write("ci/nonce", &nonce);
    repo.write("ci/.dockerignore", "*.tmp\n");

    let first = run(&repo).await;
    assert_eq!(first.status("one"), JobStatus::Success);
    assert_eq!(first.output("one"), ["tests"]);
    let ready = env_ready(&first.events);
    assert_eq!(ready.len(), 1, "two jobs with one env build it once");
    assert!(!ready[0].0, "the first run builds");
    let key = ready[0].1.clone().unwrap();

    // The image carries its key, and an ignored file changes nothing.
    let info = docker()
        .await
        .image(&env_image::tag_for(&key))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info.labels.get(labels::ENV_KEY), Some(&key));
    repo.write("ci/scratch.tmp", "ignored");
    let second = run(&repo).await;
    assert_eq!(env_ready(&second.events), [(true, Some(key.clone()))]);
    assert!(
        !second
            .events
            .iter()
            .any(|e| matches!(e, Event::EnvOutput { .. })),
        "nothing is built"
    );

    // A changed build arg is a new key.
    let mut pipeline = std::fs::read_to_string(repo.root().join(".railyard.yml")).unwrap();
    pipeline = pipeline.replace("WHO: tests", "WHO: others");
    repo.write(".railyard.yml", &pipeline);
    let third = run(&repo).await;
    let ready = env_ready(&third.events);
    assert!(!ready[0].0);
    assert_ne!(ready[0].1.as_ref(), Some(&key));
    assert_eq!(third.output("one"), ["others"]);
    remove_image(&key).await;
    remove_image(ready[0].1.as_ref().unwrap()).await;
}

#[tokio::test]
async fn a_failing_dockerfile_instruction_is_named_with_its_line_and_output() {
    let repo = Repo::new("env: { dockerfile: Dockerfile }\njobs:\n  j: { script: [echo never] }\n");
    repo.write(
        "Dockerfile",
        "FROM busybox\n\nRUN echo preparing && \\\n    no-such-tool --version\n",
    );
    let ran = run(&repo).await;
    assert_eq!(ran.status("j"), JobStatus::Failed);
    let error = ran.outcome.jobs["j"].error.clone().unwrap();
    assert!(error.starts_with("building Dockerfile:3 failed"), "{error}");
    assert!(error.contains("no-such-tool"), "{error}");
    let output: Vec<_> = ran
        .events
        .iter()
        .filter_map(|e| match e {
            Event::EnvOutput { line, .. } => Some(line.clone()),
            _ => None,
        })
        .collect();
    assert!(
        output.iter().any(|l| l.contains("preparing")),
        "build output is streamed: {output:?}"
    );
}

#[tokio::test]
async fn a_missing_dockerfile_is_a_clear_error() {
    let repo =
        Repo::new("env: { dockerfile: ci/Dockerfile }\njobs:\n  j: { script: [echo never] }\n");
    std::fs::create_dir_all(repo.root().join("ci")).unwrap();
    let ran = run(&repo).await;
    let error = ran.outcome.jobs["j"].error.clone().unwrap();
    assert!(
        error.contains("ci/Dockerfile not found") && error.contains("env.dockerfile"),
        "{error}"
    );
}

#[tokio::test]
async fn a_missing_image_is_neither_local_nor_pullable() {
    let repo =
        Repo::new("env: { image: railyard-test/absent:1 }\njobs:\n  j: { script: [echo never] }\n");
    let ran = run(&repo).await;
    assert_eq!(ran.status("j"), JobStatus::Failed);
    let error = ran.outcome.jobs["j"].error.clone().unwrap();
    assert!(
        error.contains("railyard-test/absent:1")
            && error.contains("neither present locally nor pullable"),
        "{error}"
    );
}

#[test]
fn the_cache_key_ignores_mtimes_but_not_contents_or_modes() {
    use railyard_pipeline::BuildSpec;
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), "FROM busybox\n").unwrap();
    std::fs::write(dir.path().join("a.sh"), "echo a\n").unwrap();
    let spec = BuildSpec {
        dockerfile: "Dockerfile".into(),
        context: ".".into(),
        args: Default::default(),
        target: None,
    };
    let key = || env_image::cache_key(dir.path(), &spec).unwrap();
    let k1 = key();
    std::fs::write(dir.path().join("a.sh"), "echo a\n").unwrap();
    assert_eq!(key(), k1, "rewriting the same bytes changes nothing");
    std::fs::set_permissions(
        dir.path().join("a.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let k2 = key();
    assert_ne!(k2, k1, "a mode change is a change");
    std::fs::write(dir.path().join("a.sh"), "echo b\n").unwrap();
    assert_ne!(key(), k2, "a content change is a change");
    let with_target = BuildSpec {
        target: Some("test".into()),
        ..spec.clone()
    };
    assert_ne!(
        env_image::cache_key(dir.path(), &with_target).unwrap(),
        key()
    );
}

/// Two clones of one commit (two agents' checkouts) give the env one key, though their
/// `.git` folders differ: a Dockerfile at the repository root has the repository as its
/// context, and with `.git` in it each agent built (and scanned) its own image.
#[test]
fn two_clones_of_one_commit_have_one_env_key() {
    use railyard_pipeline::BuildSpec;
    let git = |dir: &std::path::Path, args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
    };
    let origin = tempfile::tempdir().unwrap();
    std::fs::write(
        origin.path().join("Dockerfile"),
        "FROM busybox
COPY . /src
",
    )
    .unwrap();
    git(origin.path(), &["init", "-q", "--initial-branch=main"]);
    git(origin.path(), &["add", "-A"]);
    git(origin.path(), &["commit", "-qm", "one"]);
    let spec = BuildSpec {
        dockerfile: "Dockerfile".into(),
        context: ".".into(),
        args: Default::default(),
        target: None,
    };
    let keys: Vec<String> = (0..2)
        .map(|n| {
            let clone = tempfile::tempdir().unwrap();
            let url = format!("file://{}", origin.path().display());
            git(clone.path(), &["clone", "-q", "--depth", "1", &url, "c"]);
            let root = clone.path().join("c");
            // One clone's git folder holds more than the other's.
            if n == 1 {
                git(&root, &["gc", "-q"]);
                std::fs::write(root.join(".git/description"), "another clone\n").unwrap();
            }
            env_image::cache_key(&root, &spec).unwrap()
        })
        .collect();
    assert_eq!(keys[0], keys[1]);
}

/// Two runs of one project starting together on one machine (an agent's slots taking the
/// shards of a job) build its env image once: the second waits for the first's build.
#[tokio::test]
async fn runs_starting_together_build_an_env_key_once() {
    let repo =
        Repo::new("env: { dockerfile: ci/Dockerfile }\njobs:\n  one: { script: [cat /nonce] }\n");
    let nonce = crate::common::run_id();
    repo.write(
        "ci/Dockerfile",
        "FROM busybox\nCOPY nonce /nonce\nRUN sleep 2\n",
    );
    repo.write("ci/nonce", &nonce);
    let (a, b) = tokio::join!(run(&repo), run(&repo));
    assert_eq!(a.status("one"), JobStatus::Success);
    assert_eq!(b.status("one"), JobStatus::Success);
    let mut built: Vec<bool> = [&a, &b]
        .iter()
        .flat_map(|r| env_ready(&r.events))
        .map(|(cached, _)| cached)
        .collect();
    built.sort();
    assert_eq!(
        built,
        [false, true],
        "one run built, the other took its image"
    );
    let key = env_ready(&a.events)[0].1.clone().unwrap();
    remove_image(&key).await;
}

/// A build's output reaches the run line by line (it was one endless line: the builder's
/// lines came without their newline and were joined as chunks).
#[tokio::test]
async fn a_builds_output_comes_line_by_line() {
    let repo = Repo::new("env: { dockerfile: ci/Dockerfile }\njobs:\n  one: { script: [true] }\n");
    let nonce = crate::common::run_id();
    repo.write(
        "ci/Dockerfile",
        "FROM busybox\nCOPY nonce /nonce\nRUN echo 'line 1' && echo 'line 2' && echo 'line 3'\n",
    );
    repo.write("ci/nonce", &nonce);
    let ran = run(&repo).await;
    assert_eq!(ran.status("one"), JobStatus::Success);
    let lines: Vec<&str> = ran
        .events
        .iter()
        .filter_map(|e| match e {
            Event::EnvOutput { line, .. } => Some(line.as_str()),
            _ => None,
        })
        .collect();
    for want in ["line 1", "line 2", "line 3"] {
        assert!(
            lines.contains(&want),
            "no line `{want}` alone in {lines:#?}"
        );
    }
    assert!(lines.iter().any(|l| l.starts_with("Step 1/")), "{lines:#?}");
    let key = env_ready(&ran.events)[0].1.clone().unwrap();
    remove_image(&key).await;
}

/// A committed link as the build context or the Dockerfile (`ctx -> /a/host/folder`) would
/// send the machine's own files into the image, where a job reads them: refused, naming the
/// key, before anything is built.
#[tokio::test]
async fn a_context_or_dockerfile_linked_out_of_the_repository_is_refused() {
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("secret"), "host-secret-value\n").unwrap();
    std::fs::write(
        host.path().join("Dockerfile"),
        "FROM busybox\nCOPY . /ctx\n",
    )
    .unwrap();
    for (key, pipeline) in [
        (
            "env.context",
            "env: { dockerfile: Dockerfile, context: ctx }",
        ),
        (
            "env.dockerfile",
            "env: { dockerfile: ci/Dockerfile, context: . }",
        ),
    ] {
        let repo = Repo::new(&format!(
            "{pipeline}\njobs:\n  leak: {{ script: [cat /ctx/secret] }}\n"
        ));
        repo.write("Dockerfile", "FROM busybox\nCOPY . /ctx\n");
        std::fs::create_dir_all(repo.root().join("ci")).unwrap();
        std::os::unix::fs::symlink(host.path(), repo.root().join("ctx")).unwrap();
        std::os::unix::fs::symlink(
            host.path().join("Dockerfile"),
            repo.root().join("ci/Dockerfile"),
        )
        .unwrap();
        let ran = run(&repo).await;
        assert_eq!(ran.status("leak"), JobStatus::Failed, "{key}");
        let error = ran.outcome.jobs["leak"].error.clone().unwrap_or_default();
        assert!(
            error.contains(&format!("`{key}:")) && error.contains("outside the repository"),
            "{key}: {error}"
        );
        assert!(
            !ran.output("leak")
                .iter()
                .any(|l| l.contains("host-secret-value")),
            "{key}"
        );
    }
}
