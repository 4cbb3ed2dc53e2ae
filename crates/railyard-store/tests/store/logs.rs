//! Job logs: appended by several writers in turn, kept across reopening, safe file names,
//! a size limit, and a clear error for a log never written.

use railyard_store::{Store, StoreError, StoreOptions};
use railyard_types::RunId;

use crate::common::{data_dir, new_run};

#[tokio::test(flavor = "multi_thread")]
async fn logs_from_two_writers_survive_reopen() {
    let dir = data_dir();
    let store = Store::open_in(dir.path()).await.unwrap();
    let job = "test (1/2) a=b/c";
    let run = store
        .create_run(&new_run("p", "h:1", &[job, "build"]))
        .await
        .unwrap();

    let mut first = store.log_writer(&run.id, job).await.unwrap();
    first.append(b"$ make\n").await.unwrap();
    first.append(b"compiling...").await.unwrap();
    let mut second = store.log_writer(&run.id, job).await.unwrap();
    assert_eq!(
        second.len(),
        first.len(),
        "the second writer sees what the first appended"
    );
    second.append(b" done\n").await.unwrap();
    first.append(b"$ make test\n").await.unwrap();
    first.flush().await.unwrap();
    drop(first);
    second.append(b"ok\n").await.unwrap();
    drop(second);

    let path = store.log_path(&run.id, job);
    assert!(
        path.starts_with(dir.path().join("logs").join(run.id.as_str())),
        "{}",
        path.display()
    );
    let file = path.file_name().unwrap().to_str().unwrap();
    assert!(
        file.ends_with(".log") && !file.contains(['/', ' ', '(', '=']),
        "{file}"
    );
    assert_ne!(store.log_path(&run.id, "test _1_2_ a_b_c"), path);

    store.close().await;
    let again = Store::open(&dir.path().join("railyard.db").display().to_string())
        .await
        .unwrap();
    let log = again.read_log(&run.id, job).await.unwrap();
    assert_eq!(
        String::from_utf8(log).unwrap(),
        "$ make\ncompiling... done\n$ make test\nok\n"
    );

    match again.read_log(&run.id, "build").await {
        Err(StoreError::NoLog { run: r, job: j }) => {
            assert_eq!((r, j.as_str()), (run.id.to_string(), "build"))
        }
        other => panic!("expected NoLog: {other:?}"),
    }
    let err = again
        .read_log(&run.id, "build")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("build") && err.contains(run.id.as_str()),
        "{err}"
    );
    again.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_log_stops_at_its_limit_with_a_marker() {
    let dir = data_dir();
    let options = StoreOptions {
        max_log_bytes: 10,
        ..Default::default()
    };
    let url = dir.path().join("railyard.db").display().to_string();
    let store = Store::open_with(&url, &options).await.unwrap();
    let mut log = store
        .log_writer(&RunId::from("01RUN"), "build")
        .await
        .unwrap();
    log.append(b"123456").await.unwrap();
    let err = log.append(b"7890abcdef").await.unwrap_err();
    assert!(
        matches!(err, StoreError::LogTooLarge { limit: 10, .. }),
        "{err}"
    );
    assert!(log.append(b"more").await.is_err());
    let text = String::from_utf8(
        store
            .read_log(&RunId::from("01RUN"), "build")
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(text, "1234567890\n[railyard: log truncated at 10 bytes]\n");
    // A later writer of a full log appends nothing more.
    let mut later = store
        .log_writer(&RunId::from("01RUN"), "build")
        .await
        .unwrap();
    assert!(later.append(b"x").await.is_err());
    assert_eq!(
        store
            .read_log(&RunId::from("01RUN"), "build")
            .await
            .unwrap()
            .len(),
        text.len()
    );
    store.close().await;
}
