//! Env images through a registry: with `--registry`, the env image of key K of project P is
//! `HOST/PREFIX/env/P:K`. Before building K, the runner uses the engine's own image when it has
//! it, else pulls K from the registry; a missing manifest means "not built yet", a registry
//! that cannot be reached is said in the env's log and the image is built here as without a
//! registry (a job never fails for the registry alone). A key the registry lacks is built by
//! one machine: on a fleet the one the server gives the key's build lease ([`EnvLease`],
//! implemented by the agent: the runner never talks to the server); the others wait for its
//! push and pull. A local run has no lease: the host's build lock suffices. The builder pushes
//! and reports the digest, which every job records.

use crate::Registry;
use crate::env_image::{BuildJob, EnvImage, build_turn};
use crate::errors::RunnerError;
use railyard_docker::{Docker, DockerError};
use railyard_types::env_images::{EnvLeaseAnswer, EnvOrigin};
use railyard_types::error::Chain;
use railyard_types::labels;
use std::time::Duration;

/// The build lease of env keys on a fleet: the agent asks its server for it.
#[async_trait::async_trait]
pub trait EnvLease: Send + Sync {
    /// Asks for (or renews) the build lease of `key` of the job's project. An error (the
    /// server away) is said in the log and the key built here without one.
    async fn acquire(&self, key: &str) -> Result<EnvLeaseAnswer, String>;

    /// Reports `key` pushed as `reference` with `digest`.
    async fn built(&self, key: &str, reference: &str, digest: &str) -> Result<(), String>;
}

impl std::fmt::Debug for dyn EnvLease + '_ {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EnvLease")
    }
}

/// The longest wait between two asks while another machine builds a key.
const MAX_POLL: Duration = Duration::from_secs(5);

/// Where key `key` of `project` lives in `registry`: `HOST/PREFIX/env/<project>:<key>`, the
/// project made one path component ([`env_path`]).
pub fn env_reference(registry: &Registry, project: &str, key: &str) -> String {
    let project = env_path(project);
    match registry.prefix.as_str() {
        "" => format!("{}/env/{project}:{key}", registry.host),
        prefix => format!("{}/{prefix}/env/{project}:{key}", registry.host),
    }
}

/// The project as one registry path component. A server's project is its name, a local
/// run's its folder's path: both come down to the last path part, so a laptop's `~/src/demo`
/// pulls what the fleet built for project `demo`. A name that is a component already stays
/// as it is (`demo`); any other (`My.App`, `Demo`) is made fit (lower-case, other characters
/// `-`) and followed by a hash of it, so that `Demo` and `demo` never share env images.
pub fn env_path(project: &str) -> String {
    let last = project.trim_end_matches('/');
    let last = last.rsplit('/').next().unwrap_or(last);
    let fit = crate::image_build::repository_path(last);
    if fit == last {
        return fit;
    }
    let hash = blake3::hash(last.as_bytes()).to_hex();
    format!("{fit}-{}", &hash[..8])
}

/// The registry digest of a local image under `reference`'s repository, if it was pulled
/// from it or pushed to it.
pub(crate) fn digest_of(info: &railyard_docker::ImageInfo, reference: &str) -> Option<String> {
    let repo = reference.rsplit_once(':').map_or(reference, |(r, _)| r);
    (info.repo_digests.iter()).find_map(|d| d.strip_prefix(&format!("{repo}@")).map(str::to_string))
}

/// What a pull of the key's reference came to.
enum Pull {
    Got(EnvImage),
    Missing,
    Unreachable(String),
}

/// The env image of `job` when the engine lacks it (the caller looked): pulled, or built
/// under the lease (or the host's lock) and pushed.
pub(crate) async fn ensure(
    docker: &Docker,
    (registry, lease): (&Registry, Option<&dyn EnvLease>),
    job: &BuildJob<'_>,
    on_output: &mut (dyn FnMut(&str) + Send),
) -> Result<EnvImage, RunnerError> {
    let reference = env_reference(registry, job.project, &job.key);
    match pull(docker, registry, &reference, job, on_output).await {
        Pull::Got(image) => return Ok(image),
        Pull::Missing => {}
        Pull::Unreachable(why) => {
            on_output(&format!(
                "the registry {registry} cannot be reached ({why}): building here, without pushing"
            ));
            return build_here(docker, None, job, on_output).await;
        }
    }
    let Some(lease) = lease else {
        // A local run: this host's lock, then a last look (another process may have built it).
        let _turn = build_turn(&job.key, on_output).await;
        if let Some(image) = job.present(docker).await? {
            return Ok(image);
        }
        return build_here(docker, Some((registry, &reference)), job, on_output).await;
    };
    let mut poll = Duration::from_millis(250);
    let mut told_waiting = false;
    loop {
        match lease.acquire(&job.key).await {
            Err(why) => {
                on_output(&format!(
                    "could not ask the server for this env image's build lease ({why}): building here"
                ));
                return build_here(docker, Some((registry, &reference)), job, on_output).await;
            }
            Ok(EnvLeaseAnswer::Build { lease_ms }) => {
                let renew = async {
                    let every = Duration::from_millis((lease_ms / 3).max(100));
                    loop {
                        tokio::time::sleep(every).await;
                        if let Err(why) = lease.acquire(&job.key).await {
                            tracing::warn!("renewing an env build lease: {why}");
                        }
                    }
                };
                let built = tokio::select! {
                    built = build_here(docker, Some((registry, &reference)), job, on_output) => built?,
                    () = renew => unreachable!("the renewal never ends"),
                };
                if let Some(digest) = &built.digest
                    && let Err(why) = lease.built(&job.key, &reference, digest).await
                {
                    on_output(&format!(
                        "could not tell the server the image was pushed: {why}"
                    ));
                }
                return Ok(built);
            }
            Ok(EnvLeaseAnswer::Wait { holder }) => {
                if !told_waiting {
                    on_output(&format!(
                        "another job builds this env image ({holder}): waiting for its push"
                    ));
                    told_waiting = true;
                }
                tokio::time::sleep(poll).await;
                poll = (poll * 2).min(MAX_POLL);
            }
            Ok(EnvLeaseAnswer::Ready { digest }) => {
                match pull(docker, registry, &reference, job, on_output).await {
                    Pull::Got(image) => return Ok(image),
                    Pull::Missing | Pull::Unreachable(_) => {
                        on_output(&format!(
                            "{reference} ({digest}) could not be pulled: building here"
                        ));
                        let _turn = build_turn(&job.key, on_output).await;
                        return build_here(docker, Some((registry, &reference)), job, on_output)
                            .await;
                    }
                }
            }
        }
    }
}

/// Pulls `reference` with the registry's credentials. The image must carry the key it is
/// named by (a registry holding something else under the name is not trusted with the job).
async fn pull(
    docker: &Docker,
    registry: &Registry,
    reference: &str,
    job: &BuildJob<'_>,
    on_output: &mut (dyn FnMut(&str) + Send),
) -> Pull {
    let mut progress = |line: &str| {
        if !is_progress(line) {
            on_output(line)
        }
    };
    let info = match docker
        .pull_with(reference, registry.auth.as_ref(), &mut progress)
        .await
    {
        Ok(info) => info,
        Err(DockerError::NotInRegistry { .. }) => return Pull::Missing,
        Err(e) => return Pull::Unreachable(Chain(&e).to_string()),
    };
    if info.labels.get(labels::ENV_KEY) != Some(&job.key) {
        on_output(&format!(
            "{reference} in the registry does not carry env key {}: not used",
            job.key
        ));
        return Pull::Missing;
    }
    if let Err(e) = docker.tag(&info.id, &job.tag()).await {
        tracing::warn!("tagging a pulled env image: {}", Chain(&e));
    }
    Pull::Got(EnvImage {
        digest: digest_of(&info, reference),
        id: info.id,
        key: Some(job.key.clone()),
        cached: false,
        origin: EnvOrigin::Pulled,
        reference: Some(reference.to_string()),
    })
}

/// Builds the image here and, with a registry, pushes it: a push that fails is said and the
/// job runs on the image built here (without a digest).
async fn build_here(
    docker: &Docker,
    push: Option<(&Registry, &str)>,
    job: &BuildJob<'_>,
    on_output: &mut (dyn FnMut(&str) + Send),
) -> Result<EnvImage, RunnerError> {
    let extra: Vec<String> = push.iter().map(|(_, r)| r.to_string()).collect();
    let id = job.build(docker, &extra, on_output).await?;
    let mut image = EnvImage {
        id,
        key: Some(job.key.clone()),
        cached: false,
        origin: EnvOrigin::Built,
        reference: None,
        digest: None,
    };
    if let Some((registry, reference)) = push {
        let mut progress = |line: &str| {
            if !is_progress(line) {
                on_output(line)
            }
        };
        match docker
            .push_with(reference, registry.auth.as_ref(), &mut progress)
            .await
        {
            Ok(digest) => {
                image.reference = Some(reference.to_string());
                image.digest = Some(digest);
            }
            Err(e) => on_output(&format!(
                "the env image was not pushed ({}): this job runs on the image built here",
                Chain(&e)
            )),
        }
    }
    Ok(image)
}

/// A pull's or push's progress line (`3f4e…: Downloading 1MB/2MB`, `Pushing`): many a
/// second, left out of the env's log; the lines that say what happened stay.
fn is_progress(line: &str) -> bool {
    let status = line.split_once(": ").map_or(line, |(_, s)| s);
    [
        "Downloading",
        "Extracting",
        "Pushing",
        "Waiting",
        "Preparing",
        "Verifying",
    ]
    .iter()
    .any(|p| status.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_is_under_env_with_the_whole_key() {
        let registry: Registry = "http://127.0.0.1:5000/ci".parse().unwrap();
        let key = "ab".repeat(32);
        let made_fit = env_reference(&registry, "Team/My Project", &key);
        assert!(
            made_fit.starts_with("127.0.0.1:5000/ci/env/my-project-"),
            "{made_fit}"
        );
        assert!(made_fit.ends_with(&format!(":{key}")), "{made_fit}");
        // A local run's folder names its project; names made fit stay apart.
        assert_eq!(env_path("/home/me/src/app"), "app");
        assert_eq!(env_path("app"), "app");
        assert_ne!(env_path("App"), env_path("app"));
        assert_eq!(env_path("/home/me/src/App"), env_path("App"));
        let bare: Registry = "127.0.0.1:5000".parse().unwrap();
        assert_eq!(
            env_reference(&bare, "demo", &key),
            format!("127.0.0.1:5000/env/demo:{key}")
        );
    }

    #[test]
    fn progress_lines_are_told_from_outcomes() {
        assert!(is_progress("3f4e: Downloading 1MB/2MB"));
        assert!(is_progress("Pushing"));
        assert!(!is_progress("3f4e: Pull complete"));
        assert!(!is_progress("Status: Downloaded newer image for x"));
    }
}
