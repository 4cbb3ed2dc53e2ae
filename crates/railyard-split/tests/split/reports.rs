//! A job's reports into timings (damaged files skipped, named), and `{tests}` expansion
//! checked by a real shell.

use std::path::PathBuf;
use std::process::Command;

use railyard_split::{IdFormat, JunitError, collect, expand_tests, tests_file};

use crate::common::{fixture, lines};

#[test]
fn a_damaged_report_is_named_and_the_others_still_count() {
    let good = fixture("nextest-junit.xml");
    let cut = good[..good.len() / 2].to_vec();
    let files = vec![
        (PathBuf::from("shard-1/junit.xml"), good.clone()),
        (PathBuf::from("shard-2/junit.xml"), cut),
        (
            PathBuf::from("shard-3/junit.xml"),
            b"<html>oops</html>".to_vec(),
        ),
    ];
    let listed = lines("nextest-list.txt");
    let got = collect(&listed, &files, None);
    assert_eq!(
        got.format,
        IdFormat::for_tool("nextest").unwrap(),
        "detected"
    );
    assert_eq!(got.matched.timings.len(), 7);
    assert_eq!(got.errors.len(), 2);
    assert!(
        matches!(&got.errors[0], JunitError::Truncated { path, .. } | JunitError::Malformed { path, .. } if path == &PathBuf::from("shard-2/junit.xml")),
        "{:?}",
        got.errors[0]
    );
    assert!(
        got.errors[1]
            .to_string()
            .starts_with("shard-3/junit.xml: not a JUnit report")
    );

    // A given format wins over detection.
    let fmt = IdFormat::parse("{name}").unwrap();
    let got = collect(&["top_level".to_string()], &files, Some(&fmt));
    assert_eq!(got.format, fmt);
    assert_eq!(got.matched.timings.len(), 1);
}

#[test]
fn expanded_ids_reach_the_command_intact() {
    let ids: Vec<String> = [
        "nx-demo tests::adds",
        "tests/test_a.py::TestGroup::test_param[a b]",
        "it's \"quoted\" $HOME `date` \\ ; | & *",
        "plain-id_1.2",
        "ünïcode {tests}",
    ]
    .map(String::from)
    .to_vec();
    let cmd = expand_tests("printf '%s\\n' {tests} && echo '{{literal}}'", &ids);
    assert!(
        cmd.contains(" plain-id_1.2 "),
        "plain words stay bare: {cmd}"
    );
    let out = Command::new("sh")
        .arg("-c")
        .arg(&cmd)
        .output()
        .expect("run sh");
    assert!(
        out.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8(out.stdout).unwrap();
    assert_eq!(printed, format!("{}{{literal}}\n", tests_file(&ids)));
    assert_eq!(
        expand_tests("run --exact", &ids),
        "run --exact",
        "no {{tests}}: unchanged"
    );
}
