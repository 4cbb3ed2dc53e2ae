//! The env image: the job environment built from the project's own Dockerfile, tagged and
//! labelled with a hash of everything that goes into the build, so that an unchanged
//! Dockerfile and context never build twice.

use crate::errors::RunnerError;
use railyard_docker::{BuildRequest, Docker, context};
use railyard_pipeline::{BuildSpec, EnvSource};
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
async fn build_turn(key: &str, on_output: &mut (dyn FnMut(&str) + Send)) -> Option<std::fs::File> {
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
/// carries the key), or by reference for a ready image (pulling only when missing).
/// `on_output` gets the build's or pull's output a whole line at a time, without its newline.
pub async fn ensure(
    docker: &Docker,
    repo_root: &Path,
    project: &str,
    source: &EnvSource,
    build_memory: Option<u64>,
    on_output: &mut (dyn FnMut(&str) + Send),
) -> Result<EnvImage, RunnerError> {
    match source {
        EnvSource::Image(reference) => {
            if let Some(info) = docker.image(reference).await? {
                return Ok(EnvImage {
                    id: info.id,
                    key: None,
                    cached: true,
                });
            }
            let info = docker.pull(reference, on_output).await?;
            Ok(EnvImage {
                id: info.id,
                key: None,
                cached: false,
            })
        }
        EnvSource::Build(spec) => {
            let key = cache_key(repo_root, spec)?;
            let tag = tag_for(&key);
            let present = |info: &Option<railyard_docker::ImageInfo>| {
                info.as_ref()
                    .filter(|i| i.labels.get(labels::ENV_KEY) == Some(&key))
                    .map(|i| i.id.clone())
            };
            if let Some(id) = present(&docker.image(&tag).await?) {
                return Ok(EnvImage {
                    id,
                    key: Some(key),
                    cached: true,
                });
            }
            // Jobs starting together on one machine (an agent's slots, shards of one job)
            // build a key once: the others wait for that build and take its image.
            let _turn = build_turn(&key, on_output).await;
            if let Some(id) = present(&docker.image(&tag).await?) {
                return Ok(EnvImage {
                    id,
                    key: Some(key),
                    cached: true,
                });
            }
            let (dockerfile, context_dir) = build_paths(repo_root, spec)?;
            let request = BuildRequest {
                context_dir,
                dockerfile,
                memory: build_memory.map(|m| m as i64),
                args: spec.args.clone(),
                target: spec.target.clone(),
                tags: vec![tag],
                labels: HashMap::from([
                    (labels::ENV_KEY.to_string(), key.clone()),
                    (labels::PROJECT.to_string(), project.to_string()),
                ]),
            };
            let id = docker
                .build(&request, on_output)
                .await
                .map_err(|e| RunnerError::Build {
                    dockerfile: spec.dockerfile.clone(),
                    line: failing_line(&repo_root.join(&spec.dockerfile), &e),
                    source: e,
                })?;
            Ok(EnvImage {
                id,
                key: Some(key),
                cached: false,
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
