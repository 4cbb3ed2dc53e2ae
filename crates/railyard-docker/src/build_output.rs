//! Reading the classic builder's output: whole lines for the caller, and the facts a
//! [`DockerError::BuildFailed`] needs (the last `Step N/M : ...` line and what followed it).

use crate::errors::{DockerError, OUTPUT_TAIL_LINES};
use std::collections::VecDeque;

/// The classic builder wraps a RUN's stderr in these colour codes; they are noise in logs.
const STDERR_COLOUR: &str = "\x1b[91m";
const RESET_COLOUR: &str = "\x1b[0m";

/// Accumulates builder output chunks into lines.
#[derive(Debug, Default)]
pub(crate) struct BuildLog {
    partial: String,
    step: Option<String>,
    tail: VecDeque<String>,
    /// `Successfully built <id>`: the image id when the stream carries no `aux` record.
    built: Option<String>,
}

impl BuildLog {
    /// Takes a `stream` chunk (any part of a line) and emits every line it completes.
    pub(crate) fn push(&mut self, chunk: &str, emit: &mut (dyn FnMut(&str) + Send)) {
        self.partial.push_str(chunk);
        while let Some(pos) = self.partial.find('\n') {
            let line: String = self.partial.drain(..=pos).collect();
            let line = line.trim_end_matches(['\n', '\r']);
            self.line(line, emit);
        }
    }

    /// Emits a whole line that did not come through `stream` (pull progress, messages).
    pub(crate) fn status(&mut self, line: &str, emit: &mut (dyn FnMut(&str) + Send)) {
        self.flush(emit);
        self.line(line, emit);
    }

    /// Emits what is left of an unfinished line.
    pub(crate) fn flush(&mut self, emit: &mut (dyn FnMut(&str) + Send)) {
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.line(line.trim_end_matches('\r'), emit);
        }
    }

    fn line(&mut self, line: &str, emit: &mut (dyn FnMut(&str) + Send)) {
        // Stripped per line, not per chunk: a chunk may end inside a colour code.
        let stripped = line.replace(STDERR_COLOUR, "").replace(RESET_COLOUR, "");
        if stripped.is_empty() && !line.is_empty() {
            return;
        }
        let line = stripped.as_str();
        emit(line);
        if line.starts_with("Step ") && line.contains(" : ") {
            self.step = Some(line.to_string());
            self.tail.clear();
            return;
        }
        if let Some(id) = line.strip_prefix("Successfully built ") {
            self.built = Some(id.trim().to_string());
        }
        // The builder's own bookkeeping, not the instruction's output.
        if line.starts_with(" ---> ") || line.starts_with("Removing intermediate container") {
            return;
        }
        if self.tail.len() == OUTPUT_TAIL_LINES {
            self.tail.pop_front();
        }
        self.tail.push_back(line.to_string());
    }

    /// The short image id from `Successfully built <id>`, if seen.
    pub(crate) fn built(&self) -> Option<&str> {
        self.built.as_deref()
    }

    /// The error for a build that failed with this message from the builder.
    pub(crate) fn failure(mut self, message: &str) -> DockerError {
        let message = message.trim().to_string();
        // The message often repeats as the last output line; keep it once.
        if self.tail.back().is_some_and(|l| l.trim() == message) {
            self.tail.pop_back();
        }
        let message = match self.step.as_deref().and_then(from_image) {
            Some(image) => {
                format!("base image `{image}` is neither present locally nor pullable: {message}")
            }
            None => message,
        };
        DockerError::BuildFailed {
            step: self.step,
            message,
            output_tail: self.tail.into(),
        }
    }
}

/// The image named by a `Step N/M : FROM [--flag=x] IMAGE [AS name]` line.
fn from_image(step: &str) -> Option<&str> {
    let (_, instruction) = step.split_once(" : ")?;
    let mut words = instruction.split_whitespace();
    if !words.next()?.eq_ignore_ascii_case("FROM") {
        return None;
    }
    words.find(|w| !w.starts_with("--"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(chunks: &[&str]) -> (BuildLog, Vec<String>) {
        let mut log = BuildLog::default();
        let mut lines = Vec::new();
        let mut emit = |l: &str| lines.push(l.to_string());
        for c in chunks {
            log.push(c, &mut emit);
        }
        log.flush(&mut emit);
        (log, lines)
    }

    #[test]
    fn keeps_the_failing_step_and_its_output() {
        let (log, lines) = feed(&[
            "Step 1/2 : FROM busybox",
            "\n",
            " ---> 421a5ea39ac7\n",
            "Step 2/2 : RUN echo hi && false",
            "\n",
            " ---> Running in ce434e558c3f\n",
            "hi\n",
            "\x1b[9",
            "1merr\n",
            "\x1b[0m",
        ]);
        assert_eq!(lines[0], "Step 1/2 : FROM busybox");
        assert!(lines.contains(&"err".to_string()), "{lines:?}");
        let err =
            log.failure("The command '/bin/sh -c echo hi && false' returned a non-zero code: 1");
        let DockerError::BuildFailed {
            step,
            message,
            output_tail,
        } = &err
        else {
            panic!("{err:?}")
        };
        assert_eq!(step.as_deref(), Some("Step 2/2 : RUN echo hi && false"));
        assert!(message.contains("non-zero code: 1"));
        assert_eq!(output_tail, &["hi", "err"]);
        let text = err.to_string();
        assert!(text.contains("`Step 2/2 : RUN echo hi && false`"), "{text}");
        assert!(text.contains("\n  hi\n  err"), "{text}");
    }

    #[test]
    fn a_failing_from_names_the_base_image() {
        let (log, _) = feed(&["Step 1/2 : FROM --platform=linux/amd64 nosuch:1 AS base\n"]);
        let err = log.failure("Get \"https://registry-1.docker.io/v2/\": no such host");
        let text = err.to_string();
        assert!(
            text.contains("base image `nosuch:1` is neither present locally nor pullable"),
            "{text}"
        );
    }

    #[test]
    fn an_error_before_any_step_says_so() {
        let (log, _) = feed(&[]);
        let err = log.failure("dockerfile parse error line 1: unknown instruction: FOO");
        assert!(
            err.to_string()
                .starts_with("image build failed before its first instruction")
        );
    }

    #[test]
    fn tail_is_bounded_and_lines_are_reassembled() {
        let mut chunks = vec!["Step 1/1 : RUN x\n".to_string()];
        for i in 0..(OUTPUT_TAIL_LINES + 10) {
            chunks.push(format!("line {i}"));
            chunks.push("\n".to_string());
        }
        chunks.push("Successfully built abc123\n".into());
        let refs: Vec<&str> = chunks.iter().map(String::as_str).collect();
        let (log, lines) = feed(&refs);
        assert_eq!(lines[1], "line 0");
        assert_eq!(log.built(), Some("abc123"));
        assert_eq!(log.tail.len(), OUTPUT_TAIL_LINES);
    }
}
