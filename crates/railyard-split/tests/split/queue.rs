//! The local queue: every test handed out once, dead shards' batches re-queued, batches
//! shrinking, shards pulling concurrently.

use std::collections::HashMap;
use std::sync::Arc;

use railyard_split::{Batcher, LocalQueue, Speeds, TestQueue, Timings};

fn suite(n: usize) -> (Vec<String>, Timings) {
    let tests: Vec<String> = (0..n).map(|i| format!("t{i:04}")).collect();
    // Skewed: a few long tests, many short ones.
    let timings = tests
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), 0.05 + 30.0 / (1.0 + i as f64)))
        .collect();
    (tests, timings)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_test_handed_out_exactly_once() {
    let (tests, timings) = suite(400);
    // Through the interface, as the runner will hold it.
    let queue: Arc<dyn TestQueue> = Arc::new(LocalQueue::new(&tests, &timings, 4));
    let mut shards = Vec::new();
    for shard in 1..=4u32 {
        let queue = queue.clone();
        shards.push(tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(batch) = queue.next_batch(shard).await {
                tokio::task::yield_now().await;
                got.extend(batch.tests.clone());
                queue.complete(shard, batch.id).await;
            }
            got
        }));
    }
    let mut all = Vec::new();
    for s in shards {
        all.extend(s.await.unwrap());
    }
    all.sort();
    assert_eq!(all, tests);
    assert_eq!(queue.next_batch(1).await, None, "drained");
}

#[tokio::test]
async fn a_dead_shards_batch_is_given_back_and_handed_out_again() {
    let (tests, timings) = suite(50);
    let queue = LocalQueue::new(&tests, &timings, 2);
    let lost = queue.next_batch(1).await.unwrap();
    assert_eq!(lost.tests[0], "t0000", "longest first");
    queue.give_back(1).await;
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut first_again = None;
    while let Some(batch) = queue.next_batch(2).await {
        first_again.get_or_insert_with(|| batch.tests.clone());
        for t in &batch.tests {
            *seen.entry(t.clone()).or_default() += 1;
        }
        queue.complete(2, batch.id).await;
    }
    assert_eq!(
        first_again.unwrap(),
        lost.tests,
        "the given-back tests are the longest again"
    );
    assert_eq!(seen.len(), 50);
    assert!(seen.values().all(|&n| n == 1), "each remaining test once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_shards_wait_while_a_batch_could_still_come_back() {
    let tests = vec!["only".to_string()];
    let queue = Arc::new(LocalQueue::new(&tests, &Timings::new(), 2));
    let batch = queue.next_batch(1).await.unwrap();
    let waiter = {
        let queue = queue.clone();
        tokio::spawn(async move { queue.next_batch(2).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert!(
        !waiter.is_finished(),
        "shard 2 must not leave while shard 1 may die"
    );
    queue.give_back(1).await;
    let again = tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
        .await
        .expect("woken by give_back")
        .unwrap()
        .expect("gets the given-back batch");
    assert_eq!(again.tests, batch.tests);
    queue.complete(1, again.id).await; // shard 1 is dead: its late completion is ignored
    assert_eq!(queue.status(), (0, 1));
    queue.complete(2, again.id).await;
    assert_eq!(queue.next_batch(2).await, None);
}

#[test]
fn batches_shrink_as_the_queue_empties() {
    let tests: Vec<String> = (0..1000).map(|i| format!("t{i:04}")).collect();
    let timings: Timings = tests.iter().map(|t| (t.clone(), 0.2)).collect();
    let mut b = Batcher::new(&tests, &timings, 4).with_min_batch_secs(0.0);
    let mut sizes = Vec::new();
    while let Some(batch) = b.take() {
        sizes.push(batch.tests.len());
    }
    assert_eq!(sizes.iter().sum::<usize>(), 1000);
    assert!(
        sizes.windows(2).all(|w| w[1] <= w[0]),
        "equal tests: sizes never grow: {sizes:?}"
    );
    assert_eq!(sizes[0], 125, "1/(4 shards × 2) of the work");
    assert_eq!(*sizes.last().unwrap(), 1);

    // With skewed times the predicted seconds per batch shrink.
    let (tests, timings) = suite(1000);
    let mut b = Batcher::new(&tests, &timings, 4);
    let mut secs = Vec::new();
    while let Some(batch) = b.take() {
        secs.push(batch.predicted_secs);
    }
    let third = secs.len() / 3;
    let avg = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
    assert!(avg(&secs[..third]) > avg(&secs[2 * third..]), "{secs:?}");
    assert!(
        secs[secs.len() - 6..secs.len() - 1]
            .iter()
            .all(|&s| s >= Batcher::DEFAULT_MIN_BATCH_SECS - 0.06),
        "the floor keeps tail batches (but the very last) from being one tiny test each: {secs:?}"
    );
}

#[test]
fn slow_shards_get_smaller_batches() {
    let mut speeds = Speeds::default();
    assert_eq!(speeds.scale(1), 1.0, "nothing measured");
    speeds.record(1, 10.0, 20.0); // half speed
    assert_eq!(speeds.scale(1), 1.0, "no other shard to compare with");
    speeds.record(2, 10.0, 10.0);
    speeds.record(3, 10.0, 10.0);
    speeds.record(4, 0.0, f64::NAN); // ignored
    let slow = speeds.scale(1);
    assert!((slow - 0.5 / (2.5 / 3.0)).abs() < 1e-9, "{slow}");
    assert!(speeds.scale(2) > 1.0);
    assert_eq!(speeds.scale(9), 1.0, "an unmeasured shard");

    let tests: Vec<String> = (0..1000).map(|i| format!("t{i:04}")).collect();
    let timings: Timings = tests.iter().map(|t| (t.clone(), 0.2)).collect();
    let mut a = Batcher::new(&tests, &timings, 4).with_min_batch_secs(0.0);
    let mut b = a.clone();
    let normal = a.take().unwrap().tests.len();
    let small = b.take_scaled(slow).unwrap().tests.len();
    assert_eq!(normal, 125);
    assert_eq!(small, (125.0 * slow).floor() as usize);
    assert_eq!(
        Batcher::new(&tests, &timings, 4)
            .with_min_batch_secs(0.0)
            .take_scaled(0.0)
            .unwrap()
            .tests
            .len(),
        31,
        "scale floor 0.25"
    );
}
