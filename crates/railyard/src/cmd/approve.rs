//! `railyard approve RUN JOB`: approve a `manual` job awaiting a person's approval on the
//! server (developer role); it is queued for an agent, and the jobs that need it follow.

use clap::Args;
use railyard_store::RunDetail;
use railyard_types::api;

use super::Expected;
use super::project::Remote;

#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// The run: its ID, ID prefix or number.
    pub run: String,
    /// The manual job (a sharded job's name approves all its shards).
    pub job: String,
    #[command(flatten)]
    pub remote: Remote,
}

pub async fn run(args: ApproveArgs) -> anyhow::Result<i32> {
    let answer = args
        .remote
        .client()?
        .call::<api::ApproveJob>(&(args.run.as_str().into(), args.job.clone()), &())
        .await;
    let detail: RunDetail = match answer {
        Ok(detail) => detail,
        // Not manual, approved already, not ready yet: the message names the job's state.
        Err(e @ railyard_agent::AgentError::Api { status: 409, .. }) => {
            return Err(Expected::Input(format!("{e}: see `railyard runs {}`", args.run)).into());
        }
        Err(e @ railyard_agent::AgentError::Api { status: 404, .. }) => {
            return Err(Expected::Input(format!("{e}: see `railyard runs {}`", args.run)).into());
        }
        Err(e) => return Err(e.into()),
    };
    println!(
        "run #{} {}: job `{}` approved",
        detail.run.number, detail.run.id, args.job
    );
    Ok(0)
}
