//! dpkg: `var/lib/dpkg/status` and distroless `status.d/*` stanzas, and `info/*.list` for
//! which files OS packages own.

use super::{Found, field, stanzas};
use crate::package::Ecosystem;

/// Installed packages in a dpkg status file (stanzas whose `Status` ends in `installed`; a
/// `status.d` stanza may have no `Status` and counts as installed).
pub fn parse_status(text: &str) -> Vec<Found> {
    let mut out = Vec::new();
    for st in stanzas(text) {
        let (Some(name), Some(version)) = (field(&st, "Package"), field(&st, "Version")) else {
            continue;
        };
        if let Some(status) = field(&st, "Status")
            && status.split_whitespace().last() != Some("installed")
        {
            continue;
        }
        let mut f = Found::new(name, version, Ecosystem::Deb);
        f.arch = field(&st, "Architecture").map(str::to_string);
        if let Some(src) = field(&st, "Source") {
            // `Source: glibc` or `Source: glibc (2.36-9)`.
            let (sname, sver) = match src.split_once('(') {
                Some((n, v)) => (n.trim(), Some(v.trim_end_matches(')').trim())),
                None => (src.trim(), None),
            };
            if sname != name {
                f.source_name = Some(sname.to_string());
            }
            if let Some(v) = sver.filter(|v| !v.is_empty() && *v != version) {
                f.source_version = Some(v.to_string());
                f.source_name.get_or_insert_with(|| sname.to_string());
            }
        }
        out.push(f);
    }
    out
}

/// The paths in a `.list` file that other catalogers look at (Python metadata folders, npm
/// `package.json`, executables), without the leading `/`, so language packages an OS package
/// installed are marked `owned_by_os`.
pub fn parse_list(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let p = line.trim().trim_start_matches('/');
        if p.is_empty() {
            continue;
        }
        if is_interesting_owned(p) {
            out.push(p.to_string());
        }
    }
    out
}

/// Paths worth remembering as owned by an OS package.
pub(crate) fn is_interesting_owned(p: &str) -> bool {
    p.ends_with(".dist-info")
        || p.ends_with(".egg-info")
        || p.ends_with("/METADATA")
        || p.ends_with("/PKG-INFO")
        || p.ends_with("/package.json")
        || p.contains("bin/")
        || p.contains("/libexec/")
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "\
Package: libc6
Status: install ok installed
Architecture: amd64
Source: glibc
Version: 2.36-9+deb12u4
Description: GNU C Library
 with continuation

Package: gone
Status: deinstall ok config-files
Version: 1.0

Package: libgcc-s1
Status: install ok installed
Architecture: amd64
Source: gcc-12 (12.2.0-14)
Version: 12.2.0-14+deb12u1

Package: bash
Status: install ok installed
Version: 5.2.15-2+b2
Source: bash (5.2.15-2)
";

    #[test]
    fn installed_only_with_sources() {
        let p = parse_status(STATUS);
        assert_eq!(p.len(), 3);
        assert_eq!(p[0].name, "libc6");
        assert_eq!(p[0].source_name.as_deref(), Some("glibc"));
        assert_eq!(p[0].source_version, None);
        assert_eq!(p[1].source_name.as_deref(), Some("gcc-12"));
        assert_eq!(p[1].source_version.as_deref(), Some("12.2.0-14"));
        assert_eq!(p[2].source_name.as_deref(), Some("bash"));
        assert_eq!(p[2].source_version.as_deref(), Some("5.2.15-2"));
    }

    #[test]
    fn list_keeps_interesting_paths() {
        let l = parse_list(
            "/.\n/usr\n/usr/bin/python3.11\n/usr/lib/python3/dist-packages/six-1.16.0.dist-info\n/usr/share/doc/x\n",
        );
        assert_eq!(
            l,
            vec![
                "usr/bin/python3.11",
                "usr/lib/python3/dist-packages/six-1.16.0.dist-info"
            ]
        );
    }
}
