//! A real SQLite rpmdb made by `rpm` (Debian's `rpm` package) when installed: a package built
//! with rpmbuild and recorded with `rpm -i --justdb`, scanned inside a layer.

use crate::archives::{E, archive, layer, write};
use railyard_scan::{Ecosystem, NoCache, scan_archive};
use std::process::Command;

#[tokio::test]
async fn real_sqlite_rpmdb() {
    let have = |t: &str| {
        Command::new(t)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !have("rpm") || !have("rpmbuild") {
        railyard_test_support::skip("rpm/rpmbuild not installed (apt-get install rpm)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("hello.spec"),
        "Name: hello-railyard\nVersion: 1.2.3\nRelease: 4.el9\nEpoch: 2\nSummary: t\nLicense: MIT AND BSD-3-Clause\nBuildArch: noarch\n%description\nt\n%files\n",
    )
    .unwrap();
    let top = d.join("top");
    let ok = Command::new("rpmbuild")
        .args(["-bb", "--define"])
        .arg(format!("_topdir {}", top.display()))
        .arg(d.join("hello.spec"))
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let db = d.join("db");
    std::fs::create_dir(&db).unwrap();
    let rpm = |args: &[&str]| {
        let o = Command::new("rpm")
            .args(args)
            .args([
                "--dbpath",
                db.to_str().unwrap(),
                "--define",
                "_db_backend sqlite",
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    rpm(&["--initdb"]);
    let pkg = top.join("RPMS/noarch/hello-railyard-1.2.3-4.el9.noarch.rpm");
    rpm(&["-i", "--justdb", "--nodeps", pkg.to_str().unwrap()]);
    let bytes = std::fs::read(db.join("rpmdb.sqlite")).unwrap();

    let l0 = layer(&[
        E::File("etc/os-release", b"ID=\"rocky\"\nVERSION_ID=\"9.3\"\n"),
        E::File("var/lib/rpm/rpmdb.sqlite", &bytes),
    ]);
    let path = write(
        d,
        &archive(std::slice::from_ref(&l0), std::slice::from_ref(&l0)),
    );
    let inv = scan_archive(&path, &NoCache).await.unwrap();
    assert!(inv.warnings.is_empty(), "{:?}", inv.warnings);
    assert_eq!(inv.packages.len(), 1, "{:?}", inv.packages);
    let p = &inv.packages[0];
    assert_eq!(p.ecosystem, Ecosystem::Rpm);
    assert_eq!(
        (p.name.as_str(), p.version.as_str()),
        ("hello-railyard", "2:1.2.3-4.el9")
    );
    assert_eq!(p.license.as_deref(), Some("MIT AND BSD-3-Clause"));
    assert_eq!(p.arch.as_deref(), Some("noarch"));
    assert_eq!(p.location, "var/lib/rpm/rpmdb.sqlite");
    assert!(
        p.purl.starts_with(
            "pkg:rpm/rocky/hello-railyard@2%3A1.2.3-4.el9?arch=noarch&distro=rocky-9.3"
        ),
        "{}",
        p.purl
    );
    assert_eq!(
        inv.distro.unwrap().osv_ecosystem().as_deref(),
        Some("Rocky Linux:9")
    );
}
