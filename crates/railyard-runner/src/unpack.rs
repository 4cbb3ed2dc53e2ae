//! Unpacking a job's artifacts onto the machine that runs it. The archive comes from the job
//! container, which a committer controls: its entries may climb out with `..`, be absolute,
//! be links (to anywhere, or through other links), devices or setuid files. Every path is
//! resolved inside the job's artifacts folder opened as a capability (`cap-std`), links
//! included, so nothing is ever written outside it whatever the links on disk say; special
//! files are skipped, setuid and setgid bits dropped, and files streamed, never held whole.

use cap_std::fs::{Dir, OpenOptions, Permissions};
use railyard_types::path::relative_inside;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Why an artifact could not be unpacked.
#[derive(Debug)]
pub(crate) enum UnpackError {
    /// An entry would land outside the artifacts folder: its name, or the link it follows.
    Unsafe(String),
    /// An entry would pass a bound of [`Budget`]: its name, and the bound in words.
    Over {
        /// The entry's name in the archive.
        entry: String,
        /// The bound passed, e.g. "1.0 GiB in all".
        limit: String,
    },
    /// Reading the archive or writing a file failed.
    Io(std::io::Error),
}

/// What a job's artifacts may still hold: counted over all its artifact paths, entry by
/// entry as they are unpacked, so that an oversized artifact stops at its first entry past
/// the bound (from the tar header, before its body is read), not after it filled the disk.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budget {
    max_bytes: Option<u64>,
    max_files: Option<u64>,
    bytes: u64,
    files: u64,
}

impl Budget {
    /// A budget of at most `max_bytes` bytes and `max_files` entries (None: unbounded).
    pub(crate) fn new(max_bytes: Option<u64>, max_files: Option<u64>) -> Budget {
        Budget {
            max_bytes,
            max_files,
            bytes: 0,
            files: 0,
        }
    }

    /// Counts one entry of `size` bytes, or says which bound it passes.
    pub(crate) fn take(&mut self, size: u64) -> Result<(), String> {
        let files = self.files + 1;
        let bytes = self.bytes.saturating_add(size);
        if let Some(max) = self.max_files
            && files > max
        {
            return Err(format!("{max} files and folders in all"));
        }
        if let Some(max) = self.max_bytes
            && bytes > max
        {
            return Err(format!("{} in all", crate::handover::show_bytes(max)));
        }
        (self.files, self.bytes) = (files, bytes);
        Ok(())
    }
}

/// Unpacks the tar read from `archive` into `base` (relative) under `root`, which the
/// caller created, counting each entry against `budget`. Returns a line for each entry
/// skipped.
pub(crate) fn unpack(
    archive: impl Read,
    root: &Path,
    base: &Path,
    budget: &mut Budget,
) -> Result<Vec<String>, UnpackError> {
    let dir = Dir::open_ambient_dir(root, cap_std::ambient_authority()).map_err(UnpackError::Io)?;
    let mut skipped = Vec::new();
    let mut archive = tar::Archive::new(archive);
    for entry in archive.entries().map_err(UnpackError::Io)? {
        let mut entry = entry.map_err(UnpackError::Io)?;
        let name = entry.path().map_err(UnpackError::Io)?.into_owned();
        let path = inside(base, &name)?;
        let kind = entry.header().entry_type();
        let kept = matches!(
            kind,
            tar::EntryType::Directory
                | tar::EntryType::Regular
                | tar::EntryType::Continuous
                | tar::EntryType::Symlink
                | tar::EntryType::Link
        );
        if kept {
            let size = match kind {
                tar::EntryType::Regular | tar::EntryType::Continuous => entry.size(),
                _ => 0,
            };
            budget.take(size).map_err(|limit| UnpackError::Over {
                entry: name.display().to_string(),
                limit,
            })?;
        }
        // Outside the folder through a link on disk: cap-std refuses to follow it there.
        let escaped = |e: std::io::Error| {
            if e.kind() == std::io::ErrorKind::PermissionDenied
                || e.to_string().contains("outside of the filesystem")
            {
                UnpackError::Unsafe(format!("{} (through a link)", name.display()))
            } else {
                UnpackError::Io(e)
            }
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            // A folder of the path that exists as something else (a link cap-std will not
            // follow out of the folder, a file) is in the way: nothing is written.
            dir.create_dir_all(parent).map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => UnpackError::Unsafe(format!(
                    "{} (a link or file stands where its folder {} should be)",
                    name.display(),
                    parent.display()
                )),
                _ => escaped(e),
            })?;
        }
        let mode = entry.header().mode().unwrap_or(0o644) & 0o777;
        match kind {
            tar::EntryType::Directory => dir.create_dir_all(&path).map_err(escaped)?,
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                // A link left at this name by an earlier entry is replaced, not followed.
                if dir.symlink_metadata(&path).is_ok_and(|m| !m.is_dir()) {
                    dir.remove_file(&path).map_err(escaped)?;
                }
                let mut options = OpenOptions::new();
                options.write(true).create_new(true);
                let mut file = dir.open_with(&path, &options).map_err(escaped)?;
                std::io::copy(&mut entry, &mut file).map_err(UnpackError::Io)?;
                file.set_permissions(Permissions::from_std(std::fs::Permissions::from_mode(mode)))
                    .map_err(UnpackError::Io)?;
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .map_err(UnpackError::Io)?
                    .unwrap_or_default()
                    .into_owned();
                let resolved = path.parent().unwrap_or(Path::new("")).join(&target);
                if relative_inside(&resolved.to_string_lossy()).is_err() {
                    return Err(UnpackError::Unsafe(format!(
                        "{} -> {}",
                        name.display(),
                        target.display()
                    )));
                }
                dir.symlink(&target, &path).map_err(escaped)?;
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name()
                    .map_err(UnpackError::Io)?
                    .unwrap_or_default()
                    .into_owned();
                let source = inside(base, &target)?;
                dir.hard_link(&source, &dir, &path).map_err(escaped)?;
            }
            other => skipped.push(format!(
                "skipped `{}`: a {} is not kept as an artifact",
                name.display(),
                match other {
                    tar::EntryType::Char => "character device",
                    tar::EntryType::Block => "block device",
                    tar::EntryType::Fifo => "named pipe",
                    _ => "special file",
                }
            )),
        }
    }
    Ok(skipped)
}

/// `base/name`, or why `name` cannot be unpacked: not a relative path inside the folder
/// (absolute, a drive, a backslash), or with a `..` anywhere, which no archive of a folder
/// holds.
fn inside(base: &Path, name: &Path) -> Result<PathBuf, UnpackError> {
    let text = name.to_string_lossy();
    match relative_inside(&text) {
        Ok(relative) if !text.split('/').any(|part| part == "..") => Ok(base.join(relative)),
        _ => Err(UnpackError::Unsafe(name.display().to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    enum Entry<'a> {
        File(&'a str, u32),
        Link(&'a str, &'a str),
        Hard(&'a str, &'a str),
        Fifo(&'a str),
    }

    /// A tar with raw names (`set_path` refuses `..`, a hostile archive does not).
    fn tar_with(entries: &[Entry]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for entry in entries {
            let mut h = tar::Header::new_gnu();
            let (name, body): (&str, &[u8]) = match entry {
                Entry::File(name, mode) => {
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_mode(*mode);
                    (name, b"hi")
                }
                Entry::Link(name, target) | Entry::Hard(name, target) => {
                    let kind = if matches!(entry, Entry::Link(..)) {
                        tar::EntryType::Symlink
                    } else {
                        tar::EntryType::Link
                    };
                    h.set_entry_type(kind);
                    h.set_mode(0o777);
                    // Raw, as a hostile archive writes it (`set_link_name` refuses some).
                    let raw = target.as_bytes();
                    h.as_old_mut().linkname[..raw.len()].copy_from_slice(raw);
                    (name, b"")
                }
                Entry::Fifo(name) => {
                    h.set_entry_type(tar::EntryType::Fifo);
                    h.set_mode(0o644);
                    (name, b"")
                }
            };
            h.set_size(body.len() as u64);
            h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
            h.set_cksum();
            b.append(&h, body).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn unpack_into(root: &Path, entries: &[Entry]) -> Result<Vec<String>, UnpackError> {
        std::fs::create_dir_all(root).unwrap();
        unpack(
            tar_with(entries).as_slice(),
            root,
            Path::new(""),
            &mut unbounded(),
        )
    }

    fn unbounded() -> Budget {
        Budget::new(None, None)
    }

    #[test]
    fn entries_climbing_out_are_refused_and_nothing_is_written_outside() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("artifacts");
        let err = unpack_into(
            &root,
            &[
                Entry::File("ok.txt", 0o644),
                Entry::File("../evil.txt", 0o644),
            ],
        );
        assert!(matches!(err, Err(UnpackError::Unsafe(ref e)) if e == "../evil.txt"));
        assert!(!dir.path().join("evil.txt").exists());
    }

    #[test]
    fn links_pointing_outside_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for link in [
            Entry::Link("out/link", "../../etc"),
            Entry::Link("abs", "/etc/passwd"),
        ] {
            assert!(matches!(
                unpack_into(dir.path(), &[link]),
                Err(UnpackError::Unsafe(_))
            ));
        }
    }

    /// The reproduction of the escape: `y -> .` makes `y/y/…/..` climb on disk while it
    /// stays inside as text, so a file written through `d` landed outside.
    #[test]
    fn a_file_written_through_links_that_climb_on_disk_stays_inside() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("artifacts");
        let victim = dir.path().join("victim");
        std::fs::create_dir_all(&victim).unwrap();
        // From `artifacts/a`: eight times `.`, then two levels up on disk, while as text
        // `a/y/…/../..` stays six levels inside.
        let climb = format!("{}{}victim", "y/".repeat(8), "../".repeat(2));
        let first = unpack_into(
            &root,
            &[Entry::Link("a/y", "."), Entry::Link("a/d", &climb)],
        );
        assert!(first.is_ok(), "{first:?}");
        let second = unpack(
            tar_with(&[Entry::File("pwned.txt", 0o644)]).as_slice(),
            &root,
            Path::new("a/d"),
            &mut unbounded(),
        );
        assert!(matches!(second, Err(UnpackError::Unsafe(_))), "{second:?}");
        assert_eq!(std::fs::read_dir(&victim).unwrap().count(), 0);
    }

    #[test]
    fn setuid_bits_are_dropped_special_files_skipped_and_hard_links_kept_inside() {
        let dir = tempfile::tempdir().unwrap();
        let skipped = unpack_into(
            dir.path(),
            &[
                Entry::File("bin/app", 0o4755),
                Entry::Hard("bin/same", "bin/app"),
                Entry::Fifo("bin/pipe"),
            ],
        )
        .unwrap();
        let mode = std::fs::metadata(dir.path().join("bin/app"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o7777, 0o755);
        assert_eq!(std::fs::read(dir.path().join("bin/same")).unwrap(), b"hi");
        assert!(!dir.path().join("bin/pipe").exists());
        assert_eq!(skipped.len(), 1, "{skipped:?}");
        assert!(skipped[0].contains("named pipe"), "{skipped:?}");
        let err = unpack_into(dir.path(), &[Entry::Hard("x", "../../etc/passwd")]);
        assert!(matches!(err, Err(UnpackError::Unsafe(_))));
    }

    /// Bounds count across archives (a job's artifact paths): the entry past one stops the
    /// unpacking before its body is written.
    #[test]
    fn an_entry_past_the_budget_stops_before_it_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut budget = Budget::new(Some(3), None);
        let two = [Entry::File("a", 0o644)];
        unpack(
            tar_with(&two).as_slice(),
            dir.path(),
            Path::new(""),
            &mut budget,
        )
        .unwrap();
        let err = unpack(
            tar_with(&[Entry::File("b", 0o644)]).as_slice(),
            dir.path(),
            Path::new(""),
            &mut budget,
        );
        assert!(
            matches!(&err, Err(UnpackError::Over { entry, limit }) if entry == "b" && limit == "3 B in all"),
            "{err:?}"
        );
        assert!(!dir.path().join("b").exists());
        let mut budget = Budget::new(None, Some(2));
        let three = [
            Entry::File("x/1", 0o644),
            Entry::File("x/2", 0o644),
            Entry::File("x/3", 0o644),
        ];
        let err = unpack(
            tar_with(&three).as_slice(),
            dir.path(),
            Path::new(""),
            &mut budget,
        );
        assert!(
            matches!(&err, Err(UnpackError::Over { entry, .. }) if entry == "x/3"),
            "{err:?}"
        );
    }

    #[test]
    fn plain_archives_unpack() {
        let dir = tempfile::tempdir().unwrap();
        let ok = unpack_into(
            dir.path(),
            &[
                Entry::File("bin/app", 0o644),
                Entry::Link("bin/link", "app"),
            ],
        );
        assert!(ok.is_ok(), "{ok:?}");
        assert_eq!(std::fs::read(dir.path().join("bin/link")).unwrap(), b"hi");
    }

    /// A name or link target a hostile job could leave: parts of `..`, `.`, links' names,
    /// the outside folder, absolute roots.
    fn part() -> impl proptest::strategy::Strategy<Value = String> {
        proptest::sample::select(vec![
            "a", "b", "..", ".", "y", "d", "outside", "/", "/tmp", "",
        ])
        .prop_map(str::to_string)
    }

    fn path() -> impl proptest::strategy::Strategy<Value = String> {
        proptest::collection::vec(part(), 1..6).prop_map(|parts| parts.join("/"))
    }

    use proptest::strategy::Strategy;

    proptest::proptest! {
        #![proptest_config(railyard_test_support::fuzz_config())]

        /// Archives of links, files and hard links with hostile names, unpacked one after
        /// another into the same folder (as a job's artifacts are): nothing is ever written
        /// outside it, whatever is refused.
        #[test]
        fn nothing_lands_outside_whatever_the_archives(
            archives in proptest::collection::vec(
                proptest::collection::vec((0u8..4, path(), path()), 1..6),
                1..4,
            ),
            bases in proptest::collection::vec(path(), 1..4),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let root = dir.path().join("root");
            let outside = dir.path().join("outside");
            std::fs::create_dir_all(&root).unwrap();
            std::fs::create_dir_all(&outside).unwrap();
            for (i, entries) in archives.iter().enumerate() {
                let owned: Vec<(u8, String, String)> = entries.clone();
                let entries: Vec<Entry> = owned
                    .iter()
                    .filter(|(_, name, _)| !name.is_empty() && name.len() < 90)
                    .map(|(kind, name, target)| match kind {
                        0 => Entry::File(name, 0o644),
                        1 => Entry::Link(name, target),
                        2 => Entry::Hard(name, target),
                        _ => Entry::Fifo(name),
                    })
                    .collect();
                let base = bases[i % bases.len()].trim_start_matches('/').to_string();
                if base.split('/').any(|p| p == "..") {
                    continue;
                }
                let _ = unpack(tar_with(&entries).as_slice(), &root, Path::new(&base), &mut unbounded());
            }
            let left: Vec<_> = std::fs::read_dir(&outside).unwrap().collect();
            proptest::prop_assert!(left.is_empty(), "written outside: {left:?}");
            let beside: Vec<String> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n != "root" && n != "outside")
                .collect();
            proptest::prop_assert!(beside.is_empty(), "written beside the root: {beside:?}");
        }
    }
}
