//! What operators read and the tokens they make: stored tokens (by hash, revoked at once),
//! the agents list, and the queue-wait histogram. On SQLite, and on PostgreSQL when available.

use railyard_store::{QueuedJob, Store};

use crate::common::{PgDb, data_dir, new_run, now_ms, open_pg};

#[tokio::test(flavor = "multi_thread")]
async fn tokens_and_fleet_on_sqlite() {
    let dir = data_dir();
    let store = Store::open_in(dir.path()).await.unwrap();
    tokens(&store).await;
    fleet(&store).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_and_fleet_on_postgres() {
    let Some(db) = PgDb::create("tokens_and_fleet_on_postgres").await else {
        return;
    };
    let logs = data_dir();
    let store = open_pg(&db.url, logs.path()).await;
    tokens(&store).await;
    fleet(&store).await;
    store.close().await;
    db.drop_db().await;
}

async fn tokens(store: &Store) {
    assert!(store.add_token("ci", "agent", "aa11", 1).await.unwrap());
    assert!(
        !store.add_token("ci", "admin", "bb22", 2).await.unwrap(),
        "a taken name"
    );
    assert_eq!(
        store.token_role("aa11").await.unwrap().as_deref(),
        Some("agent")
    );
    assert_eq!(
        store.token_role("bb22").await.unwrap(),
        None,
        "nothing stored twice"
    );
    assert!(store.revoke_token("ci", 3).await.unwrap());
    assert!(!store.revoke_token("ci", 4).await.unwrap(), "revoked once");
    assert_eq!(store.token_role("aa11").await.unwrap(), None);
    let list = store.tokens().await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!((list[0].name.as_str(), list[0].revoked_at), ("ci", Some(3)));
}

async fn fleet(store: &Store) {
    let now = now_ms();
    let run = store
        .create_run(&new_run("waits", "railyard-server:test", &["a", "b"]))
        .await
        .unwrap();
    let jobs: Vec<QueuedJob> = ["a", "b"]
        .iter()
        .map(|n| QueuedJob {
            name: n.to_string(),
            ..Default::default()
        })
        .collect();
    store
        .enqueue_run(
            &run.id,
            "waits",
            "file:///r.git",
            "abc",
            &jobs,
            3,
            now - 2_000,
        )
        .await
        .unwrap();
    let agent = store.register_agent("w1", 2, &[], now).await.unwrap();
    assert!(store.wait_histograms(&[1_000]).await.unwrap().is_empty());
    let claim = store.claim(&agent, now, 60_000).await.unwrap().unwrap();
    store.job_started(&run.id, &claim.job, now).await.unwrap();
    let h = store.wait_histograms(&[1_000, 5_000]).await.unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].project, "waits");
    assert_eq!((h[0].count, h[0].sum_ms), (1, 2_000));
    assert_eq!(h[0].cumulative, vec![0, 1], "2 s is over 1 s and under 5 s");
    let agents = store.agents().await.unwrap();
    assert_eq!(agents.len(), 1);
    assert_eq!(
        (agents[0].name.as_str(), agents[0].running, agents[0].slots),
        ("w1", 1, 2)
    );
}
