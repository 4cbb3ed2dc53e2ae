//! Retention per project: a finished run's logs and artifacts are pruned once it is older than
//! `keep_days` and not among the newest `keep_runs`; a run that has not finished never is; a
//! project keeping for ever never is; deletion goes a batch at a time and the run's record
//! stays with `pruned_at`. Logs read page by page come back whole. The artifact usage a quota
//! counts. On SQLite, and on PostgreSQL when available.

use railyard_store::{JobStatus, QueuedJob, RunStatus, Store};
use railyard_types::{AgentId, JobId, Millis, ProjectName, RunId};

use crate::common::{PgDb, data_dir, enqueue, new_run, now_ms, open_pg};

const DAY: i64 = 24 * 60 * 60 * 1000;

#[tokio::test(flavor = "multi_thread")]
async fn retention_on_sqlite() {
    let dir = data_dir();
    let store = Store::open_in(dir.path()).await.unwrap();
    retention(&store).await;
    pages(&store).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn retention_on_postgres() {
    let Some(db) = PgDb::create("retention_on_postgres").await else {
        return;
    };
    let logs = data_dir();
    let store = open_pg(&db.url, logs.path()).await;
    retention(&store).await;
    pages(&store).await;
    store.close().await;
    db.drop_db().await;
}

/// One run of `project` with job `build`: leased by `agent`, three log chunks and a
/// two-chunk artifact stored; finished at `finished` unless `None` (left running).
async fn run(store: &Store, project: &str, agent: &AgentId, finished: Option<Millis>) -> RunId {
    let run = store
        .create_run(&new_run(project, "railyard-server:test", &["build"]))
        .await
        .unwrap();
    let job = QueuedJob {
        name: "build".into(),
        ..Default::default()
    };
    enqueue(store, &run.id, project, &[job], 1).await;
    let claim = store
        .claim(agent, Millis::now(), 600_000)
        .await
        .unwrap()
        .expect("the run's job is claimed");
    assert_eq!(claim.run_id, run.id);
    for seq in 1..=3 {
        let text = format!("line {seq} of {}\n", run.id);
        store
            .append_log_chunk(&claim.job_id, agent, 1, seq, text.as_bytes())
            .await
            .unwrap();
    }
    let mut up = store.begin_artifact();
    up.write(b"first half ", Millis::now()).await.unwrap();
    up.write(b"second half", Millis::now()).await.unwrap();
    assert!(
        up.finish(&claim.job_id, agent, 1, "out/report.txt", Millis::now())
            .await
            .unwrap()
    );
    if let Some(at) = finished {
        let done = store
            .finish_leased_job(&claim.job_id, agent, 1, JobStatus::Success, at, None)
            .await
            .unwrap();
        assert!(done);
        store
            .set_run_status(&run.id, RunStatus::Success, Some(at))
            .await
            .unwrap();
    }
    run.id
}

/// Whether the run still holds its log and artifact (and then both whole).
async fn holds(store: &Store, run: &RunId) -> bool {
    let log = store.log_page(run, "build", 0).await.unwrap();
    let artifacts = store.artifacts(run, "build").await.unwrap();
    match (log.len(), artifacts.len()) {
        (3, 1) => {
            let upload = &artifacts[0].upload_id;
            assert!(store.artifact_chunk(upload, 1).await.unwrap().is_some());
            true
        }
        (0, 0) => false,
        other => panic!("run {run} holds part of its log and artifacts: {other:?}"),
    }
}

async fn retention(store: &Store) {
    let now = now_ms();
    let agent = store
        .register_agent("a", 100, &[], Millis(now))
        .await
        .unwrap();
    let [counted, young, forever] = ["counted", "young", "forever"].map(ProjectName::from);
    for p in [&counted, &young, &forever] {
        assert!(
            store
                .add_project(p, "file:///r.git", Millis(now))
                .await
                .unwrap()
        );
    }
    let defaults = store.project(&counted).await.unwrap().unwrap();
    assert_eq!(
        (defaults.keep_days, defaults.keep_runs, defaults.quota_bytes),
        (90, 20, 0),
        "the documented defaults"
    );
    assert!(
        store
            .set_project_retention(&counted, Some(1), Some(2), None)
            .await
            .unwrap()
    );
    assert!(
        store
            .set_project_retention(&young, Some(1), Some(0), Some(1 << 20))
            .await
            .unwrap()
    );
    assert!(
        store
            .set_project_retention(&forever, Some(0), Some(0), None)
            .await
            .unwrap()
    );
    assert!(
        !store
            .set_project_retention(&ProjectName::from("nope"), Some(1), None, None)
            .await
            .unwrap(),
        "no such project"
    );
    let set = store.project(&counted).await.unwrap().unwrap();
    assert_eq!((set.keep_days, set.keep_runs, set.quota_bytes), (1, 2, 0));

    // `counted`: run 1 never finishes; 2, 3, 4 are old; 5 and 6 are its newest two.
    let mut runs = vec![run(store, "counted", &agent, None).await];
    for _ in 2..=6 {
        runs.push(run(store, "counted", &agent, Some(Millis(now))).await);
    }
    let young_run = run(store, "young", &agent, Some(Millis(now))).await;
    let forever_run = run(store, "forever", &agent, Some(Millis(now))).await;
    assert_eq!(
        store.project_artifact_bytes(&counted).await.unwrap(),
        6 * 22,
        "a quota counts the bytes of every artifact of the project's runs"
    );

    // An hour on: nothing is a day old.
    assert_eq!(
        store
            .mark_expired_runs(Millis(now + DAY / 24), 500)
            .await
            .unwrap(),
        0
    );
    // Two days on, two runs marked per call: `counted` 2, 3, 4 and `young`'s run.
    let later = Millis(now + 2 * DAY);
    let mut marked = Vec::new();
    loop {
        let n = store.mark_expired_runs(later, 2).await.unwrap();
        assert!(n <= 2, "at most the limit per call: {n}");
        marked.push(n);
        if n < 2 {
            break;
        }
    }
    assert_eq!(marked.iter().sum::<u64>(), 4, "{marked:?}");
    // Marked runs read as pruned at once, before a row is deleted.
    for r in &runs[1..4] {
        assert_eq!(store.run_pruned_at(r).await.unwrap(), Some(later));
    }
    for r in [&runs[0], &runs[4], &runs[5], &forever_run] {
        assert_eq!(store.run_pruned_at(r).await.unwrap(), None, "{r} is kept");
    }

    // Deleted three rows per transaction: 4 runs × (3 log chunks + 2 artifact chunks + 1
    // artifact row) = 24 rows in 8 batches, then one that finds nothing.
    let mut batches = Vec::new();
    loop {
        let n = store.purge_pruned(3).await.unwrap();
        assert!(n <= 3, "at most the batch per call: {n}");
        if n == 0 {
            break;
        }
        batches.push(n);
        assert!(batches.len() < 100, "pruning never ends: {batches:?}");
    }
    assert_eq!(batches.iter().sum::<u64>(), 24, "{batches:?}");
    assert_eq!(batches.len(), 8, "{batches:?}");
    for r in runs[1..4].iter().chain([&young_run]) {
        assert!(!holds(store, r).await, "{r} is pruned");
        let record = store.find_run(None, r.as_str()).await.unwrap();
        assert!(record.is_some(), "the run's record stays");
    }
    for r in [&runs[0], &runs[4], &runs[5], &forever_run] {
        assert!(holds(store, r).await, "{r} keeps its log and artifacts");
    }
    assert_eq!(
        store.project_artifact_bytes(&counted).await.unwrap(),
        3 * 22,
        "pruned artifacts no longer count against a quota"
    );
    // Nothing more: a later sweep marks and deletes nothing, however late.
    assert_eq!(store.mark_expired_runs(later, 500).await.unwrap(), 0);
    assert_eq!(store.purge_pruned(500).await.unwrap(), 0);
    let years = Millis(now + 3650 * DAY);
    assert_eq!(
        store.mark_expired_runs(years, 500).await.unwrap(),
        0,
        "the unfinished run, the newest two and a project keeping for ever are never pruned"
    );
    // A removed project takes its pruned runs along (nothing left behind in `pruning`).
    store.remove_project(&counted, true).await.unwrap();
    assert_eq!(store.purge_pruned(500).await.unwrap(), 0);
}

/// A log of many chunks read page by page is the whole log, in order, each page about a MiB.
async fn pages(store: &Store) {
    let now = Millis::now();
    let agent = store.register_agent("p", 1, &[], now).await.unwrap();
    let run = store
        .create_run(&new_run("paged", "railyard-server:test", &["big"]))
        .await
        .unwrap();
    let job = QueuedJob {
        name: "big".into(),
        ..Default::default()
    };
    enqueue(store, &run.id, "paged", &[job], 1).await;
    let claim = store.claim(&agent, now, 600_000).await.unwrap().unwrap();
    let id = JobId::from(claim.job_id.as_str());
    let mut expected = Vec::new();
    for seq in 1..=40 {
        let chunk = format!("{seq:04}:{}\n", "x".repeat(100_000));
        store
            .append_log_chunk(&id, &agent, 1, seq, chunk.as_bytes())
            .await
            .unwrap();
        expected.extend_from_slice(chunk.as_bytes());
    }
    let (mut got, mut after, mut reads) = (Vec::new(), 0, 0);
    loop {
        let page = store.log_page(&run.id, "big", after).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.id;
        reads += 1;
        let bytes: usize = page.iter().map(|c| c.bytes.len()).sum();
        assert!(bytes <= 1 << 20, "a page holds about a MiB: {bytes}");
        for chunk in page {
            got.extend(chunk.bytes);
        }
    }
    assert!(got == expected, "the log read by pages is the log");
    assert_eq!(reads, 4, "4 MB in pages of up to 1 MiB");
}
