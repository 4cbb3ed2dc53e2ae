//! Tagging an image and pushing it to a registry: what the runner does with an image a job
//! built, once its scan has passed.

use crate::client::Docker;
use crate::errors::{DockerError, chain, server_error};
use crate::images::split_reference;
use bollard::query_parameters::{PushImageOptionsBuilder, TagImageOptionsBuilder};
use futures_util::StreamExt;

impl Docker {
    /// Gives the local image `image_id` the reference `reference` (`repo:tag`).
    pub async fn tag(&self, image_id: &str, reference: &str) -> Result<(), DockerError> {
        let (repo, tag) = split_reference(reference);
        let options = TagImageOptionsBuilder::default()
            .repo(repo)
            .tag(tag)
            .build();
        self.client
            .tag_image(image_id, Some(options))
            .await
            .map_err(self.err(format!("tagging {image_id} as `{reference}`")))
    }

    /// Pushes `reference` (`host:port/path:tag`, present locally) to its registry, reporting
    /// progress lines, and returns the manifest digest the registry stored (`sha256:…`):
    /// the one the push reported, or else the image's `RepoDigests` entry for that
    /// repository. Any failure is a [`DockerError::PushFailed`] naming the registry.
    pub async fn push(
        &self,
        reference: &str,
        on_progress: &mut (dyn FnMut(&str) + Send),
    ) -> Result<String, DockerError> {
        self.push_with(reference, None, on_progress).await
    }

    /// [`Docker::push`] with the credentials of `reference`'s registry (sent to the engine as
    /// `X-Registry-Auth`, for that registry only).
    pub async fn push_with(
        &self,
        reference: &str,
        auth: Option<&crate::RegistryAuth>,
        on_progress: &mut (dyn FnMut(&str) + Send),
    ) -> Result<String, DockerError> {
        let (repo, tag) = split_reference(reference);
        let registry = registry_of(repo);
        let failed = |reason: String| DockerError::PushFailed {
            reference: reference.to_string(),
            registry: registry.clone(),
            reason,
        };
        let options = PushImageOptionsBuilder::default().tag(tag).build();
        let credentials = auth.map(|a| a.for_server(&registry));
        let mut stream = self.client.push_image(repo, Some(options), credentials);
        let mut digest = None;
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    let Some(status) = info.status else { continue };
                    // The last status line reads `TAG: digest: sha256:… size: N`.
                    if let Some(found) = digest_in(&status) {
                        digest = Some(found.to_string());
                    }
                    on_progress(&status);
                }
                Err(bollard::errors::Error::DockerStreamError { error }) => {
                    return Err(failed(error));
                }
                Err(e) => {
                    return Err(match self.err(format!("pushing `{reference}`"))(e) {
                        DockerError::Api { source, .. } => failed(match server_error(&source) {
                            Some((_, message)) => message.to_string(),
                            None => chain(&source),
                        }),
                        unreachable => unreachable,
                    });
                }
            }
        }
        if let Some(digest) = digest {
            return Ok(digest);
        }
        let inspected = self
            .client
            .inspect_image(reference)
            .await
            .map_err(self.err(format!("inspecting `{reference}` after its push")))?;
        inspected
            .repo_digests
            .unwrap_or_default()
            .iter()
            .find_map(|d| d.strip_prefix(&format!("{repo}@")).map(str::to_string))
            .ok_or_else(|| failed("the push reported no digest".to_string()))
    }
}

/// The registry part of a repository (`127.0.0.1:5000` of `127.0.0.1:5000/team/app`), or
/// Docker Hub's name when the first part is not a host.
pub(crate) fn registry_of(repo: &str) -> String {
    match repo.split_once('/') {
        Some((first, _)) if first.contains([':', '.']) || first == "localhost" => first.into(),
        _ => "docker.io".into(),
    }
}

fn digest_in(status: &str) -> Option<&str> {
    let rest = &status[status.find("digest: ")? + "digest: ".len()..];
    let digest = rest.split_whitespace().next()?;
    digest.starts_with("sha256:").then_some(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_is_read_from_the_last_status_line() {
        assert_eq!(
            digest_in("v1: digest: sha256:ab12 size: 528"),
            Some("sha256:ab12")
        );
        assert_eq!(digest_in("Pushed"), None);
    }

    #[test]
    fn the_registry_is_the_first_part_when_it_is_a_host() {
        assert_eq!(registry_of("127.0.0.1:5000/p/app"), "127.0.0.1:5000");
        assert_eq!(registry_of("localhost/app"), "localhost");
        assert_eq!(registry_of("team/app"), "docker.io");
    }
}
