//! A log read holds a bounded part of the server's memory: ten concurrent downloads of a
//! 1 GiB log keep the real server process under 100 MiB resident (its peak, `VmHWM`, read
//! from /proc while they run). The log is written into the server's SQLite file before the
//! server starts, through the store as agents' chunks would be (1,024 chunks of 1 MiB).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use railyard_store::{QueuedJob, Store};
use railyard_types::{JobId, Millis, ProjectName};

use crate::fleet::*;

const CHUNKS: i64 = 1024;
const CHUNK: usize = 1 << 20;
const READERS: usize = 10;
const BOUND_KIB: u64 = 100 * 1024;

/// Writes a 1 GiB log of job `big` into the store under `data`; returns the run's id.
fn write_big_log(data: &std::path::Path) -> String {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = Store::open_in(data).await.unwrap();
        let now = Millis::now();
        let run = store
            .create_run(&railyard_store::NewRun {
                project: "big".into(),
                pipeline_path: ".railyard.yml".into(),
                commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
                owner: "railyard-server:test".into(),
                jobs: vec!["big".into()],
                started_at: now,
                context: None,
            })
            .await
            .unwrap();
        let job = QueuedJob {
            name: "big".into(),
            ..Default::default()
        };
        let project = ProjectName::from("big");
        store
            .enqueue_run(&run.id, &project, "file:///r.git", "abc", &[job], 1, now)
            .await
            .unwrap();
        let agent = store.register_agent("writer", 1, &[], now).await.unwrap();
        let claim = store.claim(&agent, now, 3_600_000).await.unwrap().unwrap();
        let id = JobId::from(claim.job_id.as_str());
        let mut line = "log line of a very long job\n".repeat(CHUNK / 28 + 1);
        line.truncate(CHUNK);
        for seq in 1..=CHUNKS {
            store
                .append_log_chunk(&id, &agent, 1, seq, line.as_bytes())
                .await
                .unwrap();
        }
        store.close().await;
        run.id.to_string()
    })
}

/// `VmHWM` (peak) and `VmRSS` of a process, in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {status}"))
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// Downloads the log over HTTP/1.0 (the body runs to the connection's close), counting its
/// bytes without keeping them: (status line, body bytes).
fn download(addr: &str, run: &str) -> (String, u64) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    write!(
        stream,
        "GET /api/v1/runs/{run}/logs/big HTTP/1.0\r\nHost: {addr}\r\n\
         Authorization: Bearer {ADMIN}\r\n\r\n"
    )
    .unwrap();
    let mut buf = vec![0u8; 256 * 1024];
    let mut head = Vec::new();
    let mut body = 0u64;
    loop {
        let n = stream.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        if body == 0 && !head.ends_with(b"\r\n\r\n") {
            head.extend_from_slice(&buf[..n]);
            if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                body = (head.len() - end - 4) as u64;
                head.truncate(end + 4);
            }
        } else {
            body += n as u64;
        }
    }
    let status = String::from_utf8_lossy(&head)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    (status, body)
}

#[test]
fn ten_concurrent_reads_of_a_1_gib_log_keep_the_server_under_100_mib() {
    let dir = tempfile::tempdir().unwrap();
    let written = Instant::now();
    let run = write_big_log(&dir.path().join("data"));
    eprintln!("wrote the 1 GiB log in {:?}", written.elapsed());
    let (mut server, url) = spawn_server(dir.path(), "127.0.0.1:0", None);
    let pid = server.id();
    let addr = url.trim_start_matches("http://").to_owned();
    let (idle, _) = memory_kib(pid);

    let done = Arc::new(AtomicBool::new(false));
    let peak_rss = Arc::new(AtomicU64::new(0));
    let watcher = {
        let (done, peak_rss) = (done.clone(), peak_rss.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                let (_, rss) = memory_kib(pid);
                peak_rss.fetch_max(rss, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let started = Instant::now();
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            let (addr, run) = (addr.clone(), run.clone());
            std::thread::spawn(move || download(&addr, &run))
        })
        .collect();
    let results: Vec<(String, u64)> = readers.into_iter().map(|r| r.join().unwrap()).collect();
    let took = started.elapsed();
    let (hwm, rss) = memory_kib(pid);
    done.store(true, Ordering::SeqCst);
    watcher.join().unwrap();
    let _ = server.kill();
    let _ = server.wait();

    for (status, bytes) in &results {
        assert!(status.contains(" 200 "), "{status}");
        assert_eq!(*bytes, CHUNKS as u64 * CHUNK as u64, "a whole log read");
    }
    eprintln!(
        "{READERS} concurrent reads of a 1 GiB log in {took:?}: server peak VmHWM {} MiB \
         (sampled VmRSS peak {} MiB, {} MiB after, {} MiB before the reads)",
        hwm / 1024,
        peak_rss.load(Ordering::SeqCst) / 1024,
        rss / 1024,
        idle / 1024
    );
    assert!(
        hwm < BOUND_KIB,
        "the server's peak resident memory was {hwm} KiB, over the {BOUND_KIB} KiB bound"
    );
}
