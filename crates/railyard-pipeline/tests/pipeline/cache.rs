//! `cache:` of a job: the forms it takes, and every bad input named at its place.

use crate::{ok, problem};
use railyard_pipeline::{Cache, CacheKey};

fn job(cache: &str) -> String {
    format!("env: {{ image: busybox }}\njobs:\n  a:\n    script: [x]\n    cache:\n{cache}")
}

/// The one problem of a job with this `cache:`: its line (the column is where `underlined`
/// first is on it), what it says, what it underlines.
#[track_caller]
fn bad(cache: &str, line: usize, says: &str, underlined: &str) {
    let source = job(cache);
    let column = source
        .lines()
        .nth(line - 1)
        .unwrap()
        .find(underlined)
        .unwrap()
        + 1;
    let p = problem(&source);
    let text = p.to_string();
    assert!(
        text.starts_with(&format!(".railyard.yml:{line}:{column}: ")),
        "{text}"
    );
    assert!(text.contains(says), "{text}");
    assert_eq!(p.underlined(), underlined, "{text}");
}

#[test]
fn caches_by_files_and_by_string() {
    let p = ok(&job(
        "      - name: pip\n        key: { files: [requirements.txt, constraints.txt], prefix: pip- }\n        paths: [.cache/pip/]\n      - { name: npm, key: npm-v1, paths: node_modules }\n",
    ));
    assert_eq!(
        p.jobs["a"].caches,
        vec![
            Cache {
                name: "pip".into(),
                key: CacheKey::Files {
                    files: vec!["requirements.txt".into(), "constraints.txt".into()],
                    prefix: "pip-".into()
                },
                paths: vec![".cache/pip".into()],
            },
            Cache {
                name: "npm".into(),
                key: CacheKey::Literal("npm-v1".into()),
                paths: vec!["node_modules".into()],
            },
        ]
    );
}

#[test]
fn one_cache_may_be_written_as_a_map_and_the_prefix_is_optional() {
    let p = ok(&job(
        "      name: cargo\n      key: { files: Cargo.lock }\n      paths: [target]\n",
    ));
    let cache = &p.jobs["a"].caches[0];
    assert_eq!(
        cache.key,
        CacheKey::Files {
            files: vec!["Cargo.lock".into()],
            prefix: String::new()
        }
    );
}

#[test]
fn unknown_keys_are_named_with_a_suggestion() {
    bad(
        "      - { path: [b], name: pip, key: k, paths: [a] }\n",
        6,
        "unknown key `path`",
        "path",
    );
    bad(
        "      - { name: pip, key: { files: [a], prefx: p- }, paths: [a] }\n",
        6,
        "unknown key `prefx`",
        "prefx",
    );
}

#[test]
fn name_key_and_paths_are_required() {
    bad("      - { key: k, paths: [a] }\n", 6, "`name`", "{");
    bad("      - { name: pip, paths: [a] }\n", 6, "`key`", "{");
    bad("      - { name: pip, key: k }\n", 6, "`paths`", "{");
    bad(
        "      - { name: pip, key: { prefix: p }, paths: [a] }\n",
        6,
        "`files`",
        "key",
    );
}

#[test]
fn empty_paths_and_files_are_refused() {
    bad(
        "      - { name: pip, key: k, paths: [] }\n",
        6,
        "empty",
        "[",
    );
    bad(
        "      - { name: pip, key: { files: [] }, paths: [a] }\n",
        6,
        "empty",
        "[",
    );
}

#[test]
fn absolute_and_climbing_paths_are_refused() {
    bad(
        "      - { name: pip, key: k, paths: [/root/.cache] }\n",
        6,
        "relative",
        "/root/.cache",
    );
    bad(
        "      - { name: pip, key: k, paths: [../outside] }\n",
        6,
        "leaves",
        "../outside",
    );
    bad(
        "      - { name: pip, key: k, paths: [a/../b] }\n",
        6,
        "`.`, `..` or empty parts",
        "a/../b",
    );
    bad(
        "      - { name: pip, key: k, paths: [.] }\n",
        6,
        "`.`, `..` or empty parts",
        ".",
    );
    bad(
        "      - { name: pip, key: { files: [/etc/passwd] }, paths: [a] }\n",
        6,
        "relative",
        "/etc/passwd",
    );
    bad(
        "      - { name: pip, key: { files: [../secret] }, paths: [a] }\n",
        6,
        "leaves",
        "../secret",
    );
}

#[test]
fn duplicate_names_and_overlapping_paths_are_refused() {
    bad(
        "      - { name: pip, key: k, paths: [a] }\n      - { name: pip, key: k, paths: [b] }\n",
        7,
        "a second cache is named `pip`",
        "pip",
    );
    bad(
        "      - { name: pip, key: k, paths: [a] }\n      - { name: npm, key: k, paths: [a/b] }\n",
        7,
        "overlaps `a`",
        "npm",
    );
    bad(
        "      - { name: pip, key: k, paths: [a, a/] }\n",
        6,
        "overlaps",
        "a/",
    );
}

#[test]
fn names_and_keys_with_path_tricks_are_refused() {
    for (name, says) in [
        ("../x", "holds '/'"),
        ("Pip", "holds 'P'"),
        (".hidden", "holds '.'"),
        ("a b", "holds ' '"),
    ] {
        let src = format!("      - {{ name: \"{name}\", key: k, paths: [a] }}\n");
        let p = problem(&job(&src));
        assert!(
            p.to_string().contains(says) || p.to_string().contains("must"),
            "{name}: {p}"
        );
        assert!(p.to_string().starts_with(".railyard.yml:6:17: "), "{p}");
    }
    for key in ["../../etc", "a/b", "k\u{0}", ".", "x y"] {
        let src = format!("      - {{ name: pip, key: {key:?}, paths: [a] }}\n");
        let p = problem(&job(&src));
        assert!(
            p.to_string().starts_with(".railyard.yml:6:27: "),
            "{key}: {p}"
        );
    }
    let long = "k".repeat(200);
    let p = problem(&job(&format!(
        "      - {{ name: pip, key: {long}, paths: [a] }}\n"
    )));
    assert!(p.to_string().contains("at most 128"), "{p}");
    bad(
        "      - { name: pip, key: { files: [a], prefix: ../ }, paths: [a] }\n",
        6,
        "holds '/'",
        "../",
    );
}

#[test]
fn a_cache_that_is_not_a_map_or_list_says_what_it_takes() {
    let p = problem(&job("      4\n"));
    assert!(p.to_string().contains("a list of caches"), "{p}");
}
