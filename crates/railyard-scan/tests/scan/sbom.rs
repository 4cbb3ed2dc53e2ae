//! SBOM documents checked by the reference validators when installed
//! (`pip install spdx-tools 'cyclonedx-python-lib[json-validation]'`).

use crate::archives::{E, archive, layer, write};
use railyard_scan::{NoCache, sbom, scan_archive};
use std::process::Command;

const STATUS: &[u8] = b"Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nSource: glibc\nVersion: 1:2.36-9+deb12u4\n\nPackage: libgcc-s1\nStatus: install ok installed\nSource: gcc-12 (12.2.0-14)\nVersion: 12.2.0-14+deb12u1\n";

#[tokio::test]
async fn documents_pass_the_reference_validators() {
    let dir = tempfile::tempdir().unwrap();
    let l0 = layer(&[
        E::File(
            "etc/os-release",
            b"ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian 12\"\n",
        ),
        E::File("var/lib/dpkg/status", STATUS),
        E::File(
            "venv/lib/python3.11/site-packages/Foo_Bar-1.0.dist-info/METADATA",
            b"Name: Foo_Bar\nVersion: 1.0\nLicense: MIT License\n",
        ),
        E::File(
            "venv/lib/python3.11/site-packages/six-1.16.0.dist-info/METADATA",
            b"Name: six\nVersion: 1.16.0\nLicense-Expression: MIT OR Apache-2.0\n",
        ),
        E::File(
            "app/node_modules/@scope/x/package.json",
            br#"{"name":"@scope/x","version":"1.0.0-rc.1+build.5","license":"ISC"}"#,
        ),
        // The same package at two places: bom-refs must stay unique.
        E::File(
            "app/node_modules/y/node_modules/@scope/x/package.json",
            br#"{"name":"@scope/x","version":"1.0.0-rc.1+build.5"}"#,
        ),
    ]);
    let path = write(
        dir.path(),
        &archive(std::slice::from_ref(&l0), std::slice::from_ref(&l0)),
    );
    let inv = scan_archive(&path, &NoCache).await.unwrap();
    assert_eq!(inv.packages.len(), 6, "{:?}", inv.packages);
    let created = "2026-11-28T10:00:00Z";
    let spdx = dir.path().join("doc.spdx.json");
    let cdx = dir.path().join("doc.cdx.json");
    std::fs::write(
        &spdx,
        serde_json::to_vec_pretty(&sbom::spdx(&inv, created)).unwrap(),
    )
    .unwrap();
    std::fs::write(
        &cdx,
        serde_json::to_vec_pretty(&sbom::cyclonedx(&inv, created)).unwrap(),
    )
    .unwrap();

    match Command::new("pyspdxtools").arg("-i").arg(&spdx).output() {
        Ok(o) => {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            assert!(
                o.status.success() && text.trim().is_empty(),
                "SPDX 2.3 validation failed:\n{text}"
            );
        }
        Err(_) => railyard_test_support::skip(
            "pyspdxtools not installed (pip install spdx-tools): no SPDX validation",
        ),
    }
    let script = "import sys\nfrom cyclonedx.validation.json import JsonStrictValidator\nfrom cyclonedx.schema import SchemaVersion\ne = JsonStrictValidator(SchemaVersion.V1_5).validate_str(open(sys.argv[1]).read())\nprint(e if e else '')\nsys.exit(1 if e else 0)\n";
    match Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&cdx)
        .output()
    {
        Ok(o) if o.status.success() => {}
        Ok(o) if String::from_utf8_lossy(&o.stderr).contains("ModuleNotFoundError") => {
            railyard_test_support::skip(
                "cyclonedx-python-lib not installed (pip install 'cyclonedx-python-lib[json-validation]'): no CycloneDX validation",
            );
        }
        Ok(o) => panic!(
            "CycloneDX 1.5 validation failed:\n{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(_) => railyard_test_support::skip("python3 missing: no CycloneDX validation"),
    }
}
