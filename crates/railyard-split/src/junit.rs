//! Reading JUnit XML as real tools write it, with a streaming parser (quick-xml).
//!
//! There is no JUnit standard, only habits: a `<testsuites>` root or a bare `<testsuite>`
//! (Surefire), suites nested in suites, `file` on the case or on its suite (jest-junit,
//! pytest's xunit1), `time` missing, empty or written with a thousands separator, a
//! `classname` that is a crate, a dotted module, a Go package or a sentence. So the parser
//! needs only `<testcase name>` and takes everything else when it is there; unknown
//! elements are skipped. Outcomes: any `<failure>` or `<error>` fails a case (also
//! `<rerunFailure>`, which only ever sits beside one), `<skipped>` skips it, and
//! `<flakyFailure>`/`<flakyError>` on a case that passed marks it flaky (nextest, Surefire).
//!
//! A report that is not well-formed (syntax errors, mismatched or unclosed tags, truncation)
//! is refused whole with an error naming the file and line, so that half a report never
//! passes for a whole one; the caller keeps the other files' timings.

use std::collections::BTreeSet;
use std::path::Path;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use crate::errors::JunitError;

/// How a test case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Passed (possibly after failing attempts: see [`TestCase::flaky`]).
    Passed,
    /// A `<failure>` or `<error>`.
    Failed,
    /// `<skipped>` (including pytest's xfail).
    Skipped,
}

/// One `<testcase>` of a report.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TestCase {
    /// The `name` attribute.
    pub name: String,
    /// The `classname` attribute, if present and not empty.
    pub classname: Option<String>,
    /// The case's `file` attribute, else that of its innermost suite that has one.
    pub file: Option<String>,
    /// The `name` of the innermost `<testsuite>` holding the case.
    pub suite: Option<String>,
    /// Seconds, when the report gives a usable `time`.
    pub time: Option<f64>,
    /// How it ended.
    pub outcome: Outcome,
    /// Passed after failing attempts (`<flakyFailure>`/`<flakyError>`), or was merged so.
    pub flaky: bool,
    /// The first line of the failure or skip message, for reports.
    pub message: Option<String>,
}

/// A parsed report: its cases, plus the traits used to guess which tool wrote it.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The cases in document order.
    pub cases: Vec<TestCase>,
    /// `name` of the root element (`nextest-run`, `pytest tests`, `jest tests`, …).
    pub root_name: Option<String>,
    /// Whether the root is `<testsuites>` (else a bare `<testsuite>`).
    pub root_is_suites: bool,
    /// Names of `<property>` elements seen (`go.version`, `java.version`, …).
    pub property_names: BTreeSet<String>,
}

/// Parses one report; `path` is only used in errors.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Vec<TestCase>, JunitError> {
    parse_report(path, bytes).map(|r| r.cases)
}

/// Longest message kept per case.
const MAX_MESSAGE: usize = 500;

struct OpenCase {
    case: TestCase,
    failed: bool,
    skipped: bool,
    /// Inside which outcome element text is being collected (when it had no `message`).
    collecting: Option<Vec<u8>>,
}

/// Parses one report, keeping what tool detection needs.
pub fn parse_report(path: &Path, bytes: &[u8]) -> Result<Report, JunitError> {
    let mut reader = Reader::from_reader(bytes);
    reader.config_mut().check_end_names = true;
    let mut report = Report::default();
    // Every open element with the line it was opened on, to name truncations.
    let mut open: Vec<(String, u64)> = Vec::new();
    // (name, file) of each open <testsuite>.
    let mut suites: Vec<(Option<String>, Option<String>)> = Vec::new();
    let mut case: Option<OpenCase> = None;
    let mut saw_root = false;
    // The line at `lines.0`, counted on from the last element opened: counting from the
    // start for each element took time quadratic in the report's size.
    let mut lines = (0usize, 1u64);
    let malformed = |reader: &Reader<&[u8]>, reason: String| JunitError::Malformed {
        path: path.to_path_buf(),
        line: Some(line_of(
            bytes,
            reader.error_position().max(reader.buffer_position()),
        )),
        reason,
    };

    loop {
        let at = reader.buffer_position();
        let event = reader.read_event().map_err(|e| JunitError::Malformed {
            path: path.to_path_buf(),
            line: Some(line_of(bytes, reader.error_position())),
            reason: e.to_string(),
        })?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                let name = local_name(e);
                if !saw_root {
                    if name != "testsuites" && name != "testsuite" {
                        return Err(JunitError::NotJunit {
                            path: path.to_path_buf(),
                            reason: format!("the root element is `<{name}>`"),
                        });
                    }
                    saw_root = true;
                    report.root_is_suites = name == "testsuites";
                    report.root_name = attr(e, "name").map_err(|r| malformed(&reader, r))?;
                }
                start(e, &name, &mut suites, &mut case, &mut report)
                    .map_err(|r| malformed(&reader, r))?;
                if empty {
                    end(&name, &mut suites, &mut case, &mut report);
                } else {
                    let at = (at as usize).min(bytes.len());
                    lines.1 += bytes[lines.0..at].iter().filter(|&&b| b == b'\n').count() as u64;
                    lines.0 = at;
                    open.push((name, lines.1));
                }
            }
            Event::End(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                open.pop();
                end(&name, &mut suites, &mut case, &mut report);
            }
            Event::Text(t) => collect(&mut case, &t),
            Event::CData(t) => collect(&mut case, &t),
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    _ => match r.as_ref() {
                        b"lt" => "<".into(),
                        b"gt" => ">".into(),
                        b"amp" => "&".into(),
                        b"quot" => "\"".into(),
                        b"apos" => "'".into(),
                        _ => String::new(),
                    },
                };
                collect(&mut case, resolved.as_bytes());
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if let Some((element, line)) = open.pop() {
        return Err(JunitError::Truncated {
            path: path.to_path_buf(),
            element,
            line,
        });
    }
    if !saw_root {
        let reason = if bytes.iter().all(u8::is_ascii_whitespace) {
            "the file is empty".to_string()
        } else {
            "it holds no XML element".to_string()
        };
        return Err(JunitError::NotJunit {
            path: path.to_path_buf(),
            reason,
        });
    }
    Ok(report)
}

fn start(
    e: &BytesStart<'_>,
    name: &str,
    suites: &mut Vec<(Option<String>, Option<String>)>,
    case: &mut Option<OpenCase>,
    report: &mut Report,
) -> Result<(), String> {
    match (name, case.as_mut()) {
        ("testsuite", None) => suites.push(suite_of(e)?),
        ("testcase", None) => {
            let inherited_file = suites.iter().rev().find_map(|(_, f)| f.clone());
            let time = attr(e, "time")?.as_deref().and_then(parse_time);
            *case = Some(OpenCase {
                case: TestCase {
                    name: attr(e, "name")?.unwrap_or_default(),
                    classname: attr(e, "classname")?.filter(|c| !c.is_empty()),
                    file: attr(e, "file")?
                        .filter(|f| !f.is_empty())
                        .or(inherited_file),
                    suite: suites.iter().rev().find_map(|(n, _)| n.clone()),
                    time,
                    outcome: Outcome::Passed,
                    flaky: false,
                    message: None,
                },
                failed: false,
                skipped: false,
                collecting: None,
            });
        }
        ("property", None) => {
            if let Some(p) = attr(e, "name")? {
                report.property_names.insert(p);
            }
        }
        ("failure" | "error" | "skipped", Some(open)) => {
            if name == "skipped" {
                open.skipped = true;
            } else {
                open.failed = true;
            }
            if open.case.message.is_none() {
                match attr(e, "message")?.filter(|m| !m.trim().is_empty()) {
                    Some(m) => open.case.message = Some(first_line(&m)),
                    None => open.collecting = Some(Vec::new()),
                }
            }
        }
        ("rerunFailure" | "rerunError", Some(open)) => open.failed = true,
        ("flakyFailure" | "flakyError", Some(open)) => open.case.flaky = true,
        _ => {}
    }
    Ok(())
}

fn end(
    name: &str,
    suites: &mut Vec<(Option<String>, Option<String>)>,
    case: &mut Option<OpenCase>,
    report: &mut Report,
) {
    match name {
        "testsuite" if case.is_none() => {
            suites.pop();
        }
        "testcase" => {
            if let Some(mut open) = case.take() {
                open.case.outcome = if open.failed {
                    Outcome::Failed
                } else if open.skipped {
                    Outcome::Skipped
                } else {
                    Outcome::Passed
                };
                if open.case.outcome == Outcome::Failed {
                    open.case.flaky = false;
                }
                if !open.case.name.is_empty() {
                    report.cases.push(open.case);
                }
            }
        }
        "failure" | "error" | "skipped" => {
            if let Some(open) = case.as_mut()
                && let Some(text) = open.collecting.take()
            {
                let text = String::from_utf8_lossy(&text);
                if !text.trim().is_empty() {
                    open.case.message = Some(first_line(&text));
                }
            }
        }
        _ => {}
    }
}

fn collect(case: &mut Option<OpenCase>, text: &[u8]) {
    if let Some(buf) = case.as_mut().and_then(|c| c.collecting.as_mut())
        && buf.len() < 4 * MAX_MESSAGE
    {
        buf.extend_from_slice(text);
    }
}

fn suite_of(e: &BytesStart<'_>) -> Result<(Option<String>, Option<String>), String> {
    Ok((
        attr(e, "name")?.filter(|n| !n.is_empty()),
        attr(e, "file")?.filter(|f| !f.is_empty()),
    ))
}

fn local_name(e: &BytesStart<'_>) -> String {
    String::from_utf8_lossy(e.local_name().as_ref()).into_owned()
}

/// An attribute's unescaped value; a malformed attribute list is an error.
fn attr(e: &BytesStart<'_>, key: &str) -> Result<Option<String>, String> {
    for a in e.attributes() {
        let a = a.map_err(|err| err.to_string())?;
        if a.key.local_name().as_ref() == key.as_bytes() {
            let v = a
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|err| err.to_string())?;
            return Ok(Some(v.into_owned()));
        }
    }
    Ok(None)
}

/// Seconds from a `time` attribute: `1.5`, ` 0.001 `, `1,234.5` (thousands), `0,5`
/// (decimal comma). Empty, negative or non-finite values give `None`.
pub fn parse_time(raw: &str) -> Option<f64> {
    let s = raw.trim();
    if s.is_empty() {
        return None;
    }
    let cleaned = if s.contains('.') {
        s.replace(',', "")
    } else {
        s.replace(',', ".")
    };
    let t: f64 = cleaned.parse().ok()?;
    (t.is_finite() && t >= 0.0).then_some(t)
}

fn first_line(text: &str) -> String {
    let line = text.trim().lines().next().unwrap_or("").trim();
    let mut out: String = line.chars().take(MAX_MESSAGE).collect();
    if out.len() < line.len() {
        out.push('…');
    }
    out
}

fn line_of(bytes: &[u8], offset: u64) -> u64 {
    let end = (offset as usize).min(bytes.len());
    bytes[..end].iter().filter(|&&b| b == b'\n').count() as u64 + 1
}
