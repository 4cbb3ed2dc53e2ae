//! `railyard login` (a personal token for a name and password), `railyard me` (who a token
//! speaks for, and its owner's own tokens) and `railyard audit` (who changed what).

use clap::{Args, Subcommand};
use railyard_types::api;
use railyard_types::people::{
    AuditEntry, AuditQuery, LoginRequest, Me, NewPersonalToken, PersonalToken, TokenScope,
};
use railyard_types::protocol::TokenInfo;
use railyard_types::{ProjectName, TokenName};

use super::project::{Remote, RemoteFiles};
use super::runs::local_time;

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The server, `https://host:port`.
    #[arg(long, env = "RAILYARD_SERVER")]
    pub server: String,
    /// Your user name; the password is read from stdin (hidden at a terminal).
    #[arg(long)]
    pub user: String,
    #[command(flatten)]
    pub scope: ScopeArgs,
    #[command(flatten)]
    pub files: RemoteFiles,
}

/// What a personal token is narrowed to.
#[derive(Debug, Args)]
pub struct ScopeArgs {
    /// Only this project.
    #[arg(long)]
    pub project: Option<String>,
    /// Only reading.
    #[arg(long)]
    pub read_only: bool,
}

impl ScopeArgs {
    fn scope(self) -> TokenScope {
        TokenScope {
            project: self.project.map(ProjectName::from),
            read_only: self.read_only,
        }
    }
}

#[derive(Debug, Args)]
pub struct MeArgs {
    #[command(subcommand)]
    pub command: Option<MeCommand>,
    #[command(flatten)]
    pub remote: Remote,
}

#[derive(Debug, Subcommand)]
pub enum MeCommand {
    /// Make a personal token, never wider than the one used: printed once.
    TokenCreate {
        /// A unique name (letters, digits, `.`, `_`, `-`).
        name: String,
        #[command(flatten)]
        scope: ScopeArgs,
        /// Days until it stops working [default: never].
        #[arg(long)]
        days: Option<u32>,
    },
    /// List your personal tokens.
    Tokens,
    /// Revoke one of your tokens.
    TokenRevoke {
        /// Its name.
        name: String,
    },
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only this project's entries (needed unless you are a server admin).
    #[arg(long)]
    pub project: Option<String>,
    /// How many entries, newest first.
    #[arg(short = 'n', long, default_value_t = 50)]
    pub limit: u32,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub remote: Remote,
}

pub async fn login(args: LoginArgs) -> anyhow::Result<i32> {
    let password = super::people::read_password(&format!("password for {}: ", args.user))?;
    let client = args.files.client(&args.server, "")?;
    let request = LoginRequest {
        user: args.user.into(),
        password,
        scope: args.scope.scope(),
    };
    let token: PersonalToken = client.call::<api::Login>(&(), &request).await?;
    eprintln!(
        "signed in as {}: token `{}`{}; it is shown only now (keep it in a file for --token-file):",
        token.user,
        token.name,
        token
            .expires_at
            .map(|at| format!(", valid until {}", local_time(at)))
            .unwrap_or_default()
    );
    println!("{}", token.token);
    Ok(0)
}

pub async fn me(args: MeArgs) -> anyhow::Result<i32> {
    let client = args.remote.client()?;
    match args.command {
        None => {
            let me: Me = client.call::<api::WhoAmI>(&(), &()).await?;
            let mut line = me.actor.clone();
            if me.admin {
                line.push_str(" (server admin)");
            }
            if let Some(p) = &me.scope.project {
                line.push_str(&format!(", this token only for {p}"));
            }
            if me.scope.read_only {
                line.push_str(", read-only");
            }
            println!("{line}");
            for m in &me.roles {
                println!("  {} of {}", m.role, m.project);
            }
        }
        Some(MeCommand::TokenCreate { name, scope, days }) => {
            let new = NewPersonalToken {
                name: name.into(),
                scope: scope.scope(),
                expires_in_days: days,
            };
            let token: PersonalToken = client.call::<api::CreatePersonalToken>(&(), &new).await?;
            eprintln!("token `{}` created; it is shown only now:", token.name);
            println!("{}", token.token);
        }
        Some(MeCommand::Tokens) => {
            let tokens: Vec<TokenInfo> = client.call::<api::ListPersonalTokens>(&(), &()).await?;
            for t in &tokens {
                let state = match t.revoked_at {
                    Some(at) => format!("revoked {}", local_time(at)),
                    None => "live".into(),
                };
                println!("{}\tcreated {}\t{state}", t.name, local_time(t.created_at));
            }
        }
        Some(MeCommand::TokenRevoke { name }) => {
            client
                .call::<api::RevokePersonalToken>(&TokenName::from(name.as_str()), &())
                .await?;
            println!("token `{name}` revoked");
        }
    }
    Ok(0)
}

pub async fn audit(args: AuditArgs) -> anyhow::Result<i32> {
    let query = AuditQuery {
        project: args.project.map(ProjectName::from),
        limit: Some(args.limit),
    };
    let entries: Vec<AuditEntry> = args
        .remote
        .client()?
        .call_query::<api::ListAudit>(&(), &query, &())
        .await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
        return Ok(0);
    }
    let mut table = comfy_table::Table::new();
    table.load_style(comfy_table::presets::UTF8_BORDERS_ONLY);
    table.set_header(["when", "who", "what", "project", "on", "detail"]);
    for e in &entries {
        table.add_row([
            local_time(e.at),
            e.actor.clone(),
            e.action.clone(),
            e.project.as_deref().unwrap_or("").to_owned(),
            e.target.clone().unwrap_or_default(),
            e.detail.clone().unwrap_or_default(),
        ]);
    }
    println!("{table}");
    Ok(0)
}
