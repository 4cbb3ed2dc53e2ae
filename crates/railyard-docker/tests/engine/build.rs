use crate::common::TestRun;
use railyard_docker::{BuildRequest, DockerError};
use std::collections::BTreeMap;
use std::path::Path;

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn request(run: &TestRun, context: &Path, dockerfile: &Path) -> BuildRequest {
    BuildRequest {
        context_dir: context.to_path_buf(),
        dockerfile: dockerfile.to_path_buf(),
        labels: run.labels(),
        memory: None,
        ..Default::default()
    }
}

const MULTI_STAGE: &str = "\
FROM busybox AS base
ARG GREETING=unset
RUN echo \"$GREETING\" > /greeting
COPY . /ctx
FROM base AS wanted
RUN echo wanted > /stage
FROM base AS later
RUN echo later > /stage
";

#[tokio::test]
async fn builds_with_args_target_labels_tags_and_dockerignore() {
    let run = TestRun::new().await;
    let dir = tempfile::tempdir().unwrap();
    let ctx = dir.path();
    write(ctx, "Dockerfile", MULTI_STAGE);
    write(ctx, ".dockerignore", "secret\n*.log\n");
    write(ctx, "kept.txt", "kept\n");
    write(ctx, "app.log", "ignored\n");
    write(ctx, "secret/key", "ignored\n");

    let mut req = request(&run, ctx, &ctx.join("Dockerfile"));
    req.args = BTreeMap::from([("GREETING".to_string(), "hello from args".to_string())]);
    req.target = Some("wanted".into());
    req.tags = vec![
        format!("railyard-test/{}:one", run.id),
        format!("railyard-test/{}:two", run.id),
    ];
    req.labels
        .insert("io.railyard.env-key".into(), "k123".into());
    let mut lines = Vec::new();
    let id = run
        .docker
        .build(&req, &mut |l| lines.push(l.to_string()))
        .await
        .unwrap();
    assert!(id.starts_with("sha256:"), "{id}");
    assert!(lines.iter().any(|l| l.starts_with("Step 1/")), "{lines:?}");
    assert!(lines.iter().all(|l| !l.contains('\n')), "one line per call");
    // The classic builder stops at the target: the later stage never ran.
    assert!(!lines.iter().any(|l| l.contains("echo later")), "{lines:?}");

    let one = run.docker.image(&req.tags[0]).await.unwrap().unwrap();
    let two = run.docker.image(&req.tags[1]).await.unwrap().unwrap();
    assert_eq!(
        (one.id.as_str(), two.id.as_str()),
        (id.as_str(), id.as_str())
    );
    assert_eq!(
        one.labels.get("io.railyard.env-key").map(String::as_str),
        Some("k123")
    );
    assert!(one.size > 0);

    let mut spec = run.sleeper("check");
    spec.image = id.clone();
    let c = run.start(&spec).await;
    let (code, out, err) = run
        .sh(&c, "cat /greeting /stage; ls -A /ctx | sort | tr '\\n' ' '")
        .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "hello from args\nwanted\n.dockerignore Dockerfile kept.txt "
    );
    run.finish().await;
}

#[tokio::test]
async fn a_dockerfile_outside_the_context_is_sent_along() {
    let run = TestRun::new().await;
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "ci/Dockerfile",
        "FROM busybox\nCOPY data.txt /data.txt\n",
    );
    write(dir.path(), "ctx/data.txt", "from the context\n");
    let mut req = request(
        &run,
        &dir.path().join("ctx"),
        &dir.path().join("ci/Dockerfile"),
    );
    req.tags = vec![format!("railyard-test/{}:outside", run.id)];
    let id = run.docker.build(&req, &mut |_| {}).await.unwrap();
    let mut spec = run.sleeper("check");
    spec.image = id;
    let c = run.start(&spec).await;
    assert_eq!(run.sh(&c, "cat /data.txt").await.1, "from the context\n");
    run.finish().await;
}

#[tokio::test]
async fn a_failing_instruction_is_named_with_its_output() {
    let run = TestRun::new().await;
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "Dockerfile",
        "FROM busybox\nRUN echo out-line && echo err-line >&2 && exit 3\nRUN echo never\n",
    );
    let req = request(&run, dir.path(), &dir.path().join("Dockerfile"));
    let mut lines = Vec::new();
    let err = run
        .docker
        .build(&req, &mut |l| lines.push(l.to_string()))
        .await
        .unwrap_err();
    let DockerError::BuildFailed {
        step,
        message,
        output_tail,
    } = &err
    else {
        panic!("{err:?}")
    };
    // The builder counts the request's labels as extra LABEL steps at the end.
    let step = step.as_deref().unwrap();
    assert!(step.starts_with("Step 2/"), "{step}");
    assert!(
        step.ends_with(" : RUN echo out-line && echo err-line >&2 && exit 3"),
        "{step}"
    );
    assert!(message.contains("returned a non-zero code: 3"), "{message}");
    // stdout and stderr reach the builder through separate pipes: their order may vary.
    let mut tail = output_tail.clone();
    tail.sort();
    assert_eq!(tail, ["err-line", "out-line"]);
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("image build failed at `{step}`: ")),
        "{text}"
    );
    assert!(
        text.contains("\n  out-line") && text.contains("\n  err-line"),
        "{text}"
    );
    assert!(
        lines.contains(&"out-line".to_string()),
        "streamed live too: {lines:?}"
    );
    run.finish().await;
}

#[tokio::test]
async fn a_missing_base_image_says_it_cannot_be_pulled() {
    let run = TestRun::new().await;
    let dir = tempfile::tempdir().unwrap();
    let base = format!("railyard-test-no-such-base-{}:1", run.id);
    write(
        dir.path(),
        "Dockerfile",
        &format!("FROM {base}\nRUN true\n"),
    );
    let req = request(&run, dir.path(), &dir.path().join("Dockerfile"));
    let err = run.docker.build(&req, &mut |_| {}).await.unwrap_err();
    let DockerError::BuildFailed { step, message, .. } = &err else {
        panic!("{err:?}")
    };
    let step = step.as_deref().unwrap();
    assert!(
        step.starts_with("Step 1/") && step.ends_with(&format!(" : FROM {base}")),
        "{step}"
    );
    assert!(
        message.starts_with(&format!(
            "base image `{base}` is neither present locally nor pullable: "
        )),
        "{message}"
    );
    run.finish().await;
}

#[tokio::test]
async fn a_missing_dockerfile_is_named() {
    let run = TestRun::new().await;
    let dir = tempfile::tempdir().unwrap();
    let req = request(&run, dir.path(), &dir.path().join("nope/Dockerfile"));
    let err = run.docker.build(&req, &mut |_| {}).await.unwrap_err();
    assert!(matches!(err, DockerError::Dockerfile { .. }), "{err:?}");
    assert!(err.to_string().contains("nope/Dockerfile"), "{err}");
    run.finish().await;
}

#[tokio::test]
async fn a_missing_image_that_cannot_be_pulled_says_so() {
    let run = TestRun::new().await;
    let reference = format!("railyard-test-no-such-image-{}:1", run.id);
    assert_eq!(run.docker.image(&reference).await.unwrap(), None);
    let mut progress = Vec::new();
    let err = run
        .docker
        .pull(&reference, &mut |l| progress.push(l.to_string()))
        .await
        .unwrap_err();
    assert!(
        matches!(err, DockerError::ImageUnavailable { .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "image `{reference}` is neither present locally nor pullable: "
        )),
        "{text}"
    );
    // A present image needs no pull.
    let busybox = run.docker.image("busybox").await.unwrap().unwrap();
    assert!(busybox.id.starts_with("sha256:"));
    run.finish().await;
}

#[tokio::test]
async fn a_dockerfile_syntax_error_is_reported_before_any_step() {
    let run = TestRun::new().await;
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "Dockerfile",
        "FROM busybox\nFROBNICATE the widgets\n",
    );
    let req = request(&run, dir.path(), &dir.path().join("Dockerfile"));
    let err = run.docker.build(&req, &mut |_| {}).await.unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(&err, DockerError::BuildFailed { step: None, .. }),
        "{err:?}"
    );
    assert!(text.contains("unknown instruction: FROBNICATE"), "{text}");
    run.finish().await;
}
