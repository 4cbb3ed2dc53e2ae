//! `railyard project add|set|list|remove`: the server's projects.

use clap::{Args, Subcommand};
use railyard_agent::Client;
use railyard_server::protocol::{NewProject, Project, ProjectShare, RemoveProjectRequest};
use railyard_types::api;

/// Where the server is and the admin token. Both are needed, but checked here rather than
/// by clap, whose usage line showed them as required when the environment set them.
#[derive(Debug, Args)]
pub struct Remote {
    /// The server, `http://host:port` (needed: here or from the environment).
    #[arg(long, env = "RAILYARD_SERVER")]
    pub server: Option<String>,
    /// The admin token (needed: here or from the environment).
    #[arg(long, env = "RAILYARD_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

impl Remote {
    /// The server's client; an input error saying what to pass when either is missing.
    pub fn client(&self) -> anyhow::Result<Client> {
        let given = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
        let server = given(&self.server).ok_or_else(|| {
            super::Expected::Input(
                "no server given: pass --server http://host:port or set RAILYARD_SERVER".into(),
            )
        })?;
        let token = given(&self.token).ok_or_else(|| {
            super::Expected::Input(format!(
                "no token given for {server}: pass --token or set RAILYARD_TOKEN"
            ))
        })?;
        Ok(Client::new(&server, &token))
    }
}

/// A project's share of the fleet.
#[derive(Debug, Args)]
pub struct ShareArgs {
    /// Its weight (1 and up, default 1): a free slot goes to the project with the fewest
    /// running jobs per unit of weight.
    #[arg(long)]
    pub weight: Option<i64>,
    /// The most jobs it may run at once (0, the default: no cap).
    #[arg(long)]
    pub max_running: Option<i64>,
}

impl ShareArgs {
    fn share(self) -> ProjectShare {
        ProjectShare {
            weight: self.weight,
            max_running: self.max_running,
        }
    }
}

/// A server to ask instead of this machine's run history, when `--server` or
/// `RAILYARD_SERVER` is set.
#[derive(Debug, Args)]
pub struct MaybeRemote {
    /// Ask this server (`http://host:port`) [default: this machine's run history].
    #[arg(long, env = "RAILYARD_SERVER")]
    pub server: Option<String>,
    /// The server's admin token.
    #[arg(long, env = "RAILYARD_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

impl MaybeRemote {
    /// The server's client, `None` to stay local; an error when a server is named without a
    /// token.
    pub fn client(&self) -> anyhow::Result<Option<Client>> {
        match (&self.server, &self.token) {
            (None, _) => Ok(None),
            (Some(server), Some(token)) => Ok(Some(Client::new(server, token))),
            (Some(server), None) => Err(super::Expected::Input(format!(
                "server {server} named but no token: pass --token or set RAILYARD_TOKEN"
            ))
            .into()),
        }
    }
}

#[derive(Debug, Args)]
pub struct ProjectArgs {
    #[command(subcommand)]
    pub command: ProjectCommand,
}

#[derive(Debug, Subcommand)]
pub enum ProjectCommand {
    /// Add a repository to the server.
    Add {
        /// Its name.
        name: String,
        /// Any URL `git clone` takes.
        #[arg(long)]
        repo: String,
        /// The secret push webhooks are signed with (GitHub, Gitea) or carry (GitLab).
        #[arg(long, env = "RAILYARD_WEBHOOK_SECRET", hide_env_values = true)]
        webhook_secret: Option<String>,
        #[command(flatten)]
        share: ShareArgs,
        #[command(flatten)]
        remote: Remote,
    },
    /// Change a project's share of the fleet.
    Set {
        /// Its name.
        name: String,
        #[command(flatten)]
        share: ShareArgs,
        #[command(flatten)]
        remote: Remote,
    },
    /// Remove a project from the server with its runs, their logs and artifacts, and its
    /// test timings. Refused while runs of it are unfinished, unless --force.
    Remove {
        /// Its name.
        name: String,
        /// Remove it even while runs of it are unfinished: their jobs stop at their agents'
        /// next call to the server.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        remote: Remote,
    },
    /// List the server's projects.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        remote: Remote,
    },
}

pub async fn run(args: ProjectArgs) -> anyhow::Result<i32> {
    match args.command {
        ProjectCommand::Add {
            name,
            repo,
            webhook_secret,
            share,
            remote,
        } => {
            let body = NewProject {
                name: name.into(),
                repo,
                webhook_secret,
                share: share.share(),
            };
            let p = remote.client()?.call::<api::AddProject>(&(), &body).await?;
            println!("added project {} ({})", p.name, p.repo_url);
        }
        ProjectCommand::Set {
            name,
            share,
            remote,
        } => {
            let p = remote
                .client()?
                .call::<api::UpdateProject>(&name.into(), &share.share())
                .await?;
            println!("{}: weight {}, {}", p.name, p.weight, cap(p.max_running));
        }
        ProjectCommand::Remove {
            name,
            force,
            remote,
        } => {
            let r = remote
                .client()?
                .call::<api::RemoveProject>(&name.into(), &RemoveProjectRequest { force })
                .await?;
            let stopped = if r.unfinished > 0 {
                format!(", {} of them unfinished and stopped", r.unfinished)
            } else {
                String::new()
            };
            println!(
                "removed project {}: {} run(s) deleted with their logs and artifacts{stopped}",
                r.name, r.runs
            );
        }
        ProjectCommand::List { json, remote } => {
            let projects: Vec<Project> =
                remote.client()?.call::<api::ListProjects>(&(), &()).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&projects)?);
            } else if projects.is_empty() {
                println!("no projects yet: add one with `railyard project add NAME --repo URL`");
            } else {
                // A table like the CLI's other lists (it printed tab-separated lines); the
                // URL, the longest, last so that it is what a narrow terminal cuts.
                let mut table = comfy_table::Table::new();
                table.load_style(comfy_table::presets::UTF8_BORDERS_ONLY);
                table.set_header(["name", "share", "repository"]);
                let rows = projects
                    .into_iter()
                    .map(|p| {
                        let share = format!("weight {}, {}", p.weight, cap(p.max_running));
                        vec![p.name.into_string(), share, p.repo_url]
                    })
                    .collect();
                if crate::report::add_rows_fitted(&mut table, rows) {
                    println!("{table}\nrepositories cut to fit: whole with --json");
                } else {
                    println!("{table}");
                }
            }
        }
    }
    Ok(0)
}

fn cap(max_running: i64) -> String {
    if max_running == 0 {
        "no cap".into()
    } else {
        format!("at most {max_running} running")
    }
}
