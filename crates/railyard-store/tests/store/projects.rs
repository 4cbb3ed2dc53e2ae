//! A server's run is `queued` until an agent claims one of its jobs, then `running`. Removing
//! a project takes its runs with everything of them (jobs, steps, queue rows, logs,
//! artifacts), its timings, run numbers and wait counts, and nothing of another project; a
//! project with unfinished runs stays unless forced, and a forced removal ends its leases.
//! On SQLite, and on PostgreSQL when available.

use railyard_store::{JobStatus, ProjectRemoval, QueuedJob, RunStatus, Store};
use railyard_types::{Millis, ProjectName, RunId};

use crate::common::{PgDb, data_dir, enqueue, new_run, now_ms, open_pg};

const LEASE: i64 = 60_000;

#[tokio::test(flavor = "multi_thread")]
async fn projects_on_sqlite() {
    let dir = data_dir();
    let store = Store::open_in(dir.path()).await.unwrap();
    story(&store).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn projects_on_postgres() {
    let Some(db) = PgDb::create("projects_on_postgres").await else {
        return;
    };
    let logs = data_dir();
    let store = open_pg(&db.url, logs.path()).await;
    story(&store).await;
    store.close().await;
    db.drop_db().await;
}

/// A run of one job `a` in the queue, as a trigger records it.
async fn queued_run(store: &Store, project: &str) -> RunId {
    let run = store
        .create_queued_run(&new_run(project, "railyard-server:queue", &["a"]))
        .await
        .unwrap();
    assert_eq!(run.status, RunStatus::Queued);
    let job = QueuedJob {
        name: "a".into(),
        ..Default::default()
    };
    enqueue(store, &run.id, project, &[job], 3).await;
    run.id
}

async fn status(store: &Store, run: &str) -> RunStatus {
    store.find_run(None, run).await.unwrap().unwrap().run.status
}

async fn story(store: &Store) {
    let now = now_ms();
    for name in ["gone", "kept"] {
        assert!(
            store
                .add_project(&ProjectName::from(name), "file:///r.git", Millis(now))
                .await
                .unwrap()
        );
    }
    let first = queued_run(store, "gone").await;
    let kept = queued_run(store, "kept").await;
    let listed = store.list_runs(None, 10).await.unwrap();
    assert!(
        listed.iter().all(|r| r.status == RunStatus::Queued),
        "{listed:?}"
    );

    // The claim makes the run running, and only that run.
    let agent = store
        .register_agent("a1", 2, &[], Millis(now))
        .await
        .unwrap();
    let claim = store
        .claim(&agent, Millis::now(), LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claim.run_id, first);
    assert_eq!(status(store, &first).await, RunStatus::Running);
    assert_eq!(status(store, &kept).await, RunStatus::Queued);
    let appended = store.append_log_chunk(&claim.job_id, &agent, 1, 1, b"built\n");
    appended.await.unwrap();
    let mut up = store.begin_artifact();
    up.write(b"artifact", Millis(now)).await.unwrap();
    assert!(
        up.finish(&claim.job_id, &agent, 1, "out.txt", Millis(now))
            .await
            .unwrap()
    );
    let upload = store
        .artifact(&first, "a", "out.txt")
        .await
        .unwrap()
        .unwrap();
    for project in ["gone", "kept"] {
        let timings = [("t1".to_string(), 1.5)];
        store
            .record_timings(&ProjectName::from(project), &timings, Millis(now))
            .await
            .unwrap();
    }

    // Unfinished: refused, nothing changes.
    match store
        .remove_project(&ProjectName::from("gone"), false)
        .await
        .unwrap()
    {
        ProjectRemoval::Unfinished(runs) => {
            assert_eq!(runs.iter().map(|r| &r.id).collect::<Vec<_>>(), [&first]);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        store
            .project(&ProjectName::from("gone"))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(store.job_log(&first, "a").await.unwrap(), b"built\n");

    let done = store.finish_leased_job(
        &claim.job_id,
        &agent,
        1,
        JobStatus::Success,
        Millis::now(),
        None,
    );
    assert!(done.await.unwrap());
    store.advance_run(&first, Millis::now()).await.unwrap();
    assert_eq!(status(store, &first).await, RunStatus::Success);
    // A second run not claimed yet: still refused without force, taken with it.
    let second = queued_run(store, "gone").await;
    assert!(matches!(
        store.remove_project(&ProjectName::from("gone"), false).await.unwrap(),
        ProjectRemoval::Unfinished(runs) if runs.len() == 1 && runs[0].id == second
    ));
    assert_eq!(
        store
            .remove_project(&ProjectName::from("gone"), true)
            .await
            .unwrap(),
        ProjectRemoval::Removed {
            runs: vec![first.clone().into_string(), second.clone().into_string()],
            unfinished: 1,
        }
    );
    assert!(
        store
            .project(&ProjectName::from("gone"))
            .await
            .unwrap()
            .is_none()
    );
    for run in [&first, &second] {
        assert!(store.find_run(None, run).await.unwrap().is_none());
    }
    assert!(store.job_log(&first, "a").await.is_err(), "its log is gone");
    assert!(
        store
            .artifact(&first, "a", "out.txt")
            .await
            .unwrap()
            .is_none()
    );
    let chunk = store.artifact_chunk(&upload.upload_id, 0).await.unwrap();
    assert_eq!(chunk, None, "the artifact's bytes are gone");
    assert!(
        store
            .timings(&ProjectName::from("gone"))
            .await
            .unwrap()
            .is_empty()
    );
    let kept_claim = store
        .claim(&agent, Millis::now(), LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        kept_claim.run_id, kept,
        "only the kept project's job is left"
    );
    assert!(
        store
            .wait_histograms()
            .await
            .unwrap()
            .iter()
            .all(|h| h.project != "gone")
    );
    assert_eq!(
        store
            .remove_project(&ProjectName::from("gone"), true)
            .await
            .unwrap(),
        ProjectRemoval::NotFound
    );

    // The other project is whole, and its leased job's lease ends with a forced removal.
    assert!(
        store
            .project(&ProjectName::from("kept"))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        store
            .timings(&ProjectName::from("kept"))
            .await
            .unwrap()
            .len(),
        1
    );
    let leased = store
        .list_runs(Some(&ProjectName::from("kept")), 10)
        .await
        .unwrap();
    assert_eq!(leased[0].status, RunStatus::Running);
    assert!(matches!(
        store
            .remove_project(&ProjectName::from("kept"), true)
            .await
            .unwrap(),
        ProjectRemoval::Removed { unfinished: 1, .. }
    ));
    let renewed = store.renew_lease(&kept_claim.job_id, &agent, 1, Millis::now(), LEASE);
    assert_eq!(renewed.await.unwrap(), None, "the lease is lost");

    // Added again, the name starts over: run #1, no history.
    assert!(
        store
            .add_project(&ProjectName::from("gone"), "file:///other.git", Millis(now))
            .await
            .unwrap()
    );
    let again = queued_run(store, "gone").await;
    let detail = store.find_run(None, &again).await.unwrap().unwrap();
    assert_eq!(detail.run.number, 1);
    assert_eq!(
        store
            .list_runs(Some(&ProjectName::from("gone")), 10)
            .await
            .unwrap()
            .len(),
        1
    );
}
