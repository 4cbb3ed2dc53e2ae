//! `cache:` of a job: named dependency caches mounted at paths of the workspace and kept
//! between runs. Each cache has a name (unique in the job), a key (a plain string, or a
//! prefix and repository files whose contents are hashed when the job runs) and the paths it
//! holds. The paths stay inside the workspace and never overlap, since each becomes a mount.

use crate::decode::check_relative;
use crate::errors::{Issue, ProblemKind};
use crate::model::{Cache, CacheKey};
use crate::read::{Entry, Reader, nested};
use crate::yaml::{Node, Span, Value};

pub(crate) const CACHE_KEYS: &[&str] = &["name", "key", "paths"];
pub(crate) const CACHE_KEY_KEYS: &[&str] = &["files", "prefix"];

/// The longest cache name: it is part of Docker labels and of the server's rows.
pub const MAX_CACHE_NAME_LEN: usize = 64;
/// The longest key string or prefix.
pub const MAX_CACHE_KEY_LEN: usize = 128;

/// Why a cache name, key or prefix is refused, or `None` when it is fine. Names are
/// `[a-z0-9]` then `[a-z0-9._-]`; keys and prefixes `[A-Za-z0-9._-]` (a prefix may be
/// empty): nothing that reads as a path or needs quoting, wherever it is used.
pub fn cache_word_problem(text: &str, what: CacheWord) -> Option<String> {
    let (max, lower_only, may_be_empty) = match what {
        CacheWord::Name => (MAX_CACHE_NAME_LEN, true, false),
        CacheWord::Key => (MAX_CACHE_KEY_LEN, false, false),
        CacheWord::Prefix => (MAX_CACHE_KEY_LEN / 2, false, true),
    };
    if text.is_empty() {
        return (!may_be_empty).then(|| "must not be empty".to_owned());
    }
    if text.len() > max {
        return Some(format!("is {} characters; at most {max}", text.len()));
    }
    let allowed = |c: char| {
        c.is_ascii_digit()
            || c.is_ascii_lowercase()
            || (!lower_only && c.is_ascii_uppercase())
            || matches!(c, '.' | '_' | '-')
    };
    if let Some(c) = text.chars().find(|c| !allowed(*c)) {
        let letters = if lower_only {
            "lower-case letters"
        } else {
            "letters"
        };
        return Some(format!(
            "holds {c:?}: use {letters}, digits, `.`, `_` and `-`"
        ));
    }
    if what == CacheWord::Name && !text.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Some("must start with a letter or digit".to_owned());
    }
    if text.starts_with('.') {
        return Some("must not start with `.`".to_owned());
    }
    None
}

/// Which word of a cache [`cache_word_problem`] checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheWord {
    /// `name`.
    Name,
    /// `key` as a plain string.
    Key,
    /// `key.prefix`.
    Prefix,
}

/// `cache:`: one cache map or a list of them.
pub(crate) fn caches(r: &mut Reader<'_>, entry: Entry<'_>, context: &str) -> Vec<Cache> {
    let items: Vec<&Node> = match &entry.value.value {
        Value::Seq(items) => items.iter().collect(),
        Value::Map(_) => vec![entry.value],
        _ => {
            r.wrong_type(
                entry.key,
                context,
                entry.value,
                "a list of caches, each `{ name, key, paths }`",
            );
            return Vec::new();
        }
    };
    let inner = nested("cache", context);
    let mut out: Vec<(Cache, Span)> = Vec::new();
    for item in items {
        let Some((cache, name_span)) = one(r, item, &inner) else {
            continue;
        };
        if out.iter().any(|(c, _)| c.name == cache.name) {
            r.invalid_help(
                "name",
                &inner,
                name_span,
                format!("a second cache is named `{}`", cache.name),
                "give each cache of the job its own name",
            );
            continue;
        }
        let mine: Vec<&String> = cache.paths.iter().collect();
        let clash = out.iter().find_map(|(c, _)| {
            c.paths
                .iter()
                .find(|p| mine.iter().any(|m| overlaps(p, m)))
                .map(|p| (c.name.clone(), p.clone()))
        });
        if let Some((other, path)) = clash {
            r.invalid_help(
                "paths",
                &inner,
                name_span,
                format!(
                    "a path of cache `{}` overlaps `{path}` of cache `{other}`",
                    cache.name
                ),
                "each path is mounted on its own: keep the caches' paths apart",
            );
            continue;
        }
        out.push((cache, name_span));
    }
    out.into_iter().map(|(c, _)| c).collect()
}

/// One path inside the other (or the same).
fn overlaps(a: &str, b: &str) -> bool {
    let inside = |x: &str, y: &str| x == y || x.starts_with(&format!("{y}/"));
    inside(a, b) || inside(b, a)
}

fn one(r: &mut Reader<'_>, node: &Node, context: &str) -> Option<(Cache, Span)> {
    let entry = Entry {
        key: "cache",
        key_span: node.span,
        value: node,
    };
    if !matches!(node.value, Value::Map(_)) {
        r.wrong_type(
            "cache",
            context,
            node,
            "a map with `name`, `key` and `paths`",
        );
        return None;
    }
    let fields = r.fields(entry, context, CACHE_KEYS, crate::read::Extra::Nothing)?;
    let missing = |r: &mut Reader<'_>, key: &str, help: &str| {
        if !fields.misspelled(key) {
            r.push(
                Issue::new(
                    ProblemKind::MissingKey {
                        key: key.into(),
                        context: context.to_owned(),
                    },
                    fields.key_span(key).unwrap_or(node.span),
                    format!("no `{key}`"),
                )
                .help(help.to_owned()),
            );
        }
    };
    let example = "e.g. `{ name: pip, key: { files: [requirements.txt] }, paths: [.cache/pip] }`";
    let name = match fields.get("name") {
        None => {
            missing(r, "name", &format!("name the cache, {example}"));
            None
        }
        Some(e) => {
            r.string(e, context)
                .and_then(|name| match cache_word_problem(&name, CacheWord::Name) {
                    Some(reason) => {
                        r.invalid("name", context, e.value.span, reason);
                        None
                    }
                    None => Some((name, e.value.span)),
                })
        }
    };
    let named = match &name {
        Some((n, _)) => format!("in cache `{n}` of {}", context.trim_start_matches("in ")),
        None => context.to_owned(),
    };
    let key = match fields.get("key") {
        None => {
            missing(
                r,
                "key",
                &format!("say what the cache is kept by, {example}"),
            );
            None
        }
        Some(e) => key(r, e, &named),
    };
    let paths = match fields.get("paths") {
        None => {
            missing(r, "paths", &format!("name the folders to keep, {example}"));
            None
        }
        Some(e) => paths(r, e, &named),
    };
    let (name, span) = name?;
    Some((
        Cache {
            name,
            key: key?,
            paths: paths?,
        },
        span,
    ))
}

fn key(r: &mut Reader<'_>, entry: Entry<'_>, context: &str) -> Option<CacheKey> {
    if !matches!(entry.value.value, Value::Map(_)) {
        let text = r.string(entry, context)?;
        return match cache_word_problem(&text, CacheWord::Key) {
            Some(reason) => {
                r.invalid("key", context, entry.value.span, reason);
                None
            }
            None => Some(CacheKey::Literal(text)),
        };
    }
    let (fields, inner) = r.sub_fields(entry, context, CACHE_KEY_KEYS)?;
    let prefix = match fields.get("prefix") {
        None => String::new(),
        Some(e) => {
            let text = r.string(e, &inner)?;
            if let Some(reason) = cache_word_problem(&text, CacheWord::Prefix) {
                r.invalid("prefix", &inner, e.value.span, reason);
                return None;
            }
            text
        }
    };
    let files = match fields.get("files") {
        None => {
            if !fields.misspelled("files") {
                r.push(
                    Issue::new(
                        ProblemKind::MissingKey {
                            key: "files".into(),
                            context: inner.clone(),
                        },
                        entry.key_span,
                        "no `files`",
                    )
                    .help("name the files whose contents make the key, e.g. `files: [Cargo.lock]`"),
                );
            }
            return None;
        }
        Some(e) => {
            let files = r.string_or_list(e, &inner, "a file or a list of files")?;
            if files.is_empty() {
                r.invalid("files", &inner, e.value.span, "the list is empty");
                return None;
            }
            let count = files.len();
            let files: Vec<String> = files
                .into_iter()
                .filter_map(|(text, span)| check_relative(r, "files", &text, span, &inner))
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            (files.len() == count).then_some(files)?
        }
    };
    Some(CacheKey::Files { files, prefix })
}

fn paths(r: &mut Reader<'_>, entry: Entry<'_>, context: &str) -> Option<Vec<String>> {
    let list = r.string_or_list(entry, context, "a path or a list of paths")?;
    if list.is_empty() {
        r.invalid_help(
            "paths",
            context,
            entry.value.span,
            "the list is empty",
            "name the folders the cache keeps, e.g. `paths: [.cache/pip]`",
        );
        return None;
    }
    let mut out: Vec<String> = Vec::new();
    let mut ok = true;
    for (text, span) in list {
        let trimmed = text.trim().trim_end_matches('/');
        match railyard_types::path::plain_relative(trimmed) {
            Ok(_) if out.iter().any(|p| overlaps(p, trimmed)) => {
                r.invalid(
                    "paths",
                    context,
                    span,
                    format!("`{trimmed}` overlaps another path of this cache"),
                );
                ok = false;
            }
            Ok(_) => out.push(trimmed.to_owned()),
            Err(_) => {
                // The same messages as every other path of the file.
                if check_relative(r, "paths", trimmed, span, context).is_some() {
                    r.invalid_help(
                        "paths",
                        context,
                        span,
                        "the path has `.`, `..` or empty parts",
                        "write the folder's plain path inside the workspace, e.g. `.cache/pip`",
                    );
                }
                ok = false;
            }
        }
    }
    ok.then_some(out)
}
