//! `railyard env-images`: the env keys the server knows were built through the registry, with
//! their digests and last use; `--unused-days N` lists only those no job ran on for N days,
//! whose manifests garbage collection may delete (docs/server.md, "Env images through a
//! registry").

use clap::Args;
use railyard_types::api;
use railyard_types::env_images::{EnvImageInfo, EnvImagesQuery};

use super::project::Remote;

#[derive(Debug, Args)]
pub struct EnvImagesArgs {
    /// Only keys no job used for this many days.
    #[arg(long, value_name = "N")]
    pub unused_days: Option<u32>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub remote: Remote,
}

pub async fn run(args: EnvImagesArgs) -> anyhow::Result<i32> {
    let query = EnvImagesQuery {
        unused_days: args.unused_days,
    };
    let images: Vec<EnvImageInfo> = args
        .remote
        .client()?
        .call_query::<api::ListEnvImages>(&(), &query, &())
        .await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&images)?);
        return Ok(0);
    }
    if images.is_empty() {
        match args.unused_days {
            Some(days) => println!("no env image went unused for {days} days"),
            None => {
                println!("no env images yet: agents started with --registry record what they build")
            }
        }
        return Ok(0);
    }
    let mut table = comfy_table::Table::new();
    table.load_style(comfy_table::presets::UTF8_BORDERS_ONLY);
    table.set_header(["project", "key", "digest", "last used", "state"]);
    let time = |t: Option<railyard_types::Millis>| t.map(super::runs::local_time);
    for image in images {
        let state = match (&image.digest, &image.lease_holder) {
            (Some(_), _) => format!("built {}", time(image.built_at).unwrap_or_default()),
            (None, Some(holder)) => format!("building ({holder})"),
            (None, None) => "not built".into(),
        };
        table.add_row([
            image.project.into_string(),
            image.key[..image.key.len().min(24)].to_string(),
            image.digest.unwrap_or_default(),
            time(image.last_used_at).unwrap_or_else(|| "never".into()),
            state,
        ]);
    }
    println!("{table}");
    Ok(0)
}
