//! The runner against the real Docker engine. Every test runs in its own repository folder
//! with its own run id, and checks that nothing labelled with that run id is left behind.

mod artifacts;
mod caches;
mod cancel;
mod common;
mod env;
mod handover;
mod image_build;
mod isolation;
mod jobs;
mod networks;
mod secrets;
mod services;
mod shards;
