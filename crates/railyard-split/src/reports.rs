//! The glue a runner needs around one test job: reading all its report files into timings
//! (a damaged file is reported and skipped, the others still count), and expanding the
//! `{tests}` of the job's `run` template.

use std::path::PathBuf;

use crate::errors::JunitError;
use crate::ids::{IdFormat, Matched};
use crate::junit::{self, TestCase};

/// What the reports of one job (or one batch) gave.
#[derive(Debug)]
pub struct Collected {
    /// Every case of every readable report, in file order.
    pub cases: Vec<TestCase>,
    /// The format used: the one given, else the default of the tool that wrote the first
    /// readable report.
    pub format: IdFormat,
    /// Timings, failures and flaky tests per listed id, and what did not match.
    pub matched: Matched,
    /// One error per report that could not be read (name the file in a warning).
    pub errors: Vec<JunitError>,
}

/// Reads `(path, bytes)` reports and maps them onto the `listed` ids that ran.
pub fn collect(
    listed: &[String],
    files: &[(PathBuf, Vec<u8>)],
    format: Option<&IdFormat>,
) -> Collected {
    let mut cases = Vec::new();
    let mut errors = Vec::new();
    let mut detected = None;
    for (path, bytes) in files {
        match junit::parse_report(path, bytes) {
            Ok(report) => {
                if detected.is_none() && !report.cases.is_empty() {
                    detected = Some(IdFormat::detect(&report));
                }
                cases.extend(report.cases);
            }
            Err(e) => errors.push(e),
        }
    }
    let format = format.cloned().or(detected).unwrap_or_else(|| {
        IdFormat::parse("{classname}::{name}").expect("built-in template parses")
    });
    let matched = format.match_cases(listed, &cases);
    Collected {
        cases,
        format,
        matched,
        errors,
    }
}

/// Expands `{tests}` in a `run` template to the ids, each quoted for a POSIX shell and
/// separated by spaces (`{{` and `}}` stand for braces, other text is kept as written).
pub fn expand_tests(template: &str, ids: &[String]) -> String {
    let quoted: Vec<String> = ids.iter().map(|id| shell_quote(id)).collect();
    let joined = quoted.join(" ");
    railyard_types::template::expand(template, |field| (field == "tests").then(|| joined.clone()))
}

/// The file behind `$RAILYARD_TESTS_FILE`: one id a line.
pub fn tests_file(ids: &[String]) -> String {
    let mut out = String::new();
    for id in ids {
        out.push_str(id);
        out.push('\n');
    }
    out
}

/// `'…'` quoting: safe for any byte but NUL; plain words stay bare for readable logs.
pub fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@%+,".contains(&b));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}
