//! An error as users see it: what failed on the `error:` line, then each cause once on its
//! own `caused by:` line (messages used to repeat their cause, which the report printed again).

use crate::common::*;

const PIPELINE: &str = "env: { image: busybox }\njobs:\n  a:\n    script: [true]\n";

/// How often `needle` occurs in `haystack`.
fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

#[test]
fn a_server_that_does_not_answer_is_said_once_with_each_cause_once() {
    let p = Project::new(PIPELINE);
    let out = p.run(&[
        "trigger",
        "--server",
        "http://127.0.0.1:1",
        "--token",
        "t",
        "demo",
    ]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.starts_with(
            "error: cannot talk to the server at http://127.0.0.1:1/api/v1/projects/demo/trigger \
             (is `railyard server` running there?)\n  caused by: error sending request for url"
        ),
        "{err}"
    );
    assert_eq!(count(&err, "error sending request for url"), 1, "{err}");
    assert_eq!(count(&err, "Connection refused"), 1, "{err}");
}

#[test]
fn an_unreadable_advisory_file_says_its_cause_once() {
    let p = Project::new(PIPELINE);
    let out = p.run(&["advisories", "import", "missing.json"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(
        err,
        "error: cannot read advisories from missing.json (give an OSV JSON file, a folder of \
         them, or an OSV zip archive)\n  caused by: No such file or directory (os error 2)\n"
    );
}

#[test]
fn a_data_folder_that_cannot_be_made_says_its_cause_once() {
    let p = Project::new(PIPELINE);
    p.write("a-file", "");
    let out = p
        .cmd(&["runs"])
        .env("RAILYARD_HOME", p.root().join("a-file/data"))
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("caused by: Not a directory (os error 20)"),
        "{err}"
    );
    assert_eq!(count(&err, "Not a directory"), 1, "{err}");
}
