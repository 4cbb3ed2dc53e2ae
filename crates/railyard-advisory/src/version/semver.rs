//! npm and crates.io versions, ordered by SemVer 2.0 precedence: major.minor.patch as numbers,
//! a pre-release sorts before its release, pre-release identifiers compare numerically when
//! numeric, lexically otherwise, numeric before alphanumeric, fewer before more; build
//! metadata (`+…`) is ignored. npm's leading `v` or `=` is accepted, and a missing minor or
//! patch reads as 0 (`1.2` is `1.2.0`), as advisories sometimes write them.
//!
//! Checked against npm's own `semver` module (ordering and validity of full versions) on
//! thousands of generated pairs in `tests/integration/ordering/`.

use crate::errors::VersionError;
use crate::version::VersionScheme;
use std::cmp::Ordering;

/// Parses a SemVer version, leniently as described in the module docs.
pub fn parse(version: &str) -> Result<semver::Version, VersionError> {
    parse_as(version, VersionScheme::Semver)
}

pub(crate) fn parse_as(
    version: &str,
    scheme: VersionScheme,
) -> Result<semver::Version, VersionError> {
    let v = version
        .trim()
        .trim_start_matches('=')
        .trim_start_matches('v');
    let err = |reason: String| VersionError {
        scheme,
        version: version.to_string(),
        reason,
    };
    match semver::Version::parse(v) {
        Ok(parsed) => Ok(parsed),
        Err(first) => {
            // `1.2` / `1` / `1.2-rc.1`: pad the numeric core to three parts.
            let split = v.find(['-', '+']).unwrap_or(v.len());
            let (core, rest) = v.split_at(split);
            let parts = core.split('.').count();
            if (1..3).contains(&parts) && core.split('.').all(|p| !p.is_empty()) {
                let padded = format!("{core}{}{rest}", ".0".repeat(3 - parts));
                semver::Version::parse(&padded).map_err(|_| err(first.to_string()))
            } else {
                Err(err(first.to_string()))
            }
        }
    }
}

/// Orders two SemVer versions by precedence (build metadata ignored).
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    Ok(parse(a)?.cmp_precedence(&parse(b)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn spec_precedence_ladder() {
        // SemVer 2.0 section 11's example, plus the neighbours.
        let ladder = [
            "0.9.9",
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.0.1",
            "1.1.0",
            "2.0.0",
            "10.0.0",
        ];
        for (i, a) in ladder.iter().enumerate() {
            for b in &ladder[i + 1..] {
                assert_eq!(compare(a, b).unwrap(), Less, "{a} < {b}");
            }
        }
    }

    #[test]
    fn build_metadata_is_ignored_and_prefixes_accepted() {
        assert_eq!(compare("1.0.0+build.1", "1.0.0+build.2").unwrap(), Equal);
        assert_eq!(compare("v1.2.3", "=1.2.3").unwrap(), Equal);
        assert_eq!(compare("1.2", "1.2.0").unwrap(), Equal);
        assert_eq!(compare("1", "1.0.1").unwrap(), Less);
        assert_eq!(compare("1.2-rc.1", "1.2.0").unwrap(), Less);
    }

    #[test]
    fn rejects_what_semver_rejects() {
        assert!(compare("01.2.3", "1.2.3").is_err());
        assert!(compare("1.2.3.4", "1.2.3").is_err());
        assert!(compare("latest", "1.2.3").is_err());
    }
}
