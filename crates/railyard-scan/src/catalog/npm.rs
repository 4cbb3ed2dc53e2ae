//! npm: `package.json` of packages installed under `node_modules`.

use super::Found;
use crate::package::Ecosystem;

/// True when `dir` is `…/node_modules/NAME` or `…/node_modules/@SCOPE/NAME`.
pub fn is_installed_package_dir(dir: &str) -> bool {
    let mut it = dir.rsplit('/');
    let Some(name) = it.next() else { return false };
    if name.is_empty() || name.starts_with('.') {
        return false;
    }
    match it.next() {
        Some("node_modules") => true,
        Some(scope) if scope.starts_with('@') => it.next() == Some("node_modules"),
        _ => false,
    }
}

/// The package a `package.json` declares (name and version both required).
pub fn parse_package_json(bytes: &[u8]) -> Option<Found> {
    let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let name = v.get("name")?.as_str()?;
    let version = v.get("version")?.as_str()?;
    if name.is_empty() || version.is_empty() {
        return None;
    }
    let mut f = Found::new(name, version, Ecosystem::Npm);
    f.license = match v.get("license") {
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(obj) => obj.get("type").and_then(|t| t.as_str()).map(str::to_string),
        None => None,
    };
    Some(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_json() {
        let f = parse_package_json(br#"{"name":"@types/node","version":"20.1.0","license":"MIT"}"#)
            .unwrap();
        assert_eq!(f.name, "@types/node");
        assert_eq!(f.license.as_deref(), Some("MIT"));
        let f = parse_package_json(br#"{"name":"x","version":"1.0.0","license":{"type":"ISC"}}"#)
            .unwrap();
        assert_eq!(f.license.as_deref(), Some("ISC"));
        assert!(parse_package_json(br#"{"name":"x"}"#).is_none());
        assert!(parse_package_json(b"{not json").is_none());
    }
}
