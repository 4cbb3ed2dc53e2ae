//! A server run's context (event, pull request, who started it) is stored with it and read
//! back; `superseded_runs` finds the older unfinished runs of the same branch push or pull
//! request only. On SQLite, and on PostgreSQL when available.

use railyard_store::{QueuedJob, Store};
use railyard_types::context::{PullRequest, RunContext, RunEvent};
use railyard_types::{Millis, ProjectName};

use crate::common::{PgDb, data_dir, new_run, open_pg};

#[tokio::test(flavor = "multi_thread")]
async fn run_events_on_sqlite() {
    let dir = data_dir();
    let store = Store::open_in(dir.path()).await.unwrap();
    run_events(&store).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn run_events_on_postgres() {
    let Some(db) = PgDb::create("run_events_on_postgres").await else {
        return;
    };
    let logs = data_dir();
    let store = open_pg(&db.url, logs.path()).await;
    run_events(&store).await;
    store.close().await;
    db.drop_db().await;
}

fn context(event: RunEvent, git_ref: &str, pr: Option<u64>) -> RunContext {
    RunContext {
        event,
        git_ref: Some(git_ref.into()),
        commit: "0123456789abcdef0123456789abcdef01234567".into(),
        pull_request: pr.map(|number| PullRequest {
            number,
            source_branch: "main".into(),
            target_branch: "main".into(),
            from_fork: true,
        }),
        started_by: Some("webhook:github".into()),
    }
}

/// Queues a run of one job with that context.
async fn queue(store: &Store, ctx: RunContext) -> railyard_store::RunRecord {
    let jobs = [QueuedJob {
        name: "build".into(),
        shards: 1,
        ..Default::default()
    }];
    let mut new = new_run("ev", "railyard-server:queue", &["build"]);
    let git_ref = ctx.git_ref.clone();
    new.context = Some(ctx);
    store
        .queue_run(&new, git_ref.as_deref(), "file:///r.git", &jobs, 3)
        .await
        .unwrap()
        .unwrap()
}

async fn run_events(store: &Store) {
    let project = ProjectName::from("ev");
    store
        .add_project(&project, "file:///r.git", Millis::now())
        .await
        .unwrap();
    let p = store.project(&project).await.unwrap().unwrap();
    assert!(!p.cancel_superseded, "off by default");
    assert!(store.set_cancel_superseded(&project, true).await.unwrap());
    assert!(
        store
            .project(&project)
            .await
            .unwrap()
            .unwrap()
            .cancel_superseded
    );
    assert!(
        !store
            .set_cancel_superseded(&"nope".into(), true)
            .await
            .unwrap()
    );

    let main1 = queue(store, context(RunEvent::Push, "refs/heads/main", None)).await;
    let other = queue(store, context(RunEvent::Push, "refs/heads/other", None)).await;
    let pr1 = queue(
        store,
        context(RunEvent::PullRequest, "refs/pull/7/head", Some(7)),
    )
    .await;
    let pr8 = queue(
        store,
        context(RunEvent::PullRequest, "refs/pull/8/head", Some(8)),
    )
    .await;
    let trig = queue(store, context(RunEvent::Trigger, "refs/heads/main", None)).await;
    let tag = queue(store, context(RunEvent::Tag, "refs/tags/v1", None)).await;

    // Read back whole, by id and in lists.
    let read = store.run_record(&pr1.id).await.unwrap().unwrap();
    assert_eq!(read, pr1);
    assert_eq!(read.event, Some(RunEvent::PullRequest));
    let pr = read.pull_request.clone().unwrap();
    assert_eq!((pr.number, pr.from_fork), (7, true));
    assert_eq!(read.started_by.as_deref(), Some("webhook:github"));
    assert_eq!(
        read.context(),
        Some(context(RunEvent::PullRequest, "refs/pull/7/head", Some(7)))
    );
    let listed = store.list_runs(Some(&project), 0).await.unwrap();
    assert!(
        listed.contains(&pr1) && listed.contains(&main1),
        "{listed:?}"
    );

    // A second push of main supersedes the first push only (not the trigger of main).
    let main2 = queue(store, context(RunEvent::Push, "refs/heads/main", None)).await;
    let ids =
        |runs: Vec<railyard_store::RunRecord>| runs.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.superseded_runs(&main2).await.unwrap()),
        vec![main1.id.clone()]
    );
    let pr2 = queue(
        store,
        context(RunEvent::PullRequest, "refs/pull/7/head", Some(7)),
    )
    .await;
    assert_eq!(
        ids(store.superseded_runs(&pr2).await.unwrap()),
        vec![pr1.id.clone()]
    );
    // Nothing supersedes, or is superseded by, a tag, a trigger or a schedule.
    for run in [&trig, &tag, &other, &pr8] {
        assert!(
            store.superseded_runs(run).await.unwrap().is_empty(),
            "{run:?}"
        );
    }
    // A finished run is not superseded.
    assert!(store.cancel_run(&main1.id, Millis::now()).await.unwrap());
    store.advance_run(&main1.id, Millis::now()).await.unwrap();
    assert!(store.superseded_runs(&main2).await.unwrap().is_empty());
}
