//! `railyard deployments ENV`: what was deployed to an environment, when, by which run, how
//! it ended and which image it shipped; the server's (`--server`) or this machine's runs.

use clap::Args;
use railyard_store::Deployment;
use railyard_types::api;
use railyard_types::protocol::DeploymentsQuery;

use super::runs::local_time;
use crate::cli::{DataDir, PipelineFile};

#[derive(Debug, Args)]
pub struct DeploymentsArgs {
    /// The environment, as a job's `environment:` names it (`production`).
    pub environment: String,
    /// How many deployments to show, newest first.
    #[arg(short = 'n', long, default_value_t = 20)]
    pub limit: u32,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub remote: super::project::MaybeRemote,
    #[command(flatten)]
    pub pipeline: PipelineFile,
    #[command(flatten)]
    pub data: DataDir,
}

pub async fn run(g: &crate::cli::Global, args: DeploymentsArgs) -> anyhow::Result<i32> {
    let (environment, limit) = (args.environment.as_str(), args.limit);
    let deployments: Vec<Deployment> = match args.remote.client()? {
        Some(client) => {
            let query = DeploymentsQuery { limit: Some(limit) };
            client
                .call_query::<api::ListDeployments>(&environment.to_owned(), &query, &())
                .await?
        }
        None => {
            super::store(g)
                .await?
                .deployments(environment, limit)
                .await?
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&deployments)?);
    } else if deployments.is_empty() {
        println!(
            "nothing deployed to `{environment}` yet: a job with `environment: {environment}` \
             records its deployments"
        );
    } else {
        println!("{}", table(&deployments));
    }
    Ok(0)
}

fn table(deployments: &[Deployment]) -> comfy_table::Table {
    let mut table = comfy_table::Table::new();
    table.load_style(comfy_table::presets::UTF8_BORDERS_ONLY);
    table.set_header([
        "started", "time", "project", "run", "job", "status", "image",
    ]);
    for d in deployments {
        let time = d
            .ended_at
            .map(|e| crate::report::duration(e.since(d.started_at).as_millis() as u64))
            .unwrap_or_default();
        let image = match (&d.image, &d.image_digest) {
            (Some(image), Some(digest)) => format!("{image}@{digest}"),
            (Some(image), None) => image.clone(),
            (None, Some(digest)) => digest.clone(),
            (None, None) => String::new(),
        };
        table.add_row([
            local_time(d.started_at),
            time,
            d.project.to_string(),
            format!("#{} {}", d.run_number, d.run_id),
            d.job.clone(),
            crate::report::status(d.status).to_string(),
            image,
        ]);
    }
    table
}
