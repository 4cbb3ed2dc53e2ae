//! A sharded job's test queue in the store: shards queued apart, the first opening of the
//! queue winning, and shards pulling through several store handles (as several servers on
//! one database do) each test handed out exactly once. On SQLite and on PostgreSQL.

use railyard_types::{Millis, RunId};
use std::collections::BTreeMap;

use railyard_split::{Batcher, Done, Next, QueueState, Timings};
use railyard_store::{OpenedQueue, QueuedJob, Store};

use crate::common::{PgDb, data_dir, enqueue, new_run, open_pg};

const SHARDS: u32 = 4;

#[tokio::test(flavor = "multi_thread")]
async fn test_queue_on_sqlite() {
    let dir = data_dir();
    let a = Store::open_in(dir.path()).await.unwrap();
    let b = Store::open_in(dir.path()).await.unwrap();
    shared_queue(&a, &b).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn test_queue_on_postgres() {
    let Some(db) = PgDb::create("test_queue_on_postgres").await else {
        return;
    };
    let logs = data_dir();
    let a = open_pg(&db.url, logs.path()).await;
    let b = open_pg(&db.url, logs.path()).await;
    shared_queue(&a, &b).await;
    a.close().await;
    b.close().await;
    db.drop_db().await;
}

async fn shared_queue(a: &Store, b: &Store) {
    let names = ["test [1/4]", "test [2/4]", "test [3/4]", "test [4/4]"];
    let run = a
        .create_run(&new_run("p", "railyard-server:queue", &names))
        .await
        .unwrap();
    let job = QueuedJob {
        name: "test".into(),
        shards: SHARDS,
        ..Default::default()
    };
    enqueue(a, &run.id, "p", &[job], 1).await;
    let agent = a.register_agent("t", 4, &[], Millis::now()).await.unwrap();
    let mut claimed = Vec::new();
    while let Some(claim) = a.claim(&agent, Millis::now(), 60_000).await.unwrap() {
        let of = claim.shard.clone().expect("a shard");
        assert_eq!(claim.job, format!("test [{}/4]", of.shard));
        assert_eq!((of.job.as_str(), of.shards), ("test", SHARDS));
        claimed.push(of.shard);
    }
    claimed.sort();
    assert_eq!(claimed, [1, 2, 3, 4]);

    // Not open yet: nothing to change.
    let none = a
        .change_test_queue(&run.id, "test", Millis::now(), |_, _| ())
        .await;
    assert_eq!(none.unwrap(), None);
    let tests: Vec<String> = (0..200).map(|i| format!("t{i:03}")).collect();
    let timings: Vec<(String, f64)> = tests
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), 0.01 + (i % 7) as f64))
        .collect();
    let mut table = Timings::new();
    for (id, secs) in &timings {
        table.insert(id.clone(), *secs);
    }
    let state = QueueState::new(Batcher::new(&tests, &table, SHARDS as usize));
    let first = OpenedQueue {
        tests_hash: "first".into(),
        timings: timings.clone(),
    };
    let opened = a
        .open_test_queue(&run.id, "test", SHARDS, &first, &state, Millis::now())
        .await
        .unwrap();
    assert_eq!(opened, first);
    // A later opening (another shard, another server) gets the first one's back.
    let later = OpenedQueue {
        tests_hash: "other".into(),
        timings: Vec::new(),
    };
    let opened = b
        .open_test_queue(&run.id, "test", SHARDS, &later, &state, Millis::now())
        .await
        .unwrap();
    assert_eq!(opened, first);

    // Two pullers per shard, half through each store handle, all at once.
    let mut tasks = tokio::task::JoinSet::new();
    for shard in 1..=SHARDS {
        for store in [a.clone(), b.clone()] {
            let run = run.id.clone();
            tasks.spawn(async move { pull(&store, &run, shard).await });
        }
    }
    let mut handed: BTreeMap<String, usize> = BTreeMap::new();
    while let Some(ids) = tasks.join_next().await {
        for id in ids.unwrap() {
            *handed.entry(id).or_default() += 1;
        }
    }
    assert_eq!(handed.len(), tests.len(), "every test handed out");
    assert!(handed.values().all(|n| *n == 1), "each once: {handed:?}");
}

/// Takes and completes batches for `shard` until the queue is drained; returns their ids.
async fn pull(store: &Store, run: &str, shard: u32) -> Vec<String> {
    let mut ids = Vec::new();
    let mut done: Option<Done> = None;
    loop {
        let next = store
            .change_test_queue(&RunId::from(run), "test", Millis::now(), |queue, live| {
                assert_eq!(live, [1, 2, 3, 4], "every shard's lease is live");
                if let Some(done) = done {
                    queue.complete(shard, done);
                }
                queue.next(shard)
            })
            .await
            .unwrap()
            .expect("the queue is open");
        match next {
            Next::Batch(batch) => {
                done = Some(Done {
                    batch: batch.id,
                    elapsed_secs: batch.predicted_secs,
                    tests_secs: Some(batch.predicted_secs),
                });
                ids.extend(batch.tests);
            }
            Next::Wait => {
                done = None;
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            Next::Drained => return ids,
        }
    }
}
