//! A fake forge: an HTTP server on loopback that records every call (method, path, headers,
//! body) and answers 201, or fails on demand (an HTTP status or a dropped connection) until
//! told to stop. What the commit-status tests send their statuses to, for GitHub, GitLab and
//! Gitea alike (each one's paths and headers are the test's to check).
//!
//! Plain `std` threads, one a connection: the server under test is a separate process.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};

/// One call the forge received.
#[derive(Debug, Clone)]
pub struct ForgeCall {
    /// `POST`, ...
    pub method: String,
    /// The path as sent (still percent-encoded).
    pub path: String,
    /// Each header, its name lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body, as JSON (`null` when it was not).
    pub body: serde_json::Value,
    /// True when this call was failed on purpose.
    pub failed: bool,
}

impl ForgeCall {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A string field of the body (`""` when absent).
    pub fn field(&self, name: &str) -> &str {
        self.body[name].as_str().unwrap_or("")
    }
}

/// How a failed call fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Answer this status (500, 503, 401, ...).
    Status(u16),
    /// Close the connection without answering.
    Drop,
}

type Trigger = Box<dyn Fn(&ForgeCall) -> bool + Send>;

#[derive(Default)]
struct State {
    calls: Vec<ForgeCall>,
    /// Failing now, with this.
    failing: Option<Failure>,
    /// Start failing with this at the first call that matches.
    armed: Option<(Trigger, Failure)>,
}

/// The fake forge; it stops with the test process.
pub struct FakeForge {
    url: String,
    state: Arc<Mutex<State>>,
}

impl FakeForge {
    /// Starts one on a free loopback port.
    pub fn start() -> FakeForge {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = shared.clone();
                std::thread::spawn(move || serve(stream, &state));
            }
        });
        FakeForge { url, state }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Fails every call from now with `failure`; `None`: answers again.
    pub fn fail(&self, failure: Option<Failure>) {
        let mut s = self.lock();
        s.failing = failure;
        s.armed = None;
    }

    /// Starts failing with `failure` at the first call for which `when` holds (that call
    /// included), until [`FakeForge::fail`]`(None)`.
    pub fn fail_from(&self, when: impl Fn(&ForgeCall) -> bool + Send + 'static, failure: Failure) {
        self.lock().armed = Some((Box::new(when), failure));
    }

    /// Every call so far, in the order received.
    pub fn calls(&self) -> Vec<ForgeCall> {
        self.lock().calls.clone()
    }

    /// How many calls were failed on purpose.
    pub fn failed(&self) -> usize {
        self.lock().calls.iter().filter(|c| c.failed).count()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn serve(stream: TcpStream, state: &Mutex<State>) {
    let Some(mut call) = read_call(&stream) else {
        return;
    };
    let failure = {
        let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((when, failure)) = s.armed.take() {
            if when(&call) {
                s.failing = Some(failure);
            } else {
                s.armed = Some((when, failure));
            }
        }
        call.failed = s.failing.is_some();
        s.calls.push(call);
        s.failing
    };
    let mut stream = stream;
    let (code, reason) = match failure {
        Some(Failure::Drop) => return,
        Some(Failure::Status(code)) => (code, "Failing On Purpose"),
        None => (201, "Created"),
    };
    let body = if failure.is_some() {
        r#"{"message":"the fake forge fails on purpose"}"#
    } else {
        "{}"
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {code} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.flush();
}

fn read_call(stream: &TcpStream) -> Option<ForgeCall> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (name, value) = h.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(ForgeCall {
        method,
        path,
        headers,
        body: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
        failed: false,
    })
}
