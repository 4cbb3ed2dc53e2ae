//! Jobs skipped by their `when:` rule: queued already ended `skipped` with the reason (every
//! shard of a sharded one), never claimed; the jobs that need them skipped; the run a success
//! when the rest succeed, and ended at once when everything was skipped. Both backends.

use railyard_store::{JobStatus, QueuedJob, RunStatus, Store};
use railyard_types::{Millis, ProjectName, RunId};

use crate::common::{PgDb, data_dir, new_run, open_pg};

#[tokio::test(flavor = "multi_thread")]
async fn rule_skips_on_sqlite() {
    let dir = data_dir();
    let store = Store::open_in(dir.path()).await.unwrap();
    rule_skips(&store).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rule_skips_on_postgres() {
    let Some(db) = PgDb::create("rule_skips_on_postgres").await else {
        return;
    };
    let logs = data_dir();
    let store = open_pg(&db.url, logs.path()).await;
    rule_skips(&store).await;
    store.close().await;
    db.drop_db().await;
}

const WHY: &str = "skipped: `when` wants event `tag`; this run's is `push`";

fn job(name: &str, needs: &[&str], shards: u32, skipped: bool) -> QueuedJob {
    QueuedJob {
        name: name.into(),
        needs: needs.iter().map(|s| s.to_string()).collect(),
        shards,
        skipped: skipped.then(|| WHY.to_owned()),
        ..Default::default()
    }
}

async fn queue(store: &Store, jobs: &[QueuedJob]) -> RunId {
    let mut new = new_run("p", "railyard-server:queue", &[]);
    new.jobs = jobs.iter().flat_map(|j| j.queued_names()).collect();
    let run = store
        .queue_run(&new, Some("refs/heads/main"), "file:///r.git", jobs, 3)
        .await
        .unwrap()
        .unwrap();
    run.id
}

async fn jobs(store: &Store, run: &RunId) -> (RunStatus, Vec<(String, JobStatus, Option<String>)>) {
    let detail = store.find_run(None, run.as_str()).await.unwrap().unwrap();
    let jobs = (detail.jobs.iter())
        .map(|j| (j.name.clone(), j.status, j.error.clone()))
        .collect();
    (detail.run.status, jobs)
}

async fn rule_skips(store: &Store) {
    store
        .add_project(&ProjectName::from("p"), "file:///r.git", Millis::now())
        .await
        .unwrap();
    let agent = store
        .register_agent("a", 1, &[], Millis::now())
        .await
        .unwrap();
    let run = queue(
        store,
        &[
            job("build", &[], 1, false),
            job("release", &["build"], 2, true),
            job("announce", &["release"], 1, false),
        ],
    )
    .await;
    let (_, recorded) = jobs(store, &run).await;
    let skipped = |name: &str| (name.to_owned(), JobStatus::Skipped, Some(WHY.to_owned()));
    assert!(recorded.contains(&skipped("release [1/2]")), "{recorded:?}");
    assert!(recorded.contains(&skipped("release [2/2]")), "{recorded:?}");
    let dependent = recorded.iter().find(|j| j.0 == "announce").unwrap();
    assert_eq!(dependent.1, JobStatus::Skipped, "{recorded:?}");
    assert_eq!(
        dependent.2.as_deref(),
        // The store's needs name a sharded job's shards.
        Some("skipped: `release [1/2]`, `release [2/2]` did not succeed")
    );
    // Only `build` is ever claimed; its success is the run's.
    let claim = store
        .claim(&agent, Millis::now(), 60_000)
        .await
        .unwrap()
        .expect("build is queued");
    assert_eq!(claim.job, "build");
    assert!(
        store
            .claim(&agent, Millis::now(), 60_000)
            .await
            .unwrap()
            .is_none()
    );
    let done = store
        .finish_leased_job(
            &claim.job_id,
            &agent,
            claim.attempt,
            JobStatus::Success,
            Millis::now(),
            None,
        )
        .await
        .unwrap();
    assert!(done);
    store.advance_run(&run, Millis::now()).await.unwrap();
    assert_eq!(jobs(store, &run).await.0, RunStatus::Success);

    // Everything skipped: the run ends at once, a success, nothing to claim.
    let run = queue(store, &[job("release", &[], 1, true)]).await;
    let (status, recorded) = jobs(store, &run).await;
    assert_eq!(status, RunStatus::Success);
    assert_eq!(recorded, [skipped("release")]);
    assert!(
        store
            .claim(&agent, Millis::now(), 60_000)
            .await
            .unwrap()
            .is_none()
    );
}
