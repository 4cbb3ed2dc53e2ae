//! Errors of the advisory crate. Each variant carries what a user needs to fix the input.

use crate::version::VersionScheme;
use std::path::PathBuf;

/// A version that does not parse under its ecosystem's rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{version}` is not a valid {} version: {reason}", scheme.name())]
pub struct VersionError {
    /// The rules it was read by.
    pub scheme: VersionScheme,
    /// The version as given.
    pub version: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Why an import could not start at all. Problems inside single files are not errors: they
/// become [`crate::import::ImportWarning`]s and the rest is imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The path given does not exist or cannot be read.
    #[error(
        "cannot read advisories from {path} (give an OSV JSON file, a folder of them, or an OSV zip archive)"
    )]
    Unreadable {
        /// The path given.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// An ignore file that cannot be used. A broken ignore file is an error, not a warning: a
/// typo must not silently un-ignore (or ignore) findings.
#[derive(Debug, thiserror::Error)]
pub enum IgnoreFileError {
    /// The file cannot be read.
    #[error("cannot read ignore file {path}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not valid YAML or does not have the expected shape.
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line of the problem (0 when the parser could not say).
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong, and the expected shape.
        message: String,
    },
}

/// A `--fail-on` value that is not a severity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown severity `{0}`: use one of unknown, low, medium, high, critical")]
pub struct SeverityParseError(pub String);
