//! Catalogers: each turns one small file from a layer into the packages it records. They see
//! bytes, never the disk, and never fail: a file they cannot parse yields nothing (and a
//! warning where that helps a user).

pub mod apk;
pub mod binary;
pub mod dpkg;
pub mod npm;
pub mod osrelease;
pub mod python;
pub mod rpm;

use crate::package::Ecosystem;
use serde::{Deserialize, Serialize};

/// A package as one file records it, before the merge of layers places it in a layer and
/// gives it a purl.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Found {
    /// Package name.
    pub name: String,
    /// Package version.
    pub version: String,
    /// Ecosystem.
    pub ecosystem: Ecosystem,
    /// Source package name (deb, rpm, apk origin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_name: Option<String>,
    /// Source package version when it differs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    /// Licence as recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// Architecture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
}

impl Found {
    /// A package with only name, version and ecosystem known.
    pub fn new(name: impl Into<String>, version: impl Into<String>, ecosystem: Ecosystem) -> Self {
        Found {
            name: name.into(),
            version: version.into(),
            ecosystem,
            source_name: None,
            source_version: None,
            license: None,
            arch: None,
        }
    }
}

/// Which cataloger, if any, wants the file at `path` (normalised: no leading `/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wanted {
    /// `var/lib/dpkg/status`.
    DpkgStatus,
    /// `var/lib/dpkg/status.d/NAME` (distroless images).
    DpkgStatusD,
    /// `var/lib/dpkg/info/NAME.list`: files a package owns.
    DpkgList,
    /// `usr/share/doc/NAME/copyright`: the licences of Debian package NAME (the dpkg
    /// database records none).
    DpkgCopyright,
    /// `lib/apk/db/installed`.
    ApkInstalled,
    /// `var/lib/rpm/rpmdb.sqlite`.
    RpmSqlite,
    /// `*.dist-info/METADATA`, `*.egg-info/PKG-INFO` or an `*.egg-info` file.
    PythonMetadata,
    /// `node_modules/[@scope/]NAME/package.json`.
    NpmPackageJson,
    /// `etc/os-release`, `usr/lib/os-release`.
    OsRelease,
}

impl Wanted {
    /// The most bytes a cataloger reads from such a file; larger files are read up to this.
    pub fn max_bytes(self) -> u64 {
        match self {
            Wanted::DpkgStatus | Wanted::ApkInstalled => 64 << 20,
            Wanted::RpmSqlite => 256 << 20,
            Wanted::DpkgList => 16 << 20,
            _ => 4 << 20,
        }
    }
}

/// Decides from the path alone whether a file is wanted.
pub fn wanted(path: &str) -> Option<Wanted> {
    match path {
        "var/lib/dpkg/status" => return Some(Wanted::DpkgStatus),
        "lib/apk/db/installed" => return Some(Wanted::ApkInstalled),
        "var/lib/rpm/rpmdb.sqlite" | "usr/lib/sysimage/rpm/rpmdb.sqlite" => {
            return Some(Wanted::RpmSqlite);
        }
        "etc/os-release" | "usr/lib/os-release" => return Some(Wanted::OsRelease),
        _ => {}
    }
    if let Some(rest) = path.strip_prefix("var/lib/dpkg/status.d/") {
        if !rest.contains('/') && !rest.ends_with(".md5sums") && !rest.is_empty() {
            return Some(Wanted::DpkgStatusD);
        }
        return None;
    }
    if let Some(rest) = path.strip_prefix("usr/share/doc/") {
        return dpkg::copyright_owner(rest).map(|_| Wanted::DpkgCopyright);
    }
    if let Some(rest) = path.strip_prefix("var/lib/dpkg/info/") {
        if !rest.contains('/') && rest.ends_with(".list") {
            return Some(Wanted::DpkgList);
        }
        return None;
    }
    let (dir, base) = path.rsplit_once('/').unwrap_or(("", path));
    if (base == "METADATA" && dir.ends_with(".dist-info"))
        || (base == "PKG-INFO" && dir.ends_with(".egg-info"))
        || base.ends_with(".egg-info")
    {
        return Some(Wanted::PythonMetadata);
    }
    if base == "package.json" && npm::is_installed_package_dir(dir) {
        return Some(Wanted::NpmPackageJson);
    }
    None
}

/// Splits RFC-822-like stanzas (dpkg status, apk installed, Python METADATA headers) into
/// `(field, value)` lists; continuation lines (leading space or tab) extend the previous value.
pub(crate) fn stanzas(text: &str) -> Vec<Vec<(&str, String)>> {
    let mut out = Vec::new();
    let mut cur: Vec<(&str, String)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            if let Some((_, v)) = cur.last_mut() {
                v.push('\n');
                v.push_str(line.trim());
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            cur.push((k.trim(), v.trim().to_string()));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The value of the first `field` in a stanza.
pub(crate) fn field<'a>(stanza: &'a [(&str, String)], name: &str) -> Option<&'a str> {
    stanza
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wanted_paths() {
        assert_eq!(wanted("var/lib/dpkg/status"), Some(Wanted::DpkgStatus));
        assert_eq!(wanted("var/lib/dpkg/status-old"), None);
        assert_eq!(
            wanted("var/lib/dpkg/status.d/base"),
            Some(Wanted::DpkgStatusD)
        );
        assert_eq!(wanted("var/lib/dpkg/status.d/base.md5sums"), None);
        assert_eq!(
            wanted("var/lib/dpkg/info/libc6:amd64.list"),
            Some(Wanted::DpkgList)
        );
        assert_eq!(
            wanted("usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA"),
            Some(Wanted::PythonMetadata)
        );
        assert_eq!(wanted("x/six-1.16.0.dist-info/RECORD"), None);
        assert_eq!(wanted("x/six.egg-info"), Some(Wanted::PythonMetadata));
        assert_eq!(
            wanted("app/node_modules/@types/node/package.json"),
            Some(Wanted::NpmPackageJson)
        );
        assert_eq!(
            wanted("app/node_modules/left-pad/package.json"),
            Some(Wanted::NpmPackageJson)
        );
        assert_eq!(wanted("app/node_modules/left-pad/lib/package.json"), None);
        assert_eq!(wanted("app/package.json"), None);
        assert_eq!(wanted("etc/os-release"), Some(Wanted::OsRelease));
        assert_eq!(
            wanted("usr/share/doc/libc6/copyright"),
            Some(Wanted::DpkgCopyright)
        );
        assert_eq!(wanted("usr/share/doc/libc6/changelog.gz"), None);
        assert_eq!(wanted("usr/share/doc/a/b/copyright"), None);
    }

    #[test]
    fn stanza_continuations() {
        let s = stanzas("A: 1\nB: two\n more\n\n\nA: 3\n");
        assert_eq!(s.len(), 2);
        assert_eq!(field(&s[0], "b"), Some("two\nmore"));
        assert_eq!(field(&s[1], "A"), Some("3"));
    }
}
