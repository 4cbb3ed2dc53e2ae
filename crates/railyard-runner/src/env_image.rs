//! The env image: the job environment built from the project's own Dockerfile, tagged and
//! labelled with a hash of everything that goes into the build, so that an unchanged
//! Dockerfile and context never build twice.

use crate::errors::RunnerError;
use railyard_docker::{BuildRequest, Docker, context};
use railyard_pipeline::{BuildSpec, EnvSource};
use railyard_types::env_images::EnvOrigin;
use railyard_types::labels;
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

/// Bumped whenever the key's recipe changes, so old images are not mistaken for new ones.
const KEY_VERSION: &str = "railyard-env-v1";

/// The repository the images are tagged under: `railyard-env:<first 24 hex of the key>`.
pub const ENV_REPOSITORY: &str = "railyard-env";

/// A ready env image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvImage {
    /// The image ID.
    pub id: String,
    /// The cache key (built images only).
    pub key: Option<String>,
    /// True when nothing was built or pulled.
    pub cached: bool,
    /// How it came to the engine.
    pub origin: EnvOrigin,
    /// Its reference in the registry, when one is configured and holds it.
    pub reference: Option<String>,
    /// The registry's manifest digest of it, when it was pulled from or pushed to one.
    pub digest: Option<String>,
}

/// Where env images are shared, and who may build a key missing there: see
/// [`crate::env_registry`].
#[derive(Debug, Clone, Copy)]
pub struct Sharing<'a> {
    /// The registry env images are pulled from and pushed to.
    pub registry: &'a crate::Registry,
    /// The fleet's build lease (an agent's); `None` for a local run.
    pub lease: Option<&'a dyn crate::EnvLease>,
}

/// One env build: what [`ensure`] and the registry's path build, and how they find it.
pub(crate) struct BuildJob<'a> {
    pub(crate) repo_root: &'a Path,
    pub(crate) project: &'a str,
    pub(crate) spec: &'a BuildSpec,
    pub(crate) key: String,
    pub(crate) build_memory: Option<u64>,
    /// Where the image goes in the registry, when there is one.
    pub(crate) reference: Option<String>,
}

impl BuildJob<'_> {
    /// The local tag.
    pub(crate) fn tag(&self) -> String {
        tag_for(&self.key)
    }

    /// The engine's image carrying the key, if any.
    pub(crate) async fn present(&self, docker: &Docker) -> Result<Option<EnvImage>, RunnerError> {
        let Some(info) = docker.image(&self.tag()).await? else {
            return Ok(None);
        };
        if info.labels.get(labels::ENV_KEY) != Some(&self.key) {
            return Ok(None);
        }
        let digest =
            (self.reference.as_deref()).and_then(|r| crate::env_registry::digest_of(&info, r));
        Ok(Some(EnvImage {
            id: info.id,
            key: Some(self.key.clone()),
            cached: true,
            origin: EnvOrigin::Local,
            reference: digest.as_ref().and(self.reference.clone()),
            digest,
        }))
    }

    /// Builds the image, tagged with the local tag and `extra_tags`; returns its ID.
    pub(crate) async fn build(
        &self,
        docker: &Docker,
        extra_tags: &[String],
        on_output: &mut (dyn FnMut(&str) + Send),
    ) -> Result<String, RunnerError> {
        let (dockerfile, context_dir) = build_paths(self.repo_root, self.spec)?;
        let request = BuildRequest {
            context_dir,
            dockerfile,
            memory: self.build_memory.map(|m| m as i64),
            args: self.spec.args.clone(),
            target: self.spec.target.clone(),
            tags: std::iter::once(self.tag())
                .chain(extra_tags.iter().cloned())
                .collect(),
            labels: HashMap::from([
                (labels::ENV_KEY.to_string(), self.key.clone()),
                (labels::PROJECT.to_string(), self.project.to_string()),
            ]),
        };
        docker
            .build(&request, on_output)
            .await
            .map_err(|e| RunnerError::Build {
                dockerfile: self.spec.dockerfile.clone(),
                line: failing_line(&self.repo_root.join(&self.spec.dockerfile), &e),
                source: e,
            })
    }
}

/// A short human name for an env: the Dockerfile path or the image reference.
pub fn describe(source: &EnvSource) -> String {
    match source {
        EnvSource::Build(b) => b.dockerfile.display().to_string(),
        EnvSource::Image(i) => i.clone(),
    }
}

/// The cache key of a Dockerfile build: a blake3 hash over the Dockerfile, every file of the
/// context as `.dockerignore` filters it (path, kind, mode, contents), the build args and the
/// target. Mtimes are left out on purpose: a fresh clone must hit the same key.
pub fn cache_key(repo_root: &Path, spec: &BuildSpec) -> Result<String, RunnerError> {
    let (dockerfile, context_dir) = build_paths(repo_root, spec)?;
    let dockerfile_bytes =
        std::fs::read(&dockerfile).map_err(|source| RunnerError::MissingDockerfile {
            path: dockerfile.clone(),
            source,
        })?;
    if !context_dir.is_dir() {
        return Err(RunnerError::MissingContext { path: context_dir });
    }
    let files = context::collect(&context_dir).map_err(|source| RunnerError::Io {
        doing: format!("reading the build context {}", context_dir.display()),
        source,
    })?;

    let mut hasher = blake3::Hasher::new();
    let mut field = |bytes: &[u8]| {
        hasher.update(&(bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    };
    field(KEY_VERSION.as_bytes());
    field(&dockerfile_bytes);
    let mut buf = Vec::new();
    for file in &files {
        field(file.rel.as_bytes());
        field(&file.mode.to_le_bytes());
        match &file.kind {
            context::FileKind::File => {
                buf.clear();
                std::fs::File::open(&file.abs)
                    .and_then(|mut f| f.read_to_end(&mut buf))
                    .map_err(|source| RunnerError::Io {
                        doing: format!("reading {}", file.abs.display()),
                        source,
                    })?;
                field(b"f");
                field(&buf);
            }
            context::FileKind::Dir => field(b"d"),
            context::FileKind::Symlink(target) => {
                field(b"l");
                field(target.to_string_lossy().as_bytes());
            }
        }
    }
    for (name, value) in &spec.args {
        field(name.as_bytes());
        field(value.as_bytes());
    }
    field(spec.target.as_deref().unwrap_or("").as_bytes());
    Ok(hasher.finalize().to_hex().to_string())
}

/// The Dockerfile and the context folder of a build, resolved through links and checked to be
/// inside the repository: a committed link (`ctx -> /home/agent`) would otherwise send the
/// machine's own files into the image, where a job can read them.
pub fn build_paths(
    repo_root: &Path,
    spec: &BuildSpec,
) -> Result<(std::path::PathBuf, std::path::PathBuf), RunnerError> {
    let root = repo_root.canonicalize().map_err(|source| RunnerError::Io {
        doing: format!("resolving the repository {}", repo_root.display()),
        source,
    })?;
    let inside = |key: &'static str, rel: &Path| match repo_root.join(rel).canonicalize() {
        Ok(resolved) if resolved.starts_with(&root) => Ok(Some(resolved)),
        Ok(resolved) => Err(RunnerError::OutsideRepository {
            key,
            path: rel.to_path_buf(),
            resolved,
        }),
        // Missing: said below, with the error of each key.
        Err(_) => Ok(None),
    };
    let dockerfile = inside("env.dockerfile", &spec.dockerfile)?
        .unwrap_or_else(|| repo_root.join(&spec.dockerfile));
    let context =
        inside("env.context", &spec.context)?.unwrap_or_else(|| repo_root.join(&spec.context));
    Ok((dockerfile, context))
}

/// The tag an env image with this key carries.
pub fn tag_for(key: &str) -> String {
    format!("{ENV_REPOSITORY}:{}", &key[..24])
}

/// Waits for this machine's turn to build `key`: an exclusive lock on a file named after it
/// in the temporary folder, held until the returned file is dropped. Processes of one host
/// (and slots of one process) take turns; when the lock cannot be had, nothing waits.
pub(crate) async fn build_turn(
    key: &str,
    on_output: &mut (dyn FnMut(&str) + Send),
) -> Option<std::fs::File> {
    let dir = std::env::temp_dir().join("railyard-env-builds");
    let path = dir.join(format!("{}.lock", &key[..24.min(key.len())]));
    let file = std::fs::create_dir_all(&dir)
        .and_then(|()| {
            std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
        })
        .ok()?;
    match file.try_lock() {
        Ok(()) => return Some(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            on_output("another job on this machine is building this env image: waiting for it")
        }
        Err(std::fs::TryLockError::Error(_)) => return None,
    }
    tokio::task::spawn_blocking(move || file.lock().map(|()| file).ok())
        .await
        .ok()
        .flatten()
}

/// Makes the env image available: by cache key for a Dockerfile (building only when no image
/// carries the key; with a registry, pulling what another machine built, and pushing what is
/// built here), or by reference for a ready image (pulling only when missing).
/// `on_output` gets the build's or pull's output a whole line at a time, without its newline.
pub async fn ensure(
    docker: &Docker,
    (repo_root, project): (&Path, &str),
    source: &EnvSource,
    build_memory: Option<u64>,
    sharing: Option<Sharing<'_>>,
    on_output: &mut (dyn FnMut(&str) + Send),
) -> Result<EnvImage, RunnerError> {
    match source {
        EnvSource::Image(reference) => {
            if let Some(info) = docker.image(reference).await? {
                return Ok(EnvImage {
                    id: info.id,
                    key: None,
                    cached: true,
                    origin: EnvOrigin::Local,
                    reference: None,
                    digest: None,
                });
            }
            let info = docker.pull(reference, on_output).await?;
            Ok(EnvImage {
                id: info.id,
                key: None,
                cached: false,
                origin: EnvOrigin::Pulled,
                reference: None,
                digest: None,
            })
        }
        EnvSource::Build(spec) => {
            let key = cache_key(repo_root, spec)?;
            let job = BuildJob {
                repo_root,
                project,
                spec,
                reference: sharing
                    .map(|s| crate::env_registry::env_reference(s.registry, project, &key)),
                key,
                build_memory,
            };
            if let Some(image) = job.present(docker).await? {
                return Ok(image);
            }
            if let Some(sharing) = sharing {
                let through = (sharing.registry, sharing.lease);
                return crate::env_registry::ensure(docker, through, &job, on_output).await;
            }
            // Jobs starting together on one machine (an agent's slots, shards of one job)
            // build a key once: the others wait for that build and take its image.
            let _turn = build_turn(&job.key, on_output).await;
            if let Some(image) = job.present(docker).await? {
                return Ok(image);
            }
            let id = job.build(docker, &[], on_output).await?;
            Ok(EnvImage {
                id,
                key: Some(job.key),
                cached: false,
                origin: EnvOrigin::Built,
                reference: None,
                digest: None,
            })
        }
    }
}

/// The Dockerfile line of the instruction a failed build stopped at, found by matching the
/// builder's `Step N/M : INSTRUCTION` text against the file.
fn failing_line(dockerfile: &Path, error: &railyard_docker::DockerError) -> Option<usize> {
    let railyard_docker::DockerError::BuildFailed {
        step: Some(step), ..
    } = error
    else {
        return None;
    };
    let instruction = step.split_once(" : ").map(|(_, i)| i.trim())?;
    let text = std::fs::read_to_string(dockerfile).ok()?;
    let squash = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let wanted = squash(instruction);
    let lines: Vec<&str> = text.lines().collect();
    // An instruction may continue over several lines with a trailing backslash.
    for start in 0..lines.len() {
        let mut joined = String::new();
        for line in &lines[start..] {
            let t = line.trim_end();
            joined.push_str(t.strip_suffix('\\').unwrap_or(t));
            joined.push(' ');
            if !t.ends_with('\\') {
                break;
            }
        }
        if squash(&joined).eq_ignore_ascii_case(&wanted) {
            return Some(start + 1);
        }
    }
    None
}
