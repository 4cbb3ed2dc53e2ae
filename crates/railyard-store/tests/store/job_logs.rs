//! Server runs' logs in the database: a resent chunk is stored once, one after a gap (chunks
//! the database lost) is kept after a line naming them, a lapsed attempt's chunk is refused without losing
//! what was stored, the next attempt's note and chunks follow, the size limit's marker, a
//! follower's reads by id (also while four jobs are written at once), and the log file of a
//! run stored before the table. On SQLite, and on PostgreSQL when available.

use railyard_store::{ChunkOutcome, QueuedJob, Store, StoreError, StoreOptions};
use railyard_types::{AgentId, Millis, RunId};

use crate::common::{PgDb, data_dir, enqueue, new_run, now_ms};

const LEASE: i64 = 60_000;

async fn sqlite(dir: &std::path::Path, max_log_bytes: u64) -> Store {
    let options = StoreOptions {
        logs_dir: Some(dir.join("logs")),
        max_log_bytes,
        ..Default::default()
    };
    let url = dir.join("railyard.db").display().to_string();
    Store::open_with(&url, &options).await.unwrap()
}

async fn postgres(url: &str, dir: &std::path::Path, max_log_bytes: u64) -> Store {
    let options = StoreOptions {
        logs_dir: Some(dir.join("logs")),
        max_log_bytes,
        ..Default::default()
    };
    Store::open_with(url, &options).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn job_logs_on_sqlite() {
    let dir = data_dir();
    job_logs(&sqlite(dir.path(), 1 << 20).await).await;
    limit(&sqlite(&dir.path().join("small"), 20).await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn followers_miss_nothing_on_sqlite() {
    let dir = data_dir();
    followers(&sqlite(dir.path(), 1 << 20).await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn followers_miss_nothing_on_postgres() {
    let Some(db) = PgDb::create("followers_miss_nothing_on_postgres").await else {
        return;
    };
    let dir = data_dir();
    let store = postgres(&db.url, dir.path(), 1 << 20).await;
    followers(&store).await;
    store.close().await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn job_logs_on_postgres() {
    let Some(db) = PgDb::create("job_logs_on_postgres").await else {
        return;
    };
    let dir = data_dir();
    let store = postgres(&db.url, dir.path(), 1 << 20).await;
    job_logs(&store).await;
    store.close().await;
    let small = postgres(&db.url, dir.path(), 20).await;
    limit(&small).await;
    small.close().await;
    db.drop_db().await;
}

/// A run of one job `job` in the queue; its id.
async fn queued(store: &Store, project: &str, job: &str) -> RunId {
    let run = store
        .create_run(&new_run(project, "railyard-server:test", &[job]))
        .await
        .unwrap();
    let jobs = [QueuedJob {
        name: job.into(),
        ..Default::default()
    }];
    enqueue(store, &run.id, project, &jobs, 3).await;
    run.id
}

async fn text(store: &Store, run: &RunId, job: &str) -> String {
    String::from_utf8(store.job_log(run, job).await.unwrap()).unwrap()
}

async fn job_logs(store: &Store) {
    let run = queued(store, "logs", "build").await;
    let one = store
        .register_agent("one", 1, &[], Millis::now())
        .await
        .unwrap();
    let two = store
        .register_agent("two", 1, &[], Millis::now())
        .await
        .unwrap();
    let t0 = now_ms();
    let first = store.claim(&one, Millis(t0), 1_000).await.unwrap().unwrap();
    let id = &first.job_id;

    // A chunk sent twice (its answer lost) is stored once and acknowledged both times.
    let append = |agent: &AgentId, attempt, seq, text: &'static str| {
        let agent = agent.clone();
        async move {
            store
                .append_log_chunk(id, &agent, attempt, seq, text.as_bytes())
                .await
        }
    };
    assert_eq!(
        append(&one, 1, 1, "a1\n").await.unwrap(),
        ChunkOutcome::Stored
    );
    assert_eq!(
        append(&one, 1, 1, "a1\n").await.unwrap(),
        ChunkOutcome::AlreadyStored { last: 1 }
    );
    assert_eq!(
        append(&one, 1, 2, "a2\n").await.unwrap(),
        ChunkOutcome::Stored
    );
    assert_eq!(
        append(&one, 1, 1, "a1\n").await.unwrap(),
        ChunkOutcome::AlreadyStored { last: 2 }
    );
    // Another agent, or another attempt, is not the lease holder.
    assert_eq!(
        append(&two, 1, 3, "x\n").await.unwrap(),
        ChunkOutcome::LeaseLost
    );
    assert_eq!(
        append(&one, 2, 1, "x\n").await.unwrap(),
        ChunkOutcome::LeaseLost
    );
    assert_eq!(text(store, &run, "build").await, "a1\na2\n");
    let (_, last) = store.leased_job(id, &one, 1).await.unwrap().unwrap();
    assert_eq!(last, 2);

    // A chunk after a gap (the database lost chunks it had acknowledged: the agent sends the
    // next only after an answer) is kept, after a line naming what is missing; so are later.
    for (seq, text) in [(5, "a5\n"), (6, "a6\n")] {
        assert_eq!(
            append(&one, 1, seq, text).await.unwrap(),
            ChunkOutcome::Stored
        );
    }
    let kept = "a1\na2\n[railyard: chunks 3 to 4 of this attempt's log are missing: the server \
                lost them]\na5\na6\n";
    assert_eq!(text(store, &run, "build").await, kept);
    let (_, last) = store.leased_job(id, &one, 1).await.unwrap().unwrap();
    assert_eq!(last, 6);

    // The lease lapses: the first agent's late chunk is refused and what it stored stays.
    assert_eq!(
        store.expire_leases(Millis(t0 + 2_000)).await.unwrap().len(),
        1
    );
    assert_eq!(
        append(&one, 1, 7, "late\n").await.unwrap(),
        ChunkOutcome::LeaseLost
    );
    assert_eq!(text(store, &run, "build").await, kept);

    // The next attempt: the server's note, then its own chunks from 1.
    let second = store
        .claim(&two, Millis(t0 + 2_100), LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((&second.job_id, second.attempt), (id, 2));
    let note = "[railyard: attempt 2 on another agent]\n";
    for _ in 0..2 {
        let noted = store.append_log_note(id, &two, 2, note).await.unwrap();
        assert_eq!(noted, ChunkOutcome::Stored);
    }
    assert_eq!(
        store.append_log_note(id, &one, 2, note).await.unwrap(),
        ChunkOutcome::LeaseLost
    );
    assert_eq!(
        append(&two, 2, 1, "b1\n").await.unwrap(),
        ChunkOutcome::Stored
    );
    assert_eq!(
        append(&two, 2, 2, "b2 no newline").await.unwrap(),
        ChunkOutcome::Stored
    );
    let whole = format!("{kept}{note}b1\nb2 no newline");
    assert_eq!(text(store, &run, "build").await, whole);

    // A follower reads by id: from the start, then only what came after.
    let chunks = store.log_chunks_after(&run, "build", 0).await.unwrap();
    let joined: Vec<u8> = chunks.iter().flat_map(|c| c.bytes.clone()).collect();
    assert_eq!(String::from_utf8(joined).unwrap(), whole);
    assert!(chunks.windows(2).all(|w| w[0].id < w[1].id), "{chunks:?}");
    let after = chunks[2].id;
    let rest = store.log_chunks_after(&run, "build", after).await.unwrap();
    assert_eq!(rest, chunks[3..].to_vec());
    let last = chunks.last().unwrap().id;
    assert!(
        store
            .log_chunks_after(&run, "build", last)
            .await
            .unwrap()
            .is_empty()
    );
    // Another job's log, and a job without any, are apart.
    assert!(matches!(
        store.job_log(&run, "test").await,
        Err(StoreError::NoLog { .. })
    ));

    log_file(store).await;
}

/// A local run's log file is not a job log of the database: no chunks, no log.
async fn log_file(store: &Store) {
    let run = store
        .create_run(&new_run("local", "railyard-server:test", &["build"]))
        .await
        .unwrap()
        .id;
    let mut file = store.log_writer(&run, "build").await.unwrap();
    file.append(b"from the file\n").await.unwrap();
    drop(file);
    assert!(matches!(
        store.job_log(&run, "build").await,
        Err(StoreError::NoLog { .. })
    ));
    assert!(
        store
            .log_chunks_after(&run, "build", 0)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Past the size limit (20 bytes here): what fits and one marker line, then chunks are
/// acknowledged and dropped; the count covers every attempt of the job.
async fn limit(store: &Store) {
    let run = queued(store, "limit", "big").await;
    let me = store
        .register_agent("me", 1, &[], Millis::now())
        .await
        .unwrap();
    let claim = store
        .claim(&me, Millis::now(), LEASE)
        .await
        .unwrap()
        .unwrap();
    let id = &claim.job_id;
    for (seq, text) in [(1, "0123456789\n"), (2, "abcdefghijk\n"), (3, "dropped\n")] {
        let stored = store.append_log_chunk(id, &me, 1, seq, text.as_bytes());
        assert_eq!(stored.await.unwrap(), ChunkOutcome::Stored, "chunk {seq}");
    }
    assert_eq!(
        text(store, &run, "big").await,
        "0123456789\nabcdefghi\n[railyard: log truncated at 20 bytes]\n"
    );
    let (_, last) = store.leased_job(id, &me, 1).await.unwrap().unwrap();
    assert_eq!(last, 3, "dropped chunks are acknowledged");
}

/// Four jobs' agents append at once (their chunk ids interleave), each chunk sent three times
/// at once, while a follower of each job reads "chunks after the last id I got" as /follow
/// does: once the writers are done, one more read must leave every follower with its whole
/// log, each chunk once and in order. A chunk committed after a follower read a later id of
/// its job would be missed for good.
async fn followers(store: &Store) {
    const JOBS: usize = 4;
    const CHUNKS: i64 = 60;
    let names: Vec<String> = (0..JOBS).map(|k| format!("j{k}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let run = store
        .create_run(&new_run("follow", "railyard-server:test", &refs))
        .await
        .unwrap();
    let jobs: Vec<QueuedJob> = names
        .iter()
        .map(|n| QueuedJob {
            name: n.clone(),
            ..Default::default()
        })
        .collect();
    enqueue(store, &run.id, "follow", &jobs, 1).await;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut writers = Vec::new();
    let mut readers = Vec::new();
    for _ in 0..JOBS {
        let agent = store
            .register_agent("w", 1, &[], Millis::now())
            .await
            .unwrap();
        let claim = store
            .claim(&agent, Millis::now(), LEASE)
            .await
            .unwrap()
            .unwrap();
        let (store, done) = (store.clone(), done.clone());
        let job = claim.job.clone();
        writers.push(tokio::spawn(async move {
            for seq in 1..=CHUNKS {
                // Each chunk three times at once, as a resend racing the request it repeats
                // (through another server, say): one stores it, the others acknowledge it.
                let text = format!("{job} {seq}\n");
                let send =
                    || store.append_log_chunk(&claim.job_id, &agent, 1, seq, text.as_bytes());
                let (a, b, c) = tokio::join!(send(), send(), send());
                let mut outcomes = [a.unwrap(), b.unwrap(), c.unwrap()];
                outcomes.sort_by_key(|o| *o != ChunkOutcome::Stored);
                let again = ChunkOutcome::AlreadyStored { last: seq };
                assert_eq!(
                    outcomes,
                    [ChunkOutcome::Stored, again, again],
                    "chunk {seq}"
                );
            }
            done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }));
    }
    for job in names.clone() {
        let (store, done, run) = (store.clone(), done.clone(), run.id.clone());
        readers.push(tokio::spawn(async move {
            let (mut after, mut text) = (0, String::new());
            loop {
                let finished = done.load(std::sync::atomic::Ordering::SeqCst) == JOBS;
                let page = store.log_chunks_after(&run, &job, after).await.unwrap();
                for chunk in &page {
                    assert!(chunk.id > after);
                    after = chunk.id;
                    text.push_str(std::str::from_utf8(&chunk.bytes).unwrap());
                }
                if finished && page.is_empty() {
                    return (job, text);
                }
                tokio::task::yield_now().await;
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    for r in readers {
        let (job, text) = r.await.unwrap();
        let expected: String = (1..=CHUNKS).map(|seq| format!("{job} {seq}\n")).collect();
        assert_eq!(text, expected, "what the follower of {job} got");
    }
}
