//! `image_build`: an image the runner builds from a job's workspace after its steps, tags,
//! scans and pushes. The build settings are an env's (`dockerfile`, `context`, `args`,
//! `target`, `scan`), read by the same code; what is new are the tags. A tag names only the
//! repository path under the project and a tag (`app:{commit}`): the registry is the
//! operator's, so a tag naming a host is refused. Tags are checked here, before anything
//! runs, with each placeholder standing for the characters its expansion can hold, so that
//! [`expand_tag`] always gives a reference the engine takes.

use crate::decode::{build, scan};
use crate::errors::{Issue, ProblemKind, suggest};
use crate::model::ImageBuild;
use crate::read::{Entry, Fields, Reader, list_keys};
use railyard_types::template::{Token, tokens};

pub(crate) const IMAGE_BUILD_KEYS: &[&str] = &[
    "dockerfile",
    "context",
    "args",
    "target",
    "tags",
    "push",
    "scan",
];

/// The placeholders of a tag, each with the most characters its expansion holds: a commit
/// (SHA-1 or SHA-256), its first 12 characters, a run id, a ref's slug.
pub const TAG_PLACEHOLDERS: &[(&str, usize)] = &[
    ("commit", 64),
    ("short_commit", SHORT_COMMIT),
    ("run", 26),
    ("ref", MAX_REF_SLUG),
];
/// The most characters of a tag (after `:`), the engine's limit.
pub const MAX_TAG_LEN: usize = 128;
/// The most characters of a repository path, the engine's limit.
pub const MAX_REPOSITORY_LEN: usize = 255;
const SHORT_COMMIT: usize = 12;
const MAX_REF_SLUG: usize = 63;

/// Reads `image_build` of a job. `None` when it is wrong (the problems are reported).
pub(crate) fn image_build(
    r: &mut Reader<'_>,
    entry: Entry<'_>,
    job_context: &str,
) -> Option<ImageBuild> {
    let (fields, context) = r.sub_fields(entry, job_context, IMAGE_BUILD_KEYS)?;
    let scan = fields.get("scan").and_then(|e| scan(r, e, &context));
    let push = match fields.get("push") {
        Some(e) => r.bool(e, &context),
        None => Some(false),
    };
    let tags = tags(r, &fields, entry, &context);
    let spec = match fields.get("dockerfile") {
        Some(d) => build(r, &fields, d, &context),
        None if fields.misspelled("dockerfile") => None,
        None => {
            r.push(
                Issue::new(
                    ProblemKind::MissingKey {
                        key: "dockerfile".into(),
                        context: context.clone(),
                    },
                    entry.key_span,
                    "no `dockerfile`",
                )
                .help(
                    "name the Dockerfile that builds the image, relative to the repository: \
                     `dockerfile: Dockerfile`",
                ),
            );
            None
        }
    };
    Some(ImageBuild {
        build: spec?,
        tags: tags?,
        push: push?,
        scan,
    })
}

/// `image_build` in a job that runs as several (`parallel: N`, or a `matrix`): which of
/// them would build, and would they not push the same tags over each other?
pub(crate) fn one_builder(
    r: &mut Reader<'_>,
    fields: &Fields<'_>,
    image_build: Entry<'_>,
    shards: u32,
    context: &str,
) {
    let parallel = fields.get("parallel").filter(|_| shards > 1);
    let help = |other: &str| {
        format!(
            "build the image in a job of its own that `needs` this one (each {other} runs the \
             same steps, and every one would push the same tags)"
        )
    };
    for (other, what) in [(parallel, "shard"), (fields.get("matrix"), "matrix job")] {
        let Some(other) = other else {
            continue;
        };
        let (first, second) = if other.key_span.offset < image_build.key_span.offset {
            (other, image_build)
        } else {
            (image_build, other)
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
            .help(help(what)),
        );
    }
}

/// `tags`: a tag or a list of them, at least one, each once.
fn tags(
    r: &mut Reader<'_>,
    fields: &Fields<'_>,
    entry: Entry<'_>,
    context: &str,
) -> Option<Vec<String>> {
    let Some(e) = fields.get("tags") else {
        if !fields.misspelled("tags") {
            r.push(
                Issue::new(
                    ProblemKind::MissingKey {
                        key: "tags".into(),
                        context: context.into(),
                    },
                    fields.key_span("tags").unwrap_or(entry.key_span),
                    "no `tags`",
                )
                .help("name the image: `tags: [\"app:{commit}\"]`"),
            );
        }
        return None;
    };
    let items = r.string_or_list(e, context, "a tag or a list of tags")?;
    if items.is_empty() {
        r.invalid_help(
            "tags",
            context,
            e.value.span,
            "the list of tags is empty",
            "name the image at least once: `tags: [\"app:{commit}\"]`",
        );
        return None;
    }
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    let mut ok = true;
    for (tag, span) in items {
        let tag = tag.trim().to_owned();
        match tag_problem(&tag) {
            Some(problem) => {
                r.invalid_help("tags", context, span, problem.reason, problem.help);
                ok = false;
            }
            None if out.contains(&tag) => {}
            None => out.push(tag),
        }
    }
    ok.then_some(out)
}

/// Why a tag of `image_build` is refused, and what to write instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagProblem {
    /// What is wrong, naming the tag or its part.
    pub reason: String,
    /// What to do about it.
    pub help: String,
}

fn problem(reason: impl Into<String>, help: impl Into<String>) -> Option<TagProblem> {
    Some(TagProblem {
        reason: reason.into(),
        help: help.into(),
    })
}

/// One character of a tag, or a placeholder standing for several.
#[derive(Clone, Copy, PartialEq)]
enum Part<'a> {
    Char(char),
    Field(&'a str),
}

const CHARSETS: &str = "a repository path is lower-case letters, digits, `.`, `_`, `-` and \
                        `/`; a tag (after `:`) is letters, digits, `_`, `.` and `-`";

/// Why `tag` is not a valid `image_build` tag, if it is not: `PATH[:TAG]`, PATH lower-case
/// components separated by `/` (no registry host), TAG 1 to [`MAX_TAG_LEN`] of
/// `[A-Za-z0-9_.-]` not starting with `.` or `-`, where each placeholder of
/// [`TAG_PLACEHOLDERS`] counts as its longest expansion.
pub fn tag_problem(tag: &str) -> Option<TagProblem> {
    let mut parts = Vec::with_capacity(tag.len());
    for token in tokens(tag) {
        match token {
            Token::Text(t) => parts.extend(t.chars().map(Part::Char)),
            Token::Field(f) if TAG_PLACEHOLDERS.iter().any(|(p, _)| *p == f) => {
                parts.push(Part::Field(f))
            }
            Token::Field(f) => {
                let help = match suggest(f, TAG_PLACEHOLDERS.iter().map(|(p, _)| *p)) {
                    Some(s) => format!("did you mean `{{{s}}}`?"),
                    None => format!("the placeholders are {}", placeholders()),
                };
                return problem(format!("`{{{f}}}` in `{tag}` is not a placeholder"), help);
            }
            Token::StrayOpen => {
                return problem(
                    format!("`{tag}` has a `{{` without its `}}`"),
                    format!("write placeholders whole: {}", placeholders()),
                );
            }
            Token::StrayClose => {
                return problem(
                    format!("`{tag}` has a `}}` that closes nothing"),
                    format!("write placeholders whole: {}", placeholders()),
                );
            }
        }
    }
    if parts.contains(&Part::Char('@')) {
        return problem(
            format!("`{tag}` names a digest"),
            "name a tag (`app:{commit}`): the digest is what the build makes, and it is recorded on the job",
        );
    }
    // The tag is after the last `:` that no `/` follows.
    let colon = parts.iter().rposition(|p| *p == Part::Char(':'));
    let slash = parts.iter().rposition(|p| *p == Part::Char('/'));
    let (path, tag_part) = match colon {
        Some(c) if slash.is_none_or(|s| s < c) => (&parts[..c], Some(&parts[c + 1..])),
        _ => (&parts[..], None),
    };
    let components: Vec<&[Part]> = path.split(|p| *p == Part::Char('/')).collect();
    if components.len() > 1 {
        let first: String = text(components[0]);
        if first.contains(['.', ':']) || first == "localhost" {
            let rest = text(&parts[components[0].len() + 1..]);
            return problem(
                format!("`{tag}` names a registry (`{first}`)"),
                format!(
                    "name only the repository under the project, `{rest}`: the registry is \
                     the server's setting, and the image is pushed under the project's name there"
                ),
            );
        }
    }
    if path
        .iter()
        .any(|p| matches!(p, Part::Char(c) if c.is_ascii_uppercase()))
    {
        let mut fixed = text(path).to_ascii_lowercase();
        if let Some(t) = tag_part {
            fixed = format!("{fixed}:{}", text(t));
        }
        return problem(
            format!("the repository path of `{tag}` has upper-case letters"),
            format!("repository paths are lower case: `{fixed}`"),
        );
    }
    for component in &components {
        if let Some(p) = component_problem(tag, component) {
            return Some(p);
        }
    }
    if path.len() > MAX_REPOSITORY_LEN {
        return problem(
            format!(
                "the repository path of `{tag}` is longer than {MAX_REPOSITORY_LEN} characters"
            ),
            "use a shorter name",
        );
    }
    match tag_part {
        Some(t) => tag_part_problem(tag, t),
        None => None,
    }
}

fn placeholders() -> String {
    let names: Vec<String> = TAG_PLACEHOLDERS
        .iter()
        .map(|(p, _)| format!("{{{p}}}"))
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    list_keys(&names)
}

/// The parts as written (placeholders in braces).
fn text(parts: &[Part<'_>]) -> String {
    parts
        .iter()
        .map(|p| match p {
            Part::Char(c) => c.to_string(),
            Part::Field(f) => format!("{{{f}}}"),
        })
        .collect()
}

/// One component of the repository path: `[a-z0-9]+` words joined by `.`, `_`, `__` or
/// dashes, as the engine's reference grammar has it.
fn component_problem(tag: &str, component: &[Part<'_>]) -> Option<TagProblem> {
    if component.is_empty() {
        return problem(
            format!("`{tag}` has an empty part in its repository path"),
            "separate the parts of the path with one `/`, e.g. `tools/app:{commit}`",
        );
    }
    let written = text(component);
    if let Some(Part::Field(f)) = component.iter().find(|p| matches!(p, Part::Field(_))) {
        return problem(
            format!("`{{{f}}}` is in the repository path of `{tag}`"),
            format!("put placeholders in the tag, after `:`, e.g. `app:{{{f}}}`"),
        );
    }
    let chars: Vec<char> = component
        .iter()
        .filter_map(|p| match p {
            Part::Char(c) => Some(*c),
            Part::Field(_) => None,
        })
        .collect();
    if let Some(c) = chars.iter().find(|c| !is_path_char(**c)) {
        return problem(
            format!("`{tag}` holds `{c}`, which an image name cannot"),
            CHARSETS,
        );
    }
    // The runs of separators between letters and digits; the first and the last are
    // before the first word and after the last one.
    let separators: Vec<&[char]> = chars
        .split(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        .collect();
    let last = separators.len() - 1;
    let separators_ok = separators.iter().enumerate().all(|(i, sep)| {
        sep.is_empty()
            || (i > 0
                && i < last
                && (*sep == ['.']
                    || *sep == ['_']
                    || *sep == ['_', '_']
                    || sep.iter().all(|c| *c == '-')))
    });
    if !separators_ok {
        return problem(
            format!("`{written}` in `{tag}` is not a repository name"),
            "each part of a repository path starts and ends with a letter or digit, its words \
             joined by one `.`, one or two `_`, or dashes",
        );
    }
    None
}

fn is_path_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')
}

fn is_tag_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

/// The tag after `:`: 1 to [`MAX_TAG_LEN`] characters once expanded.
fn tag_part_problem(tag: &str, part: &[Part<'_>]) -> Option<TagProblem> {
    let written = text(part);
    if part.is_empty() {
        return problem(
            format!("`{tag}` has nothing after `:`"),
            "write a tag after `:`, e.g. `app:{short_commit}`, or leave `:` out for `latest`",
        );
    }
    for p in part {
        if let Part::Char(c) = p
            && !is_tag_char(*c)
        {
            return problem(
                format!("the tag `{written}` of `{tag}` holds `{c}`"),
                CHARSETS,
            );
        }
    }
    if let Some(Part::Char(c @ ('.' | '-'))) = part.first() {
        return problem(
            format!("the tag `{written}` of `{tag}` starts with `{c}`"),
            "a tag starts with a letter, a digit or `_`",
        );
    }
    let longest: usize = part
        .iter()
        .map(|p| match p {
            Part::Char(_) => 1,
            Part::Field(f) => TAG_PLACEHOLDERS
                .iter()
                .find(|(p, _)| p == f)
                .map_or(0, |(_, n)| *n),
        })
        .sum();
    if longest > MAX_TAG_LEN {
        let sizes: Vec<String> = TAG_PLACEHOLDERS
            .iter()
            .map(|(p, n)| format!("`{{{p}}}` {n}"))
            .collect();
        return problem(
            format!(
                "the tag `{written}` of `{tag}` can be {longest} characters long, more than \
                 {MAX_TAG_LEN}"
            ),
            format!(
                "shorten it; placeholders count as their longest value: {}",
                sizes.join(", ")
            ),
        );
    }
    None
}

/// What the placeholders of a tag stand for in one run.
#[derive(Debug, Clone, Copy)]
pub struct TagValues<'a> {
    /// The commit the run is for (`{commit}`; `{short_commit}` is its first 12 characters).
    pub commit: &'a str,
    /// The run's id (`{run}`).
    pub run: &'a str,
    /// The branch or tag the run is for, in full (`refs/heads/main`), if any: `{ref}` is its
    /// slug (`main`), or the short commit without one.
    pub git_ref: Option<&'a str>,
}

/// `tag` (valid by [`tag_problem`]) with its placeholders replaced: `{commit}`,
/// `{short_commit}` (12 characters), `{run}`, and `{ref}` as a slug (`refs/heads/feature/X`
/// → `feature-x`: `refs/heads/` or `refs/tags/` left out, lower case, every other character
/// than a letter or digit a `-`, at most 63 characters, no `-` at either end).
pub fn expand_tag(tag: &str, values: &TagValues<'_>) -> String {
    let short: String = values.commit.chars().take(SHORT_COMMIT).collect();
    railyard_types::template::expand(tag, |field| match field {
        "commit" => Some(values.commit.to_owned()),
        "short_commit" => Some(short.clone()),
        "run" => Some(values.run.to_owned()),
        "ref" => Some(
            values
                .git_ref
                .map(ref_slug)
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| short.clone()),
        ),
        _ => None,
    })
}

/// `refs/heads/feature/X` → `feature-x`.
fn ref_slug(git_ref: &str) -> String {
    let name = git_ref
        .strip_prefix("refs/heads/")
        .or_else(|| git_ref.strip_prefix("refs/tags/"))
        .unwrap_or(git_ref);
    let slug: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let slug = slug.trim_matches('-');
    slug.chars()
        .take(MAX_REF_SLUG)
        .collect::<String>()
        .trim_end_matches('-')
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ref_slugs() {
        assert_eq!(ref_slug("refs/heads/main"), "main");
        assert_eq!(ref_slug("refs/heads/feature/X_1"), "feature-x-1");
        assert_eq!(ref_slug("refs/tags/v1.2.3"), "v1-2-3");
        assert_eq!(ref_slug("refs/pull/7/head"), "refs-pull-7-head");
        assert_eq!(ref_slug("refs/heads/--"), "");
        assert_eq!(
            ref_slug(&format!("refs/heads/{}", "a".repeat(100))).len(),
            63
        );
    }
}
