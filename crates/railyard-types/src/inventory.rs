//! An image's inventory (what `railyard-scan` finds: packages per layer, the Dockerfile line
//! that put them there) and the API bodies over it. The inventory crosses every boundary:
//! the advisory matcher, the store, the CLI's SBOM output, and the wire from an agent that
//! scanned an image to the server that keeps it. It lives here, one definition with one JSON
//! shape (the shape the store keeps too), rather than as a second copy converted field by
//! field; `railyard-scan` re-exports it.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a package comes from: decides how its version compares and which advisory database
/// speaks about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScanStats {
    /// Layers read from the image archive and catalogued.
    pub layers_read: usize,
    /// Layers whose results came from the layer cache.
    pub layers_cached: usize,
    /// True when the image was exported from the engine (false: everything was cached).
    pub exported: bool,
}

/// A stored image that holds a package: what `inventory who-has` lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PackageHolder {
    /// The project (`""` outside a project).
    pub project: String,
    /// The image reference scanned.
    pub reference: String,
    /// The image ID.
    pub image_id: String,
    /// When it was scanned.
    pub scanned_at: crate::Millis,
    /// Package name.
    pub name: String,
    /// Package version.
    pub version: String,
    /// Ecosystem (`deb`, `pypi`, …).
    pub ecosystem: String,
    /// Source package, for OS packages.
    pub source_name: Option<String>,
    /// Where in the image.
    pub location: String,
    /// The layer that put it there.
    pub layer_index: i64,
    /// That layer's diff ID.
    pub diff_id: String,
    /// That layer's Dockerfile instruction.
    pub instruction: Option<String>,
    /// A language package an OS package installed.
    pub owned_by_os: bool,
}

/// One stored image hit by an advisory: `advisories affected` lists these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AffectedImage {
    /// The advisory's id.
    pub advisory_id: String,
    /// The project (`""` outside a project).
    pub project: String,
    /// The image reference scanned.
    pub image: String,
    /// The image ID.
    pub image_id: String,
    /// When the image was scanned (ms since the epoch).
    pub scanned_at: crate::Millis,
    /// The package hit.
    pub package: String,
    /// Its ecosystem (`deb`, `pypi`, …).
    pub ecosystem: String,
    /// The version tested.
    pub version: String,
    /// Where it is recorded in the image.
    pub location: String,
    /// The layer that put it there (0 = base).
    pub layer_index: i64,
    /// That layer's diff ID.
    pub layer_diff_id: String,
    /// That layer's Dockerfile instruction.
    pub instruction: Option<String>,
    /// The finding's severity.
    pub severity: String,
    /// The version that fixes it.
    pub fixed: Option<String>,
}

/// One package of an image hit by one advisory, as the server answers it (the advisory
/// crate's `Finding`, whose severity is read back from its name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FoundAdvisory {
    /// The advisory's id.
    pub advisory_id: String,
    /// Its aliases (an ignore entry may name a CVE alias).
    pub aliases: Vec<String>,
    /// Its one-line summary.
    pub summary: String,
    /// `unknown`, `low`, `medium`, `high` or `critical`.
    pub severity: String,
    /// The package's name.
    pub package: String,
    /// The package's ecosystem.
    pub ecosystem: Ecosystem,
    /// The installed version tested.
    pub version: String,
    /// The version that fixes it, if the advisory names one.
    pub fixed: Option<String>,
    /// Where the package is recorded in the image.
    pub location: String,
    /// The layer's position (0 = base).
    pub layer_index: usize,
    /// The layer's diff ID.
    pub layer_diff_id: String,
    /// The Dockerfile instruction that added the layer.
    pub instruction: Option<String>,
}

/// An agent asks, under a job's lease, whether the server holds an inventory of an image
/// (`POST /api/v1/jobs/{id}/image-scan/lookup`): an image ID names its content on every
/// engine, so an image scanned once is never scanned again.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScanLookup {
    /// The agent holding the lease.
    pub agent_id: crate::AgentId,
    /// The attempt it was claimed as.
    pub attempt: i64,
    /// The image ID (`sha256:…` of its config).
    pub image_id: String,
    /// The name the job's project files the image under (`railyard-env:<key>`, the
    /// pipeline's `env.image`, a built image's reference).
    pub reference: String,
}

/// An inventory an agent scanned, sent under a job's lease
/// (`POST /api/v1/jobs/{id}/image-scan`): the server files it under the job's project and
/// run, whatever the body says, and bounds it ([`ImageInventory::check_bounds`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScanUpload {
    /// The agent holding the lease.
    pub agent_id: crate::AgentId,
    /// The attempt it was claimed as.
    pub attempt: i64,
    /// What the scan found; its `reference` is the name it is filed under.
    pub inventory: ImageInventory,
}

/// The server's word on an image of a job: its stored scan and what the server's
/// advisories find in it, for the agent to hold to the pipeline's `fail_on`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScanVerdict {
    /// The stored scan's id.
    pub scan_id: String,
    /// The image ID.
    pub image_id: String,
    /// The packages the inventory holds.
    pub packages: usize,
    /// The known vulnerabilities in it.
    pub findings: Vec<FoundAdvisory>,
}

/// One stored scan, as `GET /api/v1/scans` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScanSummary {
    /// The scan's id.
    pub id: String,
    /// The project it is filed under.
    pub project: String,
    /// The run whose job scanned the image, if any.
    pub run_id: Option<String>,
    /// The image reference.
    pub reference: String,
    /// The image ID.
    pub image_id: String,
    /// `debian:12`, when the image says.
    pub distro: Option<String>,
    /// When it was scanned.
    pub scanned_at: crate::Millis,
    /// Its packages.
    pub packages: i64,
    /// Its known vulnerabilities (as of the last import).
    pub findings: i64,
}

/// One stored scan with its inventory and findings: `GET /api/v1/scans/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScanDetail {
    /// Which scan.
    pub scan: ScanSummary,
    /// What it found, layer by layer.
    pub inventory: ImageInventory,
    /// The known vulnerabilities in it.
    pub findings: Vec<FoundAdvisory>,
}

/// `GET /api/v1/scans?project=&image=`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScansQuery {
    /// Only this project's scans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<crate::ProjectName>,
    /// Only scans of this image: its reference, its ID, or a prefix of its ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

/// `GET /api/v1/inventory/who-has?name=`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WhoHasQuery {
    /// A package's name (binary or source; folded as advisories match it).
    pub name: String,
}

/// `PUT /api/v1/advisories/import?name=`: the file's name, for warnings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdvisoryFileQuery {
    /// The file's name (`all.zip`, `DSA-1.json`).
    pub name: String,
}

/// What the server read from one uploaded OSV file and stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdvisoriesImported {
    /// Documents looked at (the file, or its zip entries).
    pub documents: usize,
    /// Advisories read.
    pub read: usize,
    /// Advisories not stored before.
    pub added: usize,
    /// Stored advisories replaced by a newer copy.
    pub updated: usize,
    /// Advisories whose stored copy is as new or newer.
    pub unchanged: usize,
    /// What was skipped, and why.
    pub warnings: Vec<String>,
}

/// A project that stored advisories hit now and did not before a re-match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewlyAffected {
    /// The project (`""` outside a project).
    pub project: String,
    /// The advisories that hit it now and did not before.
    pub advisories: Vec<String>,
    /// Its images they hit (references).
    pub images: Vec<String>,
}

/// What re-matching every stored scan found: `POST /api/v1/advisories/rematch`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Rematched {
    /// Stored scans matched again.
    pub scans: usize,
    /// Findings over all of them now.
    pub findings: usize,
    /// Findings that were not there before.
    pub new_findings: usize,
    /// Findings that went away (fixed ranges, withdrawn advisories).
    pub gone_findings: usize,
    /// The projects hit by an advisory that did not hit them before, by project.
    pub newly_affected: Vec<NewlyAffected>,
}

/// Bounds of an inventory taken from an agent: the most a real image gives, with room.
pub mod bounds {
    /// Layers (Docker stops at 127 with overlay2).
    pub const LAYERS: usize = 512;
    /// Packages (a large Debian image holds a few thousand; a node_modules tree, tens of
    /// thousands).
    pub const PACKAGES: usize = 200_000;
    /// Warnings kept.
    pub const WARNINGS: usize = 1_000;
    /// Bytes of a name, version, location, purl, licence or reference.
    pub const FIELD: usize = 4_096;
    /// Bytes of a Dockerfile instruction or a warning (a `RUN` may be long).
    pub const LONG_FIELD: usize = 64 * 1024;
}

impl ImageInventory {
    /// Why this inventory (sent by an agent: it read untrusted images) cannot be stored, if
    /// it cannot: an image ID or diff ID that is no `sha256:` digest, a package credited to a
    /// layer the image does not have, too many layers, packages or warnings, or a field over
    /// its bound. The message names the field.
    pub fn check_bounds(&self) -> Result<(), String> {
        use bounds::*;
        let digest = |what: &str, v: &str| -> Result<(), String> {
            let hex = v.strip_prefix("sha256:").unwrap_or("");
            if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                Ok(())
            } else {
                let shown: String = v.chars().take(80).collect();
                Err(format!(
                    "{what} `{shown}` is not a sha256 digest (`sha256:` and 64 hex digits)"
                ))
            }
        };
        let field = |what: &str, v: &str, max: usize| -> Result<(), String> {
            if v.len() > max {
                Err(format!(
                    "{what} is {} bytes, over the bound of {max}",
                    v.len()
                ))
            } else if v.contains('\0') {
                Err(format!("{what} holds a NUL byte"))
            } else {
                Ok(())
            }
        };
        let count = |what: &str, n: usize, max: usize| -> Result<(), String> {
            if n > max {
                Err(format!("{n} {what}, over the bound of {max}"))
            } else {
                Ok(())
            }
        };
        digest("image_id", &self.image_id)?;
        field("reference", &self.reference, FIELD)?;
        count("layers", self.layers.len(), LAYERS)?;
        count("packages", self.packages.len(), PACKAGES)?;
        count("warnings", self.warnings.len(), WARNINGS)?;
        if let Some(d) = &self.distro {
            field("distro.id", &d.id, FIELD)?;
            field("distro.version_id", &d.version_id, FIELD)?;
            field(
                "distro.pretty_name",
                d.pretty_name.as_deref().unwrap_or(""),
                FIELD,
            )?;
        }
        for (i, l) in self.layers.iter().enumerate() {
            if l.index != i {
                return Err(format!("layers[{i}] says index {}", l.index));
            }
            digest(&format!("layers[{i}].diff_id"), &l.diff_id)?;
            let instruction = l.instruction.as_deref().unwrap_or("");
            field(&format!("layers[{i}].instruction"), instruction, LONG_FIELD)?;
        }
        for (i, p) in self.packages.iter().enumerate() {
            let at = |f: &str| format!("packages[{i}].{f}");
            for (name, v) in [
                ("name", p.name.as_str()),
                ("version", &p.version),
                ("purl", &p.purl),
                ("location", &p.location),
                ("source_name", p.source_name.as_deref().unwrap_or("")),
                ("source_version", p.source_version.as_deref().unwrap_or("")),
                ("license", p.license.as_deref().unwrap_or("")),
                ("arch", p.arch.as_deref().unwrap_or("")),
            ] {
                field(&at(name), v, FIELD)?;
            }
            let Some(layer) = self.layers.get(p.layer.index) else {
                return Err(format!(
                    "{} is {}, but the image has {} layers",
                    at("layer.index"),
                    p.layer.index,
                    self.layers.len()
                ));
            };
            if layer.diff_id != p.layer.diff_id {
                return Err(format!(
                    "{} is not the diff ID of layer {}",
                    at("layer.diff_id"),
                    p.layer.index
                ));
            }
            let instruction = p.layer.instruction.as_deref().unwrap_or("");
            field(&at("layer.instruction"), instruction, LONG_FIELD)?;
        }
        for (i, w) in self.warnings.iter().enumerate() {
            field(&format!("warnings[{i}]"), w, LONG_FIELD)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    fn inventory() -> ImageInventory {
        let layer = LayerRef {
            index: 1,
            diff_id: digest('c'),
            instruction: Some("RUN apt-get install -y curl".into()),
        };
        ImageInventory {
            image_id: digest('a'),
            reference: "railyard-env:k".into(),
            distro: None,
            layers: vec![
                LayerInfo {
                    index: 0,
                    diff_id: digest('b'),
                    instruction: None,
                    size: 1,
                },
                LayerInfo {
                    index: 1,
                    diff_id: digest('c'),
                    instruction: layer.instruction.clone(),
                    size: 2,
                },
            ],
            packages: vec![Package {
                name: "curl".into(),
                version: "7.88.1-10".into(),
                ecosystem: Ecosystem::Deb,
                purl: "pkg:deb/debian/curl@7.88.1-10".into(),
                source_name: None,
                source_version: None,
                license: None,
                arch: None,
                location: "var/lib/dpkg/status".into(),
                layer,
                owned_by_os: false,
            }],
            warnings: vec![],
            stats: ScanStats::default(),
        }
    }

    #[test]
    fn an_inventory_within_bounds_passes_and_each_way_out_names_its_field() {
        assert_eq!(inventory().check_bounds(), Ok(()));
        type Spoil = fn(&mut ImageInventory);
        let cases: [(&str, Spoil); 6] = [
            ("image_id", |i| i.image_id = "sha256:ABC".into()),
            ("layers[1].diff_id", |i| i.layers[1].diff_id.push('0')),
            ("packages[0].layer.index", |i| i.packages[0].layer.index = 2),
            ("packages[0].layer.diff_id", |i| {
                i.packages[0].layer.diff_id = digest('b')
            }),
            ("packages[0].purl", |i| {
                i.packages[0].purl = "p".repeat(bounds::FIELD + 1)
            }),
            ("layers[0].instruction", |i| {
                i.layers[0].instruction = Some("RUN \0".into())
            }),
        ];
        for (field, spoil) in cases {
            let mut bad = inventory();
            spoil(&mut bad);
            let why = bad.check_bounds().unwrap_err();
            assert!(why.contains(field), "{field}: {why}");
        }
        let mut many = inventory();
        many.layers = (0..=bounds::LAYERS)
            .map(|index| LayerInfo {
                index,
                diff_id: digest('d'),
                instruction: None,
                size: 0,
            })
            .collect();
        assert!(many.check_bounds().unwrap_err().contains("layers"));
    }
}
