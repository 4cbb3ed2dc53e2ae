//! Queue mode: shards pull batches from one shared queue until it is empty.
//!
//! A static plan is only as good as its timings; a queue absorbs what they miss (a slow
//! machine, a test that got slower). The [`Batcher`] hands out the longest tests first, and
//! each batch takes about `remaining / (shards × k)` seconds of predicted work (at least one
//! test, and at least `min_batch_secs`), so batches are large while much is left and shrink
//! as the queue empties: few `exec`s early, fine-grained balancing at the end. Batches are
//! also scaled to each shard's measured speed ([`Speeds`]), so a slow machine takes smaller
//! ones and does not finish last. A shard that
//! dies gives its unfinished batches back ([`TestQueue::give_back`]) and they are handed out
//! again, longest first. [`TestQueue`] is the interface; [`LocalQueue`] implements it in
//! memory for `railyard run`, and the server can implement it over its database so that
//! shards on different machines share one queue.

use std::collections::HashMap;
use std::sync::Mutex;

pub use crate::queue_state::{Next, QueueState};

use tokio::sync::Notify;

use crate::partition::sorted_estimates;
use crate::timings::Timings;

pub use railyard_types::protocol::{Batch, Done};

/// A queue that shards (1…N) pull batches from. Implementations must be safe to call from
/// many shards at once. Every call carries all it needs (shard, batch id, measured times),
/// so a server can implement it over HTTP: one request per batch, none to hold open.
#[async_trait::async_trait]
pub trait TestQueue: Send + Sync {
    /// Marks `done` complete (its tests ran, whatever their outcome) and returns the next
    /// batch for `shard`: one round trip per batch. `None` once every test has been handed
    /// out and every handed-out batch completed; while other shards still hold batches that
    /// could be given back, this waits rather than returning `None`.
    async fn next_batch(&self, shard: u32, done: Option<Done>) -> Option<Batch>;
    /// Returns every unfinished batch of `shard` (it died) to the queue.
    async fn give_back(&self, shard: u32);
}

/// The tests of one shard of a job whose other shards run elsewhere (an agent's shard,
/// sharing the job's queue through a server). The shard lists the job's tests itself, then
/// [`RemoteTests::open`]s them: the first shard to arrive opens the job's queue, and every
/// shard gets the same timings back, so a static plan comes out the same on every machine.
#[async_trait::async_trait]
pub trait RemoteTests: TestQueue {
    /// Posts the ids this shard listed; returns the timings every shard splits by, or why
    /// the shard cannot go on (the shards listed different ids, say).
    async fn open(&self, tests: &[String]) -> Result<Timings, crate::OpenError>;
}

/// Cuts a sorted test list into shrinking batches. Not thread-safe: [`QueueState`] wraps it
/// (in memory for [`LocalQueue`], in a database row for a server), and a simulation can
/// drive it directly. It serializes whole, so a server can keep it between requests.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Batcher {
    /// Ascending by (estimate, id descending): `pop()` gives the longest, ties by lowest id.
    pending: Vec<(String, f64)>,
    pending_secs: f64,
    shards: usize,
    split_factor: f64,
    min_batch_secs: f64,
    /// Measured per-batch overhead: (sum of seconds, batches).
    overhead: (f64, u32),
    /// Once less than N floors are left: how many equal shares of the rest are still to go.
    tail_shares: Option<usize>,
    next_id: u64,
}

fn queue_order(a: &(String, f64), b: &(String, f64)) -> std::cmp::Ordering {
    a.1.total_cmp(&b.1).then_with(|| b.0.cmp(&a.0))
}

impl Batcher {
    /// Default `k`: each batch is about 1/(2N) of the remaining work.
    pub const DEFAULT_SPLIT_FACTOR: f64 = 2.0;
    /// Default floor on a batch's predicted seconds, so the tail is not one `exec` per test.
    pub const DEFAULT_MIN_BATCH_SECS: f64 = 0.5;
    /// Once a batch's overhead is measured, a batch is worth at least this many times it
    /// (it then spends at most a fifth of its time on overhead), except at the very end.
    pub const OVERHEAD_MULTIPLE: f64 = 4.0;

    /// Queues the distinct `tests` for `shards` shards (0 is taken as 1).
    pub fn new(tests: &[String], timings: &Timings, shards: usize) -> Batcher {
        let (sorted, _) = sorted_estimates(tests, timings);
        let pending: Vec<(String, f64)> = sorted
            .into_iter()
            .rev()
            .map(|(id, s)| (id.to_string(), s))
            .collect();
        Batcher {
            pending_secs: pending.iter().map(|t| t.1).sum(),
            pending,
            shards: shards.max(1),
            split_factor: Batcher::DEFAULT_SPLIT_FACTOR,
            min_batch_secs: Batcher::DEFAULT_MIN_BATCH_SECS,
            overhead: (0.0, 0),
            tail_shares: None,
            next_id: 1,
        }
    }

    /// Sets `k` in `remaining / (shards × k)`: larger means smaller batches (values below 1
    /// are taken as 1).
    pub fn with_split_factor(mut self, k: f64) -> Batcher {
        self.split_factor = if k.is_finite() { k.max(1.0) } else { 1.0 };
        self
    }

    /// Sets the floor on a batch's predicted seconds (0 allows one-test batches).
    pub fn with_min_batch_secs(mut self, secs: f64) -> Batcher {
        self.min_batch_secs = if secs.is_finite() { secs.max(0.0) } else { 0.0 };
        self
    }

    /// Records one batch's overhead (its wall time minus its tests' reported time): the
    /// floor on batch size follows the mean of these.
    pub fn record_overhead(&mut self, secs: f64) {
        if secs.is_finite() {
            self.overhead.0 += secs.max(0.0);
            self.overhead.1 += 1;
        }
    }

    /// The smallest batch worth an `exec`: `min_batch_secs`, or several times the measured
    /// per-batch overhead when that is more.
    pub fn floor_secs(&self) -> f64 {
        let (sum, n) = self.overhead;
        let measured = if n == 0 { 0.0 } else { sum / n as f64 };
        self.min_batch_secs
            .max(Batcher::OVERHEAD_MULTIPLE * measured)
    }

    /// The next batch, or `None` when nothing is pending.
    pub fn take(&mut self) -> Option<Batch> {
        self.take_scaled(1.0)
    }

    /// The next batch for a shard of relative speed `scale` (see [`Speeds::scale`]): its
    /// share of work is scaled by it (within 0.25–2), so a slow shard's batches are small
    /// enough that it does not finish last.
    pub fn take_scaled(&mut self, scale: f64) -> Option<Batch> {
        self.take_estimated(scale).map(|(batch, _)| batch)
    }

    /// [`Batcher::take_scaled`], with each test's estimate (what [`Batcher::put_back_estimated`]
    /// takes back).
    pub fn take_estimated(&mut self, scale: f64) -> Option<(Batch, Vec<f64>)> {
        let scale = if scale.is_finite() {
            scale.clamp(0.25, 2.0)
        } else {
            1.0
        };
        // About 1/(N k) of what is left, at least the floor; but once less than N floors are
        // left, the rest in N equal shares, so the last batches end together rather than
        // some shards taking a whole floor while the others go idle.
        let shards = self.shards as f64;
        let floor = self.floor_secs();
        if self.tail_shares.is_none() && self.pending_secs < shards * floor {
            self.tail_shares = Some(self.shards);
        }
        let target = match &mut self.tail_shares {
            // The last share takes all that is left (given-back tests included).
            Some(left) if *left <= 1 => f64::INFINITY,
            Some(left) => {
                *left -= 1;
                scale * self.pending_secs / (*left + 1) as f64
            }
            None => (scale * self.pending_secs / (shards * self.split_factor)).max(floor),
        };
        let mut tests = Vec::new();
        let mut estimates = Vec::new();
        let mut sum = 0.0;
        while let Some((_, est)) = self.pending.last() {
            if !tests.is_empty() && sum + est > target * (1.0 + 1e-9) {
                break;
            }
            let (id, est) = self.pending.pop().expect("just peeked");
            sum += est;
            tests.push(id);
            estimates.push(est);
        }
        if tests.is_empty() {
            return None;
        }
        self.pending_secs = if self.pending.is_empty() {
            0.0
        } else {
            (self.pending_secs - sum).max(0.0)
        };
        let id = self.next_id;
        self.next_id += 1;
        let batch = Batch {
            id,
            tests,
            predicted_secs: sum,
        };
        Some((batch, estimates))
    }

    /// Puts a batch's tests back, in their place by length (they will be handed out again
    /// under a new batch id).
    pub fn put_back(&mut self, batch: Batch, timings: &Timings) {
        let tests = batch.tests.into_iter().map(|id| {
            let est = timings.estimate(&id);
            (id, est)
        });
        self.put_back_estimated(tests);
    }

    /// Puts tests back with the estimates they were handed out with.
    pub fn put_back_estimated(&mut self, tests: impl IntoIterator<Item = (String, f64)>) {
        for entry in tests {
            self.pending_secs += entry.1;
            let at = self
                .pending
                .binary_search_by(|p| queue_order(p, &entry))
                .unwrap_or_else(|i| i);
            self.pending.insert(at, entry);
        }
    }

    /// Tests not yet handed out.
    pub fn pending_tests(&self) -> usize {
        self.pending.len()
    }

    /// Predicted seconds not yet handed out.
    pub fn pending_secs(&self) -> f64 {
        self.pending_secs
    }
}

/// How fast each shard works through its predicted seconds, from the batches it completed,
/// so a queue can size batches to the shard (a slow or overloaded machine gets smaller ones).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Speeds {
    /// shard -> (predicted seconds done, seconds it took).
    done: HashMap<u32, (f64, f64)>,
}

impl Speeds {
    /// Records that `shard` did `predicted_secs` of predicted work in `elapsed_secs`.
    pub fn record(&mut self, shard: u32, predicted_secs: f64, elapsed_secs: f64) {
        if predicted_secs.is_finite() && elapsed_secs.is_finite() && elapsed_secs > 0.0 {
            let e = self.done.entry(shard).or_default();
            e.0 += predicted_secs.max(0.0);
            e.1 += elapsed_secs;
        }
    }

    /// `shard`'s speed relative to the mean of the shards measured so far; 1 while it (or
    /// every other shard) has no completed batch.
    pub fn scale(&self, shard: u32) -> f64 {
        let rate = |(p, e): &(f64, f64)| p / e;
        let Some(mine) = self.done.get(&shard).map(rate) else {
            return 1.0;
        };
        let rates: Vec<f64> = self.done.values().map(rate).filter(|r| *r > 0.0).collect();
        if rates.len() < 2 || mine <= 0.0 {
            return 1.0;
        }
        mine / (rates.iter().sum::<f64>() / rates.len() as f64)
    }
}

/// An in-memory [`TestQueue`] for shards of one machine.
#[derive(Debug)]
pub struct LocalQueue {
    state: Mutex<QueueState>,
    changed: Notify,
}

impl LocalQueue {
    /// A queue of the distinct `tests` for `shards` shards with the default batch sizing.
    pub fn new(tests: &[String], timings: &Timings, shards: usize) -> LocalQueue {
        LocalQueue::with_batcher(Batcher::new(tests, timings, shards), timings)
    }

    /// A queue over a configured [`Batcher`] (given-back tests keep the estimates they were
    /// handed out with, which come from the batcher's timings).
    pub fn with_batcher(batcher: Batcher, _timings: &Timings) -> LocalQueue {
        LocalQueue {
            state: Mutex::new(QueueState::new(batcher)),
            changed: Notify::new(),
        }
    }

    /// (tests not yet handed out, batches handed out and not complete).
    pub fn status(&self) -> (usize, usize) {
        self.lock().status()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        // A panic while holding the lock leaves plain data behind: keep going.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait::async_trait]
impl TestQueue for LocalQueue {
    async fn next_batch(&self, shard: u32, done: Option<Done>) -> Option<Batch> {
        if let Some(done) = done {
            self.lock().complete(shard, done);
            self.changed.notify_waiters();
        }
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            // Registered before looking, so a change between the look and the wait wakes us.
            notified.as_mut().enable();
            match self.lock().next(shard) {
                Next::Batch(batch) => return Some(batch),
                Next::Drained => return None,
                Next::Wait => {}
            }
            notified.await;
        }
    }

    async fn give_back(&self, shard: u32) {
        self.lock().give_back(shard);
        self.changed.notify_waiters();
    }
}
