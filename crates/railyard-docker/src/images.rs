//! Images: look up, pull, and build through the classic `/build` endpoint.

use crate::build_output::BuildLog;
use crate::client::{Docker, is_not_found};
use crate::context;
use crate::errors::{DockerError, chain, server_error};
use bollard::query_parameters::{
    BuildImageOptionsBuilder, CreateImageOptionsBuilder, TagImageOptionsBuilder,
};
use futures_util::StreamExt;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// What Railyard needs to know about a local image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    /// `sha256:...`.
    pub id: String,
    /// The image's labels (the env key of an env image, ...).
    pub labels: HashMap<String, String>,
    /// Size in bytes.
    pub size: i64,
    /// `repository@sha256:…` for each registry it was pulled from or pushed to.
    pub repo_digests: Vec<String>,
}

/// A Dockerfile build.
#[derive(Debug, Clone, Default)]
pub struct BuildRequest {
    /// The folder sent as the build context (`.dockerignore` applies).
    pub context_dir: PathBuf,
    /// The Dockerfile on disk; may lie outside `context_dir` (then it is sent under a
    /// generated name).
    pub dockerfile: PathBuf,
    /// `--build-arg`s.
    pub args: BTreeMap<String, String>,
    /// The stage to stop at, for multi-stage Dockerfiles.
    pub target: Option<String>,
    /// Tags for the result (`repo:tag`); may be empty.
    pub tags: Vec<String>,
    /// Labels added to the resulting image.
    pub labels: HashMap<String, String>,
    /// Memory of each `RUN` step's container, in bytes (swap limited to the same).
    pub memory: Option<i64>,
}

/// The name a Dockerfile from outside the context gets inside the context tar.
pub const OUTSIDE_DOCKERFILE_NAME: &str = ".railyard.Dockerfile";

impl Docker {
    /// The local image with this reference (name, `name:tag`, or id), or `None`.
    pub async fn image(&self, reference: &str) -> Result<Option<ImageInfo>, DockerError> {
        match self.client.inspect_image(reference).await {
            Ok(img) => Ok(Some(ImageInfo {
                id: img.id.unwrap_or_default(),
                labels: img.config.and_then(|c| c.labels).unwrap_or_default(),
                size: img.size.unwrap_or_default(),
                repo_digests: img.repo_digests.unwrap_or_default(),
            })),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(self.err(format!("inspecting image `{reference}`"))(e)),
        }
    }

    /// Pulls an image (`name` means `name:latest`), reporting progress lines such as
    /// `3f4e...: Downloading 12MB/40MB`. Any failure is [`DockerError::ImageUnavailable`]
    /// (or [`DockerError::Unreachable`] when the engine itself is gone).
    pub async fn pull(
        &self,
        reference: &str,
        on_progress: &mut (dyn FnMut(&str) + Send),
    ) -> Result<ImageInfo, DockerError> {
        match self.pull_with(reference, None, on_progress).await {
            Err(DockerError::NotInRegistry { reference, reason }) => {
                Err(DockerError::ImageUnavailable { reference, reason })
            }
            other => other,
        }
    }

    /// [`Docker::pull`] with the credentials of `reference`'s registry (sent to the engine as
    /// `X-Registry-Auth`, for that registry only). A manifest the registry does not hold is
    /// [`DockerError::NotInRegistry`]; a registry that cannot be reached or refuses the
    /// credentials is [`DockerError::ImageUnavailable`].
    pub async fn pull_with(
        &self,
        reference: &str,
        auth: Option<&crate::RegistryAuth>,
        on_progress: &mut (dyn FnMut(&str) + Send),
    ) -> Result<ImageInfo, DockerError> {
        let unavailable = |reason: String| DockerError::ImageUnavailable {
            reference: reference.to_string(),
            reason,
        };
        let (name, tag) = split_reference(reference);
        let options = CreateImageOptionsBuilder::default()
            .from_image(name)
            .tag(tag)
            .build();
        let credentials = auth.map(|a| a.for_server(crate::push::registry_of(name).as_str()));
        let mut stream = self.client.create_image(Some(options), None, credentials);
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    let mut line = String::new();
                    if let Some(id) = &info.id {
                        line.push_str(id);
                        line.push_str(": ");
                    }
                    line.push_str(info.status.as_deref().unwrap_or_default());
                    if let Some(d) = &info.progress_detail
                        && let (Some(cur), Some(total)) = (d.current, d.total)
                        && total > 0
                    {
                        line.push_str(&format!(" {}/{}", human(cur), human(total)));
                    }
                    on_progress(&line);
                }
                Err(e) => {
                    let mapped = self.err(format!("pulling `{reference}`"))(e);
                    return Err(match mapped {
                        // The engine's 404: the registry answered that it has no such
                        // manifest (a registry away or refusing is a 500).
                        DockerError::Api { source, .. }
                            if server_error(&source).is_some_and(|(status, _)| status == 404) =>
                        {
                            DockerError::NotInRegistry {
                                reference: reference.to_string(),
                                reason: server_error(&source)
                                    .map(|(_, m)| m.to_string())
                                    .unwrap_or_default(),
                            }
                        }
                        DockerError::Api { source, .. } => {
                            unavailable(match server_error(&source) {
                                Some((_, message)) => message.to_string(),
                                None => match &source {
                                    bollard::errors::Error::DockerStreamError { error } => {
                                        error.clone()
                                    }
                                    other => chain(other),
                                },
                            })
                        }
                        unreachable => unreachable,
                    });
                }
            }
        }
        self.image(reference).await?.ok_or_else(|| {
            unavailable("the pull reported success but the image is not there".to_string())
        })
    }

    /// Builds an image with the classic builder, streaming its output one line at a time
    /// (without the newline). Returns the image id. A failing instruction is
    /// [`DockerError::BuildFailed`], naming the step and the output that led to it.
    pub async fn build(
        &self,
        req: &BuildRequest,
        on_output: &mut (dyn FnMut(&str) + Send),
    ) -> Result<String, DockerError> {
        // Walking and packing the context is blocking file IO: keep it off the runtime.
        let owned = req.clone();
        let (tar, dockerfile_name) = tokio::task::spawn_blocking(move || build_context(&owned))
            .await
            .map_err(|e| DockerError::Io {
                doing: format!("packing the build context {}", req.context_dir.display()),
                source: std::io::Error::other(e),
            })??;
        let args: HashMap<&str, &str> = req
            .args
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut options = BuildImageOptionsBuilder::default()
            .dockerfile(&dockerfile_name)
            .buildargs(&args)
            .labels(&req.labels)
            .rm(true)
            .forcerm(true);
        if let Some(target) = &req.target {
            options = options.target(target);
        }
        // bollard types the build's memory as i32: a limit of 2 GiB or more cannot be sent
        // and is left to the engine (said, so an operator knows).
        match req.memory.map(i32::try_from) {
            Some(Ok(memory)) => options = options.memory(memory).memswap(memory),
            Some(Err(_)) => tracing::warn!(
                "a build memory limit of 2 GiB or more cannot be passed to Docker's build API here: RUN steps are not limited"
            ),
            None => {}
        }
        if let Some(tag) = req.tags.first() {
            options = options.t(tag);
        }
        let mut log = BuildLog::default();
        let mut image_id: Option<String> = None;
        let mut stream = self.client.build_image(
            options.build(),
            None,
            Some(bollard::body_try_stream(tokio_util::io::ReaderStream::new(
                tokio::fs::File::from_std(tar),
            ))),
        );
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    if let Some(text) = &info.stream {
                        log.push(text, on_output);
                    }
                    if let Some(status) = &info.status {
                        let line = match &info.id {
                            Some(id) => format!("{id}: {status}"),
                            None => status.clone(),
                        };
                        log.status(&line, on_output);
                    }
                    if let Some(id) = info.aux.and_then(|aux| aux.id) {
                        image_id = Some(id);
                    }
                }
                Err(bollard::errors::Error::DockerStreamError { error }) => {
                    log.flush(on_output);
                    return Err(log.failure(&error));
                }
                Err(e) => {
                    log.flush(on_output);
                    return Err(match self.err("building an image")(e) {
                        // The engine refused the request itself (bad Dockerfile name, ...).
                        DockerError::Api { source, .. } if server_error(&source).is_some() => {
                            log.failure(server_error(&source).map(|(_, m)| m).unwrap_or_default())
                        }
                        other => other,
                    });
                }
            }
        }
        log.flush(on_output);
        let id = match image_id {
            Some(id) => id,
            None => {
                let short = log
                    .built()
                    .map(str::to_string)
                    .ok_or_else(|| log_less_failure("the builder reported no image id"))?;
                self.image(&short)
                    .await?
                    .map(|i| i.id)
                    .ok_or_else(|| log_less_failure("the built image is missing"))?
            }
        };
        for tag in req.tags.iter().skip(1) {
            let (repo, tag_part) = split_reference(tag);
            let options = TagImageOptionsBuilder::default()
                .repo(repo)
                .tag(tag_part)
                .build();
            self.client
                .tag_image(&id, Some(options))
                .await
                .map_err(self.err(format!("tagging {id} as `{tag}`")))?;
        }
        Ok(id)
    }
}

fn log_less_failure(message: &str) -> DockerError {
    DockerError::BuildFailed {
        step: None,
        message: message.to_string(),
        output_tail: Vec::new(),
    }
}

/// The context tar, in an unlinked temp file read as it is sent (so memory does not grow with
/// the context), and the Dockerfile's name inside it.
fn build_context(req: &BuildRequest) -> Result<(std::fs::File, String), DockerError> {
    let dockerfile_err = |source| DockerError::Dockerfile {
        path: req.dockerfile.clone(),
        source,
    };
    let io_err = |source| DockerError::Io {
        doing: format!("reading the build context {}", req.context_dir.display()),
        source,
    };
    let dockerfile_text = std::fs::read(&req.dockerfile).map_err(dockerfile_err)?;
    let context_dir = req.context_dir.canonicalize().map_err(io_err)?;
    let dockerfile = req.dockerfile.canonicalize().map_err(dockerfile_err)?;
    let inside = dockerfile
        .strip_prefix(&context_dir)
        .ok()
        .and_then(Path::to_str)
        .map(str::to_string);
    let (files, extra, name) = match inside {
        Some(rel) => {
            let files = context::collect_keeping(&context_dir, &[&rel]).map_err(io_err)?;
            (files, vec![], rel)
        }
        None => {
            let mut files = context::collect(&context_dir).map_err(io_err)?;
            files.retain(|f| f.rel != OUTSIDE_DOCKERFILE_NAME);
            let extra = vec![(OUTSIDE_DOCKERFILE_NAME.to_string(), dockerfile_text)];
            (files, extra, OUTSIDE_DOCKERFILE_NAME.to_string())
        }
    };
    let file = tempfile::tempfile().map_err(io_err)?;
    let out = context::tar_to(&files, &extra, std::io::BufWriter::new(file)).map_err(io_err)?;
    let mut file = out.into_inner().map_err(|e| io_err(e.into_error()))?;
    std::io::Seek::rewind(&mut file).map_err(io_err)?;
    Ok((file, name))
}

/// Splits `name[:tag]` or `name@digest` the way the docker CLI does before asking the
/// engine: no tag means `latest` (an empty tag would pull every tag).
pub(crate) fn split_reference(reference: &str) -> (&str, &str) {
    if let Some((name, digest)) = reference.split_once('@') {
        return (name, digest);
    }
    let last_slash = reference.rfind('/').map_or(0, |i| i + 1);
    match reference[last_slash..].rfind(':') {
        Some(i) => (
            &reference[..last_slash + i],
            &reference[last_slash + i + 1..],
        ),
        None => (reference, "latest"),
    }
}

fn human(bytes: i64) -> String {
    const UNITS: [&str; 4] = ["B", "kB", "MB", "GB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes}B")
    } else {
        format!("{value:.1}{}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split_like_the_docker_cli() {
        assert_eq!(split_reference("busybox"), ("busybox", "latest"));
        assert_eq!(split_reference("busybox:1.36"), ("busybox", "1.36"));
        assert_eq!(
            split_reference("localhost:5000/team/app"),
            ("localhost:5000/team/app", "latest")
        );
        assert_eq!(
            split_reference("localhost:5000/team/app:v2"),
            ("localhost:5000/team/app", "v2")
        );
        assert_eq!(split_reference("app@sha256:abcd"), ("app", "sha256:abcd"));
    }

    #[test]
    fn sizes_read_like_docker_progress() {
        assert_eq!(human(512), "512B");
        assert_eq!(human(12_300_000), "12.3MB");
    }
}
