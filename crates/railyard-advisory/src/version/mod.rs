//! Version ordering, one module per ecosystem family. Each module exposes
//! `compare(a, b) -> Result<Ordering, VersionError>` and follows the reference tool's rules to
//! the letter (dpkg, apk-tools, rpmvercmp, PEP 440, SemVer 2.0, Go modules), because an
//! advisory range is only as right as the ordering used to test it. [`VersionScheme`] picks the
//! module for an OSV ecosystem or an inventory [`railyard_scan::Ecosystem`].

pub mod alpine;
pub mod debian;
pub mod go;
pub mod pep440;
pub mod rpm;
pub mod semver;

use crate::errors::VersionError;
use std::cmp::Ordering;

/// A family of version rules shared by one or more ecosystems.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VersionScheme {
    /// dpkg: Debian, Ubuntu.
    Debian,
    /// apk-tools: Alpine.
    Alpine,
    /// rpmvercmp over epoch:version-release: Red Hat, Rocky, AlmaLinux, openSUSE.
    Rpm,
    /// PEP 440: PyPI.
    Pep440,
    /// SemVer 2.0 precedence: npm, crates.io.
    Semver,
    /// Go module versions: SemVer with a `v` prefix, pseudo-versions, `+incompatible`.
    Go,
}

impl VersionScheme {
    /// The scheme for an OSV ecosystem name (`Debian:12`, `Alpine:v3.19`, `PyPI`, `npm`,
    /// `crates.io`, `Go`, `Rocky Linux:9`). `None` for an ecosystem we cannot order.
    pub fn for_osv_ecosystem(ecosystem: &str) -> Option<Self> {
        let base = ecosystem.split(':').next().unwrap_or(ecosystem);
        Some(match base {
            "Debian" | "Ubuntu" => Self::Debian,
            "Alpine" => Self::Alpine,
            "Red Hat" | "Rocky Linux" | "AlmaLinux" | "openSUSE" | "SUSE" | "Mageia" => Self::Rpm,
            "PyPI" => Self::Pep440,
            "npm" | "crates.io" => Self::Semver,
            "Go" => Self::Go,
            _ => return None,
        })
    }

    /// The scheme for an inventory package's ecosystem.
    pub fn for_ecosystem(ecosystem: railyard_scan::Ecosystem) -> Self {
        use railyard_scan::Ecosystem as E;
        match ecosystem {
            E::Deb => Self::Debian,
            E::Apk => Self::Alpine,
            E::Rpm => Self::Rpm,
            E::PyPI => Self::Pep440,
            E::Npm | E::Cargo => Self::Semver,
            E::Go => Self::Go,
        }
    }

    /// Orders two versions by this scheme's rules.
    pub fn compare(self, a: &str, b: &str) -> Result<Ordering, VersionError> {
        match self {
            Self::Debian => debian::compare(a, b),
            Self::Alpine => alpine::compare(a, b),
            Self::Rpm => rpm::compare(a, b),
            Self::Pep440 => pep440::compare(a, b),
            Self::Semver => semver::compare(a, b),
            Self::Go => go::compare(a, b),
        }
    }

    /// Checks that a version parses under this scheme.
    pub fn validate(self, version: &str) -> Result<(), VersionError> {
        match self {
            Self::Alpine => alpine::validate(version),
            _ => self.compare(version, version).map(|_| ()),
        }
    }

    /// A short name for messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Debian => "dpkg",
            Self::Alpine => "apk",
            Self::Rpm => "rpm",
            Self::Pep440 => "PEP 440",
            Self::Semver => "SemVer",
            Self::Go => "Go",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn osv_ecosystems_map_to_schemes() {
        assert_eq!(
            VersionScheme::for_osv_ecosystem("Debian:12"),
            Some(VersionScheme::Debian)
        );
        assert_eq!(
            VersionScheme::for_osv_ecosystem("Alpine:v3.19"),
            Some(VersionScheme::Alpine)
        );
        assert_eq!(
            VersionScheme::for_osv_ecosystem("crates.io"),
            Some(VersionScheme::Semver)
        );
        assert_eq!(
            VersionScheme::for_osv_ecosystem("Rocky Linux:9"),
            Some(VersionScheme::Rpm)
        );
        assert_eq!(VersionScheme::for_osv_ecosystem("Hackage"), None);
        assert_eq!(
            VersionScheme::for_osv_ecosystem("Go"),
            Some(VersionScheme::Go)
        );
    }
}
