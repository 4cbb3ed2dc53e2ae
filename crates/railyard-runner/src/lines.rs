//! Turns the byte chunks of a stream into lines, whatever the chunk boundaries, so that every
//! reporter and the secret masking see whole lines.

use std::sync::Arc;

use crate::mask::Masker;

/// Lines longer than this are cut, so a process that never prints a newline cannot make us
/// buffer without bound.
pub const MAX_LINE: usize = 64 * 1024;

/// A line buffer for one stream.
#[derive(Debug, Default)]
pub struct LineBuffer {
    partial: Vec<u8>,
    /// Secrets an over-long line must not be cut through.
    guard: Option<Arc<Masker>>,
}

impl LineBuffer {
    /// A buffer whose cuts of over-long lines never split one of `masker`'s secrets, so each
    /// piece is masked whole.
    pub fn guarded(masker: Arc<Masker>) -> LineBuffer {
        LineBuffer {
            partial: Vec::new(),
            guard: Some(masker),
        }
    }

    /// Feeds a chunk; calls `emit` for every completed line (without its `\n` or `\r\n`).
    pub fn push(&mut self, mut chunk: &[u8], emit: &mut impl FnMut(String)) {
        while let Some(pos) = chunk.iter().position(|b| *b == b'\n') {
            self.partial.extend_from_slice(&chunk[..pos]);
            self.emit_partial(emit);
            chunk = &chunk[pos + 1..];
        }
        self.partial.extend_from_slice(chunk);
        let lookahead = self.guard.as_ref().map_or(0, |m| m.longest());
        while self.partial.len() >= MAX_LINE + lookahead {
            let rest = self.partial.split_off(self.cut_point());
            self.emit_partial(emit);
            self.partial = rest;
        }
    }

    /// Where to cut an over-long line: at [`MAX_LINE`], moved back before a secret it would
    /// split and to the start of a UTF-8 character (a cut character would come out as two
    /// replacement marks).
    fn cut_point(&self) -> usize {
        let mut at = match &self.guard {
            Some(m) => m.safe_cut(&self.partial, MAX_LINE),
            None => MAX_LINE,
        };
        let limit = at.saturating_sub(3);
        while at > limit && at > 0 && (self.partial[at] & 0xC0) == 0x80 {
            at -= 1;
        }
        if at == 0 { MAX_LINE } else { at }
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
    fn a_cut_never_splits_a_secret_or_a_character() {
        let masker = Arc::new(Masker::new(["top-secret-token!"]));
        let mut line = vec![b'x'; MAX_LINE - 5];
        line.extend_from_slice(b"top-secret-token!");
        line.extend_from_slice("é".repeat(MAX_LINE).as_bytes());
        let mut out = Vec::new();
        let mut buf = LineBuffer::guarded(masker.clone());
        for chunk in line.chunks(1000) {
            buf.push(chunk, &mut |l| out.push(masker.mask(&l)));
        }
        buf.finish(&mut |l| out.push(masker.mask(&l)));
        assert!(
            out.iter().all(|l| !l.contains("top-secret")),
            "a piece shows the secret"
        );
        assert!(
            out[1].starts_with("***"),
            "the secret opens the second piece"
        );
        assert!(
            out.iter().all(|l| !l.contains('\u{FFFD}')),
            "a character was cut"
        );
        assert_eq!(
            out.concat().len(),
            line.len() - "top-secret-token!".len() + 3
        );
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
