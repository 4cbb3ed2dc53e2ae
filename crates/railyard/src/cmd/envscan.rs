//! The env image check of `railyard run` and of agents: every env image a run builds is
//! scanned (through the layer cache, so an unchanged image costs a lookup), stored with the
//! run, matched against the stored advisories, and held to the pipeline's `env.scan.fail_on`.
//! A local run keeps all of it in its data folder; an agent, on the server
//! ([`super::fleetscan`]), where an image is scanned once for the fleet.

use railyard_advisory::{IgnoreFile, Severity};
use railyard_pipeline::{EnvSource, EnvSpec};
use railyard_runner::EnvCheckError;
use railyard_store::Store;
use railyard_types::{Millis, RunId};
use std::path::PathBuf;

/// Where inventories are kept and advisories matched.
pub enum Inventory {
    /// This machine's data folder (`railyard run`).
    Local(Store),
    /// The server's, under a job's lease (`railyard agent`).
    Fleet(super::fleetscan::FleetInventory),
}

/// Scans env images for one run.
pub struct EnvScan {
    pub docker: railyard_docker::Docker,
    pub inventory: Inventory,
    pub project: String,
    pub run_id: RunId,
    /// `.railyard-ignore.yml` at the repository root, when present.
    pub ignore_file: PathBuf,
}

impl EnvScan {
    /// The name the scan is filed under in the inventory: the image the pipeline names, or a
    /// built env image's tag `railyard-env:<key>` (scanned by ID, it was filed as a bare
    /// `sha256:…` that `who-has` and `affected` then showed).
    async fn image_name(&self, image_id: &str, env: &EnvSpec) -> String {
        match &env.source {
            EnvSource::Image(name) => name.clone(),
            EnvSource::Build(_) => match self.docker.image(image_id).await {
                Ok(Some(info)) => info
                    .labels
                    .get(railyard_types::labels::ENV_KEY)
                    .filter(|key| key.len() >= 24)
                    .map(|key| railyard_runner::env_image::tag_for(key))
                    .unwrap_or_else(|| image_id.to_string()),
                _ => image_id.to_string(),
            },
        }
    }
}

/// What one scan is for: the name the inventory files it under, the `fail_on` it is held to
/// and the setting that asked for it, and what a refusal stops.
struct Gate<'a> {
    reference: String,
    fail_on: Option<&'a str>,
    setting: &'static str,
    stops: &'static str,
}

impl EnvScan {
    /// Scans `image_id` layer by layer into the inventory (as `gate.reference`), matches the
    /// stored advisories, and holds the findings to `gate.fail_on`.
    async fn scan(&self, image_id: &str, gate: Gate<'_>) -> Result<Vec<String>, EnvCheckError> {
        let fail_on = match gate.fail_on {
            Some(level) => Some(
                level
                    .parse::<Severity>()
                    .map_err(|e| EnvCheckError::Invalid {
                        setting: format!("`{}: {level}`", gate.setting),
                        source: e.into(),
                    })?,
            ),
            None => None,
        };
        let (summary, findings) = match &self.inventory {
            Inventory::Local(store) => self.scan_locally(store, image_id, gate.reference).await?,
            Inventory::Fleet(fleet) => {
                fleet
                    .findings(&self.docker, image_id, &gate.reference)
                    .await?
            }
        };
        let Some(level) = fail_on else {
            return Ok(vec![summary]);
        };
        // A job's log on the fleet says where the findings come from even when refused.
        let origin = match &self.inventory {
            Inventory::Local(_) => String::new(),
            Inventory::Fleet(_) => format!("{summary}; "),
        };
        let ignore = if self.ignore_file.exists() {
            Some(
                IgnoreFile::load(&self.ignore_file)
                    .map_err(|e| failed("reading the ignore file", e))?,
            )
        } else {
            None
        };
        let outcome = railyard_advisory::evaluate(
            findings,
            Some(level),
            ignore.as_ref(),
            jiff::Zoned::now().date(),
        );
        let mut lines = vec![summary];
        lines.extend(outcome.notes.iter().cloned());
        if outcome.failing == 0 {
            return Ok(lines);
        }
        let worst: Vec<String> = outcome
            .findings
            .iter()
            .filter(|j| j.fails)
            .take(5)
            .map(|j| {
                format!(
                    "{} ({} {} {})",
                    j.finding.advisory_id, j.finding.severity, j.finding.package, j.finding.version
                )
            })
            .collect();
        Err(EnvCheckError::Refused(format!(
            "{origin}{} known vulnerabilit{} at or above `{level}` ({}): {}{}; {}. \
             Update the image, or accept them in .railyard-ignore.yml with a reason and an expiry",
            outcome.failing,
            if outcome.failing == 1 { "y" } else { "ies" },
            gate.setting,
            worst.join(", "),
            if outcome.failing > worst.len() {
                ", …"
            } else {
                ""
            },
            gate.stops,
        )))
    }
}

impl EnvScan {
    /// Scans `image_id` into the data folder's inventory as `reference` and matches the
    /// advisories stored there.
    async fn scan_locally(
        &self,
        store: &Store,
        image_id: &str,
        reference: String,
    ) -> Result<(String, Vec<railyard_advisory::Finding>), EnvCheckError> {
        let mut inv = railyard_scan::scan_image(self.docker.client(), image_id, store)
            .await
            .map_err(|e| failed("scanning the image", e))?;
        inv.reference = reference;
        let scan_id = store
            .save_scan(&self.project, Some(&self.run_id), &inv, Millis::now())
            .await
            .map_err(|e| failed("storing the image's scan", e))?;
        let findings = store
            .record_findings(&scan_id, &self.project, &inv)
            .await
            .map_err(|e| failed("matching advisories", e))?;
        let summary = format!(
            "scanned: {} packages, {} known vulnerabilit{}",
            inv.packages.len(),
            findings.len(),
            if findings.len() == 1 { "y" } else { "ies" }
        );
        Ok((summary, findings))
    }
}

#[async_trait::async_trait]
impl railyard_runner::EnvCheck for EnvScan {
    async fn check(&self, image_id: &str, env: &EnvSpec) -> Result<Vec<String>, EnvCheckError> {
        let fail_on = env.scan.as_ref().and_then(|s| s.fail_on.as_deref());
        // Ready images are someone else's to inventory unless the pipeline asks for a gate.
        if matches!(env.source, EnvSource::Image(_)) && fail_on.is_none() {
            return Ok(vec![]);
        }
        let gate = Gate {
            reference: self.image_name(image_id, env).await,
            fail_on,
            setting: "env.scan.fail_on",
            stops: "no job was started",
        };
        self.scan(image_id, gate).await
    }

    /// An application image a job built: always inventoried (it is what runs in
    /// production), filed under its reference, which names the project and the tag
    /// (`registry/prefix/<project>/app:tag`, or `<project>/app:tag` unpushed).
    async fn check_built(
        &self,
        image_id: &str,
        image: &railyard_runner::BuiltImageCheck<'_>,
    ) -> Result<Vec<String>, EnvCheckError> {
        let gate = Gate {
            reference: image.reference.to_string(),
            fail_on: image.policy.and_then(|p| p.fail_on.as_deref()),
            setting: "image_build.scan.fail_on",
            stops: "the image was not pushed",
        };
        self.scan(image_id, gate).await
    }
}

pub(super) fn failed(
    doing: &'static str,
    e: impl std::error::Error + Send + Sync + 'static,
) -> EnvCheckError {
    EnvCheckError::Failed {
        doing,
        source: Box::new(e),
    }
}
