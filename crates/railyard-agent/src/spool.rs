//! The log lines of one job on their way to the server, in a bounded amount of memory.
//!
//! Lines go to an in-memory buffer (the head) while it holds less than its cap. Past the cap
//! (the server is away or slower than the job) the newer lines go to a file in the job's
//! folder, written a block at a time (the tail collects a block), and keep going there until
//! the file has been sent: the head is always older than the file, the file older than the
//! tail, so lines leave in the order they came. Chunks are cut on line boundaries, numbered,
//! and one chunk at a time is in flight: it is resent as it is (same number, same text) until
//! the server acknowledges it, so the server's "already stored" answer is always right.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// How much of the log the head keeps in memory before lines go to the file.
pub(crate) const MEMORY_CAP: usize = 1024 * 1024;
/// The most text a chunk carries (a chunk holds whole lines; one longer line goes alone).
pub(crate) const CHUNK_BYTES: usize = 32 * 1024;
/// The tail is written to the file once it holds this much.
const WRITE_BYTES: usize = 64 * 1024;

/// A job's log lines not yet acknowledged by the server.
pub(crate) struct Spool {
    path: PathBuf,
    cap: usize,
    chunk: usize,
    write: usize,
    /// The oldest lines; `head[head_at..]` is still to be cut into chunks.
    head: String,
    head_at: usize,
    /// Lines after the head, in `path`: `read_at..written` is still to be sent.
    file: Option<File>,
    read_at: u64,
    written: u64,
    /// The newest lines while the file is in use, written to it by blocks.
    tail: String,
    /// The file could not be written: lines stay in memory (said once).
    file_failed: bool,
    /// The chunk sent and not yet acknowledged.
    in_flight: Option<String>,
    /// The number of the last chunk the server acknowledged.
    acked: i64,
    /// The lease is gone: nothing more is kept or sent.
    discarded: bool,
}

impl Spool {
    /// A spool whose file (made only if needed) is at `path`.
    pub(crate) fn new(path: PathBuf) -> Spool {
        Spool::with_sizes(path, MEMORY_CAP, CHUNK_BYTES, WRITE_BYTES)
    }

    fn with_sizes(path: PathBuf, cap: usize, chunk: usize, write: usize) -> Spool {
        Spool {
            path,
            cap,
            chunk,
            write,
            head: String::new(),
            head_at: 0,
            file: None,
            read_at: 0,
            written: 0,
            tail: String::new(),
            file_failed: false,
            in_flight: None,
            acked: 0,
            discarded: false,
        }
    }

    /// Where lines go once the memory cap is reached.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// True while newer lines go to the file (the head reached its cap and the file has not
    /// been sent yet).
    pub(crate) fn spooling(&self) -> bool {
        !self.tail.is_empty() || self.read_at < self.written
    }

    /// Adds one line (without its newline). Returns true when this line started spooling
    /// to the file.
    pub(crate) fn push(&mut self, line: &str) -> bool {
        if self.discarded {
            return false;
        }
        let len = line.len() + 1;
        let spooling = self.spooling();
        if !spooling && self.head.len() - self.head_at + len <= self.cap {
            if self.head_at > 0 && self.head.len() + len > self.cap {
                self.head.drain(..self.head_at);
                self.head_at = 0;
            }
            self.head.push_str(line);
            self.head.push('\n');
            return false;
        }
        self.tail.push_str(line);
        self.tail.push('\n');
        if self.tail.len() >= self.write {
            self.write_tail();
        }
        !spooling
    }

    fn write_tail(&mut self) {
        if self.file_failed {
            return;
        }
        let written = match &self.file {
            Some(file) => file.write_all_at(self.tail.as_bytes(), self.written),
            None => File::options()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&self.path)
                .and_then(|file| {
                    file.write_all_at(self.tail.as_bytes(), self.written)?;
                    self.file = Some(file);
                    Ok(())
                }),
        };
        match written {
            Ok(()) => {
                self.written += self.tail.len() as u64;
                self.tail.clear();
            }
            Err(e) => {
                self.file_failed = true;
                tracing::warn!(
                    "cannot keep the log in {}: {e}; it stays in memory until the server takes it",
                    self.path.display()
                );
            }
        }
    }

    /// Bytes not yet acknowledged, the chunk in flight included.
    pub(crate) fn pending(&self) -> u64 {
        (self.head.len() - self.head_at + self.tail.len()) as u64
            + (self.written - self.read_at)
            + self.in_flight.as_ref().map_or(0, |t| t.len() as u64)
    }

    /// Bytes of log text held in memory.
    #[cfg(test)]
    fn in_memory(&self) -> usize {
        self.head.len() + self.tail.len() + self.in_flight.as_ref().map_or(0, String::len)
    }

    /// The chunk to send: the one in flight (a resend), or the next one cut from the oldest
    /// lines. `None` when everything was acknowledged.
    pub(crate) fn next(&mut self) -> io::Result<Option<(i64, String)>> {
        if self.in_flight.is_none() && !self.discarded {
            self.in_flight = if self.head_at < self.head.len() {
                Some(self.cut_head())
            } else if self.read_at < self.written {
                Some(self.read_file()?)
            } else if !self.tail.is_empty() {
                // The file was sent: its tail becomes the head, and lines go to memory again.
                self.head = std::mem::take(&mut self.tail);
                self.head_at = 0;
                Some(self.cut_head())
            } else {
                None
            };
        }
        Ok(self.in_flight.clone().map(|text| (self.acked + 1, text)))
    }

    /// The chunk in flight reached the server.
    pub(crate) fn acked(&mut self) {
        if self.in_flight.take().is_some() {
            self.acked += 1;
        }
    }

    /// The server refused the chunk in flight: it is dropped, and the next chunk takes its
    /// number.
    pub(crate) fn refused(&mut self) {
        self.in_flight = None;
    }

    /// The lease is gone: drops every line, the file, and whatever comes later.
    pub(crate) fn discard(&mut self) {
        self.discarded = true;
        self.head = String::new();
        self.head_at = 0;
        self.tail = String::new();
        self.in_flight = None;
        self.remove_file();
    }

    /// Cuts the next chunk from the head: whole lines up to the chunk size, or one longer line.
    fn cut_head(&mut self) -> String {
        let live = &self.head[self.head_at..];
        let cut = line_cut(live.as_bytes(), self.chunk).unwrap_or(live.len());
        let text = live[..cut].to_string();
        self.head_at += cut;
        if self.head_at == self.head.len() {
            self.head.clear();
            self.head_at = 0;
        }
        text
    }

    /// Reads the next chunk from the file; empties the file once it has all been read.
    fn read_file(&mut self) -> io::Result<String> {
        let Some(file) = &self.file else {
            return Err(io::Error::other("the log spool file is not open"));
        };
        let left = (self.written - self.read_at) as usize;
        let mut want = self.chunk.min(left);
        let mut buf = Vec::new();
        let cut = loop {
            buf.resize(want, 0);
            file.read_exact_at(&mut buf, self.read_at)?;
            if want == left {
                break line_cut(&buf, self.chunk).unwrap_or(want);
            }
            // Whole lines up to the chunk size; a longer line is read whole.
            match line_cut(&buf, self.chunk) {
                Some(cut) => break cut,
                None => want = (want * 2).min(left),
            }
        };
        buf.truncate(cut);
        self.read_at += cut as u64;
        if self.read_at == self.written {
            file.set_len(0)?;
            self.read_at = 0;
            self.written = 0;
        }
        Ok(String::from_utf8(buf)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
    }

    fn remove_file(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.path);
        }
        self.read_at = 0;
        self.written = 0;
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        self.remove_file();
    }
}

/// Where a chunk of `text` (whole lines, each ending with `\n`) ends: after the last line
/// that fits in `max` bytes, or after the first line if even that one is longer. `None` when
/// `text` holds no whole line.
fn line_cut(text: &[u8], max: usize) -> Option<usize> {
    if text.len() <= max && text.ends_with(b"\n") {
        return Some(text.len());
    }
    text[..max.min(text.len())]
        .iter()
        .rposition(|b| *b == b'\n')
        .or_else(|| text.iter().position(|b| *b == b'\n'))
        .map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spool(dir: &tempfile::TempDir) -> Spool {
        Spool::with_sizes(dir.path().join("log.spool"), 100, 40, 30)
    }

    /// Sends every chunk left, acknowledging each; returns their text in order.
    fn drain(spool: &mut Spool, sent: &mut Vec<(i64, String)>) {
        while let Some(chunk) = spool.next().unwrap() {
            sent.push(chunk);
            spool.acked();
        }
    }

    fn joined(sent: &[(i64, String)]) -> String {
        for (i, (seq, _)) in sent.iter().enumerate() {
            assert_eq!(*seq, i as i64 + 1, "chunks numbered 1, 2, …: {sent:?}");
        }
        sent.iter().map(|(_, t)| t.as_str()).collect()
    }

    #[test]
    fn lines_leave_in_order_through_memory_the_file_and_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = spool(&dir);
        let mut expected = String::new();
        let mut sent = Vec::new();
        let mut went_to_disk = false;
        for i in 0..2_000 {
            let line = format!("line {i} {}", "x".repeat(i % 13));
            expected.push_str(&line);
            expected.push('\n');
            spool.push(&line);
            went_to_disk |= spool.spooling();
            // The server takes a chunk now and then: slower than the lines come, then
            // everything (the file empties and lines go to memory again).
            if i % 3 == 0
                && let Some(chunk) = spool.next().unwrap()
            {
                sent.push(chunk);
                spool.acked();
            }
            if i % 500 == 499 {
                drain(&mut spool, &mut sent);
                assert!(!spool.spooling());
                let size = std::fs::metadata(spool.path()).map_or(0, |m| m.len());
                assert_eq!(size, 0, "the file is emptied once sent");
            }
        }
        drain(&mut spool, &mut sent);
        assert!(went_to_disk, "the file was never used");
        assert_eq!(joined(&sent), expected);
        assert!(sent.iter().all(|(_, t)| t.len() <= 40 && t.ends_with('\n')));
        assert_eq!(spool.pending(), 0);
    }

    #[test]
    fn a_chunk_is_resent_unchanged_until_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = spool(&dir);
        spool.push("one");
        spool.push("two");
        let first = spool.next().unwrap().unwrap();
        assert_eq!(first, (1, "one\ntwo\n".to_string()));
        // The send failed (no answer); lines keep coming; the resend is the same chunk.
        spool.push("three");
        assert_eq!(spool.next().unwrap().unwrap(), first);
        spool.acked();
        assert_eq!(spool.next().unwrap().unwrap(), (2, "three\n".into()));
        // A refused chunk is dropped and its number goes to the next one, as before.
        spool.refused();
        spool.push("four");
        assert_eq!(spool.next().unwrap().unwrap(), (2, "four\n".into()));
        spool.acked();
        assert_eq!(spool.next().unwrap(), None);
    }

    #[test]
    fn memory_stays_under_the_cap_whatever_the_server_does() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = spool(&dir);
        let mut expected = String::new();
        let mut peak = 0;
        // The server is away: one chunk stays in flight, nothing is acknowledged.
        spool.push("first");
        expected.push_str("first\n");
        let stuck = spool.next().unwrap().unwrap();
        for i in 0..10_000 {
            let line = format!("{i:06}");
            let started = spool.push(&line);
            assert_eq!(
                started,
                i == 14,
                "line {i}: spooling starts once, at the cap"
            );
            expected.push_str(&line);
            expected.push('\n');
            peak = peak.max(spool.in_memory());
            assert_eq!(spool.next().unwrap().unwrap(), stuck);
        }
        // Cap, an unwritten block of the tail and the chunk in flight.
        assert!(peak <= 100 + 30 + 40, "{peak} bytes in memory");
        let on_disk = std::fs::metadata(spool.path()).unwrap().len();
        assert!(on_disk > 60_000, "{on_disk} bytes on disk");
        assert_eq!(spool.pending(), expected.len() as u64);
        // The server is back: everything goes, once, in order.
        let mut sent = Vec::new();
        drain(&mut spool, &mut sent);
        assert_eq!(joined(&sent), expected);
        drop(spool);
        assert!(
            !dir.path().join("log.spool").exists(),
            "the file is removed"
        );
    }

    #[test]
    fn a_line_longer_than_a_chunk_goes_whole_from_memory_and_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::with_sizes(dir.path().join("log.spool"), 100, 40, 10);
        let long = "é".repeat(45); // 90 bytes: fits in memory, not in a chunk
        spool.push("a");
        spool.push(&long);
        spool.push("b");
        let longer = "z".repeat(150); // past the cap: to the file
        spool.push(&longer);
        spool.push("c");
        let mut sent = Vec::new();
        drain(&mut spool, &mut sent);
        let texts: Vec<&str> = sent.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(
            texts,
            [
                "a\n".to_string(),
                format!("{long}\n"),
                "b\n".into(),
                format!("{longer}\n"),
                "c\n".into()
            ]
        );
    }

    #[test]
    fn a_discarded_spool_keeps_and_sends_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = spool(&dir);
        for i in 0..100 {
            spool.push(&format!("line {i}"));
        }
        assert!(dir.path().join("log.spool").exists());
        spool.discard();
        assert!(!dir.path().join("log.spool").exists());
        spool.push("after");
        assert_eq!(spool.next().unwrap(), None);
        assert_eq!(spool.pending(), 0);
    }
}
