//! Python: core metadata in `*.dist-info/METADATA`, `*.egg-info/PKG-INFO` or an `*.egg-info`
//! file (Debian's python3 packages install the latter).

use super::{Found, field, stanzas};
use crate::package::Ecosystem;

/// The distribution a metadata file describes, if it names one.
pub fn parse_metadata(text: &str) -> Option<Found> {
    // Headers end at the first blank line; the body is the long description.
    let head = text.split("\n\n").next().unwrap_or("");
    let head = head.replace("\r\n", "\n");
    let st = stanzas(&head).into_iter().next()?;
    let name = field(&st, "Name")?;
    let version = field(&st, "Version")?;
    let mut f = Found::new(name, version, Ecosystem::PyPI);
    f.license = license(&st);
    Some(f)
}

/// `License-Expression` (PEP 639), else a short `License`, else the licence classifiers.
fn license(st: &[(&str, String)]) -> Option<String> {
    if let Some(e) = field(st, "License-Expression") {
        return Some(e.to_string());
    }
    if let Some(l) = field(st, "License")
        && !l.contains('\n')
        && l.len() <= 80
        && l != "UNKNOWN"
    {
        return Some(l.to_string());
    }
    let classifiers: Vec<&str> = st
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("Classifier"))
        .filter_map(|(_, v)| v.strip_prefix("License ::"))
        .map(|v| v.rsplit("::").next().unwrap_or(v).trim())
        .collect();
    (!classifiers.is_empty()).then(|| classifiers.join(" AND "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_with_classifier_licence() {
        let m = "Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\nLicense: Apache 2.0\nClassifier: License :: OSI Approved :: Apache Software License\n\nBody: not a header\n";
        let f = parse_metadata(m).unwrap();
        assert_eq!(
            (f.name.as_str(), f.version.as_str()),
            ("requests", "2.31.0")
        );
        assert_eq!(f.license.as_deref(), Some("Apache 2.0"));
        let m = "Name: six\nVersion: 1.16.0\nLicense: UNKNOWN\nClassifier: License :: OSI Approved :: MIT License\n";
        assert_eq!(
            parse_metadata(m).unwrap().license.as_deref(),
            Some("MIT License")
        );
        assert!(parse_metadata("Version: 1\n").is_none());
    }
}
