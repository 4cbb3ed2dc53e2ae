//! Go module versions: SemVer with a `v` prefix (`v1.2.3`), pseudo-versions
//! (`v0.0.0-20191109021931-daa7c04131f5`, `v1.2.4-0.20191109021931-daa7c04131f5`), which are
//! SemVer pre-releases and so order by their timestamp before the release they precede, and
//! `+incompatible`, build metadata that precedence ignores. OSV writes Go versions without the
//! `v`; build info writes them with it: both are accepted. Go toolchain versions
//! (`go1.21.5`, `go1.21`, `go1.21rc2`) read as `1.21.5`, `1.21.0`, `1.21.0-rc.2`, as OSV's
//! `stdlib` entries write them.

use crate::errors::VersionError;
use crate::version::{VersionScheme, semver::parse_as};
use std::cmp::Ordering;

/// Parses a Go module or toolchain version.
pub fn parse(version: &str) -> Result<semver::Version, VersionError> {
    let v = version.trim();
    if let Some(rest) = v.strip_prefix("go") {
        let split = rest
            .find(|c: char| c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let (core, pre) = rest.split_at(split);
        let mut core = core.to_string();
        while core.split('.').count() < 3 {
            core.push_str(".0");
        }
        let pre = match pre.find(|c: char| c.is_ascii_digit()) {
            Some(i) => format!("-{}.{}", &pre[..i], &pre[i..]),
            None if pre.is_empty() => String::new(),
            None => format!("-{pre}"),
        };
        return parse_as(&format!("{core}{pre}"), VersionScheme::Go);
    }
    parse_as(v, VersionScheme::Go)
}

/// Orders two Go versions by SemVer precedence.
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    Ok(parse(a)?.cmp_precedence(&parse(b)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn module_versions_with_and_without_v() {
        assert_eq!(compare("v1.2.3", "1.2.3").unwrap(), Equal);
        assert_eq!(compare("v1.10.0", "v1.9.9").unwrap(), Greater);
        assert_eq!(compare("v2.0.0+incompatible", "2.0.0").unwrap(), Equal);
        assert_eq!(compare("v2.0.0+incompatible", "v2.0.1").unwrap(), Less);
    }

    #[test]
    fn pseudo_versions_order_by_time_before_their_release() {
        let ladder = [
            "v0.0.0-20191109021931-daa7c04131f5",
            "v0.0.0-20200101000000-aaaaaaaaaaaa",
            "v1.2.3",
            "v1.2.4-0.20191109021931-daa7c04131f5",
            "v1.2.4-pre.0.20200101000000-bbbbbbbbbbbb",
            "v1.2.4",
        ];
        for (i, a) in ladder.iter().enumerate() {
            for b in &ladder[i + 1..] {
                assert_eq!(compare(a, b).unwrap(), Less, "{a} < {b}");
            }
        }
    }

    #[test]
    fn toolchain_versions() {
        assert_eq!(compare("go1.21", "1.21.0").unwrap(), Equal);
        assert_eq!(compare("go1.21.5", "1.21.5").unwrap(), Equal);
        assert_eq!(compare("go1.21rc2", "1.21.0-rc.2").unwrap(), Equal);
        assert_eq!(compare("go1.21rc2", "go1.21").unwrap(), Less);
        assert_eq!(compare("go1.20.14", "go1.21.0").unwrap(), Less);
    }
}
