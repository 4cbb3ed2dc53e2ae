//! Property tests of what an advisory import reads (OSV files and zips come from the
//! network) and of version ordering on the versions images and advisories carry: random JSON
//! and documents from OSV's own keys, zips of them with hostile names, cut short or
//! corrupted, and random version strings in every scheme. Never a panic; an entry that cannot
//! be read is a warning naming it; orderings are consistent.
//!
//! `RAILYARD_FUZZ_CASES` sets the cases per property (default 128; see docs/security.md).

use proptest::prelude::*;
use railyard_advisory::{IgnoreFile, VersionScheme, matching, osv, read_path, severity};
use serde_json::{Value, json};
use std::cmp::Ordering;
use std::io::Write;
use std::path::Path;

const SCHEMES: &[VersionScheme] = &[
    VersionScheme::Debian,
    VersionScheme::Alpine,
    VersionScheme::Rpm,
    VersionScheme::Pep440,
    VersionScheme::Semver,
    VersionScheme::Go,
];

/// Version-like strings: digits, separators and the letters schemes give meaning to.
fn version() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9a-z.:~+^_-]{0,16}",
        "v?[0-9]{1,3}(\\.[0-9]{1,3}){0,3}(-[a-z0-9.]{1,6})?(\\+[a-z0-9]{1,4})?",
        "[0-9]{1,2}:[0-9.]{1,6}-[0-9a-z.~+]{1,6}",
        "\\PC{0,12}",
        Just("99999999999999999999999999.1".to_owned()),
    ]
}

fn text() -> impl Strategy<Value = Value> {
    prop_oneof![
        "\\PC{0,12}".prop_map(Value::from),
        version().prop_map(Value::from),
        prop::sample::select(
            &[
                "Debian:12",
                "Alpine:v3.19",
                "PyPI",
                "npm",
                "crates.io",
                "Go",
                "Rocky Linux:9",
                "ECOSYSTEM",
                "SEMVER",
                "GIT",
                "CVSS_V3",
                "CVSS_V4",
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                "CVSS:3.1/AV:X",
                "HIGH",
                "0",
                "2024-01-01T00:00:00Z",
                "",
            ][..]
        )
        .prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        Just(Value::Null),
    ]
}

/// An OSV document from OSV's keys, values of the right kind or not.
fn document() -> impl Strategy<Value = Value> {
    let event = (
        prop::sample::select(&["introduced", "fixed", "last_affected", "limit", "x"][..]),
        text(),
    )
        .prop_map(|(k, v)| json!({ k: v }));
    let range = (text(), prop::collection::vec(event, 0..4), text())
        .prop_map(|(t, events, repo)| json!({"type": t, "events": events, "repo": repo}));
    let affected = (
        text(),
        text(),
        prop::collection::vec(range, 0..3),
        prop::collection::vec(text(), 0..3),
        prop::option::of(text()),
    )
        .prop_map(|(eco, name, ranges, versions, sev)| {
            json!({
                "package": {"ecosystem": eco, "name": name, "purl": "pkg:x/y"},
                "ranges": ranges,
                "versions": versions,
                "ecosystem_specific": {"urgency": sev},
                "database_specific": {"severity": sev},
            })
        });
    (
        text(),
        prop::collection::vec(text(), 0..2),
        prop::collection::vec(affected, 0..3),
        prop::collection::vec((text(), text()), 0..2),
        text(),
    )
        .prop_map(|(id, aliases, affected, severities, modified)| {
            let severity: Vec<Value> = severities
                .into_iter()
                .map(|(t, s)| json!({"type": t, "score": s}))
                .collect();
            json!({
                "id": id, "aliases": aliases, "modified": modified, "published": modified,
                "summary": "s", "details": "d", "affected": affected, "severity": severity,
                "database_specific": {"severity": "HIGH"},
            })
        })
}

/// Every way a parsed advisory is used on an installed version.
fn use_advisory(a: &osv::Advisory, installed: &str) {
    for affected in &a.affected {
        matching::affects(affected, installed);
        matching::fixed_version(affected, installed);
        for range in &affected.ranges {
            matching::in_range(range, &affected.ecosystem, installed);
        }
    }
}

/// Names of zip entries: advisories, climbing and absolute names, others.
const ENTRY_NAMES: &[&str] = &[
    "a.json",
    "../../x.json",
    "/abs.json",
    "d/b.json",
    "c.txt",
    "n.zip",
    "",
];

fn zip_of(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        zip.start_file(name.as_str(), opts).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

proptest! {
    #![proptest_config(railyard_test_support::fuzz_config())]

    #[test]
    fn orderings_are_total_and_consistent(a in version(), b in version(), c in version()) {
        for &scheme in SCHEMES {
            let _ = scheme.validate(&a);
            let ab = scheme.compare(&a, &b);
            let ba = scheme.compare(&b, &a);
            if let (Ok(ab), Ok(ba)) = (&ab, &ba) {
                prop_assert_eq!(*ab, ba.reverse(), "{:?} {} {}", scheme, a, b);
            }
            if let Ok(aa) = scheme.compare(&a, &a) {
                prop_assert_eq!(aa, Ordering::Equal, "{:?} {}", scheme, a);
            }
            if let (Ok(Ordering::Less), Ok(Ordering::Less)) = (ab, scheme.compare(&b, &c)) {
                let ac = scheme.compare(&a, &c).ok();
                prop_assert_eq!(ac, Some(Ordering::Less), "{:?} {} {} {}", scheme, a, b, c);
            }
        }
    }

    #[test]
    fn random_bytes_are_not_advisories(bytes in prop::collection::vec(any::<u8>(), 0..1000)) {
        let json = serde_json::from_slice::<Value>(&bytes).is_ok();
        prop_assert!(osv::parse(&bytes).is_err() || json);
    }

    #[test]
    fn documents_from_osv_keys_parse_or_say_why(doc in document(), installed in version()) {
        let bytes = serde_json::to_vec(&doc).unwrap();
        if let Ok(parsed) = osv::parse(&bytes) {
            use_advisory(&parsed.advisory, &installed);
        }
        if let Some(score) = doc["severity"][0]["score"].as_str() {
            let _ = severity::cvss_base_score(score);
        }
    }

    #[test]
    fn zips_of_documents_read_with_warnings(
        docs in prop::collection::vec((prop::sample::select(ENTRY_NAMES), document()), 0..4),
        damage in prop::option::of((any::<prop::sample::Index>(), any::<u8>())),
        cut in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
        for (name, doc) in &docs {
            // The writer refuses a name twice.
            if entries.iter().all(|(n, _)| n != name) {
                entries.push((name.to_string(), serde_json::to_vec(doc).unwrap()));
            }
        }
        let inner = zip_of(&entries);
        let mut bytes = zip_of(&[("nested.zip".to_owned(), inner)]);
        if let Some((at, byte)) = damage {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        if let Some(cut) = cut {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("all.zip");
        std::fs::write(&path, &bytes).unwrap();
        let read = read_path(&path).unwrap();
        prop_assert!(read.advisories.len() <= docs.len());
        // Nothing was written beside the archive.
        prop_assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn ignore_files_parse_or_say_why(text in prop_oneof![
        "\\PC{0,300}",
        prop::collection::vec(prop::sample::select(&[
            "ignore:\n", "  - id: CVE-1\n", "    reason: r\n", "    until: 2024-01-01\n",
            "    package: x\n", "    until: x\n", "- ", ":", "\n", "  ", "&a ", "*a", "[", "{",
        ][..]), 0..30).prop_map(|t| t.concat()),
    ]) {
        let _ = IgnoreFile::parse(Path::new(".railyard-ignore.yml"), &text);
    }
}

/// A deflated entry that inflates past the 16 MiB limit is skipped with a warning, not held.
#[test]
fn a_zip_bomb_entry_is_skipped_with_a_warning() {
    let zeros = vec![0u8; 17 << 20];
    let bytes = zip_of(&[("bomb.json".to_owned(), zeros)]);
    assert!(bytes.len() < 100_000, "{}", bytes.len());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("all.zip");
    std::fs::write(&path, &bytes).unwrap();
    let read = read_path(&path).unwrap();
    assert!(read.advisories.is_empty());
    assert!(
        read.warnings.iter().any(|w| w.source.contains("bomb.json")),
        "{:?}",
        read.warnings
    );
}
