//! The job's workspace: the repository's files as a clean checkout plus local edits would
//! hold them (tracked files and untracked files git does not ignore), packed as a tar to be
//! copied into the job's workspace volume.

use crate::errors::RunnerError;
use railyard_docker::context::{self, ContextFile, FileKind};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

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

/// The workspace as a tar archive.
pub fn archive(root: &Path) -> Result<Vec<u8>, RunnerError> {
    let files = files(root)?;
    context::tar(&files, &[]).map_err(|source| RunnerError::Io {
        doing: format!("packing the workspace of {}", root.display()),
        source,
    })
}
