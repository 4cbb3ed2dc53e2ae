//! `railyard cancel RUN`: stop a run on the server (jobs not started end at once, running
//! ones at their agent's next heartbeat).

use clap::Args;
use railyard_store::RunDetail;

use super::project::Remote;

#[derive(Debug, Args)]
pub struct CancelArgs {
    /// The run: its ID, ID prefix or number.
    pub run: String,
    #[command(flatten)]
    pub remote: Remote,
}

pub async fn run(args: CancelArgs) -> anyhow::Result<i32> {
    let detail: Option<RunDetail> = args
        .remote
        .client()
        .post(&format!("/api/v1/runs/{}/cancel", args.run), &())
        .await?;
    match detail {
        Some(d) => println!("run #{} {} cancelling", d.run.number, d.run.id),
        None => println!("run {} cancelling", args.run),
    }
    Ok(0)
}
