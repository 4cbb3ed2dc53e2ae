//! `railyard token create|list|revoke`: the server's stored tokens (admin API).

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Subcommand};
use railyard_types::Role;
use railyard_types::api;
use railyard_types::protocol::TokenInfo;
use railyard_types::protocol::{CreatedToken, NewToken};

use super::project::Remote;

#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(subcommand)]
    pub command: TokenCommand,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make a token; it is printed once, the server keeps only its SHA-256.
    Create {
        /// A unique name (letters, digits, `.`, `_`, `-`).
        name: String,
        /// `agent` (register, claim, report) or `admin` (everything else).
        #[arg(long, value_parser = PossibleValuesParser::new(["agent", "admin"])
            .try_map(|r| r.parse::<Role>()))]
        role: Role,
        /// An agent token's pool (default `default`): agents registered with it run only
        /// the jobs of projects that allow it (`railyard project set NAME --pools …`).
        #[arg(long)]
        pool: Option<String>,
        #[command(flatten)]
        remote: Remote,
    },
    /// List the stored tokens (never the tokens themselves).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        remote: Remote,
    },
    /// Revoke a token: requests made with it get 401 from now on.
    Revoke {
        /// Its name.
        name: String,
        #[command(flatten)]
        remote: Remote,
    },
}

pub async fn run(args: TokenArgs) -> anyhow::Result<i32> {
    match args.command {
        TokenCommand::Create {
            name,
            role,
            pool,
            remote,
        } => {
            let created: CreatedToken = remote
                .client()?
                .call::<api::CreateToken>(
                    &(),
                    &NewToken {
                        name: name.into(),
                        role,
                        pool: pool.clone(),
                    },
                )
                .await?;
            let pool = match (role, pool) {
                (Role::Agent, pool) => format!(
                    ", pool {}",
                    pool.as_deref().unwrap_or(railyard_store::DEFAULT_POOL)
                ),
                _ => String::new(),
            };
            eprintln!(
                "token `{}` ({}{pool}) created; it is shown only now:",
                created.name, created.role
            );
            println!("{}", created.token);
        }
        TokenCommand::List { json, remote } => {
            let tokens: Vec<TokenInfo> = remote.client()?.call::<api::ListTokens>(&(), &()).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&tokens)?);
            } else if tokens.is_empty() {
                println!(
                    "no stored tokens yet: make one with `railyard token create NAME --role agent`"
                );
            } else {
                // A table like the CLI's other lists (it printed tab-separated lines).
                let mut table = comfy_table::Table::new();
                table.load_style(comfy_table::presets::UTF8_BORDERS_ONLY);
                table.set_header(["name", "role", "created", "state"]);
                let rows = tokens
                    .into_iter()
                    .map(|t| {
                        let state = match t.revoked_at {
                            Some(at) => format!("revoked {}", super::runs::local_time(at)),
                            None => "live".into(),
                        };
                        vec![
                            t.name.into_string(),
                            t.role.to_string(),
                            super::runs::local_time(t.created_at),
                            state,
                        ]
                    })
                    .collect();
                crate::report::add_rows_fitted(&mut table, rows);
                println!("{table}");
            }
        }
        TokenCommand::Revoke { name, remote } => {
            remote
                .client()?
                .call::<api::RevokeToken>(&name.as_str().into(), &())
                .await?;
            println!("token `{name}` revoked");
        }
    }
    Ok(0)
}
