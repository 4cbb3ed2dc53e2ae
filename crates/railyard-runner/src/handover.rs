//! Artifacts of `needs` handed to the jobs that need them. Before a job's first step, the
//! files each need kept (`artifacts:`) are put into the job's workspace at the same paths,
//! as one tar streamed from the disk into the job container (an artifact may be larger than
//! memory).
//!
//! The layout read is the contract between the runner and the fleet's agent: a need's files
//! are under `artifacts_dir/<names::artifacts_folder(need)>/`, or for a need with
//! `parallel: N > 1` under its `shard-1` … `shard-N` subfolders, merged ([`need_folders`],
//! [`shard_folder`]). A local run's jobs write there as they collect their artifacts; an
//! agent downloads a need's files into the same layout before it calls the runner. The
//! merged report Railyard writes at a folder's root ([`MERGED_JUNIT`]) is handed over under
//! [`MERGED_JUNIT_FOLDER`], one file per job or shard ([`merged_report_path`]).
//!
//! The folders hold what a committer's job produced (or, on the fleet, what was downloaded):
//! every path is checked to be a plain relative path ([`check_path`]), links and special
//! files are left out, two shards holding the same path is an error naming both, and the
//! whole is bounded by the operator's [`crate::Allowance`].

use crate::errors::RunnerError;
use railyard_pipeline::Job;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The report Railyard writes at the root of a test job's (or shard's) artifacts folder:
/// every batch and retry merged. Handed to dependents as [`merged_report_path`].
pub const MERGED_JUNIT: &str = "railyard-junit.xml";

/// The folder of a dependent's workspace that holds its needs' merged JUnit reports.
pub const MERGED_JUNIT_FOLDER: &str = "railyard-junit";

/// Where a dependent finds the merged JUnit report of the job or shard shown as `from`:
/// `railyard-junit/test.xml`, `railyard-junit/test-2-4.xml` for shard 2 of 4 (a test job's
/// own reports are removed batch by batch as they are read, so this is what is left of them).
pub fn merged_report_path(from: &str) -> String {
    format!("{MERGED_JUNIT_FOLDER}/{}.xml", crate::names::slug(from))
}

/// The folder under a run's `artifacts_dir` that holds the artifacts of `job`, or of its
/// shard `shard` (1-based) when the job has `parallel > 1`.
pub fn shard_folder(artifacts_dir: &Path, job: &str, shard: Option<u32>) -> PathBuf {
    let folder = artifacts_dir.join(crate::names::artifacts_folder(job));
    match shard {
        Some(n) => folder.join(format!("shard-{n}")),
        None => folder,
    }
}

/// The folders holding the artifacts of `need` under a run's `artifacts_dir`, each with the
/// name it is shown under: its own folder, or for `parallel: N > 1` the folders of its N
/// shards (`test [2/4]`). A folder that does not exist holds nothing.
pub fn need_folders(artifacts_dir: &Path, need: &Job) -> Vec<(String, PathBuf)> {
    if need.parallel > 1 {
        (1..=need.parallel)
            .map(|n| {
                (
                    crate::shards::shard_name(&need.name, n, need.parallel),
                    shard_folder(artifacts_dir, &need.name, Some(n)),
                )
            })
            .collect()
    } else {
        vec![(
            need.name.clone(),
            shard_folder(artifacts_dir, &need.name, None),
        )]
    }
}

/// `rel` (a path read under a need's folder, `/`-separated) if it is a plain relative path
/// that stays inside the workspace: no `..`, `.`, empty part, root, backslash or NUL. The
/// folder is the runner's own locally, but on the fleet it is filled from downloads.
pub fn check_path(need: &str, rel: &str) -> Result<(), RunnerError> {
    railyard_types::path::plain_relative(rel)
        .map(|_| ())
        .map_err(|why| RunnerError::UnsafeHandOver {
            need: need.to_string(),
            path: rel.to_string(),
            why: why.to_string(),
        })
}

/// One file or folder handed over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handed {
    /// Where it is read from.
    pub source: PathBuf,
    /// Its size in bytes (0 for a folder).
    pub size: u64,
    /// Its permission bits.
    pub mode: u32,
    /// Its modification time, seconds since the epoch: kept, so that `make` and the like
    /// see an artifact as newer than the sources it was built from.
    pub mtime: u64,
    /// A folder (else a regular file).
    pub dir: bool,
    /// The folder's name it comes from (`build`, `test [1/2]`).
    pub from: String,
}

/// What the needs of a job hand over, by path in the workspace (`/`-separated), with a
/// summary line per need.
#[derive(Debug, Default)]
pub struct HandOver {
    /// Every file and folder, parents before children.
    pub entries: BTreeMap<String, Handed>,
    /// `artifacts of build: 3 file(s), 10.2 MB`, one per need, and notes on what was left out.
    pub lines: Vec<String>,
    /// Bytes in all.
    pub bytes: u64,
}

/// Reads the artifacts of `needs` (in the order given) under `artifacts_dir` for job `job`:
/// shards of one need merged (a path in two of them is an error naming both), a later need's
/// file taking the place of an earlier need's at the same path. Counts against
/// `max_bytes` and `max_files` (files and folders) and stops at the first entry past either.
pub fn read_needs(
    job: &str,
    artifacts_dir: &Path,
    needs: &[&Job],
    max_bytes: Option<u64>,
    max_files: Option<u64>,
) -> Result<HandOver, RunnerError> {
    let mut out = HandOver::default();
    let mut budget = crate::unpack::Budget::new(max_bytes, max_files);
    for need in needs {
        let mut mine: BTreeMap<String, Handed> = BTreeMap::new();
        for (from, folder) in need_folders(artifacts_dir, need) {
            walk(&need.name, &from, &folder, &mut |rel, handed| {
                if let Some(other) = mine.get(&rel)
                    && !(other.dir && handed.dir)
                {
                    return Err(RunnerError::ArtifactCollision {
                        first: other.from.clone(),
                        second: handed.from.clone(),
                        path: rel,
                    });
                }
                // Counted as found, so that a huge folder stops at the bound.
                budget
                    .take(handed.size)
                    .map_err(|limit| RunnerError::HandOverTooLarge {
                        job: job.to_string(),
                        need: handed.from.clone(),
                        path: rel.clone(),
                        limit,
                    })?;
                mine.insert(rel, handed);
                Ok(())
            })?;
        }
        let files = mine.values().filter(|h| !h.dir).count();
        let bytes: u64 = mine.values().map(|h| h.size).sum();
        for (rel, handed) in mine {
            // A file under a path another need holds as a file (or the other way round)
            // would fail the upload with the engine's words: named here instead.
            let clash = |a: &str, b: &str| RunnerError::ArtifactKinds {
                first: a.to_string(),
                second: b.to_string(),
                path: rel.clone(),
            };
            if let Some(earlier) = out.entries.get(&rel)
                && earlier.dir != handed.dir
            {
                return Err(clash(&earlier.from, &handed.from));
            }
            if let Some(earlier) =
                ancestors(&rel).find_map(|p| out.entries.get(p).filter(|e| !e.dir))
            {
                return Err(clash(&earlier.from, &handed.from));
            }
            if let Some(earlier) = out.entries.get(&rel)
                && !(earlier.dir && handed.dir)
            {
                out.lines.push(format!(
                    "artifacts of {}: {rel} replaces the one of {}",
                    need.name, earlier.from
                ));
                out.bytes -= earlier.size;
            }
            out.bytes += handed.size;
            out.entries.insert(rel, handed);
        }
        out.lines.push(format!(
            "artifacts of {}: {files} file(s), {}",
            need.name,
            show_bytes(bytes)
        ));
    }
    Ok(out)
}

/// A file's modification time in seconds since the epoch (0 when unknown).
fn mtime(meta: &std::fs::Metadata) -> u64 {
    (meta.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs())
}

/// The folders above `rel`: `a/b/c` gives `a/b`, `a`.
fn ancestors(rel: &str) -> impl Iterator<Item = &str> {
    rel.match_indices('/').map(|(i, _)| &rel[..i]).rev()
}

/// Calls `found` with every folder and regular file under `folder` (not following links:
/// they and special files are left out, as the fleet's upload leaves them out), parents
/// before children; [`MERGED_JUNIT`] at its root is given as [`merged_report_path`].
fn walk(
    need: &str,
    from: &str,
    folder: &Path,
    found: &mut dyn FnMut(String, Handed) -> Result<(), RunnerError>,
) -> Result<(), RunnerError> {
    if !folder.is_dir() {
        return Ok(());
    }
    let walker = walkdir::WalkDir::new(folder)
        .min_depth(1)
        .follow_links(false)
        .sort_by_file_name();
    for entry in walker {
        let entry = entry.map_err(|e| RunnerError::Io {
            doing: format!("reading the artifacts of `{from}` in {}", folder.display()),
            source: e.into(),
        })?;
        let Ok(relative) = entry.path().strip_prefix(folder) else {
            continue;
        };
        let parts: Vec<String> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let rel = parts.join("/");
        check_path(need, &rel)?;
        let kind = entry.file_type();
        let meta = entry.metadata().map_err(|e| RunnerError::Io {
            doing: format!("reading {}", entry.path().display()),
            source: e.into(),
        })?;
        let merged = entry.depth() == 1 && rel == MERGED_JUNIT && kind.is_file();
        let rel = if merged {
            // The batches' own reports are removed as they are read: this merged one is
            // what is left of a test job's JUnit. Each shard's under its own name.
            found(
                MERGED_JUNIT_FOLDER.to_string(),
                Handed {
                    source: folder.to_path_buf(),
                    size: 0,
                    mode: 0o755,
                    mtime: mtime(&meta),
                    dir: true,
                    from: from.to_string(),
                },
            )?;
            merged_report_path(from)
        } else {
            rel
        };
        if !(kind.is_file() || kind.is_dir()) {
            // Never handed over: the fleet's upload sends regular files only.
            continue;
        }
        use std::os::unix::fs::PermissionsExt;
        found(
            rel,
            Handed {
                source: entry.path().to_path_buf(),
                size: if kind.is_file() { meta.len() } else { 0 },
                mode: meta.permissions().mode() & 0o777,
                mtime: mtime(&meta),
                dir: kind.is_dir(),
                from: from.to_string(),
            },
        )?;
    }
    Ok(())
}

/// Writes the tar of `entries` into `out`: folders first as they come (parents before
/// children, the map's order), every file read as it is written, owned by root as the
/// workspace's files are, with its mode and modification time. A file whose size changed
/// since it was read is an error.
pub fn write_tar(entries: &BTreeMap<String, Handed>, out: impl Write) -> std::io::Result<()> {
    let mut tar = tar::Builder::new(out);
    for (rel, handed) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(handed.mtime);
        header.set_mode(handed.mode);
        if handed.dir {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_size(0);
            tar.append_data(&mut header, rel, std::io::empty())?;
        } else {
            header.set_entry_type(tar::EntryType::Regular);
            header.set_size(handed.size);
            let file = std::fs::File::open(&handed.source)?;
            let mut body = Exactly {
                inner: file.take(handed.size),
                left: handed.size,
                path: &handed.source,
            };
            tar.append_data(&mut header, rel, &mut body)?;
        }
    }
    tar.finish()
}

/// A reader of exactly `left` bytes: a file that shrank while it was read fails the tar
/// instead of corrupting it.
struct Exactly<'a, R> {
    inner: R,
    left: u64,
    path: &'a Path,
}

impl<R: Read> Read for Exactly<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && self.left > 0 && !buf.is_empty() {
            return Err(std::io::Error::other(format!(
                "{} changed while it was handed over",
                self.path.display()
            )));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// `10.2 MB`, `512 B`, `1.0 GiB` for powers of two of a GiB and more.
pub fn show_bytes(n: u64) -> String {
    const GIB: u64 = 1 << 30;
    if n >= GIB && n.is_multiple_of(GIB) {
        return format!("{}.0 GiB", n / GIB);
    }
    let f = n as f64;
    if n < 1000 {
        format!("{n} B")
    } else if f < 1e6 {
        format!("{:.1} kB", f / 1e3)
    } else if f < 1e9 {
        format!("{:.1} MB", f / 1e6)
    } else {
        format!("{:.1} GB", f / 1e9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(name: &str, parallel: u32) -> Job {
        let text = format!(
            "env: {{ image: busybox }}\njobs:\n  {name}:\n    parallel: {parallel}\n    script: [\"true\"]\n    artifacts: [out]\n"
        );
        railyard_pipeline::parse(Path::new(".railyard.yml"), &text)
            .unwrap()
            .jobs[name]
            .clone()
    }

    fn write(root: &Path, rel: &str, text: &str) {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn shards_are_merged_and_each_merged_report_named_by_its_shard() {
        let dir = tempfile::tempdir().unwrap();
        let test = job("test", 2);
        let build = job("build", 1);
        write(dir.path(), "build/dist/app.txt", "built\n");
        write(dir.path(), "build/railyard-junit.xml", "<x/>");
        write(dir.path(), "test/shard-1/reports/1/junit.xml", "<a/>");
        write(dir.path(), "test/shard-1/railyard-junit.xml", "<merged/>");
        write(dir.path(), "test/shard-2/reports/2/junit.xml", "<b/>");
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("build/dist/link")).unwrap();
        let read = read_needs("deploy", dir.path(), &[&build, &test], None, None).unwrap();
        let paths: Vec<&str> = read.entries.keys().map(String::as_str).collect();
        assert_eq!(
            paths,
            [
                "dist",
                "dist/app.txt",
                "railyard-junit",
                "railyard-junit/build.xml",
                "railyard-junit/test-1-2.xml",
                "reports",
                "reports/1",
                "reports/1/junit.xml",
                "reports/2",
                "reports/2/junit.xml"
            ]
        );
        assert_eq!(read.entries["reports/2/junit.xml"].from, "test [2/2]");
        assert_eq!(
            read.entries["railyard-junit/test-1-2.xml"].from,
            "test [1/2]"
        );
        assert_eq!(
            read.lines,
            [
                "artifacts of build: 2 file(s), 10 B",
                "artifacts of test: 3 file(s), 17 B"
            ]
        );
        let mut tar = Vec::new();
        write_tar(&read.entries, &mut tar).unwrap();
        let mut archive = tar::Archive::new(tar.as_slice());
        let mut found = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let mut body = String::new();
            entry.read_to_string(&mut body).unwrap();
            assert!(entry.header().mtime().unwrap() > 0, "the time is kept");
            found.push((entry.path().unwrap().display().to_string(), body));
        }
        assert!(
            found.contains(&("dist/app.txt".into(), "built\n".into())),
            "{found:?}"
        );
        assert_eq!(found.len(), 10);
    }

    #[test]
    fn two_shards_holding_one_path_is_an_error_naming_both() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "test/shard-1/reports/junit.xml", "<a/>");
        write(dir.path(), "test/shard-2/reports/junit.xml", "<b/>");
        let err = read_needs("deploy", dir.path(), &[&job("test", 2)], None, None)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "artifacts of `test [1/2]` and `test [2/2]` both hold reports/junit.xml: write each shard's files under a name of its own, e.g. reports/$RAILYARD_SHARD/"
        );
    }

    #[test]
    fn a_path_one_need_holds_as_a_file_and_another_as_a_folder_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a/out", "a file");
        write(dir.path(), "b/out/inner.txt", "in a folder");
        let (a, b) = (job("a", 1), job("b", 1));
        for needs in [[&a, &b], [&b, &a]] {
            let err = read_needs("c", dir.path(), &needs, None, None)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("`a`") && err.contains("`b`") && err.contains("both hold out"),
                "{err}"
            );
        }
        write(dir.path(), "a/same.txt", "a");
        write(dir.path(), "b/same.txt", "b");
        std::fs::remove_file(dir.path().join("a/out")).unwrap();
        let read = read_needs("c", dir.path(), &[&a, &b], None, None).unwrap();
        assert_eq!(read.entries["same.txt"].from, "b");
    }

    #[test]
    fn the_hand_over_is_bounded_in_bytes_and_files() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "build/a.bin", "0123456789");
        write(dir.path(), "build/b.bin", "0123456789");
        let build = job("build", 1);
        let err = read_needs("test", dir.path(), &[&build], Some(15), None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`test`") && err.contains("b.bin") && err.contains("15 B"),
            "{err}"
        );
        let err = read_needs("test", dir.path(), &[&build], None, Some(1))
            .unwrap_err()
            .to_string();
        assert!(err.contains("b.bin") && err.contains("1 files"), "{err}");
        assert!(read_needs("test", dir.path(), &[&build], Some(20), Some(2)).is_ok());
    }

    /// A name with `..` cannot be planted on disk under a folder, but on the fleet the folder
    /// is filled from downloads: every path read goes through this check.
    #[test]
    fn paths_that_are_not_plain_and_relative_are_refused() {
        for bad in [
            "../x",
            "a/../../x",
            "/etc/passwd",
            "a/./b",
            "a//b",
            "a\\b",
            "..",
        ] {
            let err = check_path("build", bad).unwrap_err().to_string();
            assert!(err.contains("`build`") && err.contains(bad), "{err}");
        }
        for good in ["dist/app.txt", "reports/1/junit.xml", "a..b"] {
            assert!(check_path("build", good).is_ok(), "{good}");
        }
    }

    #[test]
    fn folders_are_named_as_the_fleet_downloads_them() {
        let root = Path::new("/a");
        assert_eq!(shard_folder(root, "build", None), Path::new("/a/build"));
        assert_eq!(
            shard_folder(root, "test", Some(2)),
            Path::new("/a/test/shard-2")
        );
        let folders = need_folders(root, &job("test", 2));
        assert_eq!(folders[1].0, "test [2/2]");
        assert_eq!(folders[1].1, Path::new("/a/test/shard-2"));
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(show_bytes(512), "512 B");
        assert_eq!(show_bytes(10_200_000), "10.2 MB");
        assert_eq!(show_bytes(1 << 30), "1.0 GiB");
    }
}
