//! What findings mean for the exit status: `--fail-on SEVERITY` fails when a finding at or
//! above that severity is not ignored; an ignore file lists advisories to accept for a while.
//!
//! The ignore file is YAML:
//!
//! ```yaml
//! ignore:
//!   - id: CVE-2024-1234          # the advisory id or any of its aliases
//!     reason: only reachable through the XML importer, which CI never runs
//!     expires: 2027-01-31        # YYYY-MM-DD; from this day on the entry no longer ignores
//! ```
//!
//! Every field is required, unknown fields are refused, and a malformed file is an error
//! naming the file, line and column: a typo must not silently change what fails a build. An
//! expired entry is kept in the report with a note, and its findings count again.

use crate::errors::IgnoreFileError;
use crate::matching::Finding;
use crate::severity::Severity;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;
use std::path::{Path, PathBuf};

/// The exit status when findings fail the policy.
pub const FINDINGS_EXIT_CODE: i32 = 1;

/// One entry of an ignore file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IgnoreEntry {
    /// Advisory id or alias it ignores.
    pub id: String,
    /// Why, for the next reader.
    pub reason: String,
    /// The day it stops ignoring.
    pub expires: Date,
    /// Its line in the file, for messages.
    pub line: usize,
}

/// A parsed ignore file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IgnoreFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its entries, in file order.
    pub entries: Vec<IgnoreEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    ignore: Option<Vec<Spanned<RawEntry>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    id: Spanned<String>,
    reason: Spanned<String>,
    expires: Spanned<String>,
}

impl IgnoreFile {
    /// Reads and checks an ignore file.
    pub fn load(path: &Path) -> Result<Self, IgnoreFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| IgnoreFileError::Unreadable {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Parses ignore-file text; `path` names it in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Self, IgnoreFileError> {
        let invalid = |line: u64, column: u64, message: String| IgnoreFileError::Invalid {
            path: path.to_path_buf(),
            line: line as usize,
            column: column as usize,
            message,
        };
        if text.trim().is_empty() {
            return Ok(IgnoreFile {
                path: path.to_path_buf(),
                entries: Vec::new(),
            });
        }
        let raw: RawFile = serde_saphyr::from_str(text).map_err(|e| {
            let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
            let first = strip_location(e.to_string().lines().next().unwrap_or_default());
            invalid(
                line,
                column,
                format!("{first}; expected `ignore:` with a list of {{ id, reason, expires: YYYY-MM-DD }}"),
            )
        })?;
        let mut entries = Vec::new();
        for entry in raw.ignore.unwrap_or_default() {
            let e = entry.value;
            let id = e.id.value.trim().to_string();
            if id.is_empty() {
                return Err(invalid(
                    e.id.defined.line(),
                    e.id.defined.column(),
                    "`id` is empty".into(),
                ));
            }
            if e.reason.value.trim().is_empty() {
                return Err(invalid(
                    e.reason.defined.line(),
                    e.reason.defined.column(),
                    format!("`reason` for {id} is empty: say why it is safe to ignore"),
                ));
            }
            let expires = parse_date(&e.expires.value).ok_or_else(|| {
                invalid(
                    e.expires.defined.line(),
                    e.expires.defined.column(),
                    format!(
                        "`expires` for {id} is `{}`, not a date YYYY-MM-DD",
                        e.expires.value
                    ),
                )
            })?;
            entries.push(IgnoreEntry {
                id,
                reason: e.reason.value.trim().to_string(),
                expires,
                line: entry.defined.line() as usize,
            });
        }
        Ok(IgnoreFile {
            path: path.to_path_buf(),
            entries,
        })
    }

    /// The entry that names this finding's advisory (by id or alias), if any.
    pub fn entry_for(&self, finding: &Finding) -> Option<&IgnoreEntry> {
        self.entries.iter().find(|e| {
            e.id.eq_ignore_ascii_case(&finding.advisory_id)
                || finding.aliases.iter().any(|a| e.id.eq_ignore_ascii_case(a))
        })
    }
}

/// The parser's message without its own `error: line N column M:` prefix (we print ours).
fn strip_location(msg: &str) -> String {
    let m = msg
        .trim()
        .strip_prefix("error:")
        .unwrap_or(msg)
        .trim_start();
    match m
        .strip_prefix("line ")
        .and_then(|rest| rest.split_once(": "))
    {
        Some((_, tail)) => tail.to_string(),
        None => m.to_string(),
    }
}

fn parse_date(s: &str) -> Option<Date> {
    let s = s.trim();
    if s.len() != 10 {
        return None;
    }
    s.parse().ok()
}

/// What the policy made of one finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    /// Counts.
    Active,
    /// Accepted by an ignore entry until it expires.
    Ignored {
        /// The entry's reason.
        reason: String,
        /// Its expiry.
        expires: Date,
    },
    /// An ignore entry named it but has expired: it counts again.
    IgnoreExpired {
        /// The day it expired.
        expired: Date,
    },
}

/// A finding with the policy's verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Judged {
    /// The finding.
    #[serde(flatten)]
    pub finding: Finding,
    /// The verdict.
    #[serde(flatten)]
    pub status: Status,
    /// True when it is active and at or above `--fail-on`.
    pub fails: bool,
}

/// The policy's answer for a set of findings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// Every finding with its verdict.
    pub findings: Vec<Judged>,
    /// How many findings fail the policy.
    pub failing: usize,
    /// Notes for the user: expired ignore entries, entries that matched nothing.
    pub notes: Vec<String>,
    /// 0, or [`FINDINGS_EXIT_CODE`] when a finding fails.
    pub exit_code: i32,
}

/// Applies `--fail-on` and an ignore file to findings, as of `today`.
pub fn evaluate(
    findings: Vec<Finding>,
    fail_on: Option<Severity>,
    ignore: Option<&IgnoreFile>,
    today: Date,
) -> Outcome {
    let mut notes = Vec::new();
    let mut used = vec![false; ignore.map_or(0, |i| i.entries.len())];
    let judged: Vec<Judged> = findings
        .into_iter()
        .map(|finding| {
            let entry = ignore.and_then(|i| {
                let e = i.entry_for(&finding)?;
                let pos = i.entries.iter().position(|x| std::ptr::eq(x, e))?;
                used[pos] = true;
                Some(e)
            });
            let status = match entry {
                Some(e) if e.expires > today => Status::Ignored {
                    reason: e.reason.clone(),
                    expires: e.expires,
                },
                Some(e) => Status::IgnoreExpired { expired: e.expires },
                None => Status::Active,
            };
            let fails = !matches!(status, Status::Ignored { .. })
                && fail_on.is_some_and(|t| finding.severity >= t);
            Judged {
                finding,
                status,
                fails,
            }
        })
        .collect();
    if let Some(file) = ignore {
        for (e, used) in file.entries.iter().zip(&used) {
            if e.expires <= today {
                notes.push(format!(
                    "{}:{}: the ignore entry for {} expired on {}; its findings count again",
                    file.path.display(),
                    e.line,
                    e.id,
                    e.expires
                ));
            } else if !used {
                notes.push(format!(
                    "{}:{}: the ignore entry for {} matches no finding; remove it if the advisory no longer applies",
                    file.path.display(),
                    e.line,
                    e.id
                ));
            }
        }
    }
    let failing = judged.iter().filter(|j| j.fails).count();
    Outcome {
        findings: judged,
        failing,
        notes,
        exit_code: if failing > 0 { FINDINGS_EXIT_CODE } else { 0 },
    }
}
