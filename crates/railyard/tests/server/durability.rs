//! The server goes away while an agent streams a log and uploads an artifact: a loopback
//! proxy between them kills (-9) and restarts the server at two chosen moments, after it
//! stored a log chunk but before its answer reached the agent, and in the middle of an
//! artifact's body. Afterwards every line is in the log once, the artifact is whole, and
//! the job ran once (the starting server gave the held lease a whole lease), on SQLite and
//! on PostgreSQL.

use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::fleet::*;
use crate::proxy::{self, Gate, Verdict, Watch, contains};

const LINES: usize = 150;
const NUMBERS: usize = 200_000;

fn pipeline() -> String {
    format!(
        "env: {{ image: busybox }}\njobs:\n  chatty:\n    script:\n      - for i in $(seq 1 {LINES}); do echo line-$i; sleep 0.02; done\n      - mkdir -p out && seq 1 {NUMBERS} > out/numbers.txt\n    artifacts: [out/numbers.txt]\n  next:\n    needs: [chatty]\n    script: [echo next]\n"
    )
}

#[test]
fn a_server_restarted_mid_stream_and_mid_upload_loses_and_doubles_nothing() {
    server_away(Fleet::start(&pipeline()), None);
}

#[test]
fn a_server_restarted_mid_stream_and_mid_upload_on_postgres() {
    let Some(db) = PgDb::create() else {
        return;
    };
    server_away(Fleet::start_on(&pipeline(), Some(&db.url)), Some(&db.url));
}

fn server_away(mut fleet: Fleet, database: Option<&str>) {
    let (gate, stops) = Gate::new();
    let cuts = Cuts {
        nth_log: 4,
        logs: AtomicUsize::new(0),
        upload_cut: AtomicBool::new(false),
        gate,
    };
    let proxy = proxy::start(&fleet.url, Arc::new(cuts));
    let agent = bin()
        .args(["agent", "--server", &proxy, "--token", AGENT])
        .args(["--name", "streamer"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(fleet.dir.path().join("streamer.err")).unwrap())
        .spawn()
        .unwrap();
    fleet.agents.push(agent);
    let run = trigger(&fleet);
    // The proxy stops at each chosen moment until the server has been restarted.
    for expected in ["log chunk answer", "artifact body"] {
        let (what, resume) = stops.wait(&fleet);
        assert_eq!(what, expected);
        fleet.restart_server(database);
        resume.send(()).unwrap();
    }
    fleet.wait_success(&run, 240);
    let log = fleet.log(&run, "chatty");
    for i in 1..=LINES {
        let line = format!("line-{i}");
        assert_eq!(
            log.lines().filter(|l| *l == line).count(),
            1,
            "{line}\n{log}"
        );
    }
    assert!(!log.contains("attempt 2"), "the job ran again: {log}");
    let agent = std::fs::read_to_string(fleet.dir.path().join("streamer.err")).unwrap();
    assert!(agent.contains("sending log chunk"), "{agent}");
    assert!(agent.contains("uploading out/numbers.txt"), "{agent}");
    // The artifact is whole, and the cut upload left nothing that shows.
    let (status, listed) = fleet.get(&format!("/api/v1/runs/{run}/artifacts/chatty"));
    assert_eq!(status, 200, "{listed}");
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let expected: String = (1..=NUMBERS).map(|i| format!("{i}\n")).collect();
    assert_eq!(
        listed,
        serde_json::json!([{
            "path": "out/numbers.txt",
            "size": expected.len(),
            "sha256": hex::encode(<sha2::Sha256 as sha2::Digest>::digest(expected.as_bytes())),
        }])
    );
    let (status, body) = fleet.get(&format!(
        "/api/v1/runs/{run}/artifacts/chatty/out/numbers.txt"
    ));
    assert_eq!(status, 200);
    assert!(
        body == expected,
        "the artifact differs ({} bytes)",
        body.len()
    );
    assert_nothing_left(&run);
}

/// What the proxy in front of the server does: it forwards bytes both ways, and twice stops to
/// let the test restart the server: when the answer to the `nth_log` log chunk arrives (the
/// chunk is stored; the agent never sees the answer), and once 64 KiB of the first artifact
/// upload's body went through. Each time it tells the test, waits for the go-ahead, then cuts
/// the agent's connection.
struct Cuts {
    nth_log: usize,
    logs: AtomicUsize,
    upload_cut: AtomicBool,
    gate: Gate,
}

/// One connection: whether the answer now coming is the chunk's to swallow, and how much of
/// the cut upload went through.
#[derive(Default)]
struct Connection {
    swallow: AtomicBool,
    upload_sent: Mutex<Option<usize>>,
}

impl Watch for Cuts {
    type Conn = Connection;

    /// Counts log chunks (marking the nth one's answer to be swallowed) and cuts the first
    /// artifact upload after 64 KiB of its body.
    fn to_server(&self, conn: &Connection, bytes: &[u8]) -> Verdict {
        if contains(bytes, b"POST /api/v1/jobs/")
            && contains(bytes, b"/logs HTTP/1.1")
            && self.logs.fetch_add(1, Ordering::SeqCst) + 1 == self.nth_log
        {
            conn.swallow.store(true, Ordering::SeqCst);
        }
        let mut sent = conn.upload_sent.lock().unwrap();
        if contains(bytes, b"PUT /api/v1/jobs/") && !self.upload_cut.swap(true, Ordering::SeqCst) {
            *sent = Some(0);
        }
        if let Some(sent) = sent.as_mut() {
            *sent += bytes.len();
            if *sent > 64 * 1024 {
                self.gate.stop("artifact body");
                return Verdict::ForwardThenCut;
            }
        }
        Verdict::Forward
    }

    /// Passes answers on, except the swallowed one.
    fn to_client(&self, conn: &Connection, _bytes: &[u8]) -> Verdict {
        if conn.swallow.load(Ordering::SeqCst) {
            self.gate.stop("log chunk answer");
            return Verdict::Cut;
        }
        Verdict::Forward
    }
}
