//! A job's workspace is what a checkout would give a real build: a git work tree at the
//! run's commit (`git describe` works) whose files carry their real modification times
//! (Python's `zipfile` refuses dates before 1980), and the commit and ref as variables.

use crate::common::{Project, text};

/// An env with git and Python, as a project that stamps versions would have.
const GIT_PYTHON_DOCKERFILE: &str = include_str!("../fixtures/git-python.Dockerfile");

/// The steps that fail in a workspace without `.git` or with files dated 1970.
const CHECKOUT_STEPS: &str = r#"
      - test "$(git rev-parse HEAD)" = "$RAILYARD_COMMIT"
      - git describe --always
      - python3 -m zipfile -c dist.zip src
      - python3 -m zipfile -l dist.zip
"#;

fn git(p: &Project, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(p.root())
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", text(&out.stderr));
    text(&out.stdout).trim().to_string()
}

#[test]
fn a_job_sees_a_git_work_tree_with_real_file_times_and_its_commit() {
    let p = Project::new(&format!(
        "env: {{ dockerfile: ci/Dockerfile }}\njobs:\n  package:\n    script:{CHECKOUT_STEPS}      - echo \"ref=$RAILYARD_REF\"\n"
    ));
    p.write("ci/Dockerfile", GIT_PYTHON_DOCKERFILE);
    p.write("src/app.py", "print('hello')\n");
    git(&p, &["checkout", "-q", "-b", "main"]);
    git(&p, &["add", "."]);
    git(&p, &["commit", "-qm", "first"]);
    let head = git(&p, &["rev-parse", "--short", "HEAD"]);
    let out = p.run(&["run"]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(
        stdout.contains(&head),
        "git describe printed the commit: {stdout}"
    );
    assert!(
        stdout.contains("src/app.py"),
        "the zip holds the file: {stdout}"
    );
    assert!(stdout.contains("ref=refs/heads/main"), "{stdout}");
}
