//! Debian versions, ordered as `dpkg --compare-versions` does: `[epoch:]upstream[-revision]`,
//! epoch numerically, then upstream and revision by dpkg's `verrevcmp`: alternating runs of
//! non-digits, compared character by character with `~` before everything (even the end of
//! the string) and letters before other characters, and runs of digits, compared as numbers
//! where an empty run counts as 0. A missing revision therefore equals `0`.
//!
//! Our own implementation: the `debversion` crate (0.5.5) was checked against dpkg 1.21 and
//! disagrees where a digit run is `0` on one side and absent on the other (`1+dfsg` vs
//! `1+dfsg0`: dpkg says equal, debversion says less). `tests/integration/ordering/` checks
//! this module against the real `dpkg` on thousands of generated pairs.

use crate::errors::VersionError;
use crate::version::VersionScheme;
use std::cmp::Ordering;

/// A Debian version split into its three parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebVersion<'a> {
    /// Epoch; 0 when absent.
    pub epoch: u32,
    /// Upstream version.
    pub upstream: &'a str,
    /// Debian revision; empty when absent (which compares equal to `0`).
    pub revision: &'a str,
}

/// Splits a Debian version as dpkg's `parseversion` does, rejecting what dpkg rejects as an
/// error (empty parts, a non-numeric epoch, whitespace). What dpkg only warns about (an
/// upstream not starting with a digit, unusual characters) is accepted, as dpkg compares it.
pub fn parse(version: &str) -> Result<DebVersion<'_>, VersionError> {
    let err = |reason: &str| VersionError {
        scheme: VersionScheme::Debian,
        version: version.to_string(),
        reason: reason.to_string(),
    };
    let v = version.trim();
    if v.is_empty() {
        return Err(err("empty version"));
    }
    if v.contains(char::is_whitespace) {
        return Err(err("version contains whitespace"));
    }
    let (epoch, rest) = match v.split_once(':') {
        Some((e, rest)) => {
            if e.is_empty() {
                return Err(err("epoch is empty"));
            }
            let epoch = e
                .parse::<u32>()
                .ok()
                .filter(|&n| n <= i32::MAX as u32)
                .ok_or_else(|| err("epoch is not a number"))?;
            (epoch, rest)
        }
        None => (0, v),
    };
    let (upstream, revision) = match rest.rsplit_once('-') {
        Some((_, "")) => return Err(err("revision is empty")),
        Some((u, r)) => (u, r),
        None => (rest, ""),
    };
    if upstream.is_empty() {
        return Err(err("upstream version is empty"));
    }
    Ok(DebVersion {
        epoch,
        upstream,
        revision,
    })
}

/// Orders two Debian versions as dpkg does.
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    let (a, b) = (parse(a)?, parse(b)?);
    Ok(a.epoch
        .cmp(&b.epoch)
        .then_with(|| verrevcmp(a.upstream, b.upstream))
        .then_with(|| verrevcmp(a.revision, b.revision)))
}

/// dpkg's weight of a non-digit character; the end of the string (and a digit) weigh 0.
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(b'~') => -1,
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp` on one part (upstream or revision).
pub fn verrevcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0usize, 0usize);
    let non_digit = |s: &[u8], k: usize| s.get(k).is_some_and(|c| !c.is_ascii_digit());
    let digit = |s: &[u8], k: usize| s.get(k).is_some_and(u8::is_ascii_digit);
    while i < a.len() || j < b.len() {
        while non_digit(a, i) || non_digit(b, j) {
            let (ac, bc) = (order(a.get(i).copied()), order(b.get(j).copied()));
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while digit(a, i) && digit(b, j) {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if digit(a, i) {
            return Ordering::Greater;
        }
        if digit(b, j) {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    fn cmp(a: &str, b: &str) -> Ordering {
        compare(a, b).unwrap()
    }

    #[test]
    fn epoch_wins_over_everything() {
        assert_eq!(cmp("1:1.0", "9.9"), Greater);
        assert_eq!(cmp("0:1.0", "1.0"), Equal);
        assert_eq!(cmp("2:0.1", "10:0.1"), Less);
    }

    #[test]
    fn tilde_sorts_before_everything_even_the_end() {
        assert_eq!(cmp("1.0~rc1", "1.0"), Less);
        assert_eq!(cmp("1.0~~", "1.0~"), Less);
        assert_eq!(cmp("1.0~~a", "1.0~"), Less);
        assert_eq!(cmp("1.0~rc1-1", "1.0-1"), Less);
        assert_eq!(cmp("1.0-1~bpo1", "1.0-1"), Less);
    }

    #[test]
    fn letters_sort_before_non_letters() {
        assert_eq!(cmp("1.0a", "1.0+"), Less);
        assert_eq!(cmp("1.0a", "1.0."), Less);
        assert_eq!(cmp("1.0+b1", "1.0"), Greater);
        assert_eq!(cmp("1.0Z", "1.0a"), Less);
    }

    #[test]
    fn digit_runs_compare_as_numbers() {
        assert_eq!(cmp("1.10", "1.9"), Greater);
        assert_eq!(cmp("1.010", "1.10"), Equal);
        assert_eq!(cmp("1.0", "1.00"), Equal);
        assert_eq!(cmp("1+dfsg", "1+dfsg0"), Equal, "an absent digit run is 0");
        assert_eq!(
            cmp("1.99999999999999999999999", "1.99999999999999999999998"),
            Greater
        );
        assert_eq!(cmp("2.36-9+deb12u4", "2.36-9+deb12u10"), Less);
    }

    #[test]
    fn revision_is_after_the_last_hyphen_and_missing_means_zero() {
        assert_eq!(cmp("1.0-1-2", "1.0-1-10"), Less);
        assert_eq!(cmp("1.0", "1.0-0"), Equal);
        assert_eq!(cmp("1.0", "1.0-1"), Less);
        assert_eq!(cmp("1.2.3-1ubuntu0.1", "1.2.3-1"), Greater);
    }

    #[test]
    fn garbage_is_an_error_naming_the_version() {
        let e = compare("1.0 beta", "1.0").unwrap_err();
        assert!(e.to_string().contains("1.0 beta"), "{e}");
        assert!(compare("a:1", "1").is_err());
        assert!(compare(":1", "1").is_err());
        assert!(compare("1.0-", "1").is_err());
        assert!(compare("1:", "1").is_err());
        assert_eq!(
            cmp("abc", "1"),
            Greater,
            "dpkg only warns about a leading letter"
        );
    }
}
