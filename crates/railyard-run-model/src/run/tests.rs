use super::*;

/// A run of `(name, needs)` jobs, all waiting (those without needs too: `Check` queues them).
fn run(jobs: &[(&str, &[&str])]) -> Run {
    run_with_manual(jobs, &[])
}

/// As [`run`], the jobs named in `manual` waiting for approval.
fn run_with_manual(jobs: &[(&str, &[&str])], manual: &[&str]) -> Run {
    let mut b = RunBuilder::new();
    for (name, needs) in jobs {
        let needs = b.needs(needs.iter().map(|n| n.to_string()).collect());
        let mut job = Job::new(*name, needs, JobState::Waiting);
        job.manual = manual.contains(name);
        b.job(job);
    }
    b.build()
}

fn queue(i: usize) -> Change {
    Change::Queue(i)
}

fn skip(i: usize, why: &str) -> Change {
    Change::Skip(i, why.to_string())
}

#[test]
fn a_failed_need_skips_its_dependents_and_theirs() {
    let mut r = run(&[("a", &[]), ("c", &["b"]), ("b", &["a"]), ("d", &["a"])]);
    assert_eq!(r.apply(Event::Check).changes, [queue(0)]);
    r.apply(Event::JobStarted("a"));
    let t = r.apply(Event::JobEnded("a", JobStatus::Failed));
    // Each job after the jobs it needs (`c`, listed before `b`, after it), else in order.
    assert_eq!(
        t.changes,
        [
            skip(2, "skipped: `a` did not succeed"),
            skip(1, "skipped: `b` did not succeed"),
            skip(3, "skipped: `a` did not succeed"),
        ]
    );
    assert_eq!(t.closed, Some(RunStatus::Failed));
    assert_eq!(r.closed(), Some(RunStatus::Failed));
    // Once only.
    assert_eq!(r.apply(Event::Check), Transitions::default());
}

/// The store reads a run's rows in no set order: whatever order the jobs come in, the same
/// jobs are skipped for the same reasons (a job needing `a` and `b`, where `b` needs `a`, is
/// skipped naming both, as it was named only `a` when listed before `b`).
#[test]
fn decisions_do_not_depend_on_the_order_jobs_are_listed_in() {
    let jobs: [(&str, &[&str]); 4] = [("a", &[]), ("b", &["a"]), ("x", &["a", "b"]), ("y", &["x"])];
    let decided = |order: &[usize]| {
        let listed: Vec<_> = order.iter().map(|&i| jobs[i]).collect();
        let mut r = run(&listed);
        r.apply(Event::Check);
        let t = r.apply(Event::JobEnded("a", JobStatus::Failed));
        let mut skips: Vec<(String, String)> = (t.changes.iter())
            .map(|c| match c {
                Change::Skip(i, why) => (r.job(*i).name.clone(), why.clone()),
                other => panic!("{other:?}"),
            })
            .collect();
        skips.sort();
        skips
    };
    let expected = vec![
        ("b".to_string(), "skipped: `a` did not succeed".to_string()),
        (
            "x".to_string(),
            "skipped: `a`, `b` did not succeed".to_string(),
        ),
        ("y".to_string(), "skipped: `x` did not succeed".to_string()),
    ];
    for order in [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1], [1, 3, 0, 2]] {
        assert_eq!(decided(&order), expected, "listed as {order:?}");
    }
}

#[test]
fn the_reason_names_the_needs_that_ended_badly_only() {
    let mut r = run(&[("a", &[]), ("b", &[]), ("c", &[]), ("d", &["a", "b", "c"])]);
    r.apply(Event::Check);
    r.apply(Event::JobEnded("a", JobStatus::TimedOut));
    let t = r.apply(Event::JobEnded("c", JobStatus::Cancelled));
    assert_eq!(t.changes, []);
    let mut r = run(&[("a", &[]), ("b", &[]), ("c", &[]), ("d", &["a", "b", "c"])]);
    r.apply(Event::Check);
    r.apply(Event::JobEnded("c", JobStatus::Success));
    let t = r.apply(Event::JobEnded("a", JobStatus::Failed));
    assert_eq!(t.changes, [skip(3, "skipped: `a` did not succeed")]);
    r.apply(Event::JobEnded("b", JobStatus::Skipped));
    assert_eq!(r.closed(), Some(RunStatus::Failed));
}

#[test]
fn an_allowed_failure_lets_dependents_run_and_the_run_succeed() {
    let mut r = run(&[("a", &[]), ("b", &["a"])]);
    r.apply(Event::Check);
    let t = r.apply(Event::JobEnded("a", JobStatus::FailedAllowed));
    assert_eq!(t.changes, [queue(1)]);
    let t = r.apply(Event::JobEnded("b", JobStatus::Success));
    assert_eq!(t.closed, Some(RunStatus::Success));
}

#[test]
fn a_need_naming_a_sharded_job_waits_for_every_shard() {
    let mut b = RunBuilder::new();
    let none = b.needs(vec![]);
    let test = b.needs(vec!["test".into()]);
    for k in 1..=3 {
        let mut shard = Job::new(format!("test [{k}/3]"), none, JobState::Waiting);
        shard.shard_of = Some("test".into());
        b.job(shard);
    }
    b.job(Job::new("deploy", test, JobState::Waiting));
    let mut r = b.build();
    assert_eq!(
        r.apply(Event::Check).changes,
        [queue(0), queue(1), queue(2)]
    );
    assert!(
        r.apply(Event::JobEnded("test [1/3]", JobStatus::Success))
            .changes
            .is_empty()
    );
    let t = r.apply(Event::JobEnded("test [3/3]", JobStatus::Failed));
    assert_eq!(t.changes, [skip(3, "skipped: `test` did not succeed")]);
    let t = r.apply(Event::JobEnded("test [2/3]", JobStatus::Success));
    assert_eq!(t.closed, Some(RunStatus::Failed));
}

#[test]
fn a_manual_job_waits_for_approval_and_so_do_its_dependents() {
    let mut r = run_with_manual(&[("gate", &[]), ("deploy", &["gate"])], &["gate"]);
    assert_eq!(r.apply(Event::Check).changes, [Change::AwaitApproval(0)]);
    assert_eq!(r.job(0).state, JobState::AwaitingApproval);
    // Not stalled: a person may still come.
    assert_eq!(r.apply(Event::Approved("deploy")), Transitions::default());
    assert_eq!(r.apply(Event::Approved("gate")).changes, [queue(0)]);
    assert_eq!(r.apply(Event::Approved("gate")), Transitions::default());
    r.apply(Event::JobStarted("gate"));
    assert_eq!(
        r.apply(Event::JobEnded("gate", JobStatus::Success)).changes,
        [queue(1)]
    );
}

#[test]
fn a_cancelled_run_cancels_what_has_not_started_and_ends_cancelled() {
    let mut r = run_with_manual(
        &[
            ("gate", &[]),
            ("build", &[]),
            ("deploy", &["gate"]),
            ("lint", &[]),
        ],
        &["gate"],
    );
    r.apply(Event::Check);
    r.apply(Event::JobStarted("build"));
    let t = r.apply(Event::RunCancelled);
    assert_eq!(
        t.changes,
        [
            Change::Cancel(0),
            Change::Stop(1),
            Change::Cancel(2),
            Change::Cancel(3)
        ]
    );
    assert_eq!(t.closed, None);
    // The running job finished before it heard: the run is cancelled all the same.
    let t = r.apply(Event::JobEnded("build", JobStatus::Success));
    assert_eq!(t.closed, Some(RunStatus::Cancelled));
}

#[test]
fn one_cancelled_job_is_ended_or_stopped() {
    let mut r = run(&[("a", &[]), ("b", &[]), ("c", &["b"])]);
    r.apply(Event::Check);
    r.apply(Event::JobStarted("a"));
    assert_eq!(r.apply(Event::JobCancelled("a")).changes, [Change::Stop(0)]);
    assert_eq!(
        r.apply(Event::JobCancelled("b")).changes,
        [Change::Cancel(1), skip(2, "skipped: `b` did not succeed")]
    );
    let t = r.apply(Event::JobEnded("a", JobStatus::Cancelled));
    assert_eq!(t.closed, Some(RunStatus::Cancelled));
}

#[test]
fn retrying_failed_jobs_opens_the_run_again() {
    let mut r = run(&[("a", &[]), ("b", &["a"]), ("c", &[])]);
    r.apply(Event::Check);
    r.apply(Event::JobEnded("c", JobStatus::Success));
    let t = r.apply(Event::JobEnded("a", JobStatus::Failed));
    assert_eq!(t.closed, Some(RunStatus::Failed));
    let t = r.apply(Event::RetryFailed);
    assert_eq!(t.changes, [Change::Retry(0), Change::Retry(1), queue(0)]);
    assert_eq!(r.closed(), None);
    assert_eq!(
        r.apply(Event::JobEnded("a", JobStatus::Success)).changes,
        [queue(1)]
    );
    let t = r.apply(Event::JobEnded("b", JobStatus::Success));
    assert_eq!(t.closed, Some(RunStatus::Success));
    // Nothing failed: nothing to retry, the run stays closed.
    assert_eq!(r.apply(Event::RetryFailed), Transitions::default());
}

#[test]
fn running_everything_again_leaves_the_jobs_ruled_out_skipped() {
    let mut b = RunBuilder::new();
    let none = b.needs(vec![]);
    let on_out = b.needs(vec!["out".into()]);
    b.job(Job::new("a", none, JobState::Waiting));
    let mut out = Job::new("out", none, JobState::Ended(JobStatus::Skipped));
    out.ruled_out = true;
    b.job(out);
    b.job(Job::new("after", on_out, JobState::Waiting));
    let mut r = b.build();
    let t = r.apply(Event::Check);
    assert_eq!(
        t.changes,
        [queue(0), skip(2, "skipped: `out` did not succeed")]
    );
    let t = r.apply(Event::JobEnded("a", JobStatus::Success));
    assert_eq!(t.closed, Some(RunStatus::Success));
    // Nothing failed: a failed-only retry starts nothing (the rule's skip stays, and its
    // dependent is skipped again at once), and the run closes again as it was.
    let t = r.apply(Event::RetryFailed);
    assert_eq!(
        t.changes,
        [Change::Retry(2), skip(2, "skipped: `out` did not succeed")]
    );
    assert_eq!(t.closed, Some(RunStatus::Success));
    // Everything again: `a` and `after` wait again; `out` stays out, so `after` is skipped.
    let t = r.apply(Event::RetryAll);
    assert_eq!(
        t.changes,
        [
            Change::Retry(0),
            Change::Retry(2),
            queue(0),
            skip(2, "skipped: `out` did not succeed")
        ]
    );
    assert_eq!(r.job(1).state, JobState::Ended(JobStatus::Skipped));
    assert_eq!(r.closed(), None);
    let t = r.apply(Event::JobEnded("a", JobStatus::Success));
    assert_eq!(t.closed, Some(RunStatus::Success));
}

#[test]
fn a_stalled_run_skips_what_can_never_start() {
    // Skips alone succeed, but a stall is no rule's: the run fails.
    let mut r = run(&[("a", &["elsewhere"]), ("b", &[]), ("c", &["a"])]);
    assert_eq!(r.apply(Event::Check).changes, [queue(1)]);
    r.apply(Event::JobStarted("b"));
    r.apply(Event::JobEnded("b", JobStatus::Success));
    let t = r.apply(Event::Stalled);
    assert_eq!(
        t.changes,
        [skip(0, NEEDS_NEVER_FINISHED), skip(2, NEEDS_NEVER_FINISHED)]
    );
    assert_eq!(t.closed, Some(RunStatus::Failed));
}

#[test]
fn late_and_unknown_reports_change_nothing() {
    let mut r = run(&[("a", &[])]);
    r.apply(Event::Check);
    assert_eq!(r.apply(Event::JobStarted("zz")), Transitions::default());
    let t = r.apply(Event::JobEnded("a", JobStatus::Success));
    assert_eq!(t.closed, Some(RunStatus::Success));
    assert_eq!(
        r.apply(Event::JobEnded("a", JobStatus::Failed)),
        Transitions::default()
    );
    assert_eq!(r.job(0).state, JobState::Ended(JobStatus::Success));
}

#[test]
fn the_status_rule() {
    use JobStatus::*;
    assert_eq!(run_status(false, []), RunStatus::Success);
    assert_eq!(
        run_status(false, [Success, FailedAllowed]),
        RunStatus::Success
    );
    for bad in [Failed, TimedOut] {
        assert_eq!(run_status(false, [Success, bad]), RunStatus::Failed);
        assert_eq!(run_status(false, [bad, Cancelled]), RunStatus::Cancelled);
        // A failure's dependents skipped: still the failure's.
        assert_eq!(run_status(false, [bad, Skipped]), RunStatus::Failed);
    }
    // Skips alone (a `when:` rule that did not match) fail nothing, all of them neither.
    assert_eq!(run_status(false, [Success, Skipped]), RunStatus::Success);
    assert_eq!(run_status(false, [Skipped, Skipped]), RunStatus::Success);
    assert_eq!(
        run_status(false, [Skipped, Cancelled]),
        RunStatus::Cancelled
    );
    assert_eq!(run_status(true, [Success]), RunStatus::Cancelled);
}

/// The largest run a server takes, and more: 64 shards of each of 1,000 jobs needing the 60
/// jobs before them, decided as one list.
#[test]
fn shards_sharing_their_needs_are_decided_together() {
    let mut b = RunBuilder::new();
    let none = b.needs(vec![]);
    let firsts: Vec<String> = (0..60).map(|k| format!("build {k}")).collect();
    let shared = b.needs(firsts.clone());
    for name in &firsts {
        b.job(Job::new(name, none, JobState::Ended(JobStatus::Success)));
    }
    for j in 0..1_000 {
        for k in 1..=64 {
            let mut shard = Job::new(format!("test {j} [{k}/64]"), shared, JobState::Waiting);
            shard.shard_of = Some(format!("test {j}"));
            b.job(shard);
        }
    }
    let mut r = b.build();
    let t = r.apply(Event::Check);
    assert_eq!(t.changes.len(), 64_000);
    assert!(t.changes.iter().all(|c| matches!(c, Change::Queue(_))));

    let mut b = RunBuilder::new();
    let shared = b.needs(firsts.clone());
    b.job(Job::new(
        "build 0",
        none,
        JobState::Ended(JobStatus::Failed),
    ));
    for j in 0..64_000 {
        b.job(Job::new(format!("test {j}"), shared, JobState::Waiting));
    }
    let t = b.build().apply(Event::Check);
    assert_eq!(t.changes.len(), 64_000);
    assert_eq!(t.closed, Some(RunStatus::Failed));
}

#[test]
fn the_worst_shard_speaks_for_its_job() {
    use JobStatus::*;
    let order = [Success, FailedAllowed, Skipped, Failed, TimedOut, Cancelled];
    for (k, worst) in order.iter().enumerate() {
        let shards = order[..=k].iter().rev().enumerate().map(|(i, s)| (i, *s));
        assert_eq!(speaking_shard(shards), Some((0, *worst)));
    }
    assert_eq!(
        speaking_shard([("a", Success), ("b", Success)]).map(|s| s.1),
        Some(Success)
    );
    assert_eq!(speaking_shard(Vec::<((), JobStatus)>::new()), None);
}

/// A job skipped by its `when:` rule comes in ended: its dependents skip with the reason
/// that names it, the others run, and the run succeeds; so does one where all skipped.
#[test]
fn a_rule_skipped_job_skips_its_dependents_and_fails_nothing() {
    let mut b = RunBuilder::new();
    let none = b.needs(vec![]);
    let on_deploy = b.needs(vec!["deploy".into()]);
    b.job(Job::new(
        "deploy",
        none,
        JobState::Ended(JobStatus::Skipped),
    ));
    b.job(Job::new("notify", on_deploy, JobState::Waiting));
    b.job(Job::new("test", none, JobState::Waiting));
    let mut r = b.build();
    let t = r.apply(Event::Check);
    assert_eq!(
        t.changes,
        [skip(1, "skipped: `deploy` did not succeed"), queue(2)]
    );
    r.apply(Event::JobStarted("test"));
    let t = r.apply(Event::JobEnded("test", JobStatus::Success));
    assert_eq!(t.closed, Some(RunStatus::Success));

    let mut b = RunBuilder::new();
    let none = b.needs(vec![]);
    b.job(Job::new(
        "deploy",
        none,
        JobState::Ended(JobStatus::Skipped),
    ));
    let mut r = b.build();
    assert_eq!(r.apply(Event::Check).closed, Some(RunStatus::Success));
}
