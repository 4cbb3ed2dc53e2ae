//! Job logs as plain files: `<logs>/<run id>/<job file name>.log`. Each append reaches the
//! file before it returns, so what a killed process appended is kept; several writers (a
//! retried job, a second process) append in turn because the file is opened in append mode.
//!
//! Appends are plain `write` calls on the calling thread: a write into the page cache takes
//! microseconds, where handing each one to tokio's blocking pool cost about 17 µs (100,000
//! lines took 3.5 s). Only `flush`, which waits for the disk, leaves the thread.

use railyard_types::RunId;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::{Store, StoreError};

/// Longest kept part of a job name in a file name (the rest is covered by the hash).
const MAX_NAME: usize = 80;

/// Appends to one job's log file. Opened by [`Store::log_writer`].
#[derive(Debug)]
pub struct LogWriter {
    file: std::fs::File,
    path: PathBuf,
    run: String,
    job: String,
    size: u64,
    limit: u64,
    truncated: bool,
}

impl LogWriter {
    /// Appends bytes; they are in the file (though maybe not on disk) when this returns.
    /// Past the store's size limit, writes a marker line once and then drops output,
    /// returning [`StoreError::LogTooLarge`] so the caller can tell the user.
    pub async fn append(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        if self.truncated {
            return Err(self.too_large());
        }
        let room = self.limit.saturating_sub(self.size);
        let (kept, over) = if bytes.len() as u64 > room {
            (&bytes[..room as usize], true)
        } else {
            (bytes, false)
        };
        self.write(kept).await?;
        if over {
            let marker = format!("\n[railyard: log truncated at {} bytes]\n", self.limit);
            self.write(marker.as_bytes()).await?;
            self.truncated = true;
            return Err(self.too_large());
        }
        Ok(())
    }

    /// Flushes the file to disk (survives a power cut, not just the process).
    pub async fn flush(&mut self) -> Result<(), StoreError> {
        let io = |source| StoreError::Log {
            doing: "write",
            path: self.path.clone(),
            source,
        };
        let file = self.file.try_clone().map_err(io)?;
        tokio::task::spawn_blocking(move || file.sync_data())
            .await
            .map_err(|e| io(std::io::Error::other(e)))?
            .map_err(io)
    }

    /// The file written to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes in the file so far (including what earlier writers appended).
    pub fn len(&self) -> u64 {
        self.size
    }

    /// True when nothing is in the file yet.
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.file
            .write_all(bytes)
            .map_err(|source| StoreError::Log {
                doing: "write",
                path: self.path.clone(),
                source,
            })?;
        self.size += bytes.len() as u64;
        Ok(())
    }

    fn too_large(&self) -> StoreError {
        StoreError::LogTooLarge {
            run: self.run.clone(),
            job: self.job.clone(),
            limit: self.limit,
        }
    }
}

impl Store {
    /// Where a job's log lives (whether or not it exists yet).
    pub fn log_path(&self, run_id: &RunId, job: &str) -> PathBuf {
        self.logs_dir()
            .join(safe_component(run_id))
            .join(format!("{}.log", log_file_name(job)))
    }

    /// Opens a job's log for appending, creating the file and its folder.
    pub async fn log_writer(&self, run_id: &RunId, job: &str) -> Result<LogWriter, StoreError> {
        let path = self.log_path(run_id, job);
        let dir = path.parent().expect("log path has a folder");
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|source| StoreError::CreateDir {
                path: dir.to_path_buf(),
                source,
            })?;
        let io = |doing, source| StoreError::Log {
            doing,
            path: path.clone(),
            source,
        };
        let file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .await
            .map_err(|e| io("open", e))?
            .into_std()
            .await;
        let size = file.metadata().map_err(|e| io("open", e))?.len();
        let limit = self.inner.max_log_bytes;
        Ok(LogWriter {
            file,
            run: run_id.to_string(),
            job: job.to_owned(),
            size,
            limit,
            truncated: size >= limit && limit > 0,
            path,
        })
    }

    /// The whole log of a job; [`StoreError::NoLog`] when none was written.
    pub async fn read_log(&self, run_id: &RunId, job: &str) -> Result<Vec<u8>, StoreError> {
        let path = self.log_path(run_id, job);
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(StoreError::NoLog {
                run: run_id.to_string(),
                job: job.to_owned(),
            }),
            Err(source) => Err(StoreError::Log {
                doing: "read",
                path,
                source,
            }),
        }
    }
}

/// A job name made safe as a file name (without `.log`): letters, digits, `.`, `_` and `-`
/// are kept, anything else becomes `_`, and a name that had to change (or is long) gets a
/// short hash of the original, so `test (1/2)` and `test _1_2_` stay apart.
pub fn log_file_name(job: &str) -> String {
    let safe = safe_component(job);
    if safe == job && job.len() <= MAX_NAME && !job.starts_with('.') {
        return safe;
    }
    let cut: String = safe
        .trim_start_matches('.')
        .chars()
        .take(MAX_NAME)
        .collect();
    let hash = blake3::hash(job.as_bytes()).to_hex();
    format!("{cut}-{}", &hash[..10])
}

fn safe_component(s: &str) -> String {
    let safe: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if safe.is_empty() || safe.chars().all(|c| c == '.') {
        "_".into()
    } else {
        safe
    }
}

#[cfg(test)]
mod tests {
    use super::log_file_name;

    #[test]
    fn job_names_become_safe_distinct_file_names() {
        assert_eq!(log_file_name("build"), "build");
        assert_eq!(log_file_name("lint-2_x.y"), "lint-2_x.y");
        let names = [
            "test (1/2)",
            "test _1_2_",
            "a=b",
            "a/b",
            "a b",
            "..",
            ".",
            "",
            "é",
        ];
        let files: Vec<String> = names.iter().map(|n| log_file_name(n)).collect();
        for (name, file) in names.iter().zip(&files) {
            assert!(
                !file.is_empty() && !file.starts_with('.'),
                "{name:?} -> {file:?}"
            );
            assert!(
                file.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)),
                "{name:?} -> {file:?}"
            );
        }
        let distinct: std::collections::HashSet<_> = files.iter().collect();
        assert_eq!(distinct.len(), files.len(), "{files:?}");
        assert!(log_file_name(&"x".repeat(500)).len() < 100);
    }
}
