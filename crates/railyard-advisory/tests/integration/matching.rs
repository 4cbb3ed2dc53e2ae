//! Matching inventories against advisories: distro source packages within their release,
//! language packages by ecosystem and normalised name, owned packages not twice, and range
//! evaluation with introduced / fixed / last_affected / limit / versions.

use crate::fixtures::{inventory, osv, package};
use railyard_advisory::osv::{Event, Range, RangeKind};
use railyard_advisory::{Advisory, AdvisoryIndex, matching::in_range};
use railyard_scan::Ecosystem;
use serde_json::json;

fn adv(v: serde_json::Value) -> Advisory {
    railyard_advisory::osv::parse(&serde_json::to_vec(&v).unwrap())
        .unwrap()
        .advisory
}

fn range(events: &[(&str, &str)]) -> Range {
    Range {
        kind: RangeKind::Ecosystem,
        events: events
            .iter()
            .map(|(k, v)| match *k {
                "introduced" => Event::Introduced(v.to_string()),
                "fixed" => Event::Fixed(v.to_string()),
                "last_affected" => Event::LastAffected(v.to_string()),
                _ => Event::Limit(v.to_string()),
            })
            .collect(),
    }
}

#[test]
fn range_evaluation_follows_the_osv_rules() {
    let r = range(&[
        ("introduced", "1.0"),
        ("fixed", "1.5"),
        ("introduced", "2.0"),
        ("last_affected", "2.3"),
    ]);
    let hit = |v: &str| in_range(&r, "PyPI", v);
    assert!(!hit("0.9"));
    assert!(hit("1.0") && hit("1.4.9") && hit("1.5rc1"));
    assert!(!hit("1.5") && !hit("1.9"));
    assert!(hit("2.0") && hit("2.3"));
    assert!(!hit("2.3.1") && !hit("3.0"));

    let from_zero = range(&[("introduced", "0"), ("fixed", "2.36-9+deb12u4")]);
    assert!(in_range(&from_zero, "Debian:12", "2.36-9+deb12u3"));
    assert!(in_range(&from_zero, "Debian:12", "2.36-9"));
    assert!(!in_range(&from_zero, "Debian:12", "2.36-9+deb12u4"));
    assert!(
        !in_range(&from_zero, "Debian:12", "1:2.0"),
        "the epoch puts it past the fix"
    );

    let limited = range(&[("introduced", "0"), ("limit", "1.36.1-r0")]);
    assert!(in_range(&limited, "Alpine:v3.19", "1.35.0-r5"));
    assert!(!in_range(&limited, "Alpine:v3.19", "1.36.1-r0"));

    let unordered = range(&[("fixed", "1.2.0"), ("introduced", "1.0.0")]);
    assert!(
        in_range(&unordered, "npm", "1.1.0"),
        "events are sorted before evaluation"
    );
    assert!(
        !in_range(&unordered, "npm", "garbage"),
        "an unparsable version never matches"
    );
}

#[test]
fn distro_packages_match_by_source_within_their_release() {
    let advisories = vec![
        adv(osv("DSA-1", "Debian:12", "glibc", "0", "2.36-9+deb12u4")),
        adv(osv("DSA-2", "Debian:11", "glibc", "0", "2.99-1")),
        adv(osv("DSA-3", "Debian:12", "libc6", "0", "2.99-1")),
        adv(osv("DSA-4", "Debian:12", "zlib", "0", "1:1.2.13.dfsg-2")),
    ];
    let index = AdvisoryIndex::new(advisories);
    let mut libc = package(Ecosystem::Deb, "libc6", "2.36-9+deb12u3", 0);
    libc.source_name = Some("glibc".into());
    let mut zlib = package(Ecosystem::Deb, "zlib1g", "1:1.2.13.dfsg-1+b1", 1);
    zlib.source_name = Some("zlib".into());
    zlib.source_version = Some("1:1.2.13.dfsg-1".into());
    let inv = inventory(Some(("debian", "12")), vec![libc, zlib]);
    let found = index.match_inventory(&inv);
    let ids: Vec<(&str, &str)> = found
        .iter()
        .map(|f| (f.advisory_id.as_str(), f.package.as_str()))
        .collect();
    assert_eq!(ids, [("DSA-1", "libc6"), ("DSA-4", "zlib1g")], "{found:#?}");
    assert_eq!(
        found[1].version, "1:1.2.13.dfsg-1",
        "the source version is tested"
    );
    assert_eq!(found[1].instruction.as_deref(), Some("RUN install"));
    assert_eq!(found[0].fixed.as_deref(), Some("2.36-9+deb12u4"));

    // Without a known release, OS packages cannot be matched.
    assert!(
        index
            .match_inventory(&inventory(None, inv.packages.clone()))
            .is_empty()
    );
    // Another release does not match Debian 12's advisories.
    let found11 = index.match_inventory(&inventory(Some(("debian", "11")), inv.packages.clone()));
    let ids11: Vec<&str> = found11.iter().map(|f| f.advisory_id.as_str()).collect();
    assert_eq!(ids11, ["DSA-2"]);
}

#[test]
fn alpine_release_is_major_minor() {
    let index = AdvisoryIndex::new([adv(osv(
        "ALPINE-1",
        "Alpine:v3.19",
        "busybox",
        "0",
        "1.36.1-r16",
    ))]);
    let bb = package(Ecosystem::Apk, "busybox", "1.36.1-r15", 0);
    let found = index.match_inventory(&inventory(Some(("alpine", "3.19.1")), vec![bb.clone()]));
    assert_eq!(found.len(), 1);
    let fixed = package(Ecosystem::Apk, "busybox", "1.36.1-r16", 0);
    assert!(
        index
            .match_inventory(&inventory(Some(("alpine", "3.19.1")), vec![fixed]))
            .is_empty()
    );
}

#[test]
fn language_packages_match_by_normalised_name_and_owned_ones_not_twice() {
    let index = AdvisoryIndex::new([
        adv(osv("PYSEC-1", "PyPI", "PyYAML", "0", "5.4")),
        adv(osv("GHSA-1", "npm", "lodash", "4.0.0", "4.17.21")),
        adv(osv("RUSTSEC-1", "crates.io", "tokio", "1.0.0", "1.38.2")),
        adv(osv("GO-1", "Go", "golang.org/x/net", "0", "0.23.0")),
        adv(osv("DSA-9", "Debian:12", "pyyaml", "0", "6.0-9")),
    ]);
    let owned = {
        let mut p = package(Ecosystem::PyPI, "PyYAML", "5.3.1", 1);
        p.owned_by_os = true;
        p
    };
    let pkgs = vec![
        package(Ecosystem::PyPI, "pyyaml", "5.3.1", 1),
        owned,
        package(Ecosystem::Npm, "lodash", "4.17.20", 1),
        package(Ecosystem::Cargo, "tokio", "1.38.1", 1),
        package(Ecosystem::Go, "golang.org/x/net", "v0.22.0", 1),
        package(Ecosystem::Go, "golang.org/x/net", "v0.23.0", 1),
    ];
    let found = index.match_inventory(&inventory(Some(("debian", "12")), pkgs));
    let mut ids: Vec<(&str, &str)> = found
        .iter()
        .map(|f| (f.advisory_id.as_str(), f.version.as_str()))
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        [
            ("GHSA-1", "4.17.20"),
            ("GO-1", "v0.22.0"),
            ("PYSEC-1", "5.3.1"),
            ("RUSTSEC-1", "1.38.1")
        ],
        "the owned PyYAML is not reported; {found:#?}"
    );
}

#[test]
fn listed_versions_last_affected_and_withdrawn() {
    let mut listed = osv("PYSEC-2", "PyPI", "django", "0", "0.1");
    listed["affected"][0]["ranges"] = json!([]);
    listed["affected"][0]["versions"] = json!(["4.2.1", "4.2.2"]);
    let mut withdrawn = osv("PYSEC-3", "PyPI", "django", "0", "9.9");
    withdrawn["withdrawn"] = json!("2026-11-02T00:00:00Z");
    let index = AdvisoryIndex::new([adv(listed), adv(withdrawn)]);
    let hit = |v: &str| {
        !index
            .match_inventory(&inventory(
                None,
                vec![package(Ecosystem::PyPI, "Django", v, 1)],
            ))
            .is_empty()
    };
    assert!(hit("4.2.1") && hit("4.2.2") && !hit("4.2.3"));
    assert_eq!(index.len(), 1, "the withdrawn advisory is not indexed");
}

#[test]
fn severity_sources() {
    let mut ghsa = osv("GHSA-2", "npm", "x", "0", "1.0.0");
    ghsa["severity"] = json!([]);
    ghsa["database_specific"] = json!({"severity": "MODERATE"});
    assert_eq!(adv(ghsa).severity, railyard_advisory::Severity::Medium);
    let mut deb = osv("DEBIAN-CVE-1", "Debian:12", "x", "0", "1.0-1");
    deb["severity"] = json!([]);
    deb["affected"][0]["ecosystem_specific"] = json!({"urgency": "low"});
    let a = adv(deb);
    assert_eq!(a.severity, railyard_advisory::Severity::Low);
    assert_eq!(
        a.affected[0].severity,
        Some(railyard_advisory::Severity::Low)
    );
    let mut none = osv("X-1", "npm", "x", "0", "1.0.0");
    none["severity"] = json!([{"type": "CVSS_V4", "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"}]);
    assert_eq!(adv(none).severity, railyard_advisory::Severity::Unknown);
}

#[test]
fn ubuntu_lts_records_match_the_release_from_os_release() {
    let index = AdvisoryIndex::new([
        adv(osv(
            "UBUNTU-CVE-1",
            "Ubuntu:22.04:LTS",
            "openssl",
            "0",
            "3.0.2-0ubuntu1.15",
        )),
        adv(osv(
            "UBUNTU-CVE-2",
            "Ubuntu:Pro:22.04:LTS",
            "openssl",
            "0",
            "3.0.2-0ubuntu1.99",
        )),
    ]);
    let mut ssl = package(Ecosystem::Deb, "libssl3", "3.0.2-0ubuntu1.14", 0);
    ssl.source_name = Some("openssl".into());
    let found = index.match_inventory(&inventory(Some(("ubuntu", "22.04")), vec![ssl]));
    let ids: Vec<&str> = found.iter().map(|f| f.advisory_id.as_str()).collect();
    assert_eq!(
        ids,
        ["UBUNTU-CVE-1"],
        "Pro-only fixes are not matched to a plain image"
    );
}

/// PYSEC-2023-221's shape: a GIT range (fixed at a commit) before the ECOSYSTEM range, which
/// covers two release lines; `versions` lists what the GIT range spans.
fn werkzeug_pysec() -> serde_json::Value {
    json!({
        "id": "PYSEC-2023-221",
        "modified": "2023-11-08T04:13:00Z",
        "aliases": ["CVE-2023-46136", "GHSA-hrfv-mqp8-q5rw"],
        "details": "Werkzeug multipart data parser needs a lot of CPU on crafted uploads.",
        "affected": [{
            "package": {"ecosystem": "PyPI", "name": "werkzeug", "purl": "pkg:pypi/werkzeug"},
            "ranges": [
                {"type": "GIT", "repo": "https://github.com/pallets/werkzeug",
                 "events": [{"introduced": "0"}, {"fixed": "f3c803b3ade485a45f12b6d6617595350c0f03e2"}]},
                {"type": "ECOSYSTEM",
                 "events": [{"introduced": "0"}, {"fixed": "2.3.8"}, {"introduced": "3.0.0"}, {"fixed": "3.0.1"}]}
            ],
            "versions": ["0.14", "0.14.1", "2.3.7", "3.0.0"]
        }]
    })
}

/// An advisory on three release lines, in the two shapes OSV databases write: PyPA's one
/// ECOSYSTEM range of `introduced`/`fixed` pairs behind GIT ranges, and one range per line
/// (unsorted, the newest line first).
fn django_advisories() -> Vec<Advisory> {
    let pairs = json!({"type": "ECOSYSTEM", "events": [
        {"introduced": "0"}, {"fixed": "1.11.22"},
        {"introduced": "2.0"}, {"fixed": "2.1.10"},
        {"introduced": "2.2"}, {"fixed": "2.2.3"}
    ]});
    let git = |fix: &str| {
        json!({"type": "GIT", "repo": "https://github.com/django/django",
        "events": [{"introduced": "0"}, {"fixed": fix}]})
    };
    let mut pysec = osv("PYSEC-2019-10", "PyPI", "django", "0", "0");
    pysec["affected"][0]["ranges"] = json!([
        git("1e40f427bb8d0fb37cc9f830096a97c36c97af6f"),
        git("77706a3e4766da5d5fb75c4db22a0a59dfd3a8e9"),
        pairs
    ]);
    let mut ghsa = osv("GHSA-6r97-cj55-9hrq", "PyPI", "Django", "0", "0");
    ghsa["affected"][0]["ranges"] = json!([
        {"type": "ECOSYSTEM", "events": [{"introduced": "2.1"}, {"fixed": "2.1.10"}]},
        {"type": "ECOSYSTEM", "events": [{"introduced": "2.2"}, {"fixed": "2.2.3"}]},
        {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.11.22"}]}
    ]);
    vec![adv(pysec), adv(ghsa)]
}

/// (advisory, fixed in) of each finding on one PyPI package.
fn fixes(index: &AdvisoryIndex, name: &str, version: &str) -> Vec<(String, Option<String>)> {
    let inv = inventory(None, vec![package(Ecosystem::PyPI, name, version, 1)]);
    let mut out: Vec<_> = index
        .match_inventory(&inv)
        .into_iter()
        .map(|f| (f.advisory_id, f.fixed))
        .collect();
    out.sort();
    out
}

#[test]
fn fixed_in_is_the_next_fix_of_the_range_that_matched() {
    let index = AdvisoryIndex::new([werkzeug_pysec()].map(adv));
    let one = |v: &str| fixes(&index, "Werkzeug", v);
    let pysec = |fix: &str| vec![("PYSEC-2023-221".to_string(), Some(fix.to_string()))];
    assert_eq!(one("0.14"), pysec("2.3.8"), "not the GIT range's commit");
    assert_eq!(one("2.3.7"), pysec("2.3.8"));
    assert_eq!(one("3.0.0"), pysec("3.0.1"), "its own line's fix");
    assert!(one("2.3.8").is_empty() && one("3.0.1").is_empty());

    let index = AdvisoryIndex::new(django_advisories());
    let both = |v: &str| fixes(&index, "Django", v);
    let fixed = |fix: &str| {
        ["GHSA-6r97-cj55-9hrq", "PYSEC-2019-10"]
            .map(|id| (id.to_string(), Some(fix.to_string())))
            .to_vec()
    };
    assert_eq!(both("2.2"), fixed("2.2.3"), "not 2.1.10, older than 2.2");
    assert_eq!(both("2.2.2"), fixed("2.2.3"));
    assert_eq!(both("2.1.5"), fixed("2.1.10"));
    assert_eq!(both("1.11.20"), fixed("1.11.22"));
    assert!(both("2.2.3").is_empty() && both("2.1.10").is_empty());
}

#[test]
fn fixed_in_is_past_every_range_that_matched_or_none() {
    // Two ranges hold 1.2: 1.5 ends the first but is still in the second.
    let mut overlap = osv("GHSA-2", "npm", "left-pad", "0", "1.5.0");
    overlap["affected"][0]["ranges"] = json!([
        {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.5.0"}]},
        {"type": "SEMVER", "events": [{"introduced": "1.0.0"}, {"fixed": "1.7.0"}]}
    ]);
    // No fix yet; hit through `versions` beside a GIT range only.
    let mut open = osv("PYSEC-3", "PyPI", "pillow", "0", "0");
    open["affected"][0]["ranges"] =
        json!([{"type": "ECOSYSTEM", "events": [{"introduced": "9.0"}, {"last_affected": "9.5"}]}]);
    let mut listed = osv("PYSEC-4", "PyPI", "pillow", "0", "0");
    listed["affected"][0]["ranges"] =
        json!([{"type": "GIT", "events": [{"introduced": "0"}, {"fixed": "8f5c2a0e"}]}]);
    listed["affected"][0]["versions"] = json!(["9.1.0"]);
    let index = AdvisoryIndex::new([overlap, open, listed].map(adv));
    let pkgs = vec![
        package(Ecosystem::Npm, "left-pad", "1.2.0", 1),
        package(Ecosystem::PyPI, "Pillow", "9.1.0", 1),
    ];
    let mut got: Vec<(String, Option<String>)> = index
        .match_inventory(&inventory(None, pkgs))
        .into_iter()
        .map(|f| (f.advisory_id, f.fixed))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("GHSA-2".to_string(), Some("1.7.0".to_string())),
            ("PYSEC-3".to_string(), None),
            ("PYSEC-4".to_string(), None),
        ]
    );
}

#[test]
fn a_bad_fix_beside_a_git_range_is_refused_naming_its_place() {
    let mut bad = werkzeug_pysec();
    bad["affected"][0]["ranges"][1]["events"][1] = json!({"fixed": "2.3.8-patched!"});
    let err = railyard_advisory::osv::parse(&serde_json::to_vec(&bad).unwrap()).unwrap_err();
    assert!(
        err.starts_with("PYSEC-2023-221: affected[0] (PyPI werkzeug) ranges[1]: ")
            && err.contains("2.3.8-patched!"),
        "{err}"
    );
}
