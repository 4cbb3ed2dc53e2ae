//! The rules of a run, written once and with no IO: which job is queued, skipped, cancelled or
//! waits for a person, and when the run ends with what status.
//!
//! A caller builds a [`Run`] from its jobs as they stand, tells it what happened
//! ([`Event`]), and carries out the [`Transitions`] it answers. The local runner (`railyard
//! run`) starts queued jobs in containers and reports skips; the server's store writes them to
//! its queue rows and closes the run; neither decides anything itself. A new kind of job or
//! event (manual jobs, re-runs) is added here, plus its persistence.
//!
//! Job and run statuses are [`railyard_types`]'s; the states of a server's queue entry are
//! [`QueueState`], whose names the store's SQL and its migrations' triggers use.
#![warn(missing_docs)]

mod queue;
mod run;

pub use queue::{APPROVAL, DONE, LEASED, QUEUED, QueueState, WAITING};
pub use railyard_types::{JobStatus, RunStatus};
pub use run::{
    Change, Event, Job, JobState, NEEDS_NEVER_FINISHED, Needs, Run, RunBuilder, Transitions,
    run_status, speaking_shard,
};
