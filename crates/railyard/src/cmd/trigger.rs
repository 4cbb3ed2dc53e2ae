//! `railyard trigger PROJECT [--ref R] [--wait]`: start a run on the server.

use clap::Args;
use railyard_server::protocol::{RunDetail, TriggerRequest, Triggered};
use railyard_types::api;
use railyard_types::{RunStatus, exit_codes};
use std::time::Duration;

use super::project::Remote;

#[derive(Debug, Args)]
pub struct TriggerArgs {
    /// The project.
    pub project: String,
    /// A branch, tag or commit [default: the repository's HEAD].
    #[arg(long = "ref", value_name = "REF")]
    pub git_ref: Option<String>,
    /// Wait for the run to end; exit 0 only if it succeeded.
    #[arg(long)]
    pub wait: bool,
    /// Print JSON (the run, or with --wait the finished run with its jobs).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub remote: Remote,
}

pub async fn run(args: TriggerArgs) -> anyhow::Result<i32> {
    let client = args.remote.client()?;
    let request = TriggerRequest {
        git_ref: args.git_ref.clone(),
    };
    let triggered: Triggered = client
        .call::<api::Trigger>(&args.project.as_str().into(), &request)
        .await?;
    let run = &triggered.run;
    if !args.wait {
        if args.json {
            println!("{}", serde_json::to_string(&triggered)?);
        } else {
            println!(
                "run #{} {} queued ({} jobs)",
                run.number,
                run.id,
                triggered.jobs.len()
            );
        }
        return Ok(exit_codes::OK);
    }
    if !args.json {
        println!("run #{} {} queued; waiting", run.number, run.id);
    }
    let detail = loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let detail: RunDetail = client
            .call::<api::GetRun>(&run.id.as_str().into(), &())
            .await?;
        if detail.run.finished_at.is_some() {
            break detail;
        }
    };
    if args.json {
        println!("{}", serde_json::to_string(&detail)?);
    } else {
        // As `railyard runs RUN` shows it (it printed tab-separated lines).
        super::runs::show(&detail, false)?;
    }
    Ok(match detail.run.status {
        RunStatus::Success => exit_codes::OK,
        RunStatus::Cancelled => exit_codes::CANCELLED,
        _ => exit_codes::JOBS_FAILED,
    })
}
