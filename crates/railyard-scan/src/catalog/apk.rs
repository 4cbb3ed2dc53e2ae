//! apk: `lib/apk/db/installed`.

use super::{Found, stanzas};
use crate::package::Ecosystem;

/// Packages in an apk installed database, and the files it says they own (for
/// `owned_by_os`).
pub fn parse_installed(text: &str) -> (Vec<Found>, Vec<String>) {
    let mut out = Vec::new();
    let mut owned = Vec::new();
    for st in stanzas(text) {
        let mut f = Found::new("", "", Ecosystem::Apk);
        let mut dir = String::new();
        for (k, v) in &st {
            match *k {
                "P" => f.name = v.clone(),
                "V" => f.version = v.clone(),
                "L" => f.license = Some(v.clone()).filter(|s| !s.is_empty()),
                "A" => f.arch = Some(v.clone()),
                "o" => f.source_name = Some(v.clone()),
                "F" => dir = v.clone(),
                "R" => {
                    let p = if dir.is_empty() {
                        v.clone()
                    } else {
                        format!("{dir}/{v}")
                    };
                    if super::dpkg::is_interesting_owned(&p) {
                        owned.push(p);
                    }
                }
                _ => {}
            }
        }
        if f.source_name.as_deref() == Some(f.name.as_str()) {
            f.source_name = None;
        }
        if !f.name.is_empty() && !f.version.is_empty() {
            out.push(f);
        }
    }
    (out, owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_packages_and_owned_files() {
        let db = "C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\nL:MIT\no:musl\nF:lib\nR:ld-musl-x86_64.so.1\n\nP:py3-six\nV:1.16.0-r4\no:py3-six-src\nF:usr/lib/python3.11/site-packages/six-1.16.0.dist-info\nR:METADATA\nF:usr/bin\nR:six\n";
        let (p, owned) = parse_installed(db);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].name, "musl");
        assert_eq!(p[0].license.as_deref(), Some("MIT"));
        assert_eq!(p[0].source_name, None);
        assert_eq!(p[1].source_name.as_deref(), Some("py3-six-src"));
        assert_eq!(
            owned,
            vec![
                "usr/lib/python3.11/site-packages/six-1.16.0.dist-info/METADATA",
                "usr/bin/six"
            ]
        );
    }
}
