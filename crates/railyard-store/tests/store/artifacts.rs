//! Artifacts in the database: stored only once whole and under the job's lease, replaced whole
//! by a resend, read back by another store handle on the same database (as another server
//! would), and cut uploads swept. On SQLite, and on PostgreSQL when available.

use railyard_store::{QueuedJob, Store};
use railyard_types::{AgentId, JobId, Millis, ProjectName, RunId};

use crate::common::{PgDb, data_dir, new_run, now_ms, open_pg};

#[tokio::test(flavor = "multi_thread")]
async fn artifacts_on_sqlite() {
    let dir = data_dir();
    let one = Store::open_in(dir.path()).await.unwrap();
    let other = Store::open_in(dir.path()).await.unwrap();
    artifacts(&one, &other).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn artifacts_on_postgres() {
    let Some(db) = PgDb::create("artifacts_on_postgres").await else {
        return;
    };
    let logs = data_dir();
    let one = open_pg(&db.url, logs.path()).await;
    let other = open_pg(&db.url, logs.path()).await;
    artifacts(&one, &other).await;
    db.drop_db().await;
}

/// The whole file an artifact's chunks hold, read through `store`.
async fn read_all(store: &Store, run: &str, job: &str, path: &str) -> Option<Vec<u8>> {
    let stored = store
        .artifact(&RunId::from(run), job, path)
        .await
        .unwrap()?;
    let mut out = Vec::new();
    for seq in 0..stored.chunks {
        out.extend(
            store
                .artifact_chunk(&stored.upload_id, seq)
                .await
                .unwrap()?,
        );
    }
    assert_eq!(
        out.len() as i64,
        stored.size,
        "size recorded = bytes stored"
    );
    Some(out)
}

async fn upload(store: &Store, parts: &[&[u8]]) -> railyard_store::ArtifactUpload {
    let mut up = store.begin_artifact();
    for part in parts {
        up.write(part, Millis::now()).await.unwrap();
    }
    up
}

async fn artifacts(store: &Store, other: &Store) {
    let now = now_ms();
    let run = store
        .create_run(&new_run("arts", "railyard-server:test", &["build"]))
        .await
        .unwrap();
    let job = QueuedJob {
        name: "build".into(),
        ..Default::default()
    };
    store
        .enqueue_run(
            &run.id,
            &ProjectName::from("arts"),
            "file:///r.git",
            "abc",
            &[job],
            2,
            Millis(now),
        )
        .await
        .unwrap();
    let agent = store
        .register_agent("a1", 1, &[], Millis(now))
        .await
        .unwrap();
    let claim = store
        .claim(&agent, Millis(now), 60_000)
        .await
        .unwrap()
        .unwrap();
    let id = claim.job_id.as_str();

    // Written in three chunks: nothing shows until the upload is finished.
    let up = upload(store, &[b"hello ", b"big ", b"world\n"]).await;
    assert_eq!(store.artifacts(&run.id, "build").await.unwrap(), vec![]);
    assert!(
        up.finish(&JobId::from(id), &agent, 1, "out/a.txt", Millis(now))
            .await
            .unwrap()
    );
    assert_eq!(
        read_all(other, &run.id, "build", "out/a.txt")
            .await
            .unwrap(),
        b"hello big world\n",
        "another handle (another server) reads what this one stored"
    );
    let first = other.artifact(&run.id, "build", "out/a.txt").await.unwrap();
    let first = first.unwrap();
    assert_eq!((first.size, first.chunks), (16, 3));

    // A resend (the agent missed the answer) replaces the file whole; the old chunks go.
    let again = upload(other, &[b"second\n"]).await;
    assert!(
        again
            .finish(&JobId::from(id), &agent, 1, "out/a.txt", Millis(now))
            .await
            .unwrap()
    );
    assert_eq!(
        read_all(store, &run.id, "build", "out/a.txt")
            .await
            .unwrap(),
        b"second\n"
    );
    assert_eq!(
        store.artifact_chunk(&first.upload_id, 0).await.unwrap(),
        None,
        "the replaced file's chunks are deleted"
    );
    let empty = upload(store, &[b""]).await;
    assert!(
        empty
            .finish(&JobId::from(id), &agent, 1, "empty", Millis(now))
            .await
            .unwrap()
    );
    let listed: Vec<(String, i64)> = store
        .artifacts(&run.id, "build")
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.path, a.size))
        .collect();
    assert_eq!(listed, [("empty".into(), 0), ("out/a.txt".into(), 7)]);

    // Without the lease (another attempt, another agent): refused, nothing kept.
    for (who, attempt) in [(agent.as_str(), 2), ("someone", 1)] {
        let late = upload(store, &[b"late"]).await;
        assert!(
            !late
                .finish(
                    &JobId::from(id),
                    &AgentId::from(who),
                    attempt,
                    "late.txt",
                    Millis(now)
                )
                .await
                .unwrap()
        );
    }
    assert_eq!(
        store.artifact(&run.id, "build", "late.txt").await.unwrap(),
        None
    );
    // An abandoned upload (cut, or over the limit) leaves nothing either.
    upload(store, &[b"cut"]).await.abandon().await.unwrap();
    assert_eq!(
        store
            .sweep_artifact_chunks(Millis(0), Millis(i64::MAX))
            .await
            .unwrap(),
        0
    );

    // A crash mid-upload leaves chunks no artifact points at: the sweep takes those in its
    // window and never a stored artifact's.
    let _crashed = upload(store, &[b"a", b"b"]).await;
    let later = now_ms() + 1;
    assert_eq!(
        store
            .sweep_artifact_chunks(Millis(0), Millis(now - 1))
            .await
            .unwrap(),
        0,
        "too young"
    );
    assert_eq!(
        store
            .sweep_artifact_chunks(Millis(0), Millis(later))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        read_all(other, &run.id, "build", "out/a.txt")
            .await
            .unwrap(),
        b"second\n",
        "stored artifacts survive the sweep"
    );

    // An upload running longer than the sweep's age keeps its early chunks (a newer one
    // shows it is alive); one whose chunks were swept (stalled for an hour) stores nothing.
    let hour = 3_600_000;
    let mut slow = store.begin_artifact();
    slow.write(b"early ", Millis(now - 2 * hour)).await.unwrap();
    slow.write(b"late\n", Millis(now)).await.unwrap();
    assert_eq!(
        store
            .sweep_artifact_chunks(Millis(0), Millis(now - hour))
            .await
            .unwrap(),
        0
    );
    assert!(
        slow.finish(&JobId::from(id), &agent, 1, "slow.txt", Millis(now))
            .await
            .unwrap()
    );
    assert_eq!(
        read_all(other, &run.id, "build", "slow.txt").await.unwrap(),
        b"early late\n"
    );
    let mut stalled = store.begin_artifact();
    stalled
        .write(b"gone", Millis(now - 2 * hour))
        .await
        .unwrap();
    assert_eq!(
        store
            .sweep_artifact_chunks(Millis(0), Millis(now - hour))
            .await
            .unwrap(),
        1
    );
    let e = stalled
        .finish(&JobId::from(id), &agent, 1, "stalled.txt", Millis(now))
        .await
        .unwrap_err();
    let e = railyard_types::error::chain(&e);
    assert!(e.contains("send the file again"), "{e}");
    assert_eq!(
        store
            .artifact(&run.id, "build", "stalled.txt")
            .await
            .unwrap(),
        None
    );

    // A job ended: its lease is gone, so no upload lands any more.
    assert!(
        store
            .finish_leased_job(
                &id.into(),
                &agent.as_str().into(),
                1,
                railyard_store::JobStatus::Success,
                now.into(),
                None
            )
            .await
            .unwrap()
    );
    let after = upload(store, &[b"after"]).await;
    assert!(
        !after
            .finish(&JobId::from(id), &agent, 1, "after.txt", Millis(now))
            .await
            .unwrap()
    );
    assert_eq!(store.artifacts(&run.id, "build").await.unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn digests_and_a_runs_inputs_on_sqlite() {
    let dir = data_dir();
    let store = Store::open_in(dir.path()).await.unwrap();
    digests_and_inputs(&store).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn digests_and_a_runs_inputs_on_postgres() {
    let Some(db) = PgDb::create("digests_and_a_runs_inputs").await else {
        return;
    };
    let logs = data_dir();
    let store = open_pg(&db.url, logs.path()).await;
    digests_and_inputs(&store).await;
    db.drop_db().await;
}

/// Each stored file carries the SHA-256 of the bytes stored (however they were cut into
/// chunks), and a run's artifacts are listed with the pipeline job and shard each queue row
/// ran, never another run's.
async fn digests_and_inputs(store: &Store) {
    use railyard_types::protocol::InputArtifact;
    use sha2::Digest;
    let now = Millis::now();
    let agent = store.register_agent("a1", 4, &[], now).await.unwrap();
    let mut runs = Vec::new();
    for (project, job, shards) in [("mine", "unit", 2), ("other", "build", 1)] {
        let run = store
            .create_run(&new_run(project, "railyard-server:test", &[job]))
            .await
            .unwrap();
        let queued = QueuedJob {
            name: job.into(),
            shards,
            ..Default::default()
        };
        let project = ProjectName::from(project);
        store
            .enqueue_run(&run.id, &project, "file:///r.git", "abc", &[queued], 2, now)
            .await
            .unwrap();
        runs.push(run.id);
    }
    // Every row of both runs claimed, and a file stored by each.
    let mut claims = Vec::new();
    while let Some(claim) = store.claim(&agent, now, 60_000).await.unwrap() {
        claims.push(claim);
    }
    assert_eq!(claims.len(), 3, "{claims:?}");
    for claim in &claims {
        let up = upload(store, &[b"re", b"port ", claim.job.as_bytes()]).await;
        let job = &claim.job_id;
        assert!(up.finish(job, &agent, 1, "r/j.xml", now).await.unwrap());
    }
    let digest = |job: &str| hex::encode(sha2::Sha256::digest(format!("report {job}")));
    let stored = store.artifact(&runs[0], "unit [2/2]", "r/j.xml").await;
    let stored = stored.unwrap().unwrap();
    assert_eq!(
        stored.sha256.as_deref(),
        Some(digest("unit [2/2]").as_str())
    );
    let listed = store.run_artifacts(&runs[0]).await.unwrap();
    let shard = |n: u32| InputArtifact {
        job: format!("unit [{n}/2]"),
        pipeline_job: "unit".into(),
        shard: Some(n),
        shards: 2,
        path: "r/j.xml".into(),
        size: 17,
        sha256: Some(digest(&format!("unit [{n}/2]"))),
    };
    assert_eq!(listed, [shard(1), shard(2)]);
    let other = store.run_artifacts(&runs[1]).await.unwrap();
    assert_eq!(other.len(), 1);
    assert_eq!(
        (
            other[0].pipeline_job.as_str(),
            other[0].shard,
            other[0].shards
        ),
        ("build", None, 1)
    );
}
