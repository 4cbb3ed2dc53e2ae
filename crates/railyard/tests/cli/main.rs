//! The `railyard` binary run as users run it: in a scratch repository, with its own data
//! folder, against the real Docker engine.

mod advisories;
mod common;
mod deploys;
mod env_registry;
mod envscan;
mod errors;
mod escapes;
mod history;
mod image_build;
mod manual;
mod output;
mod rules;
mod run;
mod sharding;
mod shell;
mod signals;
mod validate;
mod workspace;
