//! The server's queue told to the store: needs release dependents, a failure skips them,
//! leases lapse and come back, concurrent claims never share a job, and a free slot goes to
//! the project with the fewest running jobs. On SQLite, and on PostgreSQL when available.

use railyard_store::{JobStatus, QueuedJob, RunStatus, Store};
use railyard_types::{AgentId, Millis, ProjectName, RunId};

use crate::common::{PgDb, data_dir, new_run, now_ms, open_pg};

const LEASE: i64 = 60_000;

async fn sqlite() -> (Store, tempfile::TempDir) {
    let dir = data_dir();
    (Store::open_in(dir.path()).await.unwrap(), dir)
}

#[tokio::test(flavor = "multi_thread")]
async fn queue_on_sqlite() {
    let (store, _dir) = sqlite().await;
    queue_story(&store).await;
    leases(&store).await;
    cancel(&store).await;
    closing(&store).await;
    concurrent_claims(&store).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn fair_share_on_sqlite() {
    let (store, _dir) = sqlite().await;
    fair_share(&store).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn queue_on_postgres() {
    let Some(db) = PgDb::create("queue_on_postgres").await else {
        return;
    };
    let logs = data_dir();
    let store = open_pg(&db.url, logs.path()).await;
    queue_story(&store).await;
    leases(&store).await;
    cancel(&store).await;
    closing(&store).await;
    concurrent_claims(&store).await;
    fair_share(&store).await;
    store.close().await;
    db.drop_db().await;
}

async fn run_with(store: &Store, project: &str, jobs: &[(&str, &[&str])], attempts: i64) -> RunId {
    let names: Vec<&str> = jobs.iter().map(|(n, _)| *n).collect();
    let run = store
        .create_run(&new_run(project, "railyard-server:queue", &names))
        .await
        .unwrap();
    let jobs: Vec<QueuedJob> = jobs
        .iter()
        .map(|(n, needs)| QueuedJob {
            name: n.to_string(),
            needs: needs.iter().map(|s| s.to_string()).collect(),
            runs_on: Vec::new(),
            shards: 0,
            ..Default::default()
        })
        .collect();
    store
        .enqueue_run(
            &run.id,
            &ProjectName::from(project),
            "file:///repo.git",
            "abc",
            &jobs,
            attempts,
            Millis::now(),
        )
        .await
        .unwrap();
    run.id
}

async fn agent(store: &Store) -> AgentId {
    store
        .register_agent("test", 1, &[], Millis::now())
        .await
        .unwrap()
}

async fn queue_story(store: &Store) {
    assert!(
        store
            .add_project(
                &ProjectName::from("demo"),
                "file:///repo.git",
                Millis::now()
            )
            .await
            .unwrap()
    );
    assert!(
        !store
            .add_project(&ProjectName::from("demo"), "elsewhere", Millis::now())
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .project(&ProjectName::from("demo"))
            .await
            .unwrap()
            .unwrap()
            .repo_url,
        "file:///repo.git"
    );
    assert!(
        store
            .project(&ProjectName::from("nope"))
            .await
            .unwrap()
            .is_none()
    );

    let run = run_with(
        store,
        "demo",
        &[("a", &[]), ("b", &["a"]), ("c", &["a"]), ("d", &["b", "c"])],
        3,
    )
    .await;
    let me = agent(store).await;
    assert!(
        !store
            .touch_agent(&AgentId::from("unknown"), Millis::now(), 0)
            .await
            .unwrap()
    );
    // Noted at most once per `every_ms`, and never moved back.
    let t = now_ms() + 10_000;
    for (at, seen) in [(t, t), (t + 999, t), (t + 1_000, t + 1_000), (t, t + 1_000)] {
        assert!(store.touch_agent(&me, Millis(at), 1_000).await.unwrap());
        let agents = store.agents().await.unwrap();
        assert_eq!(agents[0].last_seen, Millis(seen), "touched at {at}");
    }

    let a = store
        .claim(&me, Millis::now(), LEASE)
        .await
        .unwrap()
        .expect("a is queued");
    assert_eq!(
        (a.job.as_str(), a.attempt, a.run_id.as_str()),
        ("a", 1, run.as_str())
    );
    assert!(
        store
            .claim(&me, Millis::now(), LEASE)
            .await
            .unwrap()
            .is_none(),
        "b waits for a"
    );
    let renewed = store.renew_lease(&a.job_id, &me, 2, Millis::now(), LEASE);
    assert_eq!(renewed.await.unwrap(), None);
    let renewed = store.renew_lease(&a.job_id, &me, 1, Millis::now(), LEASE);
    assert_eq!(renewed.await.unwrap(), Some(false));
    assert!(
        !store
            .finish_leased_job(
                &a.job_id,
                &"other".into(),
                1,
                JobStatus::Success,
                Millis::now(),
                None
            )
            .await
            .unwrap()
    );
    assert!(
        store
            .finish_leased_job(&a.job_id, &me, 1, JobStatus::Success, Millis::now(), None)
            .await
            .unwrap()
    );
    assert_eq!(store.advance_run(&run, Millis::now()).await.unwrap(), None);

    assert!(
        store.unfinished_queued_runs().await.unwrap().contains(&run),
        "a running run is listed for the start-up pass"
    );
    let first = store
        .claim(&me, Millis::now(), LEASE)
        .await
        .unwrap()
        .unwrap();
    let second = store
        .claim(&me, Millis::now(), LEASE)
        .await
        .unwrap()
        .unwrap();
    let mut names = [first.job.clone(), second.job.clone()];
    names.sort();
    assert_eq!(names, ["b", "c"]);
    // Log chunks: the position moves forward only (more in `job_logs`).
    let (_, seq) = store
        .leased_job(&first.job_id, &me, 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seq, 0);
    for seq in [1, 2, 1] {
        store
            .append_log_chunk(&first.job_id, &me, 1, seq, b"line\n")
            .await
            .unwrap();
    }
    assert_eq!(
        store
            .leased_job(&first.job_id, &me, 1)
            .await
            .unwrap()
            .unwrap()
            .1,
        2
    );
    assert!(
        store
            .leased_job(&first.job_id, &me, 2)
            .await
            .unwrap()
            .is_none()
    );

    store
        .finish_leased_job(
            &first.job_id,
            &me,
            1,
            JobStatus::Success,
            Millis::now(),
            None,
        )
        .await
        .unwrap();
    store
        .job_finished(&run, &first.job, JobStatus::Success, Millis::now(), None)
        .await
        .unwrap();
    store
        .finish_leased_job(
            &second.job_id,
            &me,
            1,
            JobStatus::Failed,
            Millis::now(),
            None,
        )
        .await
        .unwrap();
    store
        .job_finished(
            &run,
            &second.job,
            JobStatus::Failed,
            Millis::now(),
            Some("exit 1"),
        )
        .await
        .unwrap();
    assert_eq!(
        store.advance_run(&run, Millis::now()).await.unwrap(),
        Some(RunStatus::Failed)
    );
    assert!(
        store
            .claim(&me, Millis::now(), LEASE)
            .await
            .unwrap()
            .is_none(),
        "d is skipped, not queued"
    );
    let detail = store.find_run(None, &run).await.unwrap().unwrap();
    assert_eq!(detail.run.status, RunStatus::Failed);
    let d = detail.jobs.iter().find(|j| j.name == "d").unwrap();
    assert_eq!(d.status, JobStatus::Skipped);
    assert!(
        d.error.as_deref().unwrap().contains("did not succeed"),
        "{d:?}"
    );
}

async fn leases(store: &Store) {
    let run = run_with(store, "leases", &[("x", &[])], 2).await;
    let (one, two) = (agent(store).await, agent(store).await);
    let t0 = now_ms();
    let first = store.claim(&one, Millis(t0), 1_000).await.unwrap().unwrap();
    assert!(
        store
            .expire_leases(Millis(t0 + 500))
            .await
            .unwrap()
            .is_empty(),
        "not yet lapsed"
    );
    let lapsed = store.expire_leases(Millis(t0 + 2_000)).await.unwrap();
    assert_eq!(lapsed.len(), 1);
    assert!(lapsed[0].requeued);
    // The first agent comes back: its lease is gone, for renewing, logging and reporting.
    assert_eq!(
        store
            .renew_lease(&first.job_id, &one, 1, Millis(t0 + 2_100), 1_000)
            .await
            .unwrap(),
        None
    );
    assert!(
        store
            .leased_job(&first.job_id, &one, 1)
            .await
            .unwrap()
            .is_none()
    );
    let again = store
        .claim(&two, Millis(t0 + 2_100), 1_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (again.job_id.as_str(), again.attempt),
        (first.job_id.as_str(), 2)
    );
    assert!(
        !store
            .finish_leased_job(
                &first.job_id,
                &one,
                1,
                JobStatus::Success,
                Millis::now(),
                None
            )
            .await
            .unwrap()
    );
    // Out of attempts: the job fails as `agent lost`, and so does the run.
    let lapsed = store.expire_leases(Millis(t0 + 5_000)).await.unwrap();
    assert_eq!(lapsed.len(), 1);
    assert!(!lapsed[0].requeued);
    assert_eq!(
        store.advance_run(&run, Millis(t0 + 5_000)).await.unwrap(),
        Some(RunStatus::Failed)
    );
    let detail = store.find_run(None, &run).await.unwrap().unwrap();
    assert_eq!(detail.jobs[0].status, JobStatus::Failed);
    assert!(
        detail.jobs[0]
            .error
            .as_deref()
            .unwrap()
            .contains("agent lost")
    );
}

async fn cancel(store: &Store) {
    let run = run_with(store, "cancel", &[("p", &[]), ("q", &["p"])], 1).await;
    let me = agent(store).await;
    let p = store
        .claim(&me, Millis::now(), LEASE)
        .await
        .unwrap()
        .unwrap();
    assert!(store.cancel_run(&run, Millis::now()).await.unwrap());
    assert_eq!(
        store
            .renew_lease(&p.job_id, &me, 1, Millis::now(), LEASE)
            .await
            .unwrap(),
        Some(true)
    );
    assert!(
        store
            .claim(&me, Millis::now(), LEASE)
            .await
            .unwrap()
            .is_none(),
        "q is cancelled"
    );
    store
        .finish_leased_job(&p.job_id, &me, 1, JobStatus::Cancelled, Millis::now(), None)
        .await
        .unwrap();
    assert_eq!(
        store.advance_run(&run, Millis::now()).await.unwrap(),
        Some(RunStatus::Cancelled)
    );
    assert!(
        !store.cancel_run(&run, Millis::now()).await.unwrap(),
        "already finished"
    );
    let detail = store.find_run(None, &run).await.unwrap().unwrap();
    assert_eq!(detail.jobs[1].status, JobStatus::Cancelled);
}

/// A run whose jobs all end closes with the status they make, once: of several jobs that see
/// the run complete at the same moment, one closes it.
async fn closing(store: &Store) {
    let cases: [(&[JobStatus], RunStatus); 3] = [
        (
            &[JobStatus::Success, JobStatus::FailedAllowed],
            RunStatus::Success,
        ),
        (&[JobStatus::Success, JobStatus::Failed], RunStatus::Failed),
        (
            &[JobStatus::TimedOut, JobStatus::Cancelled],
            RunStatus::Cancelled,
        ),
    ];
    let me = agent(store).await;
    for (ends, expected) in cases {
        let run = run_with(store, "closing", &[("x", &[]), ("y", &[])], 1).await;
        for status in ends {
            let job = store
                .claim(&me, Millis::now(), LEASE)
                .await
                .unwrap()
                .unwrap();
            assert!(
                store
                    .finish_leased_job(&job.job_id, &me, 1, *status, Millis::now(), None)
                    .await
                    .unwrap()
            );
        }
        let at = Millis::now();
        let tries = tokio::join!(
            store.advance_run(&run, at),
            store.advance_run(&run, at),
            store.advance_run(&run, at),
            store.advance_run(&run, at)
        );
        let closed: Vec<RunStatus> = [tries.0, tries.1, tries.2, tries.3]
            .into_iter()
            .filter_map(|r| r.unwrap())
            .collect();
        assert_eq!(closed, [expected], "{ends:?}");
        let detail = store.find_run(None, &run).await.unwrap().unwrap();
        assert_eq!(detail.run.status, expected);
        assert!(detail.run.finished_at.is_some());
    }
}

async fn concurrent_claims(store: &Store) {
    let jobs: Vec<String> = (0..40).map(|i| format!("j{i}")).collect();
    let spec: Vec<(&str, &[&str])> = jobs.iter().map(|j| (j.as_str(), &[][..])).collect();
    run_with(store, "many", &spec, 1).await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = store.clone();
        let me = agent(&store).await;
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(c) = store.claim(&me, Millis::now(), LEASE).await.unwrap() {
                got.push(c.job_id);
            }
            got
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let n = all.len();
    all.sort();
    all.dedup();
    assert_eq!((n, all.len()), (40, 40), "every job claimed exactly once");
}

async fn fair_share(store: &Store) {
    let big: Vec<String> = (0..5).map(|i| format!("t{i}")).collect();
    let spec: Vec<(&str, &[&str])> = big.iter().map(|j| (j.as_str(), &[][..])).collect();
    run_with(store, "big", &spec, 1).await;
    let me = agent(store).await;
    for _ in 0..2 {
        let c = store
            .claim(&me, Millis::now(), LEASE)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(c.project, "big");
    }
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    run_with(store, "small", &[("only", &[])], 1).await;
    let c = store
        .claim(&me, Millis::now(), LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        c.project, "small",
        "the project with no running job goes first"
    );
    let stats = store.queue_stats(Millis(0)).await.unwrap();
    let count = |project: &str, state: &str| {
        stats
            .jobs
            .iter()
            .find(|(p, s, _)| p == project && s == state)
            .map_or(0, |j| j.2)
    };
    assert_eq!(count("big", "leased"), 2, "{stats:?}");
    assert_eq!(count("big", "queued"), 3, "{stats:?}");
    assert_eq!(count("small", "leased"), 1, "{stats:?}");
    assert!(stats.agents >= 1 && stats.agents_seen >= 1, "{stats:?}");
}
