//! Caches through the [`RemoteCache`] (an agent's server): fetched when the engine holds
//! nothing for a cache, sent after a job with a new key passed. An archive's entries are
//! paths relative to the workspace. What comes back from the remote is checked before it
//! reaches the engine: only folders and regular files under the cache's own paths, with
//! plain names, are kept (links, devices and hard links are dropped and counted); an entry
//! that is absolute or climbs with `..` refuses the whole archive. A restore that fails or
//! takes longer than its timeout is a miss, and a cache that cannot be sent is a line in the
//! log: a cache never fails a job.

use crate::cache::{Prepared, RemoteCache, Source};
use crate::job::JobContext;
use crate::workspace::WORKSPACE_DIR;
use futures_util::TryStreamExt;
use railyard_types::error::Chain;
use railyard_types::path::plain_relative;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

/// What checking a fetched archive kept.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Checked {
    /// Entries kept.
    pub kept: u64,
    /// Entries dropped (links, special files).
    pub dropped: u64,
}

/// Copies the tar `archive` into `out`, keeping folders and regular files under one of
/// `paths` (relative to the workspace) with plain names. An entry that is absolute, climbs
/// with `..`, or lies outside every path refuses the archive, naming the entry.
pub(crate) fn check_archive(
    archive: impl Read,
    out: impl Write,
    paths: &[String],
) -> Result<Checked, String> {
    let mut reader = tar::Archive::new(archive);
    let mut writer = tar::Builder::new(out);
    let mut checked = Checked::default();
    let entries = reader
        .entries()
        .map_err(|e| format!("not a tar archive: {e}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("reading the archive: {e}"))?;
        let raw = entry.path_bytes().into_owned();
        let name = String::from_utf8_lossy(&raw).into_owned();
        let trimmed = name.trim_end_matches('/');
        let plain = plain_relative(trimmed)
            .map_err(|_| format!("entry `{name}` is not a plain path inside the workspace"))?;
        let under = paths
            .iter()
            .any(|p| trimmed == p || trimmed.starts_with(&format!("{p}/")));
        let parent_of = paths.iter().any(|p| p.starts_with(&format!("{trimmed}/")));
        if !under && !parent_of {
            return Err(format!("entry `{name}` is outside the cache's paths"));
        }
        let kind = entry.header().entry_type();
        if !(kind.is_dir() || kind.is_file()) {
            checked.dropped += 1;
            continue;
        }
        if parent_of {
            // A folder above a cache path: the mount point's parents exist already.
            continue;
        }
        let mut header = entry.header().clone();
        // No setuid, setgid or sticky bits from a cache.
        let mode = header.mode().unwrap_or(0o644) & 0o777;
        header.set_mode(mode);
        let size = header.size().unwrap_or(0);
        let result = if kind.is_dir() {
            writer.append_data(&mut header, &plain, std::io::empty())
        } else {
            writer.append_data(&mut header, &plain, (&mut entry).take(size))
        };
        result.map_err(|e| format!("copying entry `{name}`: {e}"))?;
        checked.kept += 1;
    }
    writer
        .into_inner()
        .and_then(|mut w| w.flush())
        .map_err(|e| format!("writing the checked archive: {e}"))?;
    Ok(checked)
}

impl JobContext {
    /// Asks the remote for cache `p` when the engine had none; says in the log what came of
    /// it. False when there is no remote (the caller logs the miss).
    pub(crate) async fn restore_remote(&self, container: &str, p: &Prepared) -> bool {
        let Some(remote) = self.cache.options.remote.clone() else {
            return false;
        };
        let timeout = self.cache.options.restore_timeout;
        let restored = tokio::time::timeout(timeout, self.fetch_into(remote, container, p)).await;
        let line = match restored {
            Ok(Ok(Some((key, checked)))) => {
                let dropped = match checked.dropped {
                    0 => String::new(),
                    n => format!(", {n} link(s) or special file(s) left out"),
                };
                format!(
                    "cache {}: restored from the server (key {key}, {} entries{dropped}) for key {}",
                    p.name, checked.kept, p.key
                )
            }
            Ok(Ok(None)) => format!("cache {}: miss (key {}), starts empty", p.name, p.key),
            Ok(Err(why)) => format!(
                "cache {}: miss (key {}), starts empty: the server's copy could not be restored: {why}",
                p.name, p.key
            ),
            Err(_) => format!(
                "cache {}: miss (key {}), starts empty: restoring it took over {} s",
                p.name,
                p.key,
                timeout.as_secs()
            ),
        };
        self.say(line);
        true
    }

    async fn fetch_into(
        &self,
        remote: Arc<dyn RemoteCache>,
        container: &str,
        p: &Prepared,
    ) -> Result<Option<(String, Checked)>, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("a temporary folder: {e}"))?;
        let (fetched, checked) = (
            dir.path().join("fetched.tar"),
            dir.path().join("checked.tar"),
        );
        let Some(key) = remote
            .fetch(&p.name, &p.key, p.prefix.as_deref(), &fetched)
            .await?
        else {
            return Ok(None);
        };
        let paths: Vec<String> = p.volumes.iter().map(|(path, _)| path.clone()).collect();
        let (from, to) = (fetched.clone(), checked.clone());
        let result = tokio::task::spawn_blocking(move || {
            let input = std::fs::File::open(&from).map_err(|e| e.to_string())?;
            let output = std::fs::File::create(&to).map_err(|e| e.to_string())?;
            check_archive(
                std::io::BufReader::new(input),
                std::io::BufWriter::new(output),
                &paths,
            )
        })
        .await
        .map_err(|e| e.to_string())??;
        let file = tokio::fs::File::open(&checked)
            .await
            .map_err(|e| e.to_string())?;
        let stream = tokio_util::io::ReaderStream::new(file);
        self.docker
            .put_archive_stream(container, WORKSPACE_DIR, stream)
            .await
            .map_err(|e| Chain(&e).to_string())?;
        Ok(Some((key, result)))
    }

    /// After the job passed: sends each cache whose key was new on this engine to the
    /// remote. A cache that cannot be sent is a line in the log, never a failure.
    pub(crate) async fn save_caches(&self, container: &str) {
        let Some(remote) = self.cache.options.remote.clone() else {
            return;
        };
        let prepared = self.caches.lock().unwrap().clone();
        for p in prepared
            .iter()
            .filter(|p| !matches!(p.source, Source::Warm))
        {
            match self.send(&remote, container, p).await {
                Ok(bytes) => self.say(format!(
                    "cache {}: saved to the server (key {}, {:.1} MB)",
                    p.name,
                    p.key,
                    bytes as f64 / 1e6
                )),
                Err(why) => self.say(format!("cache {}: not saved to the server: {why}", p.name)),
            }
        }
    }

    async fn send(
        &self,
        remote: &Arc<dyn RemoteCache>,
        container: &str,
        p: &Prepared,
    ) -> Result<u64, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("a temporary folder: {e}"))?;
        let archive = dir.path().join("cache.tar");
        let file = std::fs::File::create(&archive).map_err(|e| e.to_string())?;
        let mut builder = Some(tar::Builder::new(std::io::BufWriter::new(file)));
        for (path, _) in &p.volumes {
            let source = format!("{WORKSPACE_DIR}/{path}");
            let stream = self
                .docker
                .get_archive(container, &source)
                .await
                .map_err(|e| Chain(&e).to_string())?;
            let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(
                stream.map_err(std::io::Error::other),
            ));
            // The engine's entries start with the path's last name: put its parents before.
            let parent = Path::new(path).parent().unwrap_or(Path::new("")).to_owned();
            let mut b = builder.take().expect("one builder at a time");
            let b = tokio::task::spawn_blocking(move || {
                let mut archive = tar::Archive::new(reader);
                for entry in archive.entries()? {
                    let mut entry = entry?;
                    let mut header = entry.header().clone();
                    let name = parent.join(entry.path()?);
                    if header.entry_type().is_symlink() || header.entry_type().is_hard_link() {
                        let target = entry.link_name()?.unwrap_or_default().into_owned();
                        b.append_link(&mut header, &name, &target)?;
                    } else {
                        b.append_data(&mut header, &name, &mut entry)?;
                    }
                }
                Ok::<_, std::io::Error>(b)
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("reading `{path}` from the job container: {e}"))?;
            builder = Some(b);
        }
        let b = builder.take().expect("the builder");
        b.into_inner()
            .and_then(|mut w| w.flush())
            .map_err(|e| format!("writing the archive: {e}"))?;
        let size = std::fs::metadata(&archive)
            .map_err(|e| e.to_string())?
            .len();
        remote
            .store(&p.name, &p.key, p.prefix.as_deref(), &archive)
            .await?;
        Ok(size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(entries: &[(&str, tar::EntryType, &[u8], Option<&str>)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, kind, body, link) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(*kind);
            h.set_size(body.len() as u64);
            h.set_mode(0o4755);
            // Written raw: the builder's own checks would refuse the hostile names.
            let bytes = name.as_bytes();
            h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
            if let Some(link) = link {
                h.set_link_name(link).unwrap();
            }
            h.set_cksum();
            b.append(&h, *body).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn names(archive: &[u8]) -> Vec<(String, u32)> {
        let mut a = tar::Archive::new(archive);
        a.entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.path().unwrap().display().to_string(),
                    e.header().mode().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn files_and_folders_under_the_paths_are_kept_without_setuid() {
        use tar::EntryType::{Directory, Regular, Symlink};
        let paths = vec![".cache/pip".to_string()];
        let archive = tar_of(&[
            (".cache/", Directory, b"", None),
            (".cache/pip/", Directory, b"", None),
            (".cache/pip/wheel.whl", Regular, b"wheel", None),
            (".cache/pip/link", Symlink, b"", Some("/etc/passwd")),
        ]);
        let mut out = Vec::new();
        let checked = check_archive(&archive[..], &mut out, &paths).unwrap();
        assert_eq!(
            checked,
            Checked {
                kept: 2,
                dropped: 1
            }
        );
        assert_eq!(
            names(&out),
            vec![
                (".cache/pip".to_string(), 0o755),
                (".cache/pip/wheel.whl".to_string(), 0o755)
            ]
        );
    }

    #[test]
    fn an_entry_that_climbs_or_is_absolute_or_elsewhere_refuses_the_archive() {
        use tar::EntryType::Regular;
        let paths = vec![".cache/pip".to_string()];
        for name in [
            ".cache/pip/../../../etc/cron.d/x",
            "/etc/passwd",
            "src/main.rs",
            ".cache/pipx/a",
            ".cache/pip/./a",
        ] {
            let archive = tar_of(&[(name, Regular, b"x", None)]);
            let err = check_archive(&archive[..], Vec::new(), &paths).unwrap_err();
            assert!(err.contains(name.trim_end_matches('/')), "{name}: {err}");
        }
    }
}
