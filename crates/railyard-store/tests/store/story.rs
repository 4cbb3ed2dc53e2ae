//! A whole run told to the store, read back, and read again after reopening: on SQLite, and
//! on PostgreSQL when available. Plus abandoning the runs of dead processes.

use railyard_store::{JobStatus, RunStatus, StepStatus, Store, StoreError};
use railyard_types::{Millis, ProjectName, RunId};

use crate::common::{PgDb, data_dir, new_run, now_ms, open_pg};

#[tokio::test(flavor = "multi_thread")]
async fn run_story_on_sqlite() {
    let dir = data_dir();
    let store = Store::open_in(dir.path()).await.unwrap();
    assert_eq!(
        store.location(),
        dir.path().join("railyard.db").display().to_string()
    );
    let url = format!("sqlite:{}", dir.path().join("railyard.db").display());
    story(store, || Store::open(&url)).await;
    assert!(dir.path().join("railyard.db").is_file());
    // Write-ahead logging is on (readers do not wait for a writing run); the header says so.
    let header = std::fs::read(dir.path().join("railyard.db")).unwrap();
    assert_eq!((header[18], header[19]), (2, 2), "WAL file format");
}

#[tokio::test(flavor = "multi_thread")]
async fn run_story_on_postgres() {
    let Some(db) = PgDb::create("run_story_on_postgres").await else {
        return;
    };
    let logs = data_dir();
    let store = open_pg(&db.url, logs.path()).await;
    assert_eq!(store.backend(), railyard_store::Backend::Postgres);
    story(store, || async { Ok(open_pg(&db.url, logs.path()).await) }).await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn abandon_on_sqlite() {
    let dir = data_dir();
    abandon(Store::open_in(dir.path()).await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn abandon_on_postgres() {
    let Some(db) = PgDb::create("abandon_on_postgres").await else {
        return;
    };
    let logs = data_dir();
    abandon(open_pg(&db.url, logs.path()).await).await;
    db.drop_db().await;
}

async fn story<F, Fut>(store: Store, reopen: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<Store, StoreError>>,
{
    let t0 = now_ms();
    let run1 = store
        .create_run(&new_run(
            "web",
            "laptop:100",
            &["build", "test (1/2)", "lint", "build"],
        ))
        .await
        .unwrap();
    let run2 = store
        .create_run(&new_run("web", "laptop:100", &["build"]))
        .await
        .unwrap();
    let other = store
        .create_run(&new_run("api", "laptop:100", &["build"]))
        .await
        .unwrap();
    assert_eq!((run1.number, run2.number, other.number), (1, 2, 1));
    assert_eq!(run1.id.len(), 26);
    assert_eq!(run1.status, RunStatus::Running);
    assert_eq!(run1.finished_at, None);

    // build: two steps, the second fails.
    store
        .job_started(&run1.id, "build", Millis(t0 + 1))
        .await
        .unwrap();
    store
        .set_job_env_image(&run1.id, "build", Some("blake3:abc"), ("sha256:feed", None))
        .await
        .unwrap();
    store
        .step_started(&run1.id, "build", 0, "cargo build", Millis(t0 + 2))
        .await
        .unwrap();
    store
        .step_finished(
            &run1.id,
            "build",
            0,
            StepStatus::Success,
            Some(0),
            Millis(t0 + 3),
        )
        .await
        .unwrap();
    store
        .step_started(&run1.id, "build", 1, "cargo test", Millis(t0 + 4))
        .await
        .unwrap();
    store
        .step_finished(
            &run1.id,
            "build",
            1,
            StepStatus::Failed,
            Some(2),
            Millis(t0 + 5),
        )
        .await
        .unwrap();
    store
        .job_finished(&run1.id, "build", JobStatus::Failed, Millis(t0 + 6), None)
        .await
        .unwrap();
    // test (1/2): times out in its first step, which the store closes as cancelled.
    store
        .job_started(&run1.id, "test (1/2)", Millis(t0 + 1))
        .await
        .unwrap();
    store
        .step_started(&run1.id, "test (1/2)", 0, "sleep 100", Millis(t0 + 2))
        .await
        .unwrap();
    store
        .job_finished(
            &run1.id,
            "test (1/2)",
            JobStatus::TimedOut,
            Millis(t0 + 7),
            Some("timed out after 5ms"),
        )
        .await
        .unwrap();
    // lint never starts; a shard the run did not list is added when it starts.
    store
        .job_finished(&run1.id, "lint", JobStatus::Skipped, Millis(t0 + 8), None)
        .await
        .unwrap();
    store
        .job_started(&run1.id, "test (2/2)", Millis(t0 + 9))
        .await
        .unwrap();
    store
        .set_run_status(&run1.id, RunStatus::Failed, Some(Millis(t0 + 10)))
        .await
        .unwrap();

    // Events about things that do not exist are errors naming them.
    let missing = store
        .step_finished(
            &run1.id,
            "build",
            9,
            StepStatus::Success,
            Some(0),
            Millis(t0),
        )
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { .. })),
        "{missing:?}"
    );
    let missing = store
        .set_run_status(&RunId::from("01NOTARUN"), RunStatus::Success, None)
        .await
        .unwrap_err();
    assert!(missing.to_string().contains("01NOTARUN"), "{missing}");
    let missing = store
        .job_started(&RunId::from("01NOTARUN"), "build", Millis(t0))
        .await
        .unwrap_err();
    assert!(matches!(missing, StoreError::NotFound { .. }), "{missing}");
    let missing = store
        .step_started(&run1.id, "nope", 0, "true", Millis(t0))
        .await
        .unwrap_err();
    assert!(missing.to_string().contains("nope"), "{missing}");
    let missing = store
        .set_job_env_image(&run1.id, "nope", None, ("sha256:1", None))
        .await
        .unwrap_err();
    assert!(matches!(missing, StoreError::NotFound { .. }), "{missing}");

    // Listing: newest first, per project or all, limited.
    let web = store
        .list_runs(Some(&ProjectName::from("web")), 10)
        .await
        .unwrap();
    assert_eq!(web.iter().map(|r| r.number).collect::<Vec<_>>(), [2, 1]);
    assert_eq!(web[1].status, RunStatus::Failed);
    assert_eq!(web[1].finished_at, Some(Millis(t0 + 10)));
    assert_eq!(store.list_runs(None, 0).await.unwrap().len(), 3);
    assert_eq!(store.list_runs(None, 1).await.unwrap().len(), 1);
    assert!(
        store
            .list_runs(Some(&ProjectName::from("nobody")), 5)
            .await
            .unwrap()
            .is_empty()
    );

    // Finding: by number, #number, ULID, prefix in any case.
    let detail = store
        .find_run(Some(&ProjectName::from("web")), "1")
        .await
        .unwrap()
        .expect("run #1");
    assert_eq!(detail.run.id, run1.id);
    let names: Vec<&str> = detail.jobs.iter().map(|j| j.name.as_str()).collect();
    assert_eq!(names, ["build", "test (1/2)", "lint", "test (2/2)"]);
    let build = &detail.jobs[0];
    assert_eq!(build.status, JobStatus::Failed);
    assert_eq!(
        (build.started_at, build.finished_at),
        (Some(Millis(t0 + 1)), Some(Millis(t0 + 6)))
    );
    assert_eq!(build.env_key.as_deref(), Some("blake3:abc"));
    assert_eq!(build.env_image_id.as_deref(), Some("sha256:feed"));
    assert_eq!(build.steps.len(), 2);
    assert_eq!(build.steps[0].command, "cargo build");
    assert_eq!(
        (build.steps[1].index, build.steps[1].status),
        (1, StepStatus::Failed)
    );
    assert_eq!(
        (build.steps[1].exit_code, build.steps[1].finished_at),
        (Some(2), Some(Millis(t0 + 5)))
    );
    let test = &detail.jobs[1];
    assert_eq!(test.status, JobStatus::TimedOut);
    assert_eq!(test.error.as_deref(), Some("timed out after 5ms"));
    assert_eq!(test.steps[0].status, StepStatus::Cancelled);
    assert_eq!(test.steps[0].finished_at, Some(Millis(t0 + 7)));
    let lint = &detail.jobs[2];
    assert_eq!(
        (lint.status, lint.started_at, lint.finished_at),
        (JobStatus::Skipped, None, Some(Millis(t0 + 8)))
    );
    // The run ended while the unlisted shard ran: closed as cancelled.
    assert_eq!(detail.jobs[3].status, JobStatus::Cancelled);
    assert_eq!(detail.jobs[3].finished_at, Some(Millis(t0 + 10)));

    assert_eq!(
        store
            .find_run(Some(&ProjectName::from("web")), "#2")
            .await
            .unwrap()
            .unwrap()
            .run
            .id,
        run2.id
    );
    assert_eq!(
        store.find_run(None, "  #2 ").await.unwrap().unwrap().run.id,
        run2.id
    );
    assert_eq!(
        store.find_run(None, &run1.id).await.unwrap().unwrap(),
        detail
    );
    let prefix = run1.id[..24].to_lowercase();
    assert_eq!(
        store.find_run(None, &prefix).await.unwrap().unwrap().run.id,
        run1.id
    );
    assert_eq!(
        store
            .find_run(Some(&ProjectName::from("api")), "1")
            .await
            .unwrap()
            .unwrap()
            .run
            .id,
        other.id
    );
    assert!(
        store
            .find_run(Some(&ProjectName::from("api")), &run1.id)
            .await
            .unwrap()
            .is_none()
    );
    for nothing in ["#99", "99", "ZZZZ", "hello!", "", "#"] {
        assert!(
            store.find_run(None, nothing).await.unwrap().is_none(),
            "{nothing:?}"
        );
    }
    match store.find_run(None, "1").await {
        Err(StoreError::AmbiguousRun { candidates, .. }) => {
            assert_eq!(candidates.len(), 2, "{candidates:?}");
            assert!(
                candidates.iter().any(|c| c.starts_with("web #1")),
                "{candidates:?}"
            );
        }
        other => panic!("`1` is web #1 and api #1: {other:?}"),
    }
    let shared = &run1.id[..1];
    let err = store.find_run(None, shared).await.unwrap_err();
    assert!(err.to_string().contains("matches several runs"), "{err}");

    // Everything is still there after reopening.
    store.close().await;
    let again = reopen().await.unwrap();
    assert_eq!(
        again
            .find_run(Some(&ProjectName::from("web")), "#1")
            .await
            .unwrap()
            .unwrap(),
        detail
    );
    let next = again
        .create_run(&new_run("web", "laptop:101", &[]))
        .await
        .unwrap();
    assert_eq!(next.number, 3);
    again.close().await;
}

async fn abandon(store: Store) {
    let dead = store
        .create_run(&new_run("web", "laptop:1", &["build", "test"]))
        .await
        .unwrap();
    let alive = store
        .create_run(&new_run("web", "laptop:2", &["build"]))
        .await
        .unwrap();
    let done = store
        .create_run(&new_run("web", "laptop:1", &["build"]))
        .await
        .unwrap();
    let t = now_ms();
    store
        .job_started(&dead.id, "build", Millis(t))
        .await
        .unwrap();
    store
        .step_started(&dead.id, "build", 0, "make", Millis(t))
        .await
        .unwrap();
    store
        .set_run_status(&done.id, RunStatus::Success, Some(Millis(t)))
        .await
        .unwrap();

    let is_alive = |owner: &str| owner != "laptop:1";
    let abandoned = store.abandon_dead_runs(&is_alive).await.unwrap();
    assert_eq!(abandoned.len(), 1, "{abandoned:?}");
    assert_eq!(abandoned[0].id, dead.id);
    assert_eq!(abandoned[0].status, RunStatus::Abandoned);
    let ended = abandoned[0].finished_at.expect("an end time");
    assert!(ended >= Millis(t));

    let detail = store.find_run(None, &dead.id).await.unwrap().unwrap();
    assert_eq!(detail.run, abandoned[0]);
    let build = &detail.jobs[0];
    assert_eq!(
        (build.status, build.finished_at),
        (JobStatus::Cancelled, Some(ended))
    );
    assert_eq!(build.steps[0].status, StepStatus::Cancelled);
    let test = &detail.jobs[1];
    assert_eq!(
        (test.status, test.started_at, test.finished_at),
        (JobStatus::Cancelled, None, None)
    );

    let alive_now = store.find_run(None, &alive.id).await.unwrap().unwrap();
    assert_eq!(alive_now.run.status, RunStatus::Running);
    let done_now = store.find_run(None, &done.id).await.unwrap().unwrap();
    assert_eq!(done_now.run.status, RunStatus::Success);
    assert!(
        store.abandon_dead_runs(&is_alive).await.unwrap().is_empty(),
        "taken once"
    );
    store.close().await;
}
