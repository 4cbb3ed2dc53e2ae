//! `railyard rerun RUN [--failed]`: run a finished run on the server again as its next
//! attempt, with the same commit and context (developer role). The earlier attempt's results
//! stay in the run's history (`railyard runs RUN --json`, `earlier_attempts`).

use clap::Args;
use railyard_store::RunDetail;
use railyard_types::api;
use railyard_types::protocol::RerunRequest;

use super::Expected;
use super::project::Remote;

#[derive(Debug, Args)]
pub struct RerunArgs {
    /// The run: its ID, ID prefix or number.
    pub run: String,
    /// Only the jobs that failed, timed out or were cancelled, and those they skipped (for a
    /// sharded job, only its failed shards).
    #[arg(long)]
    pub failed: bool,
    #[command(flatten)]
    pub remote: Remote,
}

pub async fn run(args: RerunArgs) -> anyhow::Result<i32> {
    let request = RerunRequest {
        failed_only: args.failed,
    };
    let answer = args
        .remote
        .client()?
        .call::<api::RerunRun>(&args.run.as_str().into(), &request)
        .await;
    let detail: RunDetail = match answer {
        Ok(detail) => detail,
        // Not finished, nothing failed, no such run: the message says what to do.
        Err(
            e @ railyard_agent::AgentError::Api {
                status: 404 | 409, ..
            },
        ) => {
            return Err(Expected::Input(format!("{e}: see `railyard runs {}`", args.run)).into());
        }
        Err(e) => return Err(e.into()),
    };
    let again: Vec<&str> = (detail.jobs.iter())
        .filter(|j| !j.status.is_final())
        .map(|j| j.name.as_str())
        .collect();
    println!(
        "run #{} {}: attempt {} started: {}",
        detail.run.number,
        detail.run.id,
        detail.run.attempt,
        again.join(", ")
    );
    Ok(0)
}
