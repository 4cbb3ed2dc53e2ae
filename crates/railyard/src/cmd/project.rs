//! `railyard project add|list`: the server's projects.

use clap::{Args, Subcommand};
use railyard_agent::Client;
use railyard_server::protocol::{NewProject, Project};

/// Where the server is and the admin token.
#[derive(Debug, Args)]
pub struct Remote {
    /// The server, `http://host:port`.
    #[arg(long, env = "RAILYARD_SERVER")]
    pub server: String,
    /// The admin token.
    #[arg(long, env = "RAILYARD_TOKEN", hide_env_values = true)]
    pub token: String,
}

impl Remote {
    pub fn client(&self) -> Client {
        Client::new(&self.server, &self.token)
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
            remote,
        } => {
            let body = NewProject {
                name,
                repo,
                webhook_secret,
            };
            let project: Option<Project> = remote.client().post("/api/v1/projects", &body).await?;
            if let Some(p) = project {
                println!("added project {} ({})", p.name, p.repo_url);
            }
        }
        ProjectCommand::List { json, remote } => {
            let projects: Vec<Project> = remote.client().get("/api/v1/projects").await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&projects)?);
            } else {
                for p in projects {
                    println!("{}\t{}", p.name, p.repo_url);
                }
            }
        }
    }
    Ok(0)
}
