//! The commit-status outbox (issue 15): the triggers write a row for each state a run's and
//! its jobs' contexts reach, in order, only for projects with a forge; the deliverer's claim
//! takes rows per context strictly in order, under a lease, and honours backoff. On SQLite,
//! and on PostgreSQL when available.

use std::collections::BTreeMap;

use railyard_store::{GiveUp, OutboxStatus, QueuedJob, Store};
use railyard_types::statuses::{Forge, ForgeKind};
use railyard_types::{JobStatus, Millis, ProjectName};

use crate::common::{PgDb, data_dir, enqueue, new_run, open_pg};

const LEASE: i64 = 60_000;

#[tokio::test(flavor = "multi_thread")]
async fn outbox_on_sqlite() {
    let dir = data_dir();
    let store = Store::open_in(dir.path()).await.unwrap();
    outbox_story(&store).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn outbox_on_postgres() {
    let Some(db) = PgDb::create("outbox_on_postgres").await else {
        return;
    };
    let logs = data_dir();
    let store = open_pg(&db.url, logs.path()).await;
    outbox_story(&store).await;
    store.close().await;
    db.drop_db().await;
}

async fn project(store: &Store, name: &str, forge: bool) -> ProjectName {
    let project = ProjectName::from(name);
    assert!(
        store
            .add_project(&project, "file:///r.git", Millis::now())
            .await
            .unwrap()
    );
    if forge {
        let forge = Forge {
            kind: ForgeKind::Github,
            api_url: "http://127.0.0.1:9".into(),
            repo: "acme/app".into(),
        };
        assert!(
            store
                .set_project_forge(&project, Some(&forge))
                .await
                .unwrap()
        );
        assert_eq!(store.project_forge(&project).await.unwrap(), Some(forge));
    }
    project
}

/// Runs `build` (failing) and `test [1/2]`, `test [2/2]` needing it, of project `name`.
async fn run_failing_build(store: &Store, name: &str) {
    let run = store
        .create_queued_run(&new_run(
            name,
            "railyard-server:queue",
            &["build", "test [1/2]", "test [2/2]"],
        ))
        .await
        .unwrap();
    let jobs = [
        QueuedJob {
            name: "build".into(),
            ..Default::default()
        },
        QueuedJob {
            name: "test".into(),
            needs: vec!["build".into()],
            shards: 2,
            ..Default::default()
        },
    ];
    enqueue(store, &run.id, name, &jobs, 1).await;
    let agent = store
        .register_agent("a", 1, &[], Millis::now())
        .await
        .unwrap();
    let claim = store
        .claim(&agent, Millis::now(), LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claim.job, "build");
    let now = Millis::now();
    let failed = JobStatus::Failed;
    let ended = store
        .finish_leased_job(&claim.job_id, &agent, claim.attempt, failed, now, None)
        .await
        .unwrap();
    assert!(ended);
    store.advance_run(&run.id, now).await.unwrap();
}

/// Every row due now, each marked delivered at once: by context, the statuses in order.
async fn drain(store: &Store) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    while let Some(row) = store
        .claim_commit_status(Millis::now(), LEASE)
        .await
        .unwrap()
    {
        out.entry(row.context.clone()).or_default().push(row.status);
        store
            .commit_status_delivered(row.id, Millis::now())
            .await
            .unwrap();
    }
    out
}

async fn outbox_story(store: &Store) {
    let plain = project(store, "st-plain", false).await;
    let forged = project(store, "st-forged", true).await;

    // A project without a forge writes nothing.
    run_failing_build(store, "st-plain").await;
    assert!(
        store
            .commit_statuses(&plain, false, 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .claim_commit_status(Millis::now(), LEASE)
            .await
            .unwrap()
            .is_none()
    );

    // Leases and order: the first row of a context blocks the later ones until it is done.
    run_failing_build(store, "st-forged").await;
    let first = claim(store).await.unwrap();
    let mut seen = vec![first.clone()];
    while let Some(row) = claim(store).await {
        seen.push(row);
    }
    let contexts: Vec<&str> = seen.iter().map(|r| r.context.as_str()).collect();
    assert_eq!(
        contexts.len(),
        4,
        "one row per context is taken while each is leased: {contexts:?}"
    );
    assert!(claim(store).await.is_none(), "all four are leased");
    let later = Millis(Millis::now().as_i64() + LEASE + 1);
    let again = store
        .claim_commit_status(later, LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        again.id, first.id,
        "a lapsed lease hands the same row out again"
    );
    assert_eq!(again.attempts, 2);

    // Backoff: a row put back is not due before its time, and holds its context's later rows.
    let build = seen.iter().find(|r| r.context == "railyard/build").unwrap();
    let soon = Millis(Millis::now().as_i64() + 3_600_000);
    store
        .commit_status_retry(build.id, soon, "HTTP 500 from the forge")
        .await
        .unwrap();
    // Refused: given up, and the context's later rows go on.
    let run_ctx = seen.iter().find(|r| r.context == "railyard").unwrap();
    store
        .commit_status_given_up(run_ctx.id, Millis::now(), GiveUp::Refused, "HTTP 422: bad")
        .await
        .unwrap();
    for r in &seen {
        if r.id != build.id && r.id != run_ctx.id {
            store
                .commit_status_delivered(r.id, Millis::now())
                .await
                .unwrap();
        }
    }
    let sent = drain(store).await;
    assert_eq!(
        sent.get("railyard/build"),
        None,
        "build's first row waits for its time"
    );
    assert_eq!(
        sent["railyard"],
        ["running", "failed"],
        "after the refused `queued`, the run's later states in order"
    );
    assert_eq!(sent["railyard/test [1/2]"], ["skipped"]);
    assert_eq!(sent["railyard/test [2/2]"], ["skipped"]);

    let rows = store.commit_statuses(&forged, true, 100).await.unwrap();
    let refused = rows.iter().find(|r| r.id == run_ctx.id).unwrap();
    assert_eq!(refused.outcome.as_deref(), Some("refused"));
    assert_eq!(refused.last_error.as_deref(), Some("HTTP 422: bad"));
    let waiting = rows.iter().find(|r| r.id == build.id).unwrap();
    assert_eq!(waiting.outcome, None);
    assert_eq!(
        waiting.last_error.as_deref(),
        Some("HTTP 500 from the forge")
    );

    // At its time, build's states go in order.
    let mut build_states = Vec::new();
    let at = Millis(soon.as_i64() + 1);
    while let Some(row) = store.claim_commit_status(at, LEASE).await.unwrap() {
        assert_eq!(row.context, "railyard/build");
        build_states.push(row.status.clone());
        store.commit_status_delivered(row.id, at).await.unwrap();
    }
    assert_eq!(build_states, ["pending", "running", "failed"]);
    let every = store.commit_statuses(&forged, false, 100).await.unwrap();
    let skip = every
        .iter()
        .find(|r| r.context == "railyard/test [1/2]" && r.status == "skipped")
        .unwrap();
    assert!(skip.description.is_some(), "a skip says why: {skip:?}");

    // Removing the forge stops new rows; sent rows are forgotten after a while.
    assert!(store.set_project_forge(&forged, None).await.unwrap());
    run_failing_build(store, "st-forged").await;
    assert!(
        store
            .claim_commit_status(at, LEASE)
            .await
            .unwrap()
            .is_none()
    );
    let all = store.commit_statuses(&forged, false, 100).await.unwrap();
    assert_eq!(
        all.len(),
        10,
        "3 for the run, 3 for build, 2 for each shard"
    );
    let forgotten = store
        .forget_commit_statuses(Millis(at.as_i64() + 1))
        .await
        .unwrap();
    assert_eq!(forgotten as usize, all.len());
}

async fn claim(store: &Store) -> Option<OutboxStatus> {
    store
        .claim_commit_status(Millis::now(), LEASE)
        .await
        .unwrap()
}
