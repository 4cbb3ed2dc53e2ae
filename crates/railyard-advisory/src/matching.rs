//! Which advisories hit which packages.
//!
//! A package is looked up by (OSV ecosystem, normalised name): distro packages by their
//! source package (falling back to the binary name) within the image's release
//! (`Debian:12`, from `etc/os-release`), language packages by their ecosystem and name (PyPI
//! names per PEP 503). Its version is then tested against each range as the OSV schema's
//! evaluation says: events sorted by version, `introduced` switches on, `fixed` switches off
//! at that version, `last_affected` after it; `limit` bounds the range; or it is one of the
//! listed `versions`. Language packages that an OS package owns are skipped: the OS package's
//! own advisories speak for them.

use crate::osv::{Advisory, Affected, Event, Range};
use crate::severity::Severity;
use crate::version::{VersionScheme, pep440};
use railyard_scan::{Distro, Ecosystem, ImageInventory, Package};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::HashMap;

/// The key advisories are looked up by: OSV ecosystem and normalised name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PackageKey {
    /// OSV ecosystem (`Debian:12`, `PyPI`).
    pub ecosystem: String,
    /// Name normalised per [`normalize_name`].
    pub name: String,
}

/// Normalises a package name for lookups: PEP 503 for PyPI, `-`/`_` folded and lower case
/// for crates.io, as written for everything else.
pub fn normalize_name(osv_ecosystem: &str, name: &str) -> String {
    match osv_ecosystem {
        "PyPI" => pep440::normalize_name(name),
        "crates.io" => name.trim().to_ascii_lowercase().replace('_', "-"),
        _ => name.trim().to_string(),
    }
}

/// The ecosystem an advisory entry is filed under. OSV's Ubuntu records say
/// `Ubuntu:22.04:LTS`, while an image's os-release gives `Ubuntu:22.04`. (`Ubuntu:Pro:…`
/// entries describe fixes only Ubuntu Pro ships and stay apart.)
pub fn normalize_ecosystem(ecosystem: &str) -> String {
    let e = ecosystem.trim();
    match e.strip_prefix("Ubuntu:") {
        Some(rest) if !rest.starts_with("Pro:") => {
            format!("Ubuntu:{}", rest.strip_suffix(":LTS").unwrap_or(rest))
        }
        _ => e.to_string(),
    }
}

/// The key an advisory entry is filed under. A distro ecosystem without a release (`Debian`)
/// is filed as such and looked up for every release.
pub fn affected_key(a: &Affected) -> PackageKey {
    let ecosystem = normalize_ecosystem(&a.ecosystem);
    let name = normalize_name(&ecosystem, &a.name);
    PackageKey { ecosystem, name }
}

/// How a package is looked up: its keys (with and without the release for distros) and the
/// version to test. `None` when nothing can speak about it (an OS package of an unknown
/// release, a language package owned by an OS package).
pub fn package_lookup(
    package: &Package,
    distro: Option<&Distro>,
) -> Option<(Vec<PackageKey>, String)> {
    if package.owned_by_os {
        return None;
    }
    if package.ecosystem.is_os() {
        let eco = distro?.osv_ecosystem()?;
        let base = eco.split(':').next().unwrap_or(&eco).to_string();
        let name = package.source_or_name().to_string();
        let keys = vec![
            PackageKey {
                ecosystem: eco.clone(),
                name: normalize_name(&eco, &name),
            },
            PackageKey {
                ecosystem: base.clone(),
                name: normalize_name(&base, &name),
            },
        ];
        Some((keys, package.source_or_version().to_string()))
    } else {
        let eco = package.ecosystem.osv_language_name()?;
        let key = PackageKey {
            ecosystem: eco.to_string(),
            name: package_name_key(package.ecosystem, &package.name),
        };
        Some((vec![key], package.version.clone()))
    }
}

/// Every key the inventory's packages are looked up by: what to load from a store of
/// advisories before matching it.
pub fn inventory_keys(inventory: &ImageInventory) -> std::collections::BTreeSet<PackageKey> {
    inventory
        .packages
        .iter()
        .filter_map(|p| package_lookup(p, inventory.distro.as_ref()))
        .flat_map(|(keys, _)| keys)
        .collect()
}

/// Whether `version` falls in `range` of `ecosystem`. A version that does not parse is not
/// matched (and the caller may report it); `GIT` ranges never match installed packages.
pub fn in_range(range: &Range, ecosystem: &str, version: &str) -> bool {
    let Some(scheme) = range.scheme(ecosystem) else {
        return false;
    };
    if scheme.validate(version).is_err() {
        return false;
    }
    let cmp = |a: &str, b: &str| scheme.compare(a, b).unwrap_or(Ordering::Equal);
    // `introduced: 0` is before everything; `limit: *` after everything.
    let cmp_event = |v: &str, e: &Event| -> Ordering {
        match e {
            Event::Introduced(x) if x == "0" => Ordering::Greater,
            Event::Limit(x) if x == "*" => Ordering::Less,
            _ => cmp(v, e.version()),
        }
    };
    for e in &range.events {
        if let Event::Limit(_) = e
            && cmp_event(version, e) != Ordering::Less
        {
            return false;
        }
    }
    let mut events: Vec<&Event> = range
        .events
        .iter()
        .filter(|e| !matches!(e, Event::Limit(_)))
        .collect();
    events.sort_by(|a, b| {
        let key = |e: &Event| match e {
            Event::Introduced(x) if x == "0" => None,
            _ => Some(e.version().to_string()),
        };
        match (key(a), key(b)) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(x), Some(y)) => cmp(&x, &y),
        }
    });
    let mut affected = false;
    for e in events {
        match e {
            Event::Introduced(_) if cmp_event(version, e) != Ordering::Less => affected = true,
            Event::Fixed(_) if cmp_event(version, e) != Ordering::Less => affected = false,
            Event::LastAffected(_) if cmp_event(version, e) == Ordering::Greater => {
                affected = false
            }
            _ => {}
        }
    }
    affected
}

/// Whether an advisory entry hits `version`: listed in `versions`, or in one of its ranges.
pub fn affects(a: &Affected, version: &str) -> bool {
    let scheme = VersionScheme::for_osv_ecosystem(&a.ecosystem);
    let listed = a.versions.iter().any(|v| {
        v == version
            || scheme.is_some_and(|s| s.compare(v, version).is_ok_and(|o| o == Ordering::Equal))
    });
    listed || a.ranges.iter().any(|r| in_range(r, &a.ecosystem, version))
}

/// The version that fixes `version` for the report's "fixed in" column: the smallest `fixed`
/// above it in the ranges that hold it, that the entry no longer hits. Other ranges do not
/// speak for it: a `GIT` range's fix is a commit, and in an advisory covering several release
/// lines the first `fixed` may be another line's, older than what is installed. `None` when
/// no range holding it names a fix (only `last_affected`, or hit through `versions` alone).
pub fn fixed_version<'a>(a: &'a Affected, version: &str) -> Option<&'a str> {
    let mut fixes: Vec<&str> = Vec::new();
    for range in a
        .ranges
        .iter()
        .filter(|r| in_range(r, &a.ecosystem, version))
    {
        let Some(scheme) = range.scheme(&a.ecosystem) else {
            continue;
        };
        fixes.extend(range.events.iter().filter_map(|e| match e {
            Event::Fixed(v) if scheme.compare(v, version).is_ok_and(|o| o.is_gt()) => {
                Some(v.as_str())
            }
            _ => None,
        }));
    }
    let scheme = VersionScheme::for_osv_ecosystem(&a.ecosystem)?;
    fixes.sort_by(|x, y| scheme.compare(x, y).unwrap_or(Ordering::Equal));
    fixes.into_iter().find(|fix| !affects(a, fix))
}

/// The name a scanned package is filed under, as [`package_lookup`] files a language package:
/// [`normalize_name`] under its OSV ecosystem (`pyyaml` and `PyYAML` are one PyPI package).
/// OS package names have no folding rules and stay as written.
pub fn package_name_key(ecosystem: Ecosystem, name: &str) -> String {
    normalize_name(ecosystem.osv_language_name().unwrap_or_default(), name)
}

/// One package hit by one advisory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The advisory's id.
    pub advisory_id: String,
    /// Its aliases (an ignore entry may name a CVE alias).
    pub aliases: Vec<String>,
    /// Its one-line summary.
    pub summary: String,
    /// The rating: the entry's own when it has one, else the advisory's.
    pub severity: Severity,
    /// The package's name, ecosystem, version and location in the image.
    pub package: String,
    /// The package's ecosystem.
    pub ecosystem: Ecosystem,
    /// The installed version tested (the source version for distro packages).
    pub version: String,
    /// The version that fixes it, per [`fixed_version`], if the advisory names one.
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

/// Advisories filed by package key, for matching many packages against many advisories.
#[derive(Debug, Default)]
pub struct AdvisoryIndex {
    by_key: HashMap<PackageKey, Vec<(usize, usize)>>,
    advisories: Vec<Advisory>,
}

impl AdvisoryIndex {
    /// Files each advisory (withdrawn ones are left out) under each of its entries' keys.
    pub fn new(advisories: impl IntoIterator<Item = Advisory>) -> Self {
        let mut index = AdvisoryIndex::default();
        for adv in advisories {
            if adv.withdrawn {
                continue;
            }
            let i = index.advisories.len();
            for (j, a) in adv.affected.iter().enumerate() {
                index
                    .by_key
                    .entry(affected_key(a))
                    .or_default()
                    .push((i, j));
            }
            index.advisories.push(adv);
        }
        index
    }

    /// How many advisories are indexed.
    pub fn len(&self) -> usize {
        self.advisories.len()
    }

    /// True when no advisory is indexed.
    pub fn is_empty(&self) -> bool {
        self.advisories.is_empty()
    }

    /// Every advisory that hits `package` in an image of `distro`, once each.
    pub fn match_package(&self, package: &Package, distro: Option<&Distro>) -> Vec<Finding> {
        let Some((keys, version)) = package_lookup(package, distro) else {
            return Vec::new();
        };
        let mut out: Vec<Finding> = Vec::new();
        for key in &keys {
            for &(i, j) in self.by_key.get(key).into_iter().flatten() {
                let adv = &self.advisories[i];
                let entry = &adv.affected[j];
                if out.iter().any(|f| f.advisory_id == adv.id) || !affects(entry, &version) {
                    continue;
                }
                out.push(Finding {
                    advisory_id: adv.id.clone(),
                    aliases: adv.aliases.clone(),
                    summary: adv.summary.clone(),
                    severity: entry.severity.unwrap_or(adv.severity),
                    package: package.name.clone(),
                    ecosystem: package.ecosystem,
                    version: version.clone(),
                    fixed: fixed_version(entry, &version).map(str::to_string),
                    location: package.location.clone(),
                    layer_index: package.layer.index,
                    layer_diff_id: package.layer.diff_id.clone(),
                    instruction: package.layer.instruction.clone(),
                });
            }
        }
        out
    }

    /// Every finding in an inventory, worst first, then by package and advisory.
    pub fn match_inventory(&self, inventory: &ImageInventory) -> Vec<Finding> {
        let mut out: Vec<Finding> = inventory
            .packages
            .iter()
            .flat_map(|p| self.match_package(p, inventory.distro.as_ref()))
            .collect();
        out.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| a.package.cmp(&b.package))
                .then_with(|| a.advisory_id.cmp(&b.advisory_id))
                .then_with(|| a.location.cmp(&b.location))
        });
        out
    }
}

/// As the server answers it to an agent.
impl From<Finding> for railyard_types::inventory::FoundAdvisory {
    fn from(f: Finding) -> Self {
        railyard_types::inventory::FoundAdvisory {
            advisory_id: f.advisory_id,
            aliases: f.aliases,
            summary: f.summary,
            severity: f.severity.as_str().to_owned(),
            package: f.package,
            ecosystem: f.ecosystem,
            version: f.version,
            fixed: f.fixed,
            location: f.location,
            layer_index: f.layer_index,
            layer_diff_id: f.layer_diff_id,
            instruction: f.instruction,
        }
    }
}

/// As an agent reads the server's answer: a severity it does not know is an error (the
/// policy could not be applied), never taken as `unknown`.
impl TryFrom<railyard_types::inventory::FoundAdvisory> for Finding {
    type Error = crate::SeverityParseError;

    fn try_from(f: railyard_types::inventory::FoundAdvisory) -> Result<Self, Self::Error> {
        Ok(Finding {
            severity: f.severity.parse()?,
            advisory_id: f.advisory_id,
            aliases: f.aliases,
            summary: f.summary,
            package: f.package,
            ecosystem: f.ecosystem,
            version: f.version,
            fixed: f.fixed,
            location: f.location,
            layer_index: f.layer_index,
            layer_diff_id: f.layer_diff_id,
            instruction: f.instruction,
        })
    }
}
