//! What the agent gathers from the runner's events besides log lines: each step's record,
//! the tests' timings and the env image, sent with the job's result.

use railyard_runner::Event;
use railyard_types::Millis;
use railyard_types::protocol::{EnvImageReport, StepReport};

/// Steps and timings of one claimed job.
#[derive(Debug, Default)]
pub(crate) struct Gathered {
    job: String,
    /// The job's name in the pipeline (the claimed job's, or a shard's job's): env images
    /// are reported for it.
    pipeline_job: String,
    pub(crate) steps: Vec<StepReport>,
    pub(crate) timings: Vec<(String, f64)>,
    pub(crate) env_image: Option<EnvImageReport>,
    /// The image the job built (`image_build`).
    pub(crate) image: Option<railyard_types::records::BuiltImageReport>,
}

impl Gathered {
    pub(crate) fn new(job: &str, pipeline_job: &str) -> Gathered {
        Gathered {
            job: job.to_owned(),
            pipeline_job: pipeline_job.to_owned(),
            ..Gathered::default()
        }
    }

    /// Notes a step starting or ending, or a batch's timings. Shards' steps (a sharded job's
    /// copies run under their own names) are not the claimed job's steps and are left out;
    /// their timings count.
    pub(crate) fn event(&mut self, event: &Event) {
        match event {
            Event::StepStarted {
                job,
                index,
                command,
            } if *job == self.job => {
                self.steps.retain(|s| s.index != *index);
                self.steps.push(StepReport {
                    index: *index,
                    command: command.clone(),
                    status: railyard_types::StepStatus::Running,
                    exit_code: None,
                    started_at: Millis::now(),
                    finished_at: None,
                });
            }
            Event::StepFinished {
                job,
                index,
                status,
                exit_code,
                ..
            } if *job == self.job => {
                if let Some(step) = self.steps.iter_mut().find(|s| s.index == *index) {
                    step.status = *status;
                    step.exit_code = *exit_code;
                    step.finished_at = Some(Millis::now());
                }
            }
            Event::TestResults { timings, .. } => self.timings.extend(timings.iter().cloned()),
            Event::ImageBuilt {
                job, tags, pushed, ..
            } if *job == self.job => {
                self.image = Some(match pushed.first() {
                    Some((reference, digest)) => railyard_types::records::BuiltImageReport {
                        reference: reference.clone(),
                        digest: Some(digest.clone()),
                    },
                    None => railyard_types::records::BuiltImageReport {
                        reference: tags.first().cloned().unwrap_or_default(),
                        digest: None,
                    },
                });
            }
            Event::EnvReady {
                jobs,
                image_id,
                cache_key,
                cached,
                origin,
                reference,
                digest,
                ..
            } if jobs.contains(&self.pipeline_job) => {
                self.env_image = Some(EnvImageReport {
                    key: cache_key.clone(),
                    id: image_id.clone(),
                    cached: *cached,
                    origin: Some(*origin),
                    reference: reference.clone(),
                    digest: digest.clone(),
                });
            }
            _ => {}
        }
    }
}
