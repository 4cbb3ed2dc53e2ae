//! Storing and reading one job's log through the store: a 10 MiB log sent as 32 KiB chunks,
//! as the server stores an agent's chunks now (one transaction a chunk in the database), and
//! as it did before (the log file opened and appended, then one UPDATE of the queue row),
//! on SQLite and, with `RAILYARD_TEST_POSTGRES_URL` set, on a fresh PostgreSQL database.
//! Prints the median of `--reps` rounds. See bench/logs/README.md.
//!
//!     cargo run --release -p railyard-store --example log_bench [-- --mib 10 --chunk-kib 32 --reps 5]

use railyard_types::{AgentId, JobId, Millis, ProjectName, RunId};
use std::time::{Duration, Instant};

use railyard_store::{ChunkOutcome, QueuedJob, Store, StoreOptions};
use sqlx::Executor;

struct Args {
    mib: usize,
    chunk_kib: usize,
    reps: usize,
}

fn args() -> Args {
    let mut a = Args {
        mib: 10,
        chunk_kib: 32,
        reps: 5,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value: usize = it
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{flag} takes a whole number"));
        match flag.as_str() {
            "--mib" => a.mib = value,
            "--chunk-kib" => a.chunk_kib = value,
            "--reps" => a.reps = value,
            _ => panic!("unknown flag {flag}: --mib, --chunk-kib, --reps"),
        }
    }
    a
}

/// The chunks of the log: whole lines of about 100 bytes, `kib` KiB a chunk.
fn chunks(mib: usize, kib: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut line = 0u64;
    let mut total = 0;
    while total < mib << 20 {
        let mut chunk = String::with_capacity(kib << 10);
        while chunk.len() + 100 <= kib << 10 {
            line += 1;
            chunk.push_str(&format!("line {line:08} {}\n", "x".repeat(85)));
        }
        total += chunk.len();
        out.push(chunk);
    }
    out
}

/// A leased job of a new run: (run id, job id, agent id).
async fn leased(store: &Store, project: &str) -> (RunId, JobId, AgentId) {
    let run = store
        .create_run(&railyard_store::NewRun {
            project: project.into(),
            pipeline_path: ".railyard.yml".into(),
            commit: None,
            owner: "bench".into(),
            jobs: vec!["job".into()],
            started_at: Millis::now(),
            context: None,
        })
        .await
        .unwrap();
    let job = [QueuedJob {
        name: "job".into(),
        ..Default::default()
    }];
    store
        .enqueue_run(
            &run.id,
            &ProjectName::from(project),
            "file:///r.git",
            "c",
            &job,
            1,
            Millis::now(),
        )
        .await
        .unwrap();
    let agent = store
        .register_agent("bench", 1, &[], Millis::now())
        .await
        .unwrap();
    let claim = store
        .claim(&agent, Millis::now(), 3_600_000)
        .await
        .unwrap()
        .unwrap();
    (run.id, claim.job_id, agent)
}

#[derive(Default)]
struct Times {
    store_db: Vec<Duration>,
    read_db: Vec<Duration>,
    follow_db: Vec<Duration>,
    store_file: Vec<Duration>,
    store_file_update: Vec<Duration>,
    read_file: Vec<Duration>,
}

async fn round(store: &Store, log: &[String], rep: usize, t: &mut Times) {
    let expected: usize = log.iter().map(String::len).sum();
    // Now: one transaction a chunk (lease, number, bytes, log_seq).
    let (run, job_id, agent) = leased(store, &format!("db{rep}")).await;
    let start = Instant::now();
    for (i, chunk) in log.iter().enumerate() {
        let stored = store
            .append_log_chunk(&job_id, &agent, 1, i as i64 + 1, chunk.as_bytes())
            .await
            .unwrap();
        assert_eq!(stored, ChunkOutcome::Stored);
    }
    t.store_db.push(start.elapsed());
    let start = Instant::now();
    let whole = store.job_log(&run, "job").await.unwrap();
    t.read_db.push(start.elapsed());
    assert_eq!(whole.len(), expected);
    // A follower from the start: pages of chunks by id.
    let start = Instant::now();
    let (mut after, mut bytes) = (0, 0);
    loop {
        let page = store.log_chunks_after(&run, "job", after).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.id;
        bytes += page.iter().map(|c| c.bytes.len()).sum::<usize>();
    }
    t.follow_db.push(start.elapsed());
    assert_eq!(bytes, expected);

    // Before: the file opened and appended per chunk (as the handler did), alone and with
    // the lease read and the one-row UPDATE that noted the chunk number (`renew_lease` is
    // the same statement shape as the removed `set_log_seq`).
    let (run, job_id, agent) = leased(store, &format!("file{rep}")).await;
    let start = Instant::now();
    for chunk in log {
        let mut file = store.log_writer(&run, "job").await.unwrap();
        file.append(chunk.as_bytes()).await.unwrap();
    }
    t.store_file.push(start.elapsed());
    let start = Instant::now();
    for chunk in log {
        store.leased_job(&job_id, &agent, 1).await.unwrap().unwrap();
        let mut file = store.log_writer(&run, "job2").await.unwrap();
        file.append(chunk.as_bytes()).await.unwrap();
        store
            .renew_lease(&job_id, &agent, 1, Millis::now(), 3_600_000)
            .await
            .unwrap()
            .unwrap();
    }
    t.store_file_update.push(start.elapsed());
    let start = Instant::now();
    let whole = store.read_log(&run, "job").await.unwrap();
    t.read_file.push(start.elapsed());
    assert_eq!(whole.len(), expected);
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn report(backend: &str, t: &mut Times, mib: f64) {
    let row = |what: &str, v: &mut Vec<Duration>| {
        let m = median(v);
        println!(
            "{backend:<10} {what:<44} {:>9.1} ms {:>8.1} MiB/s",
            m.as_secs_f64() * 1e3,
            mib / m.as_secs_f64()
        );
    };
    row("store, database (now)", &mut t.store_db);
    row("store, file only", &mut t.store_file);
    row(
        "store, file + lease read + UPDATE (before)",
        &mut t.store_file_update,
    );
    row("read whole, database (now)", &mut t.read_db);
    row("read as a follower, pages of 256 chunks", &mut t.follow_db);
    row("read whole, file (before)", &mut t.read_file);
}

async fn bench(backend: &str, store: &Store, log: &[String], reps: usize, mib: f64) {
    let mut t = Times::default();
    for rep in 0..reps {
        round(store, log, rep, &mut t).await;
    }
    report(backend, &mut t, mib);
}

#[tokio::main]
async fn main() {
    let a = args();
    let log = chunks(a.mib, a.chunk_kib);
    let bytes: usize = log.iter().map(String::len).sum();
    let mib = bytes as f64 / (1 << 20) as f64;
    println!(
        "a {mib:.1} MiB log in {} chunks of {} KiB; median of {} rounds",
        log.len(),
        a.chunk_kib,
        a.reps
    );
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_in(dir.path()).await.unwrap();
    bench("sqlite", &store, &log, a.reps, mib).await;
    store.close().await;

    let Ok(admin) = std::env::var("RAILYARD_TEST_POSTGRES_URL") else {
        println!("(RAILYARD_TEST_POSTGRES_URL unset: no PostgreSQL figures)");
        return;
    };
    sqlx::any::install_default_drivers();
    let name = format!("railyard_logbench_{}", std::process::id());
    let pool = sqlx::AnyPool::connect(&admin).await.unwrap();
    pool.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .unwrap();
    let url = format!("{}/{name}", &admin[..admin.rfind('/').unwrap()]);
    let options = StoreOptions {
        logs_dir: Some(dir.path().join("pg-logs")),
        ..Default::default()
    };
    let store = Store::open_with(&url, &options).await.unwrap();
    bench("postgres", &store, &log, a.reps, mib).await;
    store.close().await;
    pool.execute(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE {name} WITH (FORCE)"
    )))
    .await
    .unwrap();
}
