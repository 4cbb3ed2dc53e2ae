//! Deterministic tars: the same files give the same bytes on every machine (mtime 0, uid and
//! gid 0, no user names), so uploads and build caches depend on content only.

use super::{ContextFile, FileKind};
use std::io;

/// A tar of these files (deterministic headers: mtime 0, uid/gid 0), plus extra in-memory
/// entries (name, bytes) written as mode 0644 files after them.
pub fn tar(files: &[ContextFile], extra: &[(String, Vec<u8>)]) -> io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    for file in files {
        let mut header = header(file.mode);
        let with_path =
            |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", file.abs.display()));
        match &file.kind {
            FileKind::File => {
                // Read whole, so the header's size is the size of what is written even when
                // the file changes meanwhile (the tar crate does not check).
                let bytes = std::fs::read(&file.abs).map_err(with_path)?;
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(bytes.len() as u64);
                builder
                    .append_data(&mut header, &file.rel, bytes.as_slice())
                    .map_err(with_path)?;
            }
            FileKind::Dir => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_size(0);
                builder
                    .append_data(&mut header, format!("{}/", file.rel), io::empty())
                    .map_err(with_path)?;
            }
            FileKind::Symlink(target) => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_size(0);
                builder
                    .append_link(&mut header, &file.rel, target)
                    .map_err(with_path)?;
            }
        }
    }
    for (name, bytes) in extra {
        let mut header = header(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(bytes.len() as u64);
        builder.append_data(&mut header, name, bytes.as_slice())?;
    }
    builder.into_inner()
}

fn header(mode: u32) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_mode(mode & 0o7777);
    header.set_mtime(0);
    header.set_uid(0);
    header.set_gid(0);
    header
}
