//! Build contexts: which files Docker would send (`.dockerignore` applied the way the docker
//! CLI applies it), and deterministic tars of them. The runner hashes [`collect`]'s list for
//! the env image's cache key and packs workspaces with [`tar()`].

mod ignore;
mod tarball;

pub use ignore::DockerIgnore;
pub use tarball::{tar, tar_to, tar_to_keeping_times};

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Files that are always sent even when `.dockerignore` matches them, as the docker CLI does.
pub const ALWAYS_SENT: [&str; 2] = [".dockerignore", "Dockerfile"];

/// A context's root `.git`, never part of a build context (see [`collect`]).
pub const GIT_DIR: &str = ".git";

/// One entry of a build context or workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextFile {
    /// `/`-separated path relative to the context root.
    pub rel: String,
    /// Where it is on disk.
    pub abs: PathBuf,
    /// File, folder or symlink.
    pub kind: FileKind,
    /// Permission bits (higher bits are ignored when packing).
    pub mode: u32,
    /// Size in bytes (files only; 0 otherwise).
    pub size: u64,
}

/// The kinds of entries a context holds. Sockets, FIFOs and devices are left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileKind {
    /// A regular file.
    File,
    /// A folder.
    Dir,
    /// A symbolic link and its target, as written (not followed).
    Symlink(PathBuf),
}

/// The files of a build context as `.dockerignore` filters it, sorted by `rel`, so the runner
/// can hash them for the env cache key. `.dockerignore` and a root `Dockerfile` are always
/// kept; the root's `.git` never is. Symlinks are listed, never followed.
pub fn collect(context_dir: &Path) -> io::Result<Vec<ContextFile>> {
    collect_keeping(context_dir, &[])
}

/// [`collect`], also keeping these `/`-separated relative paths when `.dockerignore` excludes
/// them (a Dockerfile with another name inside the context).
pub fn collect_keeping(context_dir: &Path, keep: &[&str]) -> io::Result<Vec<ContextFile>> {
    let ignore = DockerIgnore::load(context_dir)?;
    let kept = |rel: &str| ALWAYS_SENT.contains(&rel) || keep.contains(&rel);
    let mut files = Vec::new();
    let mut walk = walkdir::WalkDir::new(context_dir)
        .min_depth(1)
        .follow_links(false)
        .into_iter();
    while let Some(entry) = walk.next() {
        let entry = entry.map_err(|e| {
            let path = e
                .path()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            let inner = e
                .into_io_error()
                .unwrap_or_else(|| io::Error::other("filesystem loop"));
            io::Error::new(inner.kind(), format!("reading {path}: {inner}"))
        })?;
        let rel_path = entry
            .path()
            .strip_prefix(context_dir)
            .map_err(io::Error::other)?;
        let Some(rel) = rel_path.to_str().map(str::to_string) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} is not valid UTF-8", entry.path().display()),
            ));
        };
        let file_type = entry.file_type();
        // The repository's own `.git` differs in every clone (packs, index, hooks): sent, it
        // would give one commit a new env key on every agent. As Docker's git-URL contexts.
        if rel == GIT_DIR {
            if file_type.is_dir() {
                walk.skip_current_dir();
            }
            continue;
        }
        if ignore.is_excluded(&rel) && !kept(&rel) {
            let dir_slash = format!("{rel}/");
            let enter = (ignore.has_exclusions() && ignore.may_reinclude_below(&rel))
                || keep.iter().any(|k| k.starts_with(&dir_slash));
            if file_type.is_dir() && !enter {
                walk.skip_current_dir();
            }
            continue;
        }
        let meta = entry
            .metadata()
            .map_err(|e| io::Error::other(format!("reading {}: {e}", entry.path().display())))?;
        let (kind, size) = if file_type.is_symlink() {
            (FileKind::Symlink(std::fs::read_link(entry.path())?), 0)
        } else if file_type.is_dir() {
            (FileKind::Dir, 0)
        } else if file_type.is_file() {
            (FileKind::File, meta.len())
        } else {
            continue;
        };
        files.push(ContextFile {
            rel,
            abs: entry.path().to_path_buf(),
            kind,
            mode: meta.permissions().mode() & 0o7777,
            size,
        });
    }
    files.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(files)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
#[path = "fuzz_tests.rs"]
mod fuzz_tests;
