//! The one rule for a relative path that untrusted text names (a pipeline's `artifacts:` and
//! `env.dockerfile`, an artifact's name in an upload or a tar, a link's target, a layer
//! entry): it must stay inside the folder it is relative to. Resolved as text only, before
//! any file system is asked; what links on disk do is the caller's to contain (cap-std).

use std::fmt;
use std::path::PathBuf;

/// Why a path is not a relative path that stays inside its folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnsafePath {
    /// Nothing, or only spaces.
    Empty,
    /// Starts at a root (`/etc`), or names a drive such as `C:` (anywhere: Windows reads it).
    Absolute,
    /// Its `..` parts climb above the folder it starts in.
    Climbs,
    /// Holds a backslash, which some systems read as a separator.
    Backslash,
    /// Holds a NUL byte, which no file name may.
    Nul,
    /// Holds `.`, `..` or empty parts where a plain name is asked for (see [`plain_relative`]).
    NotPlain,
}

impl fmt::Display for UnsafePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UnsafePath::Empty => "the path is empty",
            UnsafePath::Absolute => "the path is absolute",
            UnsafePath::Climbs => "the path leaves its folder (too many `..`)",
            UnsafePath::Backslash => "the path holds a backslash",
            UnsafePath::Nul => "the path holds a NUL byte",
            UnsafePath::NotPlain => "the path has `.`, `..` or empty parts",
        })
    }
}

impl std::error::Error for UnsafePath {}

/// `text` as a relative path inside its folder, with `.`, empty parts and the `..` that do
/// not climb out resolved (`a/./b/../c` is `a/c`; `.` is the folder itself, an empty path),
/// or why it is not one.
pub fn relative_inside(text: &str) -> Result<PathBuf, UnsafePath> {
    Ok(parts_inside(text)?.iter().collect())
}

/// `text` as a relative path of plain names only (`a/b.txt`), for names that must be written
/// one way, such as a stored artifact's; or why not.
pub fn plain_relative(text: &str) -> Result<PathBuf, UnsafePath> {
    let parts = parts_inside(text)?;
    if parts.is_empty() || text.split('/').count() != parts.len() {
        return Err(UnsafePath::NotPlain);
    }
    Ok(parts.iter().collect())
}

fn parts_inside(text: &str) -> Result<Vec<&str>, UnsafePath> {
    if text.trim().is_empty() {
        return Err(UnsafePath::Empty);
    }
    if text.contains('\0') {
        return Err(UnsafePath::Nul);
    }
    if text.starts_with('/') || text.split('/').any(is_drive) {
        return Err(UnsafePath::Absolute);
    }
    if text.contains('\\') {
        return Err(UnsafePath::Backslash);
    }
    resolve(text)
}

/// The names of a `/`-separated relative path once `.`, empty parts and `..` are resolved as
/// text, or [`UnsafePath::Climbs`] when a `..` climbs above the start. Only the climbing rule:
/// for names read from a Linux file system (a layer's entries), where a backslash or a colon
/// is part of a name; names Railyard writes or is given go through [`relative_inside`].
pub fn resolve(text: &str) -> Result<Vec<&str>, UnsafePath> {
    let mut parts = Vec::new();
    for part in text.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(UnsafePath::Climbs);
                }
            }
            name => parts.push(name),
        }
    }
    Ok(parts)
}

/// `C:` or `c:x`: a drive on Windows, wherever it stands.
fn is_drive(part: &str) -> bool {
    let b = part.as_bytes();
    b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':'
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::path::{Component, Path};

    #[test]
    fn paths_inside_their_folder_pass_resolved() {
        for (text, resolved) in [
            ("a/b.txt", "a/b.txt"),
            ("./ci/Dockerfile", "ci/Dockerfile"),
            ("a//b/", "a/b"),
            ("a/../b", "b"),
            ("a/b/../../c", "c"),
            (".", ""),
            ("a/..", ""),
            ("C", "C"),
            ("ab:c", "ab:c"),
        ] {
            assert_eq!(relative_inside(text), Ok(PathBuf::from(resolved)), "{text}");
        }
    }

    #[test]
    fn paths_that_leave_or_cannot_be_names_are_refused_saying_why() {
        for (text, why) in [
            ("", UnsafePath::Empty),
            ("  ", UnsafePath::Empty),
            ("/etc/passwd", UnsafePath::Absolute),
            ("C:", UnsafePath::Absolute),
            ("c:/x", UnsafePath::Absolute),
            ("a/./C:", UnsafePath::Absolute),
            ("C:\\x", UnsafePath::Absolute),
            ("\\\\server\\share", UnsafePath::Backslash),
            ("a\\..\\..\\x", UnsafePath::Backslash),
            ("..", UnsafePath::Climbs),
            ("../x", UnsafePath::Climbs),
            ("a/../../x", UnsafePath::Climbs),
            ("a/\0", UnsafePath::Nul),
        ] {
            assert_eq!(relative_inside(text), Err(why), "{text:?}");
            assert_eq!(plain_relative(text), Err(why), "{text:?}");
        }
    }

    #[test]
    fn plain_paths_are_names_only() {
        assert_eq!(plain_relative("a/b.txt"), Ok(PathBuf::from("a/b.txt")));
        for bad in ["./a", "a//b", "a/.", "a/../b", ".", "a/./b", "out/"] {
            assert_eq!(plain_relative(bad), Err(UnsafePath::NotPlain), "{bad}");
        }
    }

    /// Path-like text: names, `.`, `..`, empty parts, roots, drives and odd bytes.
    fn path_text() -> impl Strategy<Value = String> {
        let part = prop_oneof![
            Just("..".to_string()),
            Just(".".to_string()),
            Just(String::new()),
            Just("C:".to_string()),
            Just("\\".to_string()),
            Just("\0".to_string()),
            "[a-z.]{1,4}",
        ];
        prop::collection::vec(part, 0..8).prop_map(|parts| parts.join("/"))
    }

    proptest! {
        #![proptest_config(railyard_test_support::fuzz_config())]

        /// Whatever is accepted, joined to a folder, stays in it: no component climbs or
        /// roots, and it is its own resolution.
        #[test]
        fn what_passes_stays_inside(text in path_text()) {
            if let Ok(path) = relative_inside(&text) {
                prop_assert!(path.components().all(|c| matches!(c, Component::Normal(_))));
                if !path.as_os_str().is_empty() {
                    prop_assert_eq!(relative_inside(path.to_str().unwrap()), Ok(path.clone()));
                }
                prop_assert!(Path::new("/base").join(&path).starts_with("/base"));
                let plain = plain_relative(&text);
                prop_assert!(plain.is_err() || plain == Ok(path));
            }
        }

        /// A path is refused exactly when resolving its `..` as text climbs above the start,
        /// it is rooted, or it holds what no portable name holds.
        #[test]
        fn refusal_matches_a_walk_of_the_parts(text in path_text()) {
            let mut depth = 0i32;
            let mut climbs = false;
            for part in text.split('/') {
                match part {
                    "" | "." => {}
                    ".." => { depth -= 1; climbs |= depth < 0; }
                    _ => depth += 1,
                }
            }
            let odd = text.trim().is_empty() || text.starts_with('/') || text.contains('\\')
                || text.contains('\0') || text.split('/').any(|p| p == "C:");
            prop_assert_eq!(relative_inside(&text).is_err(), climbs || odd, "{:?}", text);
        }
    }
}
