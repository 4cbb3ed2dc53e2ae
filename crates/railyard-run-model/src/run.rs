//! A run's jobs, the events that move them, and the one rule of a run's status.
//!
//! Jobs are kept in the caller's order (a pipeline's file order; the store's row order), and
//! decisions are made with every job after the jobs it needs, else in that order: the local
//! runner reports skips as it did when it decided them itself, and the store, which reads its
//! rows in no set order, gets the same decisions. Each distinct `needs` list is resolved once at [`RunBuilder::build`]
//! and its verdict computed once per pass, so a thousand shards needing sixty jobs each cost
//! one list, not a thousand.

use railyard_types::{JobStatus, RunStatus};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

/// Why a job is skipped when the caller can start nothing more and its needs never ended
/// (see [`Event::Stalled`]).
pub const NEEDS_NEVER_FINISHED: &str = "skipped: its needs never finished";

/// The one rule of a run's status once every job has ended: cancelled when the run or any of
/// its jobs was cancelled, success when every job lets its dependents run or was skipped,
/// else failed. A skip fails nothing by itself: a job whose `when:` rule does not match is
/// skipped on purpose (a run of only such jobs succeeds), and a job skipped because a need
/// failed adds nothing to that need's own failure.
pub fn run_status(cancelled: bool, jobs: impl IntoIterator<Item = JobStatus>) -> RunStatus {
    let mut all_ok = true;
    for status in jobs {
        if status == JobStatus::Cancelled {
            return RunStatus::Cancelled;
        }
        all_ok &= status.lets_dependents_run() || status == JobStatus::Skipped;
    }
    if cancelled {
        RunStatus::Cancelled
    } else if all_ok {
        RunStatus::Success
    } else {
        RunStatus::Failed
    }
}

/// The shard whose end speaks for a job run as shards in one place (the local runner's
/// `parallel`): the worst, cancelled first, then timed out, failed, skipped, failed but
/// allowed; success only when every shard succeeded. `None` for no shards.
pub fn speaking_shard<T>(
    shards: impl IntoIterator<Item = (T, JobStatus)>,
) -> Option<(T, JobStatus)> {
    let severity = |status: JobStatus| match status {
        JobStatus::Success | JobStatus::Pending | JobStatus::Running => 0,
        JobStatus::FailedAllowed => 1,
        JobStatus::Skipped => 2,
        JobStatus::Failed => 3,
        JobStatus::TimedOut => 4,
        JobStatus::Cancelled => 5,
    };
    shards.into_iter().max_by_key(|(_, s)| severity(*s))
}

/// Where a job (or a shard) of a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobState {
    /// Some of its needs have not ended.
    Waiting,
    /// Its needs let it run, but it is `manual`: it waits for a person's approval.
    AwaitingApproval,
    /// Free to start, waiting for a slot (the local runner's) or a claim (an agent's).
    Queued,
    /// Started.
    Running,
    /// Ended, for good unless failed jobs are run again.
    Ended(JobStatus),
}

impl JobState {
    /// The status when ended.
    pub fn ended(self) -> Option<JobStatus> {
        match self {
            JobState::Ended(s) => Some(s),
            _ => None,
        }
    }
}

/// A `needs` list given to [`RunBuilder::needs`], shared by every job that has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Needs(usize);

/// One job (or shard) of a run, as the caller has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// Its name, unique in the run (a shard's is `test [2/4]`).
    pub name: String,
    /// What it waits for. A need names a job of the run or, when none has the name, the
    /// shards whose [`Job::shard_of`] it is (all of them must end).
    pub needs: Needs,
    /// For a shard, the job it is a shard of.
    pub shard_of: Option<String>,
    /// Whether it waits for a person's approval once its needs let it run.
    pub manual: bool,
    /// Left out of the run by its `when:` rule: it stays skipped when the run is run again.
    pub ruled_out: bool,
    /// Where it stands.
    pub state: JobState,
}

impl Job {
    /// A job that is not a shard and runs without approval.
    pub fn new(name: impl Into<String>, needs: Needs, state: JobState) -> Self {
        Job {
            name: name.into(),
            needs,
            shard_of: None,
            manual: false,
            ruled_out: false,
            state,
        }
    }
}

/// Something that happened to a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// Nothing new: decide from the states as given. The store uses this after it recorded a
    /// job's end itself (or on a start after a crash); the runner when it begins.
    Check,
    /// A queued job started.
    JobStarted(&'a str),
    /// A job ended (it may not have started: an env image that failed ends its jobs).
    JobEnded(&'a str, JobStatus),
    /// A person cancelled one job: ended now if not started, else asked to stop.
    JobCancelled(&'a str),
    /// The run was cancelled: jobs not started end cancelled, running ones are asked to stop,
    /// and the run ends cancelled whatever they report.
    RunCancelled,
    /// A person approved a manual job waiting for it.
    Approved(&'a str),
    /// Run the failed jobs again: every job ended without letting its dependents run goes
    /// back to waiting (its needs are judged again), and a closed run opens again.
    RetryFailed,
    /// Run every job again: every ended job goes back to waiting, and a closed run opens
    /// again. Jobs left out by their rule ([`Job::ruled_out`]) stay as they are, here as in
    /// [`Event::RetryFailed`].
    RetryAll,
    /// The caller can start nothing more (the local runner, nothing running): every job not
    /// started is skipped with [`NEEDS_NEVER_FINISHED`].
    Stalled,
}

/// A decision about one job; `usize` is its position in the run ([`Run::job`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Its needs let it run: start it (now [`JobState::Queued`]).
    Queue(usize),
    /// Its needs let it run and it is manual: it waits for a person's approval.
    AwaitApproval(usize),
    /// It will not run (now ended [`JobStatus::Skipped`]), for this reason.
    Skip(usize, String),
    /// Not started, it ends [`JobStatus::Cancelled`].
    Cancel(usize),
    /// Running, it should be stopped; it stays running until its end is reported.
    Stop(usize),
    /// Ended without letting dependents run, it waits again (see [`Event::RetryFailed`]).
    Retry(usize),
}

/// What a caller must carry out after an event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transitions {
    /// The decisions, in the order made.
    pub changes: Vec<Change>,
    /// The run's status, when this event ended its last job (once per run, unless a retry
    /// opens it again).
    pub closed: Option<RunStatus>,
}

/// Builds a [`Run`]: the `needs` lists first ([`RunBuilder::needs`]), then the jobs.
#[derive(Debug, Default)]
pub struct RunBuilder {
    lists: Vec<Vec<String>>,
    list_of: HashMap<Vec<String>, usize>,
    jobs: Vec<Job>,
    cancelled: bool,
    closed: Option<RunStatus>,
}

impl RunBuilder {
    /// A run with no jobs yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The handle of a `needs` list; the same list gets the same handle.
    pub fn needs(&mut self, list: Vec<String>) -> Needs {
        if let Some(&k) = self.list_of.get(&list) {
            return Needs(k);
        }
        self.lists.push(list.clone());
        self.list_of.insert(list, self.lists.len() - 1);
        Needs(self.lists.len() - 1)
    }

    /// Adds a job, after the ones before it.
    pub fn job(&mut self, job: Job) -> &mut Self {
        self.jobs.push(job);
        self
    }

    /// Marks the run as cancelled already (its end will be cancelled).
    pub fn cancelled(&mut self, cancelled: bool) -> &mut Self {
        self.cancelled = cancelled;
        self
    }

    /// Marks the run as closed already, with this status: it is not closed again.
    pub fn closed(&mut self, status: Option<RunStatus>) -> &mut Self {
        self.closed = status;
        self
    }

    /// The run, its needs resolved to jobs.
    pub fn build(self) -> Run {
        let mut by_name: HashMap<&str, usize> = HashMap::with_capacity(self.jobs.len());
        let mut shards: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, job) in self.jobs.iter().enumerate() {
            by_name.insert(&job.name, i);
            if let Some(of) = &job.shard_of {
                shards.entry(of).or_default().push(i);
            }
        }
        let mut needed = vec![false; self.jobs.len()];
        let lists: Vec<Vec<Need>> = self
            .lists
            .into_iter()
            .map(|list| {
                list.into_iter()
                    .map(|name| {
                        let jobs = match by_name.get(name.as_str()) {
                            Some(&i) => vec![i],
                            None => shards.get(name.as_str()).cloned().unwrap_or_default(),
                        };
                        jobs.iter().for_each(|&i| needed[i] = true);
                        Need { name, jobs }
                    })
                    .collect()
            })
            .collect();
        let index = self
            .jobs
            .iter()
            .enumerate()
            .map(|(i, j)| (j.name.clone(), i))
            .collect();
        let order = needs_first(&self.jobs, &lists);
        Run {
            jobs: self.jobs,
            lists,
            needed,
            index,
            order,
            cancelled: self.cancelled,
            closed: self.closed,
            stalled: false,
        }
    }
}

/// One need of a list, resolved: the jobs it names (none when it names no job of the run:
/// a job needing it never runs).
#[derive(Debug)]
struct Need {
    name: String,
    jobs: Vec<usize>,
}

/// What a `needs` list says of the jobs as they stand.
#[derive(Debug, Clone)]
enum Verdict {
    /// All ended letting dependents run.
    Ready,
    /// Some have not ended.
    Wait,
    /// Some ended without letting dependents run: skip, for this reason.
    Skip(String),
}

/// A run's jobs and what the model knows of the run.
#[derive(Debug)]
pub struct Run {
    jobs: Vec<Job>,
    lists: Vec<Vec<Need>>,
    /// Whether job `i` is named by some list: only its end can change a verdict.
    needed: Vec<bool>,
    index: HashMap<String, usize>,
    /// The positions of the jobs, every job after the jobs it needs (see [`needs_first`]).
    order: Vec<usize>,
    cancelled: bool,
    closed: Option<RunStatus>,
    /// Whether [`Event::Stalled`] skipped jobs: a bug or a lost job, not a rule, so the
    /// run fails even though skips alone do not fail one.
    stalled: bool,
}

/// The jobs' positions with every job after those its list names, else in the order given
/// (the file's order when it already is so). Settling in this order makes a decision
/// independent of the order the caller listed the jobs in: the store reads its rows in no
/// particular order, and a job skipped after its needs were settled names every need that
/// failed, where the other order named only those decided before it. Jobs in a cycle (never
/// in a validated pipeline) come last, in the order given.
fn needs_first(jobs: &[Job], lists: &[Vec<Need>]) -> Vec<usize> {
    // Per list, how many of its jobs are not placed yet; per job, the lists that name it.
    let mut left: Vec<usize> = lists
        .iter()
        .map(|l| l.iter().map(|n| n.jobs.len()).sum())
        .collect();
    let mut naming: Vec<Vec<usize>> = vec![Vec::new(); jobs.len()];
    for (k, list) in lists.iter().enumerate() {
        for need in list {
            need.jobs.iter().for_each(|&j| naming[j].push(k));
        }
    }
    let mut having: Vec<Vec<usize>> = vec![Vec::new(); lists.len()];
    for (i, job) in jobs.iter().enumerate() {
        having[job.needs.0].push(i);
    }
    let mut ready: BinaryHeap<Reverse<usize>> = (0..jobs.len())
        .filter(|&i| left[jobs[i].needs.0] == 0)
        .map(Reverse)
        .collect();
    let mut placed = vec![false; jobs.len()];
    let mut order = Vec::with_capacity(jobs.len());
    while let Some(Reverse(i)) = ready.pop() {
        placed[i] = true;
        order.push(i);
        for &k in &naming[i] {
            left[k] -= 1;
            if left[k] == 0 {
                ready.extend(having[k].iter().map(|&j| Reverse(j)));
            }
        }
    }
    order.extend((0..jobs.len()).filter(|&i| !placed[i]));
    order
}

impl Run {
    /// The jobs, in the order given.
    pub fn jobs(&self) -> &[Job] {
        &self.jobs
    }

    /// The job at `i` (as in a [`Change`]).
    pub fn job(&self, i: usize) -> &Job {
        &self.jobs[i]
    }

    /// The position of the job named `name`.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// The run's status once closed.
    pub fn closed(&self) -> Option<RunStatus> {
        self.closed
    }

    /// Takes `event` into account and says what follows from it. An event about a job that
    /// is not in the run, or that does not fit its state (the end of a job already ended, a
    /// late report), changes nothing.
    pub fn apply(&mut self, event: Event<'_>) -> Transitions {
        let mut changes = Vec::new();
        match event {
            Event::Check => {}
            Event::JobStarted(name) => {
                if let Some(i) = self.position(name)
                    && self.jobs[i].state == JobState::Queued
                {
                    self.jobs[i].state = JobState::Running;
                }
            }
            Event::JobEnded(name, status) => {
                if let Some(i) = self.position(name)
                    && self.jobs[i].state.ended().is_none()
                {
                    self.jobs[i].state = JobState::Ended(status);
                }
            }
            Event::JobCancelled(name) => {
                if let Some(i) = self.position(name) {
                    self.cancel(i, &mut changes);
                }
            }
            Event::RunCancelled => {
                self.cancelled = true;
                for i in 0..self.jobs.len() {
                    self.cancel(i, &mut changes);
                }
            }
            Event::Approved(name) => {
                if let Some(i) = self.position(name)
                    && self.jobs[i].state == JobState::AwaitingApproval
                {
                    self.jobs[i].state = JobState::Queued;
                    changes.push(Change::Queue(i));
                }
            }
            Event::RetryFailed | Event::RetryAll => {
                let all = event == Event::RetryAll;
                for (i, job) in self.jobs.iter_mut().enumerate() {
                    let ended = job.state.ended();
                    if !job.ruled_out && ended.is_some_and(|s| all || !s.lets_dependents_run()) {
                        job.state = JobState::Waiting;
                        changes.push(Change::Retry(i));
                    }
                }
                if !changes.is_empty() {
                    self.cancelled = false;
                    self.closed = None;
                }
            }
            Event::Stalled => {
                for (i, job) in self.jobs.iter_mut().enumerate() {
                    if matches!(
                        job.state,
                        JobState::Waiting | JobState::AwaitingApproval | JobState::Queued
                    ) {
                        job.state = JobState::Ended(JobStatus::Skipped);
                        changes.push(Change::Skip(i, NEEDS_NEVER_FINISHED.to_string()));
                        self.stalled = true;
                    }
                }
            }
        }
        self.settle(&mut changes);
        let closed = self.close();
        Transitions { changes, closed }
    }

    /// Job `i` cancelled: ended if not started, asked to stop if running.
    fn cancel(&mut self, i: usize, changes: &mut Vec<Change>) {
        let job = &mut self.jobs[i];
        match job.state {
            JobState::Waiting | JobState::AwaitingApproval | JobState::Queued => {
                job.state = JobState::Ended(JobStatus::Cancelled);
                changes.push(Change::Cancel(i));
            }
            JobState::Running => changes.push(Change::Stop(i)),
            JobState::Ended(_) => {}
        }
    }

    /// Queues or skips the waiting jobs whose needs decide them, in order, pass after pass
    /// until nothing more changes (a skip may decide jobs before it).
    fn settle(&mut self, changes: &mut Vec<Change>) {
        // A verdict holds until a needed job ends: queueing a job changes none.
        let mut verdicts: Vec<Option<Verdict>> = vec![None; self.lists.len()];
        let mut again = true;
        while again {
            again = false;
            for n in 0..self.order.len() {
                let i = self.order[n];
                if self.jobs[i].state != JobState::Waiting {
                    continue;
                }
                let k = self.jobs[i].needs.0;
                if verdicts[k].is_none() {
                    verdicts[k] = Some(self.verdict(k));
                }
                match verdicts[k].as_ref().expect("just set") {
                    Verdict::Wait => {}
                    Verdict::Ready if self.jobs[i].manual => {
                        self.jobs[i].state = JobState::AwaitingApproval;
                        changes.push(Change::AwaitApproval(i));
                    }
                    Verdict::Ready => {
                        self.jobs[i].state = JobState::Queued;
                        changes.push(Change::Queue(i));
                    }
                    Verdict::Skip(why) => {
                        changes.push(Change::Skip(i, why.clone()));
                        self.jobs[i].state = JobState::Ended(JobStatus::Skipped);
                        if self.needed[i] {
                            verdicts.fill(None);
                            again = true;
                        }
                    }
                }
            }
        }
    }

    /// The verdict of list `k` on the jobs as they stand.
    fn verdict(&self, k: usize) -> Verdict {
        let mut failed = Vec::new();
        let mut all_ended = true;
        for need in &self.lists[k] {
            let mut need_failed = false;
            all_ended &= !need.jobs.is_empty();
            for &j in &need.jobs {
                match self.jobs[j].state.ended() {
                    Some(s) => need_failed |= !s.lets_dependents_run(),
                    None => all_ended = false,
                }
            }
            if need_failed {
                failed.push(format!("`{}`", need.name));
            }
        }
        if !failed.is_empty() {
            Verdict::Skip(format!("skipped: {} did not succeed", failed.join(", ")))
        } else if all_ended {
            Verdict::Ready
        } else {
            Verdict::Wait
        }
    }

    /// Closes the run when its last job has ended, once.
    fn close(&mut self) -> Option<RunStatus> {
        if self.closed.is_some() || self.jobs.iter().any(|j| j.state.ended().is_none()) {
            return None;
        }
        let status = match run_status(
            self.cancelled,
            self.jobs.iter().filter_map(|j| j.state.ended()),
        ) {
            RunStatus::Success if self.stalled => RunStatus::Failed,
            status => status,
        };
        self.closed = Some(status);
        Some(status)
    }
}

#[cfg(test)]
mod tests;
