//! Splitting a test job across shards by measured timings.
//!
//! The flow: a job's `list` command prints test ids; [`junit`] reads the JUnit reports of
//! earlier runs as real tools write them; an [`IdFormat`] maps report cases to listed ids
//! (a template with a default per tool); [`Timings`] hold the seconds per id (the store keeps
//! their moving average per project) and estimate unseen tests at the median. Then either a
//! static [`Plan`] from [`partition`] (longest first onto the least-loaded shard,
//! deterministic), or a [`LocalQueue`] behind the [`TestQueue`] interface that shards pull
//! shrinking batches from. [`merge_attempts`] and [`write_junit`] turn the reports of many
//! batches and retries into one, with flaky tests marked.
//!
//! No Docker and no IO here beyond the bytes of report files the caller reads.
#![warn(missing_docs)]

mod duration;
mod errors;
mod ids;
pub mod junit;
mod merge;
mod partition;
mod queue;
mod queue_state;
mod reports;
mod timings;

pub use duration::duration;
pub use errors::{IdFormatError, JunitError, OpenError};
pub use ids::{IdFormat, Matched, Normalize, Tool, failed_ids};
pub use junit::{Outcome, Report, TestCase};
pub use merge::{attribute, merge_attempts, write_junit};
pub use partition::{Plan, ShardPlan, count_partition, partition};
pub use queue::{
    Batch, Batcher, Done, LocalQueue, Next, QueueState, RemoteTests, Speeds, TestQueue,
};
pub use reports::{Collected, collect, expand_tests, shell_quote, tests_file};
pub use timings::{DEFAULT_SECS, Timings};
