//! A TCP proxy between an agent and the server, for tests that stop the traffic at a chosen
//! moment (to kill or restart the server there). Each connection's bytes pass through a
//! [`Watch`], which may hold them (telling the test through a [`Gate`]) or cut the connection.
//! A connection made while the server is down is closed at once: the agent sees no answer.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::fleet::Fleet;

/// What becomes of bytes read from one side.
pub enum Verdict {
    Forward,
    /// Close both sides without forwarding them.
    Cut,
    /// Forward them, then close both sides.
    ForwardThenCut,
}

/// Decides on each read of a connection, in either direction.
pub trait Watch: Send + Sync + 'static {
    /// What the two directions of one connection share.
    type Conn: Default + Send + Sync + 'static;
    /// Bytes from the agent, before they reach the server.
    fn to_server(&self, conn: &Self::Conn, bytes: &[u8]) -> Verdict;
    /// Bytes from the server, before they reach the agent.
    fn to_client(&self, conn: &Self::Conn, bytes: &[u8]) -> Verdict;
}

/// Starts a proxy in front of `upstream` (`http://host:port`); returns its URL.
pub fn start<W: Watch>(upstream: &str, watch: Arc<W>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let upstream = upstream.trim_start_matches("http://").to_string();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            let Ok(server) = TcpStream::connect(&upstream) else {
                continue; // the server is down: the agent retries
            };
            let conn = Arc::new(W::Conn::default());
            let (c, s) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let (up_watch, up_conn) = (watch.clone(), conn.clone());
            std::thread::spawn(move || pump(client, server, |b| up_watch.to_server(&up_conn, b)));
            let down_watch = watch.clone();
            std::thread::spawn(move || pump(s, c, |b| down_watch.to_client(&conn, b)));
        }
    });
    url
}

/// Copies `from` to `to` through `watch` until either side closes or the watch cuts.
fn pump(mut from: TcpStream, mut to: TcpStream, watch: impl Fn(&[u8]) -> Verdict) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => {
                let _ = to.shutdown(Shutdown::Write);
                return;
            }
            Ok(n) => n,
        };
        let verdict = watch(&buf[..n]);
        if matches!(verdict, Verdict::Cut) || to.write_all(&buf[..n]).is_err() {
            let _ = from.shutdown(Shutdown::Both);
            let _ = to.shutdown(Shutdown::Both);
            return;
        }
        if matches!(verdict, Verdict::ForwardThenCut) {
            let _ = from.shutdown(Shutdown::Both);
            let _ = to.shutdown(Shutdown::Both);
            return;
        }
    }
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Where a proxy's watch stops: it tells the test what it stopped at and waits for the
/// go-ahead (the server restarted, say).
pub struct Gate {
    hits: Mutex<Sender<(&'static str, Sender<()>)>>,
}

/// The test's side of a [`Gate`].
pub struct Stops(Receiver<(&'static str, Sender<()>)>);

impl Gate {
    pub fn new() -> (Gate, Stops) {
        let (tx, rx) = channel();
        (
            Gate {
                hits: Mutex::new(tx),
            },
            Stops(rx),
        )
    }

    /// Tells the test, then waits until it says go (or is gone).
    pub fn stop(&self, what: &'static str) {
        let (tx, rx) = channel();
        self.hits.lock().unwrap().send((what, tx)).unwrap();
        let _ = rx.recv();
    }
}

impl Stops {
    /// Waits (up to 180 s) until the proxy stopped; returns what at and the go-ahead.
    pub fn wait(&self, fleet: &Fleet) -> (&'static str, Sender<()>) {
        self.0
            .recv_timeout(Duration::from_secs(180))
            .unwrap_or_else(|_| panic!("the proxy never stopped\n{}", fleet.diagnostics()))
    }
}
