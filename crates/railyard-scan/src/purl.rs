//! Package URLs (<https://github.com/package-url/purl-spec>).

use crate::catalog::Found;
use crate::package::{Distro, Ecosystem};

/// Percent-encodes everything but unreserved characters.
fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The purl of a package found on `distro`.
pub fn purl(f: &Found, distro: Option<&Distro>) -> String {
    let v = enc(&f.version);
    let mut q: Vec<(&str, String)> = Vec::new();
    let os = |default: &str| {
        distro
            .map(|d| d.id.clone())
            .unwrap_or_else(|| default.to_string())
    };
    let base = match f.ecosystem {
        Ecosystem::Deb | Ecosystem::Apk | Ecosystem::Rpm => {
            let (ty, default) = match f.ecosystem {
                Ecosystem::Deb => ("deb", "debian"),
                Ecosystem::Apk => ("apk", "alpine"),
                _ => ("rpm", "unknown"),
            };
            if let Some(a) = &f.arch {
                q.push(("arch", a.clone()));
            }
            if let Some(d) = distro {
                q.push(("distro", format!("{}-{}", d.id, d.version_id)));
            }
            if let Some(s) = &f.source_name {
                q.push(("upstream", s.clone()));
            }
            format!("pkg:{ty}/{}/{}@{v}", enc(&os(default)), enc(&f.name))
        }
        Ecosystem::PyPI => {
            let n = f.name.to_ascii_lowercase().replace(['_', '.'], "-");
            format!("pkg:pypi/{}@{v}", enc(&n))
        }
        Ecosystem::Npm => match f.name.split_once('/') {
            Some((scope, n)) if scope.starts_with('@') => {
                format!("pkg:npm/{}/{}@{v}", enc(scope), enc(n))
            }
            _ => format!("pkg:npm/{}@{v}", enc(&f.name)),
        },
        Ecosystem::Cargo => format!("pkg:cargo/{}@{v}", enc(&f.name)),
        Ecosystem::Go => {
            let path: Vec<String> = f.name.split('/').map(enc).collect();
            format!("pkg:golang/{}@{v}", path.join("/"))
        }
    };
    if q.is_empty() {
        base
    } else {
        let qs: Vec<String> = q.iter().map(|(k, v)| format!("{k}={}", enc(v))).collect();
        format!("{base}?{}", qs.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purls() {
        let d = Distro {
            id: "debian".into(),
            version_id: "12".into(),
            pretty_name: None,
        };
        let mut f = Found::new("libc6", "2.36-9+deb12u4", Ecosystem::Deb);
        f.arch = Some("amd64".into());
        f.source_name = Some("glibc".into());
        assert_eq!(
            purl(&f, Some(&d)),
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12&upstream=glibc"
        );
        assert_eq!(
            purl(&Found::new("@types/node", "20.1.0", Ecosystem::Npm), None),
            "pkg:npm/%40types/node@20.1.0"
        );
        assert_eq!(
            purl(&Found::new("Foo_Bar", "1.0", Ecosystem::PyPI), None),
            "pkg:pypi/foo-bar@1.0"
        );
        assert_eq!(
            purl(
                &Found::new("golang.org/x/net", "v0.17.0", Ecosystem::Go),
                None
            ),
            "pkg:golang/golang.org/x/net@v0.17.0"
        );
    }
}
