//! A real Rust binary built with cargo-auditable (when `cargo auditable` is installed), read
//! through the streaming binary scanner in chunks like a layer delivers them.

use railyard_scan::Ecosystem;
use railyard_scan::catalog::binary::BinaryScanner;
use std::process::Command;

#[test]
fn cargo_auditable_binary() {
    let have = Command::new("cargo")
        .args(["auditable", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        eprintln!(
            "note: cargo-auditable is not installed (cargo install cargo-auditable); skipped"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("audited-app");
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::write(
        root.join("Cargo.toml"),
        "[package]\nname = \"audited-app\"\nversion = \"0.3.1\"\nedition = \"2021\"\n\n[dependencies]\nitoa = \"1\"\n\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(
        root.join("src/main.rs"),
        "fn main() { let mut b = itoa::Buffer::new(); println!(\"{}\", b.format(42)); }\n",
    )
    .unwrap();
    let out = Command::new("cargo")
        .args(["auditable", "build", "--release", "-q"])
        .current_dir(&root)
        .env("CARGO_TARGET_DIR", dir.path().join("target"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bin = std::fs::read(dir.path().join("target/release/audited-app")).unwrap();
    for chunk in [512, 65536] {
        let mut s = BinaryScanner::new();
        for c in bin.chunks(chunk) {
            s.feed(c);
        }
        let found = s.finish();
        let mut names: Vec<(&str, &str)> = found
            .iter()
            .filter(|f| f.ecosystem == Ecosystem::Cargo)
            .map(|f| (f.name.as_str(), f.version.as_str()))
            .collect();
        names.sort();
        assert_eq!(names.len(), 2, "{found:?}");
        assert_eq!(names[0], ("audited-app", "0.3.1"));
        assert_eq!(names[1].0, "itoa");
        // The app itself is local; itoa comes from crates.io.
        let itoa = found.iter().find(|f| f.name == "itoa").unwrap();
        assert_eq!(itoa.source_name, None);
    }
}
