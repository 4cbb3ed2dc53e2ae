//! A batch's JUnit reports come back on the same `exec` as its tests: after the test command
//! the batch prints a marker and then the reports, and [`StdoutTail`] splits the stream at
//! that marker, so the log gets the tests' output and the reports never reach it. One
//! `exec` per batch instead of two (the second one cost 0.1–0.2 s with 8 shards on 2 cores).

use bytes::Bytes;
use std::hash::{BuildHasher, Hasher};

/// The most of a batch's JUnit reports kept (a job's output is not trusted: past this, the
/// rest is dropped rather than held in the runner's memory).
pub const MAX_REPORTS_BYTES: usize = 256 << 20;

/// Splits a stdout stream at a marker no test prints (random per batch).
pub struct StdoutTail {
    marker: Vec<u8>,
    /// Bytes that may be the start of the marker, held back until the next chunk says.
    held: Vec<u8>,
    /// Everything after the marker, once it was seen (at most [`MAX_REPORTS_BYTES`]).
    tail: Option<Vec<u8>>,
    /// Whether bytes past the cap were dropped.
    cut: bool,
}

impl Default for StdoutTail {
    fn default() -> StdoutTail {
        StdoutTail::new()
    }
}

impl StdoutTail {
    /// A fresh random marker.
    pub fn new() -> StdoutTail {
        let nonce = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        StdoutTail {
            marker: format!("\0railyard-junit-{nonce:016x}\0").into_bytes(),
            held: Vec::new(),
            tail: None,
            cut: false,
        }
    }

    /// The marker as `printf` writes it in a shell command (`\0` escapes, no `%`).
    pub fn printf_marker(&self) -> String {
        String::from_utf8_lossy(&self.marker).replace('\0', "\\0")
    }

    /// Takes a chunk of stdout; returns the part that belongs in the log.
    pub fn feed(&mut self, chunk: Bytes) -> Bytes {
        if let Some(tail) = &mut self.tail {
            let room = MAX_REPORTS_BYTES.saturating_sub(tail.len());
            self.cut |= chunk.len() > room;
            tail.extend_from_slice(&chunk[..chunk.len().min(room)]);
            return Bytes::new();
        }
        let mut buf = std::mem::take(&mut self.held);
        buf.extend_from_slice(&chunk);
        let m = &self.marker;
        if let Some(at) = buf.windows(m.len()).position(|w| w == m.as_slice()) {
            let after = &buf[at + m.len()..];
            self.cut = after.len() > MAX_REPORTS_BYTES;
            self.tail = Some(after[..after.len().min(MAX_REPORTS_BYTES)].to_vec());
            buf.truncate(at);
            return Bytes::from(buf);
        }
        // Hold back the longest end of `buf` that could begin the marker.
        let keep = (1..m.len().min(buf.len() + 1))
            .rev()
            .find(|&n| buf.ends_with(&m[..n]))
            .unwrap_or(0);
        self.held = buf.split_off(buf.len() - keep);
        Bytes::from(buf)
    }

    /// What followed the marker (`None`: the command never printed it: it was killed, or
    /// the marker was held back at the very end, bytes that start with a NUL no log needs).
    pub fn into_tail(self) -> Option<Vec<u8>> {
        self.tail
    }

    /// Whether the reports went past [`MAX_REPORTS_BYTES`] and their end was dropped.
    pub fn was_cut(&self) -> bool {
        self.cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_splits_at_the_marker_wherever_chunks_break() {
        let probe = StdoutTail::new();
        let marker = probe.marker.clone();
        let mut stream = b"line one\nline two".to_vec();
        stream.extend_from_slice(&marker);
        stream.extend_from_slice(b"\0report.xml\0<testsuites/>");
        // Every way of cutting the stream in two, and byte by byte.
        for cut in 0..=stream.len() {
            let mut t = StdoutTail {
                marker: marker.clone(),
                held: Vec::new(),
                tail: None,
                cut: false,
            };
            let mut log = t.feed(Bytes::copy_from_slice(&stream[..cut])).to_vec();
            log.extend_from_slice(&t.feed(Bytes::copy_from_slice(&stream[cut..])));
            assert_eq!(log, b"line one\nline two", "cut at {cut}");
            assert_eq!(t.into_tail().unwrap(), b"\0report.xml\0<testsuites/>");
        }
        let mut t = StdoutTail::new();
        let mut stream = b"out\n".to_vec();
        stream.extend_from_slice(&t.marker.clone());
        let log: Vec<u8> = stream
            .iter()
            .flat_map(|b| t.feed(Bytes::copy_from_slice(&[*b])).to_vec())
            .collect();
        assert_eq!(log, b"out\n");
        assert_eq!(t.into_tail().unwrap(), b"");
    }

    #[test]
    fn output_without_the_marker_is_all_logged_and_a_nul_is_not_a_marker() {
        let mut t = StdoutTail::new();
        let log = t.feed(Bytes::from_static(b"a\0b\0railyard-junit-0\0c\n"));
        assert_eq!(&log[..], b"a\0b\0railyard-junit-0\0c\n");
        assert!(t.into_tail().is_none());
    }

    #[test]
    fn the_printf_form_prints_the_marker() {
        let t = StdoutTail::new();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("printf '{}'", t.printf_marker()))
            .output()
            .expect("sh runs");
        assert_eq!(out.stdout, t.marker);
    }

    #[test]
    fn reports_past_the_cap_are_cut_not_held() {
        let mut tail = StdoutTail::new();
        let marker = tail.marker.clone();
        tail.feed(Bytes::from(marker));
        let chunk = Bytes::from(vec![b'x'; 1 << 20]);
        for _ in 0..(MAX_REPORTS_BYTES >> 20) + 3 {
            tail.feed(chunk.clone());
        }
        assert!(tail.was_cut());
        assert_eq!(tail.into_tail().unwrap().len(), MAX_REPORTS_BYTES);
    }
}
