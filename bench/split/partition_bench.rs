//! The split benchmark of issue 3 (a simulation; the lead runs the real-container version).
//!
//!     cargo run --release -p railyard-split --example partition_bench [-- OPTIONS]
//!
//! (a) Partition 100,000 tests with timings: wall time (best of 5) and the peak memory the
//!     call adds (Linux: VmHWM reset through /proc/self/clear_refs before each call).
//! (b) 1,000 tests with log-normal durations (sigma 1), scaled so one shard takes 120 s, at
//!     1, 2, 4 and 8 shards: makespan of nextest's count split, the static plan by timings,
//!     and queue mode (shards pull batches as they free up), against the ideal
//!     max(total / N, longest). Then the same with shard 1 at half speed, against the ideal
//!     for the remaining capacity max(total / (N - 0.5), longest). Every `exec` (one per shard
//!     for static plans, one per batch in queue mode) costs `--overhead` seconds.
//!
//! Options: --overhead SECS (0.1), --noise SIGMA (0.2: how far the recorded timings are off
//! the real run, log-normal), --split-factor K (2), --min-batch SECS (0.5), --seed N (1),
//! --speed-aware 0|1 (1: batches sized to each shard's measured speed, as LocalQueue does).

use std::time::Instant;

use railyard_split::{Batcher, Plan, Speeds, Timings, count_partition, partition};

struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        // xorshift64*: deterministic, no dependency.
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        ((x >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.next_f64(), self.next_f64());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
    fn log_normal(&mut self, sigma: f64) -> f64 {
        (sigma * self.normal()).exp()
    }
}

struct Options {
    overhead: f64,
    noise: f64,
    split_factor: f64,
    min_batch: f64,
    seed: u64,
    speed_aware: bool,
}

fn options() -> Options {
    let mut o = Options {
        overhead: 0.1,
        noise: 0.2,
        split_factor: Batcher::DEFAULT_SPLIT_FACTOR,
        min_batch: Batcher::DEFAULT_MIN_BATCH_SECS,
        seed: 1,
        speed_aware: true,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let value = || {
            pair.get(1)
                .and_then(|v| v.parse::<f64>().ok())
                .expect("a number after each option")
        };
        match pair[0].as_str() {
            "--overhead" => o.overhead = value(),
            "--noise" => o.noise = value(),
            "--split-factor" => o.split_factor = value(),
            "--min-batch" => o.min_batch = value(),
            "--seed" => o.seed = value() as u64,
            "--speed-aware" => o.speed_aware = value() != 0.0,
            other => panic!("unknown option {other}"),
        }
    }
    o
}

/// Peak resident memory (VmHWM) of this process in KiB.
fn peak_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

fn big_inputs(seed: u64) -> (Vec<String>, Timings) {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let tests: Vec<String> = (0..100_000)
        .map(|i| format!("crate-{}::tests module_{}::test_{i}", i % 40, i % 997))
        .collect();
    // 90% known, 10% new (estimated at the median).
    let timings: Timings = tests
        .iter()
        .take(90_000)
        .map(|t| (t.clone(), 0.2 * rng.log_normal(1.0)))
        .collect();
    (tests, timings)
}

/// Run in a child process (`--child MODE SHARDS`): builds the inputs, then partitions (or
/// not, for the baseline), and prints its peak memory, so the allocator's reuse of memory
/// freed by earlier work in this process cannot hide what a partition needs.
fn child(mode: &str, shards: usize, seed: u64) {
    let (tests, timings) = big_inputs(seed);
    let kept = match mode {
        "lpt" => partition(&tests, &timings, shards).shards.len(),
        "count" => count_partition(&tests, &timings, shards).shards.len(),
        _ => 0,
    };
    println!("{} {kept}", peak_kib().unwrap_or(0));
}

fn child_peak(mode: &str, shards: usize, seed: u64) -> Option<u64> {
    let out = std::process::Command::new(std::env::current_exe().ok()?)
        .args([
            "--child",
            mode,
            &shards.to_string(),
            "--seed",
            &seed.to_string(),
        ])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn big_partition(o: &Options) {
    let (tests, timings) = big_inputs(o.seed);
    let base = child_peak("none", 1, o.seed);
    println!("(a) 100,000 tests (90,000 with timings), partition alone");
    println!(
        "{:>8}  {:>12}  {:>12}  {:>16}  {:>16}",
        "shards", "LPT (best/5)", "count split", "LPT peak added", "count peak added"
    );
    for shards in [8, 64, 512] {
        let mut best = f64::MAX;
        for _ in 0..5 {
            let start = Instant::now();
            let plan = partition(&tests, &timings, shards);
            best = best.min(start.elapsed().as_secs_f64());
            assert_eq!(
                plan.shards.iter().map(|s| s.tests.len()).sum::<usize>(),
                100_000
            );
        }
        let start = Instant::now();
        let count = count_partition(&tests, &timings, shards);
        let count_secs = start.elapsed().as_secs_f64();
        drop(count);
        let added = |mode| match (base, child_peak(mode, shards, o.seed)) {
            (Some(b), Some(p)) => format!("{:.1} MiB", p.saturating_sub(b) as f64 / 1024.0),
            _ => "n/a".into(),
        };
        println!(
            "{shards:>8}  {:>9.1} ms  {:>9.1} ms  {:>16}  {:>16}",
            best * 1e3,
            count_secs * 1e3,
            added("lpt"),
            added("count"),
        );
    }
    if let Some(b) = base {
        println!("(inputs alone: peak {:.1} MiB)", b as f64 / 1024.0);
    }
    let start = Instant::now();
    let mut b = Batcher::new(&tests, &timings, 8);
    let mut batches = 0;
    while b.take().is_some() {
        batches += 1;
    }
    println!(
        "queue: building and draining 100,000 tests over 8 shards: {:.1} ms, {batches} batches\n",
        start.elapsed().as_secs_f64() * 1e3
    );
}

struct Suite {
    tests: Vec<String>,
    /// What a run really takes, by test index.
    actual: Vec<f64>,
    /// What the store recorded (actual, or off by the noise).
    recorded: Timings,
    exact: Timings,
}

fn suite(o: &Options) -> Suite {
    let mut rng = Rng(o.seed.wrapping_mul(2).wrapping_add(1));
    let raw: Vec<f64> = (0..1000).map(|_| rng.log_normal(1.0)).collect();
    let scale = 120.0 / raw.iter().sum::<f64>();
    let actual: Vec<f64> = raw.iter().map(|r| r * scale).collect();
    let tests: Vec<String> = (0..1000).map(|i| format!("suite::test_{i:04}")).collect();
    let exact = tests.iter().cloned().zip(actual.iter().copied()).collect();
    let recorded = tests
        .iter()
        .cloned()
        .zip(actual.iter().map(|a| a * rng.log_normal(o.noise)))
        .collect();
    Suite {
        tests,
        actual,
        recorded,
        exact,
    }
}

fn index(id: &str) -> usize {
    id.rsplit('_')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("suite ids end in a number")
}

/// A static plan run for real: each shard one exec, at its speed.
fn run_plan(plan: &Plan, s: &Suite, speeds: &[f64], overhead: f64) -> f64 {
    plan.shards
        .iter()
        .zip(speeds)
        .map(|(shard, speed)| {
            if shard.tests.is_empty() {
                return 0.0;
            }
            overhead + shard.tests.iter().map(|t| s.actual[index(t)]).sum::<f64>() / speed
        })
        .fold(0.0, f64::max)
}

/// Queue mode: the shard that frees up first takes the next batch.
fn run_queue(s: &Suite, speeds: &[f64], o: &Options) -> (f64, usize) {
    let mut b = Batcher::new(&s.tests, &s.recorded, speeds.len())
        .with_split_factor(o.split_factor)
        .with_min_batch_secs(o.min_batch);
    let mut free_at = vec![0.0f64; speeds.len()];
    let mut done = vec![false; speeds.len()];
    let mut batches = 0;
    let mut measured = Speeds::default();
    while let Some(i) = (0..speeds.len())
        .filter(|&i| !done[i])
        .min_by(|&a, &b| free_at[a].total_cmp(&free_at[b]).then(a.cmp(&b)))
    {
        let scale = if o.speed_aware {
            measured.scale(i as u32)
        } else {
            1.0
        };
        match b.take_scaled(scale) {
            Some(batch) => {
                batches += 1;
                let work: f64 = batch.tests.iter().map(|t| s.actual[index(t)]).sum();
                let took = o.overhead + work / speeds[i];
                measured.record(i as u32, batch.predicted_secs, took);
                // As LocalQueue learns it from each shard's report: the floor follows it.
                b.record_overhead(o.overhead);
                free_at[i] += took;
            }
            None => done[i] = true,
        }
    }
    (free_at.into_iter().fold(0.0, f64::max), batches)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        let seed = args.get(5).and_then(|s| s.parse().ok()).unwrap_or(1);
        child(&args[2], args[3].parse().expect("shards"), seed);
        return;
    }
    let o = options();
    big_partition(&o);

    let s = suite(&o);
    let total: f64 = s.actual.iter().sum();
    let longest = s.actual.iter().copied().fold(0.0, f64::max);
    println!(
        "(b) 1,000 tests, log-normal (sigma 1), total {total:.1} s, longest {longest:.2} s, median {:.3} s; \
         exec overhead {} s; recorded timings off by log-normal sigma {}; queue k = {}, min batch {} s",
        s.exact.median().unwrap_or(0.0),
        o.overhead,
        o.noise,
        o.split_factor,
        o.min_batch
    );
    println!("\nall shards at full speed (ideal = max(total / N, longest))");
    println!(
        "{:>6} {:>8} | {:>8} {:>6} | {:>8} {:>6} | {:>8} {:>6} | {:>8} {:>6} {:>7}",
        "shards", "ideal", "count", "x", "static", "x", "static~", "x", "queue", "x", "batches"
    );
    for n in [1usize, 2, 4, 8] {
        let speeds = vec![1.0; n];
        let ideal = (total / n as f64).max(longest);
        let count = run_plan(
            &count_partition(&s.tests, &s.recorded, n),
            &s,
            &speeds,
            o.overhead,
        );
        let exact = run_plan(&partition(&s.tests, &s.exact, n), &s, &speeds, o.overhead);
        let noisy = run_plan(
            &partition(&s.tests, &s.recorded, n),
            &s,
            &speeds,
            o.overhead,
        );
        let (queue, batches) = run_queue(&s, &speeds, &o);
        println!(
            "{n:>6} {ideal:>7.2}s | {count:>7.2}s {:>6.3} | {exact:>7.2}s {:>6.3} | {noisy:>7.2}s {:>6.3} | {queue:>7.2}s {:>6.3} {batches:>7}",
            count / ideal,
            exact / ideal,
            noisy / ideal,
            queue / ideal,
        );
    }
    println!("\nshard 1 at half speed (ideal = max(total / (N - 0.5), longest))");
    println!(
        "{:>6} {:>8} | {:>8} {:>6} | {:>8} {:>6} | {:>8} {:>6} {:>7}",
        "shards", "ideal", "count", "x", "static~", "x", "queue", "x", "batches"
    );
    for n in [1usize, 2, 4, 8] {
        let mut speeds = vec![1.0; n];
        speeds[0] = 0.5;
        let ideal = (total / (n as f64 - 0.5)).max(longest);
        let count = run_plan(
            &count_partition(&s.tests, &s.recorded, n),
            &s,
            &speeds,
            o.overhead,
        );
        let noisy = run_plan(
            &partition(&s.tests, &s.recorded, n),
            &s,
            &speeds,
            o.overhead,
        );
        let (queue, batches) = run_queue(&s, &speeds, &o);
        println!(
            "{n:>6} {ideal:>7.2}s | {count:>7.2}s {:>6.3} | {noisy:>7.2}s {:>6.3} | {queue:>7.2}s {:>6.3} {batches:>7}",
            count / ideal,
            noisy / ideal,
            queue / ideal,
        );
    }
    println!("\nPlan::explain() of the static plan at 4 shards (recorded timings, 10 new tests):");
    let mut listed = s.tests.clone();
    listed.extend((0..10).map(|i| format!("suite::new_test_{i}")));
    print!("{}", partition(&listed, &s.recorded, 4).explain());
    println!(
        "\nstatic = plan from exact timings; static~ = plan from the recorded (noisy) timings; x = makespan / ideal"
    );
    println!("goals: static <= 1.05 x ideal; queue with one shard at half speed <= 1.10 x ideal");
}
