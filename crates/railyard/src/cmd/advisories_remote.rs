//! `railyard advisories import|affected` against a server: OSV files go up one at a time
//! (the server reads them with the same reader as a local import), then one re-match of
//! every project's stored scans says which projects are newly hit.

use super::Expected;
use super::advisories::ImportArgs;
use railyard_agent::{AgentError, Client};
use railyard_types::api;
use railyard_types::inventory::{AdvisoriesImported, AdvisoryFileQuery, AffectedImage};
use std::path::{Path, PathBuf};

/// The files an import sends: each path given, or the `.json` and `.zip` files under a
/// folder (sorted, as a local import reads them).
fn files(path: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let meta = std::fs::metadata(path)
        .map_err(|e| Expected::Input(format!("cannot read {}: {e}", path.display())))?;
    if !meta.is_dir() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| Expected::Input(format!("cannot read {}: {e}", path.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        let Ok(kind) = std::fs::symlink_metadata(&p).map(|m| m.file_type()) else {
            continue;
        };
        let wanted = ["json", "zip"]
            .iter()
            .any(|ext| p.extension().is_some_and(|e| e.eq_ignore_ascii_case(ext)));
        if kind.is_dir() {
            files(&p, out)?;
        } else if kind.is_file() && wanted {
            out.push(p);
        }
    }
    Ok(())
}

pub(super) async fn import(client: &Client, args: &ImportArgs) -> anyhow::Result<i32> {
    let mut paths = Vec::new();
    for p in &args.paths {
        files(p, &mut paths)?;
    }
    let mut total = AdvisoriesImported::default();
    for path in &paths {
        let query = AdvisoryFileQuery {
            name: path.display().to_string(),
        };
        let got = client
            .put_file::<api::ImportAdvisories>(&(), &query, path)
            .await
            .map_err(|e| refused(e, "importing advisories"))?;
        for w in &got.warnings {
            anstream::eprintln!("warning: {w} (skipped)");
        }
        total.documents += got.documents;
        total.read += got.read;
        total.added += got.added;
        total.updated += got.updated;
        total.unchanged += got.unchanged;
        total.warnings.extend(got.warnings);
    }
    let skipped = total.warnings.len();
    if total.read == 0 && skipped > 0 {
        return Err(Expected::Input(format!(
            "no advisory could be read: {skipped} file(s) skipped (warnings above); nothing was changed"
        ))
        .into());
    }
    let rematch = client
        .call::<api::RematchAdvisories>(&(), &())
        .await
        .map_err(|e| refused(e, "matching the server's scans again"))?;
    if args.json {
        let out = serde_json::json!({
            "documents": total.documents,
            "read": total.read,
            "skipped": skipped,
            "stored": { "added": total.added, "updated": total.updated, "unchanged": total.unchanged },
            "rematched": rematch,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "the server read {} advisories from {} document{} ({skipped} skipped); {} added, {} updated, {} unchanged",
            total.read,
            total.documents,
            if total.documents == 1 { "" } else { "s" },
            total.added,
            total.updated,
            total.unchanged
        );
        super::advisories::print_rematched(&rematch);
    }
    Ok(0)
}

pub(super) async fn affected(
    client: &Client,
    advisory: &str,
) -> anyhow::Result<Vec<AffectedImage>> {
    match client
        .call::<api::AdvisoryAffected>(&advisory.to_owned(), &())
        .await
    {
        Err(AgentError::Api { status: 404, .. }) => Err(Expected::Input(format!(
            "the server holds no advisory with id or alias `{advisory}`: an admin imports it \
             with `railyard advisories import --server … PATH`"
        ))
        .into()),
        other => Ok(other?),
    }
}

/// A refusal of the server as the person should read it: 403 means an admin's token.
fn refused(e: AgentError, doing: &str) -> anyhow::Error {
    match e {
        AgentError::Api {
            status: 401 | 403,
            message,
            ..
        } => Expected::Input(format!(
            "{doing} on the server needs an admin's token: {message}"
        ))
        .into(),
        e => anyhow::Error::new(e).context(doing.to_owned()),
    }
}
