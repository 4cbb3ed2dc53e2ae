//! Property tests of `.dockerignore` (a committer's file) and of packing a context: random
//! pattern files and paths, contexts of random files under random patterns. Never a panic;
//! the files sent are exactly those the patterns keep, and the tar holds exactly them.
//!
//! `RAILYARD_FUZZ_CASES` sets the cases per property (default 128; see docs/security.md).

use super::ignore::clean;
use super::*;
use proptest::prelude::*;
use std::time::{Duration, Instant};

/// Pattern pieces with a meaning to the matcher, and plain names.
const PIECES: &[&str] = &[
    "*", "**", "?", "/", "!", "[a-c]", "[^x]", "[", "]", "\\", "\\*", ".", "..", "a", "b", "x.go",
    "#", " ", "-", "^", "$", "(", "{", "|", "é", "\n",
];

fn pattern_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,200}",
        prop::collection::vec(prop::sample::select(PIECES), 0..40).prop_map(|p| p.concat()),
    ]
}

fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,40}",
        prop::collection::vec(
            prop::sample::select(&["a", "b", "x.go", ".", "..", "", "é", "*"][..]),
            0..6
        )
        .prop_map(|p| p.join("/")),
    ]
}

/// Relative file paths for a context on disk.
fn context_files() -> impl Strategy<Value = Vec<String>> {
    prop::collection::btree_set(
        prop::collection::vec(prop::sample::select(&["a", "b", "c.go", "d.txt"][..]), 1..4)
            .prop_map(|p| p.join("/")),
        0..10,
    )
    .prop_map(|set| {
        // A path can be a file or a folder, not both.
        let all: Vec<String> = set.into_iter().collect();
        all.iter()
            .filter(|p| !all.iter().any(|q| q.starts_with(&format!("{p}/"))))
            .cloned()
            .collect()
    })
}

fn context_patterns() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(
        prop::sample::select(
            &[
                "a",
                "a/",
                "b/*",
                "**/*.go",
                "*.txt",
                "!a/b",
                "!**/c.go",
                "a/**",
                "!a/*/d.txt",
                "?",
                "[ab]",
                "/b",
                "a/../b",
                "Dockerfile",
            ][..],
        )
        .prop_map(str::to_owned),
        0..5,
    )
}

proptest! {
    #![proptest_config(railyard_test_support::fuzz_config())]

    #[test]
    fn any_pattern_file_and_path_are_answered(
        text in pattern_text(),
        paths in prop::collection::vec(path(), 0..8),
    ) {
        let ignore = DockerIgnore::parse(&text);
        for p in &paths {
            ignore.is_excluded(p);
            ignore.may_reinclude_below(p);
        }
        prop_assert!(!ignore.is_excluded("."));
    }

    #[test]
    fn clean_is_idempotent(p in path()) {
        let once = clean(&p);
        prop_assert_eq!(clean(&once), once);
    }

    #[test]
    fn a_literal_pattern_excludes_its_path_and_everything_below(
        parts in prop::collection::vec("[a-z0-9_]{1,6}", 1..4),
        child in "[a-z0-9_]{1,6}",
    ) {
        let p = parts.join("/");
        let ignore = DockerIgnore::parse(&p);
        prop_assert!(ignore.is_excluded(&p));
        let below = format!("{p}/{child}");
        prop_assert!(ignore.is_excluded(&below));
        let both = format!("{p}\n!{p}");
        let kept = DockerIgnore::parse(&both);
        prop_assert!(!kept.is_excluded(&p));
    }

    /// What `collect` sends is what the patterns keep, and the tar holds exactly that.
    #[test]
    fn a_context_sends_what_its_patterns_keep(
        files in context_files(),
        patterns in context_patterns(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        for f in &files {
            let p = dir.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, f.as_bytes()).unwrap();
        }
        std::fs::write(dir.path().join(".dockerignore"), patterns.join("\n")).unwrap();
        let ignore = DockerIgnore::parse(&patterns.join("\n"));
        let collected = collect(dir.path()).unwrap();
        for f in &collected {
            prop_assert!(
                ALWAYS_SENT.contains(&f.rel.as_str()) || !ignore.is_excluded(&f.rel),
                "{} sent under {:?}", f.rel, patterns
            );
        }
        for f in &files {
            // Docker's walk enters an excluded folder only when a `!` pattern starts with it.
            let skipped_folder = f.match_indices('/').any(|(i, _)| {
                let dir = &f[..i];
                ignore.is_excluded(dir)
                    && !(ignore.has_exclusions() && ignore.may_reinclude_below(dir))
            });
            let sent = collected.iter().any(|c| &c.rel == f);
            prop_assert_eq!(
                sent,
                !ignore.is_excluded(f) && !skipped_folder,
                "{} under {:?}", f, patterns
            );
        }
        let bytes = tar(&collected, &[]).unwrap();
        let mut names = Vec::new();
        for e in ::tar::Archive::new(bytes.as_slice()).entries().unwrap() {
            let e = e.unwrap();
            names.push(e.path().unwrap().display().to_string().trim_end_matches('/').to_owned());
        }
        let rels: Vec<String> = collected.iter().map(|c| c.rel.clone()).collect();
        prop_assert_eq!(names, rels);
    }
}

/// Patterns compile to regexes: long ones are either refused or matched quickly, against
/// the longest path a context can hold (Linux's `PATH_MAX`, 4,096 bytes).
#[test]
fn long_patterns_and_paths_are_answered_quickly() {
    let patterns = [
        "**/".repeat(1_000) + "x",
        "*a".repeat(2_000),
        "[a-z]?".repeat(1_000),
        "\\".repeat(4_001),
        "[".repeat(4_000),
        "a/".repeat(2_000) + "**",
    ];
    let path = "a/".repeat(2_047) + "b";
    for p in &patterns {
        let started = Instant::now();
        let ignore = DockerIgnore::parse(p);
        ignore.is_excluded(&path);
        ignore.may_reinclude_below(&path);
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{:?}",
            started.elapsed()
        );
    }
}
