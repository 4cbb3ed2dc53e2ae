//! The errors of this crate. Each names the file or template concerned and what to do next.

use std::path::PathBuf;

/// A JUnit report that could not be read. The caller keeps the timings of other files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JunitError {
    /// The XML is malformed (a syntax error, a mismatched or unclosed tag).
    #[error("{}{}: malformed JUnit XML: {reason}; its timings are ignored (the test runner may have been killed while writing it)", path.display(), at_line(*line))]
    Malformed {
        /// The report file.
        path: PathBuf,
        /// The 1-based line where the parser stopped, when known.
        line: Option<u64>,
        /// What the parser found.
        reason: String,
    },

    /// The XML ends before its root element is closed.
    #[error("{}: JUnit XML is truncated (`<{element}>` opened at line {line} is never closed); its timings are ignored", path.display())]
    Truncated {
        /// The report file.
        path: PathBuf,
        /// The innermost element left open.
        element: String,
        /// The 1-based line where it was opened.
        line: u64,
    },

    /// The file is well-formed XML but not a JUnit report (or is empty).
    #[error("{}: not a JUnit report ({reason}); check the `junit` paths of the job", path.display())]
    NotJunit {
        /// The report file.
        path: PathBuf,
        /// E.g. "the root element is `<html>`" or "the file is empty".
        reason: String,
    },

    /// A merged report could not be written.
    #[error("cannot write the merged JUnit report: {0}")]
    Write(String),
}

fn at_line(line: Option<u64>) -> String {
    line.map(|l| format!(":{l}")).unwrap_or_default()
}

/// A test id template that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdFormatError {
    /// A `{field}` the template does not know.
    #[error(
        "unknown field `{{{field}}}` in test id template `{template}`: use {{name}}, {{classname}}, {{file}} or {{suite}}"
    )]
    UnknownField {
        /// The template.
        template: String,
        /// The field named.
        field: String,
    },
    /// A `{` without its `}`, or a template with no field at all.
    #[error("test id template `{template}` {reason}: write e.g. `{{classname}}::{{name}}`")]
    Invalid {
        /// The template.
        template: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A tool name that has no default.
    #[error(
        "no default test id format for tool `{0}`: use nextest, pytest, jest, surefire or go, or give a template"
    )]
    UnknownTool(String),
}

/// Why a shard could not open its job's shared test queue ([`crate::RemoteTests::open`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The shard was cancelled while it waited.
    #[error("cancelled")]
    Cancelled,
    /// The queue's keeper refused (the shards listed different ids, say) or could not be
    /// reached: its error, shown as it is.
    #[error(transparent)]
    Failed(Box<dyn std::error::Error + Send + Sync>),
}
