//! What a job hands to the jobs that need it: `artifacts` (paths, and when they are kept)
//! and `needs` (which jobs come first, and whether their artifacts are taken). Both keep
//! their short forms (`artifacts: [dist/app]`, `needs: [build]`); the map forms add the
//! settings, so a file written before them reads as it always did.

use crate::decode::{JobSpans, check_relative};
use crate::errors::{Issue, ProblemKind, suggest};
use crate::model::{ArtifactsWhen, Job};
use crate::read::{Entry, Extra, Reader, list_keys, nested};
use crate::yaml::{Node, Span, Value};

pub(crate) const ARTIFACTS_KEYS: &[&str] = &["paths", "when"];
pub(crate) const NEED_KEYS: &[&str] = &["job", "artifacts"];
/// The values of `artifacts.when`, as written.
pub(crate) const WHEN: &[&str] = &["on_success", "on_failure", "always"];

/// `artifacts: PATH`, `artifacts: [PATH, …]` or `artifacts: { paths: …, when: … }`: sets
/// [`Job::artifacts`] and [`Job::artifacts_when`]. Bad paths are reported and left out.
pub(crate) fn artifacts(r: &mut Reader<'_>, entry: Entry<'_>, context: &str, job: &mut Job) {
    let expected = "a path, a list of paths, or a map with `paths` and `when`";
    let Value::Map(_) = entry.value.value else {
        if let Some(paths) = r.string_or_list(entry, context, expected) {
            job.artifacts = relative_paths(r, "artifacts", paths, context);
        }
        return;
    };
    let Some((fields, inner)) = r.sub_fields(entry, context, ARTIFACTS_KEYS) else {
        return;
    };
    match fields.get("paths") {
        Some(e) => {
            if let Some(paths) = r.string_or_list(e, &inner, "a path or a list of paths") {
                job.artifacts = relative_paths(r, "paths", paths, &inner);
            }
        }
        None if fields.misspelled("paths") => {}
        None => r.push(
            Issue::new(
                ProblemKind::MissingKey {
                    key: "paths".into(),
                    context: inner.clone(),
                },
                fields.key_span("paths").unwrap_or(entry.key_span),
                "no `paths`",
            )
            .help("name what to keep: `artifacts: { paths: [dist/], when: always }`"),
        ),
    }
    if let Some(e) = fields.get("when") {
        job.artifacts_when = when(r, e, &inner).unwrap_or_default();
    }
}

fn relative_paths(
    r: &mut Reader<'_>,
    key: &str,
    paths: Vec<(String, Span)>,
    context: &str,
) -> Vec<String> {
    paths
        .into_iter()
        .filter_map(|(text, span)| check_relative(r, key, &text, span, context))
        .map(|p| p.to_string_lossy().into_owned())
        .collect()
}

/// `when: on_success | on_failure | always`.
fn when(r: &mut Reader<'_>, entry: Entry<'_>, context: &str) -> Option<ArtifactsWhen> {
    let text = r.string(entry, context)?;
    let value = match text.trim() {
        "on_success" => ArtifactsWhen::OnSuccess,
        "on_failure" => ArtifactsWhen::OnFailure,
        "always" => ArtifactsWhen::Always,
        other => {
            let help = match suggest(other, WHEN.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!(
                    "use one of {}: when the job succeeds (the default), fails, or either",
                    list_keys(WHEN)
                ),
            };
            r.invalid_help(
                "when",
                context,
                entry.value.span,
                format!("`{other}` is not one of {}", list_keys(WHEN)),
                help,
            );
            return None;
        }
    };
    Some(value)
}

/// `needs: NAME`, or a list of names and `{ job: NAME, artifacts: false }` maps (a lone map
/// too): sets [`Job::needs`] (each job once, in file order) and
/// [`Job::needs_without_artifacts`], and records where each name is for the graph checks.
pub(crate) fn needs(
    r: &mut Reader<'_>,
    entry: Entry<'_>,
    context: &str,
    job: &mut Job,
    spans: &mut JobSpans,
) {
    let expected = "a job name, or a list of job names and `{ job: NAME, artifacts: false }` maps";
    let items: Vec<&Node> = match &entry.value.value {
        Value::Seq(items) => items.iter().collect(),
        Value::Null => return,
        _ => vec![entry.value],
    };
    let inner = nested("needs", context);
    for item in items {
        let need = match &item.value {
            Value::Map(_) => need_map(r, item, &inner),
            Value::Seq(_) => {
                r.push(Issue::new(
                    ProblemKind::WrongType {
                        key: "needs".into(),
                        context: context.into(),
                        expected: expected.into(),
                        found: format!("{} as an entry", item.kind()),
                    },
                    item.span,
                    "expected a job name or a map",
                ));
                None
            }
            _ => match item.scalar_text(r.source) {
                Some(name) if name.trim().is_empty() => {
                    r.invalid("needs", context, item.span, "an entry is empty");
                    None
                }
                Some(name) => Some((name.trim().to_owned(), item.span, true)),
                None => {
                    r.wrong_type("needs", context, item, expected);
                    None
                }
            },
        };
        let Some((name, span, takes)) = need else {
            continue;
        };
        let left = job.needs_without_artifacts.contains(&name);
        match job.needs.iter().position(|n| *n == name) {
            None => {
                job.needs.push(name.clone());
                if !takes {
                    job.needs_without_artifacts.push(name.clone());
                }
                spans.needs.push((name, span));
            }
            // Listed again the same way: once is enough.
            Some(_) if takes != left => {}
            Some(_) => r.invalid_help(
                "needs",
                context,
                span,
                format!("`{name}` is listed twice, once with `artifacts: false`"),
                format!(
                    "list `{name}` once: `{{ job: {name}, artifacts: false }}` to leave its \
                     artifacts, or the name alone to take them"
                ),
            ),
        }
    }
}

/// `{ job: NAME, artifacts: BOOL }`: the name, the span of its value, and whether the
/// artifacts are taken (default: yes).
fn need_map(r: &mut Reader<'_>, item: &Node, context: &str) -> Option<(String, Span, bool)> {
    let entry = Entry {
        key: "needs",
        key_span: item.span,
        value: item,
    };
    let fields = r.fields(entry, context, NEED_KEYS, Extra::Nothing)?;
    let takes = match fields.get("artifacts") {
        Some(e) => r.bool(e, context)?,
        None => true,
    };
    match fields.get("job") {
        Some(e) => {
            let name = r.non_empty(e, context)?;
            Some((name.trim().to_owned(), e.value.span, takes))
        }
        None if fields.misspelled("job") => None,
        None => {
            r.push(
                Issue::new(
                    ProblemKind::MissingKey {
                        key: "job".into(),
                        context: context.into(),
                    },
                    item.span,
                    "no `job`",
                )
                .help("name the job this one needs: `{ job: build, artifacts: false }`"),
            );
            None
        }
    }
}
