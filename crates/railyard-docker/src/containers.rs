//! Containers, under isolation rules applied whatever the spec says: never privileged,
//! `no-new-privileges`, a pids limit, no bind mounts (only named volumes, so the Docker
//! socket can never be mounted), and the spec's CPU and memory limits.

use crate::client::{Docker, is_not_found};
use crate::errors::{DockerError, server_error};
use bollard::models::{
    ContainerCreateBody, EndpointSettings, HostConfig, Mount, MountType, MountVolumeOptions,
    NetworkingConfig,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, InspectContainerOptions, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, StartContainerOptions,
};
use futures_util::StreamExt;
use std::collections::HashMap;

/// The pids limit used when a spec leaves it at 0.
pub const DEFAULT_PIDS_LIMIT: i64 = 4096;

/// The security option every container gets.
pub const NO_NEW_PRIVILEGES: &str = "no-new-privileges";

/// Capabilities of Docker's default set that no build or test needs and every container
/// loses: raw sockets (spoofing on the job's network), device nodes, writing the kernel's
/// audit log. Docker's seccomp profile stays on.
pub const DROPPED_CAPABILITIES: [&str; 3] = ["NET_RAW", "MKNOD", "AUDIT_WRITE"];

/// A container to create.
#[derive(Debug, Clone, Default)]
pub struct ContainerSpec {
    /// Unique container name.
    pub name: String,
    /// Image reference or id.
    pub image: String,
    /// Replaces the image's entrypoint (`Some(vec![])` clears it).
    pub entrypoint: Option<Vec<String>>,
    /// Replaces the image's command.
    pub cmd: Option<Vec<String>>,
    /// Environment variables.
    pub env: Vec<(String, String)>,
    /// Labels (`io.railyard.run`, ...).
    pub labels: HashMap<String, String>,
    /// Network to join at creation.
    pub network: Option<String>,
    /// Names other containers on that network reach this one by.
    pub network_aliases: Vec<String>,
    /// Named volumes to mount.
    pub mounts: Vec<VolumeMount>,
    /// Working directory.
    pub working_dir: Option<String>,
    /// Resource limits.
    pub limits: Limits,
    /// Run a tiny init as PID 1 (reaps zombies, forwards signals).
    pub init: bool,
}

/// What a container is doing, as far as the runner cares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerState {
    /// Still running.
    pub running: bool,
    /// The exit code once it stopped.
    pub exit_code: Option<i64>,
    /// The kernel killed it for exceeding its memory limit.
    pub oom_killed: bool,
}

/// A named volume mounted into a container. There are no bind mounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeMount {
    /// The volume's name (not a path).
    pub volume: String,
    /// Absolute path inside the container.
    pub target: String,
}

/// Resource limits of a container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Limits {
    /// CPUs in billionths (`1.5` CPUs = `1_500_000_000`).
    pub nano_cpus: Option<i64>,
    /// Memory in bytes; swap is limited to the same (no extra swap).
    pub memory_bytes: Option<i64>,
    /// Maximum number of processes; 0 means [`DEFAULT_PIDS_LIMIT`].
    pub pids: i64,
}

impl ContainerSpec {
    fn check(&self) -> Result<(), DockerError> {
        let invalid = |reason: String| DockerError::InvalidSpec {
            name: self.name.clone(),
            reason,
        };
        for m in &self.mounts {
            let bad_name = m.volume.is_empty()
                || m.volume.contains('/')
                || m.volume.starts_with('.')
                || m.volume.contains(':');
            if bad_name {
                return Err(invalid(format!(
                    "`{}` is not a volume name: only named volumes can be mounted, never host paths",
                    m.volume
                )));
            }
            if !m.target.starts_with('/') {
                return Err(invalid(format!(
                    "mount target `{}` must be an absolute path",
                    m.target
                )));
            }
        }
        if self.limits.pids < 0 {
            return Err(invalid(format!(
                "pids limit {} is negative",
                self.limits.pids
            )));
        }
        if let Some(m) = self.limits.memory_bytes
            && m < 6 * 1024 * 1024
        {
            return Err(invalid(format!(
                "memory limit {m} bytes is below Docker's minimum of 6 MiB"
            )));
        }
        if let Some(c) = self.limits.nano_cpus
            && c <= 0
        {
            return Err(invalid(format!("CPU limit {c} must be positive")));
        }
        Ok(())
    }

    fn host_config(&self) -> HostConfig {
        let pids = if self.limits.pids == 0 {
            DEFAULT_PIDS_LIMIT
        } else {
            self.limits.pids
        };
        HostConfig {
            privileged: Some(false),
            security_opt: Some(vec![NO_NEW_PRIVILEGES.to_string()]),
            cap_drop: Some(DROPPED_CAPABILITIES.iter().map(|c| c.to_string()).collect()),
            pids_limit: Some(pids),
            nano_cpus: self.limits.nano_cpus,
            memory: self.limits.memory_bytes,
            memory_swap: self.limits.memory_bytes,
            init: Some(self.init),
            binds: None,
            mounts: Some(
                self.mounts
                    .iter()
                    .map(|m| Mount {
                        target: Some(m.target.clone()),
                        source: Some(m.volume.clone()),
                        typ: Some(MountType::VOLUME),
                        // Docker creates a missing volume on the spot, without labels unless
                        // given here (a volume removed between its creation and the
                        // container's would otherwise come back unlabelled, out of every
                        // cleanup's reach). An existing volume keeps its own labels.
                        volume_options: Some(MountVolumeOptions {
                            labels: Some(self.labels.clone()),
                            ..Default::default()
                        }),
                        ..Default::default()
                    })
                    .collect(),
            ),
            network_mode: self.network.clone(),
            ..Default::default()
        }
    }
}

impl Docker {
    /// Creates (does not start) a container; returns its id.
    pub async fn create_container(&self, spec: &ContainerSpec) -> Result<String, DockerError> {
        spec.check()?;
        let networking_config = spec.network.as_ref().map(|net| NetworkingConfig {
            endpoints_config: Some(HashMap::from([(
                net.clone(),
                EndpointSettings {
                    aliases: (!spec.network_aliases.is_empty())
                        .then(|| spec.network_aliases.clone()),
                    ..Default::default()
                },
            )])),
        });
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            entrypoint: spec.entrypoint.clone(),
            cmd: spec.cmd.clone(),
            env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            labels: Some(spec.labels.clone()),
            working_dir: spec.working_dir.clone(),
            attach_stdin: Some(false),
            attach_stdout: Some(false),
            attach_stderr: Some(false),
            tty: Some(false),
            host_config: Some(spec.host_config()),
            networking_config,
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::default()
            .name(&spec.name)
            .build();
        let created = self
            .client
            .create_container(Some(options), body)
            .await
            .map_err(|e| match server_error(&e) {
                Some((404, message)) if message.contains("image") => DockerError::NotFound {
                    kind: "image",
                    name: spec.image.clone(),
                },
                Some((404, message)) if message.contains("network") => DockerError::NotFound {
                    kind: "network",
                    name: spec.network.clone().unwrap_or_default(),
                },
                _ => self.err_for(
                    "container",
                    &spec.name,
                    format!("creating container `{}`", spec.name),
                )(e),
            })?;
        for warning in created.warnings {
            tracing::warn!(container = %spec.name, "Docker: {warning}");
        }
        Ok(created.id)
    }

    /// Starts a created container.
    pub async fn start_container(&self, id: &str) -> Result<(), DockerError> {
        self.client
            .start_container(id, None::<StartContainerOptions>)
            .await
            .map_err(self.err_for("container", id, format!("starting container `{id}`")))
    }

    /// Removes a container, running or not, with its anonymous volumes. Already gone is fine.
    pub async fn remove_container(&self, id: &str) -> Result<(), DockerError> {
        let options = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        match self.client.remove_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            // Another caller is removing it right now: it will be gone.
            Err(e) if matches!(server_error(&e), Some((409, m)) if m.contains("already in progress")) => {
                Ok(())
            }
            Err(e) => Err(self.err(format!("removing container `{id}`"))(e)),
        }
    }

    /// Whether a container still runs, and how it ended (a service that died while the
    /// runner waited for it to be ready, a job container killed for memory).
    pub async fn container_state(&self, id: &str) -> Result<ContainerState, DockerError> {
        let inspect = self
            .client
            .inspect_container(id, None::<InspectContainerOptions>)
            .await
            .map_err(self.err_for("container", id, format!("inspecting container `{id}`")))?;
        let state = inspect.state.unwrap_or_default();
        let running = state.running == Some(true);
        Ok(ContainerState {
            running,
            exit_code: if running { None } else { state.exit_code },
            oom_killed: state.oom_killed == Some(true),
        })
    }

    /// The last `lines` lines of a container's output (stdout and stderr interleaved), e.g. to
    /// explain why a service never became ready.
    pub async fn logs_tail(&self, id: &str, lines: usize) -> Result<Vec<String>, DockerError> {
        let tail = lines.to_string();
        let options = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .follow(false)
            .tail(&tail)
            .build();
        let mut stream = self.client.logs(id, Some(options));
        let mut text = Vec::new();
        while let Some(item) = stream.next().await {
            let chunk =
                item.map_err(self.err_for("container", id, format!("reading logs of `{id}`")))?;
            text.extend_from_slice(&chunk.into_bytes());
        }
        let text = String::from_utf8_lossy(&text);
        let all: Vec<String> = text.lines().map(str::to_string).collect();
        Ok(all[all.len().saturating_sub(lines)..].to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ContainerSpec {
        ContainerSpec {
            name: "c".into(),
            image: "busybox".into(),
            ..Default::default()
        }
    }

    #[test]
    fn isolation_is_applied_whatever_the_spec() {
        let hc = spec().host_config();
        assert_eq!(hc.privileged, Some(false));
        assert_eq!(hc.security_opt, Some(vec!["no-new-privileges".to_string()]));
        assert_eq!(
            hc.cap_drop,
            Some(vec!["NET_RAW".into(), "MKNOD".into(), "AUDIT_WRITE".into()])
        );
        assert_eq!(hc.pids_limit, Some(DEFAULT_PIDS_LIMIT));
        assert_eq!(hc.binds, None);
    }

    #[test]
    fn host_paths_are_refused_as_volumes() {
        for volume in ["/var/run/docker.sock", "./x", "a:b", ""] {
            let mut s = spec();
            s.mounts.push(VolumeMount {
                volume: volume.into(),
                target: "/x".into(),
            });
            let err = s.check().unwrap_err();
            assert!(err.to_string().contains("only named volumes"), "{err}");
        }
        let mut s = spec();
        s.mounts.push(VolumeMount {
            volume: "ok".into(),
            target: "relative".into(),
        });
        assert!(s.check().is_err());
    }
}
