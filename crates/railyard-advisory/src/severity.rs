//! Severity: the qualitative rating a policy acts on, and where it comes from. A CVSS vector
//! is scored (v3.0/v3.1 and v2 base scores, computed from the vector as the specifications
//! say); without one, the database's own word (`database_specific.severity`, GitHub's
//! `MODERATE`; Ubuntu's priority; Debian's urgency) is used; otherwise it is unknown.

use crate::errors::SeverityParseError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A qualitative severity. `Unknown` ranks lowest: `--fail-on low` does not fail on an
/// advisory nobody rated; `--fail-on unknown` fails on every finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// No rating given, or one we cannot read (CVSS v4 vectors are not scored yet).
    Unknown,
    /// CVSS 0.1–3.9.
    Low,
    /// CVSS 4.0–6.9.
    Medium,
    /// CVSS 7.0–8.9.
    High,
    /// CVSS 9.0–10.0.
    Critical,
}

impl Severity {
    /// Every severity, lowest first.
    pub const ALL: [Severity; 5] = [
        Severity::Unknown,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// The lower-case name (`high`).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Unknown => "unknown",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// The CVSS v3 qualitative rating of a base score. A score of 0 (no impact) reads as low
    /// rather than "none", since an advisory was still issued.
    pub fn from_score(score: f64) -> Severity {
        match score {
            s if s >= 9.0 => Severity::Critical,
            s if s >= 7.0 => Severity::High,
            s if s >= 4.0 => Severity::Medium,
            _ => Severity::Low,
        }
    }

    /// Reads a database's word for severity: GitHub's `LOW`/`MODERATE`/`HIGH`/`CRITICAL`,
    /// Ubuntu's priorities, Debian's urgencies (`unimportant` is low; `not yet assigned`,
    /// `end-of-life` are unknown).
    pub fn from_label(label: &str) -> Severity {
        let l = label.trim().to_ascii_lowercase();
        let l = l.trim_end_matches('*').trim_end_matches("**");
        match l {
            "critical" => Severity::Critical,
            "high" | "important" => Severity::High,
            "medium" | "moderate" => Severity::Medium,
            "low" | "negligible" | "unimportant" | "minor" => Severity::Low,
            _ => Severity::Unknown,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = SeverityParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| SeverityParseError(s.to_string()))
    }
}

/// The base score of a CVSS v3.x or v2 vector; `None` for anything else (v4, malformed).
pub fn cvss_base_score(vector: &str) -> Option<f64> {
    let v = vector.trim();
    if let Some(rest) = v
        .strip_prefix("CVSS:3.1/")
        .or_else(|| v.strip_prefix("CVSS:3.0/"))
    {
        cvss3(rest)
    } else if v.starts_with("CVSS:") {
        None
    } else {
        cvss2(
            v.strip_prefix("(")
                .and_then(|s| s.strip_suffix(")"))
                .unwrap_or(v),
        )
    }
}

fn metrics(v: &str) -> Option<std::collections::HashMap<&str, &str>> {
    v.split('/').map(|m| m.split_once(':')).collect()
}

/// CVSS v3.1 "Roundup": the smallest one-decimal number ≥ x, robust to float noise.
fn roundup(x: f64) -> f64 {
    let i = (x * 100_000.0).round() as i64;
    if i % 10_000 == 0 {
        i as f64 / 100_000.0
    } else {
        ((i / 10_000) + 1) as f64 / 10.0
    }
}

fn cvss3(v: &str) -> Option<f64> {
    let m = metrics(v)?;
    let changed = match *m.get("S")? {
        "U" => false,
        "C" => true,
        _ => return None,
    };
    let av = match *m.get("AV")? {
        "N" => 0.85,
        "A" => 0.62,
        "L" => 0.55,
        "P" => 0.2,
        _ => return None,
    };
    let ac = match *m.get("AC")? {
        "L" => 0.77,
        "H" => 0.44,
        _ => return None,
    };
    let pr = match (*m.get("PR")?, changed) {
        ("N", _) => 0.85,
        ("L", false) => 0.62,
        ("L", true) => 0.68,
        ("H", false) => 0.27,
        ("H", true) => 0.5,
        _ => return None,
    };
    let ui = match *m.get("UI")? {
        "N" => 0.85,
        "R" => 0.62,
        _ => return None,
    };
    let cia = |k: &str| -> Option<f64> {
        match *m.get(k)? {
            "H" => Some(0.56),
            "L" => Some(0.22),
            "N" => Some(0.0),
            _ => None,
        }
    };
    let iss = 1.0 - (1.0 - cia("C")?) * (1.0 - cia("I")?) * (1.0 - cia("A")?);
    let impact = if changed {
        7.52 * (iss - 0.029) - 3.25 * (iss - 0.02).powi(15)
    } else {
        6.42 * iss
    };
    let exploitability = 8.22 * av * ac * pr * ui;
    if impact <= 0.0 {
        return Some(0.0);
    }
    let raw = if changed {
        1.08 * (impact + exploitability)
    } else {
        impact + exploitability
    };
    Some(roundup(raw.min(10.0)))
}

fn cvss2(v: &str) -> Option<f64> {
    let m = metrics(v)?;
    let av = match *m.get("AV")? {
        "L" => 0.395,
        "A" => 0.646,
        "N" => 1.0,
        _ => return None,
    };
    let ac = match *m.get("AC")? {
        "H" => 0.35,
        "M" => 0.61,
        "L" => 0.71,
        _ => return None,
    };
    let au = match *m.get("Au")? {
        "M" => 0.45,
        "S" => 0.56,
        "N" => 0.704,
        _ => return None,
    };
    let cia = |k: &str| -> Option<f64> {
        match *m.get(k)? {
            "N" => Some(0.0),
            "P" => Some(0.275),
            "C" => Some(0.660),
            _ => None,
        }
    };
    let impact = 10.41 * (1.0 - (1.0 - cia("C")?) * (1.0 - cia("I")?) * (1.0 - cia("A")?));
    let exploitability = 20.0 * av * ac * au;
    let f = if impact == 0.0 { 0.0 } else { 1.176 };
    let base = ((0.6 * impact) + (0.4 * exploitability) - 1.5) * f;
    Some((base * 10.0).round() / 10.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cvss3_scores_match_the_calculator() {
        // Scores as NVD's calculator gives them.
        for (vector, score) in [
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
            ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8),
            ("CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N", 5.9),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5),
            ("CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", 1.8),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
        ] {
            assert_eq!(cvss_base_score(vector), Some(score), "{vector}");
        }
    }

    #[test]
    fn cvss2_scores_match_the_calculator() {
        assert_eq!(cvss_base_score("AV:N/AC:L/Au:N/C:P/I:P/A:P"), Some(7.5));
        assert_eq!(cvss_base_score("AV:N/AC:M/Au:N/C:N/I:P/A:N"), Some(4.3));
        assert_eq!(cvss_base_score("(AV:L/AC:L/Au:N/C:C/I:C/A:C)"), Some(7.2));
    }

    #[test]
    fn unreadable_vectors_give_no_score() {
        assert_eq!(
            cvss_base_score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"),
            None
        );
        assert_eq!(cvss_base_score("CVSS:3.1/AV:X/AC:L"), None);
        assert_eq!(cvss_base_score("garbage"), None);
    }

    #[test]
    fn labels_and_thresholds() {
        assert_eq!(Severity::from_label("MODERATE"), Severity::Medium);
        assert_eq!(Severity::from_label("unimportant"), Severity::Low);
        assert_eq!(Severity::from_label("not yet assigned"), Severity::Unknown);
        assert_eq!(Severity::from_score(9.8), Severity::Critical);
        assert_eq!(Severity::from_score(7.0), Severity::High);
        assert_eq!(Severity::from_score(6.9), Severity::Medium);
        assert_eq!("HIGH".parse::<Severity>().unwrap(), Severity::High);
        assert!("severe".parse::<Severity>().is_err());
        assert!(Severity::Unknown < Severity::Low && Severity::High < Severity::Critical);
    }
}
