//! `railyard env-images`: the env keys the server knows were built through the registry, with
//! their digests and last use; `--unused-days N` lists only those no job ran on for N days,
//! whose manifests garbage collection may delete, and `--delete` deletes them through the
//! registry's API and has the server forget them (docs/server.md, "Env images through a
//! registry"). The registry's own garbage collector then frees their blobs.

use clap::Args;
use railyard_types::api;
use railyard_types::env_images::{EnvImageInfo, EnvImagesQuery};

use super::project::Remote;

#[derive(Debug, Args)]
pub struct EnvImagesArgs {
    /// Only keys no job used for this many days.
    #[arg(long, value_name = "N")]
    pub unused_days: Option<u32>,
    /// Delete the listed keys' manifests from the registry (needs --unused-days and
    /// --registry) and have the server forget them.
    #[arg(long, requires_all = ["unused_days", "registry"])]
    pub delete: bool,
    /// The registry, as the agents are given it: `http://HOST:PORT/PREFIX`.
    #[arg(long, value_name = "URL")]
    pub registry: Option<String>,
    /// A file holding the registry's `user:password`.
    #[arg(long, env = "RAILYARD_REGISTRY_AUTH_FILE", value_name = "FILE")]
    pub registry_auth_file: Option<std::path::PathBuf>,
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
    let client = args.remote.client()?;
    let images: Vec<EnvImageInfo> = client
        .call_query::<api::ListEnvImages>(&(), &query, &())
        .await?;
    if args.delete {
        return delete(&client, &args, &images).await;
    }
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

/// Deletes each image's manifest (`DELETE /v2/REPO/manifests/DIGEST`) from the registry at
/// `--registry`, then has the server forget the key. Keys pushed elsewhere, or never built,
/// are left alone and said; a registry that already lacks the manifest (404) counts as
/// deleted.
async fn delete(
    client: &railyard_agent::Client,
    args: &EnvImagesArgs,
    images: &[EnvImageInfo],
) -> anyhow::Result<i32> {
    let text = args.registry.as_deref().unwrap_or_default();
    let registry: railyard_runner::Registry = text.parse().map_err(super::Expected::Input)?;
    let registry =
        super::credentials::registry_with_auth(Some(registry), args.registry_auth_file.as_deref())?
            .expect("a registry was given");
    let scheme = if text.starts_with("https://") {
        "https"
    } else {
        "http"
    };
    let http = reqwest::Client::new();
    let (mut deleted, mut failed) = (0, 0);
    for image in images {
        let (Some(reference), Some(digest)) = (&image.reference, &image.digest) else {
            continue;
        };
        let repository = reference
            .strip_prefix(&format!("{}/", registry.host))
            .and_then(|r| r.strip_suffix(&format!(":{}", image.key)));
        let Some(repository) = repository else {
            println!("{reference}: not in {}: left alone", registry.host);
            continue;
        };
        let url = format!(
            "{scheme}://{}/v2/{repository}/manifests/{digest}",
            registry.host
        );
        let mut request = http.delete(&url);
        if let Some(auth) = &registry.auth {
            request = request.basic_auth(auth.username(), Some(auth.password()));
        }
        let status = match request.send().await {
            Ok(answer) => answer.status(),
            Err(e) => {
                println!("{reference}: the registry did not answer ({e})");
                failed += 1;
                continue;
            }
        };
        if !(status.is_success() || status == reqwest::StatusCode::NOT_FOUND) {
            println!(
                "{reference}: the registry answered {status} (is `storage.delete.enabled` set?)"
            );
            failed += 1;
            continue;
        }
        let path = (image.project.clone(), image.key.clone());
        let body = railyard_types::env_images::RemoveEnvImage {
            digest: digest.clone(),
        };
        match client.call::<api::RemoveEnvImage>(&path, &body).await {
            Ok(()) => {
                println!("deleted {reference}@{digest}");
                deleted += 1;
            }
            Err(e) => {
                println!("{reference}: deleted, but the server kept it: {e}");
                failed += 1;
            }
        }
    }
    println!(
        "{deleted} deleted{}; free their space with `docker-registry garbage-collect CONFIG`",
        if failed > 0 {
            format!(", {failed} failed")
        } else {
            String::new()
        }
    );
    Ok(if failed > 0 { 1 } else { 0 })
}
