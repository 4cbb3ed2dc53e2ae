//! `parallel`, `tests`, `retry_failed` and the variables reserved for shards: good files
//! give the expected model, each bad input one problem with its place.

use crate::{check, ok};
use railyard_pipeline::*;

const ENV: &str = "env: { image: busybox }\n";

/// A pipeline with one job `a` holding `body` (indented by 4).
fn job(body: &str) -> String {
    format!("{ENV}jobs:\n  a:\n    {}\n", body.replace('\n', "\n    "))
}

#[test]
fn a_sharded_test_job() {
    let p = ok(r#"
env: { image: busybox }
jobs:
  build: { script: [make] }
  test:
    needs: build
    parallel: 4
    tests:
      list: cargo nextest list --message-format oneline
      run: cargo nextest run --exact {tests}
      junit: target/nextest/default/junit.xml
    retry_failed: 2
"#);
    let test = &p.jobs["test"];
    assert_eq!(test.parallel, 4);
    assert_eq!(test.retry_failed, 2);
    assert!(test.script.is_empty(), "steps are optional with `tests`");
    assert_eq!(test.base_name, "test");
    assert!(test.matrix.is_empty());
    assert_eq!(
        test.tests,
        Some(TestsSpec {
            list: TestList::Command("cargo nextest list --message-format oneline".into()),
            run: "cargo nextest run --exact {tests}".into(),
            junit: vec!["target/nextest/default/junit.xml".into()],
            mode: SplitMode::Static,
            id_format: None,
        })
    );
    let build = &p.jobs["build"];
    assert_eq!(
        (build.parallel, build.retry_failed, &build.tests),
        (1, 0, &None)
    );
}

#[test]
fn files_queue_a_template_and_several_reports() {
    let p = ok(&job(r#"script: [pip install -e .]
parallel: 3
tests:
  files: "tests/**/test_*.py"
  run: |
    python3 -m pytest --junitxml=reports/$RAILYARD_SHARD.xml $(cat "$RAILYARD_TESTS_FILE")
  junit: [reports/*.xml, more/report.xml]
  mode: queue
  format: "{file}::{name}""#));
    let a = &p.jobs["a"];
    assert_eq!(a.script, ["pip install -e ."]);
    let tests = a.tests.as_ref().unwrap();
    assert_eq!(tests.list, TestList::Files("tests/**/test_*.py".into()));
    assert!(tests.run.contains("$RAILYARD_TESTS_FILE"));
    assert_eq!(tests.junit, ["reports/*.xml", "more/report.xml"]);
    assert_eq!(tests.mode, SplitMode::Queue);
    assert_eq!(tests.id_format.as_deref(), Some("{file}::{name}"));
}

#[test]
fn tests_without_parallel_run_in_one_shard() {
    let p = ok(&job(
        "tests: { list: pytest --collect-only -q, run: \"pytest {tests}\", junit: r.xml, format: pytest }",
    ));
    let a = &p.jobs["a"];
    assert_eq!(a.parallel, 1);
    assert_eq!(
        a.tests.as_ref().unwrap().id_format.as_deref(),
        Some("pytest")
    );
    let p = ok(&job(
        "tests: { list: x, run: \"x {tests}\", junit: r.xml, format: auto, mode: static }",
    ));
    assert_eq!(p.jobs["a"].tests.as_ref().unwrap().id_format, None);
}

#[test]
fn parallel_without_tests_and_its_limits() {
    for n in [1, 64] {
        let p = ok(&job(&format!("script: [x]\nparallel: {n}")));
        assert_eq!(p.jobs["a"].parallel, n);
    }
    let p = ok(&job("script: [x]\nparallel:"));
    assert_eq!(p.jobs["a"].parallel, 1, "an empty value means unset");
}

#[test]
fn parallel_zero() {
    let p = check(
        &job("script: [x]\nparallel: 0"),
        ".railyard.yml:5:15: invalid `parallel` in job `a`: must be at least 1",
        "0",
    );
    assert_eq!(
        p.help.as_deref(),
        Some("`parallel: N` runs N shards of the job; remove the key to run it once")
    );
    check(
        &job("script: [x]\nparallel: -2"),
        ".railyard.yml:5:15: invalid `parallel` in job `a`: must be at least 1",
        "-2",
    );
}

#[test]
fn parallel_absurd() {
    check(
        &job("script: [x]\nparallel: 1000"),
        ".railyard.yml:5:15: invalid `parallel` in job `a`: 1000 shards is more than the limit of 64",
        "1000",
    );
    check(
        &job("script: [x]\nparallel: 99999999999999999999999"),
        ".railyard.yml:5:15: invalid `parallel` in job `a`: 99999999999999999999999 shards is more than the limit of 64",
        "99999999999999999999999",
    );
}

#[test]
fn parallel_not_a_whole_number() {
    check(
        &job("script: [x]\nparallel: four"),
        ".railyard.yml:5:15: `parallel` in job `a` must be a whole number of shards from 1 to 64, found a string",
        "four",
    );
    check(
        &job("script: [x]\nparallel: 2.5"),
        ".railyard.yml:5:15: `parallel` in job `a` must be a whole number of shards from 1 to 64, found a number",
        "2.5",
    );
}

#[test]
fn tests_without_list_or_files() {
    let p = check(
        &job("tests:\n  run: pytest {tests}\n  junit: r.xml"),
        ".railyard.yml:4:5: `list` is missing in `tests` of job `a`",
        "tests",
    );
    assert!(p.help.unwrap().contains("`files: GLOB`"));
}

#[test]
fn tests_with_list_and_files() {
    check(
        &job(
            "tests:\n  list: pytest --collect-only -q\n  files: tests/*.py\n  run: pytest {tests}\n  junit: r.xml",
        ),
        ".railyard.yml:6:7: `list` and `files` are both set in `tests` of job `a`",
        "files",
    );
}

#[test]
fn tests_without_run() {
    let p = check(
        &job("tests:\n  list: ls tests\n  junit: r.xml"),
        ".railyard.yml:4:5: `run` is missing in `tests` of job `a`",
        "tests",
    );
    assert!(p.help.unwrap().contains("`run: pytest {tests}`"));
}

#[test]
fn tests_without_junit() {
    let p = check(
        &job("tests:\n  list: ls tests\n  run: pytest {tests}"),
        ".railyard.yml:4:5: `junit` is missing in `tests` of job `a`",
        "tests",
    );
    assert!(p.help.unwrap().contains("balance the next split"));
}

#[test]
fn run_that_ignores_the_ids() {
    let p = check(
        &job("tests:\n  list: ls tests\n  run: pytest tests/\n  junit: r.xml"),
        ".railyard.yml:6:12: invalid `run` in `tests` of job `a`: the command does not use the test ids (`{tests}` or `$RAILYARD_TESTS_FILE`)",
        "pytest tests/",
    );
    assert_eq!(
        p.help.as_deref(),
        Some(
            "put `{tests}` where the batch's test ids go (e.g. `pytest {tests}`), or read them from the file `$RAILYARD_TESTS_FILE`, one id a line"
        )
    );
    let p = check(
        &job("tests:\n  list: ls tests\n  run: pytest {test}\n  junit: r.xml"),
        ".railyard.yml:6:12: invalid `run` in `tests` of job `a`: the command does not use the test ids (`{tests}` or `$RAILYARD_TESTS_FILE`)",
        "pytest {test}",
    );
    assert_eq!(
        p.help.as_deref(),
        Some("write `{tests}` (plural) where the batch's test ids go")
    );
}

#[test]
fn junit_outside_the_workspace() {
    check(
        &job("tests:\n  list: ls\n  run: t {tests}\n  junit: [ok.xml, /tmp/r.xml]"),
        ".railyard.yml:7:23: invalid `junit` in `tests` of job `a`: the path must be relative to the repository root",
        "/tmp/r.xml",
    );
}

#[test]
fn a_mode_that_does_not_exist() {
    let p = check(
        &job("tests: { list: ls, run: \"t {tests}\", junit: r.xml, mode: queu }"),
        ".railyard.yml:4:62: invalid `mode` in `tests` of job `a`: `queu` is not a mode",
        "queu",
    );
    assert_eq!(p.help.as_deref(), Some("did you mean `queue`?"));
    let p = check(
        &job("tests: { list: ls, run: \"t {tests}\", junit: r.xml, mode: dynamic }"),
        ".railyard.yml:4:62: invalid `mode` in `tests` of job `a`: `dynamic` is not a mode",
        "dynamic",
    );
    assert!(p.help.unwrap().starts_with("use `static`"));
}

#[test]
fn a_format_that_is_no_tool() {
    let p = check(
        &job("tests: { list: ls, run: \"t {tests}\", junit: r.xml, format: pytset }"),
        ".railyard.yml:4:64: invalid `format` in `tests` of job `a`: `pytset` is not a known test tool or a template",
        "pytset",
    );
    assert_eq!(p.help.as_deref(), Some("did you mean `pytest`?"));
    let p = check(
        &job("tests: { list: ls, run: \"t {tests}\", junit: r.xml, format: rspec }"),
        ".railyard.yml:4:64: invalid `format` in `tests` of job `a`: `rspec` is not a known test tool or a template",
        "rspec",
    );
    assert_eq!(
        p.help.as_deref(),
        Some(
            "use `auto`, a tool (`nextest`, `pytest`, `jest`, `surefire`, `go`) or a template of `{name}`, `{classname}`, `{file}`, `{suite}` such as `{classname}::{name}`"
        )
    );
}

#[test]
fn a_format_template_with_an_unknown_field() {
    let p = check(
        &job("tests:\n  list: ls\n  run: t {tests}\n  junit: r.xml\n  format: \"{class}::{name}\""),
        ".railyard.yml:8:15: invalid `format` in `tests` of job `a`: unknown field `{class}`",
        "\"{class}::{name}\"",
    );
    assert_eq!(p.help.as_deref(), Some("did you mean `{classname}`?"));
    check(
        &job("tests:\n  list: ls\n  run: t {tests}\n  junit: r.xml\n  format: \"{name\""),
        ".railyard.yml:8:15: invalid `format` in `tests` of job `a`: the template has a `{` without `}`",
        "\"{name\"",
    );
}

#[test]
fn a_files_glob_that_is_not_closed() {
    let p = check(
        &job("tests:\n  files: \"tests/[ab/*.py\"\n  run: t {tests}\n  junit: r.xml"),
        ".railyard.yml:5:14: invalid `files` in `tests` of job `a`: a `[` is not closed by `]`",
        "\"tests/[ab/*.py\"",
    );
    assert!(p.help.unwrap().contains("`**` across folders"));
    check(
        &job("tests:\n  files: \"tests/{unit,e2e/*.py\"\n  run: t {tests}\n  junit: r.xml"),
        ".railyard.yml:5:14: invalid `files` in `tests` of job `a`: a `{` is not closed by `}`",
        "\"tests/{unit,e2e/*.py\"",
    );
    check(
        &job("tests:\n  files: ../other/*.py\n  run: t {tests}\n  junit: r.xml"),
        ".railyard.yml:5:14: invalid `files` in `tests` of job `a`: the path leaves the repository (too many `..`)",
        "../other/*.py",
    );
}

#[test]
fn globs_with_brackets_and_alternatives_are_fine() {
    let p = ok(&job(
        "tests: { files: \"tests/[!_]*/{unit,e2e}/**/*_test.go\", run: \"go test {tests}\", junit: r.xml }",
    ));
    assert_eq!(
        p.jobs["a"].tests.as_ref().unwrap().list,
        TestList::Files("tests/[!_]*/{unit,e2e}/**/*_test.go".into())
    );
}

#[test]
fn an_unknown_key_in_tests() {
    let p = check(
        &job("tests: { list: ls, run: \"t {tests}\", junit: r.xml, junti: x.xml }"),
        ".railyard.yml:4:56: unknown key `junti` in `tests` of job `a`",
        "junti",
    );
    assert_eq!(p.help.as_deref(), Some("did you mean `junit`?"));
    check(
        &job("tests: pytest"),
        ".railyard.yml:4:12: `tests` in job `a` must be a map (with `list`, `files`, `run`, `junit`, `mode`, `format`), found a string",
        "pytest",
    );
}

#[test]
fn retry_failed_limits() {
    let tests = "tests: { list: ls, run: \"t {tests}\", junit: r.xml }";
    check(
        &job(&format!("{tests}\nretry_failed: 6")),
        ".railyard.yml:5:19: invalid `retry_failed` in job `a`: 6 reruns is more than the limit of 5",
        "6",
    );
    check(
        &job(&format!("{tests}\nretry_failed: -1")),
        ".railyard.yml:5:19: invalid `retry_failed` in job `a`: must be 0 or more",
        "-1",
    );
    check(
        &job(&format!("{tests}\nretry_failed: twice")),
        ".railyard.yml:5:19: `retry_failed` in job `a` must be a whole number of reruns from 0 to 5, found a string",
        "twice",
    );
}

#[test]
fn retry_failed_needs_tests() {
    let p = check(
        &job("script: [make test]\nretry_failed: 2"),
        ".railyard.yml:5:5: `retry_failed` in job `a` requires `tests`",
        "retry_failed",
    );
    assert_eq!(p.kind.code(), "requires");
    assert!(p.help.unwrap().starts_with("add a `tests:` block"));
}

#[test]
fn shard_variables_are_reserved() {
    let p = check(
        &format!("{ENV}variables: {{ RAILYARD_SHARD: 1 }}\njobs: {{ a: {{ script: [x] }} }}\n"),
        ".railyard.yml:2:14: invalid `RAILYARD_SHARD` in `variables` at the top level: Railyard sets this variable in each shard",
        "RAILYARD_SHARD",
    );
    assert_eq!(
        p.help.as_deref(),
        Some(
            "use another name: `RAILYARD_SHARD`, `RAILYARD_SHARDS`, `RAILYARD_TESTS_FILE` are set by Railyard"
        )
    );
    check(
        &job("script: [x]\nvariables:\n  OK: 1\n  RAILYARD_TESTS_FILE: list.txt"),
        ".railyard.yml:7:7: invalid `RAILYARD_TESTS_FILE` in `variables` of job `a`: Railyard sets this variable in each shard",
        "RAILYARD_TESTS_FILE",
    );
}

#[test]
fn a_run_starting_with_a_brace_needs_quotes() {
    let p = check(
        &job("tests:\n  list: ls\n  run: {tests}\n  junit: r.xml"),
        ".railyard.yml:6:12: `run` in `tests` of job `a` must be a command, found a map",
        "{",
    );
    assert!(
        p.help
            .unwrap()
            .starts_with("quote a command that starts with `{`")
    );
}

#[test]
fn a_block_that_is_not_a_map_is_named_in_its_job() {
    check(
        &job("script: [x]\nresources: 2"),
        ".railyard.yml:5:16: `resources` in job `a` must be a map (with `cpus`, `memory`), found a number",
        "2",
    );
}
