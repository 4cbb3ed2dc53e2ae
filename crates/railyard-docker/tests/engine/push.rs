use crate::common::TestRun;
use railyard_docker::{BuildRequest, DockerError};
use railyard_test_support::registry::Registry;

/// A built image tagged under a real registry is pushed; the digest the push reports is
/// the one the registry serves for the tag.
#[tokio::test]
async fn a_tagged_image_is_pushed_and_its_digest_is_the_registrys() {
    let Some(registry) = Registry::start() else {
        return;
    };
    let run = TestRun::new().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        format!("FROM busybox\nRUN echo {} > /id\n", run.id),
    )
    .unwrap();
    let req = BuildRequest {
        context_dir: dir.path().to_path_buf(),
        dockerfile: dir.path().join("Dockerfile"),
        labels: run.labels(),
        ..Default::default()
    };
    let id = run.docker.build(&req, &mut |_| {}).await.unwrap();
    let repo = format!("{}/test/{}", registry.host, run.id);
    let reference = format!("{repo}:v1");
    run.docker.tag(&id, &reference).await.unwrap();
    let mut lines = Vec::new();
    let digest = run
        .docker
        .push(&reference, &mut |l| lines.push(l.to_string()))
        .await
        .unwrap();
    assert!(digest.starts_with("sha256:"), "{digest} {lines:?}");
    let path = format!("test/{}", run.id);
    assert_eq!(registry.tags(&path), vec!["v1".to_string()]);
    assert_eq!(registry.manifest_digest(&path, "v1"), Some(digest));
    run.finish().await;
}

/// A registry that does not answer is named in the error, with what to check.
#[tokio::test]
async fn a_push_to_a_registry_that_is_not_there_names_it() {
    let run = TestRun::new().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), "FROM busybox\nLABEL x=1\n").unwrap();
    let req = BuildRequest {
        context_dir: dir.path().to_path_buf(),
        dockerfile: dir.path().join("Dockerfile"),
        labels: run.labels(),
        ..Default::default()
    };
    let id = run.docker.build(&req, &mut |_| {}).await.unwrap();
    // A port nobody listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let reference = format!("127.0.0.1:{port}/test/{}:v1", run.id);
    run.docker.tag(&id, &reference).await.unwrap();
    let err = run.docker.push(&reference, &mut |_| {}).await.unwrap_err();
    assert!(matches!(err, DockerError::PushFailed { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(text.contains("check that the registry runs"), "{text}");
    run.finish().await;
}
