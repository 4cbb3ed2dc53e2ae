//! Bad input through hand-made `docker save` archives: entries that climb out of their
//! folder, symlink loops, truncated and corrupt layers, truncated or foreign archives. None
//! may crash the scan or write anything.

use railyard_scan::{Ecosystem, MemoryCache, NoCache, ScanError, scan_archive};
use sha2::{Digest, Sha256};
use std::path::Path;

pub(crate) enum E<'a> {
    File(&'a str, &'a [u8]),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
}

/// A tar with raw entry names (no sanitising: `..` and absolute names go in as written).
pub(crate) fn layer(entries: &[E<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_ustar();
        let (name, data, link): (&str, &[u8], Option<&str>) = match e {
            E::File(n, d) => {
                h.set_entry_type(tar::EntryType::Regular);
                (n, d, None)
            }
            E::Dir(n) => {
                h.set_entry_type(tar::EntryType::Directory);
                (n, &[], None)
            }
            E::Symlink(n, t) => {
                h.set_entry_type(tar::EntryType::Symlink);
                (n, &[], Some(t))
            }
            E::Hardlink(n, t) => {
                h.set_entry_type(tar::EntryType::Link);
                (n, &[], Some(t))
            }
        };
        let raw = &mut h.as_old_mut().name;
        raw[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(t) = link {
            h.as_old_mut().linkname[..t.len()].copy_from_slice(t.as_bytes());
        }
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append(&h, data).unwrap();
    }
    b.into_inner().unwrap()
}

fn sha(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(b)))
}

/// A docker-save archive; `stored` are the layer bytes written (maybe damaged), `real` the
/// bytes the config's diff IDs are computed from.
pub(crate) fn archive(real: &[Vec<u8>], stored: &[Vec<u8>]) -> Vec<u8> {
    let diff_ids: Vec<String> = real.iter().map(|l| sha(l)).collect();
    let history: Vec<serde_json::Value> = (0..real.len())
        .map(|i| serde_json::json!({"created_by": format!("/bin/sh -c step {i}")}))
        .collect();
    let config = serde_json::to_vec(&serde_json::json!({
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }))
    .unwrap();
    let layers: Vec<String> = (0..real.len()).map(|i| format!("l{i}/layer.tar")).collect();
    let manifest = serde_json::to_vec(&serde_json::json!([
        {"Config": "cfg.json", "RepoTags": ["bad:1"], "Layers": layers}
    ]))
    .unwrap();
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_path(name).unwrap();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append(&h, data).unwrap();
    };
    for (i, l) in stored.iter().enumerate() {
        add(&format!("l{i}/layer.tar"), l);
    }
    add("cfg.json", &config);
    add("manifest.json", &manifest);
    b.into_inner().unwrap()
}

const STATUS: &[u8] = b"Package: base-files\nStatus: install ok installed\nVersion: 12.4\n\n";

pub(crate) fn write(dir: &Path, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join("image.tar");
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Everything under `dir`, to show the scan wrote nothing.
fn listing(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            out.push(e.path().display().to_string());
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            }
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn climbing_entries_and_link_loops_are_harmless() {
    let outer = tempfile::tempdir().unwrap();
    let dir = outer.path().join("work");
    std::fs::create_dir(&dir).unwrap();
    let l0 = layer(&[
        E::Dir("var/lib/dpkg"),
        E::File("var/lib/dpkg/status", STATUS),
        E::File("../../evil", b"x"),
        E::File("a/../../../evil-too", b"x"),
        E::File("/etc/os-release", b"ID=debian\nVERSION_ID=12\n"),
        E::Symlink("loop-a", "loop-b"),
        E::Symlink("loop-b", "loop-a"),
        E::Symlink("self", "."),
        E::Symlink("usr/lib/os-release", "../../../../../etc/shadow"),
        E::Hardlink("stolen", "../../../etc/passwd"),
        E::File(
            "app/node_modules/../../../../escape/package.json",
            br#"{"name":"x","version":"1"}"#,
        ),
    ]);
    // A later layer replaces the status file with a symlink that leaves the image: it hides
    // the lower file and is not followed.
    let l1 = layer(&[E::Symlink(
        "var/lib/dpkg/status",
        "../../../../../../etc/passwd",
    )]);
    let path = write(
        &dir,
        &archive(&[l0.clone(), l1.clone()], &[l0.clone(), l1.clone()]),
    );
    let before = listing(outer.path());

    let inv = scan_archive(&path, &NoCache).await.unwrap();
    assert_eq!(listing(outer.path()), before, "the scan wrote files");
    assert!(inv.packages.is_empty(), "{:?}", inv.packages);
    assert_eq!(inv.distro.as_ref().map(|d| d.id.as_str()), Some("debian"));
    let climbing: Vec<&String> = inv
        .warnings
        .iter()
        .filter(|w| w.contains("climbs out"))
        .collect();
    assert_eq!(climbing.len(), 3, "{:?}", inv.warnings);
    assert!(climbing[0].contains("../../evil"));

    // Without the second layer, the status file counts.
    let path = write(
        &dir,
        &archive(std::slice::from_ref(&l0), std::slice::from_ref(&l0)),
    );
    let inv = scan_archive(&path, &NoCache).await.unwrap();
    assert_eq!(inv.packages.len(), 1);
    assert_eq!(inv.packages[0].ecosystem, Ecosystem::Deb);
    assert_eq!(
        inv.packages[0].layer.instruction.as_deref(),
        Some("RUN step 0")
    );
}

#[tokio::test]
async fn truncated_and_corrupt_layers_become_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let base = layer(&[E::File("var/lib/dpkg/status", STATUS)]);
    let big: Vec<u8> = (0..20_000u32).flat_map(|i| i.to_le_bytes()).collect();
    let top = layer(&[E::File("opt/big", &big), E::File("opt/after", b"x")]);
    let mut truncated = top.clone();
    truncated.truncate(top.len() / 2);
    let garbage: Vec<u8> = (0..5000u32).map(|i| (i * 7919 % 251) as u8).collect();

    for (what, damaged) in [("truncated", truncated), ("corrupt", garbage)] {
        let path = write(
            dir.path(),
            &archive(&[base.clone(), top.clone()], &[base.clone(), damaged]),
        );
        let cache = MemoryCache::default();
        let inv = scan_archive(&path, &cache)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(!inv.warnings.is_empty(), "{what}: no warning");
        assert!(
            inv.warnings.iter().any(|w| w.starts_with("layer 1 (")),
            "{what}: {:?}",
            inv.warnings
        );
        // The good layer still counts and is cached; the damaged one is not.
        assert_eq!(inv.packages.len(), 1, "{what}");
        assert_eq!(cache.layer_count(), 1, "{what}");
    }
}

#[tokio::test]
async fn broken_archives_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let l0 = layer(&[E::File("var/lib/dpkg/status", STATUS)]);
    let good = archive(std::slice::from_ref(&l0), std::slice::from_ref(&l0));

    // Cut short before manifest.json.
    let path = write(dir.path(), &good[..good.len() / 2]);
    let err = scan_archive(&path, &NoCache).await.unwrap_err();
    assert!(
        matches!(
            err,
            ScanError::Archive { .. } | ScanError::Incomplete { .. }
        ),
        "{err:?}"
    );

    // Not a tar at all.
    let path = write(dir.path(), b"this is not an image archive");
    let err = scan_archive(&path, &NoCache).await.unwrap_err();
    assert!(
        matches!(
            err,
            ScanError::Archive { .. } | ScanError::Incomplete { .. }
        ),
        "{err:?}"
    );

    // Binary noise: the error names the file and prints no raw header bytes.
    let noise: Vec<u8> = (0..5000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let path = write(dir.path(), &noise);
    let msg = scan_archive(&path, &NoCache).await.unwrap_err().to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(
        !msg.chars()
            .any(|c| c.is_control() || c == char::REPLACEMENT_CHARACTER),
        "{msg:?}"
    );

    // A manifest naming a layer the archive lacks.
    let path = write(
        dir.path(),
        &archive(&[l0.clone(), l0.clone()], std::slice::from_ref(&l0)),
    );
    let err = scan_archive(&path, &NoCache).await.unwrap_err();
    assert!(err.to_string().contains("l1/layer.tar"), "{err}");

    // A file that does not exist.
    let err = scan_archive(&dir.path().join("nope.tar"), &NoCache)
        .await
        .unwrap_err();
    assert!(matches!(err, ScanError::Io { .. }), "{err:?}");
}
