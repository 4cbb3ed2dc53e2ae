//! `railyard secret set|list|rm`: a project's secrets on the server (admin API). A value is
//! read from standard input or a file, never from an argument (which `ps` and the shell's
//! history show), and never read back.

use std::io::Read;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use railyard_types::api;
use railyard_types::secrets::{SecretInfo, SecretValue, SetSecret};

use super::project::Remote;

#[derive(Debug, Args)]
pub struct SecretArgs {
    #[command(subcommand)]
    pub command: SecretCommand,
}

#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Set a secret from standard input (or --from-file); `@repo` names the project's
    /// repository credential (`user:token`, or a bare token).
    Set {
        /// The project.
        project: String,
        /// The secret: the variable its jobs see (as named in the pipeline's `secrets`), or
        /// `@repo`.
        name: String,
        /// Read the value from this file instead of standard input.
        #[arg(long)]
        from_file: Option<PathBuf>,
        /// Give it only to runs of these refs, comma-separated (`main,release/*`); a run of
        /// another branch naming it fails before it starts.
        #[arg(long, value_delimiter = ',')]
        protected_refs: Vec<String>,
        #[command(flatten)]
        remote: Remote,
    },
    /// List a project's secrets: names, times and protected refs, never values.
    List {
        /// The project.
        project: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        remote: Remote,
    },
    /// Remove a secret: runs naming it fail before they start from now on.
    Rm {
        /// The project.
        project: String,
        /// The secret.
        name: String,
        #[command(flatten)]
        remote: Remote,
    },
}

/// The value: the file's, or standard input's, less one trailing newline (as `echo` and
/// editors add); refused when empty.
fn read_value(from_file: Option<&PathBuf>) -> anyhow::Result<SecretValue> {
    let mut text = match from_file {
        Some(file) => std::fs::read_to_string(file)
            .map_err(|e| super::Expected::Input(format!("reading {}: {e}", file.display())))?,
        None => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| super::Expected::Input(format!("reading standard input: {e}")))?;
            text
        }
    };
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    if text.is_empty() {
        let e = "the value is empty: pipe it in (`railyard secret set P NAME < file`) or give \
                 --from-file";
        return Err(super::Expected::Input(e.into()).into());
    }
    Ok(SecretValue::new(text))
}

pub async fn run(args: SecretArgs) -> anyhow::Result<i32> {
    match args.command {
        SecretCommand::Set {
            project,
            name,
            from_file,
            protected_refs,
            remote,
        } => {
            let value = read_value(from_file.as_ref())?;
            let body = SetSecret {
                value,
                protected_refs,
            };
            let info: SecretInfo = remote
                .client()?
                .call::<api::SetSecret>(&(project.as_str().into(), name.clone()), &body)
                .await?;
            let limited = if info.protected_refs.is_empty() {
                String::new()
            } else {
                format!(", only for {}", info.protected_refs.join(", "))
            };
            println!("secret `{name}` of project `{project}` set{limited}");
        }
        SecretCommand::List {
            project,
            json,
            remote,
        } => {
            let secrets: Vec<SecretInfo> = remote
                .client()?
                .call::<api::ListSecrets>(&project.as_str().into(), &())
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&secrets)?);
            } else if secrets.is_empty() {
                println!(
                    "project `{project}` has no secrets: set one with `railyard secret set {project} NAME < file`"
                );
            } else {
                let mut table = comfy_table::Table::new();
                table.load_style(comfy_table::presets::UTF8_BORDERS_ONLY);
                table.set_header(["name", "protected refs", "created", "updated"]);
                let rows = secrets
                    .into_iter()
                    .map(|s| {
                        let refs = if s.protected_refs.is_empty() {
                            "(every ref)".to_string()
                        } else {
                            s.protected_refs.join(", ")
                        };
                        vec![
                            s.name,
                            refs,
                            super::runs::local_time(s.created_at),
                            super::runs::local_time(s.updated_at),
                        ]
                    })
                    .collect();
                crate::report::add_rows_fitted(&mut table, rows);
                println!("{table}");
            }
        }
        SecretCommand::Rm {
            project,
            name,
            remote,
        } => {
            remote
                .client()?
                .call::<api::RemoveSecret>(&(project.as_str().into(), name.clone()), &())
                .await?;
            println!("secret `{name}` of project `{project}` removed");
        }
    }
    Ok(0)
}
