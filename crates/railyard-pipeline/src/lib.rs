//! The `.railyard.yml` pipeline file: its model, parsing with line/column diagnostics,
//! validation and the job graph.
//!
//! Reading goes through three layers. `yaml` parses the text with serde-saphyr into a tree
//! of nodes that keep their byte spans. `decode` (with `read` and `job`) walks that tree
//! against the schema, producing the [`Pipeline`] model and collecting every problem it
//! meets (unknown keys with a did-you-mean, wrong types naming the key, absurd values)
//! instead of stopping at the first. `validate` then checks what spans jobs: environments,
//! `needs` naming real jobs, no cycles; then `matrix` expands each matrix job into one
//! plain job per combination, so consumers only see plain jobs. All problems come back together as one
//! [`PipelineError`], a miette diagnostic whose messages name `file:line:column`.
//!
//! The file format is documented for users in `docs/pipeline.md`.
#![warn(missing_docs)]

mod cache;
mod decode;
mod deploy;
mod errors;
mod graph;
mod handover;
mod image;
mod job;
mod labels;
mod matrix;
mod model;
mod patterns;
mod read;
mod schema;
mod shards;
mod units;
mod validate;
mod when;
mod yaml;

pub use cache::{CacheWord, MAX_CACHE_KEY_LEN, MAX_CACHE_NAME_LEN, cache_word_problem};
pub use deploy::{MAX_DEPLOY_NAME_LEN, deploy_name_problem};
pub use errors::{PipelineError, Problem, ProblemKind, Problems};
pub use image::{
    MAX_REPOSITORY_LEN, MAX_TAG_LEN, TAG_PLACEHOLDERS, TagProblem, TagValues, expand_tag,
    tag_problem,
};
pub use job::{DEFAULT_READY_TIMEOUT, MIN_MEMORY};
pub use labels::{MAX_LABEL_LEN, label_problem};
pub use matrix::MAX_MATRIX_JOBS;
pub use model::*;
pub use schema::json_schema;
pub use shards::{MAX_PARALLEL, MAX_RETRY_FAILED, RESERVED_VARIABLES, TEST_TOOLS};
pub use units::{format_memory, parse_memory};
pub use validate::DEFAULT_MAX_JOBS;
pub use when::{When, matches as ref_matches};

use errors::Issue;
use std::path::Path;

/// The file name of a pipeline at the repository root.
pub const FILE_NAME: &str = ".railyard.yml";

/// What a pipeline may ask for, beyond the file's own rules: set by whoever runs it (the
/// server's operator, `railyard run`'s flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most jobs the pipeline may expand to, each `matrix` combination and each
    /// `parallel` shard counted: every one is a row of the server's queue and a container.
    pub max_jobs: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_jobs: DEFAULT_MAX_JOBS,
        }
    }
}

impl Limits {
    /// No limit: for a pipeline someone checked already (an agent runs what its server took).
    pub fn none() -> Limits {
        Limits {
            max_jobs: usize::MAX,
        }
    }
}

/// Parses and validates a pipeline under the default [`Limits`]. `path` is only used in
/// messages (and kept in [`Pipeline::path`]).
pub fn parse(path: &Path, source: &str) -> Result<Pipeline, PipelineError> {
    parse_with(path, source, &Limits::default())
}

/// Parses and validates a pipeline under `limits`.
pub fn parse_with(path: &Path, source: &str, limits: &Limits) -> Result<Pipeline, PipelineError> {
    let root = match yaml::parse(source) {
        Ok(root) => root,
        Err(err) => {
            let help = yaml::syntax_help(&err.message);
            let issue = Issue::new(
                ProblemKind::Syntax {
                    message: err.message.clone(),
                },
                err.span,
                err.message,
            )
            .help(help);
            return Err(errors::invalid(path, source, vec![issue]));
        }
    };
    let mut reader = read::Reader::new(source);
    let (pipeline, spans) = decode::pipeline(&mut reader, path, &root);
    let mut issues = reader.issues;
    validate::validate(&pipeline, &spans, &mut issues);
    validate::job_count(&pipeline, &spans, limits.max_jobs, &mut issues);
    if issues.is_empty() {
        Ok(matrix::expand(pipeline, &spans))
    } else {
        Err(errors::invalid(path, source, issues))
    }
}

/// Reads and parses a pipeline file. A missing or unreadable file is a
/// [`PipelineError::Read`].
pub fn load(path: &Path) -> Result<Pipeline, PipelineError> {
    load_with(path, &Limits::default())
}

/// Reads and parses a pipeline file under `limits`.
pub fn load_with(path: &Path, limits: &Limits) -> Result<Pipeline, PipelineError> {
    let source = std::fs::read_to_string(path).map_err(|source| PipelineError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse_with(path, &source, limits)
}

/// A problem found after parsing (a Dockerfile that does not exist, an image that cannot be
/// pulled), reported like a parse error: it names `file:line:column` of the value at `keys`
/// and underlines it. `keys` is the path to the value, e.g. `["env", "dockerfile"]`, or
/// `["jobs", "build", "env", "dockerfile"]` when the job has its own `env`. When the path
/// is not in the file (the value is a default), the deepest key found is underlined.
/// [`Pipeline::env_key_path`] gives the path of a job's env keys.
pub fn problem_at<K: AsRef<str>>(
    path: &Path,
    source: &str,
    keys: &[K],
    message: impl Into<String>,
    label: impl Into<String>,
    help: Option<String>,
) -> PipelineError {
    let span = yaml::parse(source)
        .map(|root| {
            let keys: Vec<&str> = keys.iter().map(AsRef::as_ref).collect();
            yaml::locate(&root, source, &keys)
        })
        .unwrap_or_default();
    let mut issue = Issue::new(
        ProblemKind::Other {
            message: message.into(),
        },
        span,
        label,
    );
    issue.help = help;
    errors::invalid(path, source, vec![issue])
}
