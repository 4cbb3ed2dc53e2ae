//! Images a pipeline builds (`image_build`): after a job's steps passed, the runner (never the
//! job: it has no Docker socket) builds an image on the engine from the job's own workspace,
//! so the steps' outputs are in its context; scans it through the run's [`EnvCheck`]; and,
//! with `push: true`, pushes its tags to the run's [`Registry`] under the project's name.
//!
//! The context comes out of the job container (`/workspace/<context>`), streamed and unpacked
//! by the same code as artifacts, which refuses a link that leads out of it; the build then
//! applies `.dockerignore` as env builds do. The Dockerfile and the context are paths inside
//! the workspace (no `..` climbing out). The image carries `io.railyard.project` and
//! [`APP_IMAGE_LABEL`]; the builder's intermediate containers are removed whatever happens
//! (`forcerm`), and the tagged image itself is kept: it is the job's product.

use crate::EnvCheck;
use crate::errors::RunnerError;
use crate::events::Event;
use crate::job::JobContext;
use crate::unpack::UnpackError;
use crate::workspace::WORKSPACE_DIR;
use futures_util::TryStreamExt;
use railyard_docker::{BuildRequest, DockerError, context};
use railyard_pipeline::{ImageBuild, ScanPolicy};
use railyard_types::error::chain;
use railyard_types::labels;
use railyard_types::path::relative_inside;
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// On images a job built: the tag as the pipeline wrote it, expanded.
pub const APP_IMAGE_LABEL: &str = "io.railyard.app-image";

/// Where pushed images go: `--registry http://127.0.0.1:5000/prefix` gives host
/// `127.0.0.1:5000` and prefix `prefix`; an image of project `p` tagged `app:v1` is pushed as
/// `127.0.0.1:5000/prefix/p/app:v1`. The scheme is for people: the engine decides how it
/// speaks to the registry (plain HTTP to loopback, HTTPS elsewhere unless the engine lists
/// the registry as insecure).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Registry {
    /// `host[:port]`.
    pub host: String,
    /// Path under which every project's images go, without slashes at its ends; may be empty.
    pub prefix: String,
    /// The operator's credentials for it, sent to the engine with each pull and push of its
    /// images; never shown.
    #[serde(skip)]
    pub auth: Option<railyard_docker::RegistryAuth>,
}

impl std::str::FromStr for Registry {
    type Err = String;

    fn from_str(text: &str) -> Result<Registry, String> {
        let bad = |why: &str| {
            format!(
                "registry `{text}`: {why}; give it as http://HOST:PORT or http://HOST:PORT/PREFIX"
            )
        };
        let rest = text
            .strip_prefix("http://")
            .or_else(|| text.strip_prefix("https://"))
            .unwrap_or(text);
        let (host, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let prefix = prefix.trim_matches('/');
        if host.is_empty()
            || !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        {
            return Err(bad("no host, or a host with characters a host cannot have"));
        }
        if rest.contains(['?', '#', '@']) {
            return Err(bad("credentials, queries and fragments are not part of it"));
        }
        if !prefix.is_empty() && prefix.split('/').any(|part| !is_path_component(part)) {
            return Err(bad(
                "its path must be lower-case names (letters, digits, `.`, `_`, `-`) separated by `/`",
            ));
        }
        Ok(Registry {
            host: host.to_string(),
            prefix: prefix.to_string(),
            auth: None,
        })
    }
}

impl std::fmt::Display for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.host)?;
        if !self.prefix.is_empty() {
            write!(f, "/{}", self.prefix)?;
        }
        Ok(())
    }
}

/// What a run needs to build images beside its jobs' own context.
#[derive(Debug, Clone, Default)]
pub struct Setup {
    /// The project: the images' repository path under the registry.
    pub project: String,
    /// Where `push: true` pushes; `None` refuses it.
    pub registry: Option<Registry>,
    /// The scan of each built image before its push.
    pub check: Option<Arc<dyn EnvCheck>>,
}

/// An image a job built, for the checks of [`EnvCheck::check_built`].
#[derive(Debug, Clone, Copy)]
pub struct BuiltImageCheck<'a> {
    /// The project that built it.
    pub project: &'a str,
    /// Its first reference (`host:port/prefix/project/app:tag`, or `project/app:tag` without
    /// a registry): the name it is filed under in the inventory.
    pub reference: &'a str,
    /// The tag as the pipeline wrote it, expanded (`app:1a2b3c4d`).
    pub tag: &'a str,
    /// The pipeline's `image_build.scan`.
    pub policy: Option<&'a ScanPolicy>,
}

/// The image a job built, as its result and records carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuiltImage {
    /// The image ID (`sha256:…`).
    pub image_id: String,
    /// Its local references, the first being the one it is known by.
    pub tags: Vec<String>,
    /// Each reference pushed, with the manifest digest the registry stored.
    pub pushed: Vec<PushedImage>,
}

impl BuiltImage {
    /// The reference and digest to record: the first pushed, else the first tag with no digest.
    pub fn record(&self) -> Option<(String, Option<String>)> {
        match self.pushed.first() {
            Some(p) => Some((p.reference.clone(), Some(p.digest.clone()))),
            None => self.tags.first().map(|t| (t.clone(), None)),
        }
    }
}

/// A reference pushed to a registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PushedImage {
    /// `host:port/prefix/project/app:tag`.
    pub reference: String,
    /// `sha256:…`, the registry's manifest digest.
    pub digest: String,
}

/// Why a job's image was not built or pushed.
#[derive(Debug, thiserror::Error)]
pub enum ImageBuildError {
    /// `image_build.dockerfile` or `image_build.context` is not a path inside the workspace.
    #[error(
        "`image_build.{key}: {path}` of job `{job}` is not a path inside the workspace ({reason}): give a relative path without `..` climbing out"
    )]
    OutsideWorkspace {
        /// The job.
        job: String,
        /// `dockerfile` or `context`.
        key: &'static str,
        /// As written.
        path: String,
        /// Why not.
        reason: String,
    },
    /// The context (or the Dockerfile) holds a link that leads out of it.
    #[error(
        "the build context of job `{job}` holds `{entry}`, a link that leads out of the context: an image may only be built from the workspace's own files (a link is never followed out); remove the link or copy what it points to into the context. Nothing was built"
    )]
    LinkOutOfContext {
        /// The job.
        job: String,
        /// The link and where it points (`ctx/root -> /`).
        entry: String,
    },
    /// The context or the Dockerfile is not in the workspace after the steps.
    #[error(
        "`image_build.{key}: {path}` of job `{job}` is not in the workspace after the job's steps: check the path, or make a step create it"
    )]
    Missing {
        /// The job.
        job: String,
        /// `dockerfile` or `context`.
        key: &'static str,
        /// As written.
        path: String,
    },
    /// A tag, once expanded, is not an image reference.
    #[error(
        "tag `{tag}` of job `{job}` (`{written}` in `image_build.tags`) is not an image name: use lower-case names separated by `/`, then `:TAG` of letters, digits, `_`, `.` and `-`, without a registry host (the registry comes from `--registry`)"
    )]
    BadTag {
        /// The job.
        job: String,
        /// As written in the pipeline.
        written: String,
        /// Expanded.
        tag: String,
    },
    /// The context passes the bounds a job's files may hold on this machine.
    #[error(
        "the build context of job `{job}` is too large: its entry {entry} passes the bound of {limit} (set by this machine's operator); keep the context small with `.dockerignore` or a narrower `image_build.context`. Nothing was built"
    )]
    TooLarge {
        /// The job.
        job: String,
        /// The first entry past the bound.
        entry: String,
        /// The bound, in words.
        limit: String,
    },
    /// A tag names the commit, and the run has none.
    #[error(
        "tag `{written}` of job `{job}` names the commit, but this run has none (the repository has no commit yet, or is not a git repository): commit first, or tag with `{{run}}`"
    )]
    NoCommit {
        /// The job.
        job: String,
        /// The tag as written.
        written: String,
    },
    /// `push: true` without a registry to push to.
    #[error(
        "job `{job}` has `image_build.push: true` but no registry is configured: pass `--registry http://HOST:PORT/PREFIX` (to `railyard run`, or to the agent), or set `push: false`. Nothing was built"
    )]
    NoRegistry {
        /// The job.
        job: String,
    },
    /// `push: true` with no tag to push.
    #[error("job `{job}` has `image_build.push: true` but no `tags`: give at least one tag")]
    NothingToPush {
        /// The job.
        job: String,
    },
    /// The build failed.
    #[error("building the image of job `{job}` ({}) failed", dockerfile.display())]
    Build {
        /// The job.
        job: String,
        /// The Dockerfile, relative to the workspace.
        dockerfile: PathBuf,
        /// The builder's error, with the failing step and its output.
        source: Box<DockerError>,
    },
    /// The scan refused the image: it was not pushed.
    #[error("the image of job `{job}` was not pushed: {reason}")]
    Refused {
        /// The job.
        job: String,
        /// Why (the scan's findings).
        reason: String,
    },
    /// The push failed.
    #[error("pushing the image of job `{job}` failed")]
    Push {
        /// The job.
        job: String,
        /// The engine's or registry's error, naming the registry.
        source: Box<DockerError>,
    },
}

/// Builds (scans, pushes) the image of `ctx`'s job from its container's workspace, when the
/// job has `image_build`; `None` otherwise. Called after the job's steps passed.
pub(crate) async fn after_steps(
    ctx: &JobContext,
    container: &str,
) -> Result<Option<BuiltImage>, RunnerError> {
    let Some(spec) = ctx.job.image_build.as_ref() else {
        return Ok(None);
    };
    Ok(Some(build(ctx, container, spec).await.map_err(Box::new)?))
}

async fn build(
    ctx: &JobContext,
    container: &str,
    spec: &ImageBuild,
) -> Result<BuiltImage, ImageBuildError> {
    let job = ctx.job.name.clone();
    let setup = &ctx.image_build;
    // Everything that can be refused without building is refused first.
    let inside = |key: &'static str, path: &Path| {
        let text = path.to_string_lossy().into_owned();
        relative_inside(&text).map_err(|e| ImageBuildError::OutsideWorkspace {
            job: job.clone(),
            key,
            path: text,
            reason: e.to_string(),
        })
    };
    let context_rel = inside("context", &spec.build.context)?;
    let dockerfile_rel = inside("dockerfile", &spec.build.dockerfile)?;
    if dockerfile_rel.as_os_str().is_empty() {
        return Err(ImageBuildError::Missing {
            job,
            key: "dockerfile",
            path: String::new(),
        });
    }
    let written_tags = spec
        .tags
        .iter()
        .map(|written| {
            let known = |name: &str| ctx.env.iter().any(|(k, v)| k == name && !v.is_empty());
            let names_commit = written.contains("{commit}")
                || written.contains("{short_commit}")
                || (written.contains("{ref}") && !known("RAILYARD_REF"));
            if names_commit && !known("RAILYARD_COMMIT") {
                return Err(ImageBuildError::NoCommit {
                    job: job.clone(),
                    written: written.clone(),
                });
            }
            let tag = expand_tag(written, &ctx.env);
            match valid_tag(&tag) {
                true => Ok((written.clone(), tag)),
                false => Err(ImageBuildError::BadTag {
                    job: job.clone(),
                    written: written.clone(),
                    tag,
                }),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    if spec.push && setup.registry.is_none() {
        return Err(ImageBuildError::NoRegistry { job });
    }
    if spec.push && written_tags.is_empty() {
        return Err(ImageBuildError::NothingToPush { job });
    }
    let project = repository_path(&setup.project);
    let references: Vec<String> = written_tags
        .iter()
        .map(|(_, tag)| match &setup.registry {
            Some(r) if r.prefix.is_empty() => format!("{}/{project}/{tag}", r.host),
            Some(r) => format!("{}/{}/{project}/{tag}", r.host, r.prefix),
            None => format!("{project}/{tag}"),
        })
        .collect();

    ctx.emit(Event::JobPhase {
        job: job.clone(),
        phase: "building the image".into(),
    });
    let scratch =
        tempfile::tempdir().map_err(|e| io_failure(&job, "a folder for the context", e))?;
    let context_dir = fetch(
        ctx,
        container,
        &context_rel,
        &scratch.path().join("context"),
    )
    .await?
    .ok_or_else(|| ImageBuildError::Missing {
        job: job.clone(),
        key: "context",
        path: spec.build.context.display().to_string(),
    })?;
    refuse_links_out(&job, &context_dir, &context_rel)?;
    let dockerfile = match dockerfile_rel.strip_prefix(&context_rel) {
        Ok(in_context) => context_dir.join(in_context),
        Err(_) => fetch(
            ctx,
            container,
            &dockerfile_rel,
            &scratch.path().join("dockerfile"),
        )
        .await?
        .ok_or_else(|| ImageBuildError::Missing {
            job: job.clone(),
            key: "dockerfile",
            path: spec.build.dockerfile.display().to_string(),
        })?,
    };
    match std::fs::symlink_metadata(&dockerfile) {
        Ok(meta) if meta.is_file() => {}
        Ok(meta) if meta.file_type().is_symlink() => {
            return Err(ImageBuildError::LinkOutOfContext {
                job,
                entry: format!(
                    "{} -> {}",
                    spec.build.dockerfile.display(),
                    std::fs::read_link(&dockerfile)
                        .map(|t| t.display().to_string())
                        .unwrap_or_default()
                ),
            });
        }
        _ => {
            return Err(ImageBuildError::Missing {
                job,
                key: "dockerfile",
                path: spec.build.dockerfile.display().to_string(),
            });
        }
    }

    let mut image_labels = HashMap::from([
        (labels::PROJECT.to_string(), setup.project.clone()),
        (
            APP_IMAGE_LABEL.to_string(),
            written_tags
                .first()
                .map(|(_, t)| t.clone())
                .unwrap_or_default(),
        ),
    ]);
    image_labels.insert("io.railyard.built-by-job".into(), job.clone());
    let request = BuildRequest {
        context_dir,
        dockerfile,
        args: spec.build.args.clone(),
        target: spec.build.target.clone(),
        tags: references.clone(),
        labels: image_labels,
        memory: ctx.allowance.build_memory.map(|m| m as i64),
    };
    let mut on_output = |line: &str| ctx.say(format!("image: {line}"));
    let image_id = ctx
        .docker
        .build(&request, &mut on_output)
        .await
        .map_err(|source| ImageBuildError::Build {
            job: job.clone(),
            dockerfile: spec.build.dockerfile.clone(),
            source: Box::new(source),
        })?;
    drop(scratch);

    if let Some(check) = &setup.check {
        let facts = BuiltImageCheck {
            project: &setup.project,
            reference: references.first().map_or(image_id.as_str(), String::as_str),
            tag: written_tags.first().map_or("", |(_, t)| t.as_str()),
            policy: spec.scan.as_ref(),
        };
        match check.check_built(&image_id, &facts).await {
            Ok(lines) => lines
                .into_iter()
                .for_each(|l| ctx.say(format!("image: {l}"))),
            Err(reason) => {
                return Err(ImageBuildError::Refused {
                    job,
                    reason: chain(&reason),
                });
            }
        }
    } else if spec.scan.as_ref().is_some_and(|s| s.fail_on.is_some()) {
        ctx.say(
            "warning: `image_build.scan` is not applied here: this runner has no scanner".into(),
        );
    }

    let mut pushed = Vec::new();
    if spec.push {
        for reference in &references {
            ctx.say(format!("image: pushing {reference}"));
            let mut progress = |_: &str| {};
            let digest = ctx
                .docker
                .push_with(
                    reference,
                    setup.registry.as_ref().and_then(|r| r.auth.as_ref()),
                    &mut progress,
                )
                .await
                .map_err(|source| ImageBuildError::Push {
                    job: job.clone(),
                    source: Box::new(source),
                })?;
            ctx.say(format!("image: pushed {reference}@{digest}"));
            pushed.push(PushedImage {
                reference: reference.clone(),
                digest,
            });
        }
    }
    ctx.emit(Event::ImageBuilt {
        job: job.clone(),
        image_id: image_id.clone(),
        tags: references.clone(),
        pushed: pushed
            .iter()
            .map(|p| (p.reference.clone(), p.digest.clone()))
            .collect(),
    });
    Ok(BuiltImage {
        image_id,
        tags: references,
        pushed,
    })
}

/// Copies `/workspace/<rel>` out of the container into `into`, streamed through the
/// artifacts' unpacker (which refuses entries and links leading out of `into`). Returns where
/// it landed, or `None` when the container has no such path.
async fn fetch(
    ctx: &JobContext,
    container: &str,
    rel: &Path,
    into: &Path,
) -> Result<Option<PathBuf>, ImageBuildError> {
    let job = ctx.job.name.clone();
    let source = if rel.as_os_str().is_empty() {
        WORKSPACE_DIR.to_string()
    } else {
        format!("{WORKSPACE_DIR}/{}", rel.display())
    };
    let stream = match ctx.docker.get_archive(container, &source).await {
        Ok(s) => s,
        Err(DockerError::PathNotFound { .. }) => return Ok(None),
        Err(e) => {
            return Err(ImageBuildError::Build {
                job,
                dockerfile: rel.to_path_buf(),
                source: Box::new(e),
            });
        }
    };
    std::fs::create_dir_all(into).map_err(|e| io_failure(&job, "a folder for the context", e))?;
    let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(
        stream.map_err(std::io::Error::other),
    ));
    let root = into.to_path_buf();
    // A context comes from the job as its artifacts do: held to the same bounds.
    let mut budget = crate::unpack::Budget::new(
        ctx.allowance.max_artifact_bytes,
        ctx.allowance.max_artifact_files,
    );
    let unpacked = tokio::task::spawn_blocking(move || {
        crate::unpack::unpack(reader, &root, Path::new(""), &mut budget).map(|_skipped| ())
    })
    .await
    .map_err(|e| io_failure(&job, "unpacking the context", std::io::Error::other(e)))?;
    match unpacked {
        Ok(()) => {}
        Err(UnpackError::Unsafe(entry)) => {
            // Named in the archive under the path's last component (`workspace` for the
            // whole workspace): named here by its path in the workspace.
            let entry = match (rel.parent(), entry.split_once('/')) {
                (_, Some((_, inner))) if rel.as_os_str().is_empty() => inner.to_string(),
                (Some(parent), _) if !parent.as_os_str().is_empty() => {
                    format!("{}/{entry}", parent.display())
                }
                _ => entry,
            };
            return Err(ImageBuildError::LinkOutOfContext { job, entry });
        }
        Err(UnpackError::Over { entry, limit }) => {
            return Err(ImageBuildError::TooLarge { job, entry, limit });
        }
        Err(UnpackError::Io(e)) => return Err(io_failure(&job, "unpacking the context", e)),
    }
    // The archive's one root entry is the path's last component.
    let name = Path::new(&source)
        .file_name()
        .map(PathBuf::from)
        .unwrap_or_default();
    Ok(Some(into.join(name)))
}

/// Refuses a link in the context whose target leaves the context (absolute, or climbing
/// above it), naming it: the unpacker keeps links inside its folder; this keeps them inside
/// the context, as the pipeline's author sees it. The link is named by its path in the
/// workspace (`context_rel/...`).
fn refuse_links_out(
    job: &str,
    context_dir: &Path,
    context_rel: &Path,
) -> Result<(), ImageBuildError> {
    let files = context::collect(context_dir)
        .map_err(|e| io_failure(job, "reading the build context", e))?;
    for file in files {
        let context::FileKind::Symlink(target) = &file.kind else {
            continue;
        };
        let parent = Path::new(&file.rel).parent().unwrap_or(Path::new(""));
        let resolved = parent.join(target);
        if target.is_absolute() || relative_inside(&resolved.to_string_lossy()).is_err() {
            return Err(ImageBuildError::LinkOutOfContext {
                job: job.to_string(),
                entry: format!(
                    "{} -> {}",
                    context_rel.join(&file.rel).display(),
                    target.display()
                ),
            });
        }
    }
    Ok(())
}

fn io_failure(job: &str, doing: &str, e: std::io::Error) -> ImageBuildError {
    ImageBuildError::Build {
        job: job.to_string(),
        dockerfile: PathBuf::new(),
        source: Box::new(DockerError::Io {
            doing: doing.to_string(),
            source: e,
        }),
    }
}

/// `tag` with `{commit}`, `{short_commit}`, `{ref}` and `{run}` taken from the job's
/// variables, expanded as the pipeline's check of the tag assumes
/// ([`railyard_pipeline::expand_tag`]).
pub fn expand_tag(tag: &str, env: &[(String, String)]) -> String {
    let var = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    railyard_pipeline::expand_tag(
        tag,
        &railyard_pipeline::TagValues {
            commit: var("RAILYARD_COMMIT").unwrap_or_default(),
            run: var("RAILYARD_RUN_ID").unwrap_or_default(),
            git_ref: var("RAILYARD_REF"),
        },
    )
}

/// True for `name[/name…][:tag]`: lower-case path components, a tag of at most 128 of
/// `[A-Za-z0-9_.-]` not starting with `.` or `-`.
fn valid_tag(reference: &str) -> bool {
    let (path, tag) = match reference.rsplit_once(':') {
        Some((p, t)) => (p, Some(t)),
        None => (reference, None),
    };
    let tag_ok = tag.is_none_or(|t| {
        !t.is_empty()
            && t.len() <= 128
            && !t.starts_with(['.', '-'])
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    });
    tag_ok && !path.is_empty() && path.split('/').all(is_path_component)
}

/// A component of a repository path: lower-case letters and digits, separated by single `.`,
/// `_`, `__` or `-`s.
fn is_path_component(part: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !part.is_empty()
        && part.starts_with(alnum)
        && part.ends_with(alnum)
        && part
            .chars()
            .all(|c| alnum(c) || matches!(c, '.' | '_' | '-'))
        && !part.contains("..")
}

/// The project as one repository path component: its last path part (a project keyed by its
/// folder), lower-cased, other characters made `-`.
pub fn repository_path(project: &str) -> String {
    let last = project
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(project);
    let mut out = String::new();
    for c in last.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() {
        "project".into()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registries_parse_with_or_without_scheme_and_prefix() {
        let r: Registry = "http://127.0.0.1:5000/team/ci".parse().unwrap();
        assert_eq!(
            (r.host.as_str(), r.prefix.as_str()),
            ("127.0.0.1:5000", "team/ci")
        );
        let r: Registry = "127.0.0.1:5000".parse().unwrap();
        assert_eq!((r.host.as_str(), r.prefix.as_str()), ("127.0.0.1:5000", ""));
        for bad in [
            "http://",
            "http://a b:1",
            "http://h:1/Upper",
            "http://u@h:1/x",
            "h/../x",
        ] {
            let err = bad.parse::<Registry>().unwrap_err();
            assert!(
                err.contains(bad) && err.contains("http://HOST:PORT"),
                "{err}"
            );
        }
    }

    #[test]
    fn tags_expand_the_run_facts_made_fit_for_a_tag() {
        let env = vec![
            (
                "RAILYARD_COMMIT".to_string(),
                "0123456789abcdef".to_string(),
            ),
            (
                "RAILYARD_REF".to_string(),
                "refs/heads/feature/x".to_string(),
            ),
            ("RAILYARD_RUN_ID".to_string(), "01run".to_string()),
        ];
        assert_eq!(expand_tag("app:{commit}", &env), "app:0123456789abcdef");
        assert_eq!(expand_tag("app:{short_commit}", &env), "app:0123456789ab");
        assert_eq!(expand_tag("app:{ref}-{run}", &env), "app:feature-x-01run");
        assert!(valid_tag("app:feature-x-01run"));
        for bad in [
            "App:v1",
            "app:",
            "../app:v1",
            "app:-x",
            "a//b",
            "app:{unknown}",
        ] {
            assert!(!valid_tag(bad), "{bad}");
        }
    }

    #[test]
    fn a_project_becomes_one_path_component() {
        assert_eq!(repository_path("/tmp/.tmpAbC9/My Repo"), "my-repo");
        assert_eq!(repository_path("shop"), "shop");
        assert_eq!(repository_path("///"), "project");
    }
}
