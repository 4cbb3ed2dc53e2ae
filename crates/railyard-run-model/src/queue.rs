//! The states of a server's queue entry (one row per job or shard of a run), and how they map
//! onto the model's [`JobState`].

use crate::JobState;
use railyard_types::JobStatus;
use std::fmt;

/// The name of [`QueueState::Waiting`] in the store.
pub const WAITING: &str = "waiting";
/// The name of [`QueueState::AwaitingApproval`] in the store.
pub const APPROVAL: &str = "approval";
/// The name of [`QueueState::Queued`] in the store.
pub const QUEUED: &str = "queued";
/// The name of [`QueueState::Leased`] in the store.
pub const LEASED: &str = "leased";
/// The name of [`QueueState::Done`] in the store.
pub const DONE: &str = "done";

/// Where a queue entry stands. Its names are the constants above, which the store's SQL
/// writes (its migrations' triggers spell them too, checked by tests that run them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueueState {
    /// Its needs have not all ended.
    Waiting,
    /// A `manual` job whose needs let it run: it waits for a person's approval, and no
    /// claim hands it out (claims take queued rows only).
    AwaitingApproval,
    /// Free for an agent to claim.
    Queued,
    /// Claimed by an agent, whose lease runs.
    Leased,
    /// Ended; the entry's result is the job's status.
    Done,
}

impl QueueState {
    /// Every state.
    pub const ALL: [QueueState; 5] = [
        Self::Waiting,
        Self::AwaitingApproval,
        Self::Queued,
        Self::Leased,
        Self::Done,
    ];

    /// The name stored.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Waiting => WAITING,
            Self::AwaitingApproval => APPROVAL,
            Self::Queued => QUEUED,
            Self::Leased => LEASED,
            Self::Done => DONE,
        }
    }

    /// Reads [`QueueState::as_str`]'s output.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|q| q.as_str() == s)
    }

    /// The model's state of a job whose entry is in this state, with `result` for a done
    /// one. A done entry without a readable result counts as failed: it lets nothing run.
    pub fn job_state(self, result: Option<JobStatus>) -> JobState {
        match self {
            Self::Waiting => JobState::Waiting,
            Self::AwaitingApproval => JobState::AwaitingApproval,
            Self::Queued => JobState::Queued,
            Self::Leased => JobState::Running,
            Self::Done => JobState::Ended(result.unwrap_or(JobStatus::Failed)),
        }
    }

    /// The entry's state for the model's `state`.
    pub fn of(state: JobState) -> Self {
        match state {
            JobState::Waiting => Self::Waiting,
            JobState::AwaitingApproval => Self::AwaitingApproval,
            JobState::Queued => Self::Queued,
            JobState::Running => Self::Leased,
            JobState::Ended(_) => Self::Done,
        }
    }
}

impl fmt::Display for QueueState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back_and_are_the_stores() {
        let names: Vec<_> = QueueState::ALL.iter().map(|q| q.as_str()).collect();
        assert_eq!(names, ["waiting", "approval", "queued", "leased", "done"]);
        for q in QueueState::ALL {
            assert_eq!(QueueState::parse(q.as_str()), Some(q));
            assert_eq!(QueueState::of(q.job_state(Some(JobStatus::Success))), q);
        }
        assert_eq!(QueueState::parse("Done"), None);
        assert_eq!(
            QueueState::Done.job_state(None),
            JobState::Ended(JobStatus::Failed)
        );
    }
}
