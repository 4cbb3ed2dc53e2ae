//! Property tests of everything that reads an untrusted image: the catalogers on random
//! package databases, layer tars of random bytes and of random entries (the paths catalogers
//! want, links, devices, whiteouts, climbing names, cut short), and `docker save` archives
//! with random manifests and configs. Never a panic; a broken layer is a warning and an
//! incomplete scan; a broken archive an error.
//!
//! `RAILYARD_FUZZ_CASES` sets the cases per property (default 128; see docs/security.md).

use crate::archives::{E, archive, layer, write};
use proptest::prelude::*;
use railyard_scan::catalog::{apk, binary::BinaryScanner, dpkg, npm, osrelease, python, rpm};
use railyard_scan::{NoCache, layer::read_layer, scan_archive};

/// Lines of package databases, for text that is nearly one.
const LINES: &[&str] = &[
    "Package: a\n",
    "Version: 1.0-1\n",
    "Status: install ok installed\n",
    "Source: b (2)\n",
    "Architecture: amd64\n",
    "\n",
    " continued\n",
    "\t\n",
    ":\n",
    "P:a\n",
    "V:1\n",
    "o:b\n",
    "F:usr/bin\n",
    "R:x\n",
    "Name: x\n",
    "Metadata-Version: 2.1\n",
    "License: MIT\n",
    "ID=debian\n",
    "VERSION_ID=\"12\"\n",
    "ID_LIKE=\"rhel fedora\"\n",
    "PRETTY_NAME='x\n",
    "Files: *\n",
    "License: GPL-2+ or\n",
    "/usr/bin/x\n",
    "/.\n",
    "é\n",
    "\u{0}",
    "{\"name\": \"x\", \"version\": \"1\"}",
    "{\"name\": 1}",
    "{",
    "[]",
    "\"",
];

fn db_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,300}",
        prop::collection::vec(prop::sample::select(LINES), 0..40).prop_map(|l| l.concat()),
    ]
}

/// Paths catalogers read, and others.
const PATHS: &[&str] = &[
    "var/lib/dpkg/status",
    "var/lib/dpkg/status.d/x",
    "var/lib/dpkg/info/x.list",
    "usr/share/doc/x/copyright",
    "lib/apk/db/installed",
    "etc/os-release",
    "usr/lib/os-release",
    "usr/lib/python3/site-packages/x-1.dist-info/METADATA",
    "usr/lib/python3/site-packages/x.egg-info",
    "usr/lib/node_modules/x/package.json",
    "var/lib/rpm/rpmdb.sqlite",
    "usr/bin/x",
    "x",
    "var/lib/.wh.dpkg",
    "etc/.wh..wh..opq",
    "../x",
    "/etc/os-release",
    "a/../../b",
    "./usr/bin/y",
    "",
];

fn entry() -> impl Strategy<Value = (u8, &'static str, Vec<u8>)> {
    (
        0..5u8,
        prop::sample::select(PATHS),
        prop_oneof![
            db_text().prop_map(String::into_bytes),
            prop::collection::vec(any::<u8>(), 0..300),
            // An ELF-ish start, for the binary scanner.
            prop::collection::vec(any::<u8>(), 0..200).prop_map(|mut v| {
                let mut elf = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\x3e\0".to_vec();
                elf.append(&mut v);
                elf.extend_from_slice(b"\xff Go buildinf:\x08\x02");
                elf
            }),
        ],
    )
}

fn build(entries: &[(u8, &'static str, Vec<u8>)]) -> Vec<u8> {
    let es: Vec<E<'_>> = entries
        .iter()
        .map(|(kind, path, data)| match kind {
            0 | 1 => E::File(path, data),
            2 => E::Dir(path),
            3 => E::Symlink(path, "../../etc/shadow"),
            _ => E::Hardlink(path, "var/lib/dpkg/status"),
        })
        .collect();
    layer(&es)
}

proptest! {
    #![proptest_config(railyard_test_support::fuzz_config())]

    #[test]
    fn catalogers_read_any_text(text in db_text()) {
        dpkg::parse_status(&text);
        dpkg::parse_copyright(&text);
        dpkg::parse_list(&text);
        apk::parse_installed(&text);
        osrelease::parse(&text);
        python::parse_metadata(&text);
        npm::parse_package_json(text.as_bytes());
        rpm::parse_header(text.as_bytes());
    }

    #[test]
    fn catalogers_read_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        rpm::parse_header(&bytes);
        let _ = rpm::parse_sqlite(&bytes);
        npm::parse_package_json(&bytes);
        let mut scanner = BinaryScanner::new();
        for chunk in bytes.chunks(97) {
            scanner.feed(chunk);
        }
        scanner.finish();
    }

    #[test]
    fn layers_of_random_bytes_are_read_and_hashed(
        bytes in prop::collection::vec(any::<u8>(), 0..3000),
    ) {
        let (scan, diff_id) = read_layer(bytes.as_slice());
        prop_assert_eq!(scan.size, bytes.len() as u64);
        prop_assert!(diff_id.starts_with("sha256:"));
    }

    #[test]
    fn layers_of_random_entries_are_scanned(
        entries in prop::collection::vec(entry(), 0..12),
        cut in any::<prop::sample::Index>(),
        whole in any::<bool>(),
    ) {
        let tar = build(&entries);
        let bytes = if whole { &tar[..] } else { &tar[..cut.index(tar.len() + 1)] };
        let (scan, _) = read_layer(bytes);
        if whole {
            prop_assert!(scan.complete, "{:?}", scan.warnings);
        }
        for f in &scan.files {
            prop_assert!(!f.path.starts_with('/') && !f.path.split('/').any(|p| p == ".."));
        }
    }

    #[test]
    fn archives_with_random_manifests_and_configs_scan_or_fail(
        layers in prop::collection::vec(prop::collection::vec(entry(), 0..4), 0..3),
        manifest in prop::option::of(db_text()),
        config in prop::option::of(db_text()),
        cut in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let real: Vec<Vec<u8>> = layers.iter().map(|l| build(l)).collect();
        let mut bytes = archive(&real, &real);
        if let Some(text) = manifest.or(config) {
            // Replace one of the JSON files with the text, keeping the tar well formed.
            let name = if cut.is_some() { "cfg.json" } else { "manifest.json" };
            let mut b = tar::Builder::new(Vec::new());
            let mut ar = tar::Archive::new(bytes.as_slice());
            for e in ar.entries().unwrap() {
                let mut e = e.unwrap();
                let path = e.path().unwrap().display().to_string();
                let mut data = Vec::new();
                std::io::Read::read_to_end(&mut e, &mut data).unwrap();
                let data = if path == name { text.clone().into_bytes() } else { data };
                let mut h = tar::Header::new_ustar();
                h.set_path(&path).unwrap();
                h.set_size(data.len() as u64);
                h.set_mode(0o644);
                h.set_cksum();
                b.append(&h, data.as_slice()).unwrap();
            }
            bytes = b.into_inner().unwrap();
        } else if let Some(cut) = cut {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), &bytes);
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let _ = runtime.block_on(scan_archive(&path, &NoCache));
    }
}

/// A package database as large as a cataloger keeps (64 MiB) is never asked for: files past
/// a cataloger's cap are skipped whole, not read.
#[test]
fn a_status_file_past_its_cap_is_skipped_with_a_warning() {
    let big = vec![b'a'; (64 << 20) + 1];
    let tar = layer(&[E::File("var/lib/dpkg/status", &big)]);
    let (scan, _) = read_layer(tar.as_slice());
    assert!(scan.files.iter().all(|f| f.packages.is_empty()));
    assert!(
        scan.warnings
            .iter()
            .any(|w| w.contains("var/lib/dpkg/status")),
        "{:?}",
        scan.warnings
    );
}
