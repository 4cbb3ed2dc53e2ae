//! Static plans: which tests each shard runs, decided before any shard starts.
//!
//! [`partition`] is longest-processing-time-first: tests sorted by estimated time (longest
//! first, ties by id), each onto the shard with the least predicted load so far (ties by the
//! lower shard index). It is deterministic for the same ids and timings, so every shard can
//! compute the same plan on its own, and within 4/3 of the optimum in the worst case; with
//! hundreds of tests it lands within a few percent of max(total / N, longest test).
//! [`count_partition`] is nextest's `count:` split (round-robin over the sorted ids), kept to
//! compare against.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::fmt::Write;

use crate::timings::Timings;

/// One shard's share.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ShardPlan {
    /// The test ids, longest first (round-robin order for a count split).
    pub tests: Vec<String>,
    /// The sum of their estimates.
    pub predicted_secs: f64,
    /// How many of them have a measured timing. With none, `predicted_secs` is only a
    /// default per test (or the median of other tests'), not a prediction worth showing.
    pub measured: usize,
}

/// A split of a test list over N shards (shard 1 is `shards[0]`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Plan {
    /// One entry per shard; a shard may be empty when there are fewer tests than shards.
    pub shards: Vec<ShardPlan>,
    /// The longest single estimate.
    pub longest_secs: f64,
    /// How many tests had no timing and were estimated (median or default).
    pub estimated: usize,
}

impl Plan {
    /// The predicted finish time of the slowest shard.
    pub fn makespan(&self) -> f64 {
        self.shards
            .iter()
            .map(|s| s.predicted_secs)
            .fold(0.0, f64::max)
    }

    /// The predicted time of all tests together.
    pub fn total_secs(&self) -> f64 {
        self.shards.iter().map(|s| s.predicted_secs).sum()
    }

    /// No split can beat max(total / N, longest test).
    pub fn ideal_secs(&self) -> f64 {
        let n = self.shards.len().max(1) as f64;
        (self.total_secs() / n).max(self.longest_secs)
    }

    /// The tests of shard `n`, counted from 1 as `RAILYARD_SHARD` is.
    pub fn shard(&self, n: usize) -> Option<&ShardPlan> {
        n.checked_sub(1).and_then(|i| self.shards.get(i))
    }

    /// A readable table: tests and predicted time per shard, then makespan and ideal.
    pub fn explain(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{:>5}  {:>7}  {:>11}", "shard", "tests", "predicted");
        for (i, s) in self.shards.iter().enumerate() {
            let predicted = if s.measured == 0 && !s.tests.is_empty() {
                "no timings".to_string()
            } else {
                crate::duration(s.predicted_secs)
            };
            let _ = writeln!(out, "{:>5}  {:>7}  {predicted:>11}", i + 1, s.tests.len());
        }
        let tests: usize = self.shards.iter().map(|s| s.tests.len()).sum();
        if self.estimated == tests && tests > 0 {
            let _ = writeln!(
                out,
                "{tests} tests over {} shards, split by count: no test has a timing yet (a run \
                 of the job measures them for the next split)",
                self.shards.len()
            );
            return out;
        }
        let ideal = self.ideal_secs();
        let _ = writeln!(
            out,
            "{tests} tests over {} shards; makespan {} against ideal {} (max(total {} / {}, longest {})): {:.3}x",
            self.shards.len(),
            crate::duration(self.makespan()),
            crate::duration(ideal),
            crate::duration(self.total_secs()),
            self.shards.len(),
            crate::duration(self.longest_secs),
            if ideal > 0.0 {
                self.makespan() / ideal
            } else {
                1.0
            },
        );
        if self.estimated > 0 {
            let _ = writeln!(
                out,
                "{} tests had no timing yet and were estimated at the median known time",
                self.estimated
            );
        }
        out
    }
}

/// A load that orders totally (`f64::total_cmp`), so the heap is deterministic.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Load(f64);
impl Eq for Load {}
impl PartialOrd for Load {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Load {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// The distinct ids with their estimates, longest first, ties by id, and how many had no
/// timing. One sort: a duplicate id has the same estimate, so its copies end up adjacent.
pub(crate) fn sorted_estimates<'a>(
    tests: &'a [String],
    timings: &Timings,
) -> (Vec<(&'a str, f64)>, usize) {
    let mut v: Vec<(&str, f64)> = tests
        .iter()
        .map(|id| (id.as_str(), timings.estimate(id)))
        .collect();
    v.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    v.dedup_by(|a, b| a.0 == b.0);
    let estimated = v.iter().filter(|(id, _)| timings.get(id).is_none()).count();
    (v, estimated)
}

/// Longest-processing-time-first over the timings. Duplicate ids are planned once;
/// `shards` of 0 is taken as 1.
pub fn partition(tests: &[String], timings: &Timings, shards: usize) -> Plan {
    let n = shards.max(1);
    let (sorted, estimated) = sorted_estimates(tests, timings);
    let mut plan = empty_plan(n, &sorted, estimated);
    let mut heap: BinaryHeap<Reverse<(Load, usize)>> =
        (0..n).map(|i| Reverse((Load(0.0), i))).collect();
    for (id, est) in sorted {
        let Reverse((Load(load), i)) = heap.pop().expect("one entry per shard");
        let shard = &mut plan.shards[i];
        shard.tests.push(id.to_string());
        shard.measured += usize::from(timings.get(id).is_some());
        shard.predicted_secs = load + est;
        heap.push(Reverse((Load(shard.predicted_secs), i)));
    }
    plan
}

/// nextest's `count:` split: the ids sorted, the k-th to shard k mod N, whatever their times.
pub fn count_partition(tests: &[String], timings: &Timings, shards: usize) -> Plan {
    let n = shards.max(1);
    let (mut sorted, estimated) = sorted_estimates(tests, timings);
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut plan = empty_plan(n, &sorted, estimated);
    for (k, (id, est)) in sorted.into_iter().enumerate() {
        let shard = &mut plan.shards[k % n];
        shard.tests.push(id.to_string());
        shard.measured += usize::from(timings.get(id).is_some());
        shard.predicted_secs += est;
    }
    plan
}

fn empty_plan(n: usize, sorted: &[(&str, f64)], estimated: usize) -> Plan {
    Plan {
        shards: (0..n)
            .map(|_| ShardPlan {
                tests: Vec::with_capacity(sorted.len() / n + 1),
                predicted_secs: 0.0,
                measured: 0,
            })
            .collect(),
        longest_secs: sorted.iter().map(|t| t.1).fold(0.0, f64::max),
        estimated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("t{i:04}")).collect()
    }

    #[test]
    fn every_test_once_and_balanced() {
        let tests = ids(500);
        let timings: Timings = tests
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), 0.1 + (i * 7919 % 997) as f64 / 100.0))
            .collect();
        for n in [1, 2, 3, 4, 8] {
            let plan = partition(&tests, &timings, n);
            let mut all: Vec<&String> = plan.shards.iter().flat_map(|s| &s.tests).collect();
            all.sort();
            assert_eq!(all, tests.iter().collect::<Vec<_>>(), "{n} shards");
            assert!(
                plan.makespan() <= 1.05 * plan.ideal_secs(),
                "{n}: {}",
                plan.explain()
            );
            let sum: f64 = plan.shards[0]
                .tests
                .iter()
                .map(|t| timings.estimate(t))
                .sum();
            assert!((sum - plan.shards[0].predicted_secs).abs() < 1e-9);
        }
    }

    #[test]
    fn deterministic_whatever_the_input_order() {
        let mut tests = ids(200);
        // Many equal times: ties must be broken by id, then shard index.
        let timings: Timings = tests.iter().map(|t| (t.clone(), 1.0)).collect();
        let a = partition(&tests, &timings, 3);
        tests.reverse();
        let b = partition(&tests, &timings, 3);
        assert_eq!(a, b);
        assert_eq!(a.shards[0].tests[0], "t0000");
        assert_eq!(a.shards[1].tests[0], "t0001");
    }

    #[test]
    fn longest_test_bounds_the_plan_and_unknowns_get_the_median() {
        let tests: Vec<String> = ["big", "a", "b", "c", "new"].map(String::from).to_vec();
        let timings: Timings = [("big", 10.0), ("a", 1.0), ("b", 2.0), ("c", 3.0)]
            .map(|(k, v)| (k.to_string(), v))
            .into_iter()
            .collect();
        let plan = partition(&tests, &timings, 2);
        assert_eq!(plan.shards[0].tests, vec!["big"]);
        assert_eq!(plan.shards[1].predicted_secs, 1.0 + 2.0 + 3.0 + 2.5);
        assert_eq!(plan.estimated, 1);
        assert_eq!(plan.ideal_secs(), 10.0);
        let text = plan.explain();
        assert!(
            text.contains("makespan 10.0s against ideal 10.0s"),
            "{text}"
        );
        assert!(text.contains("1 tests had no timing"), "{text}");
    }

    /// A first run has no timings: every test counts as the default, and a plan saying
    /// "predicted 3m04s" for 184 never-measured tests was a guess shown as a prediction.
    #[test]
    fn a_shard_without_measured_tests_predicts_nothing() {
        let plan = partition(&ids(6), &Timings::new(), 2);
        assert_eq!(plan.shards[0].measured, 0);
        let text = plan.explain();
        assert!(!text.contains("6.00s") && !text.contains("3.00s"), "{text}");
        assert_eq!(text.matches("no timings").count(), 2, "{text}");
        assert!(
            text.contains("6 tests over 2 shards, split by count: no test has a timing yet"),
            "{text}"
        );

        // One shard measured, one holding only a new test (estimated at the median).
        let tests: Vec<String> = ["old", "new"].map(String::from).to_vec();
        let timings: Timings = [("old".to_string(), 4.0)].into_iter().collect();
        let plan = partition(&tests, &timings, 2);
        // `new` is estimated at the median, 4.0, and comes first by id.
        assert_eq!(plan.shards[0].tests, ["new"]);
        assert_eq!((plan.shards[0].measured, plan.shards[1].measured), (0, 1));
        let text = plan.explain();
        assert!(text.contains("4.00s"), "{text}");
        assert_eq!(text.matches("no timings").count(), 1, "{text}");
    }

    #[test]
    fn more_shards_than_tests_and_zero_shards() {
        let tests = ids(2);
        let plan = partition(&tests, &Timings::new(), 4);
        assert_eq!(plan.shards.len(), 4);
        assert_eq!(plan.shards.iter().filter(|s| s.tests.is_empty()).count(), 2);
        assert_eq!(partition(&tests, &Timings::new(), 0).shards.len(), 1);
        assert_eq!(plan.shard(1).map(|s| s.tests.len()), Some(1));
        assert!(plan.shard(0).is_none());
    }

    #[test]
    fn count_split_is_round_robin_over_sorted_ids() {
        let tests: Vec<String> = ["d", "a", "c", "b", "e"].map(String::from).to_vec();
        let plan = count_partition(&tests, &Timings::new(), 2);
        assert_eq!(plan.shards[0].tests, vec!["a", "c", "e"]);
        assert_eq!(plan.shards[1].tests, vec!["b", "d"]);
        assert_eq!(plan.shards[0].predicted_secs, 3.0);
    }
}
