//! The environment of one job brought up without running its steps, for `railyard shell`:
//! the "new developer productive in minutes" path.

use crate::env_image;
use crate::errors::RunnerError;
use crate::events::Event;
use crate::job::JobContext;
use crate::lines::LineBuffer;
use crate::run::{RunOptions, job_context};
use crate::workspace;
use railyard_docker::Docker;
use railyard_pipeline::Pipeline;
use tokio::sync::mpsc::UnboundedSender;

/// A job's containers, up and waiting. Call [`JobSession::close`] when done.
pub struct JobSession {
    ctx: JobContext,
    /// The job container's ID.
    pub container: String,
}

impl JobSession {
    /// Builds or finds the job's env image, starts its services and job container with the
    /// workspace in place. `opts.jobs` is ignored; `job` is the one brought up.
    pub async fn open(
        docker: &Docker,
        pipeline: &Pipeline,
        opts: &RunOptions,
        job: &str,
        events: &UnboundedSender<Event>,
    ) -> Result<JobSession, RunnerError> {
        let ctx = context_for(docker, pipeline, opts, job, events).await?;
        let setup = async {
            ctx.prepare().await?;
            ctx.setup().await
        };
        match setup.await {
            Ok(container) => Ok(JobSession { ctx, container }),
            Err(e) => {
                let _ = ctx.teardown().await;
                Err(e)
            }
        }
    }

    /// The variables the job's steps see.
    pub fn env(&self) -> &[(String, String)] {
        &self.ctx.env
    }

    /// Removes the job's containers, network and volume.
    pub async fn close(self) -> Result<(), RunnerError> {
        self.ctx.teardown().await
    }
}

/// A job's context with its env image ready and its workspace packed, outside a run.
pub(crate) async fn context_for(
    docker: &Docker,
    pipeline: &Pipeline,
    opts: &RunOptions,
    job: &str,
    events: &UnboundedSender<Event>,
) -> Result<JobContext, RunnerError> {
    let spec = &pipeline.jobs[job];
    let env = pipeline.job_env(spec).ok_or_else(|| RunnerError::NoEnv {
        job: job.to_string(),
    })?;
    let mut lines = LineBuffer::default();
    let mut emit = |line: String| {
        let _ = events.send(Event::EnvOutput {
            env: env_image::describe(&env.source),
            line,
        });
    };
    let image = env_image::ensure(
        docker,
        (&opts.repo_root, &opts.project),
        &env.source,
        opts.allowance.build_memory,
        None,
        &mut |s: &str| {
            lines.push(s.as_bytes(), &mut emit);
            lines.push(b"\n", &mut emit);
        },
    )
    .await?;
    lines.finish(&mut emit);
    let root = opts.repo_root.clone();
    let tar = tokio::task::spawn_blocking(move || workspace::pack(&root))
        .await
        .map_err(|e| RunnerError::Io {
            doing: "packing the workspace".into(),
            source: std::io::Error::other(e),
        })??;
    let invocation = opts.new_invocation();
    Ok(job_context(
        docker,
        (pipeline, opts, &invocation),
        job,
        image.id,
        tar,
        events,
    ))
}
