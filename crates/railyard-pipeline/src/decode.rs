//! The pipeline schema: reads the YAML tree into the model, key by key, and keeps the
//! spans the graph checks need ([`Spans`]). Semantic checks across jobs live in
//! `validate`; this module checks each value on its own.

use crate::errors::{Issue, ProblemKind, suggest};
use crate::model::{BuildSpec, EnvSource, EnvSpec, Pipeline, ScanPolicy};
use crate::read::{Entry, Extra, Reader, list_keys};
use crate::yaml::{Node, Span, Value};
use indexmap::IndexMap;
use railyard_types::path::{UnsafePath, relative_inside};
use std::path::{Path, PathBuf};

pub(crate) const TOP_KEYS: &[&str] = &["env", "variables", "secrets", "jobs"];
pub(crate) const ENV_KEYS: &[&str] = &["dockerfile", "context", "args", "target", "image", "scan"];
const SCAN_KEYS: &[&str] = &["fail_on"];
const SEVERITIES: &[&str] = &["low", "medium", "high", "critical"];

/// Where things are, for checks that span several jobs.
#[derive(Debug, Default)]
pub(crate) struct Spans {
    /// The `jobs` key, when present.
    pub jobs_key: Option<Span>,
    /// Whether the top-level `env` key is present (even if invalid).
    pub env_given: bool,
    /// Per job, in file order.
    pub jobs: IndexMap<String, JobSpans>,
}

/// Where one job's parts are.
#[derive(Debug, Default)]
pub(crate) struct JobSpans {
    /// The job's key under `jobs`.
    pub key: Span,
    /// Each `needs` entry with its span.
    pub needs: Vec<(String, Span)>,
    /// Whether the job has an `env` key (even if invalid).
    pub env_given: bool,
    /// The job's `matrix`, when valid; empty for a job without one.
    pub matrix: Vec<crate::matrix::Axis>,
    /// Whether the job has a `matrix` (even if invalid).
    pub matrix_given: bool,
}

/// Reads the whole document. The model is as complete as the file allows, so the graph
/// checks can run even when some values were wrong.
pub(crate) fn pipeline(r: &mut Reader<'_>, path: &Path, root: &Node) -> (Pipeline, Spans) {
    let mut spans = Spans::default();
    let mut pipeline = Pipeline {
        path: path.to_owned(),
        env: None,
        variables: IndexMap::new(),
        secrets: Vec::new(),
        jobs: IndexMap::new(),
    };
    let context = "at the top level";
    if !matches!(root.value, Value::Map(_)) {
        let issue = Issue::new(
            ProblemKind::NotAMap {
                found: root.kind().into(),
            },
            root.span,
            "expected a map",
        )
        .help("start the file with `jobs:`; see docs/pipeline.md");
        r.push(issue);
        return (pipeline, spans);
    }
    let root_entry = Entry {
        key: "",
        key_span: root.span,
        value: root,
    };
    let Some(fields) = r.fields(root_entry, context, TOP_KEYS, Extra::Hidden) else {
        return (pipeline, spans);
    };
    spans.env_given = fields.misspelled("env");
    if let Some(e) = fields.get("env") {
        spans.env_given = true;
        pipeline.env = env(r, e, "in `env`");
    }
    if let Some(e) = fields.get("variables") {
        crate::shards::reserved_variables(r, e, context);
        pipeline.variables = r.string_map(e, context, true);
    }
    if let Some(e) = fields.get("secrets") {
        pipeline.secrets = secrets(r, e, context, &pipeline.variables);
    }
    match fields.get("jobs") {
        None if fields.misspelled("jobs") => {}
        None => r.push(
            Issue::new(
                ProblemKind::MissingKey {
                    key: "jobs".into(),
                    context: context.into(),
                },
                Span {
                    offset: root.span.offset,
                    len: 0,
                },
                "no `jobs` in this file",
            )
            .help("add `jobs:` with at least one job and its `script`; see docs/pipeline.md"),
        ),
        Some(e) => {
            spans.jobs_key = Some(e.key_span);
            if let Some(jobs) = r.entries(e, context, "a map of job names to jobs") {
                if jobs.is_empty() {
                    r.push(
                        Issue::new(ProblemKind::NoJobs, e.key_span, "no jobs here")
                            .help("add a job, e.g. `build: { script: [make] }`"),
                    );
                }
                for job in jobs {
                    let (model, job_spans) = crate::job::job(r, job);
                    spans.jobs.insert(model.name.clone(), job_spans);
                    pipeline.jobs.insert(model.name.clone(), model);
                }
            }
        }
    }
    (pipeline, spans)
}

/// Reads `secrets`: variable names, not reserved, not also set in `variables`.
fn secrets(
    r: &mut Reader<'_>,
    entry: Entry<'_>,
    context: &str,
    variables: &IndexMap<String, String>,
) -> Vec<String> {
    let Some(names) = r.string_or_list(entry, context, "a variable name or a list of them") else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    let context = crate::read::nested("secrets", context);
    for (name, span) in names {
        let name = name.trim().to_owned();
        if !crate::read::is_variable_name(&name) {
            r.invalid_help(
                &name,
                &context,
                span,
                "not a variable name",
                "a secret is an environment variable: letters, digits and `_`, not starting with a digit",
            );
        } else if crate::RESERVED_VARIABLES.contains(&name.as_str()) {
            crate::shards::reserved(r, &name, &context, span);
        } else if variables.contains_key(&name) {
            r.invalid_help(
                &name,
                &context,
                span,
                "also set in `variables`",
                "a secret's value comes from the environment Railyard runs in, never from the file: remove it from `variables`",
            );
        } else if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

/// Reads an `env` map (top level or a job's).
pub(crate) fn env(r: &mut Reader<'_>, entry: Entry<'_>, context: &str) -> Option<EnvSpec> {
    let fields = r.fields(entry, context, ENV_KEYS, Extra::Nothing)?;
    let scan = fields.get("scan").and_then(|e| scan(r, e, context));
    let dockerfile = fields.get("dockerfile");
    let image = fields.get("image");
    let source = match (dockerfile, image) {
        (Some(d), Some(i)) => {
            let (first, second) = if d.key_span.offset < i.key_span.offset {
                (d, i)
            } else {
                (i, d)
            };
            r.push(
                Issue::new(
                    ProblemKind::Conflict {
                        first: first.key.into(),
                        second: second.key.into(),
                        context: context.into(),
                    },
                    second.key_span,
                    format!("`{}` is already set", first.key),
                )
                .help(
                    "use `dockerfile` to build the environment, or `image` for a ready image, \
                     not both",
                ),
            );
            return None;
        }
        (None, Some(i)) => {
            for key in ["context", "args", "target"] {
                if let Some(e) = fields.get(key) {
                    r.push(
                        Issue::new(
                            ProblemKind::Conflict {
                                first: "image".into(),
                                second: key.into(),
                                context: context.into(),
                            },
                            e.key_span,
                            "only applies to `dockerfile`",
                        )
                        .help(format!(
                            "`{key}` is a build setting: remove it, or build with `dockerfile`"
                        )),
                    );
                }
            }
            EnvSource::Image(r.non_empty(i, context)?)
        }
        (Some(d), None) => EnvSource::Build(build(r, &fields, d, context)?),
        (None, None) if fields.misspelled("dockerfile") || fields.misspelled("image") => {
            return None;
        }
        (None, None) => {
            r.push(
                Issue::new(
                    ProblemKind::MissingKey {
                        key: "dockerfile".into(),
                        context: context.into(),
                    },
                    entry.key_span,
                    "no `dockerfile` or `image`",
                )
                .help("set `dockerfile: ci/Dockerfile` to build the environment, or `image: NAME` for a ready one"),
            );
            return None;
        }
    };
    Some(EnvSpec { source, scan })
}

pub(crate) fn build(
    r: &mut Reader<'_>,
    fields: &crate::read::Fields<'_>,
    dockerfile: Entry<'_>,
    context: &str,
) -> Option<BuildSpec> {
    let file = relative_path(r, dockerfile, context);
    let build_context = fields
        .get("context")
        .and_then(|e| relative_path(r, e, context));
    let args = fields
        .get("args")
        .map(|e| r.string_map(e, context, false).into_iter().collect())
        .unwrap_or_default();
    let target = fields.get("target").and_then(|e| r.non_empty(e, context));
    let file = file?;
    let build_context = build_context.unwrap_or_else(|| match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    });
    Some(BuildSpec {
        dockerfile: file,
        context: build_context,
        args,
        target,
    })
}

pub(crate) fn scan(r: &mut Reader<'_>, entry: Entry<'_>, context: &str) -> Option<ScanPolicy> {
    let (fields, context) = r.sub_fields(entry, context, SCAN_KEYS)?;
    let Some(e) = fields.get("fail_on") else {
        return Some(ScanPolicy { fail_on: None });
    };
    let level = r.string(e, &context)?;
    if !SEVERITIES.contains(&level.as_str()) {
        let hint = match suggest(&level, SEVERITIES.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("use one of {}", list_keys(SEVERITIES)),
        };
        r.push(
            Issue::new(
                ProblemKind::InvalidValue {
                    key: "fail_on".into(),
                    context: context.clone(),
                    reason: format!("`{level}` is not a severity"),
                },
                e.value.span,
                "not a severity",
            )
            .help(hint),
        );
        return None;
    }
    Some(ScanPolicy {
        fail_on: Some(level),
    })
}

/// A path relative to the repository root (or workspace) that stays inside it.
pub(crate) fn relative_path(
    r: &mut Reader<'_>,
    entry: Entry<'_>,
    context: &str,
) -> Option<PathBuf> {
    let text = r.string(entry, context)?;
    check_relative(r, entry.key, &text, entry.value.span, context)
}

/// Checks that `text` (at `span`) is a relative path that stays inside its root.
pub(crate) fn check_relative(
    r: &mut Reader<'_>,
    key: &str,
    text: &str,
    span: Span,
    context: &str,
) -> Option<PathBuf> {
    let reason = match relative_inside(text.trim()) {
        Ok(_) => return Some(PathBuf::from(text.trim())),
        Err(UnsafePath::Absolute) => "the path must be relative to the repository root",
        Err(UnsafePath::Climbs) => "the path leaves the repository (too many `..`)",
        Err(UnsafePath::Empty) => "the path is empty",
        Err(UnsafePath::Backslash) => "the path holds a backslash: separate folders with `/`",
        Err(UnsafePath::Nul) => "the path holds a NUL byte",
        Err(UnsafePath::NotPlain) => "the path has `.`, `..` or empty parts",
    };
    r.invalid(key, context, span, reason);
    None
}
