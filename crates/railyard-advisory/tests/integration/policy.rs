//! `--fail-on` and the ignore file: expiry, aliases, and malformed files named by line.

use crate::fixtures::{inventory, osv, package};
use railyard_advisory::policy::{Status, evaluate};
use railyard_advisory::{AdvisoryIndex, IgnoreFile, Severity};
use railyard_scan::Ecosystem;
use std::path::Path;

fn findings() -> Vec<railyard_advisory::Finding> {
    let mut medium = osv("GHSA-M", "npm", "left-pad", "0", "2.0.0");
    medium["severity"] = serde_json::json!([{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"}]);
    let advisories = [osv("GHSA-C", "npm", "lodash", "0", "4.17.21"), medium].map(|v| {
        railyard_advisory::osv::parse(&serde_json::to_vec(&v).unwrap())
            .unwrap()
            .advisory
    });
    let index = AdvisoryIndex::new(advisories);
    index.match_inventory(&inventory(
        None,
        vec![
            package(Ecosystem::Npm, "lodash", "4.17.0", 1),
            package(Ecosystem::Npm, "left-pad", "1.0.0", 1),
        ],
    ))
}

fn today() -> jiff::civil::Date {
    jiff::civil::date(2026, 11, 28)
}

#[test]
fn fail_on_sets_the_exit_status() {
    let f = findings();
    assert_eq!(
        f.iter().map(|f| f.severity).collect::<Vec<_>>(),
        [Severity::Critical, Severity::Medium]
    );
    assert_eq!(evaluate(f.clone(), None, None, today()).exit_code, 0);
    assert_eq!(
        evaluate(f.clone(), Some(Severity::Critical), None, today()).failing,
        1
    );
    assert_eq!(
        evaluate(f.clone(), Some(Severity::Medium), None, today()).failing,
        2
    );
    assert_eq!(
        evaluate(f.clone(), Some(Severity::High), None, today()).exit_code,
        1
    );
    assert_eq!(
        evaluate(Vec::new(), Some(Severity::Unknown), None, today()).exit_code,
        0
    );
}

#[test]
fn ignore_entries_hold_until_they_expire() {
    let text = "\
ignore:
  - id: CVE-GHSA-C          # an alias of GHSA-C
    reason: lodash is only used by the docs build
    expires: 2026-12-31
  - id: GHSA-M
    reason: fixed upstream, waiting for the release
    expires: 2026-11-28
  - id: GHSA-GONE
    reason: old
    expires: 2027-01-01
";
    let file = IgnoreFile::parse(Path::new("ci/ignore.yml"), text).unwrap();
    assert_eq!(file.entries.len(), 3);
    assert_eq!(file.entries[1].line, 5);
    let out = evaluate(findings(), Some(Severity::Low), Some(&file), today());
    assert!(matches!(out.findings[0].status, Status::Ignored { .. }));
    assert!(!out.findings[0].fails);
    assert_eq!(
        out.findings[1].status,
        Status::IgnoreExpired { expired: today() }
    );
    assert!(out.findings[1].fails, "an expired entry no longer ignores");
    assert_eq!(out.exit_code, 1);
    assert!(
        out.notes.iter().any(|n| n.contains("ci/ignore.yml:5")
            && n.contains("GHSA-M")
            && n.contains("expired on 2026-11-28")),
        "{:?}",
        out.notes
    );
    assert!(
        out.notes
            .iter()
            .any(|n| n.contains("GHSA-GONE") && n.contains("matches no finding")),
        "{:?}",
        out.notes
    );
}

#[test]
fn malformed_ignore_files_name_file_and_line() {
    let cases = [
        (
            "ignore:\n  - id: X\n    reason: r\n    expires: 2027-02-30\n",
            4,
            "not a date",
        ),
        (
            "ignore:\n  - id: X\n    reason: r\n",
            3,
            "missing field `expires`",
        ),
        (
            "ignore:\n  - id: X\n    reason: r\n    expires: 2027-01-01\n    until: x\n",
            5,
            "until",
        ),
        (
            "ignore:\n  - id: X\n    reason: \"\"\n    expires: 2027-01-01\n",
            3,
            "reason",
        ),
        ("ignore:\n  - id: [X\n", 2, ""),
        ("ignores: []\n", 1, "ignores"),
    ];
    for (text, line, needle) in cases {
        let e = IgnoreFile::parse(Path::new("ignore.yml"), text).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.starts_with(&format!("ignore.yml:{line}:")),
            "want line {line}: {msg}\n---\n{text}"
        );
        assert!(msg.contains(needle), "want {needle:?}: {msg}");
        assert!(
            !msg.contains("column 5:"),
            "the location is not repeated: {msg}"
        );
    }
    for empty in ["", "# nothing yet\n", "ignore:\n", "ignore: []\n"] {
        let file = IgnoreFile::parse(Path::new("empty.yml"), empty);
        assert!(file.unwrap().entries.is_empty(), "{empty:?}");
    }
}
