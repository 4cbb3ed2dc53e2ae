//! `railyard user …` (an admin's: people of the server) and `railyard member …` (a project
//! maintainer's: who has which role in it).

use std::io::IsTerminal;

use clap::{Args, Subcommand};
use railyard_types::api;
use railyard_types::people::{NewUser, ProjectMembership, ProjectRole, RoleGrant, UserInfo};
use railyard_types::{ProjectName, UserName};

use super::project::Remote;
use super::runs::local_time;

#[derive(Debug, Args)]
pub struct UserArgs {
    #[command(subcommand)]
    pub command: UserCommand,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a person; with --password, their password is read from stdin (never an argument).
    Add {
        /// A unique name (letters, digits, `.`, `_`, `-`).
        name: String,
        /// A server-wide admin (every project, people, tokens, agents).
        #[arg(long)]
        admin: bool,
        /// Read a password (12 characters or more) from stdin, to sign in with `railyard login`.
        #[arg(long)]
        password: bool,
        #[command(flatten)]
        remote: Remote,
    },
    /// List the people with their roles.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        remote: Remote,
    },
    /// Remove a person: their roles go and their tokens stop working at once.
    Remove {
        /// Their name.
        name: String,
        #[command(flatten)]
        remote: Remote,
    },
}

#[derive(Debug, Args)]
pub struct MemberArgs {
    #[command(subcommand)]
    pub command: MemberCommand,
}

#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Give a person a role in a project: viewer, developer or maintainer.
    Set {
        /// The project.
        project: String,
        /// The person.
        user: String,
        /// `viewer` (read), `developer` (+ trigger, cancel) or `maintainer` (+ settings,
        /// secrets, people).
        role: ProjectRole,
        #[command(flatten)]
        remote: Remote,
    },
    /// Take a person's role in a project away.
    Remove {
        /// The project.
        project: String,
        /// The person.
        user: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// List a project's people and their roles.
    List {
        /// The project.
        project: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        remote: Remote,
    },
}

/// A password from stdin: hidden when stdin is a terminal, else its first line.
pub(super) fn read_password(prompt: &str) -> anyhow::Result<String> {
    let password = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(prompt)?
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        line.trim_end_matches(['\n', '\r']).to_owned()
    };
    if password.is_empty() {
        return Err(super::Expected::Input(
            "no password given on stdin: pipe it in (`railyard … < file`) or type it at the prompt"
                .into(),
        )
        .into());
    }
    Ok(password)
}

pub async fn run_user(args: UserArgs) -> anyhow::Result<i32> {
    match args.command {
        UserCommand::Add {
            name,
            admin,
            password,
            remote,
        } => {
            let password = match password {
                true => Some(read_password(&format!("password for {name}: "))?),
                false => None,
            };
            let new = NewUser {
                name: name.into(),
                admin,
                password,
            };
            let user: UserInfo = remote.client()?.call::<api::AddUser>(&(), &new).await?;
            let what = if user.admin { "server admin" } else { "user" };
            println!("{what} `{}` added", user.name);
            if !user.admin {
                println!(
                    "give them a role: railyard member set PROJECT {} developer",
                    user.name
                );
            }
        }
        UserCommand::List { json, remote } => {
            let users: Vec<UserInfo> = remote.client()?.call::<api::ListUsers>(&(), &()).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&users)?);
            } else if users.is_empty() {
                println!("no users yet: add one with `railyard user add NAME --password`");
            } else {
                let mut table = comfy_table::Table::new();
                table.load_style(comfy_table::presets::UTF8_BORDERS_ONLY);
                table.set_header(["name", "admin", "password", "roles", "state"]);
                for u in &users {
                    let roles: Vec<String> = u
                        .roles
                        .iter()
                        .map(|m| format!("{} in {}", m.role, m.project))
                        .collect();
                    let state = match u.disabled_at {
                        Some(at) => format!("removed {}", local_time(at)),
                        None => "active".into(),
                    };
                    table.add_row([
                        u.name.to_string(),
                        if u.admin { "yes" } else { "" }.into(),
                        if u.has_password { "set" } else { "" }.into(),
                        roles.join(", "),
                        state,
                    ]);
                }
                println!("{table}");
            }
        }
        UserCommand::Remove { name, remote } => {
            remote
                .client()?
                .call::<api::RemoveUser>(&UserName::from(name.as_str()), &())
                .await?;
            println!(
                "user `{name}` removed: their roles are gone and their tokens stopped working"
            );
        }
    }
    Ok(0)
}

pub async fn run_member(args: MemberArgs) -> anyhow::Result<i32> {
    match args.command {
        MemberCommand::Set {
            project,
            user,
            role,
            remote,
        } => {
            let path = (ProjectName::from(project), UserName::from(user));
            let m: ProjectMembership = remote
                .client()?
                .call::<api::SetMember>(&path, &RoleGrant { role })
                .await?;
            println!("{} is a {} of {}", m.user, m.role, m.project);
        }
        MemberCommand::Remove {
            project,
            user,
            remote,
        } => {
            let path = (
                ProjectName::from(project.as_str()),
                UserName::from(user.as_str()),
            );
            remote
                .client()?
                .call::<api::RemoveMember>(&path, &())
                .await?;
            println!("{user} has no role in {project} any more");
        }
        MemberCommand::List {
            project,
            json,
            remote,
        } => {
            let members: Vec<ProjectMembership> = remote
                .client()?
                .call::<api::ListMembers>(&ProjectName::from(project.as_str()), &())
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&members)?);
            } else if members.is_empty() {
                println!("nobody has a role in {project} yet (admins can do everything)");
            } else {
                for m in &members {
                    println!("{}\t{}\tsince {}", m.user, m.role, local_time(m.granted_at));
                }
            }
        }
    }
    Ok(0)
}
