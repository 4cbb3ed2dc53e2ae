//! `matrix`: expansion order and names, variables, `needs` on a matrix job, `select`,
//! stages and the graph; then each bad input with its place.

use crate::{check, err, ok};
use railyard_pipeline::*;

const ENV: &str = "env: { image: busybox }\n";

const MATRIX: &str = r#"
env: { image: busybox }
variables: { PYTHON: "3.9", CI: "false" }
jobs:
  build: { script: [make] }
  test:
    needs: build
    matrix:
      PYTHON: ["3.11", 3.12]
      DB: [postgres, sqlite]
    parallel: 2
    variables: { CI: true }
    script: [make test]
  deploy:
    needs: [test]
    script: [make deploy]
  docs:
    needs: ["test (PYTHON=3.11, DB=sqlite)"]
    script: [make docs]
"#;

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

const TESTS: [&str; 4] = [
    "test (PYTHON=3.11, DB=postgres)",
    "test (PYTHON=3.11, DB=sqlite)",
    "test (PYTHON=3.12, DB=postgres)",
    "test (PYTHON=3.12, DB=sqlite)",
];

#[test]
fn a_matrix_expands_in_place_first_key_slowest() {
    let p = ok(MATRIX);
    let mut expected = vec!["build"];
    expected.extend(TESTS);
    expected.extend(["deploy", "docs"]);
    assert_eq!(p.jobs.keys().collect::<Vec<_>>(), expected);
    for (name, (python, db)) in TESTS.iter().zip([
        ("3.11", "postgres"),
        ("3.11", "sqlite"),
        ("3.12", "postgres"),
        ("3.12", "sqlite"),
    ]) {
        let job = &p.jobs[*name];
        assert_eq!(job.name, *name);
        assert_eq!(job.base_name, "test");
        let matrix: Vec<(&str, &str)> = job
            .matrix
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(matrix, [("PYTHON", python), ("DB", db)]);
        // The matrix values follow the job's own variables, and win over the pipeline's.
        let vars: Vec<(&str, &str)> = job
            .variables
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(vars, [("CI", "true"), ("PYTHON", python), ("DB", db)]);
        assert_eq!(p.job_variables(job)["PYTHON"], python);
        assert_eq!(job.parallel, 2, "matrix and parallel combine");
        assert_eq!(job.needs, ["build"]);
        assert_eq!(job.script, ["make test"]);
    }
    let build = &p.jobs["build"];
    assert_eq!((build.base_name.as_str(), build.matrix.len()), ("build", 0));
}

#[test]
fn needs_on_a_matrix_job_waits_for_every_expansion() {
    let p = ok(MATRIX);
    assert_eq!(p.jobs["deploy"].needs, TESTS);
    // One expansion can be named by its full name.
    assert_eq!(p.jobs["docs"].needs, ["test (PYTHON=3.11, DB=sqlite)"]);
}

#[test]
fn a_matrix_job_needing_a_matrix_job_waits_for_all_of_it() {
    let p = ok(&format!(
        "{ENV}jobs:\n  build:\n    matrix: {{ OS: [a, b] }}\n    script: [x]\n  test:\n    needs: [build, build]\n    matrix: {{ V: [1, 2] }}\n    script: [y]\n"
    ));
    for name in ["test (V=1)", "test (V=2)"] {
        assert_eq!(p.jobs[name].needs, ["build (OS=a)", "build (OS=b)"]);
    }
    assert_eq!(
        p.stages(),
        vec![
            names(&["build (OS=a)", "build (OS=b)"]),
            names(&["test (V=1)", "test (V=2)"])
        ]
    );
}

#[test]
fn values_are_kept_as_written() {
    let p = ok(&format!(
        "{ENV}jobs:\n  t:\n    matrix: {{ V: [1.10, true, \"a b\", 007] }}\n    script: [x]\n"
    ));
    assert_eq!(
        p.jobs.keys().collect::<Vec<_>>(),
        ["t (V=1.10)", "t (V=true)", "t (V=a b)", "t (V=007)"]
    );
}

#[test]
fn the_limit_itself_is_allowed() {
    let values: Vec<String> = (0..16).map(|i| i.to_string()).collect();
    let list = values.join(", ");
    let p = ok(&format!(
        "{ENV}jobs:\n  t:\n    matrix: {{ A: [{list}], B: [{list}] }}\n    script: [x]\n"
    ));
    assert_eq!(p.jobs.len(), MAX_MATRIX_JOBS);
}

#[test]
fn select_takes_the_matrix_name_or_one_expansion() {
    let p = ok(MATRIX);
    let mut all = vec!["build"];
    all.extend(TESTS);
    assert_eq!(p.select(&names(&["test"])).unwrap(), all);
    assert_eq!(
        p.select(&names(&["test (PYTHON=3.12, DB=sqlite)"]))
            .unwrap(),
        ["build", "test (PYTHON=3.12, DB=sqlite)"]
    );
    assert_eq!(
        p.select(&names(&["docs"])).unwrap(),
        ["build", "test (PYTHON=3.11, DB=sqlite)", "docs"]
    );
    let mut deploy = all.clone();
    deploy.push("deploy");
    assert_eq!(p.select(&names(&["deploy"])).unwrap(), deploy);

    let e = p.select(&names(&["tset"])).unwrap_err();
    let help = miette::Diagnostic::help(&e).unwrap().to_string();
    assert_eq!(help, "did you mean `test`?");
    let e = p.select(&names(&["release"])).unwrap_err();
    let help = miette::Diagnostic::help(&e).unwrap().to_string();
    assert_eq!(help, "the jobs of this pipeline: build, test, deploy, docs");
    assert_eq!(p.base_names(), ["build", "test", "deploy", "docs"]);
}

#[test]
fn stages_and_graph_group_the_expansions() {
    let p = ok(MATRIX);
    assert_eq!(
        p.stages(),
        vec![names(&["build"]), names(&TESTS), names(&["deploy", "docs"])]
    );
    assert_eq!(
        p.render_graph(),
        "\
.railyard.yml: 7 jobs in 3 stages

stage 1
  └─ build

stage 2
  └─ test     matrix PYTHON × DB: 4 jobs · needs build · 2 shards

stage 3
  ├─ deploy   needs test
  └─ docs     needs test (PYTHON=3.11, DB=sqlite)
"
    );
}

#[test]
fn a_job_env_of_an_expansion_is_found_under_its_written_name() {
    let src = format!(
        "{ENV}jobs:\n  t:\n    matrix: {{ V: [1] }}\n    env: {{ image: nope }}\n    script: [x]\n"
    );
    let p = ok(&src);
    let keys = p.env_key_path(&p.jobs["t (V=1)"], "image");
    assert_eq!(keys, ["jobs", "t", "env", "image"]);
    let path = std::path::Path::new(".railyard.yml");
    let e = problem_at(path, &src, &keys, "no such image", "here", None);
    assert_eq!(e.problems()[0].underlined(), "nope");
}

fn job(body: &str) -> String {
    format!(
        "{ENV}jobs:\n  a:\n    script: [x]\n    {}\n",
        body.replace('\n', "\n    ")
    )
}

#[test]
fn a_matrix_over_the_limit() {
    let ten = "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]";
    let p = check(
        &job(&format!(
            "matrix:\n  PY: [a, b, c]\n  OS: {ten}\n  DB: {ten}"
        )),
        ".railyard.yml:5:5: invalid `matrix` in job `a`: expands to 300 jobs (3 PY × 10 OS × 10 DB), more than the limit of 256",
        "matrix",
    );
    assert!(p.help.unwrap().starts_with("remove values"));
}

#[test]
fn an_empty_value_list() {
    let p = check(
        &job("matrix: { PY: [a], OS: [] }"),
        ".railyard.yml:5:28: invalid `OS` in `matrix` of job `a`: the list of values is empty",
        "[",
    );
    assert_eq!(
        p.help.as_deref(),
        Some("give `OS` at least one value, or remove it")
    );
}

#[test]
fn an_empty_matrix() {
    check(
        &job("matrix: {}"),
        ".railyard.yml:5:13: invalid `matrix` in job `a`: the matrix has no variables",
        "{",
    );
}

#[test]
fn matrix_values_must_be_a_list_of_scalars() {
    check(
        &job("matrix: { PY: \"3.11\" }"),
        ".railyard.yml:5:19: `PY` in `matrix` of job `a` must be a list of values, found a string",
        "\"3.11\"",
    );
    check(
        &job("matrix: { PY: [a, { b: c }] }"),
        ".railyard.yml:5:23: `PY` in `matrix` of job `a` must be a list of values (strings, numbers or booleans), found a map as an entry",
        "{",
    );
    check(
        &job("matrix: [a, b]"),
        ".railyard.yml:5:13: `matrix` in job `a` must be a map of variable names to lists of values, found a list",
        "[",
    );
    check(
        &job("matrix: { PY: [a, \"\"] }"),
        ".railyard.yml:5:23: invalid `PY` in `matrix` of job `a`: a value is empty",
        "\"\"",
    );
}

#[test]
fn a_value_listed_twice() {
    check(
        &job("matrix: { PY: [\"3.11\", 3.12, 3.11] }"),
        ".railyard.yml:5:34: invalid `PY` in `matrix` of job `a`: `3.11` is listed twice",
        "3.11",
    );
}

#[test]
fn matrix_names_are_variable_names() {
    check(
        &job("matrix: { python-version: [a] }"),
        ".railyard.yml:5:15: invalid `python-version` in `matrix` of job `a`: a matrix variable name is letters, digits and `_`, not starting with a digit (each job gets it as a variable)",
        "python-version",
    );
    check(
        &job("matrix: { RAILYARD_SHARDS: [1, 2] }"),
        ".railyard.yml:5:15: invalid `RAILYARD_SHARDS` in `matrix` of job `a`: Railyard sets this variable in each shard",
        "RAILYARD_SHARDS",
    );
}

#[test]
fn a_matrix_variable_also_in_the_jobs_variables() {
    let p = check(
        &job("variables: { PY: \"3.9\" }\nmatrix: { PY: [\"3.11\"] }"),
        ".railyard.yml:6:15: invalid `PY` in `matrix` of job `a`: also set in the job's `variables`",
        "PY",
    );
    assert_eq!(
        p.help.as_deref(),
        Some("remove `PY` from `variables`: the matrix sets it in each of its jobs")
    );
}

#[test]
fn an_expansion_taking_the_name_of_a_job() {
    check(
        &format!(
            "{ENV}jobs:\n  t:\n    matrix: {{ V: [1, 2] }}\n    script: [x]\n  \"t (V=2)\": {{ script: [y] }}\n"
        ),
        ".railyard.yml:6:3: invalid job name `t (V=2)`: the matrix of job `t` makes a job of this name",
        "\"t (V=2)\"",
    );
}

#[test]
fn needs_naming_an_expansion_that_does_not_exist() {
    let p = check(
        &format!(
            "{ENV}jobs:\n  t:\n    matrix: {{ V: [1, 2] }}\n    script: [x]\n  d:\n    needs: [\"t (V=3)\"]\n    script: [y]\n"
        ),
        ".railyard.yml:7:13: job `d` needs `t (V=3)`, which is not a job of this pipeline",
        "\"t (V=3)\"",
    );
    assert_eq!(p.help.as_deref(), Some("did you mean `t (V=1)`?"));
}

#[test]
fn an_expansion_needing_its_own_matrix() {
    check(
        &format!(
            "{ENV}jobs:\n  t:\n    matrix: {{ V: [1, 2] }}\n    needs: [\"t (V=1)\"]\n    script: [x]\n"
        ),
        ".railyard.yml:5:13: job `t` needs itself",
        "\"t (V=1)\"",
    );
}

#[test]
fn a_cycle_through_one_expansion() {
    let e = err(&format!(
        "{ENV}jobs:\n  t:\n    matrix: {{ V: [1, 2] }}\n    needs: [d]\n    script: [x]\n  d:\n    needs: [\"t (V=2)\"]\n    script: [y]\n"
    ));
    assert_eq!(e.problems().len(), 1);
    let p = &e.problems()[0];
    assert_eq!(
        p.to_string(),
        ".railyard.yml:8:13: cycle in `needs`: t -> d -> t"
    );
    assert_eq!(p.underlined(), "\"t (V=2)\"");
}

#[test]
fn a_broken_matrix_is_reported_once() {
    // The expansion named in `needs` is unknown only because the matrix is wrong.
    check(
        &format!(
            "{ENV}jobs:\n  t:\n    matrix: {{ V: [] }}\n    script: [x]\n  d:\n    needs: [\"t (V=1)\", t]\n    script: [y]\n"
        ),
        ".railyard.yml:4:18: invalid `V` in `matrix` of job `t`: the list of values is empty",
        "[",
    );
}

#[test]
fn rendered_report_of_a_zero_parallel_and_a_matrix_over_the_limit() {
    let e = err(&job(
        "parallel: 0\nmatrix:\n  A: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]\n  B: [x, y, z, w, v, u, t, s, r, q, p, o, n, m, l, k]",
    ));
    insta::assert_snapshot!(crate::render(&e));
}

/// `artifacts: false` on a matrix job leaves the artifacts of every expansion; on one
/// expansion, only its own. What is left stays a subset of what is needed.
#[test]
fn needs_without_artifacts_follow_the_expansion() {
    let p = ok(r#"
env: { image: busybox }
jobs:
  build: { script: [x] }
  test:
    needs: [{ job: build, artifacts: false }]
    matrix: { PYTHON: ["3.11", "3.12"] }
    script: [x]
  report:
    needs: [{ job: test, artifacts: false }, build]
    script: [x]
  one:
    needs: [{ job: "test (PYTHON=3.12)", artifacts: false }, "test (PYTHON=3.11)"]
    script: [x]
  both:
    needs: [{ job: test, artifacts: false }, { job: "test (PYTHON=3.12)", artifacts: false }]
    script: [x]
"#);
    let tests = names(&["test (PYTHON=3.11)", "test (PYTHON=3.12)"]);
    for t in &tests {
        assert_eq!(p.jobs[t].needs_without_artifacts, ["build"], "{t}");
    }
    let report = &p.jobs["report"];
    let mut needs = tests.clone();
    needs.push("build".into());
    assert_eq!(report.needs, needs);
    assert_eq!(report.needs_without_artifacts, tests);
    assert!(report.takes_artifacts_from("build"));
    let one = &p.jobs["one"];
    assert_eq!(one.needs_without_artifacts, ["test (PYTHON=3.12)"]);
    assert!(one.takes_artifacts_from("test (PYTHON=3.11)"));
    assert_eq!(p.jobs["both"].needs_without_artifacts, tests);
    for job in p.jobs.values() {
        for left in &job.needs_without_artifacts {
            assert!(job.needs.contains(left), "{}: {left}", job.name);
        }
    }
}

#[test]
fn a_matrix_job_and_one_of_its_jobs_with_different_artifacts_is_an_error() {
    let src = format!(
        "{ENV}jobs:\n  test:\n    matrix: {{ A: [x, y] }}\n    script: [x]\n  report:\n    needs:\n      - test\n      - {{ job: \"test (A=y)\", artifacts: false }}\n    script: [x]\n"
    );
    let p = check(
        &src,
        ".railyard.yml:9:16: invalid `needs` in job `report`: `test (A=y)` is one of the jobs of `test`, and `test (A=y)` is listed with `artifacts: false` but `test` is not",
        "\"test (A=y)\"",
    );
    assert_eq!(
        p.help.as_deref(),
        Some(
            "give both `artifacts: false`, or leave `test (A=y)` out: needing `test` already waits for it"
        )
    );
}
