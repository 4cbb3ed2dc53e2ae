//! Reading OSV advisories from a JSON file, a folder of them (recursive; `.json` files and
//! `.zip` archives inside count), or a zip archive as OSV publishes per ecosystem
//! (`all.zip`). A file that cannot be read as an advisory is skipped with a warning naming it
//! (and the entry inside a zip); the rest is read. A truncated zip, whose central directory is
//! gone, is read entry by entry from the start until the damage, with a warning.

use crate::errors::ImportError;
use crate::osv::{self, Advisory};
use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::path::{Path, PathBuf};

/// Zip entries decompressed before they are parsed. Decompressing and parsing in turn leaves
/// the decompressor's freed buffers between long-lived advisory allocations, which glibc
/// cannot reuse (600 MB for 30 000 entries); batching keeps it to tens of MB.
const ZIP_BATCH: usize = 512;

/// Largest JSON file read (a file may hold an array of advisories).
const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// Largest single advisory file read (OSV records are kilobytes; this bounds a hostile entry).
const MAX_ENTRY_BYTES: u64 = 16 * 1024 * 1024;

/// Something skipped during an import, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportWarning {
    /// The file, or `archive.zip!entry.json` for an entry inside a zip.
    pub source: String,
    /// What was wrong.
    pub message: String,
}

impl fmt::Display for ImportWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.source, self.message)
    }
}

/// Everything read from a path.
#[derive(Debug, Default)]
pub struct ReadResult {
    /// Advisories read, in the order met.
    pub advisories: Vec<Advisory>,
    /// What was skipped.
    pub warnings: Vec<ImportWarning>,
    /// Documents looked at (files and zip entries).
    pub documents: usize,
}

impl ReadResult {
    fn document(&mut self, source: impl FnOnce() -> String, bytes: &[u8]) {
        self.documents += 1;
        match osv::parse(bytes) {
            Ok(parsed) => self.advisories.push(parsed.advisory),
            Err(message) => self.warnings.push(ImportWarning {
                source: source(),
                message,
            }),
        }
    }

    fn documents_from(&mut self, pending: &mut Vec<(String, Vec<u8>)>) {
        for (source, bytes) in pending.drain(..) {
            self.document(|| source, &bytes);
        }
    }

    fn warn(&mut self, source: String, message: impl Into<String>) {
        self.warnings.push(ImportWarning {
            source,
            message: message.into(),
        });
    }
}

/// Reads every advisory under `path` (a file, a folder, or a zip). Fails only when `path`
/// itself cannot be read.
pub fn read_path(path: &Path) -> Result<ReadResult, ImportError> {
    let meta = std::fs::metadata(path).map_err(|source| ImportError::Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    let mut out = ReadResult::default();
    if meta.is_dir() {
        let mut files: Vec<PathBuf> = Vec::new();
        for entry in walkdir::WalkDir::new(path).follow_links(false) {
            match entry {
                Ok(e) if e.file_type().is_file() => {
                    let p = e.into_path();
                    if has_ext(&p, "json") || has_ext(&p, "zip") {
                        files.push(p);
                    }
                }
                Ok(_) => {}
                Err(e) => out.warn(
                    e.path()
                        .map_or_else(|| path.display().to_string(), |p| p.display().to_string()),
                    format!("cannot read: {e}"),
                ),
            }
        }
        files.sort();
        for f in files {
            read_file(&f, &mut out);
        }
    } else {
        read_file(path, &mut out);
    }
    Ok(out)
}

fn has_ext(p: &Path, ext: &str) -> bool {
    p.extension().is_some_and(|e| e.eq_ignore_ascii_case(ext))
}

fn read_file(path: &Path, out: &mut ReadResult) {
    let name = path.display().to_string();
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) => return out.warn(name, format!("cannot open: {e}")),
    };
    let mut magic = [0u8; 4];
    let n = file.read(&mut magic).unwrap_or(0);
    if n == 4 && &magic == b"PK\x03\x04" || has_ext(path, "zip") {
        if let Err(e) = file.rewind() {
            return out.warn(name, format!("cannot read: {e}"));
        }
        return read_zip(&name, file, out);
    }
    let mut bytes = magic[..n].to_vec();
    if let Err(e) = file.take(MAX_FILE_BYTES).read_to_end(&mut bytes) {
        return out.warn(name, format!("cannot read: {e}"));
    }
    if bytes.len() as u64 >= MAX_FILE_BYTES {
        out.documents += 1;
        return out.warn(
            name,
            format!("larger than the {MAX_FILE_BYTES}-byte limit for one file"),
        );
    }
    // A file may also hold a JSON array of advisories.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        match serde_json::from_slice::<Vec<serde_json::Value>>(&bytes) {
            Ok(items) => {
                for (i, item) in items.iter().enumerate() {
                    let doc = serde_json::to_vec(item).unwrap_or_default();
                    out.document(|| format!("{name}[{i}]"), &doc);
                }
            }
            Err(e) => {
                out.documents += 1;
                out.warn(name, format!("malformed JSON: {e}"));
            }
        }
        return;
    }
    out.document(|| name.clone(), &bytes);
}

fn read_zip(name: &str, file: File, out: &mut ReadResult) {
    let mut archive = match zip::ZipArchive::new(BufReader::new(file)) {
        Ok(a) => a,
        Err(e) => {
            out.warn(
                name.to_string(),
                format!(
                    "not a readable zip archive ({e}); reading what entries precede the damage"
                ),
            );
            return read_zip_stream(name, out);
        }
    };
    let mut pending = Vec::new();
    for i in 0..archive.len() {
        let mut entry = match archive.by_index(i) {
            Ok(e) => e,
            Err(e) => {
                out.warn(format!("{name}!#{i}"), format!("cannot read entry: {e}"));
                continue;
            }
        };
        let entry_name = entry
            .name()
            .map(|n| n.into_owned())
            .unwrap_or_else(|_| format!("#{i}"));
        if entry.is_dir() || !entry_name.to_ascii_lowercase().ends_with(".json") {
            continue;
        }
        let source = format!("{name}!{entry_name}");
        if entry.size() > MAX_ENTRY_BYTES {
            out.documents += 1;
            out.warn(
                source,
                format!(
                    "entry is {} bytes, larger than the {MAX_ENTRY_BYTES}-byte limit",
                    entry.size()
                ),
            );
            continue;
        }
        let mut bytes = Vec::new();
        match (&mut entry).take(MAX_ENTRY_BYTES).read_to_end(&mut bytes) {
            Ok(_) => pending.push((source, bytes)),
            Err(e) => {
                out.documents += 1;
                out.warn(source, format!("cannot decompress entry: {e}"));
            }
        }
        if pending.len() >= ZIP_BATCH {
            out.documents_from(&mut pending);
        }
    }
    out.documents_from(&mut pending);
}

/// Reads local file headers from the start of a damaged zip until they stop making sense.
fn read_zip_stream(name: &str, out: &mut ReadResult) {
    let Ok(file) = File::open(name) else { return };
    let mut reader = BufReader::new(file);
    let mut index = 0usize;
    let mut pending = Vec::new();
    loop {
        let mut entry = match zip::read::read_zipfile_from_stream(&mut reader) {
            Ok(Some(e)) => e,
            Ok(None) => break,
            Err(e) => {
                out.warn(
                    format!("{name}!#{index}"),
                    format!("archive ends or is damaged here: {e}"),
                );
                break;
            }
        };
        index += 1;
        let entry_name = entry
            .name()
            .map(|n| n.into_owned())
            .unwrap_or_else(|_| format!("#{index}"));
        if entry.is_dir() || !entry_name.to_ascii_lowercase().ends_with(".json") {
            let _ = std::io::copy(&mut entry, &mut std::io::sink());
            continue;
        }
        let source = format!("{name}!{entry_name}");
        let mut bytes = Vec::new();
        let res = (&mut entry).take(MAX_ENTRY_BYTES).read_to_end(&mut bytes);
        match res {
            Ok(_) => pending.push((source, bytes)),
            Err(e) => {
                out.documents += 1;
                out.warn(source, format!("entry is cut short: {e}"));
                break;
            }
        }
        if pending.len() >= ZIP_BATCH {
            out.documents_from(&mut pending);
        }
    }
    out.documents_from(&mut pending);
}
