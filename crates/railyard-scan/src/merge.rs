//! Stacking layer scans into the image's final view, and crediting each package to the layer
//! that starts its last unbroken run of presence.
//!
//! The merge works on [`LayerScan`]s alone (never on layer bytes), so a cached layer costs no
//! reading. Walking the layers base first, each layer first deletes (opaque folders, then
//! whiteouts), then writes its catalogued files. After each layer the set of present packages
//! is compared with the previous one: a package present now but not before starts a run at
//! this layer; one that disappears loses its run. A package rewritten in place (dpkg rewrites
//! `status` for every install) keeps its run, and one removed and reinstalled counts from the
//! reinstall.

use crate::catalog::Found;
use crate::layer::{FoundFile, LayerScan};
use crate::package::{Distro, LayerInfo, LayerRef, Package};
use crate::purl;
use std::collections::{BTreeMap, HashMap, HashSet};

type Key<'a> = (&'a str, &'a Found);

/// The packages and release of an image whose layers (base first) scanned as `layers`.
pub fn merge(layers: &[(LayerInfo, &LayerScan)]) -> (Vec<Package>, Option<Distro>) {
    let mut view: BTreeMap<&str, &FoundFile> = BTreeMap::new();
    let mut starts: HashMap<Key<'_>, usize> = HashMap::new();
    for (i, (_, scan)) in layers.iter().enumerate() {
        for dir in &scan.opaque {
            remove_under(&mut view, dir, false);
        }
        for p in &scan.removed {
            remove_under(&mut view, p, true);
        }
        for f in &scan.files {
            view.insert(f.path.as_str(), f);
        }
        let mut next = HashMap::with_capacity(starts.len());
        for (path, f) in &view {
            for p in &f.packages {
                let k = (*path, p);
                let start = starts.get(&k).copied().unwrap_or(i);
                next.insert(k, start);
            }
        }
        starts = next;
    }

    let distro = ["etc/os-release", "usr/lib/os-release"]
        .iter()
        .find_map(|p| view.get(p).and_then(|f| f.distro.clone()));

    let mut owned: HashSet<String> = HashSet::new();
    for f in view.values() {
        for o in &f.owned {
            owned.insert(o.clone());
            // usrmerge: `/bin/x` in a list is `usr/bin/x` in the layer, and back.
            match o.strip_prefix("usr/") {
                Some(rest) => owned.insert(rest.to_string()),
                None => owned.insert(format!("usr/{o}")),
            };
        }
    }

    // Debian packages' licences come from their copyright files in the final view.
    let deb_licenses: HashMap<&str, String> = view
        .iter()
        .filter(|(_, f)| !f.licenses.is_empty())
        .filter_map(|(path, f)| {
            let name = crate::catalog::dpkg::copyright_owner(path.strip_prefix("usr/share/doc/")?)?;
            Some((name, f.licenses.join(" AND ")))
        })
        .collect();

    let mut out = Vec::new();
    for ((path, found), start) in starts {
        let (info, _) = &layers[start];
        let owned_by_os = !found.ecosystem.is_os()
            && (owned.contains(path)
                || path
                    .rsplit_once('/')
                    .is_some_and(|(dir, _)| owned.contains(dir)));
        out.push(Package {
            name: found.name.clone(),
            version: found.version.clone(),
            ecosystem: found.ecosystem,
            purl: purl::purl(found, distro.as_ref()),
            source_name: found.source_name.clone(),
            source_version: found.source_version.clone(),
            license: found.license.clone().or_else(|| {
                (found.ecosystem == crate::package::Ecosystem::Deb)
                    .then(|| deb_licenses.get(found.name.as_str()).cloned())
                    .flatten()
            }),
            arch: found.arch.clone(),
            location: path.to_string(),
            layer: LayerRef {
                index: info.index,
                diff_id: info.diff_id.clone(),
                instruction: info.instruction.clone(),
            },
            owned_by_os,
        });
    }
    out.sort_by(|a, b| {
        (a.ecosystem, &a.name, &a.version, &a.location).cmp(&(
            b.ecosystem,
            &b.name,
            &b.version,
            &b.location,
        ))
    });
    (out, distro)
}

/// Removes `p` (when `itself`) and every path under it.
fn remove_under(view: &mut BTreeMap<&str, &FoundFile>, p: &str, itself: bool) {
    if p.is_empty() {
        view.clear();
        return;
    }
    if itself {
        view.remove(p);
    }
    let prefix = format!("{p}/");
    let doomed: Vec<&str> = view
        .range(prefix.as_str()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .map(|(k, _)| *k)
        .collect();
    for k in doomed {
        view.remove(k);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::package::Ecosystem;

    fn deb(name: &str, version: &str) -> Found {
        Found::new(name, version, Ecosystem::Deb)
    }

    fn status(pkgs: &[Found]) -> FoundFile {
        FoundFile {
            path: "var/lib/dpkg/status".into(),
            packages: pkgs.to_vec(),
            distro: None,
            owned: vec![],
            licenses: vec![],
        }
    }

    fn layer(i: usize) -> LayerInfo {
        LayerInfo {
            index: i,
            diff_id: format!("sha256:{i}"),
            instruction: Some(format!("RUN step {i}")),
            size: 0,
        }
    }

    fn credited(scans: &[LayerScan]) -> Vec<(String, String, usize)> {
        let input: Vec<(LayerInfo, &LayerScan)> = scans
            .iter()
            .enumerate()
            .map(|(i, s)| (layer(i), s))
            .collect();
        merge(&input)
            .0
            .into_iter()
            .map(|p| (p.name, p.version, p.layer.index))
            .collect()
    }

    fn with_files(files: Vec<FoundFile>) -> LayerScan {
        LayerScan {
            files,
            complete: true,
            ..Default::default()
        }
    }

    #[test]
    fn credits_start_of_last_run() {
        let a = deb("a", "1");
        let b = deb("b", "1");
        let c = deb("c", "1");
        let scans = vec![
            with_files(vec![status(&[a.clone(), b.clone()])]),
            with_files(vec![status(&[a.clone(), b.clone(), c.clone()])]), // installs c
            with_files(vec![status(&[a.clone(), c.clone()])]),            // removes b
            with_files(vec![status(&[a.clone(), b.clone(), c.clone()])]), // reinstalls b
            with_files(vec![status(&[a.clone(), b.clone(), deb("c", "2")])]), // upgrades c
        ];
        assert_eq!(
            credited(&scans),
            vec![
                ("a".into(), "1".into(), 0),
                ("b".into(), "1".into(), 3),
                ("c".into(), "2".into(), 4),
            ]
        );
    }

    #[test]
    fn deb_licences_from_copyright_files() {
        let copyright = |name: &str, l: &[&str]| FoundFile {
            path: format!("usr/share/doc/{name}/copyright"),
            packages: vec![],
            distro: None,
            owned: vec![],
            licenses: l.iter().map(|s| s.to_string()).collect(),
        };
        let scans = [
            with_files(vec![
                status(&[deb("a", "1"), deb("b", "1")]),
                copyright("a", &["GPL-2", "MIT"]),
                copyright("b", &["BSD-3-clause"]),
            ]),
            // b's copyright file is removed: no licence known any more.
            LayerScan {
                removed: vec!["usr/share/doc/b".into()],
                ..Default::default()
            },
        ];
        let input: Vec<(LayerInfo, &LayerScan)> = scans
            .iter()
            .enumerate()
            .map(|(i, s)| (layer(i), s))
            .collect();
        let (p, _) = merge(&input);
        assert_eq!(p[0].license.as_deref(), Some("GPL-2 AND MIT"));
        assert_eq!(p[1].license, None);
    }

    #[test]
    fn whiteouts_and_opaque_folders() {
        let py = |dir: &str, name: &str| FoundFile {
            path: format!("{dir}/{name}-1.0.dist-info/METADATA"),
            packages: vec![Found::new(name, "1.0", Ecosystem::PyPI)],
            distro: None,
            owned: vec![],
            licenses: vec![],
        };
        let sp = "venv/lib/python3.11/site-packages";
        let scans = vec![
            with_files(vec![py(sp, "one"), py(sp, "two"), py("opt/x", "three")]),
            LayerScan {
                removed: vec![format!("{sp}/one-1.0.dist-info")],
                ..Default::default()
            },
            LayerScan {
                opaque: vec!["opt".into()],
                files: vec![py("opt/y", "four")],
                ..Default::default()
            },
            // Removing the parent folder removes everything under it.
            LayerScan {
                removed: vec!["venv".into()],
                ..Default::default()
            },
        ];
        let got: Vec<String> = credited(&scans).into_iter().map(|(n, _, _)| n).collect();
        assert_eq!(got, vec!["four"]);
        let got: Vec<String> = credited(&scans[..3])
            .into_iter()
            .map(|(n, _, _)| n)
            .collect();
        assert_eq!(got, vec!["four", "two"]);
    }

    #[test]
    fn owned_by_os_and_distro() {
        let scans = [with_files(vec![
            FoundFile {
                path: "var/lib/dpkg/info/python3-six.list".into(),
                packages: vec![],
                distro: None,
                owned: vec!["usr/lib/python3/dist-packages/six-1.16.0.egg-info".into()],
                licenses: vec![],
            },
            FoundFile {
                path: "usr/lib/python3/dist-packages/six-1.16.0.egg-info".into(),
                packages: vec![Found::new("six", "1.16.0", Ecosystem::PyPI)],
                distro: None,
                owned: vec![],
                licenses: vec![],
            },
            FoundFile {
                path: "usr/lib/os-release".into(),
                packages: vec![],
                distro: Some(Distro {
                    id: "debian".into(),
                    version_id: "12".into(),
                    pretty_name: None,
                }),
                owned: vec![],
                licenses: vec![],
            },
        ])];
        let input = vec![(layer(0), &scans[0])];
        let (p, d) = merge(&input);
        assert!(p[0].owned_by_os);
        assert_eq!(d.unwrap().version_id, "12");
    }
}
