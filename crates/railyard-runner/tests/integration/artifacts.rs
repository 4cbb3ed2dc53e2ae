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
