//! Cases ported from moby's `patternmatcher_test.go` and `ignorefile` rules.

use super::*;

fn ignore(patterns: &[&str]) -> DockerIgnore {
    DockerIgnore::parse(&patterns.join("\n"))
}

fn matches(patterns: &[&str], path: &str) -> bool {
    ignore(patterns).is_excluded(path)
}

#[test]
fn simple_cases() {
    assert!(matches(&["*"], "fileutils.go"));
    assert!(matches(&["*.go"], "fileutils.go"));
    // An exclusion followed by an inclusion: the last match wins.
    assert!(matches(&["!fileutils.go", "*.go"], "fileutils.go"));
    assert!(!matches(&["*.go", "!fileutils.go"], "fileutils.go"));
    // A folder pattern followed by an exception.
    assert!(!matches(&["docs", "!docs/README.md"], "docs/README.md"));
    assert!(!matches(&["docs/", "!docs/README.md"], "docs/README.md"));
    assert!(!matches(&["docs/*", "!docs/README.md"], "docs/README.md"));
    // The context itself is never excluded.
    assert!(!matches(&["*.go"], "."));
    assert!(!matches(&["**"], "."));
    assert!(!matches(&[], "/any/path/there"));
}

#[test]
fn malformed_patterns_are_reported_and_never_match() {
    for bad in ["[", "!"] {
        let ig = ignore(&[bad]);
        assert_eq!(ig.invalid_patterns(), [bad], "{bad}");
        assert!(!ig.is_excluded("/any/path/there"));
    }
}

#[test]
fn moby_matches_table() {
    let cases: &[(&str, &str, bool)] = &[
        ("**", "file", true),
        ("**", "file/", true),
        ("**/", "file", true),
        ("**/", "file/", true),
        ("**", "/", true),
        ("**/", "/", true),
        ("**", "dir/file", true),
        ("**/", "dir/file", true),
        ("**", "dir/file/", true),
        ("**/", "dir/file/", true),
        ("**/**", "dir/file", true),
        ("**/**", "dir/file/", true),
        ("dir/**", "dir/file", true),
        ("dir/**", "dir/file/", true),
        ("dir/**", "dir/dir2/file", true),
        ("dir/**", "dir/dir2/file/", true),
        ("**/dir", "dir", true),
        ("**/dir", "dir/file", true),
        ("**/dir2/*", "dir/dir2/file", true),
        ("**/dir2/*", "dir/dir2/file/", true),
        ("**/dir2/**", "dir/dir2/dir3/file", true),
        ("**/dir2/**", "dir/dir2/dir3/file/", true),
        ("**file", "file", true),
        ("**file", "dir/file", true),
        ("**/file", "dir/file", true),
        ("**file", "dir/dir/file", true),
        ("**/file", "dir/dir/file", true),
        ("**/file*", "dir/dir/file", true),
        ("**/file*", "dir/dir/file.txt", true),
        ("**/file*txt", "dir/dir/file.txt", true),
        ("**/file*.txt", "dir/dir/file.txt", true),
        ("**/file*.txt*", "dir/dir/file.txt", true),
        ("**/**/*.txt", "dir/dir/file.txt", true),
        ("**/**/*.txt2", "dir/dir/file.txt", false),
        ("**/*.txt", "file.txt", true),
        ("**/**/*.txt", "file.txt", true),
        ("a**/*.txt", "a/file.txt", true),
        ("a**/*.txt", "a/dir/file.txt", true),
        ("a**/*.txt", "a/dir/dir/file.txt", true),
        ("a/*.txt", "a/dir/file.txt", false),
        ("a/*.txt", "a/file.txt", true),
        ("a/*.txt**", "a/file.txt", true),
        ("a[b-d]e", "ae", false),
        ("a[b-d]e", "ace", true),
        ("a[b-d]e", "aae", false),
        ("a[^b-d]e", "aze", true),
        (".*", ".foo", true),
        (".*", "foo", false),
        ("abc.def", "abcdef", false),
        ("abc.def", "abc.def", true),
        ("abc.def", "abcZdef", false),
        ("abc?def", "abcZdef", true),
        ("abc?def", "abcdef", false),
        ("a\\\\", "a\\", true),
        ("**/foo/bar", "foo/bar", true),
        ("**/foo/bar", "dir/foo/bar", true),
        ("**/foo/bar", "dir/dir2/foo/bar", true),
        ("abc/**", "abc", false),
        ("abc/**", "abc/def", true),
        ("abc/**", "abc/def/ghi", true),
        ("**/.foo", ".foo", true),
        ("**/.foo", "bar.foo", false),
        ("a(b)c/def", "a(b)c/def", true),
        ("a(b)c/def", "a(b)c/xyz", false),
        ("a.|)$(}+{bc", "a.|)$(}+{bc", true),
        (
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            true,
        ),
        (
            "dist/*.whl",
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            true,
        ),
        ("a\\*b", "a*b", true),
    ];
    for (pattern, text, want) in cases {
        assert_eq!(
            matches(&[pattern], text),
            *want,
            "pattern={pattern:?} text={text:?}"
        );
    }
}

#[test]
fn moby_multi_pattern_table() {
    let whl = "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl";
    let cases: &[(&[&str], &str, bool)] = &[
        (&["**", "!util/docker/web"], "util/docker/web/foo", false),
        (
            &["**", "!util/docker/web", "util/docker/web/foo"],
            "util/docker/web/foo",
            true,
        ),
        (&["**", &format!("!{whl}")], whl, false),
        (&["**", "!dist/*.whl"], whl, false),
    ];
    for (patterns, text, want) in cases {
        assert_eq!(matches(patterns, text), *want, "{patterns:?} {text:?}");
    }
}

/// Go's `filepath.Match` cases that moby runs through its matcher.
#[test]
fn go_filepath_match_table() {
    let cases: &[(&str, &str, bool)] = &[
        ("abc", "abc", true),
        ("*", "abc", true),
        ("*c", "abc", true),
        ("a*", "a", true),
        ("a*", "abc", true),
        ("a*", "ab/c", true),
        ("a*/b", "abc/b", true),
        ("a*/b", "a/c/b", false),
        ("a*b*c*d*e*/f", "axbxcxdxe/f", true),
        ("a*b*c*d*e*/f", "axbxcxdxexxx/f", true),
        ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false),
        ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", false),
        ("a*b?c*x", "abxbbxdbxebxczzx", true),
        ("a*b?c*x", "abxbbxdbxebxczzy", false),
        ("ab[c]", "abc", true),
        ("ab[b-d]", "abc", true),
        ("ab[e-g]", "abc", false),
        ("ab[^c]", "abc", false),
        ("ab[^b-d]", "abc", false),
        ("ab[^e-g]", "abc", true),
        ("a\\*b", "a*b", true),
        ("a\\*b", "ab", false),
        ("a?b", "a☺b", true),
        ("a[^a]b", "a☺b", true),
        ("a???b", "a☺b", false),
        ("a[^a][^a][^a]b", "a☺b", false),
        ("[a-ζ]*", "α", true),
        ("*[a-ζ]", "A", false),
        ("a?b", "a/b", false),
        ("a*b", "a/b", false),
        ("[\\]a]", "]", true),
        ("[\\-]", "-", true),
        ("[x\\-]", "x", true),
        ("[x\\-]", "-", true),
        ("[x\\-]", "z", false),
        ("[\\-x]", "x", true),
        ("[\\-x]", "-", true),
        ("[\\-x]", "a", false),
        ("*x", "xxx", true),
    ];
    for (pattern, text, want) in cases {
        let ig = ignore(&[pattern]);
        assert!(
            ig.invalid_patterns().is_empty(),
            "{pattern:?} should be valid"
        );
        assert_eq!(
            ig.is_excluded(text),
            *want,
            "pattern={pattern:?} text={text:?}"
        );
    }
    let bad = [
        "[]a]", "[-]", "[x-]", "[-x]", "\\", "[a-b-c]", "[", "[^", "[^bc", "a[",
    ];
    for pattern in bad {
        let ig = ignore(&[pattern]);
        assert_eq!(
            ig.invalid_patterns(),
            [pattern],
            "{pattern:?} should be invalid"
        );
        assert!(!ig.is_excluded("a"));
    }
}

#[test]
fn patterns_are_cleaned_and_root_anchored() {
    // Leading slash, `./`, `..` and doubled slashes are cleaned away.
    assert!(matches(&["/docs"], "docs/a.md"));
    assert!(matches(&["./docs//"], "docs/a.md"));
    assert!(matches(&["x/../docs"], "docs/a.md"));
    // Anchored at the root, unlike gitignore: `*.md` does not reach into folders.
    assert!(matches(&["*.md"], "README.md"));
    assert!(!matches(&["*.md"], "docs/README.md"));
    assert!(matches(&["**/*.md"], "docs/README.md"));
    // A folder pattern excludes everything below it, at any depth.
    assert!(matches(&["target"], "target/debug/deps/x.rlib"));
    assert!(!matches(&["target"], "src/target"));
}

#[test]
fn comments_blank_lines_bom_and_spaces() {
    let ig = DockerIgnore::parse(
        "\u{feff}# a comment\n\n  node_modules  \n # not a comment: a pattern\n!  keep.log\n*.log\r\n",
    );
    assert!(ig.invalid_patterns().is_empty());
    assert!(ig.is_excluded("node_modules/x/y.js"));
    assert!(ig.is_excluded("a.log"));
    // `!keep.log` comes before `*.log`: the last match wins.
    assert!(ig.is_excluded("keep.log"));
    assert!(ig.has_exclusions());
    // The BOM does not stick to the first pattern.
    let ig = DockerIgnore::parse("\u{feff}secret\n");
    assert!(ig.is_excluded("secret"));
}

#[test]
fn reinclusion_inside_excluded_folders_needs_a_matching_prefix() {
    let ig = ignore(&["docs", "!docs/keep/**"]);
    assert!(ig.may_reinclude_below("docs"));
    assert!(ig.may_reinclude_below("docs/keep"));
    assert!(!ig.may_reinclude_below("other"));
    assert!(!ig.is_excluded("docs/keep/a.md"));
    assert!(ig.is_excluded("docs/drop/a.md"));
}

#[test]
fn go_clean() {
    for (input, want) in [
        ("", "."),
        ("abc", "abc"),
        ("abc/def/", "abc/def"),
        ("a//b", "a/b"),
        ("./a", "a"),
        ("a/./b", "a/b"),
        ("a/../b", "b"),
        ("../a", "../a"),
        ("a/../..", ".."),
        ("/../a", "/a"),
        ("/", "/"),
        ("//", "/"),
        ("**/", "**"),
    ] {
        assert_eq!(clean(input), want, "{input:?}");
    }
}

/// moby's `TestCompile`: which patterns become plain comparisons and which regexes.
#[test]
fn compile_kinds_and_regexes() {
    let cases: &[(&str, &str)] = &[
        ("*", "^[^/]*$"),
        ("file*", "^file[^/]*$"),
        ("*file", "^[^/]*file$"),
        ("a*/b", "^a[^/]*/b$"),
        ("**", "suffix"),
        ("**/**", "^(.*/)?.*$"),
        ("dir/**", "prefix"),
        ("**/dir", "suffix"),
        ("**/dir2/*", "^(.*/)?dir2/[^/]*$"),
        ("**/dir2/**", "^(.*/)?dir2/.*$"),
        ("**file", "suffix"),
        ("**/file*txt", "^(.*/)?file[^/]*txt$"),
        ("**/**/*.txt", "^(.*/)?(.*/)?[^/]*\\.txt$"),
        ("a[b-d]e", "^a[b-d]e$"),
        (".*", "^\\.[^/]*$"),
        ("abc.def", "exact"),
        ("abc?def", "^abc[^/]def$"),
        ("**/foo/bar", "suffix"),
        ("a(b)c/def", "exact"),
        ("a.|)$(}+{bc", "exact"),
        (
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            "exact",
        ),
    ];
    for (pattern, want) in cases {
        let got = match compile(pattern).unwrap() {
            MatchKind::Exact => "exact".to_string(),
            MatchKind::Prefix(_) => "prefix".to_string(),
            MatchKind::Suffix(_) => "suffix".to_string(),
            MatchKind::Regex(re) => re.as_str().to_string(),
        };
        assert_eq!(&got, want, "{pattern:?}");
    }
}
