//! The one error type of the store. Each variant names the database (path or URL with the
//! password hidden), the run or job concerned, and what to do next.

use std::path::PathBuf;

/// What went wrong while opening or using the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database URL could not be understood.
    #[error(
        "invalid database URL `{url}`: {reason} (use a file path, `sqlite:PATH` or `postgres://USER:PASSWORD@HOST/DB`)"
    )]
    BadUrl {
        /// The URL as given, password hidden.
        url: String,
        /// Why it was refused.
        reason: String,
    },

    /// A folder the store needs could not be created.
    #[error("cannot create folder {}", path.display())]
    CreateDir {
        /// The folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },

    /// The file exists but is not an SQLite database (or is damaged). Nothing was written to it.
    #[error(
        "{} is not a Railyard database (SQLite says: {detail}); it was left untouched: move it aside or choose another data folder",
        path.display()
    )]
    NotADatabase {
        /// The file.
        path: PathBuf,
        /// SQLite's own message.
        detail: String,
    },

    /// The file is an SQLite database that some other program owns. Nothing was written to it.
    #[error(
        "{} is an SQLite database of another program (it holds tables {tables:?} but no Railyard history); it was left untouched: choose another data folder",
        path.display()
    )]
    ForeignDatabase {
        /// The file.
        path: PathBuf,
        /// Some of the tables it holds.
        tables: Vec<String>,
    },

    /// The database could not be reached or opened.
    #[error("cannot open database {location}{hint}")]
    Connect {
        /// Path or URL (password hidden).
        location: String,
        /// A hint on what to check, in parentheses after a space (or empty).
        hint: &'static str,
        /// The driver's error.
        source: sqlx::Error,
    },

    /// The schema could not be brought up to date.
    #[error("cannot update the schema of {location}{hint}")]
    Migrate {
        /// Path or URL (password hidden).
        location: String,
        /// A hint on what to check, in parentheses after a space (or empty).
        hint: &'static str,
        /// SQLx's migration error.
        source: sqlx::migrate::MigrateError,
    },

    /// A query failed.
    #[error("database error in {location} while {doing}")]
    Query {
        /// Path or URL (password hidden).
        location: String,
        /// What the store was doing, e.g. "creating a run".
        doing: &'static str,
        /// The driver's error.
        source: sqlx::Error,
    },

    /// A run, job or step the caller named is not in the store.
    #[error("{what} is not in {location}")]
    NotFound {
        /// E.g. "run 01J… job `build` step 3".
        what: String,
        /// Path or URL (password hidden).
        location: String,
    },

    /// A run reference matches more than one run.
    #[error("`{reference}` matches several runs ({}): give more of the id, or the project", candidates.join(", "))]
    AmbiguousRun {
        /// What the user typed.
        reference: String,
        /// Some of the runs it matches, as `project #number (id)`.
        candidates: Vec<String>,
    },

    /// A stored value this version cannot read (a status written by a newer Railyard?).
    #[error(
        "{location} holds {what} `{value}` that this Railyard does not know; is the database from a newer version?"
    )]
    Corrupt {
        /// Path or URL (password hidden).
        location: String,
        /// E.g. "run status".
        what: &'static str,
        /// The stored text.
        value: String,
    },

    /// No log was recorded for this job.
    #[error("no log recorded for job `{job}` of run {run}")]
    NoLog {
        /// The run id.
        run: String,
        /// The job name.
        job: String,
    },

    /// A log file could not be written or read.
    #[error("cannot {doing} log file {}", path.display())]
    Log {
        /// "write", "read" or "open".
        doing: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },

    /// A job's log reached the size limit; later output is dropped (a marker says so in the file).
    #[error("log of job `{job}` of run {run} passed {limit} bytes; later output is dropped")]
    LogTooLarge {
        /// The run id.
        run: String,
        /// The job name.
        job: String,
        /// The limit in bytes.
        limit: u64,
    },
}
