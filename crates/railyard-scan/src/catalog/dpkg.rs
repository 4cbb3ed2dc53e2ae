//! dpkg: `var/lib/dpkg/status` and distroless `status.d/*` stanzas, `info/*.list` for
//! which files OS packages own, and `usr/share/doc/NAME/copyright` for their licences.

use super::{Found, field, stanzas};
use crate::package::Ecosystem;

/// The package whose copyright file `rest` (a path under `usr/share/doc/`) is:
/// `NAME/copyright` gives `NAME`.
pub fn copyright_owner(rest: &str) -> Option<&str> {
    let (name, file) = rest.split_once('/')?;
    (file == "copyright" && !name.is_empty()).then_some(name)
}

/// The licences a Debian copyright file names, sorted and unique: the short names of
/// machine-readable (DEP-5) `License:` fields (`GPL-2+ or Artistic` gives both; an exception
/// after `with` is not a licence) and the `/usr/share/common-licenses/NAME` files that
/// free-form ones point to.
pub fn parse_copyright(text: &str) -> Vec<String> {
    const PUNCT: &[char] = &['\'', '"', '`', '.', ',', ';', ')', '(', ':'];
    let mut out = std::collections::BTreeSet::new();
    for line in text.lines() {
        if let Some(value) = line.strip_prefix("License:") {
            for part in value.split_whitespace() {
                match part.to_ascii_lowercase().as_str() {
                    "and" | "or" | "and/or" | "," => {}
                    "with" => break,
                    _ => {
                        let name = part.trim_matches(PUNCT);
                        if !name.is_empty() {
                            out.insert(name.to_string());
                        }
                    }
                }
            }
        }
        let mut rest = line;
        while let Some(i) = rest.find("/usr/share/common-licenses/") {
            rest = &rest[i + "/usr/share/common-licenses/".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '+' | '_'))
                .collect();
            let name = name.trim_end_matches('.');
            if !name.is_empty() {
                out.insert(name.to_string());
            }
        }
    }
    out.into_iter().collect()
}

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

    #[test]
    fn copyright_licences() {
        let text = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\
            Files: *\nLicense: GPL-2+ and/or Artistic-1.0\n\nFiles: x/*\nLicense: GPL-2+ with OpenSSL exception\n\
            License: MIT\n Permission is hereby granted...\n\
            \n the GNU General Public License can be found in `/usr/share/common-licenses/GPL-2'.\n\
            and in \"/usr/share/common-licenses/LGPL-2.1\".\n";
        assert_eq!(
            parse_copyright(text),
            vec!["Artistic-1.0", "GPL-2", "GPL-2+", "LGPL-2.1", "MIT"]
        );
        assert_eq!(copyright_owner("libc6/copyright"), Some("libc6"));
        assert_eq!(copyright_owner("libc6/README"), None);
    }

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
