//! Errors of reading a pipeline file. Each problem in the file is a [`Problem`]: what is
//! wrong ([`ProblemKind`], carrying the facts), where (file, line, column, the span to
//! underline), a label and a hint. [`PipelineError`] gathers them as one miette diagnostic
//! whose first problem is the headline and the others are `related`.

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceCode, SourceSpan};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// Reading, parsing or validating a pipeline failed, or a job name given on the command
/// line is unknown.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The file could not be read (missing, unreadable, not UTF-8).
    #[error("cannot read pipeline file `{}`", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is malformed or invalid.
    #[error("{}", Problems::headline(.0))]
    Invalid(Problems),
    /// A job name asked for (e.g. on the command line) is not a job of the pipeline.
    #[error("unknown job `{name}` in `{}`", path.display())]
    UnknownJob {
        /// The pipeline file.
        path: PathBuf,
        /// The name asked for.
        name: String,
        /// The closest job name, if one is close.
        suggestion: Option<String>,
        /// Every job of the pipeline, in file order.
        jobs: Vec<String>,
    },
}

impl PipelineError {
    /// The problems found in the file, in file order (empty unless [`PipelineError::Invalid`]).
    pub fn problems(&self) -> &[Problem] {
        match self {
            PipelineError::Invalid(p) => &p.0,
            _ => &[],
        }
    }
}

/// The problems of an invalid file, in file order; never empty.
#[derive(Debug)]
pub struct Problems(pub(crate) Vec<Problem>);

impl Problems {
    fn headline(&self) -> String {
        let first = &self.0[0];
        match self.0.len() {
            1 => first.to_string(),
            n => format!("{first} (and {} more problem{})", n - 1, plural(n - 1)),
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

impl Diagnostic for PipelineError {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        match self {
            PipelineError::Read { .. } => Some(Box::new("railyard::pipeline::read")),
            PipelineError::Invalid(p) => p.0[0].code(),
            PipelineError::UnknownJob { .. } => Some(Box::new("railyard::pipeline::unknown_job")),
        }
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        match self {
            PipelineError::Read { source, .. } => {
                Some(Box::new(if source.kind() == std::io::ErrorKind::NotFound {
                    "run railyard at the root of a repository that has a `.railyard.yml` \
                     (see docs/pipeline.md for the format)"
                } else {
                    "check that the file exists, is readable and is UTF-8 text"
                }))
            }
            PipelineError::Invalid(p) => p.0[0].help(),
            PipelineError::UnknownJob {
                suggestion, jobs, ..
            } => Some(Box::new(match suggestion {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("the jobs of this pipeline: {}", jobs.join(", ")),
            })),
        }
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        match self {
            PipelineError::Invalid(p) => p.0[0].source_code(),
            _ => None,
        }
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        match self {
            PipelineError::Invalid(p) => p.0[0].labels(),
            _ => None,
        }
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        match self {
            PipelineError::Invalid(p) if p.0.len() > 1 => {
                Some(Box::new(p.0[1..].iter().map(|p| p as &dyn Diagnostic)))
            }
            _ => None,
        }
    }
}

/// One problem in the pipeline file, with its place.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{file}:{line}:{column}: {kind}")]
pub struct Problem {
    /// What is wrong.
    pub kind: ProblemKind,
    /// The file, as given to the parser.
    pub file: String,
    /// 1-based line of the underlined text.
    pub line: usize,
    /// 1-based column (in characters) of the underlined text.
    pub column: usize,
    /// The underlined text's byte range in the file.
    pub span: SourceSpan,
    /// What the underline says.
    pub label: String,
    /// What to do about it.
    pub help: Option<String>,
    src: NamedSource<Arc<str>>,
}

impl Problem {
    /// The underlined text of the file.
    pub fn underlined(&self) -> &str {
        let src: &str = self.src.inner();
        src.get(self.span.offset()..self.span.offset() + self.span.len())
            .unwrap_or("")
    }
}

impl Diagnostic for Problem {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(format!(
            "railyard::pipeline::{}",
            self.kind.code()
        )))
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&self.src)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(std::iter::once(
            LabeledSpan::new_primary_with_span(Some(self.label.clone()), self.span),
        )))
    }
}

/// What is wrong, with the facts of the case.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ProblemKind {
    /// The file is not valid YAML.
    #[error("invalid YAML: {message}")]
    Syntax {
        /// The YAML parser's message.
        message: String,
    },
    /// A key appears twice in one map.
    #[error("duplicate key `{key}`")]
    DuplicateKey {
        /// The key.
        key: String,
    },
    /// A key the format does not know.
    #[error("unknown key `{key}` {context}")]
    UnknownKey {
        /// The key as written.
        key: String,
        /// Where, e.g. "in job `build`".
        context: String,
        /// The closest known key, if one is close.
        suggestion: Option<String>,
    },
    /// A key planned for a later version.
    #[error("`{key}` is not supported yet")]
    NotSupportedYet {
        /// The key.
        key: String,
    },
    /// A value of the wrong type.
    #[error("`{key}` {context} must be {expected}, found {found}")]
    WrongType {
        /// The key (or a description such as "each step").
        key: String,
        /// Where, e.g. "in job `build`".
        context: String,
        /// What it must be.
        expected: String,
        /// What it is.
        found: String,
    },
    /// A value of the right type that makes no sense.
    #[error("invalid `{key}` {context}: {reason}")]
    InvalidValue {
        /// The key.
        key: String,
        /// Where.
        context: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A required key is absent.
    #[error("`{key}` is missing {context}")]
    MissingKey {
        /// The key.
        key: String,
        /// Where.
        context: String,
    },
    /// Two keys that exclude each other are both set.
    #[error("`{first}` and `{second}` are both set {context}")]
    Conflict {
        /// One key.
        first: String,
        /// The other.
        second: String,
        /// Where.
        context: String,
    },
    /// A key that only makes sense with another one, which is absent.
    #[error("`{key}` {context} requires `{required}`")]
    Requires {
        /// The key set.
        key: String,
        /// The key it needs.
        required: String,
        /// Where.
        context: String,
    },
    /// The file is not a map of top-level keys (e.g. empty, or a list).
    #[error(
        "the pipeline file must be a map with `jobs` (and optionally `env`, `variables`), found {found}"
    )]
    NotAMap {
        /// What it is.
        found: String,
    },
    /// The pipeline has no jobs.
    #[error("the pipeline has no jobs")]
    NoJobs,
    /// A job has no steps.
    #[error("job `{job}` has no steps")]
    NoSteps {
        /// The job.
        job: String,
    },
    /// A job has no environment and the pipeline sets none.
    #[error("job `{job}` has no `env` and the pipeline sets none")]
    NoEnv {
        /// The job.
        job: String,
    },
    /// A job name that is not allowed.
    #[error("invalid job name `{name}`: {reason}")]
    BadJobName {
        /// The name.
        name: String,
        /// Why.
        reason: String,
    },
    /// A service name that is not a DNS label.
    #[error("invalid service name `{name}` in job `{job}`: {reason}")]
    BadServiceName {
        /// The job.
        job: String,
        /// The service name.
        name: String,
        /// Why.
        reason: String,
    },
    /// `needs` names a job that does not exist.
    #[error("job `{job}` needs `{need}`, which is not a job of this pipeline")]
    UnknownNeed {
        /// The job.
        job: String,
        /// The missing job it names.
        need: String,
        /// The closest job name, if one is close.
        suggestion: Option<String>,
    },
    /// A job lists itself in `needs`.
    #[error("job `{job}` needs itself")]
    SelfNeed {
        /// The job.
        job: String,
    },
    /// A problem found after parsing (e.g. by the runner), placed with [`crate::problem_at`].
    #[error("{message}")]
    Other {
        /// What is wrong.
        message: String,
    },
    /// The pipeline expands to more jobs than its runner allows.
    #[error("too many jobs: {arithmetic}")]
    TooManyJobs {
        /// How many jobs it expands to (saturated at `usize::MAX`).
        count: usize,
        /// The limit.
        max: usize,
        /// How the count comes about: `3 jobs × matrix 16 × parallel 64 = 3,072 > 1,000`.
        arithmetic: String,
    },
    /// The `needs` form a cycle.
    #[error("cycle in `needs`: {}", .path.join(" -> "))]
    Cycle {
        /// The jobs of the cycle, the first repeated at the end: `[a, b, a]`.
        path: Vec<String>,
    },
}

impl ProblemKind {
    /// A stable short name, used in the diagnostic code (`railyard::pipeline::<code>`).
    pub fn code(&self) -> &'static str {
        match self {
            ProblemKind::Syntax { .. } => "syntax",
            ProblemKind::DuplicateKey { .. } => "duplicate_key",
            ProblemKind::UnknownKey { .. } => "unknown_key",
            ProblemKind::NotSupportedYet { .. } => "not_supported_yet",
            ProblemKind::WrongType { .. } => "wrong_type",
            ProblemKind::InvalidValue { .. } => "invalid_value",
            ProblemKind::MissingKey { .. } => "missing_key",
            ProblemKind::Conflict { .. } => "conflict",
            ProblemKind::Requires { .. } => "requires",
            ProblemKind::NotAMap { .. } => "not_a_map",
            ProblemKind::NoJobs => "no_jobs",
            ProblemKind::NoSteps { .. } => "no_steps",
            ProblemKind::NoEnv { .. } => "no_env",
            ProblemKind::BadJobName { .. } => "job_name",
            ProblemKind::BadServiceName { .. } => "service_name",
            ProblemKind::UnknownNeed { .. } => "unknown_need",
            ProblemKind::SelfNeed { .. } => "self_need",
            ProblemKind::Cycle { .. } => "cycle",
            ProblemKind::TooManyJobs { .. } => "too_many_jobs",
            ProblemKind::Other { .. } => "other",
        }
    }
}

/// A problem before it is placed in the file: what the decoder and validator collect.
#[derive(Debug, Clone)]
pub(crate) struct Issue {
    pub kind: ProblemKind,
    pub span: crate::yaml::Span,
    pub label: String,
    pub help: Option<String>,
}

impl Issue {
    pub(crate) fn new(
        kind: ProblemKind,
        span: crate::yaml::Span,
        label: impl Into<String>,
    ) -> Self {
        Issue {
            kind,
            span,
            label: label.into(),
            help: None,
        }
    }

    pub(crate) fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// Places issues in the file, sorted by position, as one error.
pub(crate) fn invalid(
    path: &std::path::Path,
    source: &str,
    mut issues: Vec<Issue>,
) -> PipelineError {
    debug_assert!(!issues.is_empty());
    issues.sort_by_key(|i| (i.span.offset, i.span.len));
    let file = path.display().to_string();
    let named = NamedSource::new(&file, Arc::<str>::from(source));
    let lines = crate::yaml::LineIndex::new(source);
    let problems = issues
        .into_iter()
        .map(|issue| {
            let (line, column) = lines.line_column(source, issue.span.offset);
            Problem {
                kind: issue.kind,
                file: file.clone(),
                line,
                column,
                span: SourceSpan::new(issue.span.offset.into(), issue.span.len),
                label: issue.label,
                help: issue.help,
                src: named.clone(),
            }
        })
        .collect();
    PipelineError::Invalid(Problems(problems))
}

/// The candidate closest to `word`, when it is close enough to be a likely typo.
pub(crate) fn suggest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let lower = word.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(&lower, &c.to_lowercase()), c))
        .filter(|(d, c)| *d <= (c.chars().count() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.to_owned())
}

#[cfg(test)]
mod tests {
    use super::suggest;

    #[test]
    fn suggestions_catch_typos_only() {
        let keys = ["script", "needs", "variables", "timeout"];
        assert_eq!(suggest("scirpt", keys).as_deref(), Some("script"));
        assert_eq!(suggest("need", keys).as_deref(), Some("needs"));
        assert_eq!(suggest("Variabels", keys).as_deref(), Some("variables"));
        assert_eq!(suggest("image", keys), None);
    }
}
