//! Property tests of the run model: for any DAG of jobs (some sharded, some manual, needs
//! naming a sharded job or each of its shards) and any sequence of what can happen (a queued
//! job starts, a running one ends with any status, a manual one is approved, a job or the
//! whole run is cancelled, failed jobs are run again, in any order): every job ends exactly
//! once, none is queued before all its needs ended letting dependents run, a job whose need
//! failed is skipped naming it, and the run closes exactly once when all have ended, with the
//! one rule's status.
//!
//! `RAILYARD_FUZZ_CASES` sets the cases per property (default 128; see docs/security.md).

use proptest::prelude::*;
use railyard_run_model::{
    Change, Event, Job, JobState, JobStatus, Run, RunBuilder, RunStatus, run_status,
};

/// A job of the generated pipeline.
#[derive(Debug, Clone)]
struct Spec {
    /// The jobs it needs.
    needs: Vec<usize>,
    /// Its shards (1: not sharded).
    shards: u32,
    manual: bool,
}

/// Jobs whose needs form a DAG, in a random file order (a job may need one written after
/// it), and whether needs of sharded jobs name each shard.
fn pipeline() -> impl Strategy<Value = (Vec<Spec>, bool)> {
    let job = (
        proptest::collection::vec(any::<prop::sample::Index>(), 0..4),
        prop_oneof![4 => Just(1u32), 1 => 2..4u32],
        prop::bool::weighted(0.15),
        any::<prop::sample::Index>(),
    );
    (proptest::collection::vec(job, 1..12), any::<bool>()).prop_map(|(jobs, expand)| {
        // Job k of the DAG (needs on jobs before it) is written at place `at[k]`.
        let mut at: Vec<usize> = (0..jobs.len()).collect();
        for (k, job) in jobs.iter().enumerate() {
            at.swap(k, job.3.index(k + 1));
        }
        let mut specs = vec![None; jobs.len()];
        for (k, (needs, shards, manual, _)) in jobs.into_iter().enumerate() {
            let mut needs: Vec<usize> = if k == 0 {
                vec![]
            } else {
                needs.iter().map(|n| at[n.index(k)]).collect()
            };
            needs.sort();
            needs.dedup();
            specs[at[k]] = Some(Spec {
                needs,
                shards,
                manual,
            });
        }
        (specs.into_iter().map(Option::unwrap).collect(), expand)
    })
}

/// What can happen next, picked by index among those possible.
#[derive(Debug, Clone)]
enum Pick {
    Start,
    End(JobStatus),
    Approve,
    CancelJob,
    CancelRun,
    Retry,
}

fn picks() -> impl Strategy<Value = Vec<(Pick, prop::sample::Index)>> {
    let status = prop_oneof![
        6 => Just(JobStatus::Success),
        2 => Just(JobStatus::Failed),
        1 => Just(JobStatus::FailedAllowed),
        1 => Just(JobStatus::TimedOut),
        1 => Just(JobStatus::Cancelled),
    ];
    let pick = prop_oneof![
        10 => Just(Pick::Start),
        10 => status.prop_map(Pick::End),
        3 => Just(Pick::Approve),
        1 => Just(Pick::CancelJob),
        1 => Just(Pick::CancelRun),
        1 => Just(Pick::Retry),
    ];
    proptest::collection::vec((pick, any::<prop::sample::Index>()), 0..200)
}

/// The rows of the run: a sharded job is its shards; `expand` writes a need of a sharded job
/// as a need of each shard (as the store does) instead of the job's name.
fn rows(specs: &[Spec], expand: bool) -> (Run, Vec<Vec<usize>>, Vec<Vec<String>>) {
    let mut names: Vec<Vec<String>> = Vec::new();
    for (i, s) in specs.iter().enumerate() {
        names.push(if s.shards > 1 {
            (1..=s.shards)
                .map(|k| format!("j{i} [{k}/{}]", s.shards))
                .collect()
        } else {
            vec![format!("j{i}")]
        });
    }
    let mut b = RunBuilder::new();
    // Per row: the rows it needs (what the oracle checks), and the names its reasons give.
    let mut need_rows: Vec<Vec<usize>> = Vec::new();
    let mut first_row = Vec::new();
    let mut row = 0;
    for s in specs {
        first_row.push(row);
        row += s.shards as usize;
    }
    let mut reason_names = Vec::new();
    for (i, s) in specs.iter().enumerate() {
        let list: Vec<String> = s
            .needs
            .iter()
            .flat_map(|&n| {
                if expand || specs[n].shards == 1 {
                    names[n].clone()
                } else {
                    vec![format!("j{n}")]
                }
            })
            .collect();
        let rows_needed: Vec<usize> = s
            .needs
            .iter()
            .flat_map(|&n| first_row[n]..first_row[n] + specs[n].shards as usize)
            .collect();
        let needs = b.needs(list.clone());
        for name in &names[i] {
            let mut job = Job::new(name, needs, JobState::Waiting);
            job.manual = s.manual;
            job.shard_of = (s.shards > 1).then(|| format!("j{i}"));
            b.job(job);
            need_rows.push(rows_needed.clone());
            reason_names.push(list.clone());
        }
    }
    (b.build(), need_rows, reason_names)
}

/// What the test itself knows of each row, from the events it sent and the changes it got.
struct Oracle {
    ended: Vec<Option<JobStatus>>,
    awaiting: Vec<bool>,
    needs: Vec<Vec<usize>>,
    reason_names: Vec<Vec<String>>,
    run_cancelled: bool,
    closes: usize,
}

impl Oracle {
    fn end(&mut self, i: usize, status: JobStatus) {
        assert!(self.ended[i].is_none(), "row {i} ended twice");
        self.ended[i] = Some(status);
    }

    fn needs_let_run(&self, i: usize) -> bool {
        self.needs[i]
            .iter()
            .all(|&n| self.ended[n].is_some_and(|s| s.lets_dependents_run()))
    }

    /// Checks what the model decided, and takes it in.
    fn take(&mut self, run: &Run, changes: &[Change], closed: Option<RunStatus>) {
        for change in changes {
            match change {
                Change::Queue(i) | Change::AwaitApproval(i) => {
                    assert!(self.ended[*i].is_none());
                    assert!(self.needs_let_run(*i), "row {i} queued before its needs");
                    // A manual job waits for a person first, and is queued once approved.
                    let manual = run.job(*i).manual;
                    let approval = matches!(change, Change::AwaitApproval(_));
                    assert_eq!(approval || self.awaiting[*i], manual);
                    self.awaiting[*i] = approval;
                }
                Change::Skip(i, why) => {
                    // The needs that ended without letting dependents run, by the names its
                    // list gives them (a sharded job's name once, for any of its shards).
                    let mut failed: Vec<String> = Vec::new();
                    for name in &self.reason_names[*i] {
                        let bad = self.needs[*i].iter().any(|&n| {
                            let job = run.job(n);
                            (job.name == *name || job.shard_of.as_deref() == Some(name))
                                && self.ended[n].is_some_and(|s| !s.lets_dependents_run())
                        });
                        if bad && !failed.contains(&format!("`{name}`")) {
                            failed.push(format!("`{name}`"));
                        }
                    }
                    assert!(!failed.is_empty(), "row {i} skipped with no failed need");
                    assert_eq!(
                        *why,
                        format!("skipped: {} did not succeed", failed.join(", "))
                    );
                    self.end(*i, JobStatus::Skipped);
                }
                Change::Cancel(i) => {
                    self.awaiting[*i] = false;
                    self.end(*i, JobStatus::Cancelled)
                }
                Change::Stop(i) => assert_eq!(run.job(*i).state, JobState::Running),
                Change::Retry(i) => {
                    assert!(self.ended[*i].is_some_and(|s| !s.lets_dependents_run()));
                    self.ended[*i] = None;
                    self.run_cancelled = false;
                }
            }
        }
        // A job still waiting whose need failed would have been skipped.
        for (i, job) in run.jobs().iter().enumerate() {
            if job.state == JobState::Waiting {
                assert!(
                    !self.needs[i]
                        .iter()
                        .any(|&n| self.ended[n].is_some_and(|s| !s.lets_dependents_run())),
                    "row {i} waits on a failed need"
                );
                assert!(!self.needs_let_run(i), "row {i} waits, its needs done");
            }
            assert_eq!(job.state.ended(), self.ended[i], "row {i}");
        }
        let all_ended = self.ended.iter().all(Option::is_some);
        match closed {
            Some(status) => {
                assert!(all_ended);
                self.closes += 1;
                assert_eq!(self.closes, 1, "closed twice");
                let rule = run_status(self.run_cancelled, self.ended.iter().flatten().copied());
                assert_eq!(status, rule);
            }
            None => assert!(!all_ended || self.closes == 1, "all ended, not closed"),
        }
    }
}

proptest! {
    #![proptest_config(railyard_test_support::fuzz_config())]

    #[test]
    fn any_run_any_order((specs, expand) in pipeline(), picks in picks()) {
        let (mut run, needs, reason_names) = rows(&specs, expand);
        let n = run.jobs().len();
        let mut oracle = Oracle {
            ended: vec![None; n],
            awaiting: vec![false; n],
            needs,
            reason_names,
            run_cancelled: false,
            closes: 0,
        };
        let t = run.apply(Event::Check);
        oracle.take(&run, &t.changes, t.closed);
        let mut picks = picks.into_iter();
        loop {
            let in_state = |s: fn(&JobState) -> bool| -> Vec<String> {
                run.jobs().iter().filter(|j| s(&j.state)).map(|j| j.name.clone()).collect()
            };
            let queued = in_state(|s| *s == JobState::Queued);
            let running = in_state(|s| *s == JobState::Running);
            let for_person = in_state(|s| *s == JobState::AwaitingApproval);
            let open = in_state(|s| s.ended().is_none());
            // When the picks run out, the run is driven to its end: start, end, approve.
            let (pick, index) = match picks.next() {
                Some((pick, index)) => (pick, Some(index)),
                None if open.is_empty() => break,
                None => {
                    let pick = if !running.is_empty() {
                        Pick::End(JobStatus::Success)
                    } else if !queued.is_empty() {
                        Pick::Start
                    } else {
                        prop_assert!(!for_person.is_empty(), "stuck: {:?}", run.jobs());
                        Pick::Approve
                    };
                    (pick, None)
                }
            };
            let one = |names: &[String]| names[index.map_or(0, |i| i.index(names.len()))].clone();
            let event = match pick {
                Pick::Start if !queued.is_empty() => {
                    let t = run.apply(Event::JobStarted(&one(&queued)));
                    prop_assert_eq!(t.changes.len(), 0);
                    oracle.take(&run, &t.changes, t.closed);
                    continue;
                }
                Pick::End(status) if !running.is_empty() => {
                    let name = one(&running);
                    oracle.end(run.position(&name).unwrap(), status);
                    Owned::Ended(name, status)
                }
                Pick::Approve if !for_person.is_empty() => Owned::Approved(one(&for_person)),
                Pick::CancelJob if !open.is_empty() => Owned::JobCancelled(one(&open)),
                Pick::CancelRun => {
                    oracle.run_cancelled |= !open.is_empty();
                    Owned::RunCancelled
                }
                Pick::Retry if oracle.closes == 1 => Owned::Retry,
                _ => continue,
            };
            let was_closed = oracle.closes == 1;
            let t = run.apply(event.as_event());
            let retried = t.changes.iter().any(|c| matches!(c, Change::Retry(_)));
            if retried {
                oracle.closes = 0;
            } else if was_closed {
                prop_assert_eq!(&t.changes, &vec![]);
            }
            oracle.take(&run, &t.changes, t.closed);
        }
        prop_assert!(oracle.ended.iter().all(Option::is_some));
        prop_assert_eq!(oracle.closes, 1);
        prop_assert!(run.closed().is_some());
    }
}

/// An event that owns its job's name, so that the run may be borrowed to apply it.
#[derive(Debug)]
enum Owned {
    Ended(String, JobStatus),
    Approved(String),
    JobCancelled(String),
    RunCancelled,
    Retry,
}

impl Owned {
    fn as_event(&self) -> Event<'_> {
        match self {
            Owned::Ended(name, status) => Event::JobEnded(name, *status),
            Owned::Approved(name) => Event::Approved(name),
            Owned::JobCancelled(name) => Event::JobCancelled(name),
            Owned::RunCancelled => Event::RunCancelled,
            Owned::Retry => Event::RetryFailed,
        }
    }
}
