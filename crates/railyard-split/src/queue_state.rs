//! A test queue's whole state as plain data: the [`Batcher`], the batches handed out and
//! not yet complete, and the shards' measured speeds. [`LocalQueue`](crate::LocalQueue)
//! keeps one behind a mutex; a server keeps one serialized in a database row and changes it
//! under that row's lock, so shards on different machines (and several servers on one
//! database) share one queue.

use std::collections::BTreeMap;

use crate::queue::{Batch, Batcher, Done, Speeds};

/// What a shard gets when it asks for work.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// Its next batch.
    Batch(Batch),
    /// Nothing now, but other shards hold batches that may come back: ask again.
    Wait,
    /// Every test was handed out and every batch completed.
    Drained,
}

/// A batch handed out and not yet complete.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct InFlight {
    shard: u32,
    batch: Batch,
    /// Each test's estimate when handed out, so a given-back batch goes back in its place.
    estimates: Vec<f64>,
}

/// The state of one job's test queue (see the module's doc).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct QueueState {
    batcher: Batcher,
    in_flight: BTreeMap<u64, InFlight>,
    speeds: Speeds,
}

impl QueueState {
    /// A queue over `batcher`, nothing handed out.
    pub fn new(batcher: Batcher) -> QueueState {
        QueueState {
            batcher,
            in_flight: BTreeMap::new(),
            speeds: Speeds::default(),
        }
    }

    /// (tests not yet handed out, batches handed out and not complete).
    pub fn status(&self) -> (usize, usize) {
        (self.batcher.pending_tests(), self.in_flight.len())
    }

    /// The shards holding unfinished batches, ascending, each once.
    pub fn holders(&self) -> Vec<u32> {
        let mut shards: Vec<u32> = self.in_flight.values().map(|f| f.shard).collect();
        shards.sort_unstable();
        shards.dedup();
        shards
    }

    /// Completes a batch of `shard` (another shard's id, or one already given back, is
    /// ignored) and learns the shard's speed and the batch overhead from it.
    pub fn complete(&mut self, shard: u32, done: Done) {
        if self
            .in_flight
            .get(&done.batch)
            .is_some_and(|f| f.shard == shard)
            && let Some(f) = self.in_flight.remove(&done.batch)
        {
            self.speeds
                .record(shard, f.batch.predicted_secs, done.elapsed_secs);
            if let Some(tests) = done.tests_secs {
                self.batcher.record_overhead(done.elapsed_secs - tests);
            }
        }
    }

    /// The next batch for `shard`, sized to its measured speed.
    pub fn next(&mut self, shard: u32) -> Next {
        let scale = self.speeds.scale(shard);
        if let Some((batch, estimates)) = self.batcher.take_estimated(scale) {
            self.in_flight.insert(
                batch.id,
                InFlight {
                    shard,
                    batch: batch.clone(),
                    estimates,
                },
            );
            return Next::Batch(batch);
        }
        if self.in_flight.is_empty() {
            Next::Drained
        } else {
            Next::Wait
        }
    }

    /// Puts every unfinished batch of `shard` back; returns how many there were.
    pub fn give_back(&mut self, shard: u32) -> usize {
        let mine: Vec<u64> = self
            .in_flight
            .iter()
            .filter(|(_, f)| f.shard == shard)
            .map(|(id, _)| *id)
            .collect();
        for id in &mine {
            if let Some(f) = self.in_flight.remove(id) {
                self.batcher
                    .put_back_estimated(f.batch.tests.into_iter().zip(f.estimates));
            }
        }
        mine.len()
    }
}
