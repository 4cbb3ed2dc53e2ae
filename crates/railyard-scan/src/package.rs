//! The inventory's data types. They cross crate boundaries (the advisory matcher, the store,
//! the CLI's SBOM output), so they are plain serde structs with no IO.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a package comes from: decides how its version compares and which advisory database
/// speaks about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ecosystem {
    /// Debian package (dpkg database).
    Deb,
    /// Alpine package (apk database).
    Apk,
    /// RPM package (rpmdb).
    Rpm,
    /// Python distribution (`dist-info`, `egg-info`).
    #[serde(rename = "pypi")]
    PyPI,
    /// npm package (`node_modules/**/package.json`).
    Npm,
    /// Rust crate compiled into a binary (cargo-auditable).
    Cargo,
    /// Go module compiled into a binary (build info).
    Go,
}

impl Ecosystem {
    /// Every ecosystem, in display order.
    pub const ALL: [Ecosystem; 7] = [
        Ecosystem::Deb,
        Ecosystem::Apk,
        Ecosystem::Rpm,
        Ecosystem::PyPI,
        Ecosystem::Npm,
        Ecosystem::Cargo,
        Ecosystem::Go,
    ];

    /// The short name used in tables, JSON and the store (`deb`, `pypi`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Ecosystem::Deb => "deb",
            Ecosystem::Apk => "apk",
            Ecosystem::Rpm => "rpm",
            Ecosystem::PyPI => "pypi",
            Ecosystem::Npm => "npm",
            Ecosystem::Cargo => "cargo",
            Ecosystem::Go => "go",
        }
    }

    /// Parses [`Ecosystem::as_str`]'s names back.
    pub fn parse(s: &str) -> Option<Ecosystem> {
        Ecosystem::ALL.into_iter().find(|e| e.as_str() == s)
    }

    /// The OSV ecosystem name for language ecosystems (`PyPI`, `npm`, `crates.io`, `Go`).
    /// OS ecosystems need the release too: see [`Distro::osv_ecosystem`].
    pub fn osv_language_name(self) -> Option<&'static str> {
        match self {
            Ecosystem::PyPI => Some("PyPI"),
            Ecosystem::Npm => Some("npm"),
            Ecosystem::Cargo => Some("crates.io"),
            Ecosystem::Go => Some("Go"),
            Ecosystem::Deb | Ecosystem::Apk | Ecosystem::Rpm => None,
        }
    }

    /// True for packages managed by the OS package manager (deb, apk, rpm).
    pub fn is_os(self) -> bool {
        matches!(self, Ecosystem::Deb | Ecosystem::Apk | Ecosystem::Rpm)
    }
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The layer a package is credited to: the one that starts its last unbroken run of presence.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LayerRef {
    /// 0-based position among the image's filesystem layers (base first).
    pub index: usize,
    /// The layer's diff ID (`sha256:…` of its uncompressed tar).
    pub diff_id: String,
    /// The Dockerfile instruction that made the layer, from the image history
    /// (`RUN apt-get install -y curl`), when the history says.
    pub instruction: Option<String>,
}

/// One package found in an image.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Package {
    /// Name as its ecosystem spells it (`libc6`, `requests`, `github.com/foo/bar`).
    pub name: String,
    /// Version as its ecosystem spells it (`2.36-9+deb12u4`, `1:1.2.3-1`, `v1.2.3` for Go).
    pub version: String,
    /// Which ecosystem it belongs to.
    pub ecosystem: Ecosystem,
    /// Package URL (`pkg:deb/debian/libc6@2.36-9?arch=amd64&distro=debian-12`).
    pub purl: String,
    /// Source package for deb and rpm (dpkg `Source:`, rpm `SOURCERPM` name); `None` when the
    /// database does not say, which for dpkg means the source is named like the binary.
    pub source_name: Option<String>,
    /// Source package version when it differs from [`Package::version`] (dpkg
    /// `Source: name (version)`).
    pub source_version: Option<String>,
    /// Licence as the database says (SPDX expression where the database gives one).
    pub license: Option<String>,
    /// Architecture where the database says (`amd64`, `x86_64`, `all`).
    pub arch: Option<String>,
    /// Path in the image of the file that records the package (`var/lib/dpkg/status`,
    /// `usr/lib/python3/dist-packages/foo-1.0.dist-info/METADATA`, `usr/bin/app`), no leading `/`.
    pub location: String,
    /// The layer that put it there.
    pub layer: LayerRef,
    /// True for a language package whose files an OS package owns (a Debian `python3-foo`
    /// installs `foo.dist-info`): advisories must not report it twice.
    pub owned_by_os: bool,
}

impl Package {
    /// The source package name advisories for OS packages are keyed by: `source_name` or the
    /// binary name.
    pub fn source_or_name(&self) -> &str {
        self.source_name.as_deref().unwrap_or(&self.name)
    }

    /// The source version: `source_version` or the binary version.
    pub fn source_or_version(&self) -> &str {
        self.source_version.as_deref().unwrap_or(&self.version)
    }
}

/// The OS release an image is built on, from `etc/os-release` (or `usr/lib/os-release`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Distro {
    /// `ID=` (`debian`, `alpine`, `rocky`).
    pub id: String,
    /// `VERSION_ID=` (`12`, `3.19.1`); empty for rolling releases (Debian sid has none).
    pub version_id: String,
    /// `PRETTY_NAME=` when present.
    pub pretty_name: Option<String>,
}

impl Distro {
    /// The OSV ecosystem for this release's OS packages: `Debian:12`, `Alpine:v3.19`,
    /// `Ubuntu:22.04`, `Rocky Linux:9`, … `None` for a release OSV does not know.
    pub fn osv_ecosystem(&self) -> Option<String> {
        let major = self.version_id.split('.').next().unwrap_or("");
        match self.id.as_str() {
            "debian" => Some(format!("Debian:{major}")),
            "alpine" => {
                let mut parts = self.version_id.split('.');
                let (a, b) = (parts.next()?, parts.next()?);
                Some(format!("Alpine:v{a}.{b}"))
            }
            "ubuntu" => Some(format!("Ubuntu:{}", self.version_id)),
            "rocky" => Some(format!("Rocky Linux:{major}")),
            "almalinux" => Some(format!("AlmaLinux:{major}")),
            _ => None,
        }
    }
}

/// One filesystem layer of an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerInfo {
    /// 0-based position (base first).
    pub index: usize,
    /// `sha256:…` of the uncompressed layer tar.
    pub diff_id: String,
    /// The history entry's `created_by`, cleaned (`RUN apt-get …`), when the history says.
    pub instruction: Option<String>,
    /// Size of the layer tar in bytes (0 when it came from the cache without a size).
    pub size: u64,
}

/// Everything a scan found in one image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageInventory {
    /// The image ID (`sha256:…` of its config).
    pub image_id: String,
    /// The reference the scan was asked for (`debian:bookworm-slim`).
    pub reference: String,
    /// The OS release, when the image has an os-release file.
    pub distro: Option<Distro>,
    /// Filesystem layers, base first.
    pub layers: Vec<LayerInfo>,
    /// Packages, sorted by ecosystem, name, version, location.
    pub packages: Vec<Package>,
    /// Problems that did not stop the scan (a truncated layer, a skipped tar entry).
    #[serde(default)]
    pub warnings: Vec<String>,
    /// How the scan went: layers read or taken from the cache.
    #[serde(default)]
    pub stats: ScanStats,
}

/// How much work a scan did; the layer cache shows up here.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanStats {
    /// Layers read from the image archive and catalogued.
    pub layers_read: usize,
    /// Layers whose results came from the layer cache.
    pub layers_cached: usize,
    /// True when the image was exported from the engine (false: everything was cached).
    pub exported: bool,
}
