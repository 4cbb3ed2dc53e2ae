//! The server goes away while an agent streams a log and uploads an artifact: a loopback
//! proxy between them kills (-9) and restarts the server at two chosen moments, after it
//! stored a log chunk but before its answer reached the agent, and in the middle of an
//! artifact's body. Afterwards every line is in the log once, the artifact is whole, and
//! the job ran once (the starting server gave the held lease a whole lease), on SQLite and
//! on PostgreSQL.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::fleet::*;

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
    let proxy = Proxy::start(&fleet.url, 4);
    let agent = bin()
        .args(["agent", "--server", &proxy.url, "--token", AGENT])
        .args(["--name", "streamer"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(fleet.dir.path().join("streamer.err")).unwrap())
        .spawn()
        .unwrap();
    fleet.agents.push(agent);
    let run = trigger(&fleet);
    // The proxy stops at each chosen moment until the server has been restarted.
    for expected in ["log chunk answer", "artifact body"] {
        let (what, resume) = proxy
            .hits
            .recv_timeout(Duration::from_secs(180))
            .unwrap_or_else(|_| panic!("no {expected}\n{}", fleet.diagnostics()));
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
        serde_json::json!([{"path": "out/numbers.txt", "size": expected.len()}])
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

/// A TCP proxy in front of the server. It forwards bytes both ways, and twice stops to let
/// the test restart the server: when the answer to the `nth_log` log chunk arrives (the
/// chunk is stored; the agent never sees the answer), and once 64 KiB of the first artifact
/// upload's body went through. Each time it sends what it stopped at on `hits`, waits for
/// the go-ahead, then cuts the agent's connection.
struct Proxy {
    url: String,
    hits: Receiver<(&'static str, Sender<()>)>,
}

/// What the connections share: how many log chunks went through, whether each cut was made.
struct Cuts {
    nth_log: usize,
    logs: AtomicUsize,
    upload_cut: AtomicBool,
    hits: Mutex<Sender<(&'static str, Sender<()>)>>,
}

impl Cuts {
    /// Tells the test what the proxy stopped at and waits until the server was restarted.
    fn stop(&self, what: &'static str) {
        let (tx, rx) = channel();
        self.hits.lock().unwrap().send((what, tx)).unwrap();
        let _ = rx.recv();
    }
}

impl Proxy {
    fn start(upstream: &str, nth_log: usize) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let upstream = upstream.trim_start_matches("http://").to_string();
        let (tx, hits) = channel();
        let cuts = Arc::new(Cuts {
            nth_log,
            logs: AtomicUsize::new(0),
            upload_cut: AtomicBool::new(false),
            hits: Mutex::new(tx),
        });
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue; // the server is down: the agent retries
                };
                let swallow = Arc::new(AtomicBool::new(false));
                let (c, s) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let (up_cuts, up_swallow) = (cuts.clone(), swallow.clone());
                std::thread::spawn(move || to_server(client, server, &up_cuts, &up_swallow));
                let down_cuts = cuts.clone();
                std::thread::spawn(move || to_client(s, c, &down_cuts, &swallow));
            }
        });
        Proxy { url, hits }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Agent to server: counts log chunks (marking the nth one's answer to be swallowed) and
/// cuts the first artifact upload after 64 KiB of its body.
fn to_server(mut client: TcpStream, mut server: TcpStream, cuts: &Cuts, swallow: &AtomicBool) {
    let mut buf = vec![0u8; 16 * 1024];
    let mut upload_sent: Option<usize> = None;
    loop {
        let n = match client.read(&mut buf) {
            Ok(0) | Err(_) => {
                let _ = server.shutdown(Shutdown::Write);
                return;
            }
            Ok(n) => n,
        };
        let bytes = &buf[..n];
        if contains(bytes, b"POST /api/v1/jobs/")
            && contains(bytes, b"/logs HTTP/1.1")
            && cuts.logs.fetch_add(1, Ordering::SeqCst) + 1 == cuts.nth_log
        {
            swallow.store(true, Ordering::SeqCst);
        }
        if contains(bytes, b"PUT /api/v1/jobs/") && !cuts.upload_cut.swap(true, Ordering::SeqCst) {
            upload_sent = Some(0);
        }
        if server.write_all(bytes).is_err() {
            let _ = client.shutdown(Shutdown::Both);
            return;
        }
        if let Some(sent) = upload_sent.as_mut() {
            *sent += n;
            if *sent > 64 * 1024 {
                cuts.stop("artifact body");
                let _ = client.shutdown(Shutdown::Both);
                let _ = server.shutdown(Shutdown::Both);
                return;
            }
        }
    }
}

/// Server to agent: passes answers on, except the swallowed one.
fn to_client(mut server: TcpStream, mut client: TcpStream, cuts: &Cuts, swallow: &AtomicBool) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match server.read(&mut buf) {
            Ok(0) | Err(_) => {
                let _ = client.shutdown(Shutdown::Both);
                return;
            }
            Ok(n) => n,
        };
        if swallow.load(Ordering::SeqCst) {
            cuts.stop("log chunk answer");
            let _ = client.shutdown(Shutdown::Both);
            let _ = server.shutdown(Shutdown::Both);
            return;
        }
        if client.write_all(&buf[..n]).is_err() {
            let _ = server.shutdown(Shutdown::Both);
            return;
        }
    }
}
