//! The scanner's errors: each names the image, layer or file a user would look at next.

use thiserror::Error;

/// What can stop a scan. A bad file inside a layer does not stop it: it becomes a warning in
/// [`crate::ImageInventory::warnings`].
#[derive(Debug, Error)]
pub enum ScanError {
    /// The engine has no image by that name.
    #[error(
        "image `{reference}` not found in the local Docker engine; build or load it first (`docker images` lists what exists)"
    )]
    ImageNotFound {
        /// The reference asked for.
        reference: String,
    },
    /// The Docker engine refused or failed a call.
    #[error("Docker engine call `{call}` failed for `{reference}`")]
    Docker {
        /// The API call (`inspect`, `export`).
        call: &'static str,
        /// The image reference.
        reference: String,
        /// The engine's error.
        #[source]
        source: bollard::errors::Error,
    },
    /// The image archive (docker save) could not be read.
    #[error("image archive for `{reference}` is unreadable: {reason}")]
    Archive {
        /// The image reference or archive path.
        reference: String,
        /// What was wrong.
        reason: String,
    },
    /// The image archive lacks something a scan needs (manifest, config, a layer).
    #[error(
        "image archive for `{reference}` is incomplete: {missing}; re-export it with `docker save`"
    )]
    Incomplete {
        /// The image reference or archive path.
        reference: String,
        /// What is missing.
        missing: String,
    },
    /// The layer cache failed.
    #[error("layer cache: {0}")]
    Cache(String),
    /// Reading a local file failed.
    #[error("cannot read `{path}`")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}
