//! One job end to end: its network, workspace volume, services and job container; its steps
//! run through `exec`; its artifacts copied out; and the teardown that always follows.

use crate::errors::RunnerError;
use crate::events::{Event, Stream};
use crate::lines::LineBuffer;
use crate::names::JobNames;
use crate::unpack::UnpackError;
use crate::workspace::WORKSPACE_DIR;
use futures_util::TryStreamExt;
use railyard_docker::{ContainerSpec, Docker, ExecSpec, Output, VolumeMount};
use railyard_pipeline::{Job, Service};
use railyard_types::StepStatus;
use railyard_types::error::Chain;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedSender;

/// Keeps a job container alive between `exec`s, whatever the image's own command is.
const KEEP_ALIVE: &str = "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done";

/// What a job needs from the run around it.
#[derive(Clone)]
pub struct JobContext {
    /// The engine.
    pub docker: Docker,
    /// Names and labels of this job's objects.
    pub names: JobNames,
    /// The job.
    pub job: Job,
    /// The env image ID.
    pub image_id: String,
    /// Variables: the pipeline's and job's, plus Railyard's own.
    pub env: Vec<(String, String)>,
    /// The workspace tar.
    pub workspace: crate::workspace::Packed,
    /// Where this job's artifacts go.
    pub artifacts_dir: PathBuf,
    /// The run's artifacts folder, where the artifacts of the job's needs are read from
    /// (see [`crate::handover`]).
    pub run_artifacts_dir: PathBuf,
    /// The needs whose artifacts the job takes (`needs` less those with `artifacts: false`,
    /// and those that keep none), in the order of `needs`.
    pub handed_from: Vec<Job>,
    /// Where events go.
    pub events: UnboundedSender<Event>,
    /// Masks the run's secrets in everything the job reports.
    pub mask: Arc<crate::mask::Masker>,
    /// Where the job's network takes its addresses.
    pub networks: crate::NetworkPool,
    /// The memory and CPUs the operator allows.
    pub allowance: crate::Allowance,
    /// What the job's `image_build` needs: project, registry, scan.
    pub image_build: crate::image_build::Setup,
    /// What the job's `cache` needs: project, scope, where keys' files are, the remote.
    pub cache: crate::cache::Setup,
    /// The job's caches as `setup` prepared them, for after its steps.
    pub(crate) caches: crate::cache::PreparedCaches,
}

/// The step running now, so a cancel or timeout can close it in the event stream.
pub type CurrentStep = Arc<Mutex<Option<(u32, Instant)>>>;

/// How the steps ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepsOutcome {
    /// Every step exited 0.
    Passed,
    /// The steps passed but these tests failed (after their retries).
    TestsFailed {
        /// The failing test ids.
        failed: Vec<String>,
    },
    /// A step failed: its index and exit code (None when it could not be started).
    Failed {
        /// Which step.
        index: u32,
        /// Its exit code.
        exit_code: Option<i64>,
    },
}

impl JobContext {
    /// Sends an event about this job.
    pub fn emit(&self, event: Event) {
        let event = match event {
            Event::Output {
                job,
                step,
                stream,
                line,
            } => Event::Output {
                job,
                step,
                stream,
                line: self.mask.mask(&line),
            },
            Event::JobFinished {
                job,
                status,
                duration_ms,
                error,
                image_id,
            } => Event::JobFinished {
                job,
                status,
                duration_ms,
                error: error.map(|e| self.mask.mask(&e)),
                image_id,
            },
            Event::StepStarted {
                job,
                index,
                command,
            } => Event::StepStarted {
                job,
                index,
                command: self.mask.mask(&command),
            },
            other => other,
        };
        // A closed channel means nobody listens any more; the run goes on regardless.
        let _ = self.events.send(event);
    }

    fn phase(&self, phase: &str) {
        self.emit(Event::JobPhase {
            job: self.job.name.clone(),
            phase: phase.to_string(),
        });
    }

    /// A message from Railyard in the job's log.
    pub fn say(&self, line: String) {
        self.emit(Event::Output {
            job: self.job.name.clone(),
            step: None,
            stream: Stream::Railyard,
            line,
        });
    }

    /// Creates the job's network and workspace volume, at once. The run starts this early
    /// for the first jobs, while env images are looked up, since network creation is slow.
    pub async fn prepare(&self) -> Result<(), RunnerError> {
        // Dropped (not cancelled) when the job is cancelled or times out meanwhile.
        let never = tokio_util::sync::CancellationToken::new();
        let mut waiting = |phase: String| self.phase(&phase);
        prepare(
            &self.docker,
            &self.names,
            &self.networks,
            &never,
            &mut waiting,
        )
        .await
    }

    /// Starts the services and the job container on the prepared network and fills the
    /// workspace. Returns the job container's ID. Whatever it created carries the job's
    /// labels, so [`JobContext::teardown`] removes it even when this fails half-way or is
    /// dropped.
    pub async fn setup(&self) -> Result<String, RunnerError> {
        let docker = &self.docker;
        let names = &self.names;
        let network = names.base.clone();
        let volume = names.workspace_volume();
        if !self.job.services.is_empty() {
            self.phase("starting services");
            let mut started = Vec::new();
            for service in self.job.services.values() {
                started.push((service, self.start_service(service, &network).await?));
            }
            for (service, id) in started {
                self.await_ready(service, &id).await?;
            }
        }

        self.phase("starting job container");
        let mut mounts = vec![VolumeMount {
            volume,
            target: WORKSPACE_DIR.into(),
        }];
        mounts.extend(self.prepare_caches().await?);
        let spec = ContainerSpec {
            name: names.job_container(),
            image: self.image_id.clone(),
            entrypoint: Some(vec!["/bin/sh".into(), "-c".into(), KEEP_ALIVE.into()]),
            cmd: None,
            env: self.env.clone(),
            labels: names.labels("job"),
            network: Some(network),
            network_aliases: vec![],
            mounts,
            working_dir: Some(WORKSPACE_DIR.into()),
            limits: self
                .allowance
                .limits_for(&self.job.name, &self.job.resources)?,
            init: true,
        };
        let container = docker.create_container(&spec).await?;
        docker.start_container(&container).await?;
        if !self.job.caches.is_empty() {
            self.phase("restoring caches");
            self.restore_caches(&container).await?;
        }
        self.phase("copying workspace");
        docker
            .put_archive_stream(&container, WORKSPACE_DIR, self.workspace.stream())
            .await?;
        Ok(container)
    }

    async fn start_service(&self, service: &Service, network: &str) -> Result<String, RunnerError> {
        let docker = &self.docker;
        if docker.image(&service.image).await?.is_none() {
            let mut on_progress = |_: &str| {};
            docker.pull(&service.image, &mut on_progress).await?;
        }
        let mut labels = self.names.labels("service");
        labels.insert(railyard_types::labels::SERVICE.into(), service.name.clone());
        let spec = ContainerSpec {
            name: self.names.service_container(&service.name),
            image: service.image.clone(),
            entrypoint: None,
            cmd: service.command.clone(),
            env: service
                .variables
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            labels,
            network: Some(network.to_string()),
            network_aliases: vec![service.name.clone()],
            mounts: vec![],
            working_dir: None,
            limits: self
                .allowance
                .limits_for(&self.job.name, &self.job.resources)?,
            init: true,
        };
        let id = docker.create_container(&spec).await?;
        docker.start_container(&id).await?;
        Ok(id)
    }

    /// Runs the service's `ready` probe inside it until it exits 0.
    async fn await_ready(&self, service: &Service, id: &str) -> Result<(), RunnerError> {
        let docker = &self.docker;
        let started = Instant::now();
        loop {
            let running = docker
                .client()
                .inspect_container(id, None)
                .await
                .ok()
                .and_then(|c| c.state)
                .and_then(|s| s.running)
                .unwrap_or(false);
            if !running {
                return Err(RunnerError::ServiceExited {
                    job: self.job.name.clone(),
                    service: service.name.clone(),
                    logs: self.service_logs(id).await,
                });
            }
            let Some(probe) = &service.ready else {
                return Ok(());
            };
            let spec = ExecSpec {
                cmd: vec!["sh".into(), "-c".into(), probe.clone()],
                env: vec![],
                working_dir: None,
                user: None,
            };
            // A probe that hangs must not outlive `ready_timeout`.
            let remaining = service.ready_timeout.saturating_sub(started.elapsed());
            let probed = tokio::time::timeout(remaining, docker.exec(id, &spec, &mut |_| {})).await;
            if let Ok(Ok(0)) = probed {
                self.say(format!(
                    "service `{}` ready after {:.1}s",
                    service.name,
                    started.elapsed().as_secs_f64()
                ));
                return Ok(());
            }
            if started.elapsed() >= service.ready_timeout {
                return Err(RunnerError::ServiceNotReady {
                    job: self.job.name.clone(),
                    service: service.name.clone(),
                    probe: probe.clone(),
                    seconds: service.ready_timeout.as_secs(),
                    logs: self.service_logs(id).await,
                });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    async fn service_logs(&self, id: &str) -> String {
        match self.docker.logs_tail(id, 20).await {
            Ok(lines) if lines.is_empty() => "    (no output)".into(),
            Ok(lines) => lines
                .iter()
                .map(|l| format!("    {l}"))
                .collect::<Vec<_>>()
                .join("\n"),
            Err(e) => format!("    (could not read its logs: {})", Chain(&e)),
        }
    }

    /// Runs the steps in order; the first failing one stops the job.
    pub async fn run_steps(&self, container: &str, current: &CurrentStep) -> StepsOutcome {
        for (index, command) in self.job.script.iter().enumerate() {
            let index = index as u32;
            let exit_code = self
                .run_step(container, index, command, command, current, None)
                .await;
            if exit_code != Some(0) {
                return StepsOutcome::Failed { index, exit_code };
            }
        }
        StepsOutcome::Passed
    }

    /// Runs one step: `command` through `sh -ec` in the workspace, shown as `display`.
    /// Returns its exit code, or `None` when it could not run. With a `tail`, stdout after
    /// its marker goes there instead of the log (a test batch's reports).
    pub async fn run_step(
        &self,
        container: &str,
        index: u32,
        display: &str,
        command: &str,
        current: &CurrentStep,
        mut tail: Option<&mut crate::tail::StdoutTail>,
    ) -> Option<i64> {
        let job = &self.job.name;
        let started = Instant::now();
        *current.lock().unwrap() = Some((index, started));
        self.emit(Event::StepStarted {
            job: job.clone(),
            index,
            command: display.to_string(),
        });
        let spec = ExecSpec {
            // -e: a multi-line step stops at its first failing line, as users expect.
            cmd: vec!["sh".into(), "-ec".into(), command.to_string()],
            env: vec![],
            working_dir: Some(WORKSPACE_DIR.into()),
            user: None,
        };
        let mut out = LineBuffer::guarded(self.mask.clone());
        let mut err = LineBuffer::guarded(self.mask.clone());
        let line = |stream: Stream| {
            let events = self.events.clone();
            let job = job.clone();
            let mask = self.mask.clone();
            move |line: String| {
                let _ = events.send(Event::Output {
                    job: job.clone(),
                    step: Some(index),
                    stream,
                    line: mask.mask(&line),
                });
            }
        };
        let mut emit_out = line(Stream::Stdout);
        let mut emit_err = line(Stream::Stderr);
        let result = self
            .docker
            .exec(container, &spec, &mut |chunk| match chunk {
                Output::Stdout(b) => match tail.as_deref_mut() {
                    Some(tail) => out.push(&tail.feed(b), &mut emit_out),
                    None => out.push(&b, &mut emit_out),
                },
                Output::Stderr(b) => err.push(&b, &mut emit_err),
            })
            .await;
        out.finish(&mut emit_out);
        err.finish(&mut emit_err);
        *current.lock().unwrap() = None;
        let exit_code = match result {
            Ok(code) => Some(code),
            Err(e) => {
                self.say(format!("step {} could not run: {}", index + 1, Chain(&e)));
                None
            }
        };
        let status = if exit_code == Some(0) {
            StepStatus::Success
        } else {
            StepStatus::Failed
        };
        self.emit(Event::StepFinished {
            job: job.clone(),
            index,
            status,
            exit_code,
            duration_ms: started.elapsed().as_millis() as u64,
        });
        if exit_code == Some(127) {
            self.say(format!(
                "step {} exited 127: command not found in the env image? Add it to the Dockerfile.",
                index + 1
            ));
        }
        exit_code
    }

    /// Runs a command quietly (no events), returning its exit code and standard output.
    pub async fn capture(
        &self,
        container: &str,
        command: &str,
    ) -> Result<(i64, Vec<u8>, Vec<u8>), RunnerError> {
        let spec = ExecSpec {
            cmd: vec!["sh".into(), "-ec".into(), command.to_string()],
            env: vec![],
            working_dir: Some(WORKSPACE_DIR.into()),
            user: None,
        };
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        let code = self
            .docker
            .exec(container, &spec, &mut |chunk| match chunk {
                Output::Stdout(b) => stdout.extend_from_slice(&b),
                Output::Stderr(b) => stderr.extend_from_slice(&b),
            })
            .await?;
        Ok((code, stdout, stderr))
    }

    /// Puts the artifacts of the job's needs ([`JobContext::handed_from`]) into its
    /// workspace at the same paths, as one tar streamed from the disk: called after
    /// [`JobContext::setup`], before the first step. A line per need says what it handed.
    pub async fn hand_over(&self, container: &str) -> Result<(), RunnerError> {
        if self.handed_from.is_empty() {
            return Ok(());
        }
        self.phase("handing over artifacts");
        let (job, dir) = (self.job.name.clone(), self.run_artifacts_dir.clone());
        let needs = self.handed_from.clone();
        let allowance = self.allowance;
        let read = tokio::task::spawn_blocking(move || {
            let needs: Vec<&Job> = needs.iter().collect();
            crate::handover::read_needs(
                &job,
                &dir,
                &needs,
                allowance.max_artifact_bytes,
                allowance.max_artifact_files,
            )
        })
        .await
        .map_err(|e| RunnerError::Io {
            doing: "reading the artifacts of the job's needs".into(),
            source: std::io::Error::other(e),
        })??;
        for line in &read.lines {
            self.say(line.clone());
        }
        if read.entries.is_empty() {
            return Ok(());
        }
        // The tar is written on a blocking thread into a small channel the upload reads: at
        // most a few chunks are in memory, whatever the artifacts' size.
        let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(4);
        let entries = read.entries;
        let writer = tokio::task::spawn_blocking(move || {
            let mut out = ChunkWriter {
                tx: tx.clone(),
                buf: Vec::with_capacity(ChunkWriter::CHUNK),
            };
            let written = crate::handover::write_tar(&entries, &mut out).and_then(|()| out.flush());
            if let Err(e) = &written {
                // The upload fails with it rather than ending as if the tar were whole.
                let _ = tx.blocking_send(Err(std::io::Error::new(e.kind(), e.to_string())));
            }
            written
        });
        let stream = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        let put = self
            .docker
            .put_archive_stream(container, WORKSPACE_DIR, stream)
            .await;
        let written = writer.await.map_err(std::io::Error::other).and_then(|r| r);
        match (put, written) {
            (Ok(()), Ok(())) => Ok(()),
            (_, Err(source)) if source.kind() != std::io::ErrorKind::BrokenPipe => {
                Err(RunnerError::Io {
                    doing: "handing over the artifacts of the job's needs".into(),
                    source,
                })
            }
            (Err(e), _) => Err(e.into()),
            (Ok(()), Err(source)) => Err(RunnerError::Io {
                doing: "handing over the artifacts of the job's needs".into(),
                source,
            }),
        }
    }

    /// Copies the job's artifacts out of the container into its artifacts folder. A path that
    /// does not exist is a warning, as in other CI systems; an unsafe archive is an error, and
    /// so are artifacts past the allowance's bounds (counted over all paths of the job: the
    /// path that passes one is removed, what came before it is kept).
    pub async fn collect_artifacts(&self, container: &str) -> Result<(), RunnerError> {
        if self.job.artifacts.is_empty() {
            return Ok(());
        }
        self.phase("copying artifacts");
        let mut budget = crate::unpack::Budget::new(
            self.allowance.max_artifact_bytes,
            self.allowance.max_artifact_files,
        );
        for path in &self.job.artifacts {
            let rel = path.trim_start_matches("./").trim_end_matches('/');
            let source = format!("{WORKSPACE_DIR}/{rel}");
            let stream = match self.docker.get_archive(container, &source).await {
                Ok(s) => s,
                Err(railyard_docker::DockerError::PathNotFound { .. }) => {
                    self.say(format!(
                        "warning: artifact `{path}` not found in the workspace"
                    ));
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            // The archive's root entry is the path's last component: unpack into its parent,
            // streamed from the engine to the disk (an artifact may be larger than memory).
            let parent = Path::new(rel)
                .parent()
                .unwrap_or(Path::new(""))
                .to_path_buf();
            std::fs::create_dir_all(&self.artifacts_dir).map_err(|source| RunnerError::Io {
                doing: format!("creating {}", self.artifacts_dir.display()),
                source,
            })?;
            let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(
                stream.map_err(std::io::Error::other),
            ));
            let root = self.artifacts_dir.clone();
            let (unpacked, left) = tokio::task::spawn_blocking(move || {
                let unpacked = crate::unpack::unpack(reader, &root, &parent, &mut budget);
                (unpacked, budget)
            })
            .await
            .map_err(|e| RunnerError::Io {
                doing: format!("unpacking artifact `{path}`"),
                source: std::io::Error::other(e),
            })?;
            budget = left;
            let skipped = unpacked.map_err(|entry| match entry {
                UnpackError::Unsafe(entry) => RunnerError::UnsafeArtifact {
                    job: self.job.name.clone(),
                    path: path.clone(),
                    entry,
                },
                UnpackError::Over { entry, limit } => {
                    self.remove_partial(rel);
                    RunnerError::ArtifactTooLarge {
                        job: self.job.name.clone(),
                        path: path.clone(),
                        entry,
                        limit,
                    }
                }
                UnpackError::Io(source) => RunnerError::Io {
                    doing: format!(
                        "writing artifact `{path}` into {}",
                        self.artifacts_dir.display()
                    ),
                    source,
                },
            })?;
            for line in skipped {
                self.say(format!("artifact `{path}`: {line}"));
            }
            let dest = self
                .artifacts_dir
                .join(Path::new(rel).parent().unwrap_or(Path::new("")));
            self.emit(Event::ArtifactSaved {
                job: self.job.name.clone(),
                path: path.clone(),
                saved_to: dest.join(Path::new(rel).file_name().unwrap_or_default()),
            });
        }
        Ok(())
    }

    /// Removes what an artifact stopped half-way left of `rel` in the artifacts folder,
    /// resolved inside it (cap-std: no link leads the removal out).
    fn remove_partial(&self, rel: &str) {
        let Ok(dir) =
            cap_std::fs::Dir::open_ambient_dir(&self.artifacts_dir, cap_std::ambient_authority())
        else {
            return;
        };
        let removed = match dir.symlink_metadata(rel) {
            Ok(m) if m.is_dir() => dir.remove_dir_all(rel),
            Ok(_) => dir.remove_file(rel),
            Err(_) => Ok(()),
        };
        if let Err(e) = removed {
            self.say(format!(
                "warning: could not remove the partial artifact `{rel}`: {e}"
            ));
        }
    }

    /// Removes every object of this job, found by its labels, so that nothing is left even
    /// when setup failed half-way or was interrupted.
    pub async fn teardown(&self) -> Result<(), RunnerError> {
        let found = self.docker.list_labelled(&self.names.filters()).await?;
        self.docker.remove_labelled(&found).await?;
        Ok(())
    }
}

/// Creates a job's network (on a free subnet of `networks`, waiting for one until `cancel`
/// when all are taken, telling `waiting`) and its workspace volume, at once.
pub async fn prepare(
    docker: &Docker,
    names: &JobNames,
    networks: &crate::NetworkPool,
    cancel: &tokio_util::sync::CancellationToken,
    waiting: &mut (dyn FnMut(String) + Send),
) -> Result<(), RunnerError> {
    let (network_labels, volume_labels) = (names.labels("network"), names.labels("workspace"));
    let volume = names.workspace_volume();
    tokio::try_join!(
        networks.create(docker, &names.base, &network_labels, cancel, waiting),
        async { Ok(docker.create_volume(&volume, &volume_labels).await?) },
    )?;
    Ok(())
}

/// Sends what is written to it as chunks of [`ChunkWriter::CHUNK`] bytes into a channel, from
/// a blocking thread.
struct ChunkWriter {
    tx: tokio::sync::mpsc::Sender<std::io::Result<bytes::Bytes>>,
    buf: Vec<u8>,
}

impl ChunkWriter {
    const CHUNK: usize = 256 * 1024;

    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(Self::CHUNK));
        self.tx
            .blocking_send(Ok(bytes::Bytes::from(chunk)))
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))
    }
}

impl std::io::Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let n = data.len().min(Self::CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == Self::CHUNK {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}
