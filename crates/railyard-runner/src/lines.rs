//! Turns the byte chunks of a stream into lines, whatever the chunk boundaries, so that every
//! reporter (and, later, secret masking) sees whole lines.

/// Lines longer than this are cut, so a process that never prints a newline cannot make us
/// buffer without bound.
pub const MAX_LINE: usize = 64 * 1024;

/// A line buffer for one stream.
#[derive(Debug, Default)]
pub struct LineBuffer {
    partial: Vec<u8>,
}

impl LineBuffer {
    /// Feeds a chunk; calls `emit` for every completed line (without its `\n` or `\r\n`).
    pub fn push(&mut self, mut chunk: &[u8], emit: &mut impl FnMut(String)) {
        while let Some(pos) = chunk.iter().position(|b| *b == b'\n') {
            self.partial.extend_from_slice(&chunk[..pos]);
            self.emit_partial(emit);
            chunk = &chunk[pos + 1..];
        }
        self.partial.extend_from_slice(chunk);
        while self.partial.len() >= MAX_LINE {
            let rest = self.partial.split_off(MAX_LINE);
            self.emit_partial(emit);
            self.partial = rest;
        }
    }

    /// Emits what is left when the stream ends.
    pub fn finish(&mut self, emit: &mut impl FnMut(String)) {
        if !self.partial.is_empty() {
            self.emit_partial(emit);
        }
    }

    fn emit_partial(&mut self, emit: &mut impl FnMut(String)) {
        if self.partial.last() == Some(&b'\r') {
            self.partial.pop();
        }
        emit(String::from_utf8_lossy(&self.partial).into_owned());
        self.partial.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(chunks: &[&[u8]]) -> Vec<String> {
        let mut out = Vec::new();
        let mut buf = LineBuffer::default();
        for c in chunks {
            buf.push(c, &mut |l| out.push(l));
        }
        buf.finish(&mut |l| out.push(l));
        out
    }

    #[test]
    fn lines_split_across_chunks_are_joined() {
        assert_eq!(
            run(&[b"hel", b"lo\nwor", b"ld\r\n", b"tail"]),
            ["hello", "world", "tail"]
        );
    }

    #[test]
    fn empty_lines_are_kept() {
        assert_eq!(run(&[b"a\n\nb\n"]), ["a", "", "b"]);
    }

    #[test]
    fn endless_lines_are_cut() {
        let big = vec![b'x'; MAX_LINE * 2 + 10];
        let out = run(&[&big]);
        assert_eq!(out.len(), 3);
        assert_eq!(out[0].len(), MAX_LINE);
        assert_eq!(out[2].len(), 10);
    }

    #[test]
    fn split_utf8_is_joined_before_decoding() {
        let s = "é\n".as_bytes();
        assert_eq!(run(&[&s[..1], &s[1..]]), ["é"]);
    }
}
