use crate::common::TestRun;
use futures_util::TryStreamExt;
use railyard_docker::{DockerError, VolumeMount, context};
use std::collections::BTreeMap;
use std::io::Read;

#[tokio::test]
async fn files_go_in_and_come_back_out_unchanged() {
    let run = TestRun::new().await;
    let vol = run.name("ws");
    run.docker.create_volume(&vol, &run.labels()).await.unwrap();
    let mut spec = run.sleeper("archive");
    spec.mounts = vec![VolumeMount {
        volume: vol,
        target: "/workspace".into(),
    }];
    let c = run.start(&spec).await;

    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("out/sub")).unwrap();
    std::fs::write(dir.path().join("out/a.txt"), "alpha\n").unwrap();
    std::fs::write(dir.path().join("out/sub/b.bin"), [0u8, 1, 2, 255]).unwrap();
    let files = context::collect(dir.path()).unwrap();
    let tar = context::tar(&files, &[("extra.txt".into(), b"extra\n".to_vec())]).unwrap();
    run.docker
        .put_archive(&c, "/workspace", tar.into())
        .await
        .unwrap();
    let (code, out, _) = run
        .sh(&c, "cat /workspace/out/a.txt /workspace/extra.txt")
        .await;
    assert_eq!((code, out.as_str()), (0, "alpha\nextra\n"));

    let stream = run.docker.get_archive(&c, "/workspace/out").await.unwrap();
    let chunks: Vec<bytes::Bytes> = stream.try_collect().await.unwrap();
    let bytes: Vec<u8> = chunks.concat();
    let mut got = BTreeMap::new();
    let mut archive = tar::Archive::new(bytes.as_slice());
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.header().entry_type().is_file() {
            let path = entry.path().unwrap().to_string_lossy().into_owned();
            let mut body = Vec::new();
            entry.read_to_end(&mut body).unwrap();
            got.insert(path, body);
        }
    }
    assert_eq!(
        got,
        BTreeMap::from([
            ("out/a.txt".to_string(), b"alpha\n".to_vec()),
            ("out/sub/b.bin".to_string(), vec![0u8, 1, 2, 255]),
        ])
    );
    run.finish().await;
}

#[tokio::test]
async fn a_missing_path_is_named() {
    let run = TestRun::new().await;
    let c = run.start(&run.sleeper("missing")).await;
    let err = match run.docker.get_archive(&c, "/no/such/path").await {
        Ok(_) => panic!("a missing path must fail"),
        Err(e) => e,
    };
    assert!(
        matches!(&err, DockerError::PathNotFound { path, .. } if path == "/no/such/path"),
        "{err:?}"
    );
    let err = run
        .docker
        .put_archive(&c, "/no/such/dir", bytes::Bytes::from_static(&[0u8; 1024]))
        .await
        .unwrap_err();
    assert!(matches!(err, DockerError::PathNotFound { .. }), "{err:?}");
    run.finish().await;
}
