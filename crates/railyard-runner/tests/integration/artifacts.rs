//! Artifacts copied out, and the workspace's contents.

use crate::common::{Repo, run};
use railyard_types::JobStatus;

#[tokio::test]
async fn artifacts_are_copied_out_and_missing_ones_warn() {
    let repo = Repo::new(
        r#"
env: { image: busybox }
jobs:
  build:
    script:
      - mkdir -p out/sub && echo app > out/app && echo deep > out/sub/file
      - echo report > report.txt
    artifacts: [out, report.txt, missing.bin]
"#,
    );
    let ran = run(&repo).await;
    assert_eq!(ran.status("build"), JobStatus::Success);
    let dir = ran.artifacts.join("build");
    assert_eq!(
        std::fs::read_to_string(dir.join("out/app")).unwrap(),
        "app\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("out/sub/file")).unwrap(),
        "deep\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("report.txt")).unwrap(),
        "report\n"
    );
    assert!(
        ran.output("build")
            .iter()
            .any(|l| l.contains("artifact `missing.bin` not found"))
    );
}

#[tokio::test]
async fn the_workspace_holds_tracked_and_untracked_files_but_not_ignored_ones() {
    let repo = Repo::new(
        "env: { image: busybox }\njobs:\n  ls:\n    script: [\"find . -type f -not -path './.git/*' | sort\", test -f .git/HEAD]\n",
    );
    repo.write(".gitignore", "target/\n*.log\n");
    repo.write("src/main.c", "int main(){}\n");
    repo.write("target/big.o", "x");
    repo.write("debug.log", "x");
    let ran = run(&repo).await;
    assert_eq!(
        ran.output("ls"),
        ["./.gitignore", "./.railyard.yml", "./src/main.c"]
    );
}

/// The reproduction of the artifact escape: links that climb on disk (`y -> .`, so
/// `y/y/…/..` goes up though it stays inside as text: nine levels up from the artifacts
/// folder in a temporary folder is the root) let a second artifact be written through `a/d`
/// to a folder of the host. The job fails naming the entry, and nothing is
/// written there.
#[tokio::test]
async fn artifacts_cannot_be_written_through_links_out_of_the_artifacts_folder() {
    let victim =
        std::path::PathBuf::from(format!("/tmp/railyard-victim-{}", crate::common::run_id()));
    std::fs::create_dir_all(&victim).unwrap();
    let climb = format!(
        "{}{}{}",
        "y/".repeat(8),
        "../".repeat(9),
        victim.display().to_string().trim_start_matches('/')
    );
    let repo = Repo::new(&format!(
        "env: {{ image: busybox }}\njobs:\n  build:\n    script:\n      - mkdir -p a {victim}\n      - ln -s . a/y\n      - ln -s {climb} a/d\n      - echo x > {victim}/pwned.txt\n    artifacts: [a, a/d/pwned.txt]\n",
        victim = victim.display()
    ));
    let ran = run(&repo).await;
    let pwned = victim.join("pwned.txt").exists();
    std::fs::remove_dir_all(&victim).unwrap();
    assert!(!pwned, "a job wrote outside the artifacts folder");
    assert_eq!(ran.status("build"), JobStatus::Failed);
    let error = ran.outcome.jobs["build"].error.clone().unwrap_or_default();
    assert!(error.contains("pwned.txt"), "{error}");
}
