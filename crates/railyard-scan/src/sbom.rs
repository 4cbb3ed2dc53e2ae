//! SBOM documents: CycloneDX 1.5 JSON and SPDX 2.3 JSON, written as serde_json values
//! checked against the specs' required fields (the cyclonedx-bom and spdx crates bring large
//! models for the few fields an image inventory fills).
//!
//! Railyard's own facts (layer, instruction, location) go into CycloneDX `properties` under
//! the `railyard:` namespace and into SPDX package `comment`s.

use crate::package::{ImageInventory, Package};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const TOOL: &str = concat!("railyard-", env!("CARGO_PKG_VERSION"));

/// A UUID (v4 layout) derived from the inventory and time, so two documents differ but a
/// test can reproduce one.
fn uuid(inv: &ImageInventory, created: &str) -> String {
    let h = Sha256::digest(format!("{}\n{}\n{}", inv.image_id, inv.reference, created));
    let mut b: [u8; 16] = h[..16].try_into().unwrap_or([0; 16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &x[..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..]
    )
}

fn props(p: &Package) -> Vec<Value> {
    let mut v = vec![
        json!({"name": "railyard:ecosystem", "value": p.ecosystem.as_str()}),
        json!({"name": "railyard:location", "value": p.location}),
        json!({"name": "railyard:layer:index", "value": p.layer.index.to_string()}),
        json!({"name": "railyard:layer:diff_id", "value": p.layer.diff_id}),
    ];
    if let Some(i) = &p.layer.instruction {
        v.push(json!({"name": "railyard:layer:instruction", "value": i}));
    }
    if let Some(s) = &p.source_name {
        v.push(json!({"name": "railyard:source_name", "value": s}));
    }
    if let Some(s) = &p.source_version {
        v.push(json!({"name": "railyard:source_version", "value": s}));
    }
    if p.owned_by_os {
        v.push(json!({"name": "railyard:owned_by_os", "value": "true"}));
    }
    v
}

/// CycloneDX 1.5 JSON. `created` is an RFC 3339 UTC time (`2026-11-28T10:00:00Z`).
pub fn cyclonedx(inv: &ImageInventory, created: &str) -> Value {
    let mut components: Vec<Value> = inv
        .packages
        .iter()
        .map(|p| {
            let mut c = json!({
                "type": "library",
                "bom-ref": p.purl,
                "name": p.name,
                "version": p.version,
                "purl": p.purl,
                "properties": props(p),
            });
            if let Some(l) = &p.license {
                c["licenses"] = if spdx_license(p).is_some() {
                    json!([{ "expression": l }])
                } else if p.ecosystem == crate::package::Ecosystem::Deb {
                    // Debian's short names (`GPL-2+`, `public-domain`) are no SPDX ids.
                    l.split(" AND ")
                        .map(|n| json!({ "license": { "name": n } }))
                        .collect()
                } else {
                    json!([{ "license": { "name": l } }])
                };
            }
            c
        })
        .collect();
    // Duplicate purls (one package at two locations) would break bom-ref uniqueness.
    let mut seen = std::collections::HashMap::<String, usize>::new();
    for c in &mut components {
        let r = c["bom-ref"].as_str().unwrap_or_default().to_string();
        let n = seen.entry(r.clone()).or_default();
        *n += 1;
        if *n > 1 {
            c["bom-ref"] = json!(format!("{r}#{n}"));
        }
    }
    if let Some(d) = &inv.distro {
        components.push(json!({
            "type": "operating-system",
            "bom-ref": format!("os:{}@{}", d.id, d.version_id),
            "name": d.id,
            "version": d.version_id,
            "description": d.pretty_name,
        }));
    }
    json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": format!("urn:uuid:{}", uuid(inv, created)),
        "version": 1,
        "metadata": {
            "timestamp": created,
            "tools": { "components": [ { "type": "application", "name": "railyard", "version": env!("CARGO_PKG_VERSION") } ] },
            "component": {
                "type": "container",
                "bom-ref": inv.image_id,
                "name": inv.reference,
                "version": inv.image_id,
            }
        },
        "components": components,
    })
}

/// SPDX 2.3 JSON. `created` is an RFC 3339 UTC time without fractions.
pub fn spdx(inv: &ImageInventory, created: &str) -> Value {
    let id = uuid(inv, created);
    let mut packages = vec![json!({
        "name": inv.reference,
        "SPDXID": "SPDXRef-Image",
        "versionInfo": inv.image_id,
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": "NOASSERTION",
        "copyrightText": "NOASSERTION",
        "primaryPackagePurpose": "CONTAINER",
    })];
    let mut relationships = vec![json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": "SPDXRef-Image",
    })];
    for (i, p) in inv.packages.iter().enumerate() {
        let spdx_id = format!("SPDXRef-Package-{}-{}", p.ecosystem.as_str(), i);
        let declared = spdx_license(p).unwrap_or("NOASSERTION");
        let mut comment = format!(
            "layer {} ({}) at {}",
            p.layer.index, p.layer.diff_id, p.location
        );
        if let Some(ins) = &p.layer.instruction {
            comment.push_str(&format!("; instruction: {ins}"));
        }
        let mut pkg = json!({
            "name": p.name,
            "SPDXID": spdx_id,
            "versionInfo": p.version,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": declared,
            "copyrightText": "NOASSERTION",
            "externalRefs": [{
                "referenceCategory": "PACKAGE-MANAGER",
                "referenceType": "purl",
                "referenceLocator": p.purl,
            }],
            "comment": comment,
        });
        if let Some(s) = &p.source_name {
            pkg["sourceInfo"] = json!(format!(
                "built from source package {s} {}",
                p.source_or_version()
            ));
        }
        packages.push(pkg);
        relationships.push(json!({
            "spdxElementId": "SPDXRef-Image",
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": spdx_id,
        }));
    }
    json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": inv.reference,
        "documentNamespace": format!("https://railyard.invalid/spdx/{}/{id}", inv.image_id.trim_start_matches("sha256:")),
        "creationInfo": {
            "created": created,
            "creators": [format!("Tool: {TOOL}")],
        },
        "packages": packages,
        "relationships": relationships,
    })
}

/// The package's licence when it can stand as an SPDX expression. Debian packages' licences
/// come from copyright files in Debian's own short names (`GPL-2+`, `public-domain`), which
/// SPDX validators reject, so they never do (the table and JSON show them).
fn spdx_license(p: &Package) -> Option<&str> {
    p.license
        .as_deref()
        .filter(|l| p.ecosystem != crate::package::Ecosystem::Deb && is_spdx_expression(l))
}

/// A syntactic check for SPDX license expressions: identifiers (`MIT`, `GPL-2.0-or-later`,
/// `LicenseRef-x`) joined by `AND`, `OR`, `WITH`, with parentheses. `MIT License` is not one.
pub fn is_spdx_expression(s: &str) -> bool {
    let spaced = s.replace('(', " ( ").replace(')', " ) ");
    let mut expect_id = true;
    let mut depth = 0i32;
    let mut any = false;
    for tok in spaced.split_whitespace() {
        match tok {
            "(" if expect_id => depth += 1,
            ")" if !expect_id => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            "AND" | "OR" | "WITH" if !expect_id => expect_id = true,
            t if expect_id
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | ':')) =>
            {
                expect_id = false;
                any = true;
            }
            _ => return false,
        }
    }
    any && !expect_id && depth == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::package::{Distro, Ecosystem, LayerInfo, LayerRef, ScanStats};

    fn inv() -> ImageInventory {
        let layer = LayerRef {
            index: 1,
            diff_id: "sha256:bb".into(),
            instruction: Some("RUN apt-get install -y jq".into()),
        };
        ImageInventory {
            image_id: "sha256:abc".into(),
            reference: "app:1".into(),
            distro: Some(Distro {
                id: "debian".into(),
                version_id: "12".into(),
                pretty_name: None,
            }),
            layers: vec![LayerInfo {
                index: 1,
                diff_id: "sha256:bb".into(),
                instruction: None,
                size: 1,
            }],
            packages: vec![
                Package {
                    name: "jq".into(),
                    version: "1.6-2.1".into(),
                    ecosystem: Ecosystem::Deb,
                    purl: "pkg:deb/debian/jq@1.6-2.1".into(),
                    source_name: None,
                    source_version: None,
                    license: None,
                    arch: Some("amd64".into()),
                    location: "var/lib/dpkg/status".into(),
                    layer: layer.clone(),
                    owned_by_os: false,
                },
                Package {
                    name: "six".into(),
                    version: "1.16.0".into(),
                    ecosystem: Ecosystem::PyPI,
                    purl: "pkg:pypi/six@1.16.0".into(),
                    source_name: None,
                    source_version: None,
                    license: Some("MIT".into()),
                    arch: None,
                    location: "x/six-1.16.0.dist-info/METADATA".into(),
                    layer,
                    owned_by_os: true,
                },
            ],
            warnings: vec![],
            stats: ScanStats::default(),
        }
    }

    #[test]
    fn cyclonedx_has_required_fields() {
        let d = cyclonedx(&inv(), "2026-11-28T10:00:00Z");
        assert_eq!(d["bomFormat"], "CycloneDX");
        assert_eq!(d["specVersion"], "1.5");
        assert!(d["serialNumber"].as_str().unwrap().starts_with("urn:uuid:"));
        let comps = d["components"].as_array().unwrap();
        assert_eq!(comps.len(), 3);
        for c in comps {
            assert!(c["type"].is_string() && c["name"].is_string());
        }
        assert_eq!(comps[1]["licenses"][0]["expression"], "MIT");
        assert_eq!(comps[2]["type"], "operating-system");
    }

    #[test]
    fn spdx_has_required_fields() {
        let d = spdx(&inv(), "2026-11-28T10:00:00Z");
        for k in [
            "spdxVersion",
            "dataLicense",
            "SPDXID",
            "name",
            "documentNamespace",
        ] {
            assert!(d[k].is_string(), "{k}");
        }
        let pkgs = d["packages"].as_array().unwrap();
        assert_eq!(pkgs.len(), 3);
        for p in pkgs {
            for k in [
                "name",
                "SPDXID",
                "downloadLocation",
                "licenseConcluded",
                "copyrightText",
            ] {
                assert!(p[k].is_string(), "{k} in {p}");
            }
            let id = p["SPDXID"].as_str().unwrap();
            assert!(
                id.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            );
        }
        assert_eq!(d["relationships"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn spdx_expressions() {
        for ok in [
            "MIT",
            "MIT OR Apache-2.0",
            "(MIT AND BSD-3-Clause) OR GPL-2.0+",
            "GPL-2.0-only WITH Classpath-exception-2.0",
        ] {
            assert!(is_spdx_expression(ok), "{ok}");
        }
        for bad in [
            "",
            "MIT License",
            "MIT AND",
            "(MIT",
            "Apache 2.0",
            "BSD, MIT",
        ] {
            assert!(!is_spdx_expression(bad), "{bad}");
        }
    }
}
