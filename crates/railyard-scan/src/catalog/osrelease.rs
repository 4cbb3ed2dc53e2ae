//! `os-release`: which distribution and release an image is built on.

use crate::package::Distro;

/// Reads `ID`, `VERSION_ID` and `PRETTY_NAME`; `None` without an `ID`.
pub fn parse(text: &str) -> Option<Distro> {
    let mut id = None;
    let mut version_id = String::new();
    let mut pretty = None;
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim().trim_matches('"').trim_matches('\'').to_string();
        match k.trim() {
            "ID" => id = Some(v),
            "VERSION_ID" => version_id = v,
            "PRETTY_NAME" => pretty = Some(v),
            _ => {}
        }
    }
    Some(Distro {
        id: id.filter(|s| !s.is_empty())?,
        version_id,
        pretty_name: pretty,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_and_alpine() {
        let d = parse("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n").unwrap();
        assert_eq!((d.id.as_str(), d.version_id.as_str()), ("debian", "12"));
        assert_eq!(d.osv_ecosystem().as_deref(), Some("Debian:12"));
        let a = parse("NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19.1\n").unwrap();
        assert_eq!(a.osv_ecosystem().as_deref(), Some("Alpine:v3.19"));
        assert!(parse("NAME=x\n").is_none());
    }
}
