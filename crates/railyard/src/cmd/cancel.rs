//! `railyard cancel RUN`: stop a run on the server (jobs not started end at once, running
//! ones at their agent's next heartbeat).

use clap::Args;
use railyard_store::RunDetail;
use railyard_types::api;
use railyard_types::exit_codes;

use super::Expected;
use super::project::Remote;

#[derive(Debug, Args)]
pub struct CancelArgs {
    /// The run: its ID, ID prefix or number.
    pub run: String,
    #[command(flatten)]
    pub remote: Remote,
}

pub async fn run(args: CancelArgs) -> anyhow::Result<i32> {
    let answer = args
        .remote
        .client()?
        .call::<api::CancelRun>(&args.run.as_str().into(), &())
        .await;
    let detail: RunDetail = match answer {
        Ok(detail) => detail,
        // The run has ended: nothing to cancel, which is not the server failing.
        Err(e @ railyard_agent::AgentError::Api { status: 409, .. }) => {
            eprintln!("error: {e}");
            return Ok(exit_codes::JOBS_FAILED);
        }
        Err(e @ railyard_agent::AgentError::Api { status: 404, .. }) => {
            return Err(Expected::Input(format!("{e}: see `railyard runs`")).into());
        }
        Err(e) => return Err(e.into()),
    };
    println!("run #{} {} cancelling", detail.run.number, detail.run.id);
    Ok(0)
}
