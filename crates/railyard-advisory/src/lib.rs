//! Known vulnerabilities for the image inventory.
//!
//! OSV advisories (files, folders, the per-ecosystem zip archives) are imported into a model
//! ([`Advisory`]) that the store keeps. A package is hit when an advisory names its ecosystem
//! and name and its version falls in one of the advisory's ranges, ordered by its ecosystem's
//! own rules ([`version`]). Distro packages are matched by source package within the image's
//! release (`Debian:12`); language packages an OS package owns are not reported twice. A
//! policy ([`policy`]) turns matches into an exit status: `--fail-on SEVERITY`, minus the
//! entries of an ignore file that has not expired.
#![warn(missing_docs)]

pub mod errors;
pub mod version;

pub use errors::{IgnoreFileError, ImportError, SeverityParseError, VersionError};
pub use version::VersionScheme;
pub mod import;
pub mod matching;
pub mod osv;
pub mod policy;
pub mod severity;

pub use import::{ImportWarning, ReadResult, read_path};
pub use matching::{AdvisoryIndex, Finding, PackageKey};
pub use osv::Advisory;
pub use policy::{IgnoreFile, Outcome, evaluate};
pub use severity::Severity;
