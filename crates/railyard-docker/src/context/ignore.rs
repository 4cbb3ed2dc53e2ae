//! `.dockerignore` as Docker reads it: a port of moby's `patternmatcher` and
//! `ignorefile.ReadAll`, not gitignore. Patterns are cleaned like Go's `filepath.Clean` and
//! anchored at the context root; `*` and `?` stop at `/`, `**` crosses folders; `!` re-includes;
//! the last matching pattern wins; a pattern that matches a folder matches all below it.

use regex::Regex;
use std::io;
use std::path::Path;

/// The parsed `.dockerignore` of a build context.
#[derive(Debug, Clone, Default)]
pub struct DockerIgnore {
    patterns: Vec<Pattern>,
    exclusions: bool,
    invalid: Vec<String>,
}

#[derive(Debug, Clone)]
struct Pattern {
    /// The cleaned pattern, without its `!`.
    cleaned: String,
    /// `!pattern`: re-includes what earlier patterns excluded.
    exclusion: bool,
    kind: MatchKind,
}

#[derive(Debug, Clone)]
enum MatchKind {
    Exact,
    /// `dir/**`: everything that starts with `dir/`.
    Prefix(String),
    /// `**/name`: everything that ends with `/name`, and `name` itself.
    Suffix(String),
    Regex(Regex),
}

impl DockerIgnore {
    /// Reads the lines of a `.dockerignore` file. Patterns with a syntax error never match;
    /// [`DockerIgnore::invalid_patterns`] lists them (Docker would refuse the build).
    pub fn parse(text: &str) -> Self {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut ignore = DockerIgnore::default();
        for line in text.lines() {
            // Only a `#` in the first column starts a comment, as in moby.
            if line.starts_with('#') {
                continue;
            }
            let mut pattern = line.trim();
            if pattern.is_empty() {
                continue;
            }
            let exclusion = pattern.starts_with('!');
            if exclusion {
                pattern = pattern[1..].trim();
            }
            let mut cleaned = String::new();
            if !pattern.is_empty() {
                cleaned = clean(pattern);
                if cleaned.len() > 1 && cleaned.starts_with('/') {
                    cleaned.remove(0);
                }
            }
            match Pattern::new(cleaned, exclusion) {
                Some(p) => {
                    ignore.exclusions |= p.exclusion;
                    ignore.patterns.push(p);
                }
                None => ignore.invalid.push(line.trim().to_string()),
            }
        }
        ignore
    }

    /// Reads `<context_dir>/.dockerignore`; no file means nothing is ignored. A pattern with a
    /// syntax error is an `InvalidData` error naming it.
    pub fn load(context_dir: &Path) -> io::Result<Self> {
        let path = context_dir.join(".dockerignore");
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(e),
        };
        let ignore = Self::parse(&text);
        if let Some(bad) = ignore.invalid.first() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: syntax error in pattern `{bad}`", path.display()),
            ));
        }
        Ok(ignore)
    }

    /// True when this `/`-separated path, relative to the context, is left out of the build
    /// context (moby's `MatchesOrParentMatches`).
    pub fn is_excluded(&self, rel_path: &str) -> bool {
        let file = clean(rel_path);
        if file == "." {
            // Never exclude the whole context.
            return false;
        }
        let parents: Vec<&str> = match file.rfind('/') {
            Some(0) | None => Vec::new(),
            Some(end) => file[..end]
                .match_indices('/')
                .map(|(i, _)| &file[..i])
                .chain(std::iter::once(&file[..end]))
                .collect(),
        };
        let mut matched = false;
        for pattern in &self.patterns {
            // An inclusion cannot change an excluded path, nor an exclusion a kept one.
            if pattern.exclusion != matched {
                continue;
            }
            let hit = pattern.matches(&file) || parents.iter().any(|p| pattern.matches(p));
            if hit {
                matched = !pattern.exclusion;
            }
        }
        matched
    }

    /// True when some pattern starts with `!`: an excluded folder may still hold kept files.
    pub fn has_exclusions(&self) -> bool {
        self.exclusions
    }

    /// True when a `!` pattern may re-include something below this excluded folder, so the
    /// walk must enter it (moby's rule: the exclusion pattern starts with `dir/`).
    pub fn may_reinclude_below(&self, dir_rel: &str) -> bool {
        let dir_slash = format!("{dir_rel}/");
        self.patterns
            .iter()
            .filter(|p| p.exclusion)
            .any(|p| format!("{}/", p.cleaned).starts_with(&dir_slash))
    }

    /// The lines that could not be parsed as patterns.
    pub fn invalid_patterns(&self) -> &[String] {
        &self.invalid
    }

    /// True when there are no patterns at all.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }
}

impl Pattern {
    /// Compiles a cleaned pattern; `None` for a syntax error (or a lone `!`).
    fn new(cleaned: String, exclusion: bool) -> Option<Pattern> {
        if cleaned.is_empty() || !valid_glob(&cleaned) {
            return None;
        }
        let kind = compile(&cleaned)?;
        Some(Pattern {
            cleaned,
            exclusion,
            kind,
        })
    }

    fn matches(&self, path: &str) -> bool {
        match &self.kind {
            MatchKind::Exact => path == self.cleaned,
            MatchKind::Prefix(prefix) => path.starts_with(prefix.as_str()),
            MatchKind::Suffix(suffix) => {
                path.ends_with(suffix.as_str())
                    || suffix.strip_prefix('/').is_some_and(|s| path == s)
            }
            MatchKind::Regex(re) => re.is_match(path),
        }
    }
}

/// moby's `Pattern.compile` with `/` as separator: plain patterns compare as strings, `x/**`
/// as a prefix, `**x` as a suffix, the rest become an anchored regex.
fn compile(pattern: &str) -> Option<MatchKind> {
    #[derive(PartialEq)]
    enum Kind {
        Exact,
        Prefix,
        Suffix,
        Regex,
    }
    let mut re = String::from("^");
    let mut kind = Kind::Exact;
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    let mut first = true;
    while i < chars.len() {
        let ch = chars[i];
        i += 1;
        if ch == '*' {
            if chars.get(i) == Some(&'*') {
                i += 1;
                // `**/` is the same as `**`.
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                if i == chars.len() {
                    if kind == Kind::Exact {
                        kind = Kind::Prefix;
                    } else {
                        re.push_str(".*");
                        kind = Kind::Regex;
                    }
                } else {
                    re.push_str("(.*/)?");
                    kind = Kind::Regex;
                }
                if first {
                    kind = Kind::Suffix;
                }
            } else {
                re.push_str("[^/]*");
                kind = Kind::Regex;
            }
        } else if ch == '?' {
            re.push_str("[^/]");
            kind = Kind::Regex;
        } else if ".+()|{}$".contains(ch) {
            re.push('\\');
            re.push(ch);
        } else if ch == '\\' {
            if i < chars.len() {
                re.push('\\');
                re.push(chars[i]);
                i += 1;
                kind = Kind::Regex;
            } else {
                re.push_str("\\\\");
            }
        } else if ch == '[' || ch == ']' {
            re.push(ch);
            kind = Kind::Regex;
        } else {
            re.push(ch);
        }
        first = false;
    }
    Some(match kind {
        Kind::Exact => MatchKind::Exact,
        // Strip the trailing `**`.
        Kind::Prefix => MatchKind::Prefix(pattern[..pattern.len() - 2].to_string()),
        // Strip the leading `**`.
        Kind::Suffix => MatchKind::Suffix(pattern[2..].to_string()),
        Kind::Regex => {
            re.push('$');
            MatchKind::Regex(Regex::new(&re).ok()?)
        }
    })
}

/// Go's `filepath.Match` syntax check: brackets closed and non-empty, ranges well formed,
/// no trailing backslash.
fn valid_glob(pattern: &str) -> bool {
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    // One escaped-or-plain class character; `None` for a syntax error.
    let esc = |i: &mut usize| -> Option<char> {
        let mut c = *chars.get(*i)?;
        if c == '-' || c == ']' {
            return None;
        }
        if c == '\\' {
            *i += 1;
            c = *chars.get(*i)?;
        }
        *i += 1;
        // Go wants something after every class character (at least the closing `]`).
        (*i < chars.len()).then_some(c)
    };
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                if i + 1 >= chars.len() {
                    return false;
                }
                i += 2;
            }
            '[' => {
                i += 1;
                if chars.get(i) == Some(&'^') {
                    i += 1;
                }
                let mut ranges = 0;
                loop {
                    if chars.get(i) == Some(&']') && ranges > 0 {
                        i += 1;
                        break;
                    }
                    if esc(&mut i).is_none() {
                        return false;
                    }
                    if chars.get(i) == Some(&'-') {
                        i += 1;
                        if esc(&mut i).is_none() {
                            return false;
                        }
                    }
                    ranges += 1;
                }
            }
            _ => i += 1,
        }
    }
    true
}

/// Go's `path.Clean`: the shortest equivalent path, purely lexically.
pub(crate) fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

#[cfg(test)]
#[path = "ignore_tests.rs"]
mod tests;
