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
    /// The admin token (needed: here, from the environment or from --token-file).
    #[arg(long, env = "RAILYARD_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    #[command(flatten)]
    pub files: RemoteFiles,
}

/// Where a client of the server reads its token and the CA it trusts from.
#[derive(Debug, Args)]
pub struct RemoteFiles {
    /// A file holding the token (trailing newline dropped), so it shows in no `ps`.
    #[arg(long, env = "RAILYARD_TOKEN_FILE", value_name = "FILE")]
    pub token_file: Option<std::path::PathBuf>,
    /// Trust only this CA (PEM) for an `https://` server [default: the system's roots].
    #[arg(long, env = "RAILYARD_CA_CERT", value_name = "FILE")]
    pub ca_cert: Option<std::path::PathBuf>,
}

impl RemoteFiles {
    /// The token from `token` or the token file; `None` when neither is given.
    fn token(&self, token: &Option<String>) -> anyhow::Result<Option<String>> {
        let file = self.token_file.as_deref();
        let token = super::credentials::token_from(token.clone(), file, "--token-file")?;
        Ok(token)
    }

    /// A client of `server` with `token`, trusting the CA file when given.
    pub(super) fn client(&self, server: &str, token: &str) -> anyhow::Result<Client> {
        let trust = super::credentials::trust(self.ca_cert.as_deref())?;
        let timeout = railyard_agent::client::CALL_TIMEOUT;
        Ok(Client::with_trust(server, token, timeout, &trust))
    }
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
        let token = self.files.token(&self.token)?.ok_or_else(|| {
            super::Expected::Input(format!(
                "no token given for {server}: pass --token or --token-file, or set \
                 RAILYARD_TOKEN or RAILYARD_TOKEN_FILE"
            ))
        })?;
        self.files.client(&server, &token)
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
    /// Days a finished run's logs and artifacts are kept (default 90; 0: for ever). The
    /// server deletes them in the background; the run's record stays.
    #[arg(long)]
    pub keep_days: Option<i64>,
    /// The newest runs whose logs and artifacts are kept however old (default 20).
    #[arg(long)]
    pub keep_runs: Option<i64>,
    /// The most bytes of artifacts its runs may hold (0, the default: no quota); an upload
    /// that would go over it is refused and its job fails.
    #[arg(long)]
    pub quota_bytes: Option<i64>,
    /// The agent pools that may run its jobs, comma-separated (default: `default`); replaces
    /// its list. Agents are in the pool of the token they registered with.
    #[arg(long, value_delimiter = ',')]
    pub pools: Option<Vec<String>>,
    /// Whether a new run of a branch (a push) or of a pull request cancels the older
    /// unfinished runs of the same branch or pull request (default false).
    #[arg(long, value_name = "true|false")]
    pub cancel_superseded: Option<bool>,
    /// The refs whose runs write the project's shared dependency caches (`cache:`),
    /// comma-separated, `*` as a wildcard (`main,release/*` or `refs/heads/main`); other
    /// branches and pull requests read them and write only their own. Default: `main`.
    #[arg(long, value_delimiter = ',')]
    pub protected_refs: Option<Vec<String>>,
    /// Where the server sends its runs' commit statuses: `github`, `gitlab` or `gitea`
    /// (`none` stops them), with --forge-api and --forge-repo. The token is the project's
    /// `@forge` secret (`railyard secret set PROJECT @forge`).
    #[arg(long)]
    pub forge: Option<String>,
    /// The forge's API base: https://api.github.com, https://gitlab.example.com/api/v4,
    /// https://gitea.example.com/api/v1.
    #[arg(long, requires = "forge")]
    pub forge_api: Option<String>,
    /// The repository on the forge: `owner/name` (GitLab: numeric id or `group/name`).
    #[arg(long, requires = "forge")]
    pub forge_repo: Option<String>,
}

impl ShareArgs {
    fn share(self) -> ProjectShare {
        ProjectShare {
            weight: self.weight,
            max_running: self.max_running,
            keep_days: self.keep_days,
            keep_runs: self.keep_runs,
            quota_bytes: self.quota_bytes,
            pools: self.pools,
            cancel_superseded: self.cancel_superseded,
            protected_refs: self.protected_refs,
            forge: self
                .forge
                .map(|kind| railyard_types::statuses::ForgeSettings {
                    kind,
                    api_url: self.forge_api.unwrap_or_default(),
                    repo: self.forge_repo.unwrap_or_default(),
                }),
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
    #[command(flatten)]
    pub files: RemoteFiles,
}

impl MaybeRemote {
    /// The server's client, `None` to stay local; an error when a server is named without a
    /// token.
    pub fn client(&self) -> anyhow::Result<Option<Client>> {
        let Some(server) = &self.server else {
            return Ok(None);
        };
        match self.files.token(&self.token)? {
            Some(token) => Ok(Some(self.files.client(server, &token)?)),
            None => Err(super::Expected::Input(format!(
                "server {server} named but no token: pass --token or --token-file, or set \
                 RAILYARD_TOKEN or RAILYARD_TOKEN_FILE"
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
    /// Change a project's share of the fleet, retention or storage quota.
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
            let kept = [share.keep_days, share.keep_runs, share.quota_bytes];
            let superseding = share.cancel_superseded.is_some();
            let protecting = share.protected_refs.is_some();
            let p = remote
                .client()?
                .call::<api::UpdateProject>(&name.into(), &share.share())
                .await?;
            let pools = pools(&p.pools);
            println!(
                "{}: weight {}, {}{pools}",
                p.name,
                p.weight,
                cap(p.max_running)
            );
            if kept.iter().any(Option::is_some) {
                println!(
                    "{}: logs and artifacts kept {}; {}",
                    p.name,
                    retention(&p),
                    quota(p.quota_bytes)
                );
            }
            if superseding {
                let does = if p.cancel_superseded {
                    "cancels"
                } else {
                    "keeps"
                };
                println!(
                    "{}: a new run of a branch or pull request {does} its older unfinished runs",
                    p.name
                );
            }
            if protecting {
                let refs = match p.protected_refs.is_empty() {
                    true => "main (the default)".to_owned(),
                    false => p.protected_refs.join(", "),
                };
                println!("{}: runs of {refs} write the shared caches", p.name);
            }
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
                table.set_header(["name", "retention", "quota", "share", "repository"]);
                let rows = projects
                    .into_iter()
                    .map(|p| {
                        let share = format!(
                            "weight {}, {}{}",
                            p.weight,
                            cap(p.max_running),
                            pools(&p.pools)
                        );
                        let (kept, quota) = (retention(&p), quota(p.quota_bytes));
                        vec![p.name.into_string(), kept, quota, share, p.repo_url]
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

/// `, pools a, b` for a project that does not run on the default pool alone; nothing else.
fn pools(pools: &[String]) -> String {
    if pools == [railyard_store::DEFAULT_POOL] {
        String::new()
    } else {
        format!(", pools {}", pools.join(", "))
    }
}

fn cap(max_running: i64) -> String {
    if max_running == 0 {
        "no cap".into()
    } else {
        format!("at most {max_running} running")
    }
}

/// How long a project keeps its runs' logs and artifacts, in words.
fn retention(p: &Project) -> String {
    if p.keep_days == 0 {
        "for ever".into()
    } else {
        format!("{} days, last {} runs", p.keep_days, p.keep_runs)
    }
}

fn quota(bytes: i64) -> String {
    if bytes == 0 {
        "no quota".into()
    } else {
        format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
    }
}
