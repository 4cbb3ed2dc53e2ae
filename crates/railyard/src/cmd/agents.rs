//! `railyard agents`: the server's agents, what they run and when they were last seen.

use clap::Args;
use railyard_types::api;
use railyard_types::protocol::AgentInfo;

use super::project::Remote;

#[derive(Debug, Args)]
pub struct AgentsArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub remote: Remote,
}

pub async fn run(args: AgentsArgs) -> anyhow::Result<i32> {
    let agents: Vec<AgentInfo> = args
        .remote
        .client()?
        .call::<api::ListAgents>(&(), &())
        .await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&agents)?);
        return Ok(0);
    }
    if agents.is_empty() {
        println!("no agents yet: start one with `railyard agent --server URL --token T`");
        return Ok(0);
    }
    let mut table = comfy_table::Table::new();
    table.load_style(comfy_table::presets::UTF8_BORDERS_ONLY);
    table.set_header(["name", "running", "slots", "last seen", "id"]);
    for a in agents {
        table.add_row([
            a.name,
            a.running.to_string(),
            a.slots.to_string(),
            super::runs::local_time(a.last_seen),
            a.id.into_string(),
        ]);
    }
    println!("{table}");
    Ok(0)
}
