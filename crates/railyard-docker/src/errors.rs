//! The one error type of the crate: each variant carries what a user needs to act on it.

use std::path::PathBuf;

/// What can go wrong talking to the Docker engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DockerError {
    /// The engine could not be reached at all (no socket, refused, timed out).
    #[error("cannot reach Docker at {endpoint}: is the daemon running? ({reason})")]
    Unreachable {
        /// `unix:///var/run/docker.sock`, `tcp://host:2375`, ...
        endpoint: String,
        /// What the connection attempt said.
        reason: String,
    },

    /// An image is missing locally and pulling it failed.
    #[error("image `{reference}` is neither present locally nor pullable: {reason}")]
    ImageUnavailable {
        /// The image reference as given.
        reference: String,
        /// What the registry or the engine said.
        reason: String,
    },

    /// A pull from a registry found no such manifest there (the registry answered; the
    /// image was never pushed, or was deleted).
    #[error("`{reference}` is not in its registry: {reason}")]
    NotInRegistry {
        /// The image reference as given.
        reference: String,
        /// What the registry said.
        reason: String,
    },

    /// A Dockerfile build stopped at an instruction (or before the first one).
    #[error("{}", build_failed(step.as_deref(), message, output_tail))]
    BuildFailed {
        /// The classic builder's `Step N/M : INSTRUCTION` line of the failing instruction.
        step: Option<String>,
        /// The builder's error message (for a missing base image: which image and why).
        message: String,
        /// The output lines printed after that step line (at most [`OUTPUT_TAIL_LINES`]).
        output_tail: Vec<String>,
    },

    /// The Dockerfile of a build does not exist or cannot be read.
    #[error("cannot read Dockerfile {path}")]
    Dockerfile {
        /// The Dockerfile path given in the build request.
        path: PathBuf,
        /// Why it could not be read.
        source: std::io::Error,
    },

    /// A path asked for through the archive API does not exist in the container.
    #[error("no such path `{path}` in container {container}")]
    PathNotFound {
        /// The container name or id.
        container: String,
        /// The path inside the container.
        path: String,
    },

    /// A named object does not exist.
    #[error("no such {kind} `{name}`")]
    NotFound {
        /// `container`, `image`, `network`, `volume`, `exec`.
        kind: &'static str,
        /// The name or id looked up.
        name: String,
    },

    /// An object with that name already exists (names are unique per engine).
    #[error("a {kind} named `{name}` already exists: remove it or pick another name ({message})")]
    Conflict {
        /// `container`, `network`, `volume`.
        kind: &'static str,
        /// The name asked for.
        name: String,
        /// What the engine said.
        message: String,
    },

    /// A network's subnet overlaps a network the engine already has.
    #[error("subnet {subnet} overlaps another Docker network ({message})")]
    SubnetTaken {
        /// The subnet asked for, `10.213.4.16/28`.
        subnet: String,
        /// What the engine said.
        message: String,
    },

    /// A command was sent to a container that is not running (it exited, was killed for
    /// memory, or was removed meanwhile).
    #[error(
        "container `{container}` is not running, so nothing can run in it ({message}); check its exit code and logs"
    )]
    NotRunning {
        /// The container name or id.
        container: String,
        /// What the engine said.
        message: String,
    },

    /// A container spec asked for something the isolation rules forbid or Docker cannot take.
    #[error("invalid container spec for `{name}`: {reason}")]
    InvalidSpec {
        /// The container name.
        name: String,
        /// What is wrong and how to fix it.
        reason: String,
    },

    /// Pushing an image to a registry failed.
    #[error(
        "pushing `{reference}` to the registry {registry} failed: {reason}; check that the registry runs and that this machine's Docker engine reaches it at {registry} (an HTTP registry off loopback must be in the engine's `insecure-registries`)"
    )]
    PushFailed {
        /// The reference pushed (`host:port/prefix/project/app:tag`).
        reference: String,
        /// The registry part of it (`host:port`).
        registry: String,
        /// What the registry or the engine said.
        reason: String,
    },

    /// A local file operation failed (reading a build context, a terminal).
    #[error("{doing}")]
    Io {
        /// What we were doing, e.g. "reading the build context /src/ci".
        doing: String,
        /// The underlying error.
        source: std::io::Error,
    },

    /// Any other failure the engine reported.
    #[error("Docker failed while {doing}")]
    Api {
        /// What we were doing, e.g. "creating container `x`".
        doing: String,
        /// What bollard reported.
        source: bollard::errors::Error,
    },
}

/// How many output lines a [`DockerError::BuildFailed`] keeps.
pub const OUTPUT_TAIL_LINES: usize = 50;

/// How many of them its message shows.
const SHOWN_TAIL_LINES: usize = 15;

fn build_failed(step: Option<&str>, message: &str, tail: &[String]) -> String {
    let mut text = match step {
        Some(step) => format!("image build failed at `{step}`: {message}"),
        None => format!("image build failed before its first instruction: {message}"),
    };
    let shown = &tail[tail.len().saturating_sub(SHOWN_TAIL_LINES)..];
    if !shown.is_empty() {
        text.push_str("\noutput of that step:");
        if shown.len() < tail.len() {
            text.push_str(&format!(" (last {} of {} lines)", shown.len(), tail.len()));
        }
        for line in shown {
            text.push_str("\n  ");
            text.push_str(line);
        }
    }
    text
}

impl DockerError {
    /// True when the engine could not be reached (as opposed to refusing a request).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, DockerError::Unreachable { .. })
    }

    /// The HTTP status the engine answered with, if this is a refused request.
    pub fn status_code(&self) -> Option<u16> {
        match self {
            DockerError::Api {
                source: bollard::errors::Error::DockerResponseServerError { status_code, .. },
                ..
            } => Some(*status_code),
            _ => None,
        }
    }
}

/// The engine's status code and message, when a request was answered with an error.
pub(crate) fn server_error(err: &bollard::errors::Error) -> Option<(u16, &str)> {
    match err {
        bollard::errors::Error::DockerResponseServerError {
            status_code,
            message,
        } => Some((*status_code, message.as_str())),
        _ => None,
    }
}

/// The whole `source()` chain of an error on one line, so "connection refused" is not lost
/// behind "client error (Connect)".
pub(crate) use railyard_types::error::chain;

/// True when a request failed before the engine answered: the connection itself broke.
pub(crate) fn is_connection_failure(err: &bollard::errors::Error) -> bool {
    use bollard::errors::Error as E;
    match err {
        E::SocketNotFoundError(_) | E::RequestTimeoutError => true,
        E::HyperLegacyError { err } => err.is_connect(),
        E::IOError { err } => matches!(
            err.kind(),
            std::io::ErrorKind::ConnectionRefused
                | std::io::ErrorKind::NotFound
                | std::io::ErrorKind::PermissionDenied
                | std::io::ErrorKind::ConnectionReset
        ),
        _ => false,
    }
}
