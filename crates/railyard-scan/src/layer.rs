//! Reading one layer tar as a stream, in one pass, into a [`LayerScan`]: the catalogued
//! files it writes and the paths it deletes. Only files a cataloger wants are read into
//! memory (each capped); executables are scanned chunk by chunk. Nothing is written to disk
//! (except an rpmdb, to a private temporary file), so entries that climb out of their folder
//! or symlink loops cannot do harm: the former are skipped with a warning, links are never
//! followed.

use crate::catalog::{self, Found, Wanted, binary::BinaryScanner};
use crate::package::Distro;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::{self, Read};

/// What one layer contributes, independent of the layers below it: the unit the layer cache
/// stores under the layer's diff ID.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerScan {
    /// Bytes in the layer tar.
    pub size: u64,
    /// Catalogued files this layer writes (a file with nothing in it still hides the lower
    /// layers' version of that path).
    #[serde(default)]
    pub files: Vec<FoundFile>,
    /// Paths this layer deletes (`.wh.NAME`), with everything under them.
    #[serde(default)]
    pub removed: Vec<String>,
    /// Folders whose lower content this layer hides (`.wh..wh..opq`).
    #[serde(default)]
    pub opaque: Vec<String>,
    /// Problems met (skipped entries, unreadable files, a truncated tar).
    #[serde(default)]
    pub warnings: Vec<String>,
    /// False when the tar ended early or was corrupt: such a scan is not cached.
    #[serde(default = "yes")]
    pub complete: bool,
}

fn yes() -> bool {
    true
}

/// A file in a layer and what its cataloger found in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FoundFile {
    /// Path in the image, no leading `/`.
    pub path: String,
    /// Packages the file records.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<Found>,
    /// For an os-release file: the release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distro: Option<Distro>,
    /// For OS package databases and file lists: paths their packages own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owned: Vec<String>,
    /// For a Debian copyright file (`usr/share/doc/NAME/copyright`): the licences it names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub licenses: Vec<String>,
}

impl FoundFile {
    fn empty(path: String) -> Self {
        FoundFile {
            path,
            packages: Vec::new(),
            distro: None,
            owned: Vec::new(),
            licenses: Vec::new(),
        }
    }
}

/// Counts and hashes what passes through, so the diff ID comes out of the same pass.
pub(crate) struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> HashingReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// Reads the rest, then returns `sha256:…` and the byte count.
    pub(crate) fn finish(mut self) -> io::Result<(String, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        Ok((
            format!("sha256:{}", hex::encode(self.hasher.finalize())),
            self.count,
        ))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// Normalises a tar entry path as Docker extracts it: no leading `/` or `./`, no `.` parts,
/// a `..` resolved against the part before it. `None` for a path that climbs out of the layer
/// or is empty.
pub fn normalize(raw: &[u8]) -> Option<String> {
    let s = String::from_utf8_lossy(raw);
    let parts = railyard_types::path::resolve(s.trim_start_matches('/')).ok()?;
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// Reads a layer tar from `r` to its end (warnings do not name the layer: the same scan
/// serves every image holding it). Returns the
/// scan and the layer's diff ID (`sha256:` of the bytes read). IO errors of `r` and tar
/// format errors end the layer early with a warning and `complete = false`.
pub fn read_layer<R: Read>(r: R) -> (LayerScan, String) {
    let mut hr = HashingReader::new(r);
    let mut scan = LayerScan {
        complete: true,
        ..LayerScan::default()
    };
    {
        let mut ar = tar::Archive::new(&mut hr);
        match ar.entries() {
            Ok(entries) => {
                for entry in entries {
                    match entry {
                        Ok(mut e) => {
                            if let Err(err) = read_entry(&mut e, &mut scan) {
                                scan.warnings.push(tar_error(&err));
                                scan.complete = false;
                                break;
                            }
                        }
                        Err(err) => {
                            scan.warnings.push(format!(
                                "corrupt or truncated layer tar: {}",
                                tar_error(&err)
                            ));
                            scan.complete = false;
                            break;
                        }
                    }
                }
            }
            Err(err) => {
                scan.warnings
                    .push(format!("unreadable layer tar: {}", tar_error(&err)));
                scan.complete = false;
            }
        }
    }
    let (diff_id, size) = match hr.finish() {
        Ok(v) => v,
        Err(err) => {
            scan.warnings.push(format!("layer ended early: {err}"));
            scan.complete = false;
            (String::new(), 0)
        }
    };
    scan.size = size;
    (scan, diff_id)
}

/// A tar error for people: the tar crate quotes the raw header bytes of a corrupt entry,
/// which would print binary noise to the terminal. Control and replacement characters
/// become `?` and the text is cut at 160 characters.
pub(crate) fn tar_error(err: &dyn std::fmt::Display) -> String {
    let clean: String = err
        .to_string()
        .chars()
        .map(|c| {
            if c.is_control() || c == char::REPLACEMENT_CHARACTER {
                '?'
            } else {
                c
            }
        })
        .collect();
    if clean.chars().count() > 160 {
        clean.chars().take(159).chain(['…']).collect()
    } else {
        clean
    }
}

fn read_entry<R: Read>(e: &mut tar::Entry<'_, R>, scan: &mut LayerScan) -> io::Result<()> {
    let raw = e.path_bytes().into_owned();
    let Some(path) = normalize(&raw) else {
        if !raw.iter().all(|b| *b == b'.' || *b == b'/') {
            scan.warnings.push(format!(
                "skipped entry `{}` that climbs out of the layer",
                String::from_utf8_lossy(&raw)
            ));
        }
        return Ok(());
    };
    let (dir, base) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
    if base == ".wh..wh..opq" {
        scan.opaque.push(dir.to_string());
        return Ok(());
    }
    if let Some(name) = base.strip_prefix(".wh.") {
        scan.removed.push(if dir.is_empty() {
            name.to_string()
        } else {
            format!("{dir}/{name}")
        });
        return Ok(());
    }
    let kind = e.header().entry_type();
    let wanted = catalog::wanted(&path);
    match kind {
        tar::EntryType::Regular | tar::EntryType::Continuous => {}
        tar::EntryType::Link => {
            // A hard link to a file catalogued earlier in this layer has the same content.
            let target = e.link_name_bytes().and_then(|t| normalize(&t));
            let prev = target.and_then(|t| scan.files.iter().rev().find(|f| f.path == t).cloned());
            match prev {
                Some(mut f) => {
                    f.path = path;
                    scan.files.push(f);
                }
                None if wanted.is_some() => scan.files.push(FoundFile::empty(path)),
                None => {}
            }
            return Ok(());
        }
        _ => {
            // A symlink or folder where a catalogued file was hides the lower file.
            if wanted.is_some() {
                scan.files.push(FoundFile::empty(path));
            }
            return Ok(());
        }
    }
    let size = e.header().size().unwrap_or(0);
    if let Some(w) = wanted {
        let max = w.max_bytes();
        let mut buf = Vec::with_capacity(size.min(max) as usize);
        e.by_ref().take(max).read_to_end(&mut buf)?;
        if size > max {
            scan.warnings.push(format!(
                "`{path}` is {size} bytes; only the first {max} were catalogued"
            ));
        }
        scan.files
            .push(catalogue(w, path, &buf, &mut scan.warnings));
        return Ok(());
    }
    let mode = e.header().mode().unwrap_or(0);
    if mode & 0o111 != 0 && size >= 64 {
        let mut head = [0u8; 4];
        let n = read_full(e, &mut head)?;
        if n == 4 && head == *b"\x7fELF" {
            let mut s = BinaryScanner::new();
            s.feed(&head);
            let mut chunk = vec![0u8; 64 << 10];
            loop {
                let n = e.read(&mut chunk)?;
                if n == 0 {
                    break;
                }
                s.feed(&chunk[..n]);
            }
            let mut f = FoundFile::empty(path);
            f.packages = s.finish();
            scan.files.push(f);
        }
    }
    Ok(())
}

fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

fn catalogue(w: Wanted, path: String, bytes: &[u8], warnings: &mut Vec<String>) -> FoundFile {
    let text = || String::from_utf8_lossy(bytes);
    let mut f = FoundFile::empty(path);
    match w {
        Wanted::DpkgStatus | Wanted::DpkgStatusD => {
            f.packages = catalog::dpkg::parse_status(&text())
        }
        Wanted::DpkgList => f.owned = catalog::dpkg::parse_list(&text()),
        Wanted::DpkgCopyright => f.licenses = catalog::dpkg::parse_copyright(&text()),
        Wanted::ApkInstalled => {
            let (p, owned) = catalog::apk::parse_installed(&text());
            f.packages = p;
            f.owned = owned;
        }
        Wanted::RpmSqlite => match catalog::rpm::parse_sqlite(bytes) {
            Ok(p) => f.packages = p,
            Err(e) => warnings.push(format!("`{}`: {e}", f.path)),
        },
        Wanted::PythonMetadata => {
            f.packages = catalog::python::parse_metadata(&text())
                .into_iter()
                .collect()
        }
        Wanted::NpmPackageJson => {
            f.packages = catalog::npm::parse_package_json(bytes)
                .into_iter()
                .collect()
        }
        Wanted::OsRelease => f.distro = catalog::osrelease::parse(&text()),
    }
    f
}
