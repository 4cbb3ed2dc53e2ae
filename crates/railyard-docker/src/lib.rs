//! The thin layer over the Docker Engine API that the runner stands on.
//!
//! One [`Docker`] value per engine, cheap to clone, speaking API 1.41 (Docker 20.10) through
//! bollard. Builds go through the classic `/build` endpoint with the context packed here
//! ([`context`]: `.dockerignore` with moby's matching rules, deterministic tars). Commands run
//! through `exec` without a TTY so output streams as it comes, stdout and stderr apart.
//! Every container is created under fixed isolation rules (never privileged,
//! `no-new-privileges`, a pids limit, only named volumes), and everything Railyard creates
//! carries labels so [`Docker::list_labelled`] and [`Docker::remove_labelled`] can reap it.
//! Errors are [`DockerError`]s whose messages say what failed and what to do.
#![warn(missing_docs)]

mod archive;
mod build_output;
mod client;
mod containers;
pub mod context;
mod errors;
mod exec;
mod images;
mod labelled;
mod push;
mod registry_auth;
mod resources;

pub use client::{API_VERSION, DEFAULT_ENDPOINT, Docker};
pub use containers::{
    ContainerSpec, ContainerState, DEFAULT_PIDS_LIMIT, DROPPED_CAPABILITIES, Limits,
    NO_NEW_PRIVILEGES, VolumeMount,
};
pub use errors::{DockerError, OUTPUT_TAIL_LINES};
pub use exec::{EXIT_NOT_FOUND, ExecSpec, Output};
pub use images::{BuildRequest, ImageInfo, OUTSIDE_DOCKERFILE_NAME};
pub use labelled::{Labelled, LabelledObject, RemovalReport};
pub use registry_auth::RegistryAuth;
pub use resources::NetworkSubnets;
