//! How a listed test id (a line printed by the job's `list` command) maps to JUnit cases.
//!
//! A small template renders each case to a key (`{classname} {name}`, `{file}`, …); a listed
//! id matches the cases whose key equals it, after an optional normalisation applied to both
//! sides (pytest's dotted classnames against its `path/to/test_x.py::Class::test` ids). Many
//! cases may share a key (all cases of a file when splitting by `{file}`, all methods of a
//! class by `{classname}`): the id's time is their sum. The defaults per tool, and the listed
//! form each expects:
//!
//! | tool | template | listed id, as printed by |
//! |---|---|---|
//! | nextest | `{classname} {name}` | `cargo nextest list --message-format oneline`: `my-crate::tests tests::parses` |
//! | pytest | `{classname}.{name}`, normalised | `pytest --collect-only -q`: `tests/test_a.py::TestX::test_y[1]` |
//! | jest | `{file}` | `jest --listTests`: one absolute test file a line; jest-junit needs `addFileAttribute: "true"` (its `file` is the absolute path) |
//! | surefire | `{classname}` | one test class a line (`com.example.FooTest`), run as `-Dtest=…` |
//! | go | `{name}` | `go test -list . ./... \| grep '^Test'` (drop its `ok pkg` lines): `TestName`; subtests count within their parent, and same-named tests of two packages share one id |
//!
//! A pipeline names one with [`IdFormat::from_spec`]: `pytest`, `{classname}::{name}`, or
//! `pytest:{file}::{name}` (a template under a tool's normalisation). Surefire has no list
//! command: list test classes (e.g. from `src/test/java`) and run them with `-Dtest=`.

use std::collections::{HashMap, HashSet};

use crate::errors::IdFormatError;
use crate::junit::{Outcome, Report, TestCase};
use railyard_types::template::{Token, tokens};

/// A test tool with a known JUnit shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tool {
    /// cargo-nextest.
    Nextest,
    /// pytest `--junitxml` (xunit1 or xunit2).
    Pytest,
    /// jest with jest-junit.
    Jest,
    /// Maven Surefire (or Failsafe).
    Surefire,
    /// go-junit-report or gotestsum.
    Go,
}

impl Tool {
    /// The tool's name as written in a pipeline file.
    pub fn as_str(self) -> &'static str {
        match self {
            Tool::Nextest => "nextest",
            Tool::Pytest => "pytest",
            Tool::Jest => "jest",
            Tool::Surefire => "surefire",
            Tool::Go => "go",
        }
    }

    /// Guesses the tool from a report's shape; `None` when nothing is telling.
    pub fn detect(report: &Report) -> Option<Tool> {
        let root = report.root_name.as_deref().unwrap_or("");
        if root == "nextest-run" {
            return Some(Tool::Nextest);
        }
        if root.starts_with("pytest")
            || report
                .cases
                .iter()
                .any(|c| c.suite.as_deref() == Some("pytest"))
        {
            return Some(Tool::Pytest);
        }
        if root == "jest tests" {
            return Some(Tool::Jest);
        }
        if report.property_names.contains("go.version") {
            return Some(Tool::Go);
        }
        if report
            .property_names
            .iter()
            .any(|p| p.starts_with("java.") || p.starts_with("surefire."))
        {
            return Some(Tool::Surefire);
        }
        let cases = &report.cases;
        if cases.is_empty() {
            return None;
        }
        let all = |f: &dyn Fn(&TestCase) -> bool| cases.iter().all(f);
        let js = |f: &str| {
            [".js", ".ts", ".jsx", ".tsx", ".mjs", ".cjs"]
                .iter()
                .any(|e| f.ends_with(e))
        };
        if all(&|c| c.file.as_deref().is_some_and(js)) {
            return Some(Tool::Jest);
        }
        if all(&|c| {
            c.name.starts_with("Test")
                && c.classname
                    .as_deref()
                    .is_some_and(|k| !k.contains(' ') && !k.contains("::"))
        }) {
            return Some(Tool::Go);
        }
        if all(&|c| c.classname.is_some() && c.classname == c.suite)
            && cases.iter().any(|c| c.name.contains("::"))
        {
            return Some(Tool::Nextest);
        }
        if all(&|c| {
            c.classname
                .as_deref()
                .is_some_and(|k| k.contains('.') && !k.contains(' '))
        }) {
            return Some(Tool::Surefire);
        }
        None
    }
}

/// Which field of a case a template part reads.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Lit(String),
    Name,
    Classname,
    File,
    Suite,
}

/// What is done to both a listed id and a rendered key before comparing them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Normalize {
    /// Compare as they are.
    #[default]
    Exact,
    /// pytest: `a/b/test_x.py::C::t` and `a.b.test_x.C.t` are the same key (the path's `/`
    /// and `.py` and each `::` become dots, as pytest's junitxml does to node ids).
    Python,
}

/// A test id template with its normalisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdFormat {
    template: String,
    parts: Vec<Part>,
    normalize: Normalize,
}

impl IdFormat {
    /// Parses a template with the fields `{name}`, `{classname}`, `{file}` and `{suite}`;
    /// `{{` and `}}` stand for braces.
    pub fn parse(template: &str) -> Result<IdFormat, IdFormatError> {
        let invalid = |reason| IdFormatError::Invalid {
            template: template.to_string(),
            reason,
        };
        let mut parts = Vec::new();
        let mut lit = String::new();
        for token in tokens(template) {
            let part = match token {
                Token::Text(text) => {
                    lit.push_str(text);
                    continue;
                }
                Token::StrayOpen => return Err(invalid("has a `{` without `}`")),
                Token::StrayClose => return Err(invalid("has a `}` without `{`")),
                Token::Field("name") => Part::Name,
                Token::Field("classname") => Part::Classname,
                Token::Field("file") => Part::File,
                Token::Field("suite") => Part::Suite,
                Token::Field(field) => {
                    return Err(IdFormatError::UnknownField {
                        template: template.to_string(),
                        field: field.to_string(),
                    });
                }
            };
            if !lit.is_empty() {
                parts.push(Part::Lit(std::mem::take(&mut lit)));
            }
            parts.push(part);
        }
        if !lit.is_empty() {
            parts.push(Part::Lit(lit));
        }
        if !parts.iter().any(|p| !matches!(p, Part::Lit(_))) {
            return Err(invalid("names no field"));
        }
        Ok(IdFormat {
            template: template.to_string(),
            parts,
            normalize: Normalize::Exact,
        })
    }

    /// The same template compared under another normalisation.
    pub fn with_normalize(mut self, normalize: Normalize) -> IdFormat {
        self.normalize = normalize;
        self
    }

    /// The default of a tool (see the module doc).
    pub fn for_known(tool: Tool) -> IdFormat {
        let (template, normalize) = match tool {
            Tool::Nextest => ("{classname} {name}", Normalize::Exact),
            Tool::Pytest => ("{classname}.{name}", Normalize::Python),
            Tool::Jest => ("{file}", Normalize::Exact),
            Tool::Surefire => ("{classname}", Normalize::Exact),
            Tool::Go => ("{name}", Normalize::Exact),
        };
        IdFormat::parse(template)
            .expect("built-in templates parse")
            .with_normalize(normalize)
    }

    /// The default of a tool named `nextest`, `pytest`, `jest`, `surefire` (or `maven`) or `go`.
    pub fn for_tool(tool: &str) -> Result<IdFormat, IdFormatError> {
        let tool = match tool.to_ascii_lowercase().as_str() {
            "nextest" | "cargo-nextest" => Tool::Nextest,
            "pytest" => Tool::Pytest,
            "jest" | "jest-junit" => Tool::Jest,
            "surefire" | "maven" | "failsafe" => Tool::Surefire,
            "go" | "gotestsum" | "go-junit-report" => Tool::Go,
            _ => return Err(IdFormatError::UnknownTool(tool.to_string())),
        };
        Ok(IdFormat::for_known(tool))
    }

    /// Reads the pipeline's setting: a tool name (its default), a template (compared
    /// exactly), or `TOOL:TEMPLATE` (a template compared under that tool's normalisation,
    /// e.g. `pytest:{file}::{name}`).
    pub fn from_spec(spec: &str) -> Result<IdFormat, IdFormatError> {
        let spec = spec.trim();
        if !spec.contains('{') {
            return IdFormat::for_tool(spec);
        }
        if let Some((tool, template)) = spec.split_once(':')
            && !tool.contains('{')
            && let Ok(default) = IdFormat::for_tool(tool)
        {
            return Ok(IdFormat::parse(template)?.with_normalize(default.normalize));
        }
        IdFormat::parse(spec)
    }

    /// The default of the tool that wrote `report`, else `{classname}::{name}`.
    pub fn detect(report: &Report) -> IdFormat {
        match Tool::detect(report) {
            Some(tool) => IdFormat::for_known(tool),
            None => IdFormat::parse("{classname}::{name}").expect("built-in template parses"),
        }
    }

    /// The template as written.
    pub fn template(&self) -> &str {
        &self.template
    }

    /// The normalisation in force.
    pub fn normalize(&self) -> Normalize {
        self.normalize
    }

    /// A case's key, normalised; `None` when the template needs a field the case lacks.
    pub fn case_key(&self, case: &TestCase) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            let s = match part {
                Part::Lit(s) => s.as_str(),
                Part::Name => case.name.as_str(),
                Part::Classname => case.classname.as_deref()?,
                Part::File => case.file.as_deref()?,
                Part::Suite => case.suite.as_deref()?,
            };
            out.push_str(s);
        }
        Some(self.listed_key(&out))
    }

    /// A listed id as compared with case keys.
    pub fn listed_key(&self, id: &str) -> String {
        let id = id.trim();
        match self.normalize {
            Normalize::Exact => id.strip_prefix("./").unwrap_or(id).to_string(),
            Normalize::Python => python_key(id),
        }
    }

    /// Maps the cases of one or more reports onto the listed ids that ran.
    pub fn match_cases(&self, listed: &[String], cases: &[TestCase]) -> Matched {
        let mut by_key: HashMap<String, Vec<&TestCase>> = HashMap::new();
        // The same case twice (a re-run batch) counts once: the last copy.
        let mut seen: HashMap<CaseIdentity<'_>, usize> = HashMap::new();
        let mut distinct: Vec<&TestCase> = Vec::new();
        for case in cases {
            let identity = (
                case.name.as_str(),
                case.classname.as_deref(),
                case.file.as_deref(),
                case.suite.as_deref(),
            );
            match seen.get(&identity) {
                Some(&i) => distinct[i] = case,
                None => {
                    seen.insert(identity, distinct.len());
                    distinct.push(case);
                }
            }
        }
        let mut unkeyed = 0;
        let mut matched = Matched::default();
        for case in distinct {
            match self.case_key(case) {
                Some(k) => by_key.entry(k).or_default().push(case),
                None => {
                    unkeyed += 1;
                    matched.unmatched_failures += usize::from(case.outcome == Outcome::Failed);
                }
            }
        }
        let mut used: HashSet<String> = HashSet::new();
        for id in listed {
            let key = self.listed_key(id);
            let Some(group) = by_key.get(&key) else {
                matched.unmatched_ids.push(id.clone());
                continue;
            };
            used.insert(key);
            let timed: Vec<f64> = group
                .iter()
                .filter(|c| c.outcome != Outcome::Skipped)
                .filter_map(|c| c.time)
                .collect();
            if !timed.is_empty() {
                matched.timings.push((id.clone(), timed.iter().sum()));
            }
            if group.iter().any(|c| c.outcome == Outcome::Failed) {
                matched.failed.push(id.clone());
            } else if group.iter().any(|c| c.flaky) {
                matched.flaky.push(id.clone());
            }
        }
        let unused = by_key.iter().filter(|(k, _)| !used.contains(*k));
        for (_, group) in unused {
            matched.unmatched_cases += group.len();
            matched.unmatched_failures += group
                .iter()
                .filter(|c| c.outcome == Outcome::Failed)
                .count();
        }
        matched.unmatched_cases += unkeyed;
        matched
    }
}

/// A case as the same test: (name, classname, file, suite).
type CaseIdentity<'a> = (&'a str, Option<&'a str>, Option<&'a str>, Option<&'a str>);

/// What [`IdFormat::match_cases`] found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Matched {
    /// Seconds per listed id that has timed, non-skipped cases (in listed order).
    pub timings: Vec<(String, f64)>,
    /// Listed ids with a failed case.
    pub failed: Vec<String>,
    /// Listed ids that passed only after failing attempts.
    pub flaky: Vec<String>,
    /// Listed ids no case maps to (warn: the template may not fit the `list` command).
    pub unmatched_ids: Vec<String>,
    /// Cases no listed id maps to.
    pub unmatched_cases: usize,
    /// Of those, the failed ones: a failure the ids cannot name still fails the batch.
    pub unmatched_failures: usize,
}

/// The listed ids whose cases failed: what `retry_failed` reruns.
pub fn failed_ids(cases: &[TestCase], format: &IdFormat, listed: &[String]) -> Vec<String> {
    format.match_cases(listed, cases).failed
}

fn python_key(id: &str) -> String {
    let id = id.strip_prefix("./").unwrap_or(id);
    let parts = split_outside_brackets(id);
    // Only the path part (before the first `::`) has slashes and `.py` to fold; a
    // parameter like `[a/b]` later on is left alone.
    let path = parts[0];
    let mut out = match path.strip_suffix(".py") {
        Some(p) => p.replace(['/', '\\'], "."),
        None if parts.len() > 1 => path.replace(['/', '\\'], "."),
        None => path.to_string(),
    };
    for part in &parts[1..] {
        out.push('.');
        out.push_str(part);
    }
    out
}

/// Splits at `::` outside `[…]` (a parameter may hold `::`).
fn split_outside_brackets(s: &str) -> Vec<&str> {
    let bytes = s.as_bytes();
    let (mut parts, mut depth, mut start, mut i) = (Vec::new(), 0usize, 0, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'[' => depth += 1,
            b']' => depth = depth.saturating_sub(1),
            b':' if depth == 0 && bytes.get(i + 1) == Some(&b':') => {
                parts.push(&s[start..i]);
                i += 2;
                start = i;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    parts.push(&s[start..]);
    parts
}
