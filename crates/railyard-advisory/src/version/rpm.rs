//! RPM versions, ordered as rpm's `rpmvercmp` over `[epoch:]version[-release]`: epochs as
//! numbers (missing = 0), then version, then release, each split into runs of digits or
//! letters (other characters only separate); `~` sorts before everything including the end,
//! `^` sorts after the end but before anything else; a number beats letters; numbers compare
//! without leading zeros; the string with segments left over wins.
//!
//! Checked against rpm 4.18's own `rpm.vercmp` on thousands of generated pairs in
//! `tests/integration/ordering/`.

use crate::errors::VersionError;
use crate::version::VersionScheme;
use std::cmp::Ordering;

/// An `epoch:version-release` split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evr<'a> {
    /// Epoch; 0 when absent.
    pub epoch: u64,
    /// Version.
    pub version: &'a str,
    /// Release; empty when absent.
    pub release: &'a str,
}

/// Splits `[epoch:]version[-release]` (release after the last `-`).
pub fn parse(s: &str) -> Result<Evr<'_>, VersionError> {
    let s = s.trim();
    let (epoch, rest) = match s.split_once(':') {
        Some((e, rest)) => {
            let epoch = e.parse().map_err(|_| VersionError {
                scheme: VersionScheme::Rpm,
                version: s.to_string(),
                reason: format!("epoch `{e}` is not a number"),
            })?;
            (epoch, rest)
        }
        None => (0, s),
    };
    let (version, release) = rest.rsplit_once('-').unwrap_or((rest, ""));
    if version.is_empty() {
        return Err(VersionError {
            scheme: VersionScheme::Rpm,
            version: s.to_string(),
            reason: "empty version".into(),
        });
    }
    Ok(Evr {
        epoch,
        version,
        release,
    })
}

/// Orders two `[epoch:]version[-release]` strings as rpm does.
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    let (a, b) = (parse(a)?, parse(b)?);
    Ok(a.epoch
        .cmp(&b.epoch)
        .then_with(|| rpmvercmp(a.version, b.version))
        .then_with(|| rpmvercmp(a.release, b.release)))
}

/// rpm's `rpmvercmp` on one field.
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (mut one, mut two) = (a.as_bytes(), b.as_bytes());
    let skip = |s: &mut &[u8]| {
        while let Some(&c) = s.first() {
            if c.is_ascii_alphanumeric() || c == b'~' || c == b'^' {
                break;
            }
            *s = &s[1..];
        }
    };
    while !one.is_empty() || !two.is_empty() {
        skip(&mut one);
        skip(&mut two);
        let (c1, c2) = (one.first().copied(), two.first().copied());
        if c1 == Some(b'~') || c2 == Some(b'~') {
            if c1 != Some(b'~') {
                return Ordering::Greater;
            }
            if c2 != Some(b'~') {
                return Ordering::Less;
            }
            one = &one[1..];
            two = &two[1..];
            continue;
        }
        if c1 == Some(b'^') || c2 == Some(b'^') {
            if c1.is_none() {
                return Ordering::Less;
            }
            if c2.is_none() {
                return Ordering::Greater;
            }
            if c1 != Some(b'^') {
                return Ordering::Greater;
            }
            if c2 != Some(b'^') {
                return Ordering::Less;
            }
            one = &one[1..];
            two = &two[1..];
            continue;
        }
        let (Some(c1), Some(_)) = (c1, c2) else { break };
        let isnum = c1.is_ascii_digit();
        let run = |s: &[u8]| {
            s.iter()
                .take_while(|c| {
                    if isnum {
                        c.is_ascii_digit()
                    } else {
                        c.is_ascii_alphabetic()
                    }
                })
                .count()
        };
        let (n1, n2) = (run(one), run(two));
        let (seg1, seg2) = (&one[..n1], &two[..n2]);
        if seg2.is_empty() {
            // Different kinds: a number is newer than letters.
            return if isnum {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let ord = if isnum {
            let t1 = trim_zeros(seg1);
            let t2 = trim_zeros(seg2);
            t1.len().cmp(&t2.len()).then_with(|| t1.cmp(t2))
        } else {
            seg1.cmp(seg2)
        };
        if ord != Ordering::Equal {
            return ord;
        }
        one = &one[n1..];
        two = &two[n2..];
    }
    match (one.is_empty(), two.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

fn trim_zeros(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&c| c == b'0').count();
    &s[n..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    /// Cases from rpm's own test suite (`tests/rpmvercmp.at`).
    #[test]
    fn rpm_test_suite_cases() {
        let cases: &[(&str, &str, Ordering)] = &[
            ("1.0", "1.0", Equal),
            ("1.0", "2.0", Less),
            ("2.0", "1.0", Greater),
            ("2.0.1", "2.0.1", Equal),
            ("2.0", "2.0.1", Less),
            ("2.0.1a", "2.0.1a", Equal),
            ("2.0.1a", "2.0.1", Greater),
            ("5.5p1", "5.5p1", Equal),
            ("5.5p1", "5.5p2", Less),
            ("5.5p10", "5.5p1", Greater),
            ("10xyz", "10.1xyz", Less),
            ("xyz10", "xyz10.1", Less),
            ("xyz.4", "8", Less),
            ("8", "xyz.4", Greater),
            ("5.5p2", "5.6p1", Less),
            ("5.6p1", "6.5p1", Less),
            ("6.0.rc1", "6.0", Greater),
            ("10b2", "10a1", Greater),
            ("1.0aa", "1.0a", Greater),
            ("10.0001", "10.1", Equal),
            ("10.0001", "10.0039", Less),
            ("4.999.9", "5.0", Less),
            ("20101121", "20101122", Less),
            ("2_0", "2_0", Equal),
            ("2.0", "2_0", Equal),
            ("a", "a", Equal),
            ("a+", "a+", Equal),
            ("a+", "a_", Equal),
            ("+a", "_a", Equal),
            ("+_", "_+", Equal),
            ("+", "_", Equal),
            ("1.0~rc1", "1.0~rc1", Equal),
            ("1.0~rc1", "1.0", Less),
            ("1.0", "1.0~rc1", Greater),
            ("1.0~rc1", "1.0~rc2", Less),
            ("1.0~rc1~git123", "1.0~rc1", Less),
            ("1.0^", "1.0^", Equal),
            ("1.0^", "1.0", Greater),
            ("1.0", "1.0^", Less),
            ("1.0^git1", "1.0^git1", Equal),
            ("1.0^git1", "1.0", Greater),
            ("1.0^git1", "1.0^git2", Less),
            ("1.0^git1", "1.01", Less),
            ("1.0^20160101", "1.0.1", Less),
            ("1.0^20160101^git1", "1.0^20160101", Greater),
            ("1.0~rc1^git1", "1.0~rc1", Greater),
            ("1.0^git1~pre", "1.0^git1", Less),
        ];
        for &(a, b, want) in cases {
            assert_eq!(rpmvercmp(a, b), want, "{a} vs {b}");
            assert_eq!(rpmvercmp(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn epoch_version_release() {
        assert_eq!(compare("1:1.0-1", "2.0-1").unwrap(), Greater);
        assert_eq!(compare("0:1.0-1", "1.0-1").unwrap(), Equal);
        assert_eq!(compare("1.0-1.el9", "1.0-2.el9").unwrap(), Less);
        assert_eq!(compare("1.0-10.el9_2", "1.0-9.el9").unwrap(), Greater);
        assert!(compare("x:1.0", "1.0").is_err());
    }
}
