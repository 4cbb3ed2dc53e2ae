//! Keeps the run in the store as it happens: job and step statuses with their times, and
//! every log line in the job's log file, so history survives the process.

use railyard_runner::{Event, Stream};
use railyard_store::{LogWriter, Store};
use railyard_types::{Millis, ProjectName, RunId};
use std::collections::HashMap;

/// The log that holds env image build output; parentheses keep it apart from a job named
/// `env` (a job name cannot both start with `(` and end with `)` unless it is a matrix
/// expansion, which also holds ` (`).
pub const ENV_LOG: &str = "(env)";

/// Writes events into the store.
pub struct Recorder {
    store: Store,
    run_id: RunId,
    project: ProjectName,
    logs: HashMap<String, LogWriter>,
    commands: HashMap<(String, u32), String>,
    /// Jobs whose log reached the store's size limit: their later lines are dropped quietly
    /// (the log file ends with the store's marker), their statuses still recorded.
    full: std::collections::HashSet<String>,
    /// Whether the project had measured test timings (see [`super::terminal::Terminal::new`]).
    timings: bool,
    /// The `environment` and `needs` of each job that has an environment: its start and end
    /// are deployments, shipping what its needs built.
    environments: HashMap<String, (String, Vec<String>)>,
}

impl Recorder {
    /// A recorder for one run; `timings` says whether the project has measured test timings.
    pub fn new(store: Store, run_id: RunId, project: ProjectName, timings: bool) -> Self {
        Self {
            store,
            run_id,
            project,
            logs: HashMap::new(),
            commands: HashMap::new(),
            full: Default::default(),
            timings,
            environments: HashMap::new(),
        }
    }

    /// Records the jobs named here, by their `environment`, as deployments of it.
    pub fn with_environments(
        mut self,
        environments: HashMap<String, (String, Vec<String>)>,
    ) -> Self {
        self.environments = environments;
        self
    }

    /// Records one event. Store failures are reported once per event and do not stop the run.
    pub async fn record(&mut self, event: &Event) {
        if let Err(e) = self.try_record(event).await {
            tracing::warn!(
                "could not record the run: {}",
                railyard_types::error::Chain(&e)
            );
        }
    }

    async fn log(&mut self, job: &str, line: &str) -> Result<(), railyard_store::StoreError> {
        if self.full.contains(job) {
            return Ok(());
        }
        if !self.logs.contains_key(job) {
            let writer = self.store.log_writer(&self.run_id, job).await?;
            self.logs.insert(job.to_string(), writer);
        }
        let writer = self.logs.get_mut(job).expect("inserted above");
        let written = match writer.append(line.as_bytes()).await {
            Ok(()) => writer.append(b"\n").await,
            Err(e) => Err(e),
        };
        if let Err(e @ railyard_store::StoreError::LogTooLarge { .. }) = written {
            tracing::warn!("{e}");
            self.full.insert(job.to_string());
            return Ok(());
        }
        written
    }

    async fn try_record(&mut self, event: &Event) -> Result<(), railyard_store::StoreError> {
        let run = self.run_id.clone();
        match event {
            Event::EnvOutput { line, .. } => self.log(ENV_LOG, line).await?,
            Event::EnvReady {
                jobs,
                image_id,
                cache_key,
                digest,
                ..
            } => {
                for job in jobs {
                    self.store
                        .set_job_env_image(
                            &run,
                            job,
                            cache_key.as_deref(),
                            (image_id, digest.as_deref()),
                        )
                        .await?;
                }
            }
            Event::JobStarted { job } => {
                let now = Millis::now();
                self.store.job_started(&run, job, now).await?;
                if let Some((environment, needs)) = self.environments.get(job) {
                    self.store
                        .deployment_started(&run, job, environment, needs, now)
                        .await?;
                }
            }
            Event::StepStarted {
                job,
                index,
                command,
            } => {
                self.commands.insert((job.clone(), *index), command.clone());
                self.store
                    .step_started(&run, job, *index, command, Millis::now())
                    .await?;
                self.log(job, &format!("$ {command}")).await?;
            }
            Event::Output {
                job, line, stream, ..
            } => {
                let line = match stream {
                    Stream::Railyard => format!("railyard: {line}"),
                    _ => line.clone(),
                };
                self.log(job, &line).await?
            }
            Event::ImageBuilt {
                job, tags, pushed, ..
            } => {
                let (reference, digest) = match pushed.first() {
                    Some((reference, digest)) => (reference.clone(), Some(digest.as_str())),
                    None => (tags.first().cloned().unwrap_or_default(), None),
                };
                self.store
                    .set_job_built_image(&run, job, &reference, digest)
                    .await?;
                let line = match digest {
                    Some(digest) => format!("railyard: image pushed: {reference}@{digest}"),
                    None => format!("railyard: image built: {reference}"),
                };
                self.log(job, &line).await?
            }
            Event::ArtifactSaved {
                job,
                path,
                saved_to,
            } => {
                let line = format!(
                    "railyard: artifact `{path}` saved to {}",
                    saved_to.display()
                );
                self.log(job, &line).await?
            }
            Event::StepFinished {
                job,
                index,
                status,
                exit_code,
                duration_ms,
            } => {
                self.store
                    .step_finished(&run, job, *index, *status, *exit_code, Millis::now())
                    .await?;
                let code = exit_code.map(|c| c.to_string()).unwrap_or("-".into());
                let line = format!(
                    "railyard: step {} {status} (exit code {code}, {})",
                    index + 1,
                    super::duration(*duration_ms)
                );
                self.log(job, &line).await?;
            }
            Event::JobFinished {
                job, status, error, ..
            } => {
                let now = Millis::now();
                self.store
                    .job_finished(&run, job, *status, now, error.as_deref())
                    .await?;
                if self.environments.contains_key(job) {
                    self.store.deployment_ended(&run, job, *status, now).await?;
                }
                let mut line = format!("railyard: job {}", super::status(*status));
                if let Some(e) = error {
                    line.push_str(&format!(": {e}"));
                }
                self.log(job, &line).await?;
                if let Some(mut writer) = self.logs.remove(job) {
                    writer.flush().await?;
                }
            }
            Event::TestResults { timings, .. } => {
                self.store
                    .record_timings(&self.project, timings, Millis::now())
                    .await?;
            }
            Event::ShardFinished {
                job,
                shard,
                tests,
                predicted_secs,
                actual_secs,
                flaky,
            } => {
                let predicted = match predicted_secs {
                    Some(p) if self.timings => {
                        format!(", predicted {}", railyard_split::duration(*p))
                    }
                    Some(_) => ", no timings yet to predict from".into(),
                    None => String::new(),
                };
                let mut line = format!(
                    "railyard: shard {shard} of `{job}` ran {tests} test(s) in {}{predicted}",
                    railyard_split::duration(*actual_secs)
                );
                if !flaky.is_empty() {
                    line.push_str(&format!("; flaky: {}", flaky.join(", ")));
                }
                self.log(job, &line).await?;
            }
            Event::TestsPlanned { .. }
            | Event::EnvPreparing { .. }
            | Event::JobPhase { .. }
            | Event::RunFinished { .. } => {}
        }
        Ok(())
    }

    /// Flushes every open log.
    pub async fn finish(mut self) {
        for (_, mut writer) in self.logs.drain() {
            let _ = writer.flush().await;
        }
    }
}
