//! A job's sharding keys: `parallel`, the `tests` block, `retry_failed`, and the variables
//! Railyard sets in each shard (which a file may therefore not set).

use crate::errors::{Issue, ProblemKind, suggest};
use crate::model::{SplitMode, TestList, TestsSpec};
use crate::patterns::{FIELDS, TOOL_ALIASES, glob_problem, template_problem};
use crate::read::{Entry, Reader, list_keys, nested};
use crate::yaml::Value;

/// The most shards a job may have (`parallel`).
pub const MAX_PARALLEL: u32 = 64;
/// The most reruns of failing tests (`retry_failed`).
pub const MAX_RETRY_FAILED: u32 = 5;
/// Variables Railyard sets in each shard: the shard's number (1…N), the number of shards,
/// and the file holding the ids of the batch being run. A pipeline may not set them.
pub const RESERVED_VARIABLES: &[&str] =
    &["RAILYARD_SHARD", "RAILYARD_SHARDS", "RAILYARD_TESTS_FILE"];
/// The tools whose JUnit conventions `tests.format` can name (the split crate also takes
/// the aliases `cargo-nextest`, `jest-junit`, `maven`, `failsafe`, `gotestsum`,
/// `go-junit-report`).
pub const TEST_TOOLS: &[&str] = &["nextest", "pytest", "jest", "surefire", "go"];

pub(crate) const TESTS_KEYS: &[&str] = &["list", "files", "run", "junit", "mode", "format"];
const MODES: &[&str] = &["static", "queue"];

/// `parallel: N`, 1 ≤ N ≤ [`MAX_PARALLEL`].
pub(crate) fn parallel(r: &mut Reader<'_>, entry: Entry<'_>, context: &str) -> Option<u32> {
    let expected = format!("a whole number of shards from 1 to {MAX_PARALLEL}");
    let n = r.integer(entry, context, &expected)?;
    let span = entry.value.span;
    if n < 1 {
        r.invalid_help(
            "parallel",
            context,
            span,
            "must be at least 1",
            "`parallel: N` runs N shards of the job; remove the key to run it once",
        );
        return None;
    }
    if n > i128::from(MAX_PARALLEL) {
        r.invalid_help(
            "parallel",
            context,
            span,
            format!("{} shards is more than the limit of {MAX_PARALLEL}", written(r, entry)),
            format!("use at most {MAX_PARALLEL} shards; each runs in its own container with its own services"),
        );
        return None;
    }
    u32::try_from(n).ok()
}

/// A number as the file writes it.
fn written(r: &Reader<'_>, entry: Entry<'_>) -> String {
    entry.value.scalar_text(r.source).unwrap_or_default()
}

/// `retry_failed: N`, 0 ≤ N ≤ [`MAX_RETRY_FAILED`].
pub(crate) fn retry_failed(r: &mut Reader<'_>, entry: Entry<'_>, context: &str) -> Option<u32> {
    let expected = format!("a whole number of reruns from 0 to {MAX_RETRY_FAILED}");
    let n = r.integer(entry, context, &expected)?;
    if !(0..=i128::from(MAX_RETRY_FAILED)).contains(&n) {
        let reason = if n < 0 {
            "must be 0 or more".to_owned()
        } else {
            format!(
                "{} reruns is more than the limit of {MAX_RETRY_FAILED}",
                written(r, entry)
            )
        };
        r.invalid_help(
            "retry_failed",
            context,
            entry.value.span,
            reason,
            format!(
                "rerun failing tests at most {MAX_RETRY_FAILED} times; a test that keeps failing needs a fix, not more reruns"
            ),
        );
        return None;
    }
    u32::try_from(n).ok()
}

/// The `tests` block of a job. `None` when it is wrong (the problems are reported).
pub(crate) fn tests(r: &mut Reader<'_>, entry: Entry<'_>, job_context: &str) -> Option<TestsSpec> {
    let (fields, context) = r.sub_fields(entry, job_context, TESTS_KEYS)?;
    let list = match (fields.get("list"), fields.get("files")) {
        (Some(l), Some(f)) => {
            let (first, second) = if l.key_span.offset < f.key_span.offset {
                (l, f)
            } else {
                (f, l)
            };
            r.push(
                Issue::new(
                    ProblemKind::Conflict {
                        first: first.key.into(),
                        second: second.key.into(),
                        context: context.clone(),
                    },
                    second.key_span,
                    format!("`{}` is already set", first.key),
                )
                .help(
                    "list the tests with a command (`list`) or by a file glob (`files`), not both",
                ),
            );
            None
        }
        (Some(l), None) => r.non_empty(l, &context).map(TestList::Command),
        (None, Some(f)) => files(r, f, &context).map(TestList::Files),
        (None, None) => {
            if !fields.misspelled("list") && !fields.misspelled("files") {
                let span = fields.key_span("list").or(fields.key_span("files"));
                r.push(
                    Issue::new(
                        ProblemKind::MissingKey {
                            key: "list".into(),
                            context: context.clone(),
                        },
                        span.unwrap_or(entry.key_span),
                        "no `list` or `files`",
                    )
                    .help(
                        "add `list: CMD` (a command printing one test id a line) or \
                         `files: GLOB` (each matching file is a test)",
                    ),
                );
            }
            None
        }
    };
    let run = match fields.get("run") {
        Some(e) => run(r, e, &context),
        None => {
            missing(
                r,
                &fields,
                entry,
                "run",
                &context,
                "add `run:`, the command that runs a batch, e.g. `run: pytest {tests}`",
            );
            None
        }
    };
    let junit = match fields.get("junit") {
        Some(e) => junit(r, e, &context),
        None => {
            missing(
                r,
                &fields,
                entry,
                "junit",
                &context,
                "add `junit:`, the JUnit XML report `run` writes (e.g. `junit: report.xml` with \
                 `pytest --junitxml=report.xml`): its times balance the next split",
            );
            None
        }
    };
    let mode = fields.get("mode").map(|e| mode(r, e, &context));
    let id_format = fields.get("format").map(|e| id_format(r, e, &context));
    Some(TestsSpec {
        list: list?,
        run: run?,
        junit: junit?,
        mode: mode.unwrap_or(Some(SplitMode::Static))?,
        id_format: id_format.unwrap_or(Some(None))?,
    })
}

/// Reports a required key of `tests` as missing, unless a typo of it was reported.
fn missing(
    r: &mut Reader<'_>,
    fields: &crate::read::Fields<'_>,
    entry: Entry<'_>,
    key: &str,
    context: &str,
    help: &str,
) {
    if fields.misspelled(key) {
        return;
    }
    r.push(
        Issue::new(
            ProblemKind::MissingKey {
                key: key.into(),
                context: context.into(),
            },
            fields.key_span(key).unwrap_or(entry.key_span),
            format!("no `{key}`"),
        )
        .help(help),
    );
}

/// `files: GLOB`: relative, inside the repository, brackets closed.
fn files(r: &mut Reader<'_>, entry: Entry<'_>, context: &str) -> Option<String> {
    let text = r.non_empty(entry, context)?;
    let span = entry.value.span;
    crate::decode::check_relative(r, "files", &text, span, context)?;
    if let Some(reason) = glob_problem(text.trim()) {
        r.invalid_help(
            "files",
            context,
            span,
            reason,
            "write a glob such as `tests/**/test_*.py`: `*` within a folder, `**` across \
             folders, `[abc]` one of, `{a,b}` either",
        );
        return None;
    }
    Some(text.trim().to_owned())
}

/// `run`: a command that uses the batch's ids.
fn run(r: &mut Reader<'_>, entry: Entry<'_>, context: &str) -> Option<String> {
    if let Value::Map(_) = entry.value.value {
        // `run: {tests} -x` is YAML for a map: the braces need quotes there.
        r.push(
            Issue::new(
                ProblemKind::WrongType {
                    key: "run".into(),
                    context: context.into(),
                    expected: "a command".into(),
                    found: entry.value.kind().into(),
                },
                entry.value.span,
                "expected a command",
            )
            .help("quote a command that starts with `{` (`run: \"{tests}\"`): YAML reads `{…}` there as a map"),
        );
        return None;
    }
    let text = r.non_empty(entry, context)?;
    if text.contains("{tests}") || text.contains("RAILYARD_TESTS_FILE") {
        return Some(text);
    }
    let hint = if text.contains("{test}") {
        "write `{tests}` (plural) where the batch's test ids go".to_owned()
    } else {
        "put `{tests}` where the batch's test ids go (e.g. `pytest {tests}`), or read them \
         from the file `$RAILYARD_TESTS_FILE`, one id a line"
            .to_owned()
    };
    r.invalid_help(
        "run",
        context,
        entry.value.span,
        "the command does not use the test ids (`{tests}` or `$RAILYARD_TESTS_FILE`)",
        hint,
    );
    None
}

/// `junit`: one or more report paths or globs, relative to the workspace.
fn junit(r: &mut Reader<'_>, entry: Entry<'_>, context: &str) -> Option<Vec<String>> {
    let items = r.string_or_list(entry, context, "a report path or a list of paths")?;
    if items.is_empty() {
        r.invalid_help(
            "junit",
            context,
            entry.value.span,
            "no report named",
            "name the JUnit XML file the tests write, e.g. `junit: report.xml`",
        );
        return None;
    }
    let mut out = Vec::with_capacity(items.len());
    let mut ok = true;
    for (text, span) in items {
        match crate::decode::check_relative(r, "junit", &text, span, context) {
            Some(_) => out.push(text.trim().to_owned()),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn mode(r: &mut Reader<'_>, entry: Entry<'_>, context: &str) -> Option<SplitMode> {
    let text = r.string(entry, context)?;
    match text.trim() {
        "static" => Some(SplitMode::Static),
        "queue" => Some(SplitMode::Queue),
        other => {
            let help = match suggest(other, MODES.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => "use `static` (split by measured times before the shards start) or \
                         `queue` (shards pull batches from a shared queue)"
                    .to_owned(),
            };
            r.invalid_help(
                "mode",
                context,
                entry.value.span,
                format!("`{other}` is not a mode"),
                help,
            );
            None
        }
    }
}

/// `format`: `auto`, a tool name or a template. `Some(None)` is `auto`.
fn id_format(r: &mut Reader<'_>, entry: Entry<'_>, context: &str) -> Option<Option<String>> {
    let text = r.non_empty(entry, context)?;
    let text = text.trim();
    let span = entry.value.span;
    if text == "auto" {
        return Some(None);
    }
    let tools_hint = format!(
        "use `auto`, a tool ({}) or a template of {} such as `{{classname}}::{{name}}`",
        list_keys(TEST_TOOLS),
        FIELDS
            .iter()
            .map(|f| format!("`{{{f}}}`"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if !text.contains(['{', '}']) {
        let lower = text.to_ascii_lowercase();
        if TEST_TOOLS.contains(&lower.as_str()) || TOOL_ALIASES.contains(&lower.as_str()) {
            return Some(Some(text.to_owned()));
        }
        let help = match suggest(text, TEST_TOOLS.iter().chain(TOOL_ALIASES).copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => tools_hint,
        };
        r.invalid_help(
            "format",
            context,
            span,
            format!("`{text}` is not a known test tool or a template"),
            help,
        );
        return None;
    }
    match template_problem(text) {
        None => Some(Some(text.to_owned())),
        Some((reason, suggestion)) => {
            let help = match suggestion {
                Some(s) => format!("did you mean `{{{s}}}`?"),
                None => tools_hint,
            };
            r.invalid_help("format", context, span, reason, help);
            None
        }
    }
}

/// Reports the reserved names set in a `variables` map.
pub(crate) fn reserved_variables(r: &mut Reader<'_>, entry: Entry<'_>, context: &str) {
    let Value::Map(pairs) = &entry.value.value else {
        return;
    };
    for (key, _) in pairs {
        if let Some(name) = key.scalar_text(r.source)
            && RESERVED_VARIABLES.contains(&name.as_str())
        {
            reserved(r, &name, &nested(entry.key, context), key.span);
        }
    }
}

/// Reports `name` (at `span`) as a reserved variable name.
pub(crate) fn reserved(r: &mut Reader<'_>, name: &str, context: &str, span: crate::yaml::Span) {
    r.invalid_help(
        name,
        context,
        span,
        "Railyard sets this variable in each shard",
        format!(
            "use another name: {} are set by Railyard",
            list_keys(RESERVED_VARIABLES)
        ),
    );
}
