//! Importing OSV files, folders and zips, including the bad inputs: malformed JSON, wrong
//! schema, unknown ecosystem, invalid range, truncated zip.

use crate::fixtures::osv;
use railyard_advisory::read_path;
use serde_json::json;
use std::io::Write;
use std::path::Path;

fn write(path: &Path, value: &serde_json::Value) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
}

fn zip_of(path: &Path, entries: &[(&str, Vec<u8>)]) {
    let file = std::fs::File::create(path).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        zip.start_file(*name, opts).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
}

#[test]
fn one_file_is_read_with_its_fields() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("DSA-1.json");
    write(
        &f,
        &osv("DSA-1", "Debian:12", "openssl", "0", "3.0.15-1~deb12u1"),
    );
    let r = read_path(&f).unwrap();
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let a = &r.advisories[0];
    assert_eq!(a.id, "DSA-1");
    assert_eq!(a.aliases, vec!["CVE-DSA-1"]);
    assert_eq!(a.severity, railyard_advisory::Severity::Critical);
    assert_eq!(a.score, Some(9.8));
    assert_eq!(a.affected[0].ecosystem, "Debian:12");
    assert_eq!(a.modified_ms, 1_793_527_200_000);
}

#[test]
fn a_folder_is_read_recursively_and_bad_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        &root.join("a/GHSA-1.json"),
        &osv("GHSA-1", "PyPI", "Jinja2", "0", "3.1.4"),
    );
    write(
        &root.join("a/b/c/GO-1.json"),
        &osv("GO-1", "Go", "golang.org/x/net", "0", "0.23.0"),
    );
    std::fs::write(
        root.join("a/broken.json"),
        b"{\"id\": \"X\", \"modified\": ",
    )
    .unwrap();
    write(
        &root.join("schema.json"),
        &json!({"id": 5, "modified": "yesterday"}),
    );
    write(
        &root.join("nodate.json"),
        &json!({"id": "N-1", "modified": "yesterday"}),
    );
    write(
        &root.join("hackage.json"),
        &osv("HSEC-1", "Hackage", "aeson", "0", "2.0.0"),
    );
    let mut bad_range = osv("BAD-1", "npm", "lodash", "0", "4.17.21");
    bad_range["affected"][0]["ranges"][0]["events"] = json!([{"fixed": "1.0.0"}]);
    write(&root.join("badrange.json"), &bad_range);
    let mut bad_version = osv("BAD-2", "npm", "lodash", "0", "not.a.version");
    bad_version["id"] = json!("BAD-2");
    write(&root.join("badversion.json"), &bad_version);
    std::fs::write(root.join("README.md"), b"not an advisory").unwrap();

    let r = read_path(root).unwrap();
    let mut ids: Vec<_> = r.advisories.iter().map(|a| a.id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["GHSA-1", "GO-1"]);
    assert_eq!(r.documents, 8, "README.md is not a document");
    let w: Vec<String> = r.warnings.iter().map(ToString::to_string).collect();
    let find = |file: &str, text: &str| {
        assert!(
            w.iter().any(|x| x.contains(file) && x.contains(text)),
            "no warning naming {file} with {text:?} in {w:#?}"
        )
    };
    find("broken.json", "malformed JSON");
    find("schema.json", "not an OSV advisory");
    find("nodate.json", "RFC 3339");
    find(
        "hackage.json",
        "no ecosystem Railyard can match (found Hackage)",
    );
    find("badrange.json", "no `introduced` event");
    find(
        "badversion.json",
        "`not.a.version` is not a valid SemVer version",
    );
    assert_eq!(w.len(), 6, "{w:#?}");
}

#[test]
fn a_zip_is_read_and_a_bad_entry_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let z = dir.path().join("all.zip");
    let entries: Vec<(String, Vec<u8>)> = (0..50)
        .map(|i| {
            let id = format!("ALPINE-{i}");
            (
                format!("{id}.json"),
                serde_json::to_vec(&osv(&id, "Alpine:v3.19", "busybox", "0", "1.36.1-r15"))
                    .unwrap(),
            )
        })
        .chain([("oops.json".to_string(), b"[1, 2".to_vec())])
        .collect();
    let refs: Vec<(&str, Vec<u8>)> = entries
        .iter()
        .map(|(n, b)| (n.as_str(), b.clone()))
        .collect();
    zip_of(&z, &refs);
    let r = read_path(&z).unwrap();
    assert_eq!(r.advisories.len(), 50);
    assert_eq!(r.warnings.len(), 1);
    assert!(
        r.warnings[0].source.ends_with("all.zip!oops.json"),
        "{}",
        r.warnings[0]
    );
}

#[test]
fn a_truncated_zip_yields_what_precedes_the_cut_and_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let z = dir.path().join("all.zip");
    let entries: Vec<(String, Vec<u8>)> = (0..40)
        .map(|i| {
            let id = format!("PYSEC-{i}");
            (
                format!("{id}.json"),
                serde_json::to_vec(&osv(&id, "PyPI", "requests", "0", "2.32.0")).unwrap(),
            )
        })
        .collect();
    let refs: Vec<(&str, Vec<u8>)> = entries
        .iter()
        .map(|(n, b)| (n.as_str(), b.clone()))
        .collect();
    zip_of(&z, &refs);
    let bytes = std::fs::read(&z).unwrap();
    std::fs::write(&z, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let r = read_path(&z).unwrap();
    assert!(
        (10..40).contains(&r.advisories.len()),
        "read {} advisories from the first two thirds",
        r.advisories.len()
    );
    assert!(
        r.warnings
            .iter()
            .any(|w| w.message.contains("not a readable zip archive")),
        "{:?}",
        r.warnings
    );
    assert!(
        r.warnings.iter().all(|w| w.source.contains("all.zip")),
        "{:?}",
        r.warnings
    );
}

#[test]
fn a_missing_path_is_an_error_that_says_what_to_give() {
    let e = read_path(Path::new("/nonexistent/osv"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("/nonexistent/osv") && e.contains("OSV JSON file"),
        "{e}"
    );
}

#[test]
fn a_corrupt_entry_inside_an_intact_zip_is_named_and_the_others_read() {
    let dir = tempfile::tempdir().unwrap();
    let z = dir.path().join("osv").join("all.zip");
    std::fs::create_dir_all(z.parent().unwrap()).unwrap();
    // Entries big enough that the middle of one is surely compressed data.
    let entries: Vec<(String, Vec<u8>)> = (0..5)
        .map(|i| {
            let id = format!("RUSTSEC-2026-{i:04}");
            let mut v = osv(&id, "crates.io", "tokio", "1.0.0", "1.38.2");
            v["details"] = json!(format!(
                "{i} {}",
                "lorem ipsum dolor sit amet ".repeat(200 + i * 37)
            ));
            (
                format!("crates.io/{id}.json"),
                serde_json::to_vec(&v).unwrap(),
            )
        })
        .chain([("README.txt".to_string(), b"not an advisory".to_vec())])
        .collect();
    let refs: Vec<(&str, Vec<u8>)> = entries
        .iter()
        .map(|(n, b)| (n.as_str(), b.clone()))
        .collect();
    zip_of(&z, &refs);
    let mut bytes = std::fs::read(&z).unwrap();
    // Find entry 2's name in its local header and scribble over the data that follows it.
    let name = b"crates.io/RUSTSEC-2026-0002.json";
    let at = bytes.windows(name.len()).position(|w| w == name).unwrap() + name.len();
    for b in &mut bytes[at + 40..at + 120] {
        *b ^= 0x5A;
    }
    std::fs::write(&z, &bytes).unwrap();
    // A folder holding the zip: the zip inside is read too.
    let r = read_path(dir.path()).unwrap();
    let mut ids: Vec<&str> = r.advisories.iter().map(|a| a.id.as_str()).collect();
    ids.sort();
    assert_eq!(
        ids,
        [
            "RUSTSEC-2026-0000",
            "RUSTSEC-2026-0001",
            "RUSTSEC-2026-0003",
            "RUSTSEC-2026-0004"
        ]
    );
    assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
    assert!(
        r.warnings[0]
            .source
            .ends_with("all.zip!crates.io/RUSTSEC-2026-0002.json"),
        "{}",
        r.warnings[0]
    );
    assert_eq!(r.documents, 5, "README.txt is not a document");
}
