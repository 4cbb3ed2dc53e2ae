//! OSV documents and inventories the tests write themselves.

use railyard_scan::{Distro, Ecosystem, ImageInventory, LayerInfo, LayerRef, Package};
use serde_json::{Value, json};

/// An OSV advisory for one package with one ECOSYSTEM range.
pub fn osv(id: &str, ecosystem: &str, name: &str, introduced: &str, fixed: &str) -> Value {
    json!({
        "schema_version": "1.6.0",
        "id": id,
        "modified": "2026-11-01T10:00:00Z",
        "published": "2026-10-01T10:00:00Z",
        "aliases": [format!("CVE-{id}")],
        "summary": format!("{name} is vulnerable"),
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
        "affected": [{
            "package": {"ecosystem": ecosystem, "name": name},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": introduced}, {"fixed": fixed}]}]
        }]
    })
}

pub fn layer(index: usize, instruction: &str) -> LayerRef {
    LayerRef {
        index,
        diff_id: format!("sha256:{index:064x}"),
        instruction: Some(instruction.to_string()),
    }
}

pub fn package(ecosystem: Ecosystem, name: &str, version: &str, layer_index: usize) -> Package {
    Package {
        name: name.to_string(),
        version: version.to_string(),
        ecosystem,
        purl: format!("pkg:{}/{name}@{version}", ecosystem.as_str()),
        source_name: None,
        source_version: None,
        license: None,
        arch: None,
        location: match ecosystem {
            Ecosystem::Deb => "var/lib/dpkg/status".to_string(),
            _ => format!("usr/lib/{name}"),
        },
        layer: layer(
            layer_index,
            if layer_index == 0 {
                "ADD rootfs.tar /"
            } else {
                "RUN install"
            },
        ),
        owned_by_os: false,
    }
}

/// Built through serde so fields the scanner adds later (with defaults) need no change here.
pub fn inventory(distro: Option<(&str, &str)>, packages: Vec<Package>) -> ImageInventory {
    let distro = distro.map(|(id, v)| Distro {
        id: id.into(),
        version_id: v.into(),
        pretty_name: None,
    });
    let layers: Vec<LayerInfo> = (0..2)
        .map(|i| LayerInfo {
            index: i,
            diff_id: format!("sha256:{i:064x}"),
            instruction: None,
            size: 0,
        })
        .collect();
    serde_json::from_value(json!({
        "image_id": "sha256:feed",
        "reference": "example:latest",
        "distro": distro,
        "layers": layers,
        "packages": packages,
    }))
    .expect("inventory fixture")
}
