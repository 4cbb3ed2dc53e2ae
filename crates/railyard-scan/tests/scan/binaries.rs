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
        railyard_test_support::skip(
            "cargo-auditable is not installed (cargo install --locked cargo-auditable)",
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

/// A real Go binary with module information (when `go` is installed): a main module and a
/// dependency replaced by a local folder, built offline.
#[test]
fn go_module_binary() {
    let have = Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        railyard_test_support::skip("go is not installed (apt-get install golang-go)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("dep")).unwrap();
    std::fs::write(
        root.join("dep/go.mod"),
        "module example.com/dep\n\ngo 1.19\n",
    )
    .unwrap();
    std::fs::write(
        root.join("dep/dep.go"),
        "package dep\n\nfunc Hello() string { return \"hi\" }\n",
    )
    .unwrap();
    std::fs::write(
        root.join("go.mod"),
        "module example.com/railyard-gofixture\n\ngo 1.19\n\nrequire example.com/dep v1.4.2\n\nreplace example.com/dep => ./dep\n",
    )
    .unwrap();
    std::fs::write(
        root.join("main.go"),
        "package main\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/dep\"\n)\n\nfunc main() { fmt.Println(dep.Hello()) }\n",
    )
    .unwrap();
    let out = Command::new("go")
        .args(["build", "-o", "app", "."])
        .current_dir(root)
        .env("GOPROXY", "off")
        .env("GOFLAGS", "-mod=mod")
        .env("GOCACHE", root.join("cache"))
        .env("GOPATH", root.join("gopath"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bin = std::fs::read(root.join("app")).unwrap();
    let mut s = BinaryScanner::new();
    for c in bin.chunks(4096) {
        s.feed(c);
    }
    let found = s.finish();
    let got: Vec<(&str, &str)> = found
        .iter()
        .map(|f| (f.name.as_str(), f.version.as_str()))
        .collect();
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[0].0, "stdlib");
    assert!(got[0].1.starts_with("go1."), "{got:?}");
    assert_eq!(got[1], ("example.com/railyard-gofixture", "(devel)"));
    assert_eq!(got[2], ("example.com/dep", "(devel)"));
    assert!(found.iter().all(|f| f.ecosystem == Ecosystem::Go));
}
