//! Property tests of the parser on files nobody wrote by hand: random text, real files with
//! random damage, and documents generated from the JSON Schema's keys (so every branch of the
//! decoder is reached, with values of the right and wrong kinds, anchors and merges). A file
//! is either a pipeline whose jobs fit the limit and name each other correctly, or an error
//! whose every problem has the right place; never a panic. Plus the YAML bombs: aliases that
//! would expand a billion times and nesting deeper than any stack.
//!
//! `RAILYARD_FUZZ_CASES` sets the cases per property (default 128; see docs/security.md).

use crate::robust::{self, BASE, SHARDED};
use proptest::prelude::*;
use railyard_pipeline::{Pipeline, json_schema, parse};
use serde_json::Value as Json;
use std::path::Path;
use std::time::{Duration, Instant};

/// Parses `source`; an error must place each problem right, a pipeline must be coherent.
/// (What the job count may be is `limits`' business.)
fn check(source: &str) -> Option<Pipeline> {
    robust::check(source);
    let pipeline = parse(Path::new(".railyard.yml"), source).ok()?;
    assert!(!pipeline.jobs.is_empty());
    for job in pipeline.jobs.values() {
        for need in &job.needs {
            assert!(
                pipeline.jobs.contains_key(need),
                "`{}` needs unknown `{need}` in {source}",
                job.name
            );
        }
        for left in &job.needs_without_artifacts {
            assert!(
                job.needs.contains(left),
                "`{}` leaves the artifacts of `{left}`, which it does not need, in {source}",
                job.name
            );
        }
        if let Some(image) = &job.image_build {
            assert_eq!(job.parallel, 1, "{source}");
            assert!(job.matrix.is_empty(), "{source}");
            assert!(!image.tags.is_empty(), "{source}");
            for tag in &image.tags {
                assert_eq!(railyard_pipeline::tag_problem(tag), None, "{source}");
            }
        }
    }
    // What a server hands an agent comes back the same.
    let json = serde_json::to_string(&pipeline).unwrap();
    let back: Pipeline = serde_json::from_str(&json).unwrap();
    assert_eq!(back, pipeline, "{source}");
    Some(pipeline)
}

/// Bits of YAML and of the pipeline's vocabulary, for text that is nearly a pipeline.
const TOKENS: &[&str] = &[
    "jobs:",
    "env:",
    "image: x",
    "script:",
    "needs:",
    "matrix:",
    "parallel:",
    "tests:",
    "variables:",
    "services:",
    "\n",
    "\n  ",
    "\n    ",
    "  ",
    "- ",
    ": ",
    ":",
    ",",
    "{",
    "}",
    "[",
    "]",
    "&a ",
    "*a",
    "<<: *a",
    "\"",
    "'",
    "|\n",
    ">-\n",
    "# c",
    "---\n",
    "...\n",
    "!!str ",
    "!x ",
    "%YAML 1.2\n",
    "? ",
    "\t",
    "é",
    "🎉",
    "\\",
    "\r\n",
    "0",
    "-1",
    "1e400",
    ".nan",
    "~",
    "null",
    "true",
    "{tests}",
    "5m",
    "4g",
    "a",
    "build",
    "test [1/2]",
];

proptest! {
    #![proptest_config(railyard_test_support::fuzz_config())]

    #[test]
    fn random_text_is_a_pipeline_or_placed_errors(source in "\\PC{0,400}") {
        check(&source);
    }

    #[test]
    fn yaml_token_soup_is_a_pipeline_or_placed_errors(
        tokens in prop::collection::vec(prop::sample::select(TOKENS), 0..120)
    ) {
        check(&tokens.concat());
    }

    #[test]
    fn damaged_real_files_are_pipelines_or_placed_errors(
        base in prop::sample::select(&[BASE, SHARDED][..]),
        edits in prop::collection::vec(
            (any::<prop::sample::Index>(), 0..3usize, prop::sample::select(TOKENS)),
            1..8,
        ),
    ) {
        let mut source = base.to_owned();
        for (at, len, token) in edits {
            let boundaries: Vec<usize> =
                source.char_indices().map(|(i, _)| i).chain([source.len()]).collect();
            let start = boundaries[at.index(boundaries.len())];
            let end = boundaries.iter().copied().find(|&b| b >= start).unwrap();
            let end = boundaries
                .iter()
                .copied()
                .filter(|&b| b >= end)
                .nth(len)
                .unwrap_or(source.len());
            source.replace_range(start..end, token);
        }
        check(&source);
    }

    #[test]
    fn documents_from_the_schema_are_pipelines_or_placed_errors(
        tape in prop::collection::vec(any::<u32>(), 0..600)
    ) {
        let schema = json_schema();
        let tame = tape.first().is_some_and(|t| t.is_multiple_of(2));
        let mut g = Gen { tape: &tape, at: 1, anchors: 0, tame };
        let doc = g.value(&schema, &schema, 0, "");
        let mut source = String::new();
        render_block(&doc, 0, &mut source);
        check(&source);
    }
}

/// The generator finds valid pipelines too, not only errors: the decoder's success path and
/// the graph checks are fuzzed, not just the first type error.
#[test]
fn the_schema_generator_makes_some_valid_pipelines() {
    let schema = json_schema();
    let mut valid = 0;
    let mut seed = 0x9e37_79b9_u32;
    for _ in 0..300 {
        let tape: Vec<u32> = (0..600)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                seed
            })
            .collect();
        let mut g = Gen {
            tape: &tape,
            at: 1,
            anchors: 0,
            tame: tape[0].is_multiple_of(2),
        };
        let doc = g.value(&schema, &schema, 0, "");
        let mut source = String::new();
        render_block(&doc, 0, &mut source);
        valid += usize::from(check(&source).is_some());
    }
    assert!(valid >= 15, "{valid} valid pipelines of 300");
}

/// A YAML tree to render, with anchors and aliases.
#[derive(Debug, Clone)]
enum Doc {
    /// Rendered as written (a plain scalar, or a quoted one).
    Scalar(String),
    Seq(Vec<Doc>, Option<u32>),
    Map(Vec<(String, Doc)>, Option<u32>),
    /// `*aN`
    Alias(u32),
    /// Written `{...}` or `[...]` on one line.
    Flow(Box<Doc>),
}

/// Draws a document from the schema, one choice at a time from a tape of numbers, so that
/// proptest shrinks the tape and with it the document (zeros: the first choice each time).
/// Half the documents are tame: sensible values per key, few keys, no values of the wrong
/// kind, so that valid pipelines and the graph checks are reached too.
struct Gen<'a> {
    tape: &'a [u32],
    at: usize,
    anchors: u32,
    tame: bool,
}

const JOB_NAMES: &[&str] = &[
    "build",
    "test",
    "t",
    "lint",
    "a b",
    "test [1/2]",
    "x (A=1)",
    "",
];
const TAME_JOB_NAMES: &[&str] = &["build", "test", "lint"];
const NAMES: &[&str] = &[
    "A",
    "PY",
    "db",
    "RAILYARD_SHARD",
    "x-y",
    "1a",
    "_",
    "é",
    "a.b",
    "DB",
    "cache",
];
const TAME_NAMES: &[&str] = &["a", "db", "cache"];
const STRINGS: &[&str] = &[
    "x",
    "",
    " ",
    "busybox",
    "ci/Dockerfile",
    "ci",
    ".",
    "..",
    "../x",
    "/abs",
    "a/../../b",
    "20m",
    "90s",
    "1h30m",
    "0s",
    "5",
    "-1m",
    "99999999999999999999h",
    "512m",
    "4g",
    "1.5G",
    "0",
    "-1",
    "1e400",
    "nan",
    "pytest {tests}",
    "{tests}",
    "make $RAILYARD_TESTS_FILE",
    "{classname}::{name}",
    "{nope}",
    "nextest",
    "pytest",
    "auto",
    "static",
    "queue",
    "high",
    "r.xml",
    "**/*.xml",
    "[",
    "a\nb",
    "é 🎉",
    "build",
    "test",
    "HOME",
    "x\u{0}y",
];
const NUMBERS: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "64",
    "65",
    "256",
    "1000",
    "-1",
    "1.5",
    "0.1",
    "1e3",
    "18446744073709551616",
    "1e400",
    ".nan",
    ".inf",
    "-.inf",
    "0x10",
    "0o7",
];
/// A good value per key, for tame documents.
const GOOD: &[(&str, &str)] = &[
    ("image", "busybox"),
    ("script", "make"),
    ("timeout", "5m"),
    ("ready_timeout", "1m"),
    ("allow_failure", "true"),
    ("manual", "true"),
    ("artifacts", "out"),
    ("cpus", "1.5"),
    ("memory", "512m"),
    ("parallel", "2"),
    ("list", "ls"),
    ("run", "\"t {tests}\""),
    ("junit", "r.xml"),
    ("format", "pytest"),
    ("ready", "\"true\""),
    ("command", "\"sleep 1\""),
    ("runs_on", "linux"),
    ("fail_on", "high"),
    ("tags", "\"app:{commit}\""),
    ("when", "always"),
];
/// Keys a tame document always has, and keys it never has (they need others, or exclude
/// them: `dockerfile` with `image`, `files` with `list`, `retry_failed` without `tests`,
/// `image_build` without `dockerfile`).
const TAME_ALWAYS: &[&str] = &["jobs", "script", "image", "run", "junit", "list"];
const TAME_NEVER: &[&str] = &[
    "dockerfile",
    "context",
    "args",
    "target",
    "files",
    "retry_failed",
    "needs",
    "secrets",
    "image_build",
];

impl Gen<'_> {
    fn next(&mut self, n: usize) -> usize {
        let v = self.tape.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        v as usize % n.max(1)
    }

    fn chance(&mut self, one_in: usize) -> bool {
        !self.tame && self.next(one_in) == one_in - 1
    }

    fn pick<'s>(&mut self, from: &[&'s str]) -> &'s str {
        from[self.next(from.len())]
    }

    fn scalar(&mut self, kind: &str, key: &str) -> Doc {
        if self.tame {
            let good = GOOD.iter().find(|(k, _)| *k == key).map_or("1", |(_, v)| v);
            return Doc::Scalar(good.to_owned());
        }
        let text = match kind {
            "number" | "integer" => self.pick(NUMBERS).to_owned(),
            "boolean" => self.pick(&["true", "false", "yes", "on"]).to_owned(),
            "null" => self.pick(&["null", "~", ""]).to_owned(),
            _ => {
                let s = self.pick(STRINGS);
                let plain = s
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c));
                if self.next(2) == 0 || !plain {
                    serde_json::to_string(s).unwrap()
                } else {
                    s.to_owned()
                }
            }
        };
        Doc::Scalar(text)
    }

    /// Anything at all, for a value of the wrong kind.
    fn wild(&mut self, depth: usize) -> Doc {
        match self.next(if depth > 3 { 4 } else { 6 }) {
            0 => self.scalar("string", ""),
            1 => self.scalar("number", ""),
            2 => self.scalar("boolean", ""),
            3 => self.scalar("null", ""),
            4 => Doc::Seq(
                (0..self.next(3)).map(|_| self.wild(depth + 1)).collect(),
                None,
            ),
            _ => Doc::Map(
                (0..self.next(3))
                    .map(|_| (self.pick(NAMES).to_owned(), self.wild(depth + 1)))
                    .collect(),
                None,
            ),
        }
    }

    fn value(&mut self, schema: &Json, root: &Json, depth: usize, key: &str) -> Doc {
        if depth > 6 || self.chance(16) {
            return self.wild(depth);
        }
        if self.anchors > 0 && self.chance(24) {
            return Doc::Alias(self.next(self.anchors as usize) as u32);
        }
        let doc = self.shaped(schema, root, depth, key);
        let doc = match doc {
            Doc::Map(..) | Doc::Seq(..) if self.chance(6) => Doc::Flow(Box::new(doc)),
            doc => doc,
        };
        match doc {
            Doc::Map(entries, None) if self.chance(5) => {
                self.anchors += 1;
                Doc::Map(entries, Some(self.anchors - 1))
            }
            Doc::Seq(items, None) if self.chance(5) => {
                self.anchors += 1;
                Doc::Seq(items, Some(self.anchors - 1))
            }
            doc => doc,
        }
    }

    fn shaped(&mut self, schema: &Json, root: &Json, depth: usize, key: &str) -> Doc {
        if let Some(values) = schema.get("enum").and_then(Json::as_array) {
            let v = &values[self.next(values.len())];
            return Doc::Scalar(v.as_str().map_or(v.to_string(), str::to_owned));
        }
        if schema.get("properties").is_none()
            && let Some(alts) = schema.get("oneOf").and_then(Json::as_array)
        {
            // Tame: the last form (a service's map, a list of strings).
            let alt = if self.tame {
                alts.last().unwrap()
            } else {
                &alts[self.next(alts.len())]
            };
            return self.value(alt, root, depth + 1, key);
        }
        let kinds: Vec<&str> = match schema.get("type") {
            Some(Json::String(t)) => vec![t.as_str()],
            Some(Json::Array(ts)) => ts.iter().filter_map(Json::as_str).collect(),
            _ if schema.get("properties").is_some() => vec!["object"],
            _ => vec!["string"],
        };
        let kind = if self.tame {
            if key == "matrix" { "object" } else { kinds[0] }
        } else {
            kinds[self.next(kinds.len())]
        };
        match kind {
            "object" => self.object(schema, root, depth, key),
            "array" if self.tame && key.len() == 1 => {
                // A matrix axis: distinct values.
                let n = 1 + self.next(3);
                Doc::Seq((0..n).map(|i| Doc::Scalar(i.to_string())).collect(), None)
            }
            "array" => {
                let items = schema.get("items").unwrap_or(&Json::Null);
                let n = if self.tame {
                    1 + self.next(2)
                } else {
                    self.next(4)
                };
                Doc::Seq(
                    (0..n)
                        .map(|_| self.value(items, root, depth + 1, key))
                        .collect(),
                    None,
                )
            }
            kind => self.scalar(kind, key),
        }
    }

    fn object(&mut self, schema: &Json, root: &Json, depth: usize, key: &str) -> Doc {
        let mut entries = Vec::new();
        if let Some(props) = schema.get("properties").and_then(Json::as_object) {
            for (k, sub) in props {
                let take = if self.tame {
                    TAME_ALWAYS.contains(&k.as_str())
                        || (!TAME_NEVER.contains(&k.as_str()) && self.next(4) == 0)
                } else {
                    self.next(3) > 0 || k == "jobs"
                };
                if take {
                    entries.push((k.clone(), self.value(sub, root, depth + 1, k)));
                }
            }
        }
        if let Some(sub) = schema.get("additionalProperties").filter(|s| s.is_object()) {
            let is_jobs = std::ptr::eq(schema, &root["properties"]["jobs"]);
            let n = if self.tame {
                1 + self.next(2)
            } else {
                self.next(4)
            };
            for _ in 0..n {
                let k = match (is_jobs, self.tame) {
                    (true, true) => self.pick(TAME_JOB_NAMES),
                    (true, false) => self.pick(JOB_NAMES),
                    (false, true) if key == "matrix" => "A",
                    (false, true) => self.pick(TAME_NAMES),
                    (false, false) => self.pick(NAMES),
                };
                if self.tame && entries.iter().any(|(e, _)| e == k) {
                    continue;
                }
                entries.push((k.to_owned(), self.value(sub, root, depth + 1, k)));
            }
            if is_jobs {
                // Jobs that need each other, to reach the graph checks.
                let names: Vec<String> = entries.iter().map(|(k, _)| k.clone()).collect();
                for i in 0..entries.len() {
                    let need = names[self.next(names.len())].clone();
                    if let Doc::Map(fields, _) = &mut entries[i].1
                        && self.next(2) == 0
                        && (!self.tame || need < names[i])
                    {
                        let need = serde_json::to_string(&need).unwrap();
                        fields.push(("needs".into(), Doc::Scalar(need)));
                    }
                }
            }
        }
        if self.chance(10) {
            let k = self.pick(&[".hidden", "unknown", "scriptt", "cache"]);
            entries.push((k.into(), self.wild(depth + 1)));
        }
        if self.anchors > 0 && self.chance(12) {
            let a = self.next(self.anchors as usize) as u32;
            entries.push(("<<".into(), Doc::Alias(a)));
        }
        if !entries.is_empty() && self.chance(5) {
            // Shuffle one key to the front, and sometimes repeat it.
            let i = self.next(entries.len());
            let e = entries.remove(i);
            if self.chance(4) {
                entries.push(e.clone());
            }
            entries.insert(0, e);
        }
        Doc::Map(entries, None)
    }
}

fn key_text(key: &str) -> String {
    if key == "<<"
        || (!key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)))
    {
        key.to_owned()
    } else {
        serde_json::to_string(key).unwrap()
    }
}

fn anchor(a: Option<u32>) -> String {
    a.map_or(String::new(), |a| format!("&a{a} "))
}

fn render_flow(doc: &Doc, out: &mut String) {
    match doc {
        Doc::Scalar(s) => out.push_str(if s.is_empty() { "\"\"" } else { s }),
        Doc::Alias(a) => out.push_str(&format!("*a{a}")),
        Doc::Flow(inner) => render_flow(inner, out),
        Doc::Seq(items, a) => {
            out.push_str(&anchor(*a));
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                render_flow(item, out);
            }
            out.push(']');
        }
        Doc::Map(entries, a) => {
            out.push_str(&anchor(*a));
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&key_text(k));
                out.push_str(": ");
                render_flow(v, out);
            }
            out.push('}');
        }
    }
}

/// Block style: `key:` then the value indented below, `- ` items.
fn render_block(doc: &Doc, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match doc {
        Doc::Map(entries, a) if !entries.is_empty() => {
            if a.is_some() {
                // An anchored block map starts on the line after its anchor.
                out.push_str(&format!("{pad}{}\n", anchor(*a).trim_end()));
            }
            for (k, v) in entries {
                out.push_str(&format!("{pad}{}:", key_text(k)));
                block_value(v, indent, out);
            }
        }
        Doc::Seq(items, a) if !items.is_empty() => {
            if a.is_some() {
                out.push_str(&format!("{pad}{}\n", anchor(*a).trim_end()));
            }
            for item in items {
                out.push_str(&format!("{pad}-"));
                block_value(item, indent, out);
            }
        }
        other => {
            out.push_str(&pad);
            render_flow(other, out);
            out.push('\n');
        }
    }
}

fn block_value(v: &Doc, indent: usize, out: &mut String) {
    match v {
        Doc::Map(entries, a) if !entries.is_empty() => {
            out.push_str(&format!(" {}\n", anchor(*a).trim_end()));
            render_block(&Doc::Map(entries.clone(), None), indent + 2, out);
        }
        Doc::Seq(items, a) if !items.is_empty() => {
            out.push_str(&format!(" {}\n", anchor(*a).trim_end()));
            render_block(&Doc::Seq(items.clone(), None), indent + 2, out);
        }
        other => {
            out.push(' ');
            render_flow(other, out);
            out.push('\n');
        }
    }
}

/// A bound that holds on a slow, busy machine in a debug build: the parser's budget (250,000
/// nodes once aliases are expanded) stops a bomb within a few seconds there (a fraction of a
/// second in release), where expanding it would take hours.
const QUICK: Duration = Duration::from_secs(30);

fn refused_quickly(source: &str) -> String {
    let started = Instant::now();
    let e = parse(Path::new(".railyard.yml"), source).unwrap_err();
    assert!(started.elapsed() < QUICK, "took {:?}", started.elapsed());
    robust::places(source, &e);
    e.problems()[0].to_string()
}

/// Nine levels of ten aliases each would be a billion strings.
#[test]
fn a_billion_laughs_is_refused_not_expanded() {
    let mut source = String::from(".l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let refs = vec![format!("*l{}", i - 1); 10].join(", ");
        source.push_str(&format!(".l{i}: &l{i} [{refs}]\n"));
    }
    source.push_str("env: { image: x }\njobs:\n  b:\n    script: *l9\n");
    let message = refused_quickly(&source);
    assert!(message.starts_with(".railyard.yml:"), "{message}");
}

/// Merges of merges: the same bomb through `<<`.
#[test]
fn a_bomb_of_merge_keys_is_refused_not_expanded() {
    let mut source = String::from(".m0: &m0 { a: 1, b: 2 }\n");
    for i in 1..12 {
        let merges = vec![format!("*m{}", i - 1); 8].join(", ");
        source.push_str(&format!(".m{i}: &m{i} {{ <<: [{merges}], k{i}: 1 }}\n"));
    }
    source.push_str("env: { image: x }\njobs:\n  b:\n    variables: *m11\n    script: x\n");
    let message = refused_quickly(&source);
    assert!(
        message.ends_with(
            "invalid YAML: the file is too large once its aliases (`*name`) and merges (`<<`) \
             are expanded"
        ),
        "{message}"
    );
}

/// The parser, the tree and the decoder recurse once per level: a few hundred levels
/// overflowed a test thread's 2 MiB stack (debug build) and aborted the process.
#[test]
fn nesting_deeper_than_any_stack_is_refused() {
    let depth = 100_000;
    let flow_lists = format!("jobs: {}{}", "[".repeat(depth), "]".repeat(depth));
    let flow_maps = format!("jobs: {}{}", "{a: ".repeat(depth), "}".repeat(depth));
    let block_lists: String = (0..2_000)
        .map(|i| format!("{}- \n", " ".repeat(i * 2)))
        .collect();
    let block_maps: String = (0..2_000)
        .map(|i| format!("{}a:\n", " ".repeat(i * 2)))
        .collect();
    let lists_100 = format!("jobs: {}{}", "[".repeat(100), "]".repeat(100));
    for source in [flow_lists, flow_maps, block_lists, block_maps, lists_100] {
        let message = refused_quickly(&source);
        // The parser's own limit on flow brackets (256) may come first.
        assert!(
            message.ends_with("nested more than 24 deep")
                || message.ends_with("recursion limit exceeded"),
            "{message}"
        );
    }
}

/// The reproduction: 64 levels, the parser's own limit, overflowed the stack.
#[test]
fn nesting_64_deep_is_refused_with_the_limit() {
    let source = format!("jobs: {}{}", "{a: ".repeat(64), "}".repeat(64));
    assert_eq!(
        refused_quickly(&source),
        ".railyard.yml:1:99: invalid YAML: lists and maps nested more than 24 deep"
    );
}

#[test]
fn a_large_file_of_one_long_value_is_read() {
    let long = "x".repeat(8 << 20);
    let source = format!("env: {{ image: x }}\njobs:\n  b:\n    script: \"{long}\"\n");
    let started = Instant::now();
    let p = parse(Path::new(".railyard.yml"), &source).unwrap();
    assert!(started.elapsed() < QUICK, "took {:?}", started.elapsed());
    assert_eq!(p.jobs["b"].script[0].len(), 8 << 20);
}

/// Pieces of `image_build` tags: placeholders, the characters of paths and tags, and a few
/// that are never allowed.
const TAG_PIECES: &[&str] = &[
    "{commit}",
    "{short_commit}",
    "{run}",
    "{ref}",
    "{x}",
    "{",
    "}",
    "app",
    "a",
    "Z",
    "9",
    "/",
    ":",
    ".",
    "_",
    "__",
    "-",
    "@",
    " ",
    "é",
    "localhost",
    "x.io",
];

proptest! {
    #![proptest_config(railyard_test_support::fuzz_config())]

    /// A tag the pipeline accepts gives, with any commit, run and ref, a reference the
    /// engine takes: no placeholder left, a tag part within its length, and nothing the
    /// static check would refuse.
    #[test]
    fn an_accepted_tag_expands_to_a_valid_reference(
        pieces in prop::collection::vec(prop::sample::select(TAG_PIECES), 1..10),
        commit in "[0-9a-f]{40}|[0-9a-f]{64}",
        run in "[0-9A-Z]{26}",
        git_ref in proptest::option::of("(refs/heads/|refs/tags/)?\\PC{0,90}"),
    ) {
        let tag = format!("app:{}", pieces.concat());
        for tag in [tag, pieces.concat()] {
            if railyard_pipeline::tag_problem(&tag).is_some() {
                continue;
            }
            let values = railyard_pipeline::TagValues {
                commit: &commit,
                run: &run,
                git_ref: git_ref.as_deref(),
            };
            let expanded = railyard_pipeline::expand_tag(&tag, &values);
            prop_assert!(!expanded.contains(['{', '}']), "{} -> {}", tag, expanded);
            prop_assert_eq!(railyard_pipeline::tag_problem(&expanded), None, "{} -> {}", tag, expanded);
        }
    }
}
