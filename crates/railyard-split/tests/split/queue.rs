//! The local queue: every test handed out once, dead shards' batches re-queued, batches
//! shrinking, shards pulling concurrently.

use std::collections::HashMap;
use std::sync::Arc;

use railyard_split::{Batcher, Done, LocalQueue, Next, QueueState, Speeds, TestQueue, Timings};

/// A shard's report on `batch` (timings do not matter to these tests).
fn done(batch: u64) -> Option<Done> {
    Some(Done {
        batch,
        elapsed_secs: 0.01,
        tests_secs: None,
    })
}

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
            let (mut got, mut finished) = (Vec::new(), None);
            while let Some(batch) = queue.next_batch(shard, finished.take()).await {
                tokio::task::yield_now().await;
                got.extend(batch.tests.clone());
                finished = done(batch.id);
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
    assert_eq!(queue.next_batch(1, None).await, None, "drained");
}

#[tokio::test]
async fn a_dead_shards_batch_is_given_back_and_handed_out_again() {
    let (tests, timings) = suite(50);
    let queue = LocalQueue::new(&tests, &timings, 2);
    let lost = queue.next_batch(1, None).await.unwrap();
    assert_eq!(lost.tests[0], "t0000", "longest first");
    queue.give_back(1).await;
    let mut seen: HashMap<String, usize> = HashMap::new();
    let (mut first_again, mut finished) = (None, None);
    while let Some(batch) = queue.next_batch(2, finished.take()).await {
        first_again.get_or_insert_with(|| batch.tests.clone());
        for t in &batch.tests {
            *seen.entry(t.clone()).or_default() += 1;
        }
        finished = done(batch.id);
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
    let batch = queue.next_batch(1, None).await.unwrap();
    let waiter = {
        let queue = queue.clone();
        tokio::spawn(async move { queue.next_batch(2, None).await })
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
    // Shard 1 is dead: its late report is ignored, so it waits like any idle shard.
    let late = {
        let queue = queue.clone();
        tokio::spawn(async move { queue.next_batch(1, done(again.id)).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(queue.status(), (0, 1), "shard 2 still holds the batch");
    assert!(!late.is_finished());
    assert_eq!(queue.next_batch(2, done(again.id)).await, None);
    let late = tokio::time::timeout(std::time::Duration::from_secs(5), late).await;
    assert_eq!(late.expect("woken").unwrap(), None);
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
}

#[test]
fn the_floor_follows_the_measured_overhead_and_the_last_batches_are_equal_shares() {
    let tests: Vec<String> = (0..1000).map(|i| format!("t{i:04}")).collect();
    let timings: Timings = tests.iter().map(|t| (t.clone(), 0.01)).collect();
    let mut b = Batcher::new(&tests, &timings, 4);
    assert_eq!(
        b.floor_secs(),
        Batcher::DEFAULT_MIN_BATCH_SECS,
        "nothing measured"
    );
    b.record_overhead(0.4);
    b.record_overhead(0.2);
    b.record_overhead(f64::NAN); // ignored
    let floor = b.floor_secs();
    assert!(
        (floor - Batcher::OVERHEAD_MULTIPLE * 0.3).abs() < 1e-9,
        "{floor}"
    );
    // 10 s of 10 ms tests over 4 shards: batches of 1/(4 × 2) of the rest, at least the
    // floor (1.2 s), until fewer than 4 floors are left; that rest goes in 4 equal shares.
    let mut secs = Vec::new();
    while let Some(batch) = b.take() {
        secs.push((
            b.pending_secs() + batch.predicted_secs,
            batch.predicted_secs,
        ));
    }
    let handed: f64 = secs.iter().map(|s| s.1).sum();
    assert!(
        (handed - 10.0).abs() < 1e-6,
        "every test handed out: {handed}"
    );
    let tail = secs.iter().position(|(before, _)| *before < 4.0 * floor);
    let tail = tail.expect("a tail");
    for (before, took) in &secs[..tail] {
        let want = (before / 8.0).max(floor);
        assert!((took - want).abs() <= 0.011, "{want} s: {secs:?}");
    }
    let share = secs[tail].0 / 4.0;
    assert_eq!(secs.len() - tail, 4, "four last batches: {secs:?}");
    for (_, took) in &secs[tail..] {
        assert!(
            (took - share).abs() <= 0.031,
            "equal shares of the rest: {secs:?}"
        );
    }
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

/// A server keeps the queue as JSON between requests: a state read back hands out the same
/// batches, completes and gives back the same way, as the one that never left memory.
#[test]
fn a_queue_state_survives_a_round_trip_through_json() {
    let (tests, timings) = suite(40);
    let mut live = QueueState::new(Batcher::new(&tests, &timings, 3));
    let mut stored = serde_json::to_string(&live).unwrap();
    let mut handed = Vec::new();
    for step in 0..12u32 {
        let shard = step % 3 + 1;
        let mut restored: QueueState = serde_json::from_str(&stored).unwrap();
        let (a, b) = (live.next(shard), restored.next(shard));
        assert_eq!(a, b, "step {step}");
        if let Next::Batch(batch) = a {
            handed.push((shard, batch.id));
            if step % 4 == 3 {
                // Shard gives its batch back: its tests come out again later.
                assert_eq!(live.give_back(shard), 1);
                assert_eq!(restored.give_back(shard), 1);
            } else {
                let done = Done {
                    batch: batch.id,
                    elapsed_secs: batch.predicted_secs * f64::from(shard),
                    tests_secs: Some(batch.predicted_secs),
                };
                live.complete(shard, done);
                restored.complete(shard, done);
            }
        }
        assert_eq!(live.status(), restored.status());
        assert_eq!(live.holders(), restored.holders());
        stored = serde_json::to_string(&restored).unwrap();
    }
    assert!(!handed.is_empty());
}
