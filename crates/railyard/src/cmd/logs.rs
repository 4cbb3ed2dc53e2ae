//! `railyard logs RUN [JOB]`: a run's logs, kept by the store after the process ended.

use super::Expected;
use crate::cli::{Global, LogsArgs};
use crate::project;
use crate::report::recorder::ENV_LOG;
use std::io::Write;

pub async fn run(g: &Global, args: LogsArgs) -> anyhow::Result<i32> {
    let project = project::find(g.directory.as_deref(), g.file.as_deref())?;
    let store = super::store(g).await?;
    let detail = store
        .find_run(Some(&project.key()), &args.run)
        .await?
        .ok_or_else(|| {
            Expected::Input(format!(
                "no run `{}` in this project: see `railyard runs`",
                args.run
            ))
        })?;
    let run_id = detail.run.id.clone();
    let mut out = std::io::stdout().lock();
    match args.job {
        Some(job) => {
            if job != ENV_LOG && !detail.jobs.iter().any(|j| j.name == job) {
                let names: Vec<_> = detail.jobs.iter().map(|j| j.name.as_str()).collect();
                return Err(Expected::Input(format!(
                    "run #{} has no job `{job}`; its jobs: {}",
                    detail.run.number,
                    names.join(", ")
                ))
                .into());
            }
            let bytes = store.read_log(&run_id, &job).await?;
            let _ = out.write_all(&bytes);
        }
        None => {
            let names = std::iter::once(ENV_LOG.to_string())
                .chain(detail.jobs.iter().map(|j| j.name.clone()));
            for name in names {
                let Ok(bytes) = store.read_log(&run_id, &name).await else {
                    continue;
                };
                let _ = writeln!(out, "==> {name} <==");
                let _ = out.write_all(&bytes);
            }
        }
    }
    Ok(0)
}
