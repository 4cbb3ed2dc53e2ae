//! `railyard advisories import`, `inventory affected` and `scan --fail-on` with an ignore file,
//! on a real scan of `debian:bookworm-slim` (made by scripts/test-images.sh). Scanning only
//! exports the image: it creates no container, network or volume to clean up.

use crate::common::{Project, text};
use std::process::Command;

const IMAGE: &str = "debian:bookworm-slim";

fn image_present() -> bool {
    let ok = Command::new("docker")
        .args(["image", "inspect", IMAGE])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        railyard_test_support::skip(&format!("{IMAGE} is missing (run scripts/test-images.sh)"));
    }
    ok
}

fn osv(id: &str, alias: &str, name: &str, fixed: &str) -> String {
    serde_json::json!({
        "id": id,
        "modified": "2026-11-01T00:00:00Z",
        "aliases": [alias],
        "summary": format!("{name}: test advisory"),
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
        "affected": [{
            "package": {"ecosystem": "Debian:12", "name": name},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}]
        }]
    })
    .to_string()
}

#[test]
fn import_match_affected_and_fail_on() {
    if !image_present() {
        return;
    }
    let p = Project::new("env: { image: debian:bookworm-slim }\njobs:\n  a:\n    script: [true]\n");
    // glibc far in the future hits libc6; zlib's "fixed" of epoch 0 is older than bookworm's
    // epoch-1 zlib, so it does not.
    p.write(
        "osv/DSA-9001-1.json",
        &osv("DSA-9001-1", "CVE-2099-0001", "glibc", "2.36-9+deb12u999"),
    );
    p.write(
        "osv/deep/DSA-9002-1.json",
        &osv("DSA-9002-1", "CVE-2099-0002", "zlib", "1.2.0-1"),
    );
    p.write("osv/deep/broken.json", "{\"id\": \"DSA-9003-1\", ");

    // A scan stored before the advisories exist has no findings.
    let out = p.run(&["scan", IMAGE, "--project", "web", "-o", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    // Importing matches the stored scan again, without rescanning; the broken file is named.
    let out = p.run(&["advisories", "import", "osv"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("osv/deep/broken.json: malformed JSON"),
        "{stderr}"
    );
    assert!(
        stdout.contains("read 2 advisories from 3 documents (1 skipped); 2 added"),
        "{stdout}"
    );
    assert!(stdout.contains("matched 1 stored scans again"), "{stdout}");

    let out = p.run(&["inventory", "affected", "CVE-2099-0001", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let libc = rows
        .iter()
        .find(|r| r["package"] == "libc6")
        .expect("libc6 is hit");
    assert_eq!(libc["project"], "web");
    assert_eq!(libc["image"], IMAGE);
    assert_eq!(libc["advisory_id"], "DSA-9001-1");
    assert_eq!(libc["layer_index"], 0);
    assert!(libc["instruction"].is_string(), "{libc}");
    let out = p.run(&["advisories", "affected", "DSA-9002-1"]);
    assert!(
        text(&out.stdout).contains("no stored image is hit by DSA-9002-1"),
        "{}",
        text(&out.stdout)
    );

    // Unknown advisory: an input error that says what to do.
    let out = p.run(&["inventory", "affected", "NOPE-1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("railyard advisories import"),
        "{}",
        text(&out.stderr)
    );

    // --fail-on: critical finding fails...
    let out = p.run(&["scan", IMAGE, "--project", "web", "--fail-on", "high"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("DSA-9001-1"),
        "{}",
        text(&out.stdout)
    );
    // ...unless ignored until a future date (the default file in the current folder)...
    p.write(
        ".railyard-ignore.yml",
        "ignore:\n  - id: CVE-2099-0001\n    reason: test image only\n    expires: 2999-01-01\n",
    );
    let out = p.run(&["scan", IMAGE, "--project", "web", "--fail-on", "high"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("ignored until 2999-01-01"),
        "{}",
        text(&out.stdout)
    );
    // JSON carries the findings and their verdicts too, for scripts (neither --no-store nor
    // --no-cache hides the advisories the store knows).
    let out = p.run(&["scan", IMAGE, "--no-store", "--no-cache", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let hit = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["package"] == "libc6")
        .unwrap_or_else(|| panic!("libc6 finding in {}", doc["findings"]));
    assert_eq!(hit["advisory_id"], "DSA-9001-1");
    assert_eq!(hit["status"], "ignored", "{hit}");
    assert_eq!(hit["fails"], false, "{hit}");
    assert!(doc["packages"].is_array());
    // ...and fails again once the entry has expired, saying so.
    p.write(
        "expired.yml",
        "ignore:\n  - id: DSA-9001-1\n    reason: was waiting for a fix\n    expires: 2020-01-01\n",
    );
    let out = p.run(&[
        "scan",
        IMAGE,
        "--project",
        "web",
        "--fail-on",
        "high",
        "--ignore-file",
        "expired.yml",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("expired.yml:2: the ignore entry for DSA-9001-1 expired on 2020-01-01"),
        "{stderr}"
    );

    // A malformed ignore file is an input error naming file and line.
    p.write(
        "bad.yml",
        "ignore:\n  - id: DSA-9001-1\n    reason: r\n    expires: someday\n",
    );
    let out = p.run(&[
        "scan",
        IMAGE,
        "--fail-on",
        "high",
        "--ignore-file",
        "bad.yml",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("bad.yml:4:"),
        "{}",
        text(&out.stderr)
    );

    // A folder of nothing but bad input is an error (exit 2) naming each file, imports
    // nothing and loses nothing already stored.
    p.write("bad/truncated.json", "[{\"id\": ");
    p.write("bad/wrong.json", "{\"id\": 7, \"modified\": []}");
    let out = p.run(&["advisories", "import", "bad"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("bad/truncated.json") && stderr.contains("bad/wrong.json"),
        "{stderr}"
    );
    assert!(stderr.contains("no advisory could be read"), "{stderr}");
    let out = p.run(&["inventory", "affected", "DSA-9001-1", "--json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(rows.iter().any(|r| r["package"] == "libc6"), "{rows:?}");

    // Re-importing changes nothing.
    let out = p.run(&["advisories", "import", "osv", "--json"]);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["stored"]["unchanged"], 2, "{summary}");
    assert_eq!(summary["rematched"]["new_findings"], 0, "{summary}");
}
