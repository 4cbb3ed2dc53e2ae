//! `railyard scan --server`: the inventory the server keeps of the images its agents ran
//! jobs in and built (scanned once each), across every project the token may see. IMAGE
//! names a stored scan by its image's reference, ID or ID prefix (the newest scan of it),
//! or by the scan's id; `--list` lists the stored scans.

use super::Expected;
use super::scan::ScanArgs;
use anyhow::Result;
use railyard_agent::{AgentError, Client};
use railyard_types::ProjectName;
use railyard_types::api;
use railyard_types::inventory::{ScanDetail, ScanSummary, ScansQuery};

pub(super) async fn run(client: &Client, args: &ScanArgs) -> Result<i32> {
    if args.archive.is_some() {
        return Err(Expected::Input(
            "--archive scans a file here: leave out --server (and RAILYARD_SERVER)".into(),
        )
        .into());
    }
    let query = ScansQuery {
        project: args.project.clone().map(ProjectName::from),
        image: args.image.clone(),
    };
    let scans: Vec<ScanSummary> = client
        .call_query::<api::ListScans>(&(), &query, &())
        .await?;
    if args.list {
        return list(&scans);
    }
    let image = args.image.as_deref().unwrap_or_default();
    let id = match scans.first() {
        Some(newest) => newest.id.clone(),
        // Not an image the server knows: maybe a scan's id.
        None => image.to_owned(),
    };
    let detail: ScanDetail = match client.call::<api::GetScan>(&id, &()).await {
        Err(AgentError::Api { status: 404, .. }) => {
            return Err(Expected::Input(format!(
                "the server holds no scan of `{image}` in a project you may see: see \
                 `railyard scan --server … --list`"
            ))
            .into());
        }
        other => other?,
    };
    let s = &detail.scan;
    anstream::eprintln!(
        "scan {} of project {}{}, {}",
        s.id,
        s.project,
        s.run_id
            .as_deref()
            .map(|r| format!(" (run {r})"))
            .unwrap_or_default(),
        super::runs::local_time(s.scanned_at)
    );
    let findings = (detail.findings.into_iter())
        .map(railyard_advisory::Finding::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    super::scan::show(args, &detail.inventory, findings)
}

fn list(scans: &[ScanSummary]) -> Result<i32> {
    if scans.is_empty() {
        println!("no stored scan on the server in a project you may see");
        return Ok(0);
    }
    let mut t = comfy_table::Table::new();
    t.load_style(comfy_table::presets::UTF8_BORDERS_ONLY);
    t.set_header([
        "scan", "project", "image", "distro", "packages", "vulns", "scanned",
    ]);
    for s in scans {
        t.add_row([
            s.id.clone(),
            s.project.clone(),
            super::inventory::image_cell(&s.reference, &s.image_id),
            s.distro.clone().unwrap_or_default(),
            s.packages.to_string(),
            s.findings.to_string(),
            super::runs::local_time(s.scanned_at),
        ]);
    }
    println!("{t}");
    Ok(0)
}
