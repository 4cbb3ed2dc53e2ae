use super::*;
use std::fs;
use std::os::unix::fs::symlink;

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn rels(files: &[ContextFile]) -> Vec<&str> {
    files.iter().map(|f| f.rel.as_str()).collect()
}

#[test]
fn collect_applies_dockerignore_like_the_docker_cli() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        ".dockerignore",
        "# build outputs\ntarget\n*.log\ndocs\n!docs/keep.md\n.dockerignore\nDockerfile\nsecret/**\n",
    );
    write(root, "Dockerfile", "FROM busybox\n");
    write(root, "src/main.rs", "fn main() {}\n");
    write(
        root,
        "src/app.log",
        "nested logs are kept: patterns are root-anchored\n",
    );
    write(root, "app.log", "dropped\n");
    write(root, "target/debug/big", "dropped\n");
    write(root, "docs/keep.md", "kept by the exception\n");
    write(root, "docs/drop.md", "dropped\n");
    write(root, "secret/key", "dropped\n");
    fs::create_dir_all(root.join("empty")).unwrap();
    symlink("src/main.rs", root.join("link")).unwrap();

    let files = collect(root).unwrap();
    assert_eq!(
        rels(&files),
        [
            ".dockerignore",
            "Dockerfile",
            "docs/keep.md",
            "empty",
            "link",
            "secret",
            "src",
            "src/app.log",
            "src/main.rs",
        ]
    );
    let link = files.iter().find(|f| f.rel == "link").unwrap();
    assert_eq!(link.kind, FileKind::Symlink("src/main.rs".into()));
    let main = files.iter().find(|f| f.rel == "src/main.rs").unwrap();
    assert_eq!((main.kind.clone(), main.size), (FileKind::File, 13));
    assert_eq!(main.mode & 0o7000, 0, "only permission bits are kept");
}

#[test]
fn collect_keeping_keeps_a_named_dockerfile() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), ".dockerignore", "ci\n");
    write(dir.path(), "ci/Dockerfile.ci", "FROM busybox\n");
    write(dir.path(), "ci/other", "x\n");
    assert_eq!(rels(&collect(dir.path()).unwrap()), [".dockerignore"]);
    let files = collect_keeping(dir.path(), &["ci/Dockerfile.ci"]).unwrap();
    // The folder itself stays excluded; extracting the tar creates it.
    assert!(rels(&files).contains(&"ci/Dockerfile.ci"), "{files:?}");
    assert!(!rels(&files).contains(&"ci/other"));
}

#[test]
fn an_invalid_pattern_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), ".dockerignore", "ok\n[\n");
    let err = collect(dir.path()).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    assert!(err.to_string().contains("`[`"), "{err}");
}

#[test]
fn tar_is_deterministic_and_holds_every_kind() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "a/b.txt", "hello");
    let long = format!("{}/file.txt", "d".repeat(120));
    write(root, &long, "long names use GNU extensions");
    symlink("a/b.txt", root.join("l")).unwrap();
    fs::set_permissions(root.join("a/b.txt"), fs::Permissions::from_mode(0o755)).unwrap();
    let files = collect(root).unwrap();
    let extra = vec![("gen/Dockerfile".to_string(), b"FROM busybox\n".to_vec())];
    let first = tar(&files, &extra).unwrap();
    // Touch a file: same content, new mtime, same bytes out.
    fs::write(root.join("a/b.txt"), "hello").unwrap();
    assert_eq!(first, tar(&files, &extra).unwrap());

    let mut archive = ::tar::Archive::new(first.as_slice());
    let mut seen = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let header = entry.header();
        assert_eq!(header.mtime().unwrap(), 0);
        assert_eq!((header.uid().unwrap(), header.gid().unwrap()), (0, 0));
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let kind = header.entry_type();
        let mode = header.mode().unwrap();
        let link = entry
            .link_name()
            .unwrap()
            .map(|l| l.to_string_lossy().into_owned());
        let mut body = String::new();
        std::io::Read::read_to_string(&mut entry, &mut body).unwrap();
        seen.push((path, kind, mode, link, body));
    }
    let find = |p: &str| {
        seen.iter()
            .find(|s| s.0 == p)
            .unwrap_or_else(|| panic!("{p} in {seen:?}"))
    };
    assert_eq!(find("a/").1, ::tar::EntryType::Directory);
    let b = find("a/b.txt");
    assert_eq!((b.2, b.4.as_str()), (0o755, "hello"));
    assert_eq!(find("l").3.as_deref(), Some("a/b.txt"));
    assert_eq!(find(&long).4, "long names use GNU extensions");
    assert_eq!(find("gen/Dockerfile").4, "FROM busybox\n");
}

#[test]
fn the_roots_git_folder_is_never_part_of_a_context() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "Dockerfile", "FROM busybox\nCOPY . /src\n");
    write(dir.path(), ".git/index", "differs in every clone\n");
    write(dir.path(), "sub/.git", "gitdir: ../.git/modules/sub\n");
    write(dir.path(), ".dockerignore", "!.git\n");
    let files = collect(dir.path()).unwrap();
    assert!(
        !rels(&files)
            .iter()
            .any(|r| *r == ".git" || r.starts_with(".git/")),
        "{files:?}"
    );
    // A submodule's `.git` file is the same in every clone: it stays.
    assert!(rels(&files).contains(&"sub/.git"), "{files:?}");
}
