//! `railyard logs RUN [JOB] [-f]`: a run's logs, kept by the store after the process ended,
//! or with a server (`RAILYARD_SERVER`) the server's, followed live with `--follow`.

use super::Expected;
use crate::cli::{Global, LogsArgs};
use crate::project;
use crate::report::recorder::ENV_LOG;
use railyard_types::terminal::{for_stdout, terminal_safe};
use std::io::Write;

pub async fn run(g: &Global, args: LogsArgs) -> anyhow::Result<i32> {
    if let Some(client) = args.remote.client()? {
        let server = args.remote.server.as_deref().unwrap_or_default();
        return super::follow::remote_logs(
            &client,
            server,
            &args.run,
            args.job.as_deref(),
            args.follow,
        )
        .await;
    }
    if args.follow {
        return Err(Expected::Input(
            "--follow follows a job on a server: set RAILYARD_SERVER or pass --server (a local run \
             prints its log as it goes)"
                .into(),
        )
        .into());
    }
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
            write_log(&mut out, &bytes);
        }
        None => {
            let names = std::iter::once(ENV_LOG.to_string())
                .chain(detail.jobs.iter().map(|j| j.name.clone()));
            for name in names {
                let Ok(bytes) = store.read_log(&run_id, &name).await else {
                    continue;
                };
                let _ = writeln!(out, "==> {} <==", terminal_safe(&name));
                write_log(&mut out, &bytes);
            }
        }
    }
    Ok(0)
}

/// A stored log on standard output: its bytes as stored into a file or pipe; on a terminal,
/// only its colours of its escape sequences (see [`for_stdout`]).
fn write_log(out: &mut impl Write, bytes: &[u8]) {
    if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        let _ = out.write_all(for_stdout(&String::from_utf8_lossy(bytes)).as_bytes());
    } else {
        let _ = out.write_all(bytes);
    }
}
