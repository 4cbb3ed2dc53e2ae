//! Python versions, ordered by PEP 440 (epoch `N!`, release, `aN`/`bN`/`rcN` pre-releases,
//! `.postN`, `.devN`, `+local`), with PEP 440's normalisation of alternative spellings
//! (`1.0alpha1`, `1.0-1`, `v1.0`, `1.0.RC1`, `1.0_post2`). Uses `pep440_rs`, checked against
//! Python's `packaging` on thousands of generated pairs in `tests/integration/ordering/`.

use crate::errors::VersionError;
use crate::version::VersionScheme;
use std::cmp::Ordering;
use std::str::FromStr;

/// Parses a PEP 440 version (alternative spellings normalised).
pub fn parse(version: &str) -> Result<pep440_rs::Version, VersionError> {
    pep440_rs::Version::from_str(version.trim()).map_err(|e| VersionError {
        scheme: VersionScheme::Pep440,
        version: version.to_string(),
        reason: e.to_string(),
    })
}

/// Orders two PEP 440 versions.
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    Ok(parse(a)?.cmp(&parse(b)?))
}

/// PEP 503 name normalisation: lower case, runs of `-`, `_`, `.` become one `-`. Advisories
/// and installed metadata spell the same project differently (`Foo_Bar`, `foo-bar`).
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.extend(c.to_lowercase());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn pep440_ladder() {
        let ladder = [
            "1.0.dev456",
            "1.0a1",
            "1.0a2.dev456",
            "1.0a12.dev456",
            "1.0a12",
            "1.0b1.dev456",
            "1.0b2",
            "1.0b2.post345.dev456",
            "1.0b2.post345",
            "1.0rc1.dev456",
            "1.0rc1",
            "1.0",
            "1.0+abc.5",
            "1.0+abc.7",
            "1.0+5",
            "1.0.post456.dev34",
            "1.0.post456",
            "1.0.15",
            "1.1.dev1",
            "1!0.1",
        ];
        for (i, a) in ladder.iter().enumerate() {
            for b in &ladder[i + 1..] {
                assert_eq!(compare(a, b).unwrap(), Less, "{a} < {b}");
                assert_eq!(compare(b, a).unwrap(), Greater, "{b} > {a}");
            }
        }
    }

    #[test]
    fn normalisation() {
        for (a, b) in [
            ("1.0alpha1", "1.0a1"),
            ("1.0-1", "1.0.post1"),
            ("v1.0", "1.0"),
            ("1.0.RC1", "1.0rc1"),
            ("1.0c1", "1.0rc1"),
            ("1.0_post2", "1.0.post2"),
            ("1.0", "1.0.0.0"),
            ("0!1.0", "1.0"),
            ("1.0-dev", "1.0.dev0"),
        ] {
            assert_eq!(compare(a, b).unwrap(), Equal, "{a} == {b}");
        }
        assert!(compare("1.0-beta-x", "1.0").is_err());
    }

    #[test]
    fn pep503_names() {
        assert_eq!(normalize_name("Foo_Bar"), "foo-bar");
        assert_eq!(normalize_name("foo.-_bar"), "foo-bar");
        assert_eq!(normalize_name("PyYAML"), "pyyaml");
        assert_eq!(normalize_name("zope.interface"), "zope-interface");
    }
}
