//! What one file may ask of whoever runs it: the jobs it expands to are counted (matrix
//! combinations × shards) against a limit with the arithmetic in the error, and no job may
//! take a shard's name.

use crate::{check, ok, render};
use railyard_pipeline::*;
use std::path::Path;

const ENV: &str = "env: { image: busybox }\n";

/// `n` jobs, each with a `matrix` of `values` values on each of `axes` axes and `parallel`.
fn fleet_file(n: usize, axes: usize, values: usize, parallel: u32) -> String {
    let list: Vec<String> = (0..values).map(|v| v.to_string()).collect();
    let list = list.join(", ");
    let mut out = format!("{ENV}jobs:\n");
    for j in 0..n {
        let matrix: Vec<String> = (0..axes).map(|a| format!("A{a}: [{list}]")).collect();
        out.push_str(&format!(
            "  job{j}:\n    matrix: {{ {} }}\n    parallel: {parallel}\n    script: [x]\n",
            matrix.join(", ")
        ));
    }
    out
}

/// The file: 5 KB of YAML that queued 81,920 rows in one transaction.
#[test]
fn a_small_file_of_81920_jobs_is_refused_with_the_arithmetic_at_jobs() {
    let source = fleet_file(5, 2, 16, 64);
    assert!(source.len() < 5_000, "{}", source.len());
    check(
        &source,
        ".railyard.yml:2:1: too many jobs: 5 jobs × matrix 256 × parallel 64 = 81,920 > 1,000",
        "jobs",
    );
    let e = parse(Path::new(".railyard.yml"), &source).unwrap_err();
    let shown = render(&e);
    assert!(shown.contains("expands to 81,920 jobs"), "{shown}");
    assert!(shown.contains("--max-jobs"), "{shown}");
}

/// A 408 KB file that validated as 102,400 jobs.
#[test]
fn a_large_file_of_102400_jobs_is_refused() {
    let source = fleet_file(400, 1, 256, 1);
    assert!(source.len() > 400_000, "{}", source.len());
    check(
        &source,
        ".railyard.yml:2:1: too many jobs: 400 jobs × matrix 256 = 102,400 > 1,000",
        "jobs",
    );
}

#[test]
fn the_arithmetic_groups_jobs_of_one_shape() {
    check(
        &fleet_file(3, 2, 4, 64),
        ".railyard.yml:2:1: too many jobs: 3 jobs × matrix 16 × parallel 64 = 3,072 > 1,000",
        "jobs",
    );
    let source = format!(
        "{ENV}jobs:\n  build: {{ script: [x] }}\n  test:\n    matrix: {{ A: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15] }}\n    parallel: 64\n    script: [x]\n  lint: {{ script: [x] }}\n  docs: {{ parallel: 2, script: [x] }}\n"
    );
    check(
        &source,
        ".railyard.yml:2:1: too many jobs: 2 jobs + 1 job × matrix 16 × parallel 64 + 1 job × parallel 2 = 1,028 > 1,000",
        "jobs",
    );
}

#[test]
fn the_limit_itself_is_allowed_and_runners_set_their_own() {
    // 1 + 999 = 1,000 exactly.
    let mut source = format!("{ENV}jobs:\n  one: {{ script: [x] }}\n");
    for j in 0..27 {
        source.push_str(&format!("  j{j}: {{ parallel: 37, script: [x] }}\n"));
    }
    let p = ok(&source);
    let total: u32 = p.jobs.values().map(|j| j.parallel).sum();
    assert_eq!(total, 1_000);
    let over = source.replace(
        "  one: { script: [x] }\n",
        "  one: { parallel: 2, script: [x] }\n",
    );
    let e = parse(Path::new(".railyard.yml"), &over).unwrap_err();
    assert!(e.to_string().ends_with("= 1,001 > 1,000"), "{e}");
    // A runner that allows more, or less.
    let path = Path::new(".railyard.yml");
    let more = Limits { max_jobs: 2_000 };
    assert_eq!(parse_with(path, &over, &more).unwrap().jobs.len(), 28);
    assert!(parse_with(path, &over, &Limits::none()).is_ok());
    let fewer = Limits { max_jobs: 10 };
    let e = parse_with(
        path,
        &format!("{ENV}jobs:\n  t: {{ parallel: 11, script: [x] }}\n"),
        &fewer,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        ".railyard.yml:2:1: too many jobs: 1 job × parallel 11 = 11 > 10"
    );
    assert_eq!(e.problems()[0].kind.code(), "too_many_jobs");
}

/// The file: a job named like the shard of another validated, and its trigger left
/// a run half-made.
#[test]
fn a_job_named_like_a_shard_of_another_is_refused_at_its_name() {
    let source = format!(
        "{ENV}jobs:\n  \"test [1/2]\": {{ script: [x] }}\n  test:\n    parallel: 2\n    script: [y]\n"
    );
    let p = check(
        &source,
        ".railyard.yml:3:3: invalid job name `test [1/2]`: job `test` has `parallel: 2`, and its shards are named `test [1/2]` to `test [2/2]`",
        "\"test [1/2]\"",
    );
    assert_eq!(
        p.help.as_deref(),
        Some("rename this job, e.g. `test-1-of-2`: names ending in ` [K/N]` are kept for shards")
    );
    // A shard of one matrix combination, too.
    let source = format!(
        "{ENV}jobs:\n  t:\n    matrix: {{ V: [a] }}\n    parallel: 3\n    script: [y]\n  \"t (V=a) [3/3]\": {{ script: [x] }}\n"
    );
    check(
        &source,
        ".railyard.yml:7:3: invalid job name `t (V=a) [3/3]`: job `t (V=a)` has `parallel: 3`, and its shards are named `t (V=a) [1/3]` to `t (V=a) [3/3]`",
        "\"t (V=a) [3/3]\"",
    );
}

#[test]
fn every_name_of_a_shards_form_is_kept() {
    check(
        &format!("{ENV}jobs:\n  lint [2/4]: {{ script: [x] }}\n"),
        ".railyard.yml:3:3: invalid job name `lint [2/4]`: a name ending in ` [K/N]` is a shard's: a `parallel: N` job runs as `JOB [1/N]` to `JOB [N/N]`",
        "lint [2/4]",
    );
    // Brackets that are not a shard's are names like any other.
    let p = ok(&format!(
        "{ENV}jobs:\n  \"lint [fast]\": {{ script: [x] }}\n  \"a [1/2] b\": {{ script: [x] }}\n  \"c [1-2]\": {{ script: [x] }}\n"
    ));
    assert_eq!(p.jobs.len(), 3);
}
