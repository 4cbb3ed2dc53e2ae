//! A server's run and its queue are recorded in one transaction: all of it, or (a failure,
//! a project removed meanwhile) nothing at all. The ref it was triggered for reaches the
//! claim. On SQLite, and on PostgreSQL when available.

use railyard_store::{JobStatus, QueuedJob, RunStatus, Store};
use railyard_types::{Millis, ProjectName};
use std::time::Duration;

use crate::common::{PgDb, data_dir, new_run, now_ms, open_pg};

#[tokio::test(flavor = "multi_thread")]
async fn queued_runs_on_sqlite() {
    let dir = data_dir();
    let store = Store::open_in(dir.path()).await.unwrap();
    queued_runs(&store).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn queued_runs_on_postgres() {
    let Some(db) = PgDb::create("queued_runs_on_postgres").await else {
        return;
    };
    let logs = data_dir();
    let store = open_pg(&db.url, logs.path()).await;
    queued_runs(&store).await;
    store.close().await;
    db.drop_db().await;
}

fn job(name: &str, needs: &[&str], runs_on: &[&str], shards: u32) -> QueuedJob {
    QueuedJob {
        name: name.into(),
        needs: needs.iter().map(|s| s.to_string()).collect(),
        runs_on: runs_on.iter().map(|s| s.to_string()).collect(),
        shards,
        ..Default::default()
    }
}

fn names(jobs: &[QueuedJob]) -> Vec<String> {
    jobs.iter().flat_map(|j| j.queued_names()).collect()
}

async fn queued_runs(store: &Store) {
    store
        .add_project(&ProjectName::from("p"), "file:///r.git", Millis::now())
        .await
        .unwrap();
    let agent = store
        .register_agent("a", 1, &["linux".into()], Millis::now())
        .await
        .unwrap();

    // The issue's pipeline: a job named like a shard of another. Its two rows collide: the
    // run is not left behind without its queue (it stayed `running` for ever, and a cancel
    // called it a success), nothing is.
    let colliding = [job("test [1/2]", &[], &[], 1), job("test", &[], &[], 2)];
    let shown = names(&colliding);
    let mut new = new_run("p", "railyard-server:queue", &[]);
    new.jobs = shown;
    let e = store
        .queue_run(&new, None, "file:///r.git", &colliding, 3)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("queueing a run"), "{e}");
    assert_eq!(
        store
            .list_runs(Some(&ProjectName::from("p")), 0)
            .await
            .unwrap(),
        vec![]
    );
    assert!(store.queue_stats(Millis(0)).await.unwrap().jobs.is_empty());
    assert!(
        store
            .claim(&agent, Millis::now(), 60_000)
            .await
            .unwrap()
            .is_none()
    );

    // A good one, with a ref: every row at once; the first gets number 1 (the failed one
    // took none), shards and labels are in place, and the claim carries the ref.
    let jobs = [
        job("build", &[], &["linux"], 1),
        job("test", &["build"], &[], 3),
        job("gpu", &[], &["gpu"], 1),
    ];
    let mut new = new_run("p", "railyard-server:queue", &[]);
    new.jobs = names(&jobs);
    let run = store
        .queue_run(&new, Some("refs/heads/main"), "file:///r.git", &jobs, 3)
        .await
        .unwrap()
        .expect("the project exists");
    assert_eq!((run.number, run.status), (1, RunStatus::Queued));
    assert_eq!(run.git_ref.as_deref(), Some("refs/heads/main"));
    let detail = store
        .find_run(Some(&ProjectName::from("p")), &run.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(detail.run.git_ref.as_deref(), Some("refs/heads/main"));
    let shown: Vec<&str> = detail.jobs.iter().map(|j| j.name.as_str()).collect();
    assert_eq!(
        shown,
        ["build", "test [1/3]", "test [2/3]", "test [3/3]", "gpu"]
    );
    let mut counts = store.queue_stats(Millis(0)).await.unwrap().jobs;
    counts.sort();
    assert_eq!(
        counts,
        [
            (ProjectName::from("p"), "queued".to_string(), 2),
            (ProjectName::from("p"), "waiting".to_string(), 3)
        ]
    );
    let claim = store
        .claim(&agent, Millis::now(), 60_000)
        .await
        .unwrap()
        .expect("build is for linux");
    assert_eq!(claim.job, "build");
    assert_eq!(claim.git_ref.as_deref(), Some("refs/heads/main"));
    // `gpu` needs a label this agent lacks.
    assert!(
        store
            .claim(&agent, Millis::now(), 60_000)
            .await
            .unwrap()
            .is_none()
    );

    // Without a ref (a commit given as such): none recorded or handed on.
    let plain = [job("one", &[], &[], 1)];
    let mut new = new_run("p", "railyard-server:queue", &["one"]);
    new.started_at = new.started_at.plus(Duration::from_millis(1));
    let run = store
        .queue_run(&new, None, "file:///r.git", &plain, 3)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((run.number, run.git_ref), (2, None));
    let other = store
        .register_agent("b", 1, &[], Millis::now())
        .await
        .unwrap();
    let claim = store
        .claim(&other, Millis::now(), 60_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((claim.job.as_str(), claim.git_ref), ("one", None));

    // A project removed while its repository was fetched: nothing is queued for it.
    let mut new = new_run("gone", "railyard-server:queue", &["one"]);
    new.jobs = vec!["one".into()];
    let none = store
        .queue_run(&new, None, "file:///r.git", &plain, 3)
        .await
        .unwrap();
    assert_eq!(none, None);
    assert_eq!(
        store
            .list_runs(Some(&ProjectName::from("gone")), 0)
            .await
            .unwrap(),
        vec![]
    );
}

/// The largest pipeline a server takes (about 1,000 jobs, with labels and needs on every
/// shard) goes in as a few statements, and moves on when its first jobs end by a few more:
/// quick enough that the writer it holds is never felt.
#[tokio::test(flavor = "multi_thread")]
async fn a_thousand_jobs_on_sqlite() {
    let dir = data_dir();
    let store = Store::open_in(dir.path()).await.unwrap();
    a_thousand_jobs(&store).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thousand_jobs_on_postgres() {
    let Some(db) = PgDb::create("a_thousand_jobs_on_postgres").await else {
        return;
    };
    let logs = data_dir();
    let store = open_pg(&db.url, logs.path()).await;
    a_thousand_jobs(&store).await;
    store.close().await;
    db.drop_db().await;
}

async fn a_thousand_jobs(store: &Store) {
    store
        .add_project(&ProjectName::from("p"), "file:///r.git", Millis::now())
        .await
        .unwrap();
    let mut jobs = vec![job("build", &[], &["linux", "x86"], 64)];
    for k in 0..15 {
        jobs.push(job(&format!("test {k}"), &["build"], &["linux"], 62));
    }
    let mut new = new_run("p", "railyard-server:queue", &[]);
    new.jobs = names(&jobs);
    assert_eq!(new.jobs.len(), 994);
    let started = std::time::Instant::now();
    let run = store
        .queue_run(&new, Some("refs/heads/main"), "file:///r.git", &jobs, 3)
        .await
        .unwrap()
        .unwrap();
    eprintln!(
        "{:?}: 994 jobs queued in {:?}",
        store.backend(),
        started.elapsed()
    );
    let detail = store
        .find_run(Some(&ProjectName::from("p")), &run.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(detail.jobs.len(), 994);
    let counts = store.queue_stats(Millis(0)).await.unwrap().jobs;
    assert_eq!(
        counts,
        [
            (ProjectName::from("p"), "queued".to_string(), 64),
            (ProjectName::from("p"), "waiting".to_string(), 930)
        ]
    );
    // The shards of `build` end; the last releases the 930 that need all 64.
    let agent = store
        .register_agent("a", 64, &["linux".into(), "x86".into()], Millis::now())
        .await
        .unwrap();
    let mut slowest = std::time::Duration::ZERO;
    for _ in 0..64 {
        let claim = store
            .claim(&agent, Millis::now(), 60_000)
            .await
            .unwrap()
            .unwrap();
        assert!(claim.job.starts_with("build ["), "{}", claim.job);
        assert!(
            store
                .finish_leased_job(
                    &claim.job_id,
                    &agent.as_str().into(),
                    claim.attempt,
                    JobStatus::Success,
                    now_ms().into(),
                    None
                )
                .await
                .unwrap()
        );
        let started = std::time::Instant::now();
        store
            .advance_run(&run.id.as_str().into(), now_ms().into())
            .await
            .unwrap();
        slowest = slowest.max(started.elapsed());
    }
    eprintln!("{:?}: slowest advance {slowest:?}", store.backend());
    let counts = store.queue_stats(Millis(0)).await.unwrap().jobs;
    assert_eq!(
        counts,
        [(ProjectName::from("p"), "queued".to_string(), 930)]
    );
    // One of them fails: nothing else is skipped (none needs it); a cancel ends the rest.
    assert!(
        store
            .cancel_run(&run.id.as_str().into(), now_ms().into())
            .await
            .unwrap()
    );
    assert!(store.queue_stats(Millis(0)).await.unwrap().jobs.is_empty());
}

/// A job's result as large as a real suite's (100,000 timings of ids of 100 characters) is
/// recorded by a few statements: SQLite took `$N` parameters for names and spent seconds
/// looking them up, holding its one writer.
#[tokio::test(flavor = "multi_thread")]
async fn a_hundred_thousand_timings_are_recorded_at_once() {
    let dir = data_dir();
    let store = Store::open_in(dir.path()).await.unwrap();
    let timings: Vec<(String, f64)> = (0..100_000)
        .map(|i| (format!("{i:0100}"), 0.001 * f64::from(i % 1000)))
        .collect();
    let started = std::time::Instant::now();
    assert_eq!(
        store
            .record_timings(&ProjectName::from("p"), &timings, Millis::now())
            .await
            .unwrap(),
        100_000
    );
    eprintln!("100,000 timings recorded in {:?}", started.elapsed());
    let stored = store.timings(&ProjectName::from("p")).await.unwrap();
    assert_eq!(stored.len(), 100_000);
    assert_eq!(stored[&format!("{:0100}", 1234)], (0.234, 1));
}

/// A claim from a server before refs were kept reads without one, and one with none sends
/// no `ref`: older agents and servers interoperate.
#[test]
fn a_claim_carries_its_ref_only_when_it_has_one() {
    let old = r#"{"job_id": "j", "run_id": "r", "job": "build", "project": "p",
        "repo_url": "file:///r.git", "commit": "abc", "attempt": 1, "lease_until": 5}"#;
    let mut claim: railyard_store::Claim = serde_json::from_str(old).unwrap();
    assert_eq!(claim.git_ref, None);
    assert!(!serde_json::to_string(&claim).unwrap().contains("ref"));
    claim.git_ref = Some("refs/heads/main".into());
    let sent = serde_json::to_value(&claim).unwrap();
    assert_eq!(sent["ref"], "refs/heads/main");
}
