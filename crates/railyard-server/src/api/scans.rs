//! The inventory of the fleet's images, on the server.
//!
//! Agents scan the images their jobs run in and build, once per image ID: under a job's
//! lease an agent first asks whether the server holds an inventory of the image (an image
//! ID is the digest of its config, the same on every engine), and scans and sends one only
//! when it does not. Either way the server files it under the project and run of the
//! leased job (never a project the body names), matches the server's advisories and
//! answers the findings, which the agent holds to the pipeline's `fail_on`. An inventory
//! comes from untrusted images: it is bounded (the body, then each field) before it is
//! stored.
//!
//! People read it across every project they may see (an admin, all): the stored scans,
//! who holds a package, who an advisory hits. Admins import OSV files, then re-match every
//! stored scan; the answer names the projects newly hit.

use axum::extract::State;
use futures_util::StreamExt;
use railyard_advisory::Finding;
use railyard_types::api::{
    AdvisoryAffected, GetScan, ImportAdvisories, ListScans, LookupImageScan, RematchAdvisories,
    UploadImageScan, WhoHas,
};
use railyard_types::inventory::{
    AdvisoriesImported, FoundAdvisory, ImageInventory, ScanDetail, ScanVerdict,
};
use railyard_types::protocol::UploadQuery;
use railyard_types::{Millis, ProjectName};
use std::io::Write;

use super::caller::Caller;
use super::pools::AgentToken;
use super::{ApiResult, Body, Params, Query, Reply, Upload};
use crate::AppState;
use crate::error::ApiError;

/// The most an inventory sent by an agent may hold as JSON. A Debian image with a few
/// thousand packages is about 2 MB; a node_modules tree of 50,000 packages about 25 MB.
pub(crate) const SCAN_LIMIT: usize = 32 << 20;

/// The most one uploaded OSV file may hold (OSV's largest per-ecosystem archive is about
/// 100 MB), as the CLI's reader bounds a file on disk.
const ADVISORY_FILE_LIMIT: u64 = 256 << 20;

pub(super) async fn lookup(
    State(state): State<AppState>,
    token: AgentToken,
    Params(id): Params<LookupImageScan>,
    Body(body): Body<LookupImageScan>,
) -> ApiResult<Reply<LookupImageScan>> {
    let lease = UploadQuery {
        agent_id: body.agent_id.clone(),
        attempt: body.attempt,
    };
    let claim = super::inputs::leased(&state, &token, &id, &lease).await?;
    if body.reference.len() > railyard_types::inventory::bounds::FIELD {
        return Err(ApiError::BadRequest(format!(
            "the image reference is over {} bytes",
            railyard_types::inventory::bounds::FIELD
        )));
    }
    let Some(known) = state.store().scan_of_image(&body.image_id).await? else {
        return Ok(Reply::new(None));
    };
    let (scan_id, inventory) = state
        .store()
        .file_known_scan(
            known,
            claim.project.as_str(),
            Some(&claim.run_id),
            &body.reference,
            Millis::now(),
        )
        .await?;
    let verdict = verdict(&state, claim.project.as_str(), scan_id, &inventory).await?;
    tracing::info!(job = %claim.job, run = %claim.run_id, image = %body.image_id, "image inventory reused");
    Ok(Reply::new(Some(verdict)))
}

pub(super) async fn upload(
    State(state): State<AppState>,
    token: AgentToken,
    Params(id): Params<UploadImageScan>,
    Body(body): Body<UploadImageScan>,
) -> ApiResult<Reply<UploadImageScan>> {
    let lease = UploadQuery {
        agent_id: body.agent_id.clone(),
        attempt: body.attempt,
    };
    let claim = super::inputs::leased(&state, &token, &id, &lease).await?;
    body.inventory.check_bounds().map_err(|why| {
        ApiError::BadRequest(format!(
            "the inventory of job {id} cannot be stored: {why}; the agent's scanner or the image is at fault"
        ))
    })?;
    let inventory = body.inventory;
    let scan_id = state
        .store()
        .save_scan(
            claim.project.as_str(),
            Some(&claim.run_id),
            &inventory,
            Millis::now(),
        )
        .await?;
    let verdict = verdict(&state, claim.project.as_str(), scan_id, &inventory).await?;
    tracing::info!(job = %claim.job, run = %claim.run_id, image = %inventory.image_id, packages = verdict.packages, "image inventory stored");
    Ok(Reply::new(verdict))
}

/// Matches the stored scan `scan_id` of `project` with the server's advisories, recording
/// the findings.
async fn verdict(
    state: &AppState,
    project: &str,
    scan_id: String,
    inventory: &ImageInventory,
) -> ApiResult<ScanVerdict> {
    let findings = state
        .store()
        .record_findings(&scan_id, project, inventory)
        .await?;
    Ok(ScanVerdict {
        scan_id,
        image_id: inventory.image_id.clone(),
        packages: inventory.packages.len(),
        findings: findings.into_iter().map(FoundAdvisory::from).collect(),
    })
}

pub(super) async fn list(
    State(state): State<AppState>,
    caller: Caller<ListScans>,
    Query(q): Query<ListScans>,
) -> ApiResult<Reply<ListScans>> {
    let visible = caller.who.visible(&state, q.project.as_ref()).await?;
    let Some(seen) = visible.seen() else {
        return Ok(Reply::new(Vec::new()));
    };
    let image = q.image.as_deref().map(str::trim).filter(|i| !i.is_empty());
    Ok(Reply::new(state.store().list_scans(seen, image).await?))
}

pub(super) async fn detail(
    State(state): State<AppState>,
    caller: Caller<GetScan>,
    Params(id): Params<GetScan>,
) -> ApiResult<Reply<GetScan>> {
    let visible = caller.who.visible(&state, None).await?;
    let not_found = || ApiError::NotFound(format!("scan `{id}`"));
    let seen = visible.seen().ok_or_else(not_found)?;
    let (scan, inventory) = (state.store().scan_detail(seen, &id).await?).ok_or_else(not_found)?;
    let findings: Vec<Finding> = state.store().match_inventory(&inventory).await?;
    Ok(Reply::new(ScanDetail {
        scan,
        inventory,
        findings: findings.into_iter().map(FoundAdvisory::from).collect(),
    }))
}

pub(super) async fn who_has(
    State(state): State<AppState>,
    caller: Caller<WhoHas>,
    Query(q): Query<WhoHas>,
) -> ApiResult<Reply<WhoHas>> {
    if q.name.trim().is_empty() {
        return Err(ApiError::BadRequest(
            "`name` is empty: ask for a package, `?name=openssl`".into(),
        ));
    }
    let visible = caller.who.visible(&state, None).await?;
    let Some(seen) = visible.seen() else {
        return Ok(Reply::new(Vec::new()));
    };
    Ok(Reply::new(state.store().who_has_seen(seen, &q.name).await?))
}

pub(super) async fn affected(
    State(state): State<AppState>,
    caller: Caller<AdvisoryAffected>,
    Params(id): Params<AdvisoryAffected>,
) -> ApiResult<Reply<AdvisoryAffected>> {
    let visible = caller.who.visible(&state, None).await?;
    let Some(seen) = visible.seen() else {
        return Ok(Reply::new(Vec::new()));
    };
    match state.store().affected_by_seen(seen, &id).await {
        Ok(rows) => Ok(Reply::new(rows)),
        Err(railyard_store::StoreError::NotFound { .. }) => Err(ApiError::NotFound(format!(
            "advisory `{id}` (neither an id nor an alias of one the server holds: an admin imports them with `railyard advisories import --server …`)"
        ))),
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn import(
    State(state): State<AppState>,
    caller: Caller<ImportAdvisories>,
    Query(q): Query<ImportAdvisories>,
    Upload { body, length, .. }: Upload<ImportAdvisories>,
) -> ApiResult<Reply<ImportAdvisories>> {
    let too_large = || {
        ApiError::TooLarge(format!(
            "`{}` is over the server's limit of {} MiB for one advisory file: split it",
            q.name,
            ADVISORY_FILE_LIMIT >> 20
        ))
    };
    if length.is_some_and(|n| n > ADVISORY_FILE_LIMIT) {
        return Err(too_large());
    }
    let failed =
        |e: std::io::Error| ApiError::Internal(format!("keeping an uploaded advisory file: {e}"));
    let mut file = tempfile::NamedTempFile::new().map_err(failed)?;
    let mut stream = body.into_data_stream();
    let mut total = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadRequest(format!("the upload was cut: {e}")))?;
        total += chunk.len() as u64;
        if total > ADVISORY_FILE_LIMIT {
            return Err(too_large());
        }
        file.write_all(&chunk).map_err(failed)?;
    }
    file.flush().map_err(failed)?;
    let path = file.path().to_path_buf();
    let read = tokio::task::spawn_blocking(move || railyard_advisory::read_path(&path))
        .await
        .map_err(|e| ApiError::Internal(format!("reading advisories: {e}")))?
        .map_err(|e| ApiError::Internal(format!("reading the uploaded file: {e}")))?;
    drop(file);
    let temp = tempfile_name_prefix(&read);
    let counts = state.store().import_advisories(&read.advisories).await?;
    let answer = AdvisoriesImported {
        documents: read.documents,
        read: read.advisories.len(),
        added: counts.added,
        updated: counts.updated,
        unchanged: counts.unchanged,
        warnings: (read.warnings.iter())
            .map(|w| {
                let source = match &temp {
                    Some(t) => w.source.replacen(t.as_str(), &q.name, 1),
                    None => w.source.clone(),
                };
                format!("{source}: {}", w.message)
            })
            .collect(),
    };
    super::audit(
        &state,
        caller.who.actor(),
        "advisories.import",
        None::<&ProjectName>,
        Some(q.name.clone()),
        Some(format!(
            "{} read, {} added, {} updated",
            answer.read, answer.added, answer.updated
        )),
    )
    .await?;
    Ok(Reply::new(answer))
}

/// The temporary file's path as warnings name it, to show the uploaded file's name instead.
fn tempfile_name_prefix(read: &railyard_advisory::ReadResult) -> Option<String> {
    let first = read.warnings.first()?;
    let end = first.source.find('!').unwrap_or(first.source.len());
    Some(first.source[..end].to_owned())
}

pub(super) async fn rematch(
    State(state): State<AppState>,
    caller: Caller<RematchAdvisories>,
) -> ApiResult<Reply<RematchAdvisories>> {
    let rematched = state.store().rematch_all().await?;
    let hit: Vec<&str> = (rematched.newly_affected.iter())
        .map(|n| n.project.as_str())
        .collect();
    super::audit(
        &state,
        caller.who.actor(),
        "advisories.rematch",
        None::<&ProjectName>,
        None,
        (!hit.is_empty()).then(|| format!("newly affected: {}", hit.join(", "))),
    )
    .await?;
    Ok(Reply::new(rematched))
}
