//! Runs a pipeline's jobs end to end on one Docker engine: the env image (by cache key), a
//! network per job, its services awaited through their `ready` probe, a workspace volume with
//! the repository's files, one long-lived job container whose steps run through `exec`,
//! artifacts copied out, and a teardown that always runs. The same runner serves
//! `railyard run` on a laptop and the agents of a fleet.
//!
//! The runner never prints: it sends [`Event`]s, and reporters decide what to show or store.
#![warn(missing_docs)]

pub mod allowance;
pub mod batches;
pub mod cache;
mod cache_remote;
pub mod cleanup;
pub mod env_image;
pub mod env_registry;
mod errors;
mod events;
pub mod handover;
pub mod image_build;
pub mod job;
pub mod lines;
pub mod mask;
pub mod names;
pub mod networks;
mod run;
pub mod shards;
pub mod shell;
pub mod tail;
mod unpack;
pub mod workspace;

pub use allowance::Allowance;
pub use env_registry::EnvLease;
pub use errors::{EnvCheckError, RunnerError};
pub use events::{Event, ShardForecast, Stream};
pub use image_build::{BuiltImage, BuiltImageCheck, ImageBuildError, PushedImage, Registry};
pub use networks::NetworkPool;
pub use run::{
    DEFAULT_TIMEOUT, EnvCheck, JobResult, RunOptions, RunOutcome, humanize, run_one_shard,
    run_pipeline,
};
