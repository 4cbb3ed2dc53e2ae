//! Deterministic tars: the same files give the same bytes on every machine (mtime 0, uid and
//! gid 0, no user names), so uploads and build caches depend on content only.

use super::{ContextFile, FileKind};
use std::io;

/// A tar of these files (deterministic headers: mtime 0, uid/gid 0), plus extra in-memory
/// entries (name, bytes) written as mode 0644 files after them.
pub fn tar(files: &[ContextFile], extra: &[(String, Vec<u8>)]) -> io::Result<Vec<u8>> {
    tar_to(files, extra, Vec::new())
}

/// Like [`tar`], written to `out` (a file, so that memory does not grow with the files):
/// each file is streamed, never held whole.
pub fn tar_to<W: io::Write>(
    files: &[ContextFile],
    extra: &[(String, Vec<u8>)],
    out: W,
) -> io::Result<W> {
    write(files, extra, out, false)
}

/// Like [`tar_to`], keeping each entry's modification time as it is on disk: a job's
/// workspace holds files as a checkout would (tools that pack files, like Python's
/// `zipfile`, refuse dates before 1980).
pub fn tar_to_keeping_times<W: io::Write>(files: &[ContextFile], out: W) -> io::Result<W> {
    write(files, &[], out, true)
}

fn write<W: io::Write>(
    files: &[ContextFile],
    extra: &[(String, Vec<u8>)],
    out: W,
    keep_times: bool,
) -> io::Result<W> {
    let mut builder = tar::Builder::new(out);
    for file in files {
        let mut header = header(file.mode);
        let with_path =
            |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", file.abs.display()));
        if keep_times {
            let modified = std::fs::symlink_metadata(&file.abs)
                .and_then(|m| m.modified())
                .map_err(with_path)?;
            let secs = modified
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            header.set_mtime(secs);
        }
        match &file.kind {
            FileKind::File => {
                let opened = std::fs::File::open(&file.abs).map_err(with_path)?;
                let size = opened.metadata().map_err(with_path)?.len();
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(size);
                // Exactly `size` bytes, or an error: the tar crate trusts the header, so a
                // file that grows or shrinks meanwhile would corrupt the archive.
                let exact = Exact {
                    inner: io::Read::take(opened, size),
                    remaining: size,
                };
                builder
                    .append_data(&mut header, &file.rel, exact)
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

/// A reader that fails when its file ends before the size its tar header announced.
struct Exact<R> {
    inner: R,
    remaining: u64,
}

impl<R: io::Read> io::Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && self.remaining > 0 && !buf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file shrank while it was being packed; run again",
            ));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

fn header(mode: u32) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_mode(mode & 0o7777);
    header.set_mtime(0);
    header.set_uid(0);
    header.set_gid(0);
    header
}
