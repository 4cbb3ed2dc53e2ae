//! The job's workspace: the repository's files as a clean checkout plus local edits would
//! hold them (tracked files and untracked files git does not ignore) and its `.git`, so that
//! `git describe` and version stamps work, with their modification times, packed as a tar to
//! be copied into the job's workspace volume.

use crate::errors::RunnerError;
use bytes::Bytes;
use futures_util::Stream;
use railyard_docker::context::{self, ContextFile, FileKind};
use std::os::unix::fs::FileExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

/// Where the workspace sits in every job container.
pub const WORKSPACE_DIR: &str = "/workspace";

/// The files of the repository at `root`. In a git work tree: `git ls-files --cached
/// --others --exclude-standard` (tracked files deleted locally are left out); elsewhere every
/// file below `root` except `.git`.
pub fn files(root: &Path) -> Result<Vec<ContextFile>, RunnerError> {
    let io = |doing: String| move |source| RunnerError::Io { doing, source };
    let listed = Command::new("git")
        .arg("-C")
        .arg(root)
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .output();
    let rels: Vec<String> = match listed {
        Ok(out) if out.status.success() => out
            .stdout
            .split(|b| *b == 0)
            .filter(|s| !s.is_empty())
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect(),
        // git failed in a work tree (dubious ownership, a broken index): taking every file
        // would ship ignored ones (`target/`, `.env`) into the job, so say so instead.
        Ok(out) if root.join(".git").exists() => {
            return Err(RunnerError::Io {
                doing: format!("listing the files of the git work tree {}", root.display()),
                source: std::io::Error::other(
                    String::from_utf8_lossy(&out.stderr).trim().to_string(),
                ),
            });
        }
        // Not a git work tree (or no git): take everything.
        _ => walkdir::WalkDir::new(root)
            .min_depth(1)
            .into_iter()
            .filter_entry(|e| e.file_name() != ".git")
            .filter_map(Result::ok)
            .filter(|e| !e.file_type().is_dir())
            .filter_map(|e| {
                e.path()
                    .strip_prefix(root)
                    .ok()
                    .map(|p| p.to_string_lossy().into_owned())
            })
            .collect(),
    };
    let mut files = Vec::with_capacity(rels.len());
    for rel in rels {
        let abs = root.join(&rel);
        let meta = match std::fs::symlink_metadata(&abs) {
            Ok(m) => m,
            // Tracked but deleted in the work tree: a checkout with local edits lacks it too.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io(format!("reading {}", abs.display()))(e)),
        };
        let kind = if meta.file_type().is_symlink() {
            let target =
                std::fs::read_link(&abs).map_err(io(format!("reading link {}", abs.display())))?;
            FileKind::Symlink(target)
        } else if meta.is_dir() {
            // A submodule or nested repository: git lists it as one entry; its files are its own.
            continue;
        } else {
            FileKind::File
        };
        files.push(ContextFile {
            rel,
            abs,
            kind,
            mode: meta.permissions().mode(),
            size: meta.len(),
        });
    }
    files.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(files)
}

/// The workspace packed once per run and shared by its jobs: a tar in an unlinked temp file,
/// streamed into each job's volume, so memory stays flat whatever the repository's size.
#[derive(Debug, Clone)]
pub struct Packed {
    file: Arc<std::fs::File>,
    len: u64,
}

impl Packed {
    /// The tar's size in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the tar is empty (it never is: a tar ends with two zero blocks).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The tar as chunks read from the file as the upload goes; every call reads from the
    /// start, so jobs upload at the same time without sharing a file offset.
    pub fn stream(&self) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
        const CHUNK: u64 = 256 * 1024;
        let file = self.file.clone();
        let len = self.len;
        futures_util::stream::try_unfold(0u64, move |offset| {
            let file = file.clone();
            async move {
                if offset >= len {
                    return Ok(None);
                }
                let n = CHUNK.min(len - offset) as usize;
                let chunk = tokio::task::spawn_blocking(move || {
                    let mut buf = vec![0; n];
                    file.read_exact_at(&mut buf, offset).map(|_| buf)
                })
                .await
                .map_err(std::io::Error::other)??;
                Ok(Some((Bytes::from(chunk), offset + n as u64)))
            }
        })
    }
}

/// The git folder of the work tree at `root`, every entry of it (folders too: git needs
/// `refs/` even when empty). Nothing when `.git` is not a folder (a linked work tree's or a
/// submodule's `.git` file points outside the repository, where a job cannot follow).
fn git_dir(root: &Path) -> Result<Vec<ContextFile>, RunnerError> {
    let git = root.join(".git");
    if !std::fs::symlink_metadata(&git).is_ok_and(|m| m.is_dir()) {
        return Ok(Vec::new());
    }
    let mut entries = Vec::new();
    for entry in walkdir::WalkDir::new(&git) {
        let entry = entry.map_err(|e| RunnerError::Io {
            doing: format!("reading {}", git.display()),
            source: e.into(),
        })?;
        let meta = entry.metadata().map_err(|e| RunnerError::Io {
            doing: format!("reading {}", entry.path().display()),
            source: e.into(),
        })?;
        let kind = if entry.path_is_symlink() {
            match std::fs::read_link(entry.path()) {
                Ok(target) => FileKind::Symlink(target),
                Err(_) => continue,
            }
        } else if meta.is_dir() {
            FileKind::Dir
        } else if meta.is_file() {
            FileKind::File
        } else {
            continue;
        };
        let Ok(rel) = entry.path().strip_prefix(root) else {
            continue;
        };
        entries.push(ContextFile {
            rel: rel.to_string_lossy().into_owned(),
            abs: entry.path().to_path_buf(),
            kind,
            mode: meta.permissions().mode(),
            size: if meta.is_file() { meta.len() } else { 0 },
        });
    }
    Ok(entries)
}

/// Packs the workspace of the repository at `root` (see [`files`]) and its `.git` folder
/// into a temp file, keeping modification times.
pub fn pack(root: &Path) -> Result<Packed, RunnerError> {
    let mut files = git_dir(root)?;
    files.extend(self::files(root)?);
    let err = |source| RunnerError::Io {
        doing: format!("packing the workspace of {}", root.display()),
        source,
    };
    let file = tempfile::tempfile().map_err(err)?;
    let out = context::tar_to_keeping_times(&files, std::io::BufWriter::new(file)).map_err(err)?;
    let file = out.into_inner().map_err(|e| err(e.into_error()))?;
    let len = file.metadata().map_err(err)?.len();
    Ok(Packed {
        file: Arc::new(file),
        len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::TryStreamExt;

    #[tokio::test]
    async fn the_packed_stream_is_the_tar_of_the_files_whatever_the_chunking() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("small.txt"), "hello\n").unwrap();
        let big: Vec<u8> = (0..1_300_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/big.bin"), &big).unwrap();

        let packed = pack(dir.path()).unwrap();
        let streamed: Vec<u8> = packed
            .stream()
            .map_ok(|b| b.to_vec())
            .try_concat()
            .await
            .unwrap();
        let expected =
            context::tar_to_keeping_times(&files(dir.path()).unwrap(), Vec::new()).unwrap();
        assert_eq!(streamed.len() as u64, packed.len());
        assert!(streamed == expected, "the stream differs from the tar");
        // Two uploads at once each read the whole tar.
        let (a, b) = tokio::join!(
            packed
                .stream()
                .map_ok(|b| b.len())
                .try_fold(0, |n, l| async move { Ok(n + l) }),
            packed
                .stream()
                .map_ok(|b| b.len())
                .try_fold(0, |n, l| async move { Ok(n + l) }),
        );
        assert_eq!(
            (a.unwrap() as u64, b.unwrap() as u64),
            (packed.len(), packed.len())
        );
        let mut archive = tar::Archive::new(streamed.as_slice());
        let names: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["small.txt", "sub/big.bin"]);
    }
}
