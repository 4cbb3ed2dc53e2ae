//! `railyard schedule add|list|rm`: cron schedules on the server. The server starts a run of
//! the schedule's ref at each time its cron expression names, in UTC (docs/server.md,
//! Schedules); `list` shows when each fires next and how its last fire went.

use clap::{Args, Subcommand};
use railyard_types::api;
use railyard_types::schedules::{NewSchedule, ScheduleInfo, SchedulesQuery};

use super::project::Remote;

#[derive(Debug, Args)]
pub struct ScheduleArgs {
    #[command(subcommand)]
    pub command: ScheduleCommand,
}

#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Add a schedule: a run of --ref at each time --cron names (UTC).
    Add {
        /// The project.
        project: String,
        /// A cron expression in UTC: `MIN HOUR DOM MONTH DOW` (`0 3 * * *`: 03:00 UTC every
        /// day), or `@daily`, `@hourly`…
        #[arg(long)]
        cron: String,
        /// The branch, tag or ref whose head each fire runs.
        #[arg(long = "ref", value_name = "REF")]
        git_ref: String,
        /// Its name in the project [default: the ref's last part].
        #[arg(long)]
        name: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        remote: Remote,
    },
    /// List schedules (of one project, or of every project you may see): when each fires
    /// next, its last run and its last error.
    List {
        /// Only this project's.
        project: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        remote: Remote,
    },
    /// Remove a schedule: it fires no more.
    Rm {
        /// The project.
        project: String,
        /// The schedule's name.
        name: String,
        #[command(flatten)]
        remote: Remote,
    },
}

/// A time in UTC, as schedules are written.
fn utc(at: railyard_types::Millis) -> String {
    jiff::Timestamp::from_millisecond(at.as_i64())
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|_| "never".into())
}

pub async fn run(args: ScheduleArgs) -> anyhow::Result<i32> {
    match args.command {
        ScheduleCommand::Add {
            project,
            cron,
            git_ref,
            name,
            json,
            remote,
        } => {
            let body = NewSchedule {
                name,
                cron,
                git_ref,
            };
            let info: ScheduleInfo = remote
                .client()?
                .call::<api::AddSchedule>(&project.as_str().into(), &body)
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&info)?);
            } else {
                println!(
                    "schedule `{}` of project `{project}` added: `{}` (UTC) runs `{}`, next at {}",
                    info.name,
                    info.cron,
                    info.git_ref,
                    utc(info.next_at)
                );
            }
        }
        ScheduleCommand::List {
            project,
            json,
            remote,
        } => {
            let query = SchedulesQuery {
                project: project.as_deref().map(Into::into),
            };
            let schedules: Vec<ScheduleInfo> = remote
                .client()?
                .call_query::<api::ListSchedules>(&(), &query, &())
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&schedules)?);
            } else if schedules.is_empty() {
                let p = project.as_deref().unwrap_or("PROJECT");
                println!(
                    "no schedules: add one with `railyard schedule add {p} --cron \"0 3 * * *\" --ref main`"
                );
            } else {
                let mut table = comfy_table::Table::new();
                table.load_style(comfy_table::presets::UTF8_BORDERS_ONLY);
                table.set_header([
                    "project",
                    "name",
                    "cron (UTC)",
                    "ref",
                    "next",
                    "last run",
                    "last error",
                ]);
                let rows = schedules
                    .into_iter()
                    .map(|s| {
                        vec![
                            s.project.to_string(),
                            s.name,
                            s.cron,
                            s.git_ref,
                            utc(s.next_at),
                            s.last_run_id.unwrap_or_else(|| "-".into()),
                            s.last_error.unwrap_or_else(|| "-".into()),
                        ]
                    })
                    .collect();
                crate::report::add_rows_fitted(&mut table, rows);
                println!("{table}");
            }
        }
        ScheduleCommand::Rm {
            project,
            name,
            remote,
        } => {
            remote
                .client()?
                .call::<api::RemoveSchedule>(&(project.as_str().into(), name.clone()), &())
                .await?;
            println!("schedule `{name}` of project `{project}` removed");
        }
    }
    Ok(0)
}
