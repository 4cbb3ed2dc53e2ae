//! `when:` rules: what they read as, and every way to get them wrong named at its place.

use crate::{check, err, ok, render};
use railyard_pipeline::When;
use railyard_types::context::{RunContext, RunEvent};

fn job_with(rule: &str) -> String {
    format!("env: {{ image: busybox }}\njobs:\n  deploy:\n    script: [x]\n    when: {rule}\n")
}

#[test]
fn a_rule_reads_as_written_and_is_judged_on_the_run() {
    let p = ok(&job_with(
        "{ event: [push, pull_request], branch: [main, \"release/*\"], tag: \"v*\" }",
    ));
    let when = p.jobs["deploy"].when.clone().unwrap();
    assert_eq!(
        when,
        When {
            event: vec![RunEvent::Push, RunEvent::PullRequest],
            branch: vec!["main".into(), "release/*".into()],
            tag: vec!["v*".into()],
        }
    );
    // Both a branch and a tag: no run has both, so it never runs (every condition holds).
    let push = RunContext::for_ref("abc", Some("refs/heads/main".into()));
    assert!(when.check(&push).unwrap_err().contains("wants tag `v*`"));
    // One word is a list of one; repeats are kept once.
    let p = ok(&job_with("{ event: tag }"));
    assert_eq!(
        p.jobs["deploy"].when.as_ref().unwrap().event,
        [RunEvent::Tag]
    );
    let p = ok(&job_with("{ event: [push, push] }"));
    assert_eq!(
        p.jobs["deploy"].when.as_ref().unwrap().event,
        [RunEvent::Push]
    );
    // A job without a rule, and `when:` with nothing after it, run on every run.
    let p = ok(
        "env: { image: busybox }\njobs:\n  a: { script: [x] }\n  b:\n    script: [x]\n    when:\n",
    );
    assert_eq!(
        (p.jobs["a"].when.as_ref(), p.jobs["b"].when.as_ref()),
        (None, None)
    );
}

#[test]
fn a_matrix_job_keeps_its_rule_in_every_expansion() {
    let p = ok(
        "env: { image: busybox }\njobs:\n  t:\n    script: [x]\n    matrix: { V: [a, b] }\n    when: { branch: main }\n",
    );
    assert_eq!(p.jobs.len(), 2);
    for job in p.jobs.values() {
        assert_eq!(job.when.as_ref().unwrap().branch, ["main"]);
    }
}

#[test]
fn an_unknown_event_lists_the_events() {
    let p = check(
        &job_with("{ event: [push, merge_request] }"),
        ".railyard.yml:5:27: invalid `event` in `when` of job `deploy`: unknown event `merge_request`",
        "merge_request",
    );
    assert_eq!(
        p.help.as_deref(),
        Some(
            "a merge request is `pull_request` on every forge; the events: `push`, `tag`, `pull_request`, `schedule`, `trigger`"
        )
    );
    let p = check(
        &job_with("{ event: pussh }"),
        ".railyard.yml:5:20: invalid `event` in `when` of job `deploy`: unknown event `pussh`",
        "pussh",
    );
    assert!(p.help.unwrap().starts_with("did you mean `push`?"));
}

#[test]
fn unknown_keys_and_wrong_types_are_named() {
    let p = check(
        &job_with("{ events: [push] }"),
        ".railyard.yml:5:13: unknown key `events` in `when` of job `deploy`",
        "events",
    );
    assert_eq!(p.help.as_deref(), Some("did you mean `event`?"));
    check(
        &job_with("[push]"),
        ".railyard.yml:5:11: `when` in job `deploy` must be a map (with `event`, `branch`, `tag`), found a list",
        // A collection is underlined at its opening bracket.
        "[",
    );
    check(
        &job_with("{ branch: { main: true } }"),
        ".railyard.yml:5:21: `branch` in `when` of job `deploy` must be a branch pattern or a list of them, found a map",
        "{",
    );
    check(
        &job_with("{ tag: [[v1]] }"),
        ".railyard.yml:5:19: `tag` in `when` of job `deploy` must be a tag pattern or a list of them, found a list as an entry",
        "[",
    );
}

#[test]
fn empty_lists_and_empty_rules_are_refused() {
    let p = check(
        &job_with("{ branch: [] }"),
        ".railyard.yml:5:21: invalid `branch` in `when` of job `deploy`: an empty list matches nothing",
        // The parser's span of an empty flow list is its opening bracket.
        "[",
    );
    assert!(p.help.unwrap().starts_with("remove `branch` to match any"));
    check(
        &job_with("{}"),
        ".railyard.yml:5:11: invalid `when` in job `deploy`: the rule has no condition",
        "{",
    );
    check(
        &job_with("{ tag: [\"\"] }"),
        ".railyard.yml:5:19: invalid `tag` in `when` of job `deploy`: an entry is empty",
        "\"\"",
    );
}

#[test]
fn bad_patterns_are_named_where_written() {
    let p = check(
        &job_with("{ branch: [main, \"release/[\"] }"),
        ".railyard.yml:5:28: invalid `branch` in `when` of job `deploy`: `release/[` is not a valid pattern: unclosed character class; missing ']'",
        "\"release/[\"",
    );
    assert!(p.help.unwrap().contains("`**` across"));
    check(
        &job_with("{ branch: refs/heads/main }"),
        ".railyard.yml:5:21: invalid `branch` in `when` of job `deploy`: `refs/heads/main` is a full ref; `branch` matches branch names",
        "refs/heads/main",
    );
}

#[test]
fn every_problem_of_a_rule_is_reported_together() {
    let e = err(&job_with(
        "{ event: [nope], branch: [], tag: \"{a\", color: red }",
    ));
    let lines: Vec<String> = e.problems().iter().map(|p| p.to_string()).collect();
    assert_eq!(lines.len(), 4, "{}", render(&e));
    assert!(
        lines.iter().all(|l| l.starts_with(".railyard.yml:5:")),
        "{lines:?}"
    );
}
