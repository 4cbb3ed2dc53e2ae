//! One test per kind of bad input: the message with `file:line:column`, and the text
//! underlined.

use crate::{check, err, ok, problem, render};
use railyard_pipeline::ProblemKind;

const ENV: &str = "env: { image: busybox }\n";

fn with_env(rest: &str) -> String {
    format!("{ENV}{rest}")
}

#[test]
fn malformed_yaml() {
    check(
        "jobs:\n  build:\n    script: [make\n",
        ".railyard.yml:3:13: invalid YAML: unclosed bracket '['",
        "[",
    );
}

#[test]
fn tab_indentation() {
    let p = problem("jobs:\n\tbuild:\n");
    // The parser stops just after the tab.
    assert_eq!((p.line, p.column), (2, 2));
    assert!(p.to_string().contains("invalid YAML: tabs"), "{p}");
}

#[test]
fn unknown_job_key_suggests_the_right_one() {
    let src = with_env("jobs:\n  build:\n    script: [make]\n    timout: 5m\n");
    let p = check(
        &src,
        ".railyard.yml:5:5: unknown key `timout` in job `build`",
        "timout",
    );
    assert_eq!(p.help.as_deref(), Some("did you mean `timeout`?"));
    assert!(
        matches!(p.kind, ProblemKind::UnknownKey { suggestion: Some(ref s), .. } if s == "timeout")
    );
}

#[test]
fn unknown_key_without_a_close_match_lists_the_keys() {
    let src = with_env("jobs:\n  build:\n    script: [make]\n    retry: 2\n");
    let p = check(
        &src,
        ".railyard.yml:5:5: unknown key `retry` in job `build`",
        "retry",
    );
    let help = p.help.unwrap();
    assert!(
        help.starts_with("the keys allowed here: `script`, `needs`"),
        "{help}"
    );
}

#[test]
fn unknown_top_level_key() {
    check(
        "env: { image: busybox }\njob:\n  a: { script: [x] }\n",
        ".railyard.yml:2:1: unknown key `job` at the top level",
        "job",
    );
}

#[test]
fn unknown_env_key() {
    check(
        "env:\n  dockerflie: ci/Dockerfile\njobs: { a: { script: [x] } }\n",
        ".railyard.yml:2:3: unknown key `dockerflie` in `env`",
        "dockerflie",
    );
}

#[test]
fn unknown_service_key() {
    let src = with_env(
        "jobs:\n  a:\n    script: [x]\n    services:\n      db: { image: postgres, ready_timout: 5s }\n",
    );
    let p = check(
        &src,
        ".railyard.yml:6:30: unknown key `ready_timout` in service `db` of job `a`",
        "ready_timout",
    );
    assert_eq!(p.help.as_deref(), Some("did you mean `ready_timeout`?"));
}

#[test]
fn runs_on_labels_are_checked_and_misspellings_suggested() {
    let src = with_env("jobs:\n  a:\n    script: [x]\n    run_on: [gpu]\n");
    let p = check(
        &src,
        ".railyard.yml:5:5: unknown key `run_on` in job `a`",
        "run_on",
    );
    assert_eq!(p.help.as_deref(), Some("did you mean `runs_on`?"));
    let src = with_env("jobs:\n  a:\n    script: [x]\n    runs_on: [linux, \"has space\"]\n");
    let p = check(
        &src,
        ".railyard.yml:5:22: invalid `runs_on` in job `a`: `has space` may hold only letters, digits, `-`, `_`, `.` and `:`",
        "\"has space\"",
    );
    assert!(p.help.unwrap().contains("railyard agent --labels"));
    let src = with_env("jobs:\n  a:\n    script: [x]\n    runs_on: { gpu: true }\n");
    let p = problem(&src);
    assert!(
        p.to_string()
            .contains("`runs_on` in job `a` must be a label or a list of labels"),
        "{p}"
    );
}

#[test]
fn wrong_type_names_the_key_and_the_type() {
    check(
        &with_env("jobs:\n  a:\n    script: { run: make }\n"),
        ".railyard.yml:4:13: `script` in job `a` must be a command or a list of commands, found a map",
        "{",
    );
    check(
        &with_env("jobs:\n  a:\n    script: [x]\n    allow_failure: yes\n"),
        ".railyard.yml:5:20: `allow_failure` in job `a` must be `true` or `false`, found a string",
        "yes",
    );
    check(
        &with_env("jobs:\n  a:\n    script: [x]\n    timeout: [5m]\n"),
        ".railyard.yml:5:14: `timeout` in job `a` must be a duration like `90s`, `20m` or `1h30m`, found a list",
        "[",
    );
    check(
        &with_env("variables: [A, B]\njobs: { a: { script: [x] } }\n"),
        ".railyard.yml:2:12: `variables` at the top level must be a map of names to values, found a list",
        "[",
    );
    check(
        &with_env("jobs:\n  a:\n    script:\n      - make\n      - [nested]\n"),
        ".railyard.yml:6:9: `script` in job `a` must be a command or a list of commands, found a list as an entry",
        "[",
    );
    check(
        &with_env("jobs:\n  a:\n    script: [x]\n    resources: { cpus: many }\n"),
        ".railyard.yml:5:24: `cpus` in `resources` of job `a` must be a number, found a string",
        "many",
    );
}

#[test]
fn needs_naming_a_missing_job() {
    let src = with_env(
        "jobs:\n  build:\n    script: [make]\n  test:\n    needs: [biuld]\n    script: [make test]\n",
    );
    let p = check(
        &src,
        ".railyard.yml:6:13: job `test` needs `biuld`, which is not a job of this pipeline",
        "biuld",
    );
    assert_eq!(p.help.as_deref(), Some("did you mean `build`?"));
}

/// A job is never its own suggestion: with one-letter names every other name is one typo
/// away, and `a` needing `b` was told "did you mean `a`?".
#[test]
fn needs_never_suggests_the_job_itself() {
    let p = check(
        &with_env("jobs:\n  a:\n    needs: [b]\n    script: [x]\n"),
        ".railyard.yml:4:13: job `a` needs `b`, which is not a job of this pipeline",
        "b",
    );
    assert!(
        matches!(
            p.kind,
            ProblemKind::UnknownNeed {
                suggestion: None,
                ..
            }
        ),
        "{:?}",
        p.kind
    );
    assert_eq!(
        p.help.as_deref(),
        Some("this pipeline has no other job: remove `b` from `needs`")
    );
    let p = problem(&with_env(
        "jobs:\n  ab:\n    needs: [abc]\n    script: [x]\n  build:\n    script: [x]\n",
    ));
    assert_eq!(
        p.help.as_deref(),
        Some("the other jobs of this pipeline: build")
    );
}

#[test]
fn a_cycle_is_named_and_one_edge_underlined() {
    let src = with_env(
        "jobs:\n  a:\n    needs: [c]\n    script: [x]\n  b:\n    needs: [a]\n    script: [x]\n  c:\n    needs: [b]\n    script: [x]\n",
    );
    // a needs c (line 4), c needs b (line 10), b needs a (line 7): the search starts at
    // `a`, so the edge back to it closes the cycle.
    let p = check(
        &src,
        ".railyard.yml:7:13: cycle in `needs`: a -> c -> b -> a",
        "a",
    );
    assert_eq!(p.label, "`b` needs `a`, closing the cycle");
    assert_eq!(
        p.kind,
        ProblemKind::Cycle {
            path: vec!["a".into(), "c".into(), "b".into(), "a".into()]
        }
    );
}

#[test]
fn a_two_job_cycle() {
    let src = with_env("jobs:\n  a: { needs: b, script: [x] }\n  b: { needs: a, script: [x] }\n");
    check(
        &src,
        ".railyard.yml:4:15: cycle in `needs`: a -> b -> a",
        "a",
    );
}

#[test]
fn a_job_needing_itself() {
    let src = with_env("jobs:\n  a: { needs: [a], script: [x] }\n");
    check(&src, ".railyard.yml:3:16: job `a` needs itself", "a");
}

#[test]
fn service_names_are_dns_labels() {
    let src = with_env(
        "jobs:\n  a:\n    script: [x]\n    services:\n      db_main: { image: postgres }\n",
    );
    let p = check(
        &src,
        ".railyard.yml:6:7: invalid service name `db_main` in job `a`: a service name is lower-case letters, digits and `-` (it becomes a host name)",
        "db_main",
    );
    assert_eq!(p.help.as_deref(), Some("use a host name such as `db-main`"));
    check(
        &with_env("jobs:\n  a:\n    script: [x]\n    services:\n      -db: postgres\n"),
        ".railyard.yml:6:7: invalid service name `-db` in job `a`: a service name must not start or end with `-`",
        "-db",
    );
}

#[test]
fn job_names_are_not_empty() {
    check(
        &with_env("jobs:\n  \"\": { script: [x] }\n"),
        ".railyard.yml:3:3: invalid job name ``: a job name must not be empty",
        "\"\"",
    );
}

#[test]
fn a_job_without_steps() {
    check(
        &with_env("jobs:\n  a:\n    script: []\n"),
        ".railyard.yml:4:5: job `a` has no steps",
        "script",
    );
    check(
        &with_env("jobs:\n  a:\n    timeout: 5m\n"),
        ".railyard.yml:3:3: job `a` has no steps",
        "a",
    );
    check(
        &with_env("jobs:\n  a:\n"),
        ".railyard.yml:3:3: job `a` has no steps",
        "a",
    );
    check(
        &with_env("jobs:\n  a:\n    script:\n"),
        ".railyard.yml:4:5: job `a` has no steps",
        "script",
    );
    check(
        &with_env("jobs:\n  a:\n    script: [\"\"]\n"),
        ".railyard.yml:4:14: invalid `script` in job `a`: an entry is empty",
        "\"\"",
    );
}

#[test]
fn a_pipeline_without_jobs() {
    check(
        &with_env("jobs: {}\n"),
        ".railyard.yml:2:1: the pipeline has no jobs",
        "jobs",
    );
    check(
        ENV,
        ".railyard.yml:1:1: `jobs` is missing at the top level",
        "",
    );
    let p = check(
        "",
        ".railyard.yml:1:1: the pipeline file must be a map with `jobs` (and optionally `env`, `variables`), found nothing (null)",
        "",
    );
    assert_eq!(p.kind.code(), "not_a_map");
}

#[test]
fn every_job_needs_an_env() {
    let src = "jobs:\n  a: { env: { image: busybox }, script: [x] }\n  b: { script: [x] }\n";
    let p = check(
        src,
        ".railyard.yml:3:3: job `b` has no `env` and the pipeline sets none",
        "b",
    );
    assert!(p.help.unwrap().contains("top-level `env:`"));
}

#[test]
fn dockerfile_and_image_are_exclusive() {
    check(
        "env:\n  dockerfile: ci/Dockerfile\n  image: busybox\njobs: { a: { script: [x] } }\n",
        ".railyard.yml:3:3: `dockerfile` and `image` are both set in `env`",
        "image",
    );
    check(
        "env: { image: busybox, args: { A: b } }\njobs: { a: { script: [x] } }\n",
        ".railyard.yml:1:24: `image` and `args` are both set in `env`",
        "args",
    );
    check(
        "env: { target: dev }\njobs: { a: { script: [x] } }\n",
        ".railyard.yml:1:1: `dockerfile` is missing in `env`",
        "env",
    );
}

#[test]
fn absurd_values() {
    let job = |extra: &str| with_env(&format!("jobs:\n  a:\n    script: [x]\n    {extra}\n"));
    check(
        &job("resources: { cpus: 0 }"),
        ".railyard.yml:5:24: invalid `cpus` in `resources` of job `a`: must be more than 0 (e.g. `0.5` or `2`)",
        "0",
    );
    check(
        &job("resources: { memory: 1m }"),
        ".railyard.yml:5:26: invalid `memory` in `resources` of job `a`: 1m is below the engine's minimum of 6m",
        "1m",
    );
    let p = check(
        &job("resources: { memory: 512 }"),
        ".railyard.yml:5:26: invalid `memory` in `resources` of job `a`: 512 is below the engine's minimum of 6m",
        "512",
    );
    assert_eq!(
        p.help.as_deref(),
        Some("a number without a unit is bytes: did you mean `512m`?")
    );
    check(
        &job("timeout: 0s"),
        ".railyard.yml:5:14: invalid `timeout` in job `a`: must be longer than zero",
        "0s",
    );
    check(
        &job("timeout: 20"),
        ".railyard.yml:5:14: invalid `timeout` in job `a`: `20` has no unit: write `20s` or `20m`",
        "20",
    );
    check(
        &job("resources: { memory: lots }"),
        ".railyard.yml:5:26: invalid `memory` in `resources` of job `a`: `lots` is not a size like `512m`, `4g` or `1.5G`",
        "lots",
    );
}

/// A unit after a space is read as the unit: `5 parsecs` was "a number without a unit".
#[test]
fn a_duration_with_an_unknown_unit_names_the_unit() {
    let job = |extra: &str| with_env(&format!("jobs:\n  a:\n    script: [x]\n    {extra}\n"));
    check(
        &job("timeout: 5 parsecs"),
        ".railyard.yml:5:14: invalid `timeout` in job `a`: `5 parsecs`: unknown unit `parsecs` (use ms, s, m, h or d)",
        "5 parsecs",
    );
    assert_eq!(
        ok(&job("timeout: 5 m")).jobs["a"].timeout,
        Some(std::time::Duration::from_secs(300))
    );
}

#[test]
fn paths_stay_in_the_repository() {
    check(
        "env: { dockerfile: /etc/Dockerfile }\njobs: { a: { script: [x] } }\n",
        ".railyard.yml:1:20: invalid `dockerfile` in `env`: the path must be relative to the repository root",
        "/etc/Dockerfile",
    );
    check(
        &with_env("jobs:\n  a:\n    script: [x]\n    artifacts: [out, ../../secrets]\n"),
        ".railyard.yml:5:22: invalid `artifacts` in job `a`: the path leaves the repository (too many `..`)",
        "../../secrets",
    );
}

#[test]
fn duplicate_keys() {
    let p = check(
        &with_env("jobs:\n  a: { script: [x] }\n  a: { script: [y] }\n"),
        ".railyard.yml:4:3: duplicate key `a`",
        "a",
    );
    assert_eq!(
        p.help.as_deref(),
        Some("`a` is already set on line 3; keep one of them")
    );
}

#[test]
fn scan_severity() {
    let p = check(
        "env: { image: busybox, scan: { fail_on: hihg } }\njobs: { a: { script: [x] } }\n",
        ".railyard.yml:1:41: invalid `fail_on` in `scan` of `env`: `hihg` is not a severity",
        "hihg",
    );
    assert_eq!(p.help.as_deref(), Some("did you mean `high`?"));
}

#[test]
fn services_need_an_image() {
    check(
        &with_env("jobs:\n  a:\n    script: [x]\n    services:\n      db: { ready: pg_isready }\n"),
        ".railyard.yml:6:7: `image` is missing in service `db` of job `a`",
        "db",
    );
}

#[test]
fn variables() {
    let p = check(
        &with_env("variables:\n  EMPTY:\njobs: { a: { script: [x] } }\n"),
        ".railyard.yml:3:3: `EMPTY` in `variables` at the top level must be a string, found nothing (null)",
        "EMPTY",
    );
    assert_eq!(
        p.help.as_deref(),
        Some("write `EMPTY: \"\"` for an empty value")
    );
    check(
        &with_env("variables: { 1X: a }\njobs: { a: { script: [x] } }\n"),
        ".railyard.yml:2:14: invalid `1X` in `variables` at the top level: a variable name is letters, digits and `_`, not starting with a digit",
        "1X",
    );
}

#[test]
fn every_problem_is_reported_in_file_order() {
    let src = "env:\n  image: busybox\njobs:\n  build:\n    scirpt: [make]\n  test:\n    needs: [biuld]\n    script: [make test]\n    timeout: forever\n";
    let e = err(src);
    let lines: Vec<String> = e.problems().iter().map(|p| p.to_string()).collect();
    assert_eq!(
        lines,
        [
            ".railyard.yml:5:5: unknown key `scirpt` in job `build`",
            ".railyard.yml:7:13: job `test` needs `biuld`, which is not a job of this pipeline",
            ".railyard.yml:9:14: invalid `timeout` in job `test`: `forever` is not a duration like `90s`, `20m` or `1h30m`",
        ]
    );
    assert_eq!(
        e.to_string(),
        ".railyard.yml:5:5: unknown key `scirpt` in job `build` (and 2 more problems)"
    );
    insta::assert_snapshot!(render(&e));
}

#[test]
fn rendered_report_of_an_unknown_key() {
    let e = err(&with_env("jobs:\n  build:\n    scirpt:\n      - make\n"));
    insta::assert_snapshot!(render(&e));
}

#[test]
fn rendered_report_of_a_cycle() {
    let e = err(&with_env(
        "jobs:\n  a: { needs: [b], script: [x] }\n  b: { needs: [a], script: [x] }\n",
    ));
    insta::assert_snapshot!(render(&e));
}

#[test]
fn rendered_report_of_malformed_yaml() {
    let e = err("jobs:\n  a:\n    script: \"echo\n");
    insta::assert_snapshot!(render(&e));
}

#[test]
fn problems_found_later_point_into_the_file() {
    let src = "env:\n  dockerfile: ci/Dockerfile\njobs:\n  a:\n    env: { image: nope:1 }\n    script: [x]\n";
    let path = std::path::Path::new(".railyard.yml");
    let e = railyard_pipeline::problem_at(
        path,
        src,
        &["env", "dockerfile"],
        "Dockerfile `ci/Dockerfile` not found",
        "no such file",
        Some("create it, or fix the path".into()),
    );
    let p = &e.problems()[0];
    assert_eq!(
        p.to_string(),
        ".railyard.yml:2:15: Dockerfile `ci/Dockerfile` not found"
    );
    assert_eq!(p.underlined(), "ci/Dockerfile");
    assert_eq!(p.help.as_deref(), Some("create it, or fix the path"));

    let e = railyard_pipeline::problem_at(
        path,
        src,
        &["jobs", "a", "env", "image"],
        "image `nope:1` is neither local nor pullable",
        "here",
        None,
    );
    assert_eq!(e.problems()[0].underlined(), "nope:1");
    assert_eq!((e.problems()[0].line, e.problems()[0].column), (5, 19));

    // The path of a job's env key.
    let pipeline = railyard_pipeline::parse(path, src).unwrap();
    let keys = pipeline.env_key_path(&pipeline.jobs["a"], "image");
    assert_eq!(keys, ["jobs", "a", "env", "image"]);
    let e = railyard_pipeline::problem_at(path, src, &keys, "missing", "here", None);
    assert_eq!(e.problems()[0].underlined(), "nope:1");

    // A default value: the deepest key written is underlined.
    let e = railyard_pipeline::problem_at(
        path,
        src,
        &["env", "context"],
        "context missing",
        "here",
        None,
    );
    assert_eq!(e.problems()[0].underlined(), "env");
}

#[test]
fn errors_can_cross_threads() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<railyard_pipeline::PipelineError>();
    let report = miette::Report::new(err("jobs: {}\n"));
    assert!(report.to_string().starts_with(".railyard.yml:1:1: "));
}

#[test]
fn a_value_from_an_anchor_is_underlined_where_it_is_written() {
    let src = "env: { image: busybox }\n.t: &t { script: [x], timeout: zero }\njobs:\n  a: *t\n";
    check(
        src,
        ".railyard.yml:2:32: invalid `timeout` in job `a`: `zero` is not a duration like `90s`, `20m` or `1h30m`",
        "zero",
    );
}

#[test]
fn several_documents() {
    let p = check(
        "env: { image: busybox }\njobs: { a: { script: [x] } }\n---\nfoo: 1\n",
        ".railyard.yml:4:1: invalid YAML: the file holds several YAML documents (`---`); a pipeline is one document",
        "f",
    );
    assert_eq!(
        p.help.as_deref(),
        Some("remove the `---` separators and merge the documents")
    );
}

#[test]
fn windows_line_endings_and_wide_characters_keep_columns() {
    check(
        "env: { image: busybox }\r\njobs:\r\n  a:\r\n    script: [x]\r\n    timout: 5m\r\n",
        ".railyard.yml:5:5: unknown key `timout` in job `a`",
        "timout",
    );
    check(
        "env: { image: busybox }\njobs:\n  ü: { script: [x] }\n  bäu🎉:\n    script: [x]\n    needs: [\"ü\", x]\n",
        ".railyard.yml:6:18: job `bäu🎉` needs `x`, which is not a job of this pipeline",
        "x",
    );
}

#[test]
fn artifacts_map_keys_and_when_are_checked() {
    let job = |extra: &str| with_env(&format!("jobs:\n  a:\n    script: [x]\n    {extra}\n"));
    let p = check(
        &job("artifacts: { path: [out] }"),
        ".railyard.yml:5:18: unknown key `path` in `artifacts` of job `a`",
        "path",
    );
    assert_eq!(p.help.as_deref(), Some("did you mean `paths`?"));
    let p = check(
        &job("artifacts: { paths: [out], when: allways }"),
        ".railyard.yml:5:38: invalid `when` in `artifacts` of job `a`: `allways` is not one of `on_success`, `on_failure`, `always`",
        "allways",
    );
    assert_eq!(p.help.as_deref(), Some("did you mean `always`?"));
    let p = check(
        &job("artifacts: { paths: [out], when: later }"),
        ".railyard.yml:5:38: invalid `when` in `artifacts` of job `a`: `later` is not one of `on_success`, `on_failure`, `always`",
        "later",
    );
    assert!(p.help.unwrap().starts_with("use one of `on_success`"));
    let p = check(
        &job("artifacts: { when: always }"),
        ".railyard.yml:5:5: `paths` is missing in `artifacts` of job `a`",
        "artifacts",
    );
    assert!(p.help.unwrap().contains("paths: [dist/]"));
    check(
        &job("artifacts: { paths: [out, /etc/passwd] }"),
        ".railyard.yml:5:31: invalid `paths` in `artifacts` of job `a`: the path must be relative to the repository root",
        "/etc/passwd",
    );
    check(
        &job("artifacts: { paths: { a: b } }"),
        ".railyard.yml:5:25: `paths` in `artifacts` of job `a` must be a path or a list of paths, found a map",
        "{",
    );
    check(
        &job("artifacts: { paths: out, when: [always] }"),
        ".railyard.yml:5:36: `when` in `artifacts` of job `a` must be a string, found a list",
        "[",
    );
    check(
        &job("artifacts: [out, [nested]]"),
        ".railyard.yml:5:22: `artifacts` in job `a` must be a path, a list of paths, or a map with `paths` and `when`, found a list as an entry",
        "[",
    );
}

#[test]
fn needs_maps_are_checked_and_unknown_jobs_named_at_their_job() {
    let job = |needs: &str| {
        with_env(&format!(
            "jobs:\n  build:\n    script: [x]\n  test:\n    script: [x]\n    needs: {needs}\n"
        ))
    };
    let p = check(
        &job("[{ job: biuld, artifacts: false }]"),
        ".railyard.yml:7:20: job `test` needs `biuld`, which is not a job of this pipeline",
        "biuld",
    );
    assert_eq!(p.help.as_deref(), Some("did you mean `build`?"));
    let p = check(
        &job("[{ job: build, artifact: false }]"),
        ".railyard.yml:7:27: unknown key `artifact` in `needs` of job `test`",
        "artifact",
    );
    assert_eq!(p.help.as_deref(), Some("did you mean `artifacts`?"));
    let p = check(
        &job("[{ artifacts: false }]"),
        ".railyard.yml:7:13: `job` is missing in `needs` of job `test`",
        "{",
    );
    assert!(p.help.unwrap().contains("{ job: build, artifacts: false }"));
    check(
        &job("[{ job: build, artifacts: no }]"),
        ".railyard.yml:7:38: `artifacts` in `needs` of job `test` must be `true` or `false`, found a string",
        "no",
    );
    check(
        &job("[{ job: \"\" }]"),
        ".railyard.yml:7:20: invalid `job` in `needs` of job `test`: must not be empty",
        "\"\"",
    );
    check(
        &job("[build, [lint]]"),
        ".railyard.yml:7:20: `needs` in job `test` must be a job name, or a list of job names and `{ job: NAME, artifacts: false }` maps, found a list as an entry",
        "[",
    );
    let p = check(
        &job("[build, { job: build, artifacts: false }]"),
        ".railyard.yml:7:27: invalid `needs` in job `test`: `build` is listed twice, once with `artifacts: false`",
        "build",
    );
    assert!(p.help.unwrap().starts_with("list `build` once"));
    check(
        &job("[{ job: test }]"),
        ".railyard.yml:7:20: job `test` needs itself",
        "test",
    );
}

#[test]
fn image_build_needs_a_dockerfile_and_tags() {
    let job = |extra: &str| with_env(&format!("jobs:\n  a:\n    script: [x]\n    {extra}\n"));
    let p = check(
        &job("image_build: { tags: [app] }"),
        ".railyard.yml:5:5: `dockerfile` is missing in `image_build` of job `a`",
        "image_build",
    );
    assert!(p.help.unwrap().contains("`dockerfile: Dockerfile`"));
    let p = check(
        &job("image_build: { dockerfile: Dockerfile }"),
        ".railyard.yml:5:5: `tags` is missing in `image_build` of job `a`",
        "image_build",
    );
    assert_eq!(
        p.help.as_deref(),
        Some("name the image: `tags: [\"app:{commit}\"]`")
    );
    check(
        &job("image_build: { dockerfile: Dockerfile, tags: [] }"),
        ".railyard.yml:5:50: invalid `tags` in `image_build` of job `a`: the list of tags is empty",
        "[",
    );
    let p = check(
        &job("image_build: { dockerfile: Dockerfile, tag: [app] }"),
        ".railyard.yml:5:44: unknown key `tag` in `image_build` of job `a`",
        "tag",
    );
    assert_eq!(p.help.as_deref(), Some("did you mean `tags`?"));
    check(
        &job("image_build: { dockerfile: ../Dockerfile, tags: [app] }"),
        ".railyard.yml:5:32: invalid `dockerfile` in `image_build` of job `a`: the path leaves the repository (too many `..`)",
        "../Dockerfile",
    );
    check(
        &job("image_build: { dockerfile: Dockerfile, context: /, tags: [app] }"),
        ".railyard.yml:5:53: invalid `context` in `image_build` of job `a`: the path must be relative to the repository root",
        "/",
    );
    check(
        &job("image_build: { dockerfile: Dockerfile, tags: [app], push: yes }"),
        ".railyard.yml:5:63: `push` in `image_build` of job `a` must be `true` or `false`, found a string",
        "yes",
    );
    let p = check(
        &job("image_build: { dockerfile: Dockerfile, tags: [app], scan: { fail_on: severe } }"),
        ".railyard.yml:5:74: invalid `fail_on` in `scan` of `image_build` of job `a`: `severe` is not a severity",
        "severe",
    );
    assert!(p.help.unwrap().starts_with("use one of `low`"));
    check(
        &job("image_build: Dockerfile"),
        ".railyard.yml:5:18: `image_build` in job `a` must be a map (with `dockerfile`, `context`, `args`, `target`, `tags`, `push`, `scan`), found a string",
        "Dockerfile",
    );
}

#[test]
fn image_build_in_a_job_that_runs_as_several() {
    let p = check(
        &with_env(
            "jobs:\n  a:\n    script: [x]\n    parallel: 3\n    image_build: { dockerfile: Dockerfile, tags: [app] }\n",
        ),
        ".railyard.yml:6:5: `parallel` and `image_build` are both set in job `a`",
        "image_build",
    );
    assert!(
        p.help
            .unwrap()
            .starts_with("build the image in a job of its own that `needs` this one (each shard")
    );
    let p = check(
        &with_env(
            "jobs:\n  a:\n    image_build: { dockerfile: Dockerfile, tags: [app] }\n    matrix: { A: [x, y] }\n    script: [x]\n",
        ),
        ".railyard.yml:5:5: `image_build` and `matrix` are both set in job `a`",
        "matrix",
    );
    assert!(
        p.help
            .unwrap()
            .contains("each matrix job runs the same steps")
    );
}

#[test]
fn image_build_tags_are_checked_where_they_are_written() {
    let tags = |tags: &str| {
        with_env(&format!(
            "jobs:\n  a:\n    script: [x]\n    image_build:\n      dockerfile: Dockerfile\n      tags: {tags}\n"
        ))
    };
    let p = check(
        &tags("[\"app:{comit}\"]"),
        ".railyard.yml:7:14: invalid `tags` in `image_build` of job `a`: `{comit}` in `app:{comit}` is not a placeholder",
        "\"app:{comit}\"",
    );
    assert_eq!(p.help.as_deref(), Some("did you mean `{commit}`?"));
    let p = check(
        &tags("[app, \"registry.example.com/app:1\"]"),
        ".railyard.yml:7:19: invalid `tags` in `image_build` of job `a`: `registry.example.com/app:1` names a registry (`registry.example.com`)",
        "\"registry.example.com/app:1\"",
    );
    assert!(p.help.unwrap().starts_with(
        "name only the repository under the project, `app:1`: the registry is the server's setting"
    ));
    let p = check(
        &tags("[\"App:1\"]"),
        ".railyard.yml:7:14: invalid `tags` in `image_build` of job `a`: the repository path of `App:1` has upper-case letters",
        "\"App:1\"",
    );
    assert_eq!(
        p.help.as_deref(),
        Some("repository paths are lower case: `app:1`")
    );
}

/// Every rule of a tag, and the forms that pass: a table of tag → the reason, or `None`.
#[test]
fn tag_rules_table() {
    let table: &[(&str, Option<&str>)] = &[
        ("app", None),
        ("app:1.0", None),
        ("app:{commit}", None),
        ("app:{short_commit}-{run}", None),
        ("app:v1-{ref}", None),
        ("tools/app-x/web_1:_latest", None),
        ("a__b.c--d:V1.0_rc-1", None),
        ("app:{commit}{commit}", None),
        (
            "{commit}",
            Some("`{commit}` is in the repository path of `{commit}`"),
        ),
        (
            "app-{ref}:1",
            Some("`{ref}` is in the repository path of `app-{ref}:1`"),
        ),
        (
            "app:{tag}",
            Some("`{tag}` in `app:{tag}` is not a placeholder"),
        ),
        (
            "app:{commit",
            Some("`app:{commit` has a `{` without its `}`"),
        ),
        ("app:v1}", Some("`app:v1}` has a `}` that closes nothing")),
        ("app:{{x}}", Some("the tag `{x}` of `app:{{x}}` holds `{`")),
        (
            "localhost/app",
            Some("`localhost/app` names a registry (`localhost`)"),
        ),
        (
            "localhost:5000/app:1",
            Some("`localhost:5000/app:1` names a registry (`localhost:5000`)"),
        ),
        (
            "ghcr.io/me/app",
            Some("`ghcr.io/me/app` names a registry (`ghcr.io`)"),
        ),
        ("app@sha256:abc", Some("`app@sha256:abc` names a digest")),
        (
            "App",
            Some("the repository path of `App` has upper-case letters"),
        ),
        (
            "my app",
            Some("`my app` holds ` `, which an image name cannot"),
        ),
        ("app:", Some("`app:` has nothing after `:`")),
        ("app:-x", Some("the tag `-x` of `app:-x` starts with `-`")),
        ("app:.x", Some("the tag `.x` of `app:.x` starts with `.`")),
        // A `:` before a `/` is a host's port, not a tag.
        ("app:a/b", Some("`app:a/b` names a registry (`app:a`)")),
        ("app:a+b", Some("the tag `a+b` of `app:a+b` holds `+`")),
        (
            "/app",
            Some("`/app` has an empty part in its repository path"),
        ),
        (
            "a//b",
            Some("`a//b` has an empty part in its repository path"),
        ),
        (
            "app/",
            Some("`app/` has an empty part in its repository path"),
        ),
        ("-app", Some("`-app` in `-app` is not a repository name")),
        ("app.", Some("`app.` in `app.` is not a repository name")),
        ("a..b", Some("`a..b` in `a..b` is not a repository name")),
        ("a___b", Some("`a___b` in `a___b` is not a repository name")),
        ("a.-b", Some("`a.-b` in `a.-b` is not a repository name")),
    ];
    for (tag, expected) in table {
        let got = railyard_pipeline::tag_problem(tag);
        match (expected, &got) {
            (None, None) => {}
            (Some(reason), Some(p)) => assert_eq!(&p.reason, reason, "{tag}"),
            _ => panic!("{tag}: expected {expected:?}, got {got:?}"),
        }
    }
    let long = format!("app:{}", "x".repeat(128));
    assert_eq!(railyard_pipeline::tag_problem(&long), None);
    let p = railyard_pipeline::tag_problem(&format!("app:{}", "x".repeat(129))).unwrap();
    assert!(
        p.reason
            .ends_with("can be 129 characters long, more than 128"),
        "{}",
        p.reason
    );
    let p = railyard_pipeline::tag_problem("app:{commit}-{commit}").unwrap();
    assert!(
        p.reason
            .ends_with("can be 129 characters long, more than 128"),
        "{}",
        p.reason
    );
    assert!(p.help.contains("`{commit}` 64"), "{}", p.help);
}

#[test]
fn concurrency_and_environment_names_and_keys_are_checked() {
    let job = |extra: &str| with_env(&format!("jobs:\n  a:\n    script: [x]\n    {extra}\n"));
    let p = check(
        &job("concurrency: { group: \"\" }"),
        ".railyard.yml:5:27: invalid `group` in `concurrency` of job `a`: the name is empty",
        "\"\"",
    );
    assert!(
        p.help
            .unwrap()
            .starts_with("use a name such as `production`")
    );
    check(
        &job(&format!("concurrency: {}", "x".repeat(129))),
        ".railyard.yml:5:18: invalid `concurrency` in job `a`: the name is longer than 128 characters",
        &"x".repeat(129),
    );
    check(
        &job("environment: \"prod\\tuction\""),
        ".railyard.yml:5:18: invalid `environment` in job `a`: the name holds a control character (a tab, a line break…)",
        "\"prod\\tuction\"",
    );
    check(
        &job("environment: { name: \" production\" }"),
        ".railyard.yml:5:26: invalid `name` in `environment` of job `a`: the name starts or ends with spaces",
        "\" production\"",
    );
    let p = check(
        &job("concurrency: { groop: production }"),
        ".railyard.yml:5:20: unknown key `groop` in `concurrency` of job `a`",
        "groop",
    );
    assert_eq!(p.help.as_deref(), Some("did you mean `group`?"));
    let p = check(
        &job("concurrency: { cancel_pending: true }"),
        ".railyard.yml:5:5: `group` is missing in `concurrency` of job `a`",
        "concurrency",
    );
    assert_eq!(p.help.as_deref(), Some("add `group: production`"));
    check(
        &job("concurrency: { group: production, cancel_pending: 1 }"),
        ".railyard.yml:5:55: `cancel_pending` in `concurrency` of job `a` must be `true` or `false`, found a number",
        "1",
    );
    check(
        &job("concurrency: [production]"),
        ".railyard.yml:5:18: `concurrency` in job `a` must be a group name, or a map with `group` and `cancel_pending`, found a list",
        "[",
    );
    let p = check(
        &job("environment: { nmae: production }"),
        ".railyard.yml:5:20: unknown key `nmae` in `environment` of job `a`",
        "nmae",
    );
    assert_eq!(p.help.as_deref(), Some("did you mean `name`?"));
    // A key that is no typo of `name` leaves it missing too.
    let e = err(&job("environment: { env: production }"));
    let lines: Vec<String> = e.problems().iter().map(|p| p.to_string()).collect();
    assert_eq!(
        lines,
        [
            ".railyard.yml:5:5: `name` is missing in `environment` of job `a`",
            ".railyard.yml:5:20: unknown key `env` in `environment` of job `a`",
        ]
    );
    assert_eq!(
        e.problems()[1].help.as_deref(),
        Some("the keys allowed here: `name`")
    );
    check(
        &job("environment: {}"),
        ".railyard.yml:5:5: `name` is missing in `environment` of job `a`",
        "environment",
    );
}
