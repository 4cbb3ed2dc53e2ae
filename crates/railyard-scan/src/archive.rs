//! Reading a `docker save` archive as one stream: `manifest.json`, the image config
//! (`rootfs.diff_ids`, `history`) and each layer tar, in whatever order the engine wrote
//! them. Layers are scanned as they pass; their diff IDs are hashed on the way, since the
//! engine names layer folders by v1 IDs, not diff IDs. Both the legacy layout
//! (`ID/layer.tar`) and the OCI layout (`blobs/sha256/…`, possibly gzip) are read.

use crate::layer::{HashingReader, LayerScan, read_layer};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::{self, Read};

/// Largest JSON file (manifest, config) kept from an archive.
const JSON_CAP: u64 = 16 << 20;

/// A layer tar as it passed through.
#[derive(Debug)]
pub(crate) enum LayerOutcome {
    /// Read and catalogued.
    Scanned { scan: LayerScan, diff_id: String },
    /// Skipped (its scan was cached); hashed to check it is the layer we think.
    Skipped { diff_id: String, size: u64 },
}

/// What an archive held.
#[derive(Debug, Default)]
pub(crate) struct Saved {
    pub jsons: HashMap<String, Vec<u8>>,
    pub layers: HashMap<String, LayerOutcome>,
}

/// Reads a docker-save archive. `skip` maps a layer tar's byte size to a cached diff ID:
/// such a layer is only hashed, not catalogued.
pub(crate) fn read_save<R: Read>(r: R, skip: &HashMap<u64, String>) -> Result<Saved, String> {
    let mut saved = Saved::default();
    let mut ar = tar::Archive::new(r);
    let entries = ar
        .entries()
        .map_err(|e| format!("not a tar archive: {}", crate::layer::tar_error(&e)))?;
    for entry in entries {
        let mut e = entry.map_err(|e| {
            format!(
                "corrupt or truncated archive: {}",
                crate::layer::tar_error(&e)
            )
        })?;
        let Some(path) = crate::layer::normalize(&e.path_bytes()) else {
            continue;
        };
        if !matches!(
            e.header().entry_type(),
            tar::EntryType::Regular | tar::EntryType::Continuous
        ) {
            continue;
        }
        let size = e.header().size().unwrap_or(0);
        let layerish = path.ends_with("/layer.tar") || path.starts_with("blobs/");
        if !layerish {
            if size <= JSON_CAP && (path.ends_with(".json") || !path.contains('/')) {
                let mut buf = Vec::with_capacity(size as usize);
                e.read_to_end(&mut buf)
                    .map_err(|err| format!("`{path}`: {err}"))?;
                saved.jsons.insert(path, buf);
            }
            continue;
        }
        if skip.contains_key(&size) {
            let (diff_id, size) = HashingReader::new(&mut e)
                .finish()
                .map_err(|err| format!("`{path}`: {err}"))?;
            saved
                .layers
                .insert(path, LayerOutcome::Skipped { diff_id, size });
            continue;
        }
        // Peek: a tar (ustar magic at 257), a gzip stream, or (in blobs/) JSON.
        let mut head = vec![0u8; 512];
        let n = read_up_to(&mut e, &mut head).map_err(|err| format!("`{path}`: {err}"))?;
        head.truncate(n);
        let chained = io::Cursor::new(head.clone()).chain(&mut e);
        if head.starts_with(&[0x1f, 0x8b]) {
            let (scan, diff_id) = read_layer(flate2::read::GzDecoder::new(chained));
            saved
                .layers
                .insert(path, LayerOutcome::Scanned { scan, diff_id });
        } else if is_tar(&head) || path.ends_with("/layer.tar") {
            let (scan, diff_id) = read_layer(chained);
            saved
                .layers
                .insert(path, LayerOutcome::Scanned { scan, diff_id });
        } else if size <= JSON_CAP {
            let mut buf = Vec::new();
            let mut chained = chained;
            chained
                .read_to_end(&mut buf)
                .map_err(|err| format!("`{path}`: {err}"))?;
            saved.jsons.insert(path, buf);
        }
    }
    Ok(saved)
}

fn is_tar(head: &[u8]) -> bool {
    head.len() >= 262 && &head[257..262] == b"ustar"
}

fn read_up_to<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// One `manifest.json` entry.
#[derive(Debug, Deserialize)]
pub(crate) struct ManifestEntry {
    #[serde(rename = "Config")]
    pub config: String,
    #[serde(rename = "Layers")]
    pub layers: Vec<String>,
}

/// The parts of an image config a scan uses.
#[derive(Debug, Clone)]
pub(crate) struct ImageMeta {
    pub image_id: String,
    pub diff_ids: Vec<String>,
    /// One per diff ID.
    pub instructions: Vec<Option<String>>,
}

#[derive(Deserialize)]
struct Config {
    rootfs: RootFs,
    #[serde(default)]
    history: Vec<History>,
}

#[derive(Deserialize)]
struct RootFs {
    #[serde(default)]
    diff_ids: Vec<String>,
}

#[derive(Deserialize)]
struct History {
    #[serde(default)]
    created_by: Option<String>,
    #[serde(default)]
    comment: Option<String>,
    #[serde(default)]
    empty_layer: bool,
}

/// Parses an image config; the image ID is the sha256 of its bytes.
pub(crate) fn parse_config(bytes: &[u8]) -> Result<ImageMeta, String> {
    let c: Config =
        serde_json::from_slice(bytes).map_err(|e| format!("image config is not valid: {e}"))?;
    let image_id = format!("sha256:{}", hex::encode(Sha256::digest(bytes)));
    // History entries with `empty_layer` made no filesystem layer (ENV, CMD, …).
    let made_layers: Vec<&History> = c.history.iter().filter(|h| !h.empty_layer).collect();
    let instructions = (0..c.rootfs.diff_ids.len())
        .map(|i| {
            if made_layers.len() != c.rootfs.diff_ids.len() {
                return None;
            }
            let h = made_layers[i];
            h.created_by
                .as_deref()
                .filter(|s| !s.is_empty())
                .map(clean_instruction)
                .or_else(|| h.comment.clone().filter(|s| !s.is_empty()))
        })
        .collect();
    Ok(ImageMeta {
        image_id,
        diff_ids: c.rootfs.diff_ids,
        instructions,
    })
}

/// Turns a history `created_by` into the Dockerfile line it came from:
/// `/bin/sh -c #(nop)  COPY file:… in /x` → `COPY file:… in /x`,
/// `/bin/sh -c apt-get …` or `|1 V=1 /bin/sh -c apt-get …` → `RUN apt-get …`,
/// BuildKit's `RUN /bin/sh -c apt-get … # buildkit` → `RUN apt-get …`.
pub fn clean_instruction(created_by: &str) -> String {
    let s = created_by.trim();
    let s = s.strip_suffix("# buildkit").unwrap_or(s).trim();
    if let Some(i) = s.find("/bin/sh -c ") {
        let rest = s[i + "/bin/sh -c ".len()..].trim();
        if let Some(nop) = rest.strip_prefix("#(nop)") {
            return nop.trim().to_string();
        }
        return format!("RUN {rest}");
    }
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions() {
        assert_eq!(
            clean_instruction("/bin/sh -c #(nop)  CMD [\"bash\"]"),
            "CMD [\"bash\"]"
        );
        assert_eq!(
            clean_instruction("/bin/sh -c apt-get install -y curl"),
            "RUN apt-get install -y curl"
        );
        assert_eq!(
            clean_instruction("|1 V=2 /bin/sh -c echo $V"),
            "RUN echo $V"
        );
        assert_eq!(
            clean_instruction("RUN /bin/sh -c apt-get update # buildkit"),
            "RUN apt-get update"
        );
        assert_eq!(clean_instruction("COPY . /app # buildkit"), "COPY . /app");
    }

    #[test]
    fn config_maps_history_to_layers() {
        let cfg = br#"{"rootfs":{"type":"layers","diff_ids":["sha256:a","sha256:b"]},
            "history":[{"comment":"Imported from -"},
                       {"created_by":"/bin/sh -c #(nop)  ENV X=1","empty_layer":true},
                       {"created_by":"/bin/sh -c apt-get install -y jq"}]}"#;
        let m = parse_config(cfg).unwrap();
        assert_eq!(m.diff_ids, vec!["sha256:a", "sha256:b"]);
        assert_eq!(
            m.instructions,
            vec![
                Some("Imported from -".to_string()),
                Some("RUN apt-get install -y jq".to_string())
            ]
        );
        assert!(m.image_id.starts_with("sha256:"));
        assert!(parse_config(b"{}").is_err());
    }
}
