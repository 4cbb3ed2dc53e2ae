//! A job's dependency caches (`cache:`) as volumes of the engine. Each path of a cache is a
//! volume named after the project, cache, path, trust scope and key, labelled with them
//! (`io.railyard.cache*`, never with a run: no job's cleanup removes it) and mounted at
//! the path inside the workspace before the repository's files go in. A warm volume costs
//! nothing to restore: it is mounted.
//!
//! Trust: the job mounts only volumes of its own scope ([`CacheScope`]), so it writes only
//! there. A job whose scope has no volume for its key starts from a copy of the best other
//! one (the shared scope's exact key, else its own scope's newest of the same prefix, else
//! the shared scope's newest of the prefix), made through the engine's archive calls from a
//! container that is never started: the source is read, never mounted into a job, so a
//! pull request cannot write into `main`'s cache on the same engine. With none on the
//! engine, the [`RemoteCache`] (the agent's server) is asked; a failure or a slow answer
//! there is a miss, never a failed job.

use crate::errors::RunnerError;
use crate::job::JobContext;
use crate::workspace::WORKSPACE_DIR;
use futures_util::TryStreamExt;
use railyard_docker::{ContainerSpec, VolumeMount};
use railyard_pipeline::{Cache, CacheKey};
use railyard_types::cache::CacheScope;
use railyard_types::labels;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a restore from the [`RemoteCache`] may take before the job goes on without it.
pub const DEFAULT_RESTORE_TIMEOUT: Duration = Duration::from_secs(60);

/// How a run's caches are kept: what the caller of the runner decides.
#[derive(Clone)]
pub struct Options {
    /// The scope the run writes (`shared` for protected refs and local runs).
    pub scope: CacheScope,
    /// Caches shared beyond this engine (an agent's server); `None`: this engine only.
    pub remote: Option<Arc<dyn RemoteCache>>,
    /// How long a remote restore may take.
    pub restore_timeout: Duration,
}

impl Default for Options {
    /// A local run: the shared scope of this engine, nothing beyond it.
    fn default() -> Options {
        Options {
            scope: CacheScope::Shared,
            remote: None,
            restore_timeout: DEFAULT_RESTORE_TIMEOUT,
        }
    }
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("scope", &self.scope)
            .field("remote", &self.remote.is_some())
            .field("restore_timeout", &self.restore_timeout)
            .finish()
    }
}

/// What a job's caches need from the run around it.
#[derive(Clone, Debug)]
pub struct Setup {
    /// The project: part of every cache volume's name and labels.
    pub project: String,
    /// The repository root, where `key: { files }` are read.
    pub repo_root: PathBuf,
    /// Scope, remote and timeout.
    pub options: Options,
}

/// Caches kept beyond one engine. The runner asks it only when the engine holds nothing
/// for a cache, and hands it a cache after a job with a new key passed. Archives are tars
/// whose entries are paths relative to the workspace, under the cache's paths.
#[async_trait::async_trait]
pub trait RemoteCache: Send + Sync {
    /// Writes into `into` the archive of cache `name` for `key`, or (with a `prefix`) the
    /// newest of that prefix; returns the key it holds, or `None` on a miss.
    async fn fetch(
        &self,
        name: &str,
        key: &str,
        prefix: Option<&str>,
        into: &Path,
    ) -> Result<Option<String>, String>;

    /// Keeps the archive at `archive` as cache `name` for `key` (the server files it under
    /// the run's scope, which it decides itself).
    async fn store(
        &self,
        name: &str,
        key: &str,
        prefix: Option<&str>,
        archive: &Path,
    ) -> Result<(), String>;
}

/// One cache of a job once its volumes are chosen.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    /// The cache's name.
    pub name: String,
    /// Its key for this run.
    pub key: String,
    /// The prefix a new key falls back to (`key: { files, prefix }`).
    pub prefix: Option<String>,
    /// Each path (relative to the workspace) with its volume of this scope.
    pub volumes: Vec<(String, String)>,
    /// Where the contents come from.
    pub source: Source,
}

/// Where a cache's contents come from.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    /// This scope's volumes for this key: mounted, nothing to do.
    Warm,
    /// Other volumes of the engine, copied in (by path).
    Copy {
        scope: String,
        key: String,
        from: Vec<(String, String)>,
    },
    /// Nothing on the engine: the remote cache is asked, else the folders start empty.
    Empty,
}

/// The caches a job prepared in `setup`, kept for after its steps.
pub(crate) type PreparedCaches = Arc<Mutex<Vec<Prepared>>>;

/// The key of `cache` for the repository at `root`: the string, or the prefix and a
/// BLAKE3 hash (32 hex digits) of each named file's path and contents. Files are read
/// inside the repository (a link out of it is refused, as a missing file is).
pub fn cache_key(root: &Path, job: &str, cache: &Cache) -> Result<String, RunnerError> {
    let (files, prefix) = match &cache.key {
        CacheKey::Literal(key) => return Ok(key.clone()),
        CacheKey::Files { files, prefix } => (files, prefix),
    };
    let fail = |file: &str, reason: String| RunnerError::CacheKeyFile {
        job: job.to_owned(),
        cache: cache.name.clone(),
        file: file.to_owned(),
        reason,
    };
    let dir = cap_std::fs::Dir::open_ambient_dir(root, cap_std::ambient_authority())
        .map_err(|e| fail(".", e.to_string()))?;
    let mut hasher = blake3::Hasher::new();
    for file in files {
        let bytes = dir.read(file).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => fail(file, "it does not exist".into()),
            _ => fail(file, e.to_string()),
        })?;
        hasher.update(file.as_bytes());
        hasher.update(&[0]);
        hasher.update(&(bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
    }
    Ok(format!("{prefix}{}", &hasher.finalize().to_hex()[..32]))
}

/// The volume of `path` of cache `name` for `key` in `scope`: a hash, so that no name, key
/// or path can shape it (`ry-cache-` and 32 hex digits).
pub fn volume_name(project: &str, name: &str, path: &str, scope: &CacheScope, key: &str) -> String {
    let mut hasher = blake3::Hasher::new();
    for part in [project, name, path, &scope.to_string(), key] {
        hasher.update(part.as_bytes());
        hasher.update(&[0]);
    }
    format!("ry-cache-{}", &hasher.finalize().to_hex()[..32])
}

/// The label filters that find every cache volume of `project` (`name`: of one cache).
pub fn filters(project: &str, name: Option<&str>) -> Vec<String> {
    let mut out = vec![format!("{}={project}", labels::PROJECT)];
    match name {
        Some(name) => out.push(format!("{}={name}", labels::CACHE)),
        None => out.push(labels::CACHE.to_string()),
    }
    out
}

/// One cache volume found on the engine.
#[derive(Debug, Clone)]
struct Found {
    volume: String,
    path: String,
    scope: String,
    key: String,
    prefix: String,
    created: i64,
}

impl JobContext {
    /// Chooses each cache's volumes (creating this scope's for the key) and says where
    /// the contents come from; the mounts for the job container. Called before the job
    /// container is made.
    pub(crate) async fn prepare_caches(&self) -> Result<Vec<VolumeMount>, RunnerError> {
        let mut mounts = Vec::new();
        let mut prepared = Vec::new();
        for cache in &self.job.caches {
            let key = cache_key(&self.cache.repo_root, &self.job.name, cache)?;
            let p = self.choose(cache, key).await?;
            for (path, volume) in &p.volumes {
                mounts.push(VolumeMount {
                    volume: volume.clone(),
                    target: format!("{WORKSPACE_DIR}/{path}"),
                });
            }
            prepared.push(p);
        }
        *self.caches.lock().unwrap() = prepared;
        Ok(mounts)
    }

    async fn choose(&self, cache: &Cache, key: String) -> Result<Prepared, RunnerError> {
        let setup = &self.cache;
        let prefix = match &cache.key {
            CacheKey::Files { prefix, .. } => Some(prefix.clone()),
            CacheKey::Literal(_) => None,
        };
        let found = self.found(&cache.name).await?;
        let scope = setup.options.scope.to_string();
        let mut volumes = Vec::new();
        let mut warm = true;
        for path in &cache.paths {
            let volume = volume_name(
                &setup.project,
                &cache.name,
                path,
                &setup.options.scope,
                &key,
            );
            warm &= found.iter().any(|f| f.volume == volume);
            let mut volume_labels = HashMap::from([
                (labels::PROJECT.to_string(), setup.project.clone()),
                (labels::CACHE.to_string(), cache.name.clone()),
                (labels::CACHE_KEY.to_string(), key.clone()),
                (labels::CACHE_SCOPE.to_string(), scope.clone()),
                (
                    labels::CACHE_PREFIX.to_string(),
                    prefix.clone().unwrap_or_default(),
                ),
                ("io.railyard.cache.path".to_string(), path.clone()),
            ]);
            volume_labels.insert(
                labels::CACHE_CREATED.to_string(),
                railyard_types::Millis::now().as_i64().to_string(),
            );
            // An existing volume keeps its labels: only a new one is stamped now.
            self.docker.create_volume(&volume, &volume_labels).await?;
            volumes.push((path.clone(), volume));
        }
        let source = if warm {
            Source::Warm
        } else {
            self.best_copy(cache, &key, prefix.as_deref(), &found)
        };
        Ok(Prepared {
            name: cache.name.clone(),
            key,
            prefix,
            volumes,
            source,
        })
    }

    /// The cache volumes of this project's cache `name` on the engine.
    async fn found(&self, name: &str) -> Result<Vec<Found>, RunnerError> {
        let listed = self
            .docker
            .list_labelled(&filters(&self.cache.project, Some(name)))
            .await?;
        Ok(listed
            .volumes
            .into_iter()
            .filter_map(|v| {
                let l = &v.labels;
                Some(Found {
                    volume: v.name.clone(),
                    path: l.get("io.railyard.cache.path")?.clone(),
                    scope: l.get(labels::CACHE_SCOPE)?.clone(),
                    key: l.get(labels::CACHE_KEY)?.clone(),
                    prefix: l.get(labels::CACHE_PREFIX).cloned().unwrap_or_default(),
                    created: l.get(labels::CACHE_CREATED)?.parse().ok()?,
                })
            })
            .collect())
    }

    /// The best other volumes to start from, for every path of the cache: the shared
    /// scope's exact key, this scope's newest of the prefix, the shared scope's newest of
    /// the prefix (the server's lookup keeps the same order). A candidate must hold every
    /// path.
    fn best_copy(&self, cache: &Cache, key: &str, prefix: Option<&str>, found: &[Found]) -> Source {
        let own = self.cache.options.scope.to_string();
        let shared = CacheScope::Shared.to_string();
        // (scope, exact key?) in the order they are tried: the exact key (this scope's
        // would be warm), then the newest of the prefix, this scope's first.
        let mut tries = vec![(own.clone(), false)];
        if own != shared {
            tries.insert(0, (shared.clone(), true));
            tries.push((shared, false));
        }
        for (scope, exact) in tries {
            let mut keys: Vec<(&str, i64)> = found
                .iter()
                .filter(|f| f.scope == scope)
                .filter(|f| match exact {
                    true => f.key == key,
                    false => prefix.is_some_and(|p| f.prefix == p) && f.key != key,
                })
                .map(|f| (f.key.as_str(), f.created))
                .collect();
            keys.sort_by_key(|(_, created)| std::cmp::Reverse(*created));
            for (candidate, _) in keys {
                let from: Option<Vec<(String, String)>> = (cache.paths.iter())
                    .map(|path| {
                        found
                            .iter()
                            .find(|f| f.scope == scope && f.key == candidate && &f.path == path)
                            .map(|f| (path.clone(), f.volume.clone()))
                    })
                    .collect();
                if let Some(from) = from {
                    return Source::Copy {
                        scope,
                        key: candidate.to_owned(),
                        from,
                    };
                }
            }
        }
        Source::Empty
    }

    /// Fills each prepared cache that is not warm, once the job container runs (before
    /// the repository's files go in), and says in the job's log where each came from.
    pub(crate) async fn restore_caches(&self, container: &str) -> Result<(), RunnerError> {
        let prepared = self.caches.lock().unwrap().clone();
        for (i, p) in prepared.iter().enumerate() {
            match &p.source {
                Source::Warm => self.say(format!("cache {}: warm (key {})", p.name, p.key)),
                Source::Copy { scope, key, from } => {
                    for (path, volume) in from {
                        self.copy_in(container, i, path, volume).await?;
                    }
                    self.say(format!(
                        "cache {}: copied from {scope} (key {key}) for key {}",
                        p.name, p.key
                    ));
                }
                Source::Empty => {
                    if !self.restore_remote(container, p).await {
                        self.say(format!(
                            "cache {}: miss (key {}), starts empty",
                            p.name, p.key
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Copies `volume` into the job container at `path` through a container that mounts
    /// it and is never started (the engine mounts a stopped container's volumes for its
    /// archive calls); it carries the job's labels, so teardown removes it whatever happens.
    async fn copy_in(
        &self,
        container: &str,
        index: usize,
        path: &str,
        volume: &str,
    ) -> Result<(), RunnerError> {
        let target = format!("{WORKSPACE_DIR}/{path}");
        let spec = ContainerSpec {
            name: format!("{}-cache-{index}", self.names.base),
            image: self.image_id.clone(),
            entrypoint: Some(vec!["/bin/true".into()]),
            labels: self.names.labels("cache-copy"),
            mounts: vec![VolumeMount {
                volume: volume.to_owned(),
                target: target.clone(),
            }],
            ..Default::default()
        };
        let helper = self.docker.create_container(&spec).await?;
        let copied = async {
            let stream = self.docker.get_archive(&helper, &target).await?;
            let parent = Path::new(&target)
                .parent()
                .map_or_else(|| WORKSPACE_DIR.to_owned(), |p| p.display().to_string());
            self.docker
                .put_archive_stream(container, &parent, stream.map_err(std::io::Error::other))
                .await?;
            Ok::<_, RunnerError>(())
        }
        .await;
        let removed = self.docker.remove_container(&helper).await;
        copied?;
        removed?;
        Ok(())
    }
}
