//! Scanning an image: through the Engine API export (`GET /images/{name}/get`) or a
//! `docker save` file, with the layer cache deciding what must be read.
//!
//! When the cache holds every layer of an image and its config, the image is not exported
//! at all. Otherwise the export streams through once; layers whose scans are cached are
//! recognised by their size and only hashed (the hash must match, or the scan is redone
//! without skipping).

use crate::archive::{ImageMeta, LayerOutcome, ManifestEntry, Saved, parse_config, read_save};
use crate::cache::LayerCache;
use crate::errors::ScanError;
use crate::layer::LayerScan;
use crate::merge::merge;
use crate::package::{ImageInventory, LayerInfo, ScanStats};
use bytes::{Buf, Bytes};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::{self, Read};
use std::path::Path;

/// Scans a local image by reference or ID through the Docker Engine API.
pub async fn scan_image(
    docker: &bollard::Docker,
    reference: &str,
    cache: &dyn LayerCache,
) -> Result<ImageInventory, ScanError> {
    let inspect = docker.inspect_image(reference).await.map_err(|e| match e {
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        } => ScanError::ImageNotFound {
            reference: reference.to_string(),
        },
        source => ScanError::Docker {
            call: "inspect image",
            reference: reference.to_string(),
            source,
        },
    })?;
    let image_id = inspect.id.unwrap_or_default();
    let diff_ids = inspect.root_fs.and_then(|r| r.layers).unwrap_or_default();

    let mut cached: HashMap<String, LayerScan> = HashMap::new();
    for d in &diff_ids {
        if let Some(s) = cache.get_layer(d).await.map_err(cache_err)? {
            cached.insert(d.clone(), s);
        }
    }
    if diff_ids.iter().all(|d| cached.contains_key(d))
        && let Some(config) = cache.get_config(&image_id).await.map_err(cache_err)?
    {
        let meta = parse_config(&config).map_err(|reason| ScanError::Archive {
            reference: reference.to_string(),
            reason,
        })?;
        if meta.diff_ids == diff_ids {
            let layers = meta
                .diff_ids
                .iter()
                .map(|d| cached.get(d).cloned().unwrap_or_default())
                .collect();
            let stats = ScanStats {
                layers_read: 0,
                layers_cached: diff_ids.len(),
                exported: false,
            };
            return Ok(build(reference, &meta, layers, Vec::new(), stats));
        }
    }

    // Sizes that name exactly one cached layer of this image.
    let mut by_size: HashMap<u64, Vec<&String>> = HashMap::new();
    for (d, s) in &cached {
        by_size.entry(s.size).or_default().push(d);
    }
    let skip: HashMap<u64, String> = by_size
        .into_iter()
        .filter(|(size, ds)| ds.len() == 1 && *size > 0)
        .map(|(size, ds)| (size, ds[0].clone()))
        .collect();

    let saved = export(docker, reference, skip).await?;
    let assembled = match assemble(reference, saved, &cached, Some(&image_id))? {
        Some(a) => a,
        None => {
            // A skipped layer was not the cached one after all: read everything.
            let saved = export(docker, reference, HashMap::new()).await?;
            assemble(reference, saved, &cached, Some(&image_id))?.ok_or_else(|| {
                ScanError::Incomplete {
                    reference: reference.to_string(),
                    missing: "layers".to_string(),
                }
            })?
        }
    };
    finish(reference, assembled, cache).await
}

/// Scans a `docker save` archive file.
pub async fn scan_archive(
    path: &Path,
    cache: &dyn LayerCache,
) -> Result<ImageInventory, ScanError> {
    let reference = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| ScanError::Io {
        path: reference.clone(),
        source,
    })?;
    let r = reference.clone();
    let saved = tokio::task::spawn_blocking(move || {
        read_save(io::BufReader::with_capacity(1 << 20, file), &HashMap::new())
    })
    .await
    .map_err(|e| ScanError::Archive {
        reference: r.clone(),
        reason: e.to_string(),
    })?
    .map_err(|reason| ScanError::Archive {
        reference: r,
        reason,
    })?;
    let assembled = assemble(&reference, saved, &HashMap::new(), None)?.ok_or_else(|| {
        ScanError::Incomplete {
            reference: reference.clone(),
            missing: "layers".to_string(),
        }
    })?;
    finish(&reference, assembled, cache).await
}

struct Assembled {
    config: Vec<u8>,
    meta: ImageMeta,
    layers: Vec<LayerScan>,
    fresh: Vec<bool>,
    warnings: Vec<String>,
}

async fn finish(
    reference: &str,
    a: Assembled,
    cache: &dyn LayerCache,
) -> Result<ImageInventory, ScanError> {
    for (i, scan) in a.layers.iter().enumerate() {
        if a.fresh[i] && scan.complete {
            cache
                .put_layer(&a.meta.diff_ids[i], scan)
                .await
                .map_err(cache_err)?;
        }
    }
    if a.layers.iter().all(|s| s.complete) {
        cache
            .put_config(&a.meta.image_id, &a.config)
            .await
            .map_err(cache_err)?;
    }
    let read = a.fresh.iter().filter(|f| **f).count();
    let stats = ScanStats {
        layers_read: read,
        layers_cached: a.layers.len() - read,
        exported: true,
    };
    Ok(build(reference, &a.meta, a.layers, a.warnings, stats))
}

fn build(
    reference: &str,
    meta: &ImageMeta,
    layers: Vec<LayerScan>,
    mut warnings: Vec<String>,
    stats: ScanStats,
) -> ImageInventory {
    let infos: Vec<LayerInfo> = meta
        .diff_ids
        .iter()
        .enumerate()
        .map(|(i, d)| LayerInfo {
            index: i,
            diff_id: d.clone(),
            instruction: meta.instructions.get(i).cloned().flatten(),
            size: layers.get(i).map(|s| s.size).unwrap_or(0),
        })
        .collect();
    for (info, s) in infos.iter().zip(&layers) {
        let hex = info.diff_id.trim_start_matches("sha256:");
        let short = &hex[..hex.len().min(12)];
        for w in &s.warnings {
            warnings.push(format!("layer {} ({short}): {w}", info.index));
        }
    }
    let input: Vec<(LayerInfo, &LayerScan)> = infos.iter().cloned().zip(layers.iter()).collect();
    let (packages, distro) = merge(&input);
    ImageInventory {
        image_id: meta.image_id.clone(),
        reference: reference.to_string(),
        distro,
        layers: infos,
        packages,
        warnings,
        stats,
    }
}

/// Puts an archive's pieces in layer order. `Ok(None)` when a skipped layer turned out not to
/// be the cached one.
fn assemble(
    reference: &str,
    mut saved: Saved,
    cached: &HashMap<String, LayerScan>,
    image_id: Option<&str>,
) -> Result<Option<Assembled>, ScanError> {
    let incomplete = |missing: String| ScanError::Incomplete {
        reference: reference.to_string(),
        missing,
    };
    let manifest_bytes = saved
        .jsons
        .get("manifest.json")
        .ok_or_else(|| incomplete("manifest.json".to_string()))?;
    let manifest: Vec<ManifestEntry> =
        serde_json::from_slice(manifest_bytes).map_err(|e| ScanError::Archive {
            reference: reference.to_string(),
            reason: format!("manifest.json: {e}"),
        })?;
    let hash = |b: &[u8]| format!("sha256:{}", hex::encode(Sha256::digest(b)));
    let entry = manifest
        .iter()
        .find(|m| {
            image_id.is_none_or(|id| saved.jsons.get(&m.config).is_some_and(|c| hash(c) == id))
        })
        .or(manifest.first())
        .ok_or_else(|| incomplete("an image in manifest.json".to_string()))?;
    let config = saved
        .jsons
        .get(&entry.config)
        .cloned()
        .ok_or_else(|| incomplete(format!("image config `{}`", entry.config)))?;
    let meta = parse_config(&config).map_err(|reason| ScanError::Archive {
        reference: reference.to_string(),
        reason,
    })?;
    if meta.diff_ids.len() != entry.layers.len() {
        return Err(ScanError::Archive {
            reference: reference.to_string(),
            reason: format!(
                "manifest lists {} layers, config {}",
                entry.layers.len(),
                meta.diff_ids.len()
            ),
        });
    }
    let mut layers = Vec::new();
    let mut fresh = Vec::new();
    let mut warnings = Vec::new();
    for (i, path) in entry.layers.iter().enumerate() {
        let expected = &meta.diff_ids[i];
        let outcome = saved
            .layers
            .get_mut(path)
            .ok_or_else(|| incomplete(format!("layer `{path}` listed in manifest.json")))?;
        match outcome {
            LayerOutcome::Scanned { scan, diff_id } => {
                let mut scan = scan.clone();
                if scan.complete && diff_id != expected {
                    warnings.push(format!(
                        "layer {i} (`{path}`) hashes to {diff_id}, the config says {expected}: \
                         the archive is damaged; its scan is not cached"
                    ));
                    scan.complete = false;
                }
                layers.push(scan);
                fresh.push(true);
            }
            LayerOutcome::Skipped { diff_id, size } => match cached.get(expected) {
                Some(s) if diff_id == expected && s.size == *size => {
                    layers.push(s.clone());
                    fresh.push(false);
                }
                _ => return Ok(None),
            },
        }
    }
    Ok(Some(Assembled {
        config,
        meta,
        layers,
        fresh,
        warnings,
    }))
}

/// Streams the engine's export into [`read_save`] on a blocking thread.
async fn export(
    docker: &bollard::Docker,
    reference: &str,
    skip: HashMap<u64, String>,
) -> Result<Saved, ScanError> {
    let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(16);
    let d = docker.clone();
    let r = reference.to_string();
    let forward = tokio::spawn(async move {
        let mut stream = Box::pin(d.export_image(&r));
        while let Some(item) = stream.next().await {
            let item = item.map_err(io::Error::other);
            let stop = item.is_err();
            if tx.send(item).await.is_err() || stop {
                break;
            }
        }
    });
    let reader = ChannelReader {
        rx,
        cur: Bytes::new(),
    };
    let res = tokio::task::spawn_blocking(move || {
        read_save(io::BufReader::with_capacity(1 << 20, reader), &skip)
    })
    .await;
    forward.abort();
    res.map_err(|e| ScanError::Archive {
        reference: reference.to_string(),
        reason: e.to_string(),
    })?
    .map_err(|reason| ScanError::Archive {
        reference: reference.to_string(),
        reason,
    })
}

/// A blocking reader over chunks sent from an async task (back-pressure through the bounded
/// channel).
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<io::Result<Bytes>>,
    cur: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.cur = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        self.cur.advance(n);
        Ok(n)
    }
}

fn cache_err(e: crate::cache::CacheError) -> ScanError {
    ScanError::Cache(e.to_string())
}
