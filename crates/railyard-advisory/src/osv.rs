//! The advisory model and its reading from OSV JSON (<https://ossf.github.io/osv-schema/>).
//!
//! Reading is strict where a mistake would change which packages are hit (an unreadable
//! date, a range without `introduced`, a version its ecosystem cannot order: the advisory is
//! refused with a reason) and lenient where OSV is open-ended (unknown fields are ignored;
//! `affected` entries of ecosystems we cannot order are dropped, and an advisory left with
//! none is refused). Only the fields matching and reporting need are kept.

use crate::severity::{Severity, cvss_base_score};
use crate::version::VersionScheme;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One advisory, as stored and matched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Advisory {
    /// OSV id (`DSA-5000-1`, `GHSA-xxxx-xxxx-xxxx`, `CVE-2024-1234`, `PYSEC-2024-1`).
    pub id: String,
    /// Last modification, ms since the epoch; a re-import replaces only an older copy.
    pub modified_ms: i64,
    /// Other ids for the same issue (CVE ids); an ignore entry may name any of them.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// One line: `summary`, or the first line of `details`.
    #[serde(default)]
    pub summary: String,
    /// The rating a policy acts on (see [`crate::severity`]).
    pub severity: Severity,
    /// The CVSS base score the rating came from, when it came from one.
    #[serde(default)]
    pub score: Option<f64>,
    /// Withdrawn advisories are kept (so a later import does not resurrect an old copy) but
    /// never match.
    #[serde(default)]
    pub withdrawn: bool,
    /// Which packages and versions it hits.
    pub affected: Vec<Affected>,
}

/// One affected package of an advisory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Affected {
    /// OSV ecosystem (`Debian:12`, `Alpine:v3.19`, `PyPI`, `npm`, `crates.io`, `Go`).
    pub ecosystem: String,
    /// Package name as the advisory spells it (the source package for distros).
    pub name: String,
    /// Package URL, when given.
    #[serde(default)]
    pub purl: Option<String>,
    /// Version ranges.
    #[serde(default)]
    pub ranges: Vec<Range>,
    /// Versions listed one by one.
    #[serde(default)]
    pub versions: Vec<String>,
    /// A rating for this package only (Debian's urgency for this release), when given.
    #[serde(default)]
    pub severity: Option<Severity>,
}

/// Range types of OSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RangeKind {
    /// Versions ordered by the ecosystem's rules.
    Ecosystem,
    /// Versions ordered by SemVer 2.0.
    Semver,
    /// Commit hashes: kept, but not used to match installed packages (no commit is known).
    Git,
}

/// One event of a range; serialised as OSV writes it (`{"introduced": "1.0"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// Versions from here on are affected (`0`: from the beginning).
    Introduced(String),
    /// Versions from here on are not affected.
    Fixed(String),
    /// Versions after this one are not affected.
    LastAffected(String),
    /// Versions from here on are outside the range altogether.
    Limit(String),
}

impl Event {
    /// The version the event names.
    pub fn version(&self) -> &str {
        match self {
            Event::Introduced(v) | Event::Fixed(v) | Event::LastAffected(v) | Event::Limit(v) => v,
        }
    }
}

/// A range of affected versions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Range {
    /// How its versions are ordered.
    #[serde(rename = "type")]
    pub kind: RangeKind,
    /// Its events, in the advisory's order.
    pub events: Vec<Event>,
}

impl Range {
    /// The ordering for this range's versions in `ecosystem`: `SEMVER` ranges are SemVer (Go's
    /// flavour for Go), `ECOSYSTEM` ranges the ecosystem's own; `None` for `GIT`.
    pub fn scheme(&self, ecosystem: &str) -> Option<VersionScheme> {
        match self.kind {
            RangeKind::Git => None,
            RangeKind::Semver
                if VersionScheme::for_osv_ecosystem(ecosystem) == Some(VersionScheme::Go) =>
            {
                Some(VersionScheme::Go)
            }
            RangeKind::Semver => Some(VersionScheme::Semver),
            RangeKind::Ecosystem => VersionScheme::for_osv_ecosystem(ecosystem),
        }
    }
}

/// The result of reading one OSV document.
#[derive(Debug)]
pub struct Parsed {
    /// The advisory, with the entries we can match.
    pub advisory: Advisory,
    /// Affected entries dropped because their ecosystem cannot be ordered, by ecosystem name.
    pub dropped_ecosystems: Vec<String>,
}

#[derive(Deserialize)]
struct RawOsv {
    id: String,
    modified: String,
    #[serde(default)]
    withdrawn: Option<String>,
    #[serde(default)]
    aliases: Option<Vec<String>>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    details: Option<String>,
    #[serde(default)]
    severity: Option<Vec<RawSeverity>>,
    #[serde(default)]
    affected: Option<Vec<RawAffected>>,
    #[serde(default)]
    database_specific: Option<Value>,
}

#[derive(Deserialize)]
struct RawSeverity {
    #[serde(rename = "type")]
    kind: String,
    score: String,
}

#[derive(Deserialize)]
struct RawAffected {
    #[serde(default)]
    package: Option<RawPackage>,
    #[serde(default)]
    ranges: Option<Vec<RawRange>>,
    #[serde(default)]
    versions: Option<Vec<String>>,
    #[serde(default)]
    severity: Option<Vec<RawSeverity>>,
    #[serde(default)]
    ecosystem_specific: Option<Value>,
    #[serde(default)]
    database_specific: Option<Value>,
}

#[derive(Deserialize)]
struct RawPackage {
    ecosystem: String,
    name: String,
    #[serde(default)]
    purl: Option<String>,
}

#[derive(Deserialize)]
struct RawRange {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    events: Vec<serde_json::Map<String, Value>>,
}

/// Reads one OSV JSON document. The error says what is wrong, for a warning that also names
/// the file.
pub fn parse(bytes: &[u8]) -> Result<Parsed, String> {
    let raw: RawOsv = serde_json::from_slice(bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => format!("not an OSV advisory: {e}"),
        _ => format!("malformed JSON: {e}"),
    })?;
    let id = raw.id.trim().to_string();
    if id.is_empty() {
        return Err("the `id` is empty".into());
    }
    let modified_ms = parse_time(&raw.modified).ok_or_else(|| {
        format!(
            "{id}: `modified` is not an RFC 3339 time: {:?}",
            raw.modified
        )
    })?;

    let (mut severity, mut score) = rate(raw.severity.as_deref().unwrap_or(&[]));
    if severity == Severity::Unknown {
        severity = label_of(raw.database_specific.as_ref(), "severity");
    }

    let mut affected = Vec::new();
    let mut dropped_ecosystems = Vec::new();
    for (index, a) in raw.affected.unwrap_or_default().into_iter().enumerate() {
        let Some(package) = a.package else { continue };
        let ecosystem = package.ecosystem.trim().to_string();
        if VersionScheme::for_osv_ecosystem(&ecosystem).is_none() {
            dropped_ecosystems.push(ecosystem);
            continue;
        }
        let mut ranges = Vec::new();
        for (r, range) in a.ranges.unwrap_or_default().into_iter().enumerate() {
            let range = read_range(&ecosystem, range).map_err(|why| {
                format!(
                    "{id}: affected[{index}] ({ecosystem} {}) ranges[{r}]: {why}",
                    package.name
                )
            })?;
            ranges.push(range);
        }
        let (own, own_score) = rate(a.severity.as_deref().unwrap_or(&[]));
        let own = match own {
            Severity::Unknown => match label_of(a.database_specific.as_ref(), "severity") {
                Severity::Unknown => label_of(a.ecosystem_specific.as_ref(), "urgency"),
                s => s,
            },
            s => s,
        };
        if score.is_none() {
            score = own_score;
        }
        affected.push(Affected {
            ecosystem,
            name: package.name.trim().to_string(),
            purl: package.purl,
            ranges,
            versions: a.versions.unwrap_or_default(),
            severity: (own != Severity::Unknown).then_some(own),
        });
    }
    if affected.is_empty() && !dropped_ecosystems.is_empty() {
        dropped_ecosystems.sort();
        dropped_ecosystems.dedup();
        return Err(format!(
            "{id}: no ecosystem Railyard can match (found {}); supported: Debian, Ubuntu, Alpine, \
             Red Hat/Rocky/AlmaLinux/openSUSE, PyPI, npm, crates.io, Go",
            dropped_ecosystems.join(", ")
        ));
    }
    if severity == Severity::Unknown {
        severity = affected
            .iter()
            .filter_map(|a| a.severity)
            .max()
            .unwrap_or(Severity::Unknown);
    }
    let summary = raw
        .summary
        .filter(|s| !s.trim().is_empty())
        .or_else(|| {
            raw.details
                .as_deref()
                .and_then(|d| d.lines().find(|l| !l.trim().is_empty()))
                .map(str::to_string)
        })
        .unwrap_or_default()
        .trim()
        .to_string();
    Ok(Parsed {
        advisory: Advisory {
            id,
            modified_ms,
            aliases: raw.aliases.unwrap_or_default(),
            summary,
            severity,
            score,
            withdrawn: raw.withdrawn.is_some_and(|w| !w.trim().is_empty()),
            affected,
        },
        dropped_ecosystems,
    })
}

fn parse_time(s: &str) -> Option<i64> {
    let ts: jiff::Timestamp = s.trim().parse().ok()?;
    Some(ts.as_millisecond())
}

/// The highest-rated CVSS vector among `severity` entries (or an Ubuntu priority).
fn rate(entries: &[RawSeverity]) -> (Severity, Option<f64>) {
    let mut best: Option<f64> = None;
    let mut label = Severity::Unknown;
    for e in entries {
        match e.kind.as_str() {
            "CVSS_V3" | "CVSS_V2" | "CVSS_V4" => {
                if let Some(s) = cvss_base_score(&e.score) {
                    best = Some(best.map_or(s, |b: f64| b.max(s)));
                }
            }
            _ => label = label.max(Severity::from_label(&e.score)),
        }
    }
    match best {
        Some(s) => (Severity::from_score(s), Some(s)),
        None => (label, None),
    }
}

fn label_of(v: Option<&Value>, key: &str) -> Severity {
    v.and_then(|v| v.get(key))
        .and_then(Value::as_str)
        .map_or(Severity::Unknown, Severity::from_label)
}

fn read_range(ecosystem: &str, raw: RawRange) -> Result<Range, String> {
    let kind = match raw.kind.as_str() {
        "ECOSYSTEM" => RangeKind::Ecosystem,
        "SEMVER" => RangeKind::Semver,
        "GIT" => RangeKind::Git,
        other => {
            return Err(format!(
                "unknown range type `{other}` (ECOSYSTEM, SEMVER or GIT)"
            ));
        }
    };
    let mut events = Vec::new();
    for (i, e) in raw.events.into_iter().enumerate() {
        if e.len() != 1 {
            return Err(format!(
                "events[{i}] must have exactly one of introduced, fixed, last_affected, limit"
            ));
        }
        let (k, v) = e.into_iter().next().expect("one entry");
        let Some(v) = v.as_str().map(str::to_string) else {
            return Err(format!("events[{i}].{k} is not a string"));
        };
        events.push(match k.as_str() {
            "introduced" => Event::Introduced(v),
            "fixed" => Event::Fixed(v),
            "last_affected" => Event::LastAffected(v),
            "limit" => Event::Limit(v),
            other => return Err(format!("events[{i}]: unknown event `{other}`")),
        });
    }
    if !events.iter().any(|e| matches!(e, Event::Introduced(_))) {
        return Err("no `introduced` event".into());
    }
    let range = Range { kind, events };
    if let Some(scheme) = range.scheme(ecosystem) {
        for e in &range.events {
            let v = e.version();
            if matches!(e, Event::Introduced(_)) && v == "0" {
                continue;
            }
            if matches!(e, Event::Limit(_)) && v == "*" {
                continue;
            }
            scheme.validate(v).map_err(|err| err.to_string())?;
        }
    }
    Ok(range)
}
